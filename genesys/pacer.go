package genesys

import "context"

// Pacer is consulted around every API request the client sends (not the
// token requests): Wait before sending, Done with the classified answer.
// The scheduler implements it to hold the rate, pause on Retry-After and
// keep the circuit breaker; a client without one sends at once.
type Pacer interface {
	// Wait blocks until a request may be sent, or ctx ends.
	Wait(ctx context.Context) error
	// Done reports the answer: err is nil on success, otherwise usually an
	// *Error carrying the class and Retry-After.
	Done(meta Meta, err error)
}
