package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gcbulk/gcbulk/genesys"
)

// Rate adaptation constants. The tenant limit is a count per window whose
// length and kind (fixed or sliding) are not published, and the simulator,
// tests and benchmarks scale the window to seconds. So the governor learns
// the limit as a throughput, never as a count per assumed window: see
// learn.
const (
	// retryRefillPerSecond is the retry budget earned per second whatever
	// happens: one retry a second is no load even in an outage (the breaker
	// stops sending then anyway), and it keeps a run's tail moving.
	retryRefillPerSecond = 1.0
	// knownCut is the most one cycle may lower a limit already learned: a
	// 429 at a rate set under that limit says the limit is a little lower,
	// not that it fell by half; a real fall shows in the next cycles.
	knownCut = 0.1
	// targetMargin: once a limit is learned the rate settles this far under
	// it, so 429s stay rare while losing about 3% of the least run time.
	targetMargin = 0.97
	// decreaseFactor is the multiplicative decrease when a 429 gives no
	// cycle to measure (the first episode, or too little traffic since the
	// last one) and no limit is known yet.
	decreaseFactor = 0.7
	// roundingSlack is what one Retry-After pause may overshoot the time the
	// tenant really needed: Genesys rounds Retry-After up to whole seconds.
	// Taking it out of a cycle's length bounds the limit from above.
	roundingSlack = time.Second
	// growPerSecond is the additive increase while no limit is known, as a
	// share of MaxRate for each second of saturated sending: from any rate
	// to the ceiling in under 20 s, so the first 429 comes within seconds.
	growPerSecond = 0.05
	// recoverPerSecond: under the target of a known limit the rate climbs
	// back by this share of the limit per saturated second.
	recoverPerSecond = 0.05
	// probePerMinute: above the target the rate creeps up by this share of
	// the learned limit per minute, so a raised limit is found again while
	// a probe costs one short episode every several minutes at most.
	probePerMinute = 0.005
	// riseMin: a cycle whose rate rose this much before its 429 rose into
	// the ceiling from below; the probe needs two minutes for it, longer
	// than a cycle over the limit lasts.
	riseMin = 0.01
	// fastProbe: while the limit is provisional (measured over the limit,
	// never yet hit from below) the rate probes above the target by this
	// share of the limit per longest Retry-After seen, which is about the
	// tenant's window: the ceiling is hit from below within about ten
	// windows, overshooting it by about half of fastProbe.
	fastProbe = 0.01
	// firstSlack is taken out of the first episode's span (see
	// firstEstimate): Retry-After's rounding adds half of roundingSlack on
	// average, so the guess is as often a little high as a little low.
	firstSlack = roundingSlack / 2
	// minEstimateSample is the fewest admitted requests a cycle needs.
	minEstimateSample = 10
	// maxIdleShare: a cycle where nobody waited on the limiter for more than
	// this share of its length says nothing about the limit.
	maxIdleShare = 0.25
	// saturatedFor: the rate only rises while Wait had to hold a request
	// back this recently; an idle sender must not drift up to the ceiling.
	saturatedFor = 2 * time.Second
)

// GovernorState is the governor's state for progress, status and the
// checkpoint.
type GovernorState struct {
	Rate        float64   // current sending rate, requests per second
	Limit       float64   // learned tenant limit, requests per second; 0 unknown
	RateLimited int       // 429 (and 503 with Retry-After) answers seen
	Breaker     string    // "closed", "open" or "half_open"
	PauseUntil  time.Time // end of the current Retry-After pause; zero when none
	OpenUntil   time.Time // end of the breaker's cool-down; zero when not open
	Requests    int64     // requests released by Wait
	Failures    int64     // transient failures seen
	LastError   string    // the last transient failure's error text; "" when none
}

// Governor paces every request to Genesys Cloud: it implements
// genesys.Pacer. It holds an adaptive rate (AIMD, settling under a learned
// limit), pauses all sending for Retry-After, bounds concurrency, keeps a
// circuit breaker and a retry budget. It is safe for concurrent use.
type Governor struct {
	cfg   Config
	clock Clock
	log   *slog.Logger
	slots chan struct{}

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced when a gate may open
	lim           *rate.Limiter
	rate          float64
	limit         float64
	lastRaise     time.Time
	lastWaited    time.Time
	pauseUntil    time.Time
	started       time.Time     // when Wait released the first request
	releasedNew   int           // requests released since the last pause began
	nextTurn      time.Time     // when the limiter frees its next turn
	flight        flight        // requests in flight, for their mean latency
	provisional   bool          // limit from an over-limit cycle, not yet hit from below
	streak        int           // over-limit cycles in a row
	maxRetryAfter time.Duration // longest Retry-After seen: about the window
	cycle         cycle         // traffic since the last 429 episode began
	rateLimited   int
	requests      int64
	failures      int64
	lastErr       string // the last transient failure's cause
	retryTokens   float64
	lastRefill    time.Time // when TakeRetry last refilled the budget
	breaker       breaker
}

