package store

import (
	"errors"
	"math/rand/v2"
	"testing"
	"testing/quick"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCanTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to State
		want     bool
	}{
		{Waiting, InFlight, true},
		{Waiting, Unchanged, true},
		{Waiting, NotFound, true},
		{InFlight, Waiting, true},
		{InFlight, Applied, true},
		{InFlight, Exhausted, true},
		{Applied, Applied, true},
		{Applied, Waiting, false},
		{Exhausted, Waiting, false},
		{NotFound, InFlight, false},
		{Conflict, Applied, false},
		{0, Waiting, false},
		{Waiting, Exhausted + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"_to_"+tt.to.String(), func(t *testing.T) {
			require.Equal(t, tt.want, CanTransition(tt.from, tt.to))
		})
	}
}

func TestCanTransition_Property(t *testing.T) {
	t.Parallel()
	// For any pair of bytes: allowed exactly when both are states and the
	// source is not terminal or nothing changes.
	prop := func(a, b uint8) bool {
		from, to := State(a), State(b)
		want := from.valid() && to.valid() && (from == to || !from.Terminal())
		return CanTransition(from, to) == want
	}
	require.NoError(t, quick.Check(prop, &quick.Config{MaxCount: 5000}))
}

// TestLedger_RandomWalk drives items through random saves and retries and
// checks that the ledger never lets an item leave a terminal state except
// by Retry, never lowers an attempt count, and keeps counts and indexes
// in step with the records.
func TestLedger_RandomWalk(t *testing.T) {
	t.Parallel()
	l := setup(t)
	const n = 20
	items := seed(t, l, n)
	rng := rand.New(rand.NewPCG(1, 2))

	for step := range 400 {
		if rng.IntN(40) == 0 {
			_, err := l.Retry()
			require.NoError(t, err)
			continue
		}
		seq := uint64(rng.IntN(n) + 1)
		before, err := l.Get(seq)
		require.NoError(t, err)

		next := *before
		next.State = States[rng.IntN(len(States))]
		next.Attempts = before.Attempts + rng.IntN(3) - 1
		next.NextAt = epoch.Add(time.Duration(rng.IntN(100)) * time.Second)
		err = l.Save(&next)

		legal := CanTransition(before.State, next.State) && next.Attempts >= before.Attempts
		after, gerr := l.Get(seq)
		require.NoError(t, gerr)
		if legal {
			require.NoError(t, err, "step %d", step)
			require.Equal(t, next.State, after.State)
		} else {
			require.True(t, errors.Is(err, ErrBadTransition), "step %d: %v", step, err)
			require.Equal(t, before.State, after.State)
			require.Equal(t, before.Attempts, after.Attempts)
		}
		require.GreaterOrEqual(t, after.Attempts, before.Attempts)
	}
	checkConsistent(t, l, len(items))
}

// checkConsistent compares the counters and both indexes with the records.
func checkConsistent(t *testing.T, l *Ledger, total int) {
	t.Helper()
	want := map[State]int{}
	var waiting []uint64
	require.NoError(t, l.Each(func(it *Item) error {
		want[it.State]++
		if it.State == Waiting {
			waiting = append(waiting, it.Seq)
		}
		return nil
	}))
	requireCounts(t, l, want)

	due, err := l.Due(time.Unix(1<<40, 0), total)
	require.NoError(t, err)
	require.ElementsMatch(t, waiting, seqs(due))
	for i := 1; i < len(due); i++ {
		require.False(t, due[i].NextAt.Before(due[i-1].NextAt), "due order")
	}
}
