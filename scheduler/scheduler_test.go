package scheduler

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

func uid(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

type bundle struct {
	l   *memLedger
	api *fakeAPI
	gov *Governor
	s   *Scheduler
}

// setup builds a scheduler over n users (user i in division "d0", named
// "user i") and the given items. Call inside a synctest bubble.
func setup(t *testing.T, cfg Config, n int, items []*store.Item) *bundle {
	t.Helper()
	if cfg.Rate == 0 {
		cfg.Rate, cfg.MaxRate = 50, 50 // the pace is the governor tests' business
	}
	gov := NewGovernor(cfg)
	users := make([]genesys.User, n)
	for i := range users {
		users[i] = genesys.User{ID: uid(i), Name: fmt.Sprintf("user %d", i),
			Email: fmt.Sprintf("user%d@example.com", i), State: "active", Version: 1,
			Division: &genesys.Division{ID: "d0"}}
	}
	b := &bundle{l: newMemLedger(items), api: newFakeAPI(gov, users...), gov: gov}
	b.s = NewWithLedger(b.l, b.api, gov, cfg)
	return b
}

func byID(i int, desired map[string]string) *store.Item {
	return &store.Item{KeyKind: store.KeyID, Key: uid(i), Desired: desired}
}

func TestScheduler_Run(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var items []*store.Item
		for i := range 250 {
			d := map[string]string{genesys.FieldTitle: "Agent"}
			switch {
			case i < 10:
				d = map[string]string{genesys.FieldName: fmt.Sprintf("user %d", i)} // unchanged
			case i%5 == 0:
				d[genesys.FieldDivision] = fmt.Sprintf("d%d", 1+i%2)
			case i%7 == 0:
				d[genesys.FieldState] = "inactive"
			}
			items = append(items, byID(i, d))
		}
		b := setup(t, Config{}, 250, items)
		b.api.onPatch = func(id string) {
			// The intent is in the ledger before any write is sent.
			var seq uint64
			fmt.Sscanf(id[len(id)-12:], "%d", &seq)
			require.Equal(t, store.InFlight, b.l.state(seq+1), "item %d", seq+1)
		}

		start := time.Now()
		sum, err := b.s.Run(context.Background())
		require.NoError(t, err)
		// 3 reads, 267 patches, 4 moves at 50/s: about 5.5 s, no stall.
		require.Less(t, time.Since(start), 7*time.Second)
		require.Equal(t, 240, sum.Counts[store.Applied])
		require.Equal(t, 10, sum.Counts[store.Unchanged])
		require.Equal(t, 3, b.api.count("get users"), "one read per 100 items")
		require.Equal(t, 240+27, b.api.count("patch user"), "state changes need a body of their own")
		require.LessOrEqual(t, b.api.count("move users"), 2+2, "moves batched by division")
		require.True(t, b.api.overlap, "the next read overlaps the writes")
		require.Less(t, b.l.commits, 60, "outcomes grouped in commits")

		u := b.api.user(uid(15))
		require.Equal(t, "Agent", u.Title)
		require.Equal(t, "d2", u.Division.ID)
		require.Equal(t, "inactive", b.api.user(uid(14)).State)
		it := b.l.item(17)
		require.Equal(t, map[string]string{genesys.FieldTitle: ""}, it.Before)
		require.Equal(t, 2, it.VersionAfter)
		require.NotEmpty(t, it.CorrelationIDs)
		require.Equal(t, sum.Counters.Patches, int64(b.api.count("patch user")))
		require.Equal(t, int64(b.api.count("move users")), b.l.cp.Counters.Moves)
	})
}

func TestScheduler_PermanentAtOnce(t *testing.T) {
	cases := []struct {
		class  genesys.Class
		status int
		code   string
		want   store.State
	}{
		{genesys.ClassNotFound, 404, "not.found", store.NotFound},
		{genesys.ClassForbidden, 403, "missing.permissions", store.Forbidden},
		{genesys.ClassInvalid, 400, "invalid.value", store.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := setup(t, Config{}, 1, []*store.Item{byID(0, map[string]string{genesys.FieldTitle: "x"})})
				b.api.script = func(op, id string, n int) error {
					if op == "patch user" {
						return apiErr(op, tc.class, tc.status, tc.code)
					}
					return nil
				}
				_, err := b.s.Run(context.Background())
				require.NoError(t, err)
				it := b.l.item(1)
				require.Equal(t, tc.want, it.State)
				require.Equal(t, 1, it.Attempts)
				require.Equal(t, tc.code, it.ErrorCode)
				require.Equal(t, tc.status, it.HTTPStatus)
				require.Equal(t, []string{"get users-1", "cid-" + tc.code}, it.CorrelationIDs)
			})
		})
	}
}

