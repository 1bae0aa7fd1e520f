package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// engine is one session of the run loop. The reader takes due items, reads
// them in one request, commits the intent and hands writes to the writers;
// the writers PATCH; the mover batches division moves; the committer groups
// outcomes into ledger commits. An item belongs to one stage at a time, and
// stays busy (never taken again) until its outcome is committed.
type engine struct {
	s        *Scheduler
	ctx      context.Context // cancelled: take no new work
	opCtx    context.Context // requests in flight; outlives ctx by StopTimeout
	cancelOp context.CancelFunc

	work    chan *task
	moves   chan *task
	commits chan commit
	wake    chan struct{} // an outcome was committed
	flushMv chan struct{} // the reader is idle: send pending moves

	writing atomic.Int64 // tasks queued for or held by the writers

	mu        sync.Mutex
	busy      map[uint64]bool
	fatal     error
	readFails int
}

// task is one item on its way through the writers and the mover.
type task struct {
	it        *store.Item
	id        string
	user      genesys.User
	diff      map[string]string
	conflicts int
}

// commit is a group of items for the committer. release lists the items
// whose dispatch is over; done, when set, asks for an immediate commit and
// its result.
type commit struct {
	items   []*store.Item
	release bool
	done    chan error
}

func (s *Scheduler) loop(ctx context.Context) error {
	opCtx, cancelOp := context.WithCancel(context.WithoutCancel(ctx))
	e := &engine{
		s:        s,
		ctx:      ctx,
		opCtx:    opCtx,
		cancelOp: cancelOp,
		work:     make(chan *task, s.cfg.BatchSize),
		moves:    make(chan *task, s.cfg.BatchSize),
		commits:  make(chan commit, s.cfg.BatchSize),
		wake:     make(chan struct{}, 1),
		flushMv:  make(chan struct{}, 1),
		busy:     map[uint64]bool{},
	}
	defer cancelOp()
	go e.stopTimer()

	var writers, mover, committer sync.WaitGroup
	committer.Go(e.commitLoop)
	mover.Go(e.moveLoop)
	for range s.cfg.Concurrency {
		writers.Go(e.writeLoop)
	}
	e.readLoop()
	close(e.work)
	writers.Wait()
	close(e.moves)
	mover.Wait()
	close(e.commits)
	committer.Wait()

	if err := e.failure(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	return nil
}

// stopTimer cuts requests in flight StopTimeout after the run is cancelled.
func (e *engine) stopTimer() {
	select {
	case <-e.opCtx.Done():
		return
	case <-e.ctx.Done():
	}
	select {
	case <-e.opCtx.Done():
	case <-e.s.clock.After(e.s.cfg.StopTimeout):
		e.cancelOp()
	}
}

// fail records the first error that ends the run. hard also cuts requests
// in flight at once (a ledger that cannot be written).
func (e *engine) fail(err error, hard bool) {
	e.mu.Lock()
	if e.fatal == nil {
		e.fatal = err
		e.s.log.Error("run stopped", slog.Any("err", err))
	}
	e.mu.Unlock()
	if hard {
		e.cancelOp()
	}
}

func (e *engine) failure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fatal
}

// stopping reports whether no new work may start.
func (e *engine) stopping() bool { return e.ctx.Err() != nil || e.failure() != nil }

// interrupted reports whether a request's outcome is unknown because the
// stop cut it.
func (e *engine) interrupted(err error) bool {
	return e.opCtx.Err() != nil && !errors.Is(err, ErrParked)
}

// send hands items to the committer, waiting for the commit when sync.
func (e *engine) send(items []*store.Item, release, sync bool) error {
	c := commit{items: items, release: release}
	if sync {
		c.done = make(chan error, 1)
	}
	e.commits <- c
	if sync {
		return <-c.done
	}
	return nil
}

// readLoop is the reader: it runs until nothing is left or the run stops.
func (e *engine) readLoop() {
	for !e.stopping() {
		if err := e.s.unreachable(); err != nil {
			e.fail(err, false)
			return
		}
		items, err := e.takeDue()
		if err != nil {
			e.fail(err, true)
			return
		}
		if len(items) == 0 {
			if e.idle() {
				return
			}
			continue
		}
		if err := e.dispatch(items); err != nil {
			e.fail(err, false)
			return
		}
	}
}

// takeDue returns due items that no stage holds, and marks them busy.
func (e *engine) takeDue() ([]*store.Item, error) {
	e.mu.Lock()
	nbusy := len(e.busy)
	e.mu.Unlock()
	due, err := e.s.l.Due(wall(e.s.clock.Now()), e.s.cfg.BatchSize+nbusy)
	if err != nil {
		return nil, fmt.Errorf("take due items: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*store.Item
	for _, it := range due {
		if len(out) < e.s.cfg.BatchSize && !e.busy[it.Seq] {
			e.busy[it.Seq] = true
			out = append(out, it)
		}
	}
	return out, nil
}

func (e *engine) unbusy(items []*store.Item) {
	e.mu.Lock()
	for _, it := range items {
		delete(e.busy, it.Seq)
	}
	e.mu.Unlock()
}

// idle waits for work to come due and reports true when there is none
// left at all.
func (e *engine) idle() bool {
	if e.writing.Load() == 0 {
		// No write can add to a pending move any more: send them.
		select {
		case e.flushMv <- struct{}{}:
		default:
		}
	}
	next, ok, err := e.s.l.NextDue()
	if err != nil {
		e.fail(fmt.Errorf("read next due: %w", err), true)
		return true
	}
	e.mu.Lock()
	nbusy := len(e.busy)
	e.mu.Unlock()
	if !ok && nbusy == 0 {
		return true
	}

	var timer <-chan time.Time
	if ok {
		// An item due already is busy: its commit (within FlushInterval)
		// wakes us, so there is no point polling faster than that.
		d := next.Sub(wall(e.s.clock.Now()))
		timer = e.s.clock.After(max(d, e.s.cfg.FlushInterval))
	}
	select {
	case <-e.ctx.Done():
	case <-e.wake:
	case <-timer:
	}
	return false
}

// sleep waits d or until the run stops.
func (e *engine) sleep(d time.Duration) {
	_ = e.s.sleepCtx(e.ctx, d) // a stopped run is seen by the caller's loop
}
