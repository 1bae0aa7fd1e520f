package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Genesys error codes the simulator answers with.
const (
	codeBadRequest        = "bad.request"
	codeInvalidValue      = "invalid.value"
	codeMaxUserIDs        = "max.user.ids"
	codeNotFound          = "not.found"
	codeConflict          = "general.conflict"
	codeTooLarge          = "request.entity.too.large"
	codeMediaType         = "unsupported.media.type"
	codeMethod            = "method.not.allowed"
	codeAuthRequired      = "authentication.required"
	codeBadCredentials    = "bad.credentials"
	codeTooMany           = "too.many.requests.retry.after"
	codeTooManyLegacy     = "too.many.requests"
	codeInternal          = "internal.server.error"
	codeBadGateway        = "bad.gateway"
	codeUnavailable       = "service.unavailable"
	codeGatewayTimeout    = "request.timeout"
	msgBadCredentials     = "Invalid login credentials."
	msgAuthRequired       = "No authentication bearer token specified in authorization header."
	msgServiceUnavailable = "The service is currently unavailable."
)

// reply is an answer built before it is sent, so that faults can delay it
// or drop the connection instead of sending it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// apiError is the body of every Genesys error answer.
type apiError struct {
	Message   string        `json:"message"`
	Code      string        `json:"code"`
	Status    int           `json:"status"`
	ContextID string        `json:"contextId"`
	Details   []errorDetail `json:"details"`
	Errors    []any         `json:"errors"`
	EntityID  string        `json:"entityId,omitempty"`
}

// errorDetail is one entry of an error's details.
type errorDetail struct {
	ErrorCode string `json:"errorCode,omitempty"`
	FieldName string `json:"fieldName,omitempty"`
	EntityID  string `json:"entityId,omitempty"`
}

// errorReply builds an error answer in the Genesys shape.
func errorReply(cid string, status int, code, msg string) reply {
	return jsonReply(status, apiError{
		Message:   msg,
		Code:      code,
		Status:    status,
		ContextID: cid,
		Details:   []errorDetail{},
		Errors:    []any{},
	})
}

// jsonReply builds a JSON answer.
func jsonReply(status int, v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		// Only the simulator's own types are encoded here.
		body = []byte(`{"message":"encode reply","code":"internal.server.error","status":500}`)
		status = http.StatusInternalServerError
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return reply{status: status, header: h, body: body}
}

// writeReply sends rep on w.
func writeReply(w http.ResponseWriter, rep reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	if rep.body != nil {
		w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if rep.body != nil {
		_, _ = w.Write(rep.body)
	}
}