func TestScheduler_Conflicts(t *testing.T) {
	t.Run("re-read and settle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{}, 1, []*store.Item{byID(0, map[string]string{genesys.FieldTitle: "x"})})
			b.api.script = func(op, id string, n int) error {
				if op == "patch user" && n <= 2 {
					b.api.mu.Lock()
					b.api.users[id].Version++ // another writer got there first
					b.api.mu.Unlock()
				}
				return nil
			}
			_, err := b.s.Run(context.Background())
			require.NoError(t, err)
			it := b.l.item(1)
			require.Equal(t, store.Applied, it.State)
			require.Equal(t, 3, it.Attempts)
			require.Equal(t, 2, b.api.count("get user"))
			require.Equal(t, "x", b.api.user(uid(0)).Title)
		})
	})
	t.Run("already holds the values", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{}, 1, []*store.Item{byID(0, map[string]string{genesys.FieldTitle: "x"})})
			b.api.script = func(op, id string, n int) error {
				if op == "patch user" {
					b.api.mu.Lock()
					b.api.users[id].Title = "x"
					b.api.users[id].Version++
					b.api.mu.Unlock()
				}
				return nil
			}
			_, err := b.s.Run(context.Background())
			require.NoError(t, err)
			require.Equal(t, store.Unchanged, b.l.item(1).State, "nothing of ours was applied")
		})
	})
	t.Run("never settles", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{MaxConflicts: 3}, 1,
				[]*store.Item{byID(0, map[string]string{genesys.FieldTitle: "x"})})
			b.api.script = func(op, id string, n int) error {
				if op == "patch user" {
					return apiErr(op, genesys.ClassConflict, 409, "general.conflict")
				}
				return nil
			}
			_, err := b.s.Run(context.Background())
			require.NoError(t, err)
			it := b.l.item(1)
			require.Equal(t, store.Conflict, it.State)
			require.Equal(t, 3, it.Attempts)
			require.Equal(t, 3, b.api.count("get user"))
		})
	})
}

func TestScheduler_TransientBackoffThenExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{BreakerFailures: 100}, 1,
			[]*store.Item{byID(0, map[string]string{genesys.FieldTitle: "x"})})
		b.api.script = func(op, id string, n int) error {
			if op == "patch user" {
				return apiErr(op, genesys.ClassTransient, 503, "service.unavailable")
			}
			return nil
		}
		start := time.Now()
		_, err := b.s.Run(context.Background())
		require.NoError(t, err)

		it := b.l.item(1)
		require.Equal(t, store.Exhausted, it.State)
		require.Equal(t, 8, it.Attempts)
		require.Equal(t, "service.unavailable", it.ErrorCode)

		// Full jitter: each wait is in [0, 2^(n-1) s), and they differ.
		var patches []time.Time
		for _, a := range it.History {
			if a.Op == opPatch {
				patches = append(patches, a.At)
			}
		}
		waits := map[time.Duration]bool{}
		for n := 1; n < len(patches); n++ {
			w := patches[n].Sub(patches[n-1])
			ceil := time.Duration(1<<(n-1))*time.Second + time.Second // + read and latency
			require.Less(t, w, ceil, "wait %d", n)
			waits[w.Round(10*time.Millisecond)] = true
		}
		require.Greater(t, len(waits), 3, "jittered, not a fixed schedule")
		require.Less(t, time.Since(start), 2*time.Minute+8*time.Second)
	})
}

func TestScheduler_RateLimitedGoesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{}, 3, []*store.Item{
			byID(0, map[string]string{genesys.FieldTitle: "x"}),
			byID(1, map[string]string{genesys.FieldTitle: "x"}),
			byID(2, map[string]string{genesys.FieldTitle: "x"}),
		})
		b.api.script = func(op, id string, n int) error {
			if op == "patch user" && n <= 12 {
				return rateLimited(30*time.Second, false)
			}
			return nil
		}
		_, err := b.s.Run(context.Background())
		require.NoError(t, err)
		for seq := uint64(1); seq <= 3; seq++ {
			it := b.l.item(seq)
			require.Equal(t, store.Applied, it.State, "429s do not count against MaxAttempts")
			require.Greater(t, it.Attempts, 1)
		}
	})
}

func TestScheduler_GracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var items []*store.Item
		for i := range 300 {
			items = append(items, byID(i, map[string]string{genesys.FieldTitle: "x"}))
		}
		b := setup(t, Config{Rate: 10, MaxRate: 10}, 300, items)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(5 * time.Second)
			cancel()
		}()
		_, err := b.s.Run(ctx)
		require.ErrorIs(t, err, ErrInterrupted)

		c, _ := b.l.Counts()
		require.Equal(t, 300, c[store.Applied]+c[store.Waiting], "no item lost: %v", c)
		require.Zero(t, c[store.InFlight], "requests in flight finished")
		require.Greater(t, c[store.Applied], 20)
		require.Less(t, c[store.Applied], 80)
		patched := b.api.count("patch user")
		require.Equal(t, c[store.Applied], patched, "every sent write recorded")

		// A second run picks up the rest.
		s2 := NewWithLedger(b.l, b.api, b.gov, Config{})
		sum, err := s2.Run(context.Background())
		require.NoError(t, err)
		require.Equal(t, 300, sum.Counts[store.Applied])
		require.Equal(t, 300, b.api.count("patch user"))
		require.Greater(t, b.l.cp.Elapsed, 5*time.Second, "elapsed survives sessions")
	})
}

