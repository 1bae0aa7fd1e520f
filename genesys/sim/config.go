package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults used when a Config field is left zero, and the platform's fixed
// limits.
const (
	DefaultClientID      = "gcbulk-sim"
	DefaultClientSecret  = "gcbulk-sim-secret"
	DefaultTokenLifetime = 24 * time.Hour
	DefaultRateWindow    = time.Minute
	DefaultMoveBatchMax  = 50

	// MaxBodyBytes is the largest request body accepted; more is a 413.
	MaxBodyBytes = 512000
	// MaxUserIDs is the most id parameters GET /api/v2/users takes.
	MaxUserIDs = 100
	// MaxPageSize is the largest pageSize GET /api/v2/users takes.
	MaxPageSize = 500
	// DefaultPageSize is the page size when a request names none.
	DefaultPageSize = 25
)

// Config sets up a Server. The zero value is a valid configuration: no
// rate limit, no faults, the default client id and secret.
type Config struct {
	ClientID      string        // accepted client id; default DefaultClientID
	ClientSecret  string        // accepted client secret; default DefaultClientSecret
	TokenLifetime time.Duration // lifetime of issued tokens; default 24h
	RateLimit     int           // requests per token per window; 0 = no limit
	RateWindow    time.Duration // default 1m
	Sliding       bool          // sliding window instead of fixed
	MoveBatchMax  int           // most user ids in one division move; default 50
	Seed          int64         // seeds every random fault decision
	Faults        Faults        // faults injected into /api/v2 requests
	Now           func() time.Time
	Logger        *slog.Logger // nil = silent

	// TokenRateLimit limits POST /oauth/token per client id per window;
	// 0 = no limit.
	TokenRateLimit int
	// WriteRateLimit is a second, tighter limit per token per window on
	// PATCH and division moves only; 0 = none.
	WriteRateLimit int
	// LegacyRateCode answers 429 with the pre-2021 code too.many.requests.
	LegacyRateCode bool
	// RetryAfterDate sends Retry-After as an HTTP-date instead of seconds.
	RetryAfterDate bool
	// DeepPagingLimit makes GET /api/v2/users answer 400 for a page that
	// reaches past this many results; 0 = off.
	DeepPagingLimit int
}

// Faults are injected into /api/v2 requests (an outage also hits
// /oauth/token); /sim endpoints never see them. Every random decision comes
// from one generator seeded by Config.Seed, so a run with the same requests
// in the same order sees the same faults. Rates are shares from 0 to 1.
type Faults struct {
	// ErrorRate is the share of requests answered with a 5xx, before any
	// change is made.
	ErrorRate float64
	// ErrorStatuses are the statuses ErrorRate picks from, evenly; nil
	// means 500, 502, 503 and 504.
	ErrorStatuses []int
	// Latency is added to every request on average; each request gets
	// Latency plus a uniform amount in [-Jitter, +Jitter] (never below 0).
	Latency time.Duration
	Jitter  time.Duration
	// ResetBeforeRate is the share of requests whose connection is closed
	// without an answer before anything is done.
	ResetBeforeRate float64
	// ResetAfterRate is the share of requests that are carried out (a
	// PATCH is applied) and whose connection is then closed without an
	// answer: the ambiguous case.
	ResetAfterRate float64
	// SlowRate is the share of requests that are carried out and answered
	// only after SlowDelay, to trip a client's timeout.
	SlowRate  float64
	SlowDelay time.Duration
	// ConflictRate is the share of PATCHes that find another writer bumped
	// the user's version just before, so they answer 409.
	ConflictRate float64
	// EditsPerSecond is how often another writer bumps the version of a
	// random user (version only, never a field a plan sets).
	EditsPerSecond float64
	// OutageAfter and OutageFor make every request fail 503 for OutageFor,
	// starting OutageAfter after the server was created. Server.Outage
	// starts one on demand.
	OutageAfter time.Duration
	OutageFor   time.Duration
}

// errConfig is wrapped by every configuration error.
var errConfig = errors.New("invalid simulator config")

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.RateWindow == 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.MoveBatchMax == 0 {
		c.MoveBatchMax = DefaultMoveBatchMax
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	switch {
	case c.TokenLifetime < 0 || c.RateWindow < 0:
		return c, fmt.Errorf("%w: negative duration", errConfig)
	case c.RateLimit < 0 || c.TokenRateLimit < 0 || c.WriteRateLimit < 0:
		return c, fmt.Errorf("%w: negative rate limit", errConfig)
	case c.MoveBatchMax < 0 || c.DeepPagingLimit < 0:
		return c, fmt.Errorf("%w: negative limit", errConfig)
	}
	return c, c.Faults.check()
}

// check reports a fault setting that cannot be honoured.
func (f Faults) check() error {
	for _, r := range []float64{
		f.ErrorRate, f.ResetBeforeRate, f.ResetAfterRate, f.SlowRate, f.ConflictRate,
	} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%w: fault rate %v not between 0 and 1", errConfig, r)
		}
	}
	for _, s := range f.ErrorStatuses {
		if s < 500 || s > 599 {
			return fmt.Errorf("%w: error status %d is not a 5xx", errConfig, s)
		}
	}
	if f.Latency < 0 || f.Jitter < 0 || f.SlowDelay < 0 || f.OutageAfter < 0 || f.OutageFor < 0 {
		return fmt.Errorf("%w: negative fault duration", errConfig)
	}
	if f.EditsPerSecond < 0 {
		return fmt.Errorf("%w: negative edit rate", errConfig)
	}
	return nil
}
