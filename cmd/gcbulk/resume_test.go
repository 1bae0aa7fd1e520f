package main

import (
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

// settledLedger imports a one-row plan with settings, as a run records them.
func (h *harness) settledLedger(name string, settings map[string]string) string {
	h.t.Helper()
	ledger := h.path(name)
	l, _, err := store.Import(ledger, h.write(name+".csv", "id,title\n"+idA+",Lead\n"),
		store.ImportOptions{Settings: settings})
	require.NoError(h.t, err)
	require.NoError(h.t, l.Close())
	return ledger
}

func TestResumeHint(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"none", nil, "gcbulk run --ledger r.db"},
		{"defaults", map[string]string{"api_url": "http://127.0.0.1:9", "max_rate_per_min": "300",
			"concurrency": "8", "max_attempts": "8"},
			"gcbulk run --ledger r.db --api-url http://127.0.0.1:9"},
		{"region and rate", map[string]string{"region": "eu-west-1", "max_rate_per_min": "1200"},
			"gcbulk run --ledger r.db --region eu-west-1 --max-rate 1200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, resumeHint("r.db", tt.settings))
		})
	}
}

func TestRetry_HintKeepsMaxRate(t *testing.T) {
	h := setup(t)
	ledger := h.settledLedger("r.db", map[string]string{"api_url": "http://127.0.0.1:9",
		"max_rate_per_min": "1200"})
	res := h.run("retry", "--ledger", ledger)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "--api-url http://127.0.0.1:9 --max-rate 1200")
}

func TestStatus_LastKnownFromFinalSnapshot(t *testing.T) {
	h := setup(t)
	ledger := h.settledLedger("u.db", map[string]string{"api_url": "http://127.0.0.1:1",
		"api_host": "127.0.0.1:1", "max_rate_per_min": "600"})
	// A run that never reached the API: no checkpoint, only its final snapshot.
	snap := statusSnapshot{Ledger: ledger, Source: "snapshot", Outcome: "interrupted",
		UpdatedAt: h.now, Total: 1, Counts: map[string]int{"waiting": 1}, RatePerMin: 570,
		Breaker: "open", Paused: true, LastError: "get users: connection refused"}
	require.NoError(t, saveSnapshot(statusPath(ledger), snap))

	res := h.run("status", "--ledger", ledger)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "rate       paused at 570/min")
	require.Contains(t, res.stdout, "breaker    open")
	require.Contains(t, res.stdout, "last error get users: connection refused")
	require.Contains(t, res.stdout, "resume     gcbulk run --ledger "+ledger+
		" --api-url http://127.0.0.1:1 --max-rate 600")
	require.NotContains(t, res.stdout, "eta")
}

func TestRunError_Unreachable(t *testing.T) {
	p := runParams{resume: "gcbulk run --ledger r.db --api-url http://127.0.0.1:1"}
	p.api.APIURL = "http://127.0.0.1:1"
	err := runError(&scheduler.UnreachableError{Opens: 3, LastError: "dial: refused"}, p,
		runResult{})
	require.Equal(t, exitInterrupted, exitCode(err))
	require.EqualError(t, err, "cannot reach the API at 127.0.0.1:1: dial: refused; check "+
		"--api-url/--region and the network, then resume with: "+p.resume)
}

func TestRun_Retarget(t *testing.T) {
	s := setupSim(t, 5, sim.Config{})
	t.Run("never answered", func(t *testing.T) {
		ledger := s.settledLedger("fresh.db", map[string]string{
			"api_url": "http://127.0.0.1:1", "api_host": "127.0.0.1:1"})
		res := s.run("run", "--ledger", ledger, "--api-url", s.url, "--progress", "none")
		require.Equal(t, exitFailed, res.code, res.stderr) // idA is not a sim user
		require.Contains(t, res.stderr, "recording the new one")
		res = s.run("status", "--ledger", ledger, "--json")
		require.Contains(t, res.stdout, `"resume": "gcbulk run --ledger `+ledger+
			` --api-url `+s.url+`"`, "the ledger records the new target")
	})
}

func TestSameTarget(t *testing.T) {
	ie := map[string]string{"region": "eu-west-1"}
	tests := []struct {
		name string
		now  map[string]string
		want bool
	}{
		{"code as recorded", map[string]string{"region": "eu-west-1"}, true},
		{"the code's domain", map[string]string{"region": "mypurecloud.ie"}, true},
		{"the domain's api url", map[string]string{"api_url": "https://api.mypurecloud.ie/"}, true},
		{"another region", map[string]string{"region": "us-east-1"}, false},
		{"a local api url", map[string]string{"api_url": "http://127.0.0.1:9"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, sameTarget(ie, tt.now))
		})
	}
}

func TestCheckSameTarget_RegionSpellings(t *testing.T) {
	h := setup(t)
	ledger := h.settledLedger("ie.db", map[string]string{"region": "eu-west-1"})
	l, err := store.Open(ledger, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	p := runParams{log: slog.New(slog.DiscardHandler)}
	p.api.Region = "mypurecloud.ie"
	require.NoError(t, checkSameTarget(l, p))
	m, err := l.Meta()
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", m.Settings["region"], "one target: nothing to record")
}

func TestPaths_Directory(t *testing.T) {
	h := setup(t)
	dir := h.path("d")
	require.NoError(t, os.Mkdir(dir, 0o700))
	for _, args := range [][]string{{"status"}, {"retry"}, {"export", "--output",
		h.path("o.csv")}, {"run", "--api-url", "http://127.0.0.1:9"}} {
		res := h.run(append(args, "--ledger", dir)...)
		require.Equal(t, exitUsage, res.code, args)
		require.Contains(t, res.stderr, "--ledger "+dir+" is a directory", args)
	}

	res := h.run("run", "--ledger", h.path("p.db"), "--plan", dir, "--api-url",
		"http://127.0.0.1:9")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "read plan "+dir+": is a directory")
}
