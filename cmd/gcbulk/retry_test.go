package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/store"
)

func TestRetry(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()

	res := h.run("retry", "--ledger", ledger, "--state", "exhausted")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "0 items back to waiting")

	res = h.run("retry", "--ledger", ledger)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "1 items back to waiting; resume with: gcbulk run --ledger")

	l, err := store.Open(ledger, store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer l.Close()
	counts, err := l.Counts()
	require.NoError(t, err)
	require.Equal(t, 2, counts[store.Waiting])
	require.Zero(t, counts[store.NotFound])
}

func TestRetry_Flags(t *testing.T) {
	tests := []struct {
		name  string
		state string
		want  string
	}{
		{"unknown state", "lost", `--state "lost": use one of not_found, forbidden`},
		{"not a failure", "applied", `--state "applied"`},
		{"one bad in a list", "not_found,waiting", `--state "waiting"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t)
			res := h.run("retry", "--ledger", h.fixtureLedger(), "--state", tt.state)
			require.Equal(t, exitUsage, res.code)
			require.Contains(t, res.stderr, tt.want)
		})
	}
}

func TestRetry_Locked(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()
	l, err := store.Open(ledger, store.Options{})
	require.NoError(t, err)
	defer l.Close()

	res := h.run("retry", "--ledger", ledger)
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "in use")
	require.Contains(t, res.stderr, "kill -INT")
}
