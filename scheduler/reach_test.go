package scheduler

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// refused is a failure to get any answer, as a wrong --api-url gives.
func refused(op string) error {
	return &genesys.Error{Op: op, Class: genesys.ClassTransient, Err: syscall.ECONNREFUSED}
}

func titled(n int) []*store.Item {
	var items []*store.Item
	for i := range n {
		items = append(items, byID(i, map[string]string{genesys.FieldTitle: "x"}))
	}
	return items
}

func TestScheduler_UnreachableStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{}, 5, titled(5))
		b.api.script = func(op, id string, n int) error { return refused(op) }

		stop := make(chan struct{})
		seen := make(chan Progress, 1000)
		go func() {
			for {
				select {
				case <-stop:
					close(seen)
					return
				case <-time.After(500 * time.Millisecond):
					seen <- b.s.Progress()
				}
			}
		}()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		_, err := b.s.Run(ctx)
		close(stop)

		require.ErrorIs(t, err, ErrUnreachable)
		var ue *UnreachableError
		require.True(t, errors.As(err, &ue))
		require.Equal(t, unreachableOpens, ue.Opens)
		require.Contains(t, ue.LastError, "connection refused")
		require.Less(t, time.Since(start), 3*time.Minute, "stops, does not wait forever")
		for p := range seen {
			require.True(t, p.Paused, "no answer yet: paused")
			require.Zero(t, p.ETA, "no ETA before anything has answered")
		}
		c, _ := b.l.Counts()
		require.Equal(t, 5, c[store.Waiting], "nothing lost: every item resumable")
	})
}

func TestScheduler_OutageAfterAnswerWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{MaxAttempts: 100}, 3, titled(3))
		start := time.Now()
		b.api.script = func(op, id string, n int) error {
			first := op == "get users" && n == 1
			if !first && time.Since(start) < 5*time.Minute {
				return refused(op)
			}
			return nil
		}
		var opened Progress
		go func() {
			time.Sleep(time.Minute)
			opened = b.s.Progress()
		}()

		_, err := b.s.Run(context.Background())
		require.NoError(t, err, "an API that has answered is waited for")
		require.Greater(t, b.gov.BreakerOpens(), unreachableOpens)
		require.GreaterOrEqual(t, time.Since(start), 5*time.Minute)
		c, _ := b.l.Counts()
		require.Equal(t, 3, c[store.Applied])

		require.NotEqual(t, "closed", opened.Breaker)
		require.True(t, opened.Paused, "the breaker holds sending")
		require.Zero(t, opened.ETA)
	})
}
