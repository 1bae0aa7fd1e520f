package scheduler

import (
	"errors"
	"fmt"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// userID returns the Genesys id an item names.
func userID(it *store.Item) string {
	if it.UserID == "" && it.KeyKind == store.KeyID {
		return it.Key
	}
	return it.UserID
}

// dispatch reads a batch of due items in one request, settles those with
// nothing to write, commits the intent of the rest (InFlight) in the same
// commit, and only then hands them to the writers.
func (e *engine) dispatch(items []*store.Item) error {
	users, settled, err := e.read(items)
	if err != nil {
		return err
	}
	if users == nil {
		return nil // the batch was parked or put back
	}

	var tasks []*task
	var done []*store.Item
	for _, it := range items {
		var t *task
		if !settled[it.Seq] {
			t = e.prepare(it, users)
		}
		if t == nil {
			done = append(done, it)
			continue
		}
		tasks = append(tasks, t)
	}
	if err := e.send(items, false, true); err != nil {
		return err
	}
	e.unbusy(done)

	for i, t := range tasks {
		e.writing.Add(1)
		select {
		case e.work <- t:
		case <-e.ctx.Done():
			e.writing.Add(int64(i - len(tasks)))
			e.revert(tasks[i:])
			return nil
		}
	}
	return nil
}

// prepare works out what an item needs from the user as read: nil when
// it is settled without a write (or deferred), else its task, InFlight.
func (e *engine) prepare(it *store.Item, users map[string]genesys.User) *task {
	id := userID(it)
	u, found := users[id]
	if !found {
		e.s.finish(it, store.NotFound, "not.found", fmt.Sprintf("user %s not found", id))
		return nil
	}
	diff := u.Diff(it.Desired)
	for field := range diff {
		if it.Before == nil {
			it.Before = map[string]string{}
		}
		if _, seen := it.Before[field]; !seen {
			it.Before[field] = u.Field(field)
		}
	}
	if len(diff) == 0 {
		e.s.settled(it, u.Version)
		return nil
	}
	if n := transientFailures(it); n > 0 && !e.s.gov.TakeRetry() {
		// The retry budget is spent: an outage must not multiply load.
		it.State, it.NextAt = store.Waiting, wall(e.s.clock.Now().Add(e.s.backoff(n)))
		return nil
	}
	it.State = store.InFlight
	return &task{it: it, id: id, user: u, diff: diff}
}

// settled ends an item whose user holds the desired values: Applied when a
// write of ours may have done it, Unchanged when nothing was ever sent.
func (s *Scheduler) settled(it *store.Item, version int) {
	st := store.Unchanged
	if wroteBefore(it) {
		st = store.Applied
		it.VersionAfter = version
	}
	s.finish(it, st, "", "")
}

// read gets the users of a batch: nil (and no error) when the batch was
// parked or put back for later. settled names items a refused read ended.
func (e *engine) read(items []*store.Item) (users map[string]genesys.User,
	settled map[uint64]bool, err error) {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, userID(it))
	}
	list, meta, err := e.s.api.GetUsers(e.ctx, ids)
	if err == nil {
		e.readFails = 0
		users = make(map[string]genesys.User, len(list))
		for _, u := range list {
			users[u.ID] = u
		}
		for _, it := range items {
			e.s.record(it, opRead, meta, nil)
		}
		e.s.reads.Add(1)
		settled, err := e.confirmAbsent(items, users)
		if err != nil {
			e.unbusy(items)
			return nil, nil, err
		}
		return users, settled, nil
	}

	var pe *ParkError
	switch {
	case errors.As(err, &pe):
		e.unbusy(items)
		if e.s.unreachable() == nil {
			e.sleep(pe.Until.Sub(e.s.clock.Now()))
		}
		return nil, nil, nil
	case e.ctx.Err() != nil:
		e.unbusy(items)
		return nil, nil, nil
	}
	e.s.reads.Add(1)
	switch genesys.ClassOf(err) {
	case genesys.ClassAuth:
		e.unbusy(items)
		return nil, nil, fmt.Errorf("%w: %w", ErrAuth, err)
	case genesys.ClassNotFound, genesys.ClassInvalid, genesys.ClassForbidden:
		// One bad id may spoil a batch: read the users one by one.
		return e.readEach(items)
	}
	return nil, nil, e.deferBatch(items, meta, err)
}

