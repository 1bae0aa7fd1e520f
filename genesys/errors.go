package genesys

import (
	"errors"
	"fmt"
	"time"
)

// Class says what the scheduler should do with an answer that was not a
// success.
type Class int

const (
	// ClassTransient is a fault worth retrying after a backoff: 500, 502,
	// 503, 504, 408, a timeout, a reset connection or a truncated body.
	ClassTransient Class = iota
	// ClassRateLimited is a 429 (or a 503 with Retry-After): slow down and
	// wait RetryAfter before sending anything more.
	ClassRateLimited
	// ClassConflict is a stale version: re-read the user and try again.
	ClassConflict
	// ClassNotFound is a user that does not exist: permanent.
	ClassNotFound
	// ClassForbidden is a missing permission: permanent.
	ClassForbidden
	// ClassInvalid is a request Genesys refuses as malformed or invalid:
	// permanent.
	ClassInvalid
	// ClassAuth is a fatal authentication failure such as invalid_client:
	// the whole run stops.
	ClassAuth
)

var classNames = [...]string{
	ClassTransient:   "transient",
	ClassRateLimited: "rate_limited",
	ClassConflict:    "conflict",
	ClassNotFound:    "not_found",
	ClassForbidden:   "forbidden",
	ClassInvalid:     "invalid",
	ClassAuth:        "auth",
}

// String returns the class's snake_case name.
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Error is an answer from Genesys Cloud that was not a success, or a
// failure to get an answer at all (Status 0), classified for the scheduler.
type Error struct {
	Op            string        // what was attempted, e.g. "patch user"
	Class         Class         // what to do about it
	Status        int           // HTTP status; 0 when no answer came
	Code          string        // Genesys error code, e.g. "general.conflict"
	Message       string        // Genesys message, never a secret
	CorrelationID string        // ININ-Correlation-Id of the answer
	RetryAfter    time.Duration // wait asked for by a 429 or 503, after capping
	RetryCapped   bool          // RetryAfter was larger and was capped
	Err           error         // the transport error, when no answer came
}

// Error formats the failure as "op: status code: message".
func (e *Error) Error() string {
	switch {
	case e.Status == 0 && e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	case e.Code != "":
		return fmt.Sprintf("%s: %d %s: %s", e.Op, e.Status, e.Code, e.Message)
	default:
		return fmt.Sprintf("%s: %d %s", e.Op, e.Status, e.Message)
	}
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrTokenEndpoint is wrapped by the *Error of a token request answered
// 404: the token URL, built from the API URL or region, is wrong.
var ErrTokenEndpoint = errors.New("token endpoint not found")

// ClassOf returns the class of err: the class of a wrapped *Error, or
// ClassTransient for any other error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassTransient
}
