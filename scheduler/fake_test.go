package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// memLedger is an in-memory Ledger that stores copies, as the real one
// stores encoded records, and enforces the state rules.
type memLedger struct {
	mu        sync.Mutex
	items     map[uint64]*store.Item
	meta      store.RunMeta
	cp        checkpoint.State
	commits   int
	failAfter int // commits that succeed before every commit fails; 0 never
}

var errDisk = errors.New("disk full")

func newMemLedger(items []*store.Item) *memLedger {
	l := &memLedger{items: map[uint64]*store.Item{}, meta: store.RunMeta{Resolved: true}}
	for i, it := range items {
		it.Seq = uint64(i + 1)
		if it.State == 0 {
			it.State = store.Waiting
		}
		if len(it.Lines) == 0 {
			it.Lines = []int{i + 2}
		}
		l.items[it.Seq] = clone(it)
	}
	return l
}

func clone(it *store.Item) *store.Item {
	b, err := json.Marshal(it)
	if err != nil {
		panic(err)
	}
	var out store.Item
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}

func (l *memLedger) Meta() (store.RunMeta, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta, nil
}

func (l *memLedger) SetMeta(fn func(*store.RunMeta)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.meta)
	return nil
}

func (l *memLedger) sorted() []*store.Item {
	out := slices.Collect(maps.Values(l.items))
	slices.SortFunc(out, func(a, b *store.Item) int { return int(a.Seq) - int(b.Seq) })
	return out
}

func (l *memLedger) Due(now time.Time, max int) ([]*store.Item, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*store.Item
	for _, it := range l.sorted() {
		if it.State == store.Waiting && !it.NextAt.After(now) {
			out = append(out, clone(it))
		}
	}
	slices.SortStableFunc(out, func(a, b *store.Item) int { return a.NextAt.Compare(b.NextAt) })
	return out[:min(len(out), max)], nil
}

func (l *memLedger) NextDue() (time.Time, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t time.Time
	ok := false
	for _, it := range l.items {
		if it.State == store.Waiting && (!ok || it.NextAt.Before(t)) {
			t, ok = it.NextAt, true
		}
	}
	return t, ok, nil
}

func (l *memLedger) Each(fn func(*store.Item) error) error {
	return l.EachInState(0, fn)
}

func (l *memLedger) EachInState(s store.State, fn func(*store.Item) error) error {
	l.mu.Lock()
	var list []*store.Item
	for _, it := range l.sorted() {
		if s == 0 || it.State == s {
			list = append(list, clone(it))
		}
	}
	l.mu.Unlock()
	for _, it := range list {
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLedger) Counts() (map[store.State]int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := map[store.State]int{}
	for _, it := range l.items {
		c[it.State]++
	}
	return c, nil
}

func (l *memLedger) Get(seq uint64) (*store.Item, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	it, ok := l.items[seq]
	if !ok {
		return nil, fmt.Errorf("get %d: no item", seq)
	}
	return clone(it), nil
}

func (l *memLedger) Delete(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.items, seq)
	return nil
}

func (l *memLedger) LoadCheckpoint() (checkpoint.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cp, nil
}

func (l *memLedger) Commit(items []*store.Item, cp checkpoint.State) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failAfter > 0 && l.commits >= l.failAfter {
		return errDisk
	}
	for _, it := range items {
		old, ok := l.items[it.Seq]
		if !ok {
			return fmt.Errorf("commit %d: no item", it.Seq)
		}
		if !store.CanTransition(old.State, it.State) || it.Attempts < old.Attempts {
			return fmt.Errorf("commit %d %s→%s: %w", it.Seq, old.State, it.State, store.ErrBadTransition)
		}
	}
	for _, it := range items {
		l.items[it.Seq] = clone(it)
	}
	l.cp = cp
	l.commits++
	return nil
}

func (l *memLedger) state(seq uint64) store.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.items[seq].State
}

func (l *memLedger) item(seq uint64) *store.Item {
	it, _ := l.Get(seq)
	return it
}

// fakeAPI is an in-memory Genesys Cloud with scripted failures, paced by
// the governor as the real client is.
type fakeAPI struct {
	mu      sync.Mutex
	users   map[string]*genesys.User
	gov     *Governor
	latency time.Duration
	calls   map[string]int
	// script returns the error for a call, or nil to answer normally.
	script func(op, id string, n int) error
	// onPatch runs before a PATCH is applied.
	onPatch func(id string)
	moved   [][]string
	hidden  map[string]bool // users batch reads leave out, as a lagging index would
	active  map[string]int  // calls in progress by op
	overlap bool            // a read started while a PATCH was in progress
}

