package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
)

// retryCall runs call until it succeeds, for the steps outside the engine
// (resolving e-mails, dry-run reads). It waits out pauses without counting
// them, stops on an authentication failure (wrapping ErrAuth), and retries
// transient and rate-limited failures after a backoff, up to MaxAttempts.
// Each request sent is added to sent; op names the step in errors and logs.
func retryCall[T any](ctx context.Context, s *Scheduler, op string, sent *atomic.Int64,
	call func() (T, error)) (T, error) {
	var zero T
	for n := 1; ; n++ {
		out, err := call()
		var pe *ParkError
		switch {
		case err == nil:
			sent.Add(1)
			return out, nil
		case ctx.Err() != nil:
			return zero, ctx.Err()
		case errors.As(err, &pe):
			n--
			if err := s.sleepCtx(ctx, pe.Until.Sub(s.clock.Now())); err != nil {
				return zero, err
			}
			continue
		}
		sent.Add(1)
		switch genesys.ClassOf(err) {
		case genesys.ClassAuth:
			return zero, fmt.Errorf("%s: %w: %w", op, ErrAuth, err)
		case genesys.ClassTransient, genesys.ClassRateLimited:
			if n < s.cfg.MaxAttempts {
				s.log.Warn("retry after a failed request", slog.String("step", op),
					slog.Any("err", err), slog.Int("attempt", n))
				if err := s.sleepCtx(ctx, s.backoff(n)); err != nil {
					return zero, err
				}
				continue
			}
		}
		return zero, fmt.Errorf("%s: %w", op, err)
	}
}

// sleepCtx waits d on the scheduler's clock or until ctx ends.
func (s *Scheduler) sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.clock.After(d):
		return nil
	}
}