// NewGovernor returns a governor set up by cfg (defaults filled in).
func NewGovernor(cfg Config) *Governor {
	cfg = cfg.withDefaults()
	g := &Governor{
		cfg:         cfg,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		slots:       make(chan struct{}, cfg.Concurrency),
		changed:     make(chan struct{}),
		lim:         rate.NewLimiter(rate.Limit(cfg.Rate), 1),
		rate:        cfg.Rate,
		retryTokens: float64(cfg.RetryBurst),
	}
	g.breaker.cooldown = cfg.BreakerCooldown
	return g
}

// Wait blocks until a request may be sent: it takes a concurrency slot
// (Done gives it back), waits out a Retry-After pause or an open breaker,
// then the rate limiter. A pause or open breaker lasting longer than
// ParkAfter returns a *ParkError at once instead.
func (g *Governor) Wait(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := g.wait(ctx); err != nil {
		<-g.slots
		return err
	}
	return nil
}

func (g *Governor) wait(ctx context.Context) error {
	for {
		r, probe, err := g.reserve(ctx)
		if err != nil {
			return err
		}
		ok, err := g.await(ctx, r, probe)
		if err != nil || ok {
			return err
		}
	}
}

// reserve waits until no gate holds, then reserves the next turn of the
// limiter. probe is true when this request is the breaker's one probe.
func (g *Governor) reserve(ctx context.Context) (*rate.Reservation, bool, error) {
	for {
		g.mu.Lock()
		now := g.clock.Now()
		until, reason, gated := g.gate(now, false)
		if !gated {
			probe := g.breaker.takeProbe()
			r := g.lim.ReserveN(now, 1)
			g.noteTurn(now, r.DelayFrom(now))
			g.mu.Unlock()
			return r, probe, nil
		}
		ch := g.changed
		g.mu.Unlock()

		if reason != "" && until.Sub(now) > g.cfg.ParkAfter {
			return nil, false, &ParkError{Until: until, Reason: reason}
		}
		if err := g.sleep(ctx, until.Sub(now), ch); err != nil {
			return nil, false, err
		}
	}
}

// await sleeps until the reservation's turn. It reports false, having
// given the turn back, when a gate closed meanwhile: the caller starts over
// so that requests resume spread out after a pause, never in a burst.
func (g *Governor) await(ctx context.Context, r *rate.Reservation, probe bool) (bool, error) {
	for {
		g.mu.Lock()
		now := g.clock.Now()
		if _, _, gated := g.gate(now, probe); gated {
			r.CancelAt(now)
			g.breaker.returnProbe(probe)
			g.mu.Unlock()
			return false, nil
		}
		d := r.DelayFrom(now)
		if d <= 0 {
			if g.started.IsZero() {
				g.started = now
			}
			g.releasedNew++
			g.requests++
			g.noteFlight(now, 1)
			g.mu.Unlock()
			return true, nil
		}
		ch := g.changed
		g.mu.Unlock()

		if err := g.sleep(ctx, d, ch); err != nil {
			g.mu.Lock()
			r.CancelAt(g.clock.Now())
			g.breaker.returnProbe(probe)
			g.mu.Unlock()
			return false, err
		}
	}
}

// sleep waits for d to pass (no timer when d <= 0), ch to close, or ctx to
// end.
func (g *Governor) sleep(ctx context.Context, d time.Duration, ch <-chan struct{}) error {
	var timer <-chan time.Time
	if d > 0 {
		timer = g.clock.After(d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer:
	case <-ch:
	}
	return nil
}

// gate reports whether sending is held back at now: until when and why.
// A half-open breaker whose probe is out holds everyone but the probe with
// no end (until zero, reason empty): the probe's answer decides. Called
// with mu held.
func (g *Governor) gate(now time.Time, probe bool) (time.Time, string, bool) {
	if now.Before(g.pauseUntil) {
		return g.pauseUntil, "rate_limited", true
	}
	switch g.breaker.check(now) {
	case breakerOpen:
		return g.breaker.openUntil, "breaker_open", true
	case breakerHalfOpen:
		if g.breaker.probeOut && !probe {
			return time.Time{}, "", true
		}
	}
	return time.Time{}, "", false
}

// broadcast wakes every waiter to look at the gates again. Called with mu
// held.
func (g *Governor) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// Done gives back the concurrency slot and learns from the answer.
func (g *Governor) Done(meta genesys.Meta, err error) {
	select {
	case <-g.slots:
	default: // Done without Wait: nothing to give back.
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	g.noteFlight(now, -1)
	var gerr *genesys.Error
	errors.As(err, &gerr)
	switch {
	case err == nil:
		g.admit()
		g.raise(now)
		g.retryTokens = min(g.retryTokens+g.cfg.RetryRatio, float64(g.cfg.RetryBurst))
		g.breakerResult(now, false)
	case gerr != nil && gerr.Class == genesys.ClassRateLimited:
		g.rateLimit(now, gerr)
		g.breakerResult(now, false)
	case genesys.ClassOf(err) == genesys.ClassTransient:
		g.failures++
		g.lastErr = err.Error()
		if meta.Status != 0 {
			g.admit()
		}
		g.breakerResult(now, true)
	default:
		// A permanent answer (404, 409, 400...) still shows a service alive.
		g.admit()
		g.breakerResult(now, false)
	}
}
