package scheduler

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

func byEmail(email string, desired map[string]string) *store.Item {
	return &store.Item{KeyKind: store.KeyEmail, Key: email, Desired: desired}
}

func TestScheduler_Resolve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{}, 5, []*store.Item{
			byEmail("USER1@example.com", map[string]string{genesys.FieldTitle: "x"}),  // 1 resolves
			byEmail("nobody@example.com", map[string]string{genesys.FieldTitle: "x"}), // 2 no user
			byID(2, map[string]string{genesys.FieldManager: "User3@Example.com"}),     // 3 manager e-mail
			byID(3, map[string]string{genesys.FieldManager: "ghost@example.com"}),     // 4 no manager
			byID(1, map[string]string{genesys.FieldTitle: "x"}),                       // 5 same as 1
			byEmail("user4@example.com", map[string]string{genesys.FieldTitle: "a"}),  // 6
			byID(4, map[string]string{genesys.FieldTitle: "b"}),                       // 7 differs from 6
		})
		b.l.meta.Resolved = false

		sum, err := b.s.Run(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, b.api.count("resolve"), "one resolution call")
		require.True(t, b.l.meta.Resolved)

		it := b.l.item(1)
		require.Equal(t, uid(1), it.UserID)
		require.Equal(t, store.Applied, it.State)
		require.Equal(t, []int{2, 6}, it.Lines, "identical rows merged")
		require.Nil(t, b.l.item(5), "merged item deleted")

		it = b.l.item(2)
		require.Equal(t, store.NotFound, it.State)
		require.Contains(t, it.ErrorMessage, "nobody@example.com")

		require.Equal(t, store.Applied, b.l.item(3).State)
		require.Equal(t, uid(3), b.api.user(uid(2)).Manager.ID)

		it = b.l.item(4)
		require.Equal(t, store.Invalid, it.State)
		require.Contains(t, it.ErrorMessage, "ghost@example.com")

		require.Equal(t, store.Applied, b.l.item(6).State)
		it = b.l.item(7)
		require.Equal(t, store.Invalid, it.State)
		require.Contains(t, it.ErrorMessage, "line 8")
		require.Contains(t, it.ErrorMessage, "line 7")
		require.Equal(t, "a", b.api.user(uid(4)).Title)
		c := sum.Counts
		require.Equal(t, 6, c[store.Applied]+c[store.NotFound]+c[store.Invalid])
	})
}

func TestScheduler_ResolveDryRunWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{DryRun: true}, 2, []*store.Item{
			byEmail("user1@example.com", map[string]string{genesys.FieldTitle: "x"}),
			byEmail("nobody@example.com", map[string]string{genesys.FieldTitle: "x"}),
			byID(1, map[string]string{genesys.FieldTitle: "x"}),
		})
		b.l.meta.Resolved = false
		sum, err := b.s.Run(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, sum.WouldChange)
		require.Equal(t, 1, sum.Counts[store.NotFound])
		require.Equal(t, 1, sum.Counts[store.Waiting], "the merged row is not counted")
		require.False(t, b.l.meta.Resolved)
		require.Zero(t, b.l.commits)
		require.Equal(t, store.Waiting, b.l.state(2))
	})
}
