package main

import (
	"os"
	"strings"
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

func TestExport_Locked(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()
	l, err := store.Open(ledger, store.Options{})
	require.NoError(t, err)
	defer l.Close()

	res := h.run("export", "--ledger", ledger)
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "stop the run, or use `gcbulk status` while it runs")
}

func TestRun_PathMessages(t *testing.T) {
	h := setup(t)
	plan := h.write("p.csv", "id,title\n"+idA+",Lead\n")
	api := []string{"--api-url", "http://127.0.0.1:9", "--progress", "none"}

	res := h.run(append([]string{"run", "--ledger", h.path("missing/x.db"), "--plan", plan},
		api...)...)
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "directory "+h.path("missing")+" does not exist")

	dir := h.path("dir.csv")
	require.NoError(t, os.Mkdir(dir, 0o700))
	res = h.run(append([]string{"run", "--ledger", h.path("y.db"), "--plan", dir}, api...)...)
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "read plan "+dir+": is a directory")
	require.Equal(t, 1, strings.Count(res.stderr, "read plan"), res.stderr)

	empty := h.write("e.csv", "id,title\n")
	res = h.run(append([]string{"run", "--ledger", h.path("z.db"), "--plan", empty}, api...)...)
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "e.csv:1:1: plan has no rows")
	require.NoFileExists(t, h.path("z.db"))
}
