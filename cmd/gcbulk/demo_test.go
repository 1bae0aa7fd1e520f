package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/store"
)

// plainSim is a simulator without limits or faults.
func plainSim() sim.Config { return sim.Config{} }

func TestWriteDemoPlan(t *testing.T) {
	users := sim.Generate(300, 3)
	var buf bytes.Buffer
	st, err := writeDemoPlan(&buf, users, 3)
	require.NoError(t, err)

	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+st.Rows)
	require.Equal(t, 300+demoUnknown, st.Rows)
	require.Equal(t, demoUnknown, st.Unknown)
	require.Equal(t, 30, st.ByEmail)
	require.Positive(t, st.Moves)
	require.Positive(t, st.Matching)

	// The plan is a valid plan for the store.
	path := filepath.Join(t.TempDir(), "plan.csv")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	info, err := store.ReadPlan(path, func(store.Row) error { return nil })
	require.NoError(t, err)
	require.Equal(t, st.Rows, info.Rows)

	// Same seed, same plan.
	var again bytes.Buffer
	_, err = writeDemoPlan(&again, users, 3)
	require.NoError(t, err)
	require.Equal(t, buf.String(), again.String())
}

func TestParseRatePerWindow(t *testing.T) {
	tests := []struct {
		in     string
		n      int
		window time.Duration
		ok     bool
	}{
		{"300/1m", 300, time.Minute, true},
		{"50/1s", 50, time.Second, true},
		{"300/m", 300, time.Minute, true},
		{" 10/500ms ", 10, 500 * time.Millisecond, true},
		{"300", 300, time.Minute, true},
		{"0/1m", 0, 0, false},
		{"x/1m", 0, 0, false},
		{"5/forever", 0, 0, false},
	}
	for _, tt := range tests {
		n, w, err := parseRatePerWindow(tt.in)
		if !tt.ok {
			require.Error(t, err, tt.in)
			require.Equal(t, exitUsage, exitCode(err))
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.n, n, tt.in)
		require.Equal(t, tt.window, w, tt.in)
	}
}

func TestDemo(t *testing.T) {
	h := setup(t)
	dir := h.path("demo")

	res := h.run("demo", "--users", "120", "--dir", dir, "--rate-limit", "2000/1s",
		"--progress", "none")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "simulating a Genesys Cloud org of 120 users at http://127.0.0.1:")
	require.Contains(t, res.stdout, "3 unknown users ended as not_found, as planned")
	for _, f := range []string{"plan.csv", "ledger.db", "export.csv"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	export, err := os.ReadFile(filepath.Join(dir, "export.csv"))
	require.NoError(t, err)
	require.Equal(t, 1+123, strings.Count(string(export), "\n"), "a record per plan row")

	res = h.run("demo", "--dir", dir)
	require.Equal(t, exitUsage, res.code, "an earlier demo is never overwritten")
	require.Contains(t, res.stderr, "already holds a demo ledger")
}

func TestDemo_Flags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--users", "0"}, "--users 0"},
		{[]string{"--rate-limit", "fast"}, `--rate-limit "fast"`},
		{[]string{"--progress", "fancy"}, `--progress "fancy"`},
	}
	for _, tt := range tests {
		res := setup(t).run(append([]string{"demo"}, tt.args...)...)
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, tt.want)
	}
}