func TestScheduler_LedgerFailureStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var items []*store.Item
		for i := range 300 {
			items = append(items, byID(i, map[string]string{genesys.FieldTitle: "x"}))
		}
		b := setup(t, Config{}, 300, items)
		b.l.failAfter = 3
		_, err := b.s.Run(context.Background())
		require.ErrorIs(t, err, errDisk)
		c, _ := b.l.Counts()
		require.Less(t, c[store.Applied], 300)
		require.Less(t, b.api.count("patch user"), 200, "sending stopped")
		for seq := uint64(1); seq <= 300; seq++ {
			if b.l.state(seq) == store.Applied {
				require.Equal(t, "x", b.api.user(uid(int(seq-1))).Title)
			}
		}
	})
}

func TestScheduler_AuthStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{}, 2, []*store.Item{
			byID(0, map[string]string{genesys.FieldTitle: "x"}),
			byID(1, map[string]string{genesys.FieldTitle: "x"}),
		})
		b.api.script = func(op, id string, n int) error {
			if op == "patch user" {
				return apiErr(op, genesys.ClassAuth, 401, "bad.credentials")
			}
			return nil
		}
		_, err := b.s.Run(context.Background())
		require.ErrorIs(t, err, ErrAuth)
		require.Equal(t, genesys.ClassAuth, genesys.ClassOf(err))
		require.Equal(t, store.Waiting, b.l.state(1))
	})
}

func TestScheduler_DryRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{DryRun: true, SampleSize: 2}, 3, []*store.Item{
			byID(0, map[string]string{genesys.FieldName: "user 0"}),
			byID(1, map[string]string{genesys.FieldTitle: "x", genesys.FieldDivision: "d9"}),
			byID(7, map[string]string{genesys.FieldTitle: "x"}),
		})
		sum, err := b.s.Run(context.Background())
		require.NoError(t, err)
		require.True(t, sum.DryRun)
		require.Equal(t, 1, sum.WouldChange)
		require.Equal(t, 1, sum.Counts[store.Unchanged])
		require.Equal(t, 1, sum.Counts[store.NotFound])
		require.Equal(t, []Change{
			{Seq: 2, Line: 3, UserID: uid(1), Field: "division", Before: "d0", After: "d9"},
			{Seq: 2, Line: 3, UserID: uid(1), Field: "title", Before: "", After: "x"},
		}, sum.Changes)
		require.Zero(t, b.api.count("patch user")+b.api.count("move users"))
		require.Zero(t, b.l.commits)
		c, _ := b.l.Counts()
		require.Equal(t, 3, c[store.Waiting])
	})
}

func TestScheduler_ProgressConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var items []*store.Item
		for i := range 200 {
			items = append(items, byID(i, map[string]string{genesys.FieldTitle: "x"}))
		}
		b := setup(t, Config{Rate: 10, MaxRate: 10}, 200, items)
		done, exited := make(chan struct{}), make(chan struct{})
		var seen []Progress
		go func() {
			defer close(exited)
			for {
				select {
				case <-done:
					return
				case <-time.After(2 * time.Second):
					seen = append(seen, b.s.Progress())
				}
			}
		}()
		_, err := b.s.Run(context.Background())
		close(done)
		<-exited
		require.NoError(t, err)
		require.NotEmpty(t, seen)
		mid := seen[len(seen)/2]
		require.Equal(t, 200, mid.Total)
		require.Greater(t, mid.Done, 0)
		require.Less(t, mid.Done, 200)
		require.Greater(t, mid.ETA, time.Duration(0))
		require.InDelta(t, 10*targetMargin, mid.Rate, 0.01)
		p := b.s.Progress()
		require.Equal(t, 200, p.Done)
		require.Zero(t, p.ETA)
	})
}

func TestScheduler_ETAFollowsRecentRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewWithLedger(nil, nil, NewGovernor(Config{}), Config{})
		const total = 3000
		s.started = time.Now()
		s.answered.Store(true) // the API answers; only the ETA is under test
		done := 0
		step := func(perSec, secs int) {
			for range secs {
				time.Sleep(time.Second)
				done += perSec
				s.mu.Lock()
				s.counts = map[store.State]int{store.Applied: done, store.Waiting: total - done}
				s.noteDone(time.Now(), done)
				s.mu.Unlock()
			}
		}

		// A fast start, then the governor settles at 5 items a second.
		step(40, 10)
		var etas []time.Duration
		for range 6 {
			step(5, 10)
			etas = append(etas, s.Progress().ETA)
		}
		for i, eta := range etas[3:] {
			left := total - (400 + 5*10*(i+4))
			want := time.Duration(left/5) * time.Second
			require.InDelta(t, want.Seconds(), eta.Seconds(), 1, "ETA %d", i+3)
		}
		require.Less(t, etas[5], etas[4], "steady work brings the ETA down")
	})
}
