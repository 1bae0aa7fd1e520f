package scheduler

import (
	"errors"
	"fmt"
	"time"
)

// ErrInterrupted is returned by Run when its context was cancelled: work in
// flight was finished or left recorded as in flight, and the ledger is
// consistent. The run can be resumed.
var ErrInterrupted = errors.New("run interrupted")

// ErrAuth is wrapped by Run's error when Genesys refused the credentials
// and the whole run stopped; the CLI maps it to exit code 4.
var ErrAuth = errors.New("authentication failed")

// ErrParked is wrapped by a ParkError.
var ErrParked = errors.New("sending paused")

// ParkError is returned by Governor.Wait instead of blocking when sending
// stays paused (Retry-After or an open breaker) longer than ParkAfter: the
// caller parks its work in the ledger until Until rather than holding a
// goroutine asleep. Nothing was sent.
type ParkError struct {
	Until  time.Time // when sending may resume (monotonic reading kept)
	Reason string    // "rate_limited" or "breaker_open"
}

// Error says why and until when sending is paused.
func (e *ParkError) Error() string {
	return fmt.Sprintf("%s: %s until %s", ErrParked, e.Reason, wall(e.Until).Format(time.RFC3339))
}

// Unwrap returns ErrParked.
func (e *ParkError) Unwrap() error { return ErrParked }

// ErrUnreachable is wrapped by Run's error when no request of the session
// ever got an answer (connection refused, DNS, TLS: no HTTP status at all)
// and the breaker opened unreachableOpens times: the target is most likely
// wrong or cut off. Nothing is lost; the run can be resumed.
var ErrUnreachable = errors.New("api unreachable")

// UnreachableError is the error Run returns when the API never answered.
type UnreachableError struct {
	Opens     int    // times the breaker opened
	LastError string // the last transport failure
}

// Error says the API never answered and why, as far as is known.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s: no answer after the breaker opened %d times: %s",
		ErrUnreachable, e.Opens, e.LastError)
}

// Unwrap returns ErrUnreachable.
func (e *UnreachableError) Unwrap() error { return ErrUnreachable }
