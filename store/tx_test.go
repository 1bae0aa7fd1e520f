package store

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLedger_Save(t *testing.T) {
	t.Parallel()

	t.Run("new items get sequence numbers", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 3)
		require.Equal(t, []uint64{1, 2, 3}, []uint64{items[0].Seq, items[1].Seq, items[2].Seq})
		got, err := l.Get(2)
		require.NoError(t, err)
		require.Equal(t, items[1].Key, got.Key)
		require.True(t, items[1].NextAt.Equal(got.NextAt))
	})
	t.Run("missing item", func(t *testing.T) {
		l := setup(t)
		_, err := l.Get(42)
		require.ErrorIs(t, err, ErrNoItem)
	})
	t.Run("indexes and counts follow the state", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 4)
		items[0].State = InFlight
		items[1].State, items[1].Attempts = Applied, 1
		require.NoError(t, l.Save(items[0], items[1]))

		requireCounts(t, l, map[State]int{Waiting: 2, InFlight: 1, Applied: 1})
		due, err := l.Due(epoch.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, []uint64{3, 4}, seqs(due))
		require.Equal(t, []uint64{2}, inState(t, l, Applied))
	})
	t.Run("rescheduling moves the due entry", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 2)
		items[0].NextAt = epoch.Add(time.Minute)
		require.NoError(t, l.Save(items[0]))
		due, err := l.Due(epoch.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, []uint64{2, 1}, seqs(due))
	})
}

func TestLedger_SaveRefuses(t *testing.T) {
	t.Parallel()

	t.Run("leaving a terminal state", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 1)
		items[0].State = NotFound
		require.NoError(t, l.Save(items[0]))
		items[0].State = Waiting
		require.ErrorIs(t, l.Save(items[0]), ErrBadTransition)
		requireState(t, l, 1, NotFound)
	})
	t.Run("fewer attempts", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 1)
		items[0].Attempts = 2
		require.NoError(t, l.Save(items[0]))
		items[0].Attempts = 1
		err := l.Save(items[0])
		require.ErrorIs(t, err, ErrBadTransition)
		require.Contains(t, err.Error(), "attempts would drop from 2 to 1")
	})
	t.Run("unknown state", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 1)
		items[0].State = 0
		require.ErrorIs(t, l.Save(items[0]), ErrBadTransition)
	})
	t.Run("nothing in the transaction is written", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 2)
		items[1].State = Unchanged
		require.NoError(t, l.Save(items[1]))

		items[0].State = Applied
		items[1].State = InFlight
		err := l.Update(func(tx *Tx) error {
			require.NoError(t, tx.Save(items[0]))
			_ = tx.Save(items[1]) // ignored by the caller: still rolls back
			return tx.SetCheckpoint([]byte("after"))
		})
		require.ErrorIs(t, err, ErrBadTransition)
		requireState(t, l, 1, Waiting)
		requireCounts(t, l, map[State]int{Waiting: 1, Unchanged: 1})
		cp, err := l.Checkpoint()
		require.NoError(t, err)
		require.Nil(t, cp)
	})
}

func TestLedger_Update(t *testing.T) {
	t.Parallel()
	l := setup(t)
	items := seed(t, l, 2)

	items[0].State = InFlight
	items[1].State = InFlight
	require.NoError(t, l.Update(func(tx *Tx) error {
		if err := tx.Save(items[0]); err != nil {
			return err
		}
		if err := tx.Save(items[1]); err != nil {
			return err
		}
		return tx.SetCheckpoint([]byte("cp"))
	}))
	requireCounts(t, l, map[State]int{InFlight: 2})

	boom := errors.New("boom")
	items[0].State = Applied
	err := l.Update(func(tx *Tx) error {
		require.NoError(t, tx.Save(items[0]))
		return boom
	})
	require.ErrorIs(t, err, boom)
	requireState(t, l, 1, InFlight)
}

