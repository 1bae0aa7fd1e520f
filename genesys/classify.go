package genesys

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultRetryAfter is the wait used when a 429 or 503 names none, or one
// that is zero, negative or already past.
const defaultRetryAfter = time.Second

// codeInvalidClient is the OAuth error for an unknown client id or a wrong
// secret.
const codeInvalidClient = "invalid_client"

// apiError is the JSON body Genesys sends with every error.
type apiError struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	Status    int    `json:"status"`
	ContextID string `json:"contextId"`
}

// classify turns an answer that was not a success into an *Error. body is
// the (bounded) error body already read.
func classify(op string, resp *http.Response, body []byte, maxWait time.Duration,
	now time.Time) *Error {
	e := &Error{
		Op:            op,
		Status:        resp.StatusCode,
		CorrelationID: resp.Header.Get(headerCorrelation),
	}

	var ae apiError
	if json.Unmarshal(body, &ae) == nil {
		e.Code, e.Message = ae.Code, ae.Message
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if e.CorrelationID == "" {
		e.CorrelationID = ae.ContextID
	}

	e.Class = classOfStatus(resp.StatusCode, e.Code, e.Message)
	ra, hasRA := resp.Header[http.CanonicalHeaderKey("Retry-After")]
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.RetryAfter, e.RetryCapped = parseRetryAfter(first(ra), maxWait, now)
	case resp.StatusCode == http.StatusServiceUnavailable && hasRA:
		e.Class = ClassRateLimited
		e.RetryAfter, e.RetryCapped = parseRetryAfter(first(ra), maxWait, now)
	}
	return e
}

// classOfStatus maps an HTTP status and Genesys code to a Class. A 401 is
// ClassAuth here; the client refreshes the token once before giving up.
func classOfStatus(status int, code, message string) Class {
	switch status {
	case http.StatusTooManyRequests:
		return ClassRateLimited
	case http.StatusConflict:
		return ClassConflict
	case http.StatusNotFound:
		return ClassNotFound
	case http.StatusForbidden:
		return ClassForbidden
	case http.StatusUnauthorized:
		return ClassAuth
	case http.StatusRequestTimeout:
		return ClassTransient
	case http.StatusBadRequest:
		if code == codeInvalidClient {
			return ClassAuth
		}
		if versionMismatch(message) {
			return ClassConflict
		}
		return ClassInvalid
	case http.StatusNotImplemented:
		return ClassInvalid
	}
	if status >= 500 {
		return ClassTransient
	}
	return ClassInvalid
}

// versionMismatch reports whether a 400 message says the user's version
// does not match, which Genesys sometimes sends instead of a 409.
func versionMismatch(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "version") &&
		(strings.Contains(m, "does not match") || strings.Contains(m, "doesn't match"))
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP-date.
// Missing, invalid, zero, negative or past values give defaultRetryAfter;
// values over maxWait are capped and flagged.
func parseRetryAfter(v string, maxWait time.Duration, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs > int64(maxWait/time.Second)+1 {
			return maxWait, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}

	switch {
	case d <= 0:
		return defaultRetryAfter, false
	case d > maxWait:
		return maxWait, true
	}
	return d, false
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// transportError wraps a failure to get or read an answer: always worth
// retrying, unless the caller's own context ended.
func transportError(op string, status int, cid string, err error) *Error {
	e := &Error{
		Op:            op,
		Class:         ClassTransient,
		Status:        status,
		CorrelationID: cid,
		Message:       "no answer",
		Err:           err,
	}
	if status != 0 {
		e.Message = "read answer: " + err.Error()
	}
	return e
}

// isUnauthorized reports whether err is a 401 (bad.credentials for an
// expired or revoked token, authentication.required for none) that a new
// token may cure.
func isUnauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}
