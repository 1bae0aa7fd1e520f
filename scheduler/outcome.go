package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// History ops the scheduler records besides store.OpRetry.
const (
	opRead    = "read"
	opPatch   = "patch"
	opMove    = "move"
	opResolve = "resolve"
	opRecover = "recover"
)

// Outcomes recorded besides the genesys class names.
const (
	outcomeOK          = "ok"
	outcomeInterrupted = "interrupted"
	outcomeUncertain   = "uncertain"
)

// record appends one attempt to the item, with its correlation id.
func (s *Scheduler) record(it *store.Item, op string, meta genesys.Meta, err error) {
	a := store.Attempt{
		At:            wall(s.clock.Now()),
		Op:            op,
		Status:        meta.Status,
		Outcome:       outcomeOK,
		CorrelationID: meta.CorrelationID,
	}
	var e *genesys.Error
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		a.Outcome = outcomeInterrupted
	case errors.As(err, &e):
		a.Outcome, a.Status, a.Code = e.Class.String(), e.Status, e.Code
		if a.CorrelationID == "" {
			a.CorrelationID = e.CorrelationID
		}
	default:
		a.Outcome = genesys.ClassOf(err).String()
	}
	it.History = append(it.History, a)
	if a.CorrelationID != "" {
		it.CorrelationIDs = append(it.CorrelationIDs, a.CorrelationID)
	}
	if a.Status != 0 {
		it.HTTPStatus = a.Status
	}
}

// setError keeps the last error's code and message on the item.
func setError(it *store.Item, err error) {
	var e *genesys.Error
	if errors.As(err, &e) {
		it.HTTPStatus, it.ErrorCode, it.ErrorMessage = e.Status, e.Code, e.Message
		return
	}
	it.ErrorCode, it.ErrorMessage = "", err.Error()
}

// finish ends an item in a terminal state with a message of our own.
func (s *Scheduler) finish(it *store.Item, st store.State, code, msg string) {
	it.State, it.NextAt = st, time.Time{}
	it.ErrorCode, it.ErrorMessage = code, msg
}

// transientFailures counts the write failures that count against
// MaxAttempts: transient ones since the last successful write or explicit
// retry. Rate-limited answers do not count: they are about the tenant's
// pace, not the item, and the governor already slows down for them.
func transientFailures(it *store.Item) int {
	n := 0
	for i := len(it.History) - 1; i >= 0; i-- {
		a := it.History[i]
		if a.Op == store.OpRetry {
			break
		}
		if a.Op != opPatch && a.Op != opMove {
			continue
		}
		if a.Outcome == outcomeOK {
			break
		}
		// A conflict on a move has no re-read to settle it: count it too.
		if a.Outcome == genesys.ClassTransient.String() ||
			(a.Op == opMove && a.Outcome == genesys.ClassConflict.String()) {
			n++
		}
	}
	return n
}

// wroteBefore reports whether a write of ours may have taken effect: a
// success, or a failure after which the outcome is unknown.
func wroteBefore(it *store.Item) bool {
	for _, a := range it.History {
		if a.Op != opPatch && a.Op != opMove {
			if a.Op == opRecover {
				return true
			}
			continue
		}
		switch a.Outcome {
		case outcomeOK, outcomeInterrupted, genesys.ClassTransient.String():
			return true
		}
	}
	return false
}

// backoff returns a full-jitter delay after the n-th failure: uniform in
// [0, min(BackoffMax, BackoffBase*2^(n-1))).
func (s *Scheduler) backoff(n int) time.Duration {
	ceil := float64(s.cfg.BackoffBase) * math.Pow(2, float64(max(n-1, 0)))
	ceil = min(ceil, float64(s.cfg.BackoffMax))
	return time.Duration(s.cfg.Rand() * ceil)
}

// settle applies a failed write's outcome to the item. It returns an error
// only when the whole run must stop (authentication).
func (s *Scheduler) settle(it *store.Item, err error) error {
	now := s.clock.Now()
	var pe *ParkError
	if errors.As(err, &pe) {
		// Nothing was sent: wait for the gate in the ledger, not asleep.
		it.State, it.NextAt = store.Waiting, wall(pe.Until)
		return nil
	}
	setError(it, err)
	switch genesys.ClassOf(err) {
	case genesys.ClassRateLimited:
		it.State, it.NextAt = store.Waiting, wall(now)
		if t := s.gov.ResumeAt(); !t.IsZero() {
			it.NextAt = wall(t)
		}
	case genesys.ClassNotFound:
		it.State, it.NextAt = store.NotFound, time.Time{}
	case genesys.ClassForbidden:
		it.State, it.NextAt = store.Forbidden, time.Time{}
	case genesys.ClassInvalid:
		it.State, it.NextAt = store.Invalid, time.Time{}
	case genesys.ClassAuth:
		it.State, it.NextAt = store.Waiting, wall(now)
		return fmt.Errorf("%w: %w", ErrAuth, err)
	default: // transient, or a conflict on a move
		n := transientFailures(it)
		if n >= s.cfg.MaxAttempts {
			it.State, it.NextAt = store.Exhausted, time.Time{}
			return nil
		}
		it.State, it.NextAt = store.Waiting, wall(now.Add(s.backoff(n)))
	}
	return nil
}
