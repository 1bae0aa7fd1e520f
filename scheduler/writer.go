package scheduler

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// writeLoop is one writer: it sends the PATCHes of one task at a time.
func (e *engine) writeLoop() {
	for t := range e.work {
		if e.stopping() {
			e.revert([]*task{t})
		} else {
			e.write(t)
		}
		if e.writing.Add(-1) == 0 {
			e.signal() // the reader may now send pending moves
		}
	}
}

// write applies a task's field changes, re-reading on version conflicts,
// then passes it to the mover when its division changes too.
func (e *engine) write(t *task) {
	for {
		err := e.patch(t)
		if err == nil {
			break
		}
		if genesys.ClassOf(err) != genesys.ClassConflict || e.interrupted(err) {
			e.end(t.it, err)
			return
		}
		again, err := e.reread(t)
		if err != nil {
			e.end(t.it, err)
			return
		}
		if !again {
			_ = e.send([]*store.Item{t.it}, true, false)
			return
		}
	}

	if _, ok := t.diff[genesys.FieldDivision]; ok {
		e.moves <- t
		return
	}
	e.applied(t.it)
}

// applied ends an item whose writes all succeeded.
func (e *engine) applied(it *store.Item) {
	e.s.finish(it, store.Applied, "", "")
	_ = e.send([]*store.Item{it}, true, false)
}

// patch sends the task's PATCH bodies: fields first, then a state change
// (Genesys applies a state alone), each with the version the last answer
// gave.
func (e *engine) patch(t *task) error {
	fields := maps.Clone(t.diff)
	delete(fields, genesys.FieldDivision)
	version := t.user.Version
	for _, p := range genesys.NewPatches(fields, version) {
		p.Version = version
		u, meta, err := e.s.api.PatchUser(e.opCtx, t.id, p)
		if errors.Is(err, ErrParked) {
			return err
		}
		t.it.Attempts++
		e.s.patches.Add(1)
		e.s.record(t.it, opPatch, meta, err)
		if err != nil {
			return err
		}
		version = u.Version
		t.user = u
		t.it.VersionAfter = u.Version
	}
	return nil
}

// reread handles a version conflict: it reads the user again and reports
// whether to write again. It settles the item itself when the user already
// holds the values, or when conflicts kept coming.
func (e *engine) reread(t *task) (bool, error) {
	t.conflicts++
	u, meta, err := e.s.api.GetUser(e.opCtx, t.id)
	if errors.Is(err, ErrParked) {
		return false, err
	}
	e.s.reads.Add(1)
	e.s.record(t.it, opRead, meta, err)
	if err != nil {
		return false, err
	}

	t.user = u
	t.diff = u.Diff(t.it.Desired)
	switch {
	case len(t.diff) == 0:
		e.s.settled(t.it, u.Version)
		return false, nil
	case t.conflicts >= e.s.cfg.MaxConflicts:
		e.s.finish(t.it, store.Conflict, "general.conflict", fmt.Sprintf(
			"user version kept changing: %d conflicts in a row", t.conflicts))
		return false, nil
	}
	return true, nil
}

// end settles an item after a failed request and passes it to the
// committer. A request cut by the stop leaves the item InFlight: its
// outcome is unknown and the next run re-reads it.
func (e *engine) end(it *store.Item, err error) {
	if e.interrupted(err) {
		it.State = store.InFlight
	} else if fatal := e.s.settle(it, err); fatal != nil {
		e.fail(fatal, false)
	}
	_ = e.send([]*store.Item{it}, true, false)
}

// commitLoop is the committer: it groups outcomes into one ledger commit
// per FlushEvery items or FlushInterval, with the checkpoint.
func (e *engine) commitLoop() {
	var pending []*store.Item
	var release []*store.Item
	var timer <-chan time.Time
	flush := func() error {
		err := e.flush(pending, release)
		pending, release, timer = nil, nil, nil
		return err
	}
	for {
		select {
		case c, ok := <-e.commits:
			if !ok {
				_ = flush()
				return
			}
			pending = append(pending, c.items...)
			if c.release {
				release = append(release, c.items...)
			}
			switch {
			case c.done != nil:
				c.done <- flush()
			case len(pending) >= e.s.cfg.FlushEvery:
				_ = flush()
			case timer == nil:
				timer = e.s.clock.After(e.s.cfg.FlushInterval)
			}
		case <-timer:
			_ = flush()
		}
	}
}

// flush commits items. A failed commit stops all sending at once: nothing
// may be marked done that was not recorded.
func (e *engine) flush(items, release []*store.Item) error {
	if len(items) == 0 {
		return nil
	}
	if err := e.failure(); err != nil && errors.Is(err, errLedger) {
		return err
	}
	if err := e.s.l.Commit(items, e.s.checkpointState()); err != nil {
		err = fmt.Errorf("%w: %w", errLedger, err)
		e.fail(err, true)
		return err
	}
	e.unbusy(release)
	if err := e.s.refreshCounts(); err != nil {
		e.fail(fmt.Errorf("%w: %w", errLedger, err), true)
		return err
	}
	e.signal()
	return nil
}

// signal wakes the reader if it is idle.
func (e *engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// errLedger marks a failure to write the ledger.
var errLedger = errors.New("write ledger")
