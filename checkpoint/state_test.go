package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/store"
)

func TestState_EncodeDecode(t *testing.T) {
	st := State{
		Rate: 4.85, Limit: 5, RateLimited: 3, Breaker: "closed",
		Counters:  Counters{Requests: 10, Reads: 1, Patches: 8, Moves: 1},
		Elapsed:   90 * time.Second,
		UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, err := Encode(st)
	require.NoError(t, err)
	require.Contains(t, string(b), `"version":1`)
	got, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, st, got)
}

func TestState_DecodeBad(t *testing.T) {
	cases := []struct {
		name, in string
		zero     bool
		version  bool
	}{
		{name: "empty", in: "", zero: true},
		{name: "future version", in: `{"version":2,"rate":1}`, version: true},
		{name: "no version", in: `{"rate":1}`, version: true},
		{name: "not json", in: `{"version":`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Decode([]byte(tc.in))
			if tc.zero {
				require.NoError(t, err)
				require.Zero(t, st)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.version, errors.Is(err, ErrVersion))
		})
	}
}

func TestState_LoadSave(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.csv")
	require.NoError(t, os.WriteFile(plan,
		[]byte("id,title\n1b2c3d4e-0000-4000-8000-00000000abcd,x\n"), 0o600))
	l, _, err := store.Import(filepath.Join(dir, "run.ledger"), plan, store.ImportOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	st, err := Load(l)
	require.NoError(t, err)
	require.Zero(t, st, "a new ledger has no checkpoint")

	want := State{Rate: 3.2, Limit: 3.3, Elapsed: time.Minute}
	require.NoError(t, l.Update(func(tx *store.Tx) error { return Save(tx, want) }))
	st, err = Load(l)
	require.NoError(t, err)
	require.Equal(t, want, st)
}
