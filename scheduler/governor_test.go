package scheduler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
)

func rateLimited(ra time.Duration, capped bool) error {
	return &genesys.Error{Op: "patch user", Class: genesys.ClassRateLimited, Status: 429,
		Code: "too.many.requests.retry.after", RetryAfter: ra, RetryCapped: capped}
}

func transient() error {
	return &genesys.Error{Op: "patch user", Class: genesys.ClassTransient, Status: 503}
}

var okMeta = genesys.Meta{Status: 200}

func TestGovernor_RetryAfter(t *testing.T) {
	// The client turns the header into a duration: 0 for "0", a missing
	// header or a date in the past; the time left for a date; capped for a
	// huge value.
	cases := []struct {
		name      string
		ra        time.Duration
		capped    bool
		wantPause time.Duration
		wantLog   bool
	}{
		{"zero", 0, false, time.Second, false},
		{"missing", 0, false, time.Second, false},
		{"past date", -30 * time.Second, false, time.Second, false},
		{"date", 4 * time.Second, false, 4 * time.Second, false},
		{"huge uncapped", time.Hour, false, 180 * time.Second, true},
		{"capped by client", 180 * time.Second, true, 180 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				g := NewGovernor(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				ctx := context.Background()
				require.NoError(t, g.Wait(ctx))
				start := time.Now()
				g.Done(genesys.Meta{Status: 429}, rateLimited(tc.ra, tc.capped))
				require.Equal(t, tc.wantPause, g.Snapshot().PauseUntil.Sub(start))
				require.Equal(t, tc.wantLog, bytes.Contains(logs.Bytes(), []byte("retry-after capped")))

				err := g.Wait(ctx)
				if tc.wantPause > g.cfg.ParkAfter {
					var pe *ParkError
					require.ErrorAs(t, err, &pe)
					require.Equal(t, tc.wantPause, pe.Until.Sub(start))
					return
				}
				require.NoError(t, err)
				require.Equal(t, tc.wantPause, time.Since(start))
			})
		})
	}
}

func TestGovernor_ManyWorkersOnePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGovernor(Config{Concurrency: 20, Rate: 5})
		ctx := context.Background()
		ra := 3 * time.Second

		// 20 requests in flight all come back 429 in the same instant.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var released []time.Time
		for range 20 {
			wg.Go(func() {
				require.NoError(t, g.Wait(ctx))
			})
		}
		wg.Wait()
		hit := time.Now()
		for range 20 {
			g.Done(genesys.Meta{Status: 429}, rateLimited(ra, false))
		}
		st := g.Snapshot()
		require.Equal(t, hit.Add(ra), st.PauseUntil, "one pause, not 20 stacked")
		require.Equal(t, 20, st.RateLimited)

		for range 20 {
			wg.Go(func() {
				require.NoError(t, g.Wait(ctx))
				mu.Lock()
				released = append(released, time.Now())
				mu.Unlock()
				g.Done(okMeta, nil)
			})
		}
		wg.Wait()

		// Never faster than the ceiling; the rate creeps up as answers succeed.
		gap := time.Duration(float64(time.Second) / g.cfg.MaxRate)
		for i, at := range released {
			require.False(t, at.Before(st.PauseUntil), "no request during the pause")
			if i > 0 {
				require.GreaterOrEqual(t, at.Sub(released[i-1]), gap-time.Millisecond,
					"requests resume spread out")
			}
		}
		require.Less(t, released[19].Sub(st.PauseUntil), 20*time.Duration(float64(time.Second)/st.Rate))
	})
}

func TestGovernor_Breaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGovernor(Config{Rate: 5, ParkAfter: time.Minute})
		ctx := context.Background()
		for range 5 {
			require.NoError(t, g.Wait(ctx))
			g.Done(genesys.Meta{Status: 503}, transient())
		}
		st := g.Snapshot()
		require.Equal(t, "open", st.Breaker)
		opened := time.Now()
		require.Equal(t, 5*time.Second, st.OpenUntil.Sub(opened))

		// After the cool-down exactly one probe goes; the others wait on it.
		var released sync.WaitGroup
		var count int
		var mu sync.Mutex
		for range 4 {
			released.Go(func() {
				if g.Wait(ctx) == nil {
					mu.Lock()
					count++
					mu.Unlock()
				}
			})
		}
		time.Sleep(5*time.Second + 500*time.Millisecond)
		synctest.Wait()
		require.Equal(t, 1, count, "one probe in half-open")
		require.Equal(t, "half_open", g.Snapshot().Breaker)

		// The probe fails: open again, cool-down doubled.
		g.Done(genesys.Meta{Status: 503}, transient())
		st = g.Snapshot()
		require.Equal(t, "open", st.Breaker)
		require.Equal(t, 10*time.Second, st.OpenUntil.Sub(time.Now()))

		// The next probe succeeds: closed, everyone flows.
		time.Sleep(10*time.Second + 500*time.Millisecond)
		synctest.Wait()
		require.Equal(t, 2, count)
		g.Done(okMeta, nil)
		released.Wait()
		require.Equal(t, 4, count)
		require.Equal(t, "closed", g.Snapshot().Breaker)
	})
}

