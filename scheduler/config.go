package scheduler

import (
	"log/slog"
	"math/rand/v2"
	"time"
)

// Config sets up the governor and the scheduler; the same value is given to
// NewGovernor and New. A zero field takes the default named in its comment.
type Config struct {
	// Rate is the sending rate at start, in requests per second. Default
	// 4.75 (285 a minute): just under the documented 300 a minute, so a run
	// is near full speed from the first second and learns the rest.
	Rate float64
	// MinRate is the floor the rate never goes under. Default 0.2.
	MinRate float64
	// MaxRate is the limit as the user knows it, in requests per second.
	// Default 5 (the documented 300 a minute). The governor never sends
	// faster than 3% under it (targetMargin), and slower when 429s show the
	// real limit is lower. Raise it when the org's limit is higher.
	MaxRate float64
	// Concurrency bounds requests in flight. Default 8.
	Concurrency int
	// MaxRetryAfter caps one Retry-After pause. Default 180s.
	MaxRetryAfter time.Duration
	// ParkAfter: when sending is paused longer than this, Wait returns a
	// ParkError and work is parked in the ledger. Default 5s.
	ParkAfter time.Duration

	// BreakerFailures transient failures in a row open the breaker.
	// Default 5.
	BreakerFailures int
	// BreakerWindow is how many recent answers the failure ratio covers.
	// Default 20.
	BreakerWindow int
	// BreakerRatio of transient failures in a full window opens the
	// breaker. Default 0.5.
	BreakerRatio float64
	// BreakerCooldown is the first open period; it doubles at each failed
	// probe up to BreakerMaxCooldown. Defaults 5s and 60s.
	BreakerCooldown    time.Duration
	BreakerMaxCooldown time.Duration
	// RetryRatio is the retry budget earned per successful answer, and
	// RetryBurst its cap (and start). Defaults 0.1 and 10: in an outage
	// retries are at most 10 plus a tenth of the requests that succeeded.
	RetryRatio float64
	RetryBurst int

	// BatchSize is how many due items one read takes (at most 100, the
	// GET /api/v2/users limit). Default 100.
	BatchSize int
	// MoveBatch is how many users one division move carries. Default 50.
	MoveBatch int
	// MoveLinger is how long a move waits for more users bound for the
	// same division before it is sent anyway. Default 2m.
	MoveLinger time.Duration
	// MaxAttempts transient failures end an item Exhausted. Default 8.
	MaxAttempts int
	// MaxConflicts version conflicts in one dispatch end it Conflict.
	// Default 5.
	MaxConflicts int
	// BackoffBase and BackoffMax bound the full-jitter backoff after a
	// transient failure. Defaults 1s and 5m.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// FlushEvery outcomes or FlushInterval, whichever comes first, make
	// one ledger commit. Defaults 64 and 100ms.
	FlushEvery    int
	FlushInterval time.Duration
	// StopTimeout bounds how long requests in flight may finish after the
	// run's context is cancelled. Default 10s.
	StopTimeout time.Duration

	// DryRun reads and diffs but writes nothing to Genesys or the ledger.
	DryRun bool
	// SampleSize is how many changes a dry run returns. Default 20.
	SampleSize int

	// Clock defaults to RealClock.
	Clock Clock
	// Rand returns a number in [0,1) for jitter. Default math/rand/v2.
	Rand func() float64
	// Logger is nil for silence.
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c = c.governorDefaults()
	setI(&c.BatchSize, 100)
	c.BatchSize = min(c.BatchSize, 100)
	setI(&c.MoveBatch, 50)
	setD(&c.MoveLinger, 2*time.Minute)
	setI(&c.MaxAttempts, 8)
	setI(&c.MaxConflicts, 5)
	setD(&c.BackoffBase, time.Second)
	setD(&c.BackoffMax, 5*time.Minute)
	setI(&c.FlushEvery, 64)
	setD(&c.FlushInterval, 100*time.Millisecond)
	setD(&c.StopTimeout, 10*time.Second)
	setI(&c.SampleSize, 20)

	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// governorDefaults fills in the governor's zero fields.
func (c Config) governorDefaults() Config {
	setF(&c.MaxRate, 5)
	setF(&c.Rate, min(4.75, c.MaxRate))
	setF(&c.MinRate, 0.2)
	setI(&c.Concurrency, 8)
	setD(&c.MaxRetryAfter, 180*time.Second)
	setD(&c.ParkAfter, 5*time.Second)

	setI(&c.BreakerFailures, 5)
	setI(&c.BreakerWindow, 20)
	setF(&c.BreakerRatio, 0.5)
	setD(&c.BreakerCooldown, 5*time.Second)
	setD(&c.BreakerMaxCooldown, 60*time.Second)
	setF(&c.RetryRatio, 0.1)
	setI(&c.RetryBurst, 10)
	c.MinRate = min(c.MinRate, c.MaxRate)
	c.Rate = min(max(c.Rate, c.MinRate), c.MaxRate)
	return c
}

func setF(v *float64, d float64) {
	if *v <= 0 {
		*v = d
	}
}

func setI(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

func setD(v *time.Duration, d time.Duration) {
	if *v <= 0 {
		*v = d
	}
}
