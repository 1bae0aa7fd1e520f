package scheduler

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// lastRead returns the item's last read attempt.
func lastRead(t *testing.T, it *store.Item) store.Attempt {
	t.Helper()
	for i := len(it.History) - 1; i >= 0; i-- {
		if it.History[i].Op == opRead {
			return it.History[i]
		}
	}
	t.Fatalf("item %d has no read attempt", it.Seq)
	return store.Attempt{}
}

func TestScheduler_AbsentFromBatchRead(t *testing.T) {
	title := map[string]string{genesys.FieldTitle: "x"}

	t.Run("confirmed 404", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{}, 1, []*store.Item{byID(0, title), byID(99, title)})
			_, err := b.s.Run(context.Background())
			require.NoError(t, err)

			it := b.l.item(2)
			require.Equal(t, store.NotFound, it.State)
			require.Equal(t, 404, it.HTTPStatus, "the 404 of the single read, not the batch's 200")
			require.Equal(t, "not.found", it.ErrorCode)
			require.Equal(t, []string{"get users-1", "cid-not.found"}, it.CorrelationIDs)
			require.Equal(t, store.Attempt{At: lastRead(t, it).At, Op: opRead, Status: 404,
				Outcome: "not_found", Code: "not.found", CorrelationID: "cid-not.found"},
				lastRead(t, it))
			require.Zero(t, it.Attempts)
			require.Equal(t, 1, b.api.count("get user"), "one request per missing user")
			require.Equal(t, store.Applied, b.l.item(1).State)
		})
	})
	t.Run("found on the single read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{}, 2, []*store.Item{byID(0, title), byID(1, title)})
			b.api.hidden = map[string]bool{uid(1): true}
			_, err := b.s.Run(context.Background())
			require.NoError(t, err)

			it := b.l.item(2)
			require.Equal(t, store.Applied, it.State)
			require.Equal(t, "x", b.api.user(uid(1)).Title)
			require.Equal(t, map[string]string{genesys.FieldTitle: ""}, it.Before)
			require.Equal(t, 1, b.api.count("get user"))
			require.Equal(t, 2, b.api.count("patch user"))
		})
	})
	t.Run("transient read deferred", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{}, 1, []*store.Item{byID(0, title), byID(99, title)})
			b.api.script = func(op, id string, n int) error {
				if op == "get user" && n <= 2 {
					return apiErr(op, genesys.ClassTransient, 503, "service.unavailable")
				}
				return nil
			}
			_, err := b.s.Run(context.Background())
			require.NoError(t, err)

			it := b.l.item(2)
			require.Equal(t, store.NotFound, it.State, "ended by the 404, not by a guess")
			require.Equal(t, 3, b.api.count("get user"))
			require.Equal(t, 3, b.api.count("get users"), "read again when due")
			var outcomes []string
			for _, a := range it.History {
				outcomes = append(outcomes, a.Outcome)
			}
			require.Equal(t, []string{"ok", "transient", "ok", "transient", "ok", "not_found"},
				outcomes)
			require.Equal(t, 404, it.HTTPStatus)
		})
	})
}

func TestScheduler_DryRunConfirmsAbsent(t *testing.T) {
	title := map[string]string{genesys.FieldTitle: "x"}

	t.Run("found on the single read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{DryRun: true}, 2, []*store.Item{byID(0, title), byID(1, title)})
			b.api.hidden = map[string]bool{uid(1): true}
			sum, err := b.s.Run(context.Background())
			require.NoError(t, err)
			require.Equal(t, 2, sum.WouldChange)
			require.Zero(t, sum.Counts[store.NotFound])
			require.Equal(t, 1, b.api.count("get user"))
			require.Zero(t, b.l.commits)
		})
	})
	t.Run("confirmed 404", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{DryRun: true}, 1, []*store.Item{byID(0, title), byID(99, title)})
			sum, err := b.s.Run(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, sum.WouldChange)
			require.Equal(t, 1, sum.Counts[store.NotFound])
			require.Equal(t, 1, b.api.count("get user"), "one request per missing user")
			require.Zero(t, b.l.commits)
			require.Equal(t, store.Waiting, b.l.item(2).State)
		})
	})
	t.Run("transient read retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, Config{DryRun: true}, 1, []*store.Item{byID(99, title)})
			b.api.script = func(op, id string, n int) error {
				if op == "get user" && n == 1 {
					return apiErr(op, genesys.ClassTransient, 503, "service.unavailable")
				}
				return nil
			}
			sum, err := b.s.Run(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, sum.Counts[store.NotFound], "ended by the 404, not by a guess")
			require.Equal(t, 2, b.api.count("get user"))
		})
	})
}