func TestLedger_Due(t *testing.T) {
	t.Parallel()

	t.Run("earliest first up to max, none after now", func(t *testing.T) {
		l := setup(t)
		items := seed(t, l, 5)
		items[4].NextAt = epoch.Add(-time.Hour)
		require.NoError(t, l.Save(items[4]))

		due, err := l.Due(epoch.Add(2*time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, []uint64{5, 1, 2, 3}, seqs(due))
		due, err = l.Due(epoch.Add(time.Hour), 2)
		require.NoError(t, err)
		require.Equal(t, []uint64{5, 1}, seqs(due))
	})
	t.Run("zero NextAt is due at once", func(t *testing.T) {
		l := setup(t)
		require.NoError(t, l.Save(newItem(1, time.Time{})))
		due, err := l.Due(epoch, 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		at, ok, err := l.NextDue()
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, at.IsZero())
	})
	t.Run("NextDue", func(t *testing.T) {
		l := setup(t)
		_, ok, err := l.NextDue()
		require.NoError(t, err)
		require.False(t, ok)
		seed(t, l, 3)
		at, ok, err := l.NextDue()
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, epoch.Equal(at))
	})
}

func TestLedger_Each(t *testing.T) {
	t.Parallel()

	t.Run("all items in seq order across chunks", func(t *testing.T) {
		l := setup(t)
		seed(t, l, chunk+5)
		var got []uint64
		require.NoError(t, l.Each(func(it *Item) error {
			got = append(got, it.Seq)
			return nil
		}))
		require.Len(t, got, chunk+5)
		for i, s := range got {
			require.Equal(t, uint64(i+1), s)
		}
	})
	t.Run("EachInState may save from its callback", func(t *testing.T) {
		l := setup(t)
		l.db.NoSync = true // a thousand single-item commits; fsync is not under test
		seed(t, l, chunk+5)
		n := 0
		require.NoError(t, l.EachInState(Waiting, func(it *Item) error {
			n++
			it.State = Unchanged
			return l.Save(it)
		}))
		require.Equal(t, chunk+5, n)
		requireCounts(t, l, map[State]int{Unchanged: chunk + 5})
	})
	t.Run("callback error stops", func(t *testing.T) {
		l := setup(t)
		seed(t, l, 3)
		boom := errors.New("boom")
		require.ErrorIs(t, l.Each(func(*Item) error { return boom }), boom)
	})
}

func TestLedger_Delete(t *testing.T) {
	t.Parallel()
	l := setup(t)
	seed(t, l, 3)

	require.NoError(t, l.Delete(2))
	_, err := l.Get(2)
	require.ErrorIs(t, err, ErrNoItem)
	requireCounts(t, l, map[State]int{Waiting: 2})
	due, err := l.Due(epoch.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 3}, seqs(due))
	require.ErrorIs(t, l.Delete(2), ErrNoItem)
}

func TestLedger_Retry(t *testing.T) {
	t.Parallel()
	l := setup(t)
	items := seed(t, l, 4)
	for i, s := range []State{Exhausted, Conflict, Applied, Exhausted} {
		items[i].State, items[i].Attempts = s, 3
		items[i].History = []Attempt{{At: epoch, Op: "patch", Status: 503, Outcome: "transient"}}
	}
	require.NoError(t, l.Save(items...))

	n, err := l.Retry(Exhausted)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	requireCounts(t, l, map[State]int{Waiting: 2, Conflict: 1, Applied: 1})

	it, err := l.Get(1)
	require.NoError(t, err)
	require.Equal(t, 3, it.Attempts, "attempts kept")
	require.Len(t, it.History, 2, "history kept and the retry recorded")
	require.Equal(t, OpRetry, it.History[1].Op)
	require.Equal(t, "exhausted", it.History[1].Outcome)
	require.True(t, epoch.Equal(it.NextAt))

	n, err = l.Retry()
	require.NoError(t, err)
	require.Equal(t, 1, n, "every failure state by default, never Applied")
	_, err = l.Retry(Applied)
	require.ErrorIs(t, err, ErrBadTransition)
}

func requireCounts(t *testing.T, l *Ledger, want map[State]int) {
	t.Helper()
	got, err := l.Counts()
	require.NoError(t, err)
	require.Equal(t, want, got)
	for s, n := range want {
		require.Len(t, inState(t, l, s), n, "state index of %s", s)
	}
}

func requireState(t *testing.T, l *Ledger, seq uint64, want State) {
	t.Helper()
	it, err := l.Get(seq)
	require.NoError(t, err)
	require.Equal(t, want, it.State)
}

func inState(t *testing.T, l *Ledger, s State) []uint64 {
	t.Helper()
	var out []uint64
	require.NoError(t, l.EachInState(s, func(it *Item) error {
		out = append(out, it.Seq)
		return nil
	}))
	return out
}

func seqs(items []*Item) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.Seq
	}
	return out
}
