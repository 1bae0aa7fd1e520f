package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/store"
)

// Scheduler applies a ledger's items to Genesys Cloud: it resolves e-mail
// keys, reads current values in batches, writes what differs at the pace
// the Governor allows, and records every outcome in the ledger.
type Scheduler struct {
	l     Ledger
	api   API
	gov   *Governor
	cfg   Config
	clock Clock
	log   *slog.Logger

	reads, patches, moves, resolves atomic.Int64
	answered                        atomic.Bool // a request of this session got an answer
	opensAtStart                    int         // the breaker's opens when the session began

	mu          sync.Mutex
	counts      map[store.State]int
	started     time.Time
	doneAtStart int
	prev        checkpoint.State // loaded at start
	recent      []doneSample     // items done over the last etaWindow, oldest first
}

// etaWindow is how far back the ETA looks for the completion rate: long
// enough to smooth over batches and pauses, short enough to follow the
// rate once the governor has learned the limit.
const etaWindow = 30 * time.Second

// doneSample is the count of items done at a moment.
type doneSample struct {
	at   time.Time
	done int
}

// Summary is what Run reports when it returns.
type Summary struct {
	DryRun bool
	// Counts per state at the end. A dry run leaves the ledger as it was:
	// its Counts are what it found, items to write counted as Waiting.
	Counts map[store.State]int
	// WouldChange is how many items a dry run found to write.
	WouldChange int
	// Changes is a sample of the changes a dry run found, in plan order.
	Changes []Change
	// Elapsed is this session's time; Total the run's over all sessions.
	Elapsed, Total time.Duration
	// Counters are the run's requests over all sessions.
	Counters checkpoint.Counters
	// Governor is the governor's state at the end.
	Governor GovernorState
}

// Change is one field a dry run would change.
type Change struct {
	Seq    uint64
	Line   int
	UserID string
	Field  string
	Before string
	After  string
}

// Progress is a snapshot for the progress display and status.
type Progress struct {
	Counts      map[store.State]int
	Done        int     // items in a terminal state
	Total       int     // all items
	Rate        float64 // current sending rate, requests per second
	Limit       float64 // learned tenant limit, requests per second; 0 unknown
	RateLimited int     // 429 answers seen
	Breaker     string  // "closed", "open" or "half_open"
	LastError   string  // the last transient failure's cause; "" when none
	// Paused is true while the breaker is not closed or no request of this
	// session has got an answer yet: Rate is then what sending will resume
	// at, not what is sent, and there is no ETA.
	Paused     bool
	PauseUntil time.Time     // end of a Retry-After pause; zero when none
	Elapsed    time.Duration // over all sessions
	ETA        time.Duration // estimate of the time left; 0 when unknown
}

// New returns a scheduler for a ledger opened with store.Open, sending
// through api, whose requests gov paces (the client must be built with gov
// as its Pacer), set up by cfg.
func New(l *store.Ledger, api API, gov *Governor, cfg Config) *Scheduler {
	return NewWithLedger(StoreLedger(l), api, gov, cfg)
}

// NewWithLedger is New for any Ledger.
func NewWithLedger(l Ledger, api API, gov *Governor, cfg Config) *Scheduler {
	cfg = cfg.withDefaults()
	s := &Scheduler{
		l:      l,
		gov:    gov,
		cfg:    cfg,
		clock:  cfg.Clock,
		log:    cfg.Logger,
		counts: map[store.State]int{},
	}
	s.api = answerWatch{API: api, answered: &s.answered}
	return s
}

// Run resolves e-mail keys if that is not done yet, then applies every due
// item until none is left, ctx is cancelled (ErrInterrupted, after the
// requests in flight finish or StopTimeout passes), Genesys refuses the
// credentials (an error wrapping ErrAuth) or the ledger cannot be written.
func (s *Scheduler) Run(ctx context.Context) (Summary, error) {
	if err := s.start(); err != nil {
		return Summary{}, err
	}
	meta, err := s.l.Meta()
	if err != nil {
		return Summary{}, fmt.Errorf("read run meta: %w", err)
	}

	var res *resolution
	if !meta.Resolved {
		if res, err = s.resolve(ctx); err != nil {
			return s.summary(), s.stopErr(ctx, err)
		}
	}
	if s.cfg.DryRun {
		sum, err := s.dryRun(ctx, res)
		return sum, s.stopErr(ctx, err)
	}

	if err := s.recoverInFlight(); err != nil {
		return s.summary(), err
	}
	err = s.loop(ctx)
	return s.summary(), err
}

// stopErr turns an error caused by ctx's cancellation into ErrInterrupted.
func (s *Scheduler) stopErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ErrInterrupted
	}
	return err
}

// start loads the checkpoint and the counts.
func (s *Scheduler) start() error {
	cp, err := s.l.LoadCheckpoint()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.prev = cp
	s.mu.Unlock()
	s.gov.Restore(GovernorState{
		Rate:        cp.Rate,
		Limit:       cp.Limit,
		RateLimited: cp.RateLimited,
		Requests:    cp.Counters.Requests,
	})
	if err := s.refreshCounts(); err != nil {
		return err
	}
	s.mu.Lock()
	s.started = s.clock.Now()
	s.doneAtStart = doneOf(s.counts)
	s.mu.Unlock()
	s.opensAtStart = s.gov.BreakerOpens()
	return nil
}