func newFakeAPI(gov *Governor, users ...genesys.User) *fakeAPI {
	f := &fakeAPI{users: map[string]*genesys.User{}, gov: gov, latency: 50 * time.Millisecond,
		calls: map[string]int{}, active: map[string]int{}}
	for _, u := range users {
		f.users[u.ID] = &u
	}
	return f
}

func apiErr(op string, c genesys.Class, status int, code string) *genesys.Error {
	return &genesys.Error{Op: op, Class: c, Status: status, Code: code, Message: code,
		CorrelationID: "cid-" + code}
}

// call paces one request and runs fn, with the scripted error first.
func (f *fakeAPI) call(ctx context.Context, op, id string, fn func() error) (genesys.Meta, error) {
	if err := f.gov.Wait(ctx); err != nil {
		return genesys.Meta{}, &genesys.Error{Op: op, Class: genesys.ClassTransient, Err: err}
	}
	f.mu.Lock()
	f.calls[op]++
	n := f.calls[op]
	f.active[op]++
	if op == "get users" && f.active["patch user"] > 0 {
		f.overlap = true
	}
	f.mu.Unlock()

	var err error
	select {
	case <-ctx.Done():
		err = &genesys.Error{Op: op, Class: genesys.ClassTransient, Err: ctx.Err()}
	case <-time.After(f.latency):
	}
	if err == nil && f.script != nil {
		err = f.script(op, id, n)
	}
	if err == nil {
		f.mu.Lock()
		err = fn()
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.active[op]--
	f.mu.Unlock()
	meta := genesys.Meta{Status: 200, CorrelationID: fmt.Sprintf("%s-%d", op, n)}
	var ge *genesys.Error
	if errors.As(err, &ge) {
		meta = genesys.Meta{Status: ge.Status, CorrelationID: ge.CorrelationID}
	}
	f.gov.Done(meta, err)
	return meta, err
}

func (f *fakeAPI) GetUsers(ctx context.Context, ids []string) ([]genesys.User,
	genesys.Meta, error) {
	var out []genesys.User
	meta, err := f.call(ctx, "get users", "", func() error {
		for _, id := range ids {
			if u, ok := f.users[id]; ok && !f.hidden[id] {
				out = append(out, *u)
			}
		}
		return nil
	})
	return out, meta, err
}

func (f *fakeAPI) GetUser(ctx context.Context, id string) (genesys.User, genesys.Meta, error) {
	var out genesys.User
	meta, err := f.call(ctx, "get user", id, func() error {
		u, ok := f.users[id]
		if !ok {
			return apiErr("get user", genesys.ClassNotFound, 404, "not.found")
		}
		out = *u
		return nil
	})
	return out, meta, err
}

func (f *fakeAPI) PatchUser(ctx context.Context, id string, p genesys.Patch) (genesys.User,
	genesys.Meta, error) {
	var out genesys.User
	meta, err := f.call(ctx, "patch user", id, func() error {
		if f.onPatch != nil {
			f.onPatch(id)
		}
		u, ok := f.users[id]
		switch {
		case !ok:
			return apiErr("patch user", genesys.ClassNotFound, 404, "not.found")
		case p.Version != u.Version:
			return apiErr("patch user", genesys.ClassConflict, 409, "general.conflict")
		}
		applyPatch(u, p)
		out = *u
		return nil
	})
	return out, meta, err
}

func applyPatch(u *genesys.User, p genesys.Patch) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.Name, p.Name)
	set(&u.Department, p.Department)
	set(&u.Title, p.Title)
	set(&u.State, p.State)
	if p.Manager != nil {
		u.Manager = &genesys.Ref{ID: *p.Manager}
	}
	u.Version++
}

func (f *fakeAPI) MoveUsers(ctx context.Context, div string, ids []string) (genesys.Meta, error) {
	return f.call(ctx, "move users", div, func() error {
		for _, id := range ids {
			f.users[id].Division = &genesys.Division{ID: div}
		}
		f.moved = append(f.moved, slices.Clone(ids))
		return nil
	})
}

func (f *fakeAPI) ResolveEmails(ctx context.Context, emails []string) (map[string]string, error) {
	out := map[string]string{}
	_, err := f.call(ctx, "resolve", "", func() error {
		for _, u := range f.users {
			for _, e := range emails {
				if strings.EqualFold(u.Email, e) {
					out[strings.ToLower(e)] = u.ID
				}
			}
		}
		return nil
	})
	return out, err
}

func (f *fakeAPI) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeAPI) user(id string) genesys.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.users[id]
}
