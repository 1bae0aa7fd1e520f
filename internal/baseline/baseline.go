// Package baseline is the way most bulk-update scripts talk to Genesys
// Cloud, written fairly and well, so `gcbulk bench` can compare the
// scheduler against it.
//
// A fixed pool of workers takes one item at a time: it reads the user
// (one GET), diffs it against the wanted values, sends one PATCH with the
// version it read and, when the division changes, one move request with
// that single id. A request answered 429 or 5xx, or with no answer at all,
// is sent again after an exponential backoff (1s doubling up to 60s, no
// jitter) that the worker sleeps on its own. Retry-After is ignored, as
// most scripts ignore it, and nothing is shared between workers: no common
// pause, no rate, no adaptation. After MaxAttempts sends of one request
// the item fails.
package baseline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcbulk/gcbulk/internal/wait"

	"github.com/gcbulk/gcbulk/genesys"
)

// API is what the baseline needs from Genesys Cloud; *genesys.Client
// implements it. Give it a client with no Pacer: the baseline paces
// nothing.
type API interface {
	GetUser(ctx context.Context, id string) (genesys.User, genesys.Meta, error)
	PatchUser(ctx context.Context, id string, p genesys.Patch) (genesys.User, genesys.Meta,
		error)
	MoveUsers(ctx context.Context, divisionID string, ids []string) (genesys.Meta, error)
}

// Item is one user to change: its id and the plan fields wanted, in plan
// text (ids for manager and division).
type Item struct {
	UserID string
	Want   map[string]string
}

// Config sets up a run. A zero field takes the default in its comment.
type Config struct {
	// Workers is the size of the fixed pool. Default 10.
	Workers int
	// MaxAttempts is how many times one request is sent before its item
	// fails. Default 5.
	MaxAttempts int
	// BackoffBase is the first wait after a retryable failure; it doubles
	// at each retry up to BackoffMax. Defaults 1s and 60s.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Sleep waits d or until ctx ends. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger is nil for silence.
	Logger *slog.Logger
}

// Result counts what a run did.
type Result struct {
	Applied   int   // items whose change was written
	Unchanged int   // items that already held every wanted value
	Failed    int   // items given up on
	Requests  int64 // API requests sent, retries included
	Retries   int64 // requests sent again after a retryable failure
}

// Done is how many items reached an end.
func (r Result) Done() int { return r.Applied + r.Unchanged + r.Failed }

// withDefaults returns c with every zero field set.
func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 60 * time.Second
	}
	if c.Sleep == nil {
		c.Sleep = wait.Sleep
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// runner is one run's shared counters.
type runner struct {
	api API
	cfg Config

	applied, unchanged, failed atomic.Int64
	requests, retries          atomic.Int64
}

// Run applies items with the worker pool until every item has ended or
// ctx ends. The Result counts what was done either way; the error is
// ctx's when it stopped the run early.
func Run(ctx context.Context, api API, items []Item, cfg Config) (Result, error) {
	r := &runner{api: api, cfg: cfg.withDefaults()}
	queue := make(chan Item)
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Go(func() {
			for it := range queue {
				r.process(ctx, it)
			}
		})
	}

	var err error
feed:
	for _, it := range items {
		select {
		case queue <- it:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(queue)
	wg.Wait()
	return r.result(), err
}

// result reads the counters.
func (r *runner) result() Result {
	return Result{
		Applied:   int(r.applied.Load()),
		Unchanged: int(r.unchanged.Load()),
		Failed:    int(r.failed.Load()),
		Requests:  r.requests.Load(),
		Retries:   r.retries.Load(),
	}
}

// process carries one item to its end and counts the outcome. An item cut
// short by ctx is not counted.
func (r *runner) process(ctx context.Context, it Item) {
	changed, err := r.apply(ctx, it)
	switch {
	case err == nil && changed:
		r.applied.Add(1)
	case err == nil:
		r.unchanged.Add(1)
	case ctx.Err() != nil:
		// Stopped, not failed: the run was cut short.
	default:
		r.failed.Add(1)
		r.cfg.Logger.Debug("item failed", "user_id", it.UserID, "err", err)
	}
}

// apply reads the user, then writes what differs: the fields in one PATCH
// with the version read, the division in one move. It reports whether
// anything was written.
func (r *runner) apply(ctx context.Context, it Item) (bool, error) {
	var u genesys.User
	err := r.retry(ctx, func() (err error) {
		u, _, err = r.api.GetUser(ctx, it.UserID)
		return err
	})
	if err != nil {
		return false, err
	}
	diff := u.Diff(it.Want)
	if len(diff) == 0 {
		return false, nil
	}

	for _, p := range genesys.NewPatches(diff, u.Version) {
		err := r.retry(ctx, func() error {
			_, _, err := r.api.PatchUser(ctx, it.UserID, p)
			return err
		})
		if err != nil {
			return false, err
		}
	}
	if div, ok := diff[genesys.FieldDivision]; ok {
		err := r.retry(ctx, func() error {
			_, err := r.api.MoveUsers(ctx, div, []string{it.UserID})
			return err
		})
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// retry sends one request with send, again after a backoff while it fails
// in a retryable way, at most MaxAttempts times.
func (r *runner) retry(ctx context.Context, send func() error) error {
	wait := r.cfg.BackoffBase
	for attempt := 1; ; attempt++ {
		r.requests.Add(1)
		err := send()
		if err == nil || !retryable(err) || attempt >= r.cfg.MaxAttempts {
			return err
		}
		r.retries.Add(1)
		if err := r.cfg.Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, r.cfg.BackoffMax)
	}
}

// retryable reports whether err is a 429, a 5xx or a failure to get any
// answer. A cancelled context is not.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *genesys.Error
	if !errors.As(err, &e) {
		return true
	}
	return e.Class == genesys.ClassRateLimited || e.Status >= 500 ||
		e.Status == 0 && e.Class == genesys.ClassTransient
}