// deferBatch puts a batch whose read failed back in the queue, after the
// pause or a backoff that grows with failed reads in a row.
func (e *engine) deferBatch(items []*store.Item, meta genesys.Meta, err error) error {
	e.readFails++
	next := wall(e.s.clock.Now().Add(e.s.backoff(e.readFails)))
	if t := e.s.gov.ResumeAt(); !t.IsZero() {
		next = wall(t)
	}
	for _, it := range items {
		e.s.record(it, opRead, meta, err)
		it.NextAt = next
	}
	return e.send(items, true, false)
}

// readEach reads users one at a time, after a batch read was refused. A
// refusal (a 404 among them) settles the item at once.
func (e *engine) readEach(items []*store.Item) (map[string]genesys.User, map[uint64]bool, error) {
	users := map[string]genesys.User{}
	settled := map[uint64]bool{}
	for _, it := range items {
		u, meta, err := e.s.api.GetUser(e.ctx, userID(it))
		e.s.reads.Add(1)
		if err == nil {
			e.s.record(it, opRead, meta, nil)
			users[u.ID] = u
			continue
		}
		class := genesys.ClassOf(err)
		if errors.Is(err, ErrParked) || e.ctx.Err() != nil ||
			class == genesys.ClassTransient || class == genesys.ClassRateLimited {
			e.unbusy(items)
			return nil, nil, nil // taken again later
		}
		e.s.record(it, opRead, meta, err)
		if fatal := e.s.settle(it, err); fatal != nil {
			e.unbusy(items)
			return nil, nil, fatal
		}
		settled[it.Seq] = true
	}
	return users, settled, nil
}

// confirmAbsent reads, one at a time, the users a batch read left out:
// a batch answers 200 without them, which proves nothing. A user found
// now (eventual consistency) joins users; a 404 or another refusal ends
// the item with that answer's status, code and correlation id; a failure
// that may pass defers the item. settled names the items ended or
// deferred. Only an authentication failure returns an error.
func (e *engine) confirmAbsent(items []*store.Item,
	users map[string]genesys.User) (map[uint64]bool, error) {
	settled := map[uint64]bool{}
	for _, it := range items {
		id := userID(it)
		if _, ok := users[id]; ok {
			continue
		}
		if e.ctx.Err() != nil {
			settled[it.Seq] = true // still Waiting and due: read on the next start
			continue
		}
		u, meta, err := e.s.api.GetUser(e.ctx, id)
		if !errors.Is(err, ErrParked) {
			e.s.reads.Add(1)
		}
		switch {
		case err == nil:
			e.s.record(it, opRead, meta, nil)
			users[id] = u
			continue
		case e.ctx.Err() != nil:
		case errors.Is(err, ErrParked):
			_ = e.s.settle(it, err) // nothing was sent: due when the pause ends
		default:
			e.s.record(it, opRead, meta, err)
			if fatal := e.s.settleRead(it, err); fatal != nil {
				return nil, fatal
			}
		}
		settled[it.Seq] = true
	}
	return settled, nil
}

// settleRead applies a failed single-user read to its item: a transient
// failure defers it after a backoff that grows with its failed reads,
// never to NotFound on a guess; anything else settles as a write would.
func (s *Scheduler) settleRead(it *store.Item, err error) error {
	if genesys.ClassOf(err) != genesys.ClassTransient {
		return s.settle(it, err)
	}
	setError(it, err)
	n := 0
	for i := len(it.History) - 1; i >= 0 && it.History[i].Op != store.OpRetry; i-- {
		if a := it.History[i]; a.Op == opRead && a.Outcome == genesys.ClassTransient.String() {
			n++
		}
	}
	it.State, it.NextAt = store.Waiting, wall(s.clock.Now().Add(s.backoff(n)))
	return nil
}

// revert puts tasks that were never sent back in the queue, due now.
func (e *engine) revert(tasks []*task) {
	now := wall(e.s.clock.Now())
	items := make([]*store.Item, 0, len(tasks))
	for _, t := range tasks {
		t.it.State, t.it.NextAt = store.Waiting, now
		items = append(items, t.it)
	}
	_ = e.send(items, true, false)
}
