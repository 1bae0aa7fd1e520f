package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// epoch is a fixed wall time for tests.
var epoch = time.Date(2025, 3, 1, 22, 0, 0, 0, time.UTC)

// writeFile writes content to name in a fresh temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// setup returns an empty ledger, closed at cleanup, with a fixed clock.
func setup(t testing.TB) *Ledger {
	t.Helper()
	plan := writeFile(t, "empty.csv", "id,name\n")
	path := filepath.Join(t.TempDir(), "run.ledger")
	l, _, err := Import(path, plan, ImportOptions{
		Options:    Options{Clock: func() time.Time { return epoch }},
		allowEmpty: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// newItem returns a Waiting item for a made-up user number n.
func newItem(n int, next time.Time) *Item {
	return &Item{
		Lines:   []int{n + 1},
		KeyKind: KeyID,
		Key:     uuidFor(n),
		UserID:  uuidFor(n),
		Desired: map[string]string{"title": "Agent"},
		State:   Waiting,
		NextAt:  next,
	}
}

// uuidFor returns a deterministic UUID for n.
func uuidFor(n int) string {
	return fmtUUID(uint64(n))
}

func fmtUUID(n uint64) string {
	const hexd = "0123456789abcdef"
	b := []byte("00000000-0000-4000-8000-000000000000")
	for i := len(b) - 1; i >= 0 && n > 0; i-- {
		if b[i] == '-' {
			continue
		}
		b[i] = hexd[n%16]
		n /= 16
	}
	return string(b)
}

// seed saves n Waiting items, item i due at epoch + i seconds.
func seed(t testing.TB, l *Ledger, n int) []*Item {
	t.Helper()
	items := make([]*Item, n)
	for i := range items {
		items[i] = newItem(i, epoch.Add(time.Duration(i)*time.Second))
	}
	require.NoError(t, l.Save(items...))
	return items
}
