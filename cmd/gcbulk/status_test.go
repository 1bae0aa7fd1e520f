package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/store"
)

func TestStatus_Ledger(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()

	res := h.run("status", "--ledger", ledger)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "run        not running")
	require.Contains(t, res.stdout, "progress   4/5 items done (80%)")
	require.Regexp(t, `applied\s+2`, res.stdout)
	require.Regexp(t, `waiting\s+1`, res.stdout)
	require.Contains(t, res.stdout, "line 4  "+idC+"  not_found  404 not.found")
}

func TestStatus_JSON(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()

	res := h.run("status", "--ledger", ledger, "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var snap statusSnapshot
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &snap))
	require.False(t, snap.Live)
	require.Equal(t, "ledger", snap.Source)
	require.Equal(t, 5, snap.Total)
	require.Equal(t, 1, snap.Counts["not_found"])
	require.Len(t, snap.RecentErrors, 1)
	require.Equal(t, 4, snap.RecentErrors[0].Row)
}

func TestStatus_WhileLocked(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()
	l, err := store.Open(ledger, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })

	t.Run("no snapshot yet", func(t *testing.T) {
		res := h.run("status", "--ledger", ledger)
		require.Equal(t, exitOK, res.code, res.stderr)
		require.Contains(t, res.stdout, "no status snapshot yet")
	})

	snap := statusSnapshot{Ledger: ledger, Source: "snapshot", Running: true, PID: 777,
		UpdatedAt: h.now.Add(-3 * time.Second), Done: 3, Total: 5,
		Counts: map[string]int{"applied": 2, "waiting": 2, "not_found": 1}, RatePerMin: 290,
		LimitPerMin: 300, RateLimited: 1, Breaker: "closed", ETASec: 90}
	require.NoError(t, saveSnapshot(statusPath(ledger), snap))

	t.Run("live", func(t *testing.T) {
		res := h.run("status", "--ledger", ledger)
		require.Equal(t, exitOK, res.code, res.stderr)
		require.Contains(t, res.stdout, "live, pid")
		require.Contains(t, res.stdout, "(3s ago)")
		require.Contains(t, res.stdout, "3/5 items done")
		require.Contains(t, res.stdout, "290/min (learned limit 300/min), 429s 1")
		require.Contains(t, res.stdout, "eta        1m30s")
	})

	t.Run("stale", func(t *testing.T) {
		h.now = h.now.Add(time.Minute)
		res := h.run("status", "--ledger", ledger, "--json")
		require.Equal(t, exitOK, res.code)
		var got statusSnapshot
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
		require.True(t, got.Live)
		require.Equal(t, "snapshot", got.Source)

		res = h.run("status", "--ledger", ledger)
		require.Contains(t, res.stdout, "stale")
	})
}

func TestStatus_Errors(t *testing.T) {
	h := setup(t)
	res := h.run("status", "--ledger", h.path("nope.db"))
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "no ledger at")

	res = h.run("status")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, `"ledger"`)

	res = h.run("status", "--ledger", h.write("junk.db", "not a ledger at all"))
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "not a gcbulk ledger")
}