// recoverInFlight puts items left in flight by a crash back in the queue.
// Every dispatch re-reads the user before writing, so an uncertain write
// is never blindly sent again.
func (s *Scheduler) recoverInFlight() error {
	var items []*store.Item
	now := wall(s.clock.Now())
	err := s.l.EachInState(store.InFlight, func(it *store.Item) error {
		it.History = append(it.History, store.Attempt{At: now, Op: opRecover, Outcome: outcomeUncertain})
		it.State, it.NextAt = store.Waiting, now
		items = append(items, it)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover in-flight items: %w", err)
	}
	if len(items) == 0 {
		return nil
	}
	s.log.Info("recovered items left in flight", slog.Int("items", len(items)))
	if err := s.l.Commit(items, s.checkpointState()); err != nil {
		return fmt.Errorf("recover in-flight items: %w", err)
	}
	return s.refreshCounts()
}

func (s *Scheduler) refreshCounts() error {
	c, err := s.l.Counts()
	if err != nil {
		return fmt.Errorf("count items: %w", err)
	}
	s.mu.Lock()
	s.counts = c
	s.noteDone(s.clock.Now(), doneOf(c))
	s.mu.Unlock()
	return nil
}

// noteDone adds a sample for the ETA, keeping one older than etaWindow as
// the base. Called with mu held.
func (s *Scheduler) noteDone(now time.Time, done int) {
	s.recent = append(s.recent, doneSample{at: now, done: done})
	i := 0
	for i+1 < len(s.recent) && now.Sub(s.recent[i+1].at) >= etaWindow {
		i++
	}
	s.recent = s.recent[i:]
}

func doneOf(c map[store.State]int) int {
	n := 0
	for st, k := range c {
		if st.Terminal() {
			n += k
		}
	}
	return n
}

// elapsed returns this session's time and the run's.
func (s *Scheduler) elapsed() (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started.IsZero() {
		return 0, s.prev.Elapsed
	}
	d := s.clock.Now().Sub(s.started)
	return d, s.prev.Elapsed + d
}

func (s *Scheduler) counters() checkpoint.Counters {
	s.mu.Lock()
	p := s.prev.Counters
	s.mu.Unlock()
	return checkpoint.Counters{
		Requests: s.gov.Snapshot().Requests,
		Reads:    p.Reads + s.reads.Load(),
		Patches:  p.Patches + s.patches.Load(),
		Moves:    p.Moves + s.moves.Load(),
		Resolves: p.Resolves + s.resolves.Load(),
	}
}

// checkpointState is what the outcome commits save with the items.
func (s *Scheduler) checkpointState() checkpoint.State {
	g := s.gov.Snapshot()
	_, total := s.elapsed()
	return checkpoint.State{
		Rate:        g.Rate,
		Limit:       g.Limit,
		RateLimited: g.RateLimited,
		Breaker:     g.Breaker,
		Counters:    s.counters(),
		Elapsed:     total,
		UpdatedAt:   wall(s.clock.Now()),
	}
}

func (s *Scheduler) summary() Summary {
	session, total := s.elapsed()
	s.mu.Lock()
	counts := make(map[store.State]int, len(s.counts))
	for k, v := range s.counts {
		counts[k] = v
	}
	s.mu.Unlock()
	return Summary{
		Counts:   counts,
		Elapsed:  session,
		Total:    total,
		Counters: s.counters(),
		Governor: s.gov.Snapshot(),
	}
}

// completionRate returns items done per second over the last etaWindow,
// or over the session while it is younger than minETASpan; 0 when nothing
// is known yet. Called with mu held.
func (s *Scheduler) completionRate(now time.Time, done int) float64 {
	if len(s.recent) > 0 {
		base := s.recent[0]
		if span := now.Sub(base.at); span >= minETASpan && done > base.done {
			return float64(done-base.done) / span.Seconds()
		}
	}
	if s.started.IsZero() || done <= s.doneAtStart {
		return 0
	}
	return float64(done-s.doneAtStart) / now.Sub(s.started).Seconds()
}

// minETASpan is the shortest stretch the recent completion rate is
// measured over; before that the session's average is used.
const minETASpan = 5 * time.Second

// Progress returns the run's progress; it is safe to call at any time from
// any goroutine.
func (s *Scheduler) Progress() Progress {
	g := s.gov.Snapshot()
	_, total := s.elapsed()
	s.mu.Lock()
	p := Progress{Counts: make(map[store.State]int, len(s.counts))}
	for k, v := range s.counts {
		p.Counts[k] = v
		p.Total += v
	}
	p.Done = doneOf(s.counts)
	perSec := s.completionRate(s.clock.Now(), p.Done)
	s.mu.Unlock()

	p.Rate, p.Limit, p.RateLimited, p.Breaker = g.Rate, g.Limit, g.RateLimited, g.Breaker
	p.PauseUntil, p.Elapsed, p.LastError = g.PauseUntil, total, g.LastError
	p.Paused = g.Breaker != breakerNames[breakerClosed] || !s.answered.Load()
	left := p.Total - p.Done
	switch {
	case left == 0, p.Paused:
		// Nothing is moving, or nothing has shown it can: any guess misleads.
	case perSec > 0:
		p.ETA = time.Duration(float64(left) / perSec * float64(time.Second))
	case g.Rate > 0:
		// About one write per item, plus a read per hundred.
		p.ETA = time.Duration(float64(left) * 1.01 / g.Rate * float64(time.Second))
	}
	return p
}
