package scheduler

import (
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// cycle is the traffic since the last 429 episode began: one full turn of
// "send, 429, pause, send" once the next episode comes.
type cycle struct {
	start    time.Time     // first 429 of the last episode; zero before any
	resume   time.Time     // end of its pause
	admitted int           // answers that counted against the limit since start
	idle     time.Duration // time since start when nobody waited on the limiter
	rate     float64       // rate set when the cycle began
	known    bool          // whether a limit was known when it began
	guess    bool          // whether that limit was firstEstimate's guess
}

// flight measures the requests' mean latency by Little's law: the time
// integral of the requests in flight over the answers received.
type flight struct {
	n       int
	since   time.Time
	area    time.Duration // sum over time of requests in flight
	answers int
}

// noteFlight records a request released (+1) or answered (-1) at now.
// Called with mu held.
func (g *Governor) noteFlight(now time.Time, d int) {
	f := &g.flight
	if f.n > 0 {
		f.area += time.Duration(f.n) * now.Sub(f.since)
	}
	f.since = now
	if d < 0 && f.n == 0 {
		return // Done without Wait
	}
	f.n += d
	if d < 0 {
		f.answers++
	}
}

// latency returns the requests' mean latency so far; 0 before any answer.
func (f *flight) latency() time.Duration {
	if f.answers == 0 {
		return 0
	}
	return f.area / time.Duration(f.answers)
}

// noteTurn records a reservation whose turn comes after delay: a delay
// means the limiter holds the sender back (it is saturated); none means
// the limiter sat idle since its last turn, or since a pause ended. Called
// with mu held.
func (g *Governor) noteTurn(now time.Time, delay time.Duration) {
	if delay > 0 {
		g.lastWaited = now
	} else if free := later(g.nextTurn, g.pauseUntil); now.After(free) && !free.IsZero() {
		g.cycle.idle += now.Sub(free)
	}
	g.nextTurn = now.Add(delay + time.Duration(float64(time.Second)/g.rate))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// admit records an answer that counted against the tenant limit.
func (g *Governor) admit() {
	g.cycle.admitted++
}

// learn adapts the rate to the first 429 of an episode, at now. The tenant
// admits a fixed count per window of unknown length, fixed or sliding, and
// every 429 pauses all sending for its Retry-After, so one cycle from an
// episode to the next (the pause included) delivers what the tenant
// allows in that time: admitted/length is a throughput valid under any
// window. Since Retry-After is rounded up to whole seconds and the pause
// starts when the 429 arrives, not when the tenant counted it, each pause
// may waste up to roundingSlack plus a request's latency: admitted over
// the length less that slack bounds the limit from above.
//
// Two kinds of cycle end in a 429. If it began at a rate set under a
// learned limit that proved sustainable (see rose), it rose into the
// ceiling from below, and the rate at the 429 is the sharper bound.
// Otherwise the sender was over the limit all along (or growing fast with
// no limit known): the cycle's bound is the estimate, or when it is no
// lower than the rate, the rate less a cut that doubles with each such
// cycle in a row; a limit found by cutting is provisional (probed fast,
// see raise) until the next 429.
//
// The first episode has no cycle: firstEstimate guesses the limit from
// the traffic since the run began, as a provisional limit that the next
// cycle refines (by a cut if the guess was high, exactly if the rate
// rises into the ceiling from below); with too little traffic for a
// guess the rate drops by decreaseFactor and the next episode measures
// one. The rate then settles targetMargin under the limit. Called with mu
// held.
func (g *Governor) learn(now time.Time) {
	r := g.rate
	est, ok := g.cycleEstimate(now)
	c := g.cycle
	guess := false
	switch {
	case !ok && c.start.IsZero() && g.limit == 0:
		est, guess = g.firstEstimate()
		if guess {
			g.limit, g.provisional = est, true
		}
	case ok && c.known && g.rose(now, r):
		g.limit, g.provisional, g.streak = r, false, 0
	case c.guess:
		// The cycle began under firstEstimate's guess, which was a little
		// high. Its own bound is too low under a sliding window (its pause
		// was the first burst's debt), so cut as below, keeping a higher
		// bound: a guess far too high (a partial first fixed window) is cut
		// deeper each cycle.
		g.cut(r)
		g.limit = max(g.limit, min(est, r))
	case ok && est < r:
		if c.known {
			// The cycle began at a rate under a learned limit, so its
			// length includes the pause the last episode imposed, which
			// under a sliding window may be longer than this cycle needed:
			// the estimate can be far too low. A 429 at r only says the
			// limit is under r, so cut by at most knownCut a cycle.
			est = max(est, r*(1-knownCut))
		}
		g.limit, g.provisional, g.streak = est, false, 0
	case ok:
		// The bound says nothing (a window near Retry-After's one-second
		// grain): cut the rate, deeper for each such cycle in a row.
		g.cut(r)
	case g.limit > 0:
		g.limit = min(g.limit, r)
	}
	if g.limit > 0 {
		g.setRate(now, g.limit*targetMargin)
	} else {
		g.setRate(now, r*decreaseFactor)
	}
	g.log.Debug("limit learned", slog.Float64("estimate", est), slog.Bool("cycle_measured", ok),
		slog.Float64("rate_at_429", r), slog.Float64("cycle_rate", c.rate),
		slog.Int("cycle_admitted", c.admitted), slog.Duration("cycle_length", now.Sub(c.start)),
		slog.Duration("idle", c.idle), slog.Float64("limit", g.limit),
		slog.Float64("rate", g.rate))
	g.cycle = cycle{start: now, resume: g.pauseUntil, rate: g.rate,
		known: g.limit > 0, guess: guess}
}

// cut sets a provisional limit under the rate r at a 429, deeper for
// each such cut in a row. Called with mu held.
func (g *Governor) cut(r float64) {
	cut := min((1-targetMargin)*float64(int(1)<<min(g.streak, 8)), 0.5)
	g.limit, g.provisional = r*(1-cut), true
	g.streak++
}

// rose reports whether the cycle ending at now with rate r rose into the
// ceiling from below: it delivered its starting rate over its whole
// length, or the rate rose by riseMin or more and sending went on for over
// two windows after the pause (the longest Retry-After bounds the window
// from below, up to its rounding), longer than any sender over the limit
// could go on without a 429.
func (g *Governor) rose(now time.Time, r float64) bool {
	c := g.cycle
	length := now.Sub(c.start) - c.idle
	if float64(c.admitted)/length.Seconds() >= c.rate {
		return true // it delivered its starting rate, pause and all
	}
	sent := now.Sub(c.resume)
	return r >= c.rate*(1+riseMin) && sent > 2*(g.maxRetryAfter+roundingSlack)
}

// cycleEstimate returns the upper bound on the tenant limit the cycle
// ending at now gives, in requests per second, and false when the cycle
// is missing (first episode), too thin, or the sender was mostly idle.
func (g *Governor) cycleEstimate(now time.Time) (float64, bool) {
	c := g.cycle
	if c.start.IsZero() || c.admitted < minEstimateSample {
		return 0, false
	}
	length := now.Sub(c.start)
	if c.idle > time.Duration(float64(length)*maxIdleShare) {
		return 0, false
	}
	slack := roundingSlack + g.flight.latency()
	busy := max(length-c.idle-slack, length/2)
	return float64(c.admitted) / busy.Seconds(), true
}

// firstEstimate returns the tenant limit the first episode suggests, at
// its first 429, and false when too few answers came before it. The
// answers admitted since the first request left, over the time from it
// to the pause's end, estimate the limit: under a sliding window the
// admitted requests leave it about when the pause ends, so the estimate
// is about exact; under a fixed one the run may have begun partway into
// a window, so it is an upper bound. Retry-After's rounding up to whole
// seconds makes the pause up to roundingSlack too long: firstSlack of it
// is taken out. Called with mu held, after the pause is set.
func (g *Governor) firstEstimate() (float64, bool) {
	c := g.cycle
	if g.started.IsZero() || c.admitted < minEstimateSample {
		return 0, false
	}
	span := g.pauseUntil.Sub(g.started)
	if c.idle > time.Duration(float64(span)*maxIdleShare) {
		return 0, false
	}
	span = max(span-firstSlack, span/2)
	return float64(c.admitted) / span.Seconds(), true
}

// raise is the additive increase, applied per second of saturated sending:
// fast while no limit is known (growPerSecond of MaxRate) or while under
// the target, then a slow probe above it.
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
		r += growPerSecond * g.cfg.MaxRate * secs
	case r < target:
		r = min(target, r+recoverPerSecond*g.limit*secs)
	case g.provisional:
		r += g.limit * fastProbe / max(g.maxRetryAfter, time.Second).Seconds() * secs
	default:
		r += g.limit * probePerMinute / 60 * secs
	}
	g.setRate(now, r)
}

// setRate sets the sending rate, kept within MinRate and the ceiling.
// MaxRate is the limit as the user knows it (Genesys's published 300 a
// minute by default), so the ceiling keeps targetMargin under it, as under a
// learned limit: sending at exactly a sliding window's limit meets a 429
// whenever traffic bunches, and each one pauses the whole tenant.
func (g *Governor) setRate(now time.Time, r float64) {
	g.rate = min(max(r, g.cfg.MinRate), g.cfg.MaxRate*targetMargin)
	g.lim.SetLimitAt(now, rate.Limit(g.rate))
}
