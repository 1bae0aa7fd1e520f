package scheduler

import (
	"errors"
	"fmt"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
)

// moveLoop is the mover: it gathers users bound for the same division and
// moves up to MoveBatch of them in one request, when the batch is full,
// when its oldest has waited MoveLinger, or when the reader is idle.
func (e *engine) moveLoop() {
	pending := map[string][]*task{}
	since := map[string]time.Time{}
	for {
		var timer <-chan time.Time
		if len(pending) > 0 {
			timer = e.s.clock.After(e.lingerLeft(since))
		}
		select {
		case t, ok := <-e.moves:
			if !ok {
				e.endMoves(pending)
				return
			}
			div := t.diff[genesys.FieldDivision]
			if len(pending[div]) == 0 {
				since[div] = e.s.clock.Now()
			}
			pending[div] = append(pending[div], t)
			if len(pending[div]) >= e.s.cfg.MoveBatch {
				e.move(div, pending[div])
				delete(pending, div)
			}
		case <-timer:
			cut := e.s.clock.Now().Add(-e.s.cfg.MoveLinger)
			for div, ts := range pending {
				if !since[div].After(cut) {
					e.move(div, ts)
					delete(pending, div)
				}
			}
		case <-e.flushMv:
			for div, ts := range pending {
				e.move(div, ts)
				delete(pending, div)
			}
		}
	}
}

func (e *engine) lingerLeft(since map[string]time.Time) time.Duration {
	var oldest time.Time
	for _, t := range since {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return max(e.s.cfg.MoveLinger-e.s.clock.Now().Sub(oldest), time.Millisecond)
}

// endMoves sends what is pending when the run ends normally, and puts it
// back in the queue when it stops: the fields are applied and recorded, the
// move is redone after a re-read.
func (e *engine) endMoves(pending map[string][]*task) {
	for div, ts := range pending {
		if e.stopping() {
			e.revert(ts)
			continue
		}
		e.move(div, ts)
	}
}

// move sends one division move for tasks. A permanent refusal of a batch is
// retried one user at a time, so one bad user does not fail the others.
func (e *engine) move(div string, ts []*task) {
	if e.stopping() {
		e.revert(ts)
		return
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.id
	}
	meta, err := e.s.api.MoveUsers(e.opCtx, div, ids)
	if !errors.Is(err, ErrParked) {
		e.s.moves.Add(1)
		for _, t := range ts {
			t.it.Attempts++
			e.s.record(t.it, opMove, meta, err)
		}
	}
	if err == nil {
		for _, t := range ts {
			e.applied(t.it)
		}
		return
	}

	switch genesys.ClassOf(err) {
	case genesys.ClassNotFound, genesys.ClassInvalid, genesys.ClassForbidden:
		if len(ts) > 1 && !e.interrupted(err) {
			for _, t := range ts {
				e.move(div, []*task{t})
			}
			return
		}
	}
	for _, t := range ts {
		if genesys.ClassOf(err) == genesys.ClassNotFound {
			// The user was just read and patched: the division is missing.
			err = fmt.Errorf("move to division %s: %w", div, asInvalid(err))
		}
		e.end(t.it, err)
	}
}

// asInvalid reclassifies a 404 on a move as invalid: it is the division
// that does not exist, not the user.
func asInvalid(err error) error {
	var ge *genesys.Error
	if !errors.As(err, &ge) {
		return err
	}
	c := *ge
	c.Class = genesys.ClassInvalid
	return &c
}
