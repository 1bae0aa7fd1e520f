package scheduler

import (
	"log/slog"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
)

type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

var breakerNames = [...]string{"closed", "open", "half_open"}

// defaultRetryAfter is the pause for a 429 whose Retry-After is zero,
// missing or in the past: Genesys always sends one, so its absence is a
// fault and a short pause is the safe reading.
const defaultRetryAfter = time.Second

// breaker is the circuit breaker's state; the Governor guards it.
type breaker struct {
	state     breakerState
	run       int    // transient failures in a row
	recent    []bool // last answers, true for a transient failure
	cooldown  time.Duration
	openUntil time.Time
	probeOut  bool
	opens     int
}

// check moves an open breaker whose cool-down has passed to half-open and
// returns the state.
func (b *breaker) check(now time.Time) breakerState {
	if b.state == breakerOpen && !now.Before(b.openUntil) {
		b.state = breakerHalfOpen
		b.probeOut = false
	}
	return b.state
}

// takeProbe hands out the half-open breaker's single probe.
func (b *breaker) takeProbe() bool {
	if b.state == breakerHalfOpen && !b.probeOut {
		b.probeOut = true
		return true
	}
	return false
}

// returnProbe gives back a probe that was never sent.
func (b *breaker) returnProbe(probe bool) {
	if probe && b.state == breakerHalfOpen {
		b.probeOut = false
	}
}

// tripped reports whether the failures recorded call for opening.
func (b *breaker) tripped(failures int, ratio float64, window int) bool {
	if b.run >= failures {
		return true
	}
	if len(b.recent) < window {
		return false
	}
	n := 0
	for _, f := range b.recent {
		if f {
			n++
		}
	}
	return float64(n)/float64(len(b.recent)) >= ratio
}

// breakerResult feeds one answer to the breaker. Called with mu held.
func (g *Governor) breakerResult(now time.Time, failed bool) {
	b := &g.breaker
	b.recent = append(b.recent, failed)
	if len(b.recent) > g.cfg.BreakerWindow {
		b.recent = b.recent[len(b.recent)-g.cfg.BreakerWindow:]
	}
	if !failed {
		b.run = 0
		if b.state == breakerHalfOpen {
			b.state = breakerClosed
			b.cooldown = g.cfg.BreakerCooldown
			b.recent = b.recent[:0]
			g.log.Info("circuit breaker closed")
			g.broadcast()
		}
		return
	}

	b.run++
	switch b.state {
	case breakerHalfOpen:
		b.cooldown = min(2*b.cooldown, g.cfg.BreakerMaxCooldown)
		g.open(now)
	case breakerClosed:
		if b.tripped(g.cfg.BreakerFailures, g.cfg.BreakerRatio, g.cfg.BreakerWindow) {
			g.open(now)
		}
	}
}

func (g *Governor) open(now time.Time) {
	b := &g.breaker
	b.state = breakerOpen
	b.probeOut = false
	b.openUntil = now.Add(b.cooldown)
	b.opens++
	g.log.Warn("circuit breaker open", slog.Duration("cooldown", b.cooldown),
		slog.Int("failures_in_row", b.run), slog.String("last_error", g.lastErr))
	g.broadcast()
}

// rateLimit handles a 429: one pause for everyone, and one decrease per
// episode however many requests in flight come back 429. Called with mu
// held.
func (g *Governor) rateLimit(now time.Time, e *genesys.Error) {
	g.rateLimited++
	ra := e.RetryAfter
	if ra <= 0 {
		ra = defaultRetryAfter
	}
	if ra > g.cfg.MaxRetryAfter || e.RetryCapped {
		g.log.Warn("retry-after capped", slog.Duration("retry_after", ra),
			slog.Duration("max_retry_after", g.cfg.MaxRetryAfter))
		ra = min(ra, g.cfg.MaxRetryAfter)
	}

	g.maxRetryAfter = max(g.maxRetryAfter, ra)
	newEpisode := !now.Before(g.pauseUntil) && g.releasedNew > 0
	if until := now.Add(ra); until.After(g.pauseUntil) {
		g.pauseUntil = until
		g.broadcast()
	}
	if !newEpisode {
		return
	}
	g.releasedNew = 0
	g.learn(now)
	g.log.Info("rate limited", slog.Duration("retry_after", ra),
		slog.Float64("rate", g.rate), slog.Float64("limit", g.limit))
}

// TakeRetry spends one unit of the retry budget, reporting false when it is
// empty: the caller then defers the retry instead of sending it. Besides
// what successes earn, the budget refills by retryRefillPerSecond, so the
// last few items of a run, with no successes left to earn from, are not
// re-read many times over before each retry.
func (g *Governor) TakeRetry() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if !g.lastRefill.IsZero() {
		earned := now.Sub(g.lastRefill).Seconds() * retryRefillPerSecond
		g.retryTokens = min(g.retryTokens+earned, float64(g.cfg.RetryBurst))
	}
	g.lastRefill = now
	if g.retryTokens < 1 {
		return false
	}
	g.retryTokens--
	return true
}

// ResumeAt returns when sending may resume: the end of a Retry-After pause
// or of an open breaker's cool-down, or the zero time when neither holds.
func (g *Governor) ResumeAt() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	var t time.Time
	if now.Before(g.pauseUntil) {
		t = g.pauseUntil
	}
	if g.breaker.check(now) == breakerOpen && g.breaker.openUntil.After(t) {
		t = g.breaker.openUntil
	}
	return t
}

// Snapshot returns the governor's state.
func (g *Governor) Snapshot() GovernorState {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	st := GovernorState{
		Rate:        g.rate,
		Limit:       g.limit,
		RateLimited: g.rateLimited,
		Breaker:     breakerNames[g.breaker.check(now)],
		Requests:    g.requests,
		Failures:    g.failures,
		LastError:   g.lastErr,
	}
	if now.Before(g.pauseUntil) {
		st.PauseUntil = g.pauseUntil
	}
	if g.breaker.state == breakerOpen {
		st.OpenUntil = g.breaker.openUntil
	}
	return st
}

// Restore starts the governor from a saved state, so a resumed run sends
// at the rate it had learned, capped at this run's MaxRate; the learned
// limit is kept, so under a higher ceiling the rate may grow past it by
// probing. Pauses and the breaker are not restored: they were about the
// moment of the save.
func (g *Governor) Restore(st GovernorState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st.Rate > 0 {
		g.setRate(g.clock.Now(), st.Rate)
	}
	if st.Limit > 0 {
		g.limit = st.Limit
	}
	g.rateLimited = st.RateLimited
	g.requests = st.Requests
	g.failures = st.Failures
}

// BreakerOpens returns how many times the circuit breaker has opened,
// counting a failed probe that opens it again.
func (g *Governor) BreakerOpens() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.breaker.opens
}
