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

// Rate adaptation constants. The tenant limit is a count per Window whose
// kind (fixed or sliding) is not published, so the governor learns it from
// the 429s themselves rather than sawing around it with plain AIMD.
const (
	// targetMargin: once a limit is learned the rate settles this far under
	// it. The estimate already errs low by up to a second of traffic
	// (Retry-After is rounded up), so 3% more keeps 429s rare while losing
	// only about 3% of the least possible run time.
	targetMargin = 0.97
	// decreaseFactor is the multiplicative decrease when a 429 gives no
	// usable estimate (too few requests seen, or Retry-After not shorter
	// than the window).
	decreaseFactor = 0.7
	// addPerSecond is the additive increase, in requests per second for
	// each second of saturated sending, while under the target or while no
	// limit is known: from half speed back to 5/s in under a minute.
	addPerSecond = 0.05
	// probePerMinute: above the target the rate creeps up by this share of
	// the learned limit per minute, so a raised limit is found again while
	// a probe costs one 429 every several minutes at most.
	probePerMinute = 0.005
	// minEstimateSample is the fewest admitted requests an estimate needs.
	minEstimateSample = 10
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

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced when a gate may open
	lim         *rate.Limiter
	rate        float64
	limit       float64
	lastRaise   time.Time
	lastWaited  time.Time
	pauseUntil  time.Time
	releasedNew int         // requests released since the last pause began
	admitted    []time.Time // answers (not 429) within the last Window
	rateLimited int
	requests    int64
	failures    int64
	retryTokens float64
	breaker     breaker
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
			if r.DelayFrom(now) > 0 {
				g.lastWaited = now
			}
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
			g.releasedNew++
			g.requests++
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
	var gerr *genesys.Error
	errors.As(err, &gerr)
	switch {
	case err == nil:
		g.admit(now)
		g.raise(now)
		g.retryTokens = min(g.retryTokens+g.cfg.RetryRatio, float64(g.cfg.RetryBurst))
		g.breakerResult(now, false)
	case gerr != nil && gerr.Class == genesys.ClassRateLimited:
		g.rateLimit(now, gerr)
		g.breakerResult(now, false)
	case genesys.ClassOf(err) == genesys.ClassTransient:
		g.failures++
		if meta.Status != 0 {
			g.admit(now)
		}
		g.breakerResult(now, true)
	default:
		// A permanent answer (404, 409, 400...) still shows a service alive.
		g.admit(now)
		g.breakerResult(now, false)
	}
}

// admit records an answer that counted against the tenant limit.
func (g *Governor) admit(now time.Time) {
	g.admitted = append(g.admitted, now)
	cut := now.Add(-g.cfg.Window)
	i := 0
	for i < len(g.admitted) && g.admitted[i].Before(cut) {
		i++
	}
	if i > 0 {
		g.admitted = append(g.admitted[:0], g.admitted[i:]...)
	}
}

// raise is the additive increase, applied per second of saturated sending.
func (g *Governor) raise(now time.Time) {
	dt := now.Sub(g.lastRaise)
	g.lastRaise = now
	if now.Sub(g.lastWaited) > saturatedFor || dt <= 0 {
		return
	}
	secs := min(dt.Seconds(), 1)
	r := g.rate
	target := g.limit * targetMargin
	switch {
	case g.limit == 0:
		r += addPerSecond * secs
	case r < target:
		r = min(target, r+addPerSecond*secs)
	default:
		r += g.limit * probePerMinute / 60 * secs
	}
	g.setRate(now, r)
}

func (g *Governor) setRate(now time.Time, r float64) {
	g.rate = min(max(r, g.cfg.MinRate), g.cfg.MaxRate)
	g.lim.SetLimitAt(now, rate.Limit(g.rate))
}
