package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/store"
)

const divID = "d1d1d1d1-0000-4000-8000-000000000001"

// importPlan writes a CSV plan and imports it into a new bbolt ledger.
func importPlan(t *testing.T, rows []string) *store.Ledger {
	t.Helper()
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.csv")
	body := "id,email,title,division\n" + strings.Join(rows, "\n") + "\n"
	require.NoError(t, os.WriteFile(plan, []byte(body), 0o600))
	l, _, err := store.Import(filepath.Join(dir, "run.ledger"), plan,
		store.ImportOptions{Options: store.Options{NoSync: true}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestScheduler_StoreLedger(t *testing.T) {
	var rows []string
	for i := range 150 {
		div := ""
		if i%10 == 0 {
			div = divID
		}
		rows = append(rows, fmt.Sprintf("%s,,Agent,%s", uid(i), div))
	}
	rows = append(rows, ",USER151@example.com,Lead,", fmt.Sprintf("%s,,Agent,", uid(999)))
	l := importPlan(t, rows)

	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Config{}, 152, nil)
		s := New(l, b.api, b.gov, Config{})
		sum, err := s.Run(context.Background())
		require.NoError(t, err)
		require.Equal(t, 151, sum.Counts[store.Applied])
		require.Equal(t, 1, sum.Counts[store.NotFound])
		require.Equal(t, "Lead", b.api.user(uid(151)).Title)
		require.Equal(t, divID, b.api.user(uid(20)).Division.ID)

		meta, err := l.Meta()
		require.NoError(t, err)
		require.True(t, meta.Resolved)
		cp, err := checkpoint.Load(l)
		require.NoError(t, err)
		require.Equal(t, int64(151), cp.Counters.Patches)
		require.Equal(t, int64(b.api.count("move users")), cp.Counters.Moves)
		require.Greater(t, cp.Rate, 0.0)

		// A second run finds nothing to do and sends nothing.
		before := b.gov.Snapshot().Requests
		sum, err = New(l, b.api, b.gov, Config{}).Run(context.Background())
		require.NoError(t, err)
		require.Equal(t, before, b.gov.Snapshot().Requests)
		require.Equal(t, 151, sum.Counts[store.Applied])
	})
}