func TestGovernor_BreakerCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		g := NewGovernor(Config{Rate: 5, ParkAfter: time.Minute,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		refused := &genesys.Error{Op: "get users", Class: genesys.ClassTransient,
			Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}
		for range 5 {
			require.NoError(t, g.Wait(context.Background()))
			g.Done(genesys.Meta{}, refused)
		}
		st := g.Snapshot()
		require.Equal(t, "open", st.Breaker)
		require.Contains(t, st.LastError, "connection refused")
		require.Contains(t, logs.String(), "circuit breaker open")
		require.Contains(t, logs.String(), "connection refused")
	})
}

// outageServer answers 503 until end, then 200, taking latency per request.
func runWorkers(t *testing.T, g *Governor, n int, until time.Time, latency time.Duration,
	answer func() (genesys.Meta, error)) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(until) {
				err := g.Wait(ctx)
				var pe *ParkError
				if errors.As(err, &pe) {
					time.Sleep(time.Until(pe.Until)) // parked in the ledger
					continue
				}
				require.NoError(t, err)
				time.Sleep(latency)
				g.Done(answer())
			}
		})
	}
	wg.Wait()
}

func TestGovernor_OutageBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGovernor(Config{Concurrency: 20, Rate: 5})
		start := time.Now()
		outageEnd := start.Add(60 * time.Second)
		var mu sync.Mutex
		during, after := 0, 0
		end := start.Add(3 * time.Minute)
		runWorkers(t, g, 20, end, 100*time.Millisecond, func() (genesys.Meta, error) {
			mu.Lock()
			defer mu.Unlock()
			if time.Now().Before(outageEnd) {
				during++
				return genesys.Meta{Status: 503}, transient()
			}
			after++
			return okMeta, nil
		})
		// 5 to trip, the few already in flight, then one probe after each
		// cool-down (5, 10, 20, 40 s): a fixed pool retrying every second
		// would send over a thousand.
		t.Logf("requests during a 60 s outage: %d, after: %d", during, after)
		require.LessOrEqual(t, during, 30)
		require.Equal(t, "closed", g.Snapshot().Breaker)
		require.Greater(t, after, 300, "sending resumes after the outage")
	})
}

func TestGovernor_RetryBudget(t *testing.T) {
	g := NewGovernor(Config{RetryBurst: 3, RetryRatio: 0.5})
	for range 3 {
		require.True(t, g.TakeRetry())
	}
	require.False(t, g.TakeRetry(), "an outage spends the budget")
	g.Done(okMeta, nil)
	require.False(t, g.TakeRetry(), "half a retry per success")
	g.Done(okMeta, nil)
	require.True(t, g.TakeRetry())
}

func TestGovernor_SnapshotRestore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGovernor(Config{MaxRate: 10})
		g.Restore(GovernorState{Rate: 3.2, Limit: 3.3, RateLimited: 4, Requests: 99})
		st := g.Snapshot()
		require.Equal(t, 3.2, st.Rate)
		require.Equal(t, 3.3, st.Limit)
		require.Equal(t, 4, st.RateLimited)
		require.Equal(t, int64(99), st.Requests)
		require.Equal(t, "closed", st.Breaker)

		// The restored rate paces: 10 requests take 9 gaps of 1/3.2 s.
		start := time.Now()
		for range 10 {
			require.NoError(t, g.Wait(context.Background()))
			g.Done(okMeta, nil)
		}
		require.InDelta(t, 9/3.2, time.Since(start).Seconds(), 0.05)
	})
}

func TestGovernor_RestoreCapped(t *testing.T) {
	cases := []struct {
		name     string
		maxRate  float64
		wantRate float64
	}{
		{"lower ceiling caps", 5, 5 * targetMargin},
		{"higher ceiling keeps the learned rate", 20, 9.7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGovernor(Config{MaxRate: tc.maxRate})
			g.Restore(GovernorState{Rate: 9.7, Limit: 10})
			st := g.Snapshot()
			require.Equal(t, tc.wantRate, st.Rate)
			require.Equal(t, 10.0, st.Limit, "the learned limit is kept")
		})
	}
}
