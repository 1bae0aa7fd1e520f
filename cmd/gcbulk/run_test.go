package main

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/store"
)

func TestRun_FlagValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		vars map[string]string // replaces the env when not nil
		want string
	}{
		{"bad progress", []string{"--progress", "fancy"}, nil, `--progress "fancy"`},
		{"zero rate", []string{"--max-rate", "0"}, nil, "--max-rate 0"},
		{"no concurrency", []string{"--concurrency", "0"}, nil, "--concurrency 0"},
		{"too many attempts", []string{"--max-attempts", "1000"}, nil, "--max-attempts 1000"},
		{"plan extension", []string{"--plan", "plan.xlsx"}, nil, ".csv, .jsonl or .ndjson"},
		{"log format", []string{"--log-format", "xml"}, nil, `--log-format "xml"`},
		{"log level", []string{"--log-level", "loud"}, nil, `--log-level "loud"`},
		{"unknown flag", []string{"--client-secret", "x"}, nil, "flag provided but not defined"},
		{"no credentials", nil, map[string]string{},
			"GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET"},
		{"no region", []string{"--api-url", ""}, nil, "eu-west-1"},
		{"unknown region", []string{"--api-url", "", "--region", "mars-1"}, nil, "eu-west-1"},
		{"secret twice", nil, map[string]string{envClientID: "id", envClientSecret: "s",
			envSecretFile: "/nonexistent", envRegion: "eu-west-1"}, "set only one of"},
		{"remote plain http", []string{"--api-url", "http://example.com"}, nil, "https"},
		{"no ledger no plan", []string{"--plan", ""}, nil, "give --plan FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t)
			if tt.vars != nil {
				h.vars = tt.vars
			}
			ledger := h.path("run.db")
			args := []string{"run", "--ledger", ledger, "--plan", h.write("p.csv", fixturePlan),
				"--api-url", "http://127.0.0.1:9"}
			res := h.run(append(args, tt.args...)...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, tt.want)
			require.NoFileExists(t, ledger, "nothing is created on a usage error")
		})
	}
}

func TestRun_PlanErrors(t *testing.T) {
	h := setup(t)
	plan := h.write("bad.csv", "id,title,acdAutoAnswer\n"+idA+",Lead,maybe\nnot-a-uuid,Agent,\n")
	ledger := h.path("run.db")

	res := h.run("run", "--ledger", ledger, "--plan", plan, "--api-url", "http://127.0.0.1:9")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "nothing was sent and no ledger was created")
	require.Contains(t, res.stderr, "plan has 2 problems")
	require.Contains(t, res.stderr, "bad.csv:2:3: acdAutoAnswer", "with file:line:col")
	require.Contains(t, res.stderr, "bad.csv:3:1: id", "malformed id")
	require.NoFileExists(t, ledger)
}

// simRun is a simulator with a small generated directory and a plan for it.
type simRun struct {
	*harness
	srv    *sim.Server
	url    string
	users  []genesys.User
	plan   string
	ledger string
	stats  demoPlanStats
}

// setupSim starts a simulator on 127.0.0.1 with n users and writes the
// demo plan for them.
func setupSim(t *testing.T, n int, cfg sim.Config) *simRun {
	t.Helper()
	h := setup(t)
	users := sim.Generate(n, 7)
	srv, url, stop, err := sim.StartServer(cfg, users)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop() })

	var buf bytes.Buffer
	st, err := writeDemoPlan(&buf, users, 7)
	require.NoError(t, err)
	return &simRun{harness: h, srv: srv, url: url, users: users,
		plan: h.write("plan.csv", buf.String()), ledger: h.path("run.db"), stats: st}
}

// runArgs are the arguments of a fast run against the simulator.
func (s *simRun) runArgs(extra ...string) []string {
	return append([]string{"run", "--ledger", s.ledger, "--plan", s.plan, "--api-url", s.url,
		"--max-rate", "60000", "--progress", "none", "--log-level", "warn"}, extra...)
}

func TestRun_AgainstSimulator(t *testing.T) {
	s := setupSim(t, 150, sim.Config{})

	res := s.run(s.runArgs()...)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stdout, "run finished")
	require.Regexp(t, `not_found\s+3`, res.stdout)
	require.Contains(t, res.stderr, "3 items failed; see which and why with: gcbulk export")

	// Every known user now holds what the plan asked for.
	byID := map[string]genesys.User{}
	for _, u := range s.srv.Users() {
		byID[u.ID] = u
	}
	byEmail := map[string]string{}
	for _, u := range s.users {
		byEmail[strings.ToLower(u.Email)] = u.ID
	}
	n := 0
	_, err := store.ReadPlan(s.plan, func(r store.Row) error {
		id := r.Key
		if r.KeyKind == store.KeyEmail {
			id = byEmail[strings.ToLower(r.Key)]
		}
		u, ok := byID[id]
		if !ok {
			return nil
		}
		for f, v := range r.Fields {
			require.True(t, u.Holds(f, v), "line %d %s", r.Line, f)
		}
		n++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 150, n)

	// The snapshot says how the run ended.
	snap, err := loadSnapshot(statusPath(s.ledger))
	require.NoError(t, err)
	require.False(t, snap.Running)
	require.Equal(t, "finished", snap.Outcome)
	require.Equal(t, snap.Total, snap.Done)
}

func TestRun_Resume(t *testing.T) {
	s := setupSim(t, 60, sim.Config{})
	require.Equal(t, exitFailed, s.run(s.runArgs()...).code)

	t.Run("same plan or none", func(t *testing.T) {
		res := s.run(s.runArgs()...)
		require.Equal(t, exitFailed, res.code, res.stderr)
		res = s.run("run", "--ledger", s.ledger, "--api-url", s.url, "--progress", "none")
		require.Equal(t, exitFailed, res.code, res.stderr)
	})

	t.Run("target from the ledger", func(t *testing.T) {
		res := s.run("run", "--ledger", s.ledger, "--progress", "none")
		require.Equal(t, exitFailed, res.code, res.stderr)
		require.Contains(t, res.stderr, "using the target the ledger records")
	})

	t.Run("different plan", func(t *testing.T) {
		other := s.write("other.csv", "id,title\n"+idA+",Boss\n")
		res := s.run("run", "--ledger", s.ledger, "--plan", other, "--api-url", s.url)
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, "differs from the plan ledger")
		require.Contains(t, res.stderr, "use a new --ledger")
		require.Contains(t, res.stderr, "leave out --plan")
	})

	t.Run("other target", func(t *testing.T) {
		for _, args := range [][]string{{"--api-url", "http://127.0.0.1:9"},
			{"--region", "eu-west-1"}} {
			res := s.run(append([]string{"run", "--ledger", s.ledger}, args...)...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, "belongs to API host "+hostOf(s.url))
			require.Contains(t, res.stderr, "start a new --ledger for another org")
		}
	})

	t.Run("retry then resume", func(t *testing.T) {
		res := s.run("retry", "--ledger", s.ledger)
		require.Equal(t, exitOK, res.code)
		require.Contains(t, res.stdout, "--api-url "+s.url, "the hint keeps the target")
		res = s.run("run", "--ledger", s.ledger, "--api-url", s.url, "--progress", "none")
		require.Equal(t, exitFailed, res.code, "unknown users fail again")
	})
}

func TestRun_DryRun(t *testing.T) {
	s := setupSim(t, 40, sim.Config{})
	before := s.srv.Stats()

	res := s.run(s.runArgs("--dry-run")...)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "dry run")
	after := s.srv.Stats()
	require.Equal(t, before.PatchesApplied, after.PatchesApplied, "nothing written")
	require.Zero(t, after.UsersMoved)
	versions := map[string]int{}
	for _, u := range s.users {
		versions[u.ID] = u.Version
	}
	for _, u := range s.srv.Users() {
		require.Equal(t, versions[u.ID], u.Version, "user %s changed", u.ID)
	}
}

func TestRun_BadCredentials(t *testing.T) {
	s := setupSim(t, 10, sim.Config{})
	s.vars[envClientSecret] = "wrong-secret-value"

	res := s.run(s.runArgs()...)
	require.Equal(t, exitAuth, res.code, res.stderr)
	require.Contains(t, res.stderr, "GENESYSCLOUD_OAUTHCLIENT_SECRET")
	require.Contains(t, res.stderr, "then: gcbulk run --ledger "+s.ledger+" --api-url <URL>")
	require.NotContains(t, res.stderr, "--api-url "+s.url, "no guess at the target")
	require.NotContains(t, res.stderr+res.stdout, "wrong-secret-value")
}

func TestRun_TokenEndpointNotFound(t *testing.T) {
	s := setupSim(t, 10, sim.Config{})
	res := s.run("run", "--ledger", s.ledger, "--plan", s.plan, "--api-url", s.url+"/api",
		"--progress", "none", "--log-level", "warn")
	require.Equal(t, exitAuth, res.code, res.stderr)
	require.Contains(t, res.stderr, "token endpoint not found at "+s.url+"/api/oauth/token")
	require.Contains(t, res.stderr, "fix --api-url")
	require.Contains(t, res.stderr, "then: gcbulk run --ledger "+s.ledger+" --api-url <URL>")
	require.NotContains(t, res.stderr, "--api-url "+s.url, "the bad URL is not repeated")
	require.NotContains(t, res.stderr, "client id and secret")
}

func TestRun_Interrupt(t *testing.T) {
	// 20 requests a second keep the run going for a few seconds, and the
	// resumed run (which restores the learned rate) short.
	s := setupSim(t, 60, sim.Config{})
	args := []string{"run", "--ledger", s.ledger, "--plan", s.plan, "--api-url", s.url,
		"--max-rate", "1200", "--progress", "none"}

	done := make(chan result, 1)
	go func() { done <- s.run(args...) }()
	require.Eventually(t, func() bool {
		_, err := os.Stat(statusPath(s.ledger))
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "the run writes its first snapshot at once")
	s.mu.Lock()
	s.sigc <- syscall.SIGINT
	s.sigc <- os.Interrupt
	s.mu.Unlock()

	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after SIGINT")
	}
	require.Equal(t, exitInterrupted, res.code, res.stderr)
	require.Contains(t, res.stderr, "resume with: gcbulk run --ledger "+s.ledger+
		" --api-url "+s.url+" --max-rate 1200")
	require.Equal(t, []int{exitInterrupted}, s.exited, "a second signal quits at once")
	snap, err := loadSnapshot(statusPath(s.ledger))
	require.NoError(t, err)
	require.Equal(t, "interrupted", snap.Outcome)
	require.Less(t, snap.Done, snap.Total)

	// Status on the free ledger says how to resume, with the same target and rate.
	st := s.run("status", "--ledger", s.ledger)
	require.Equal(t, exitOK, st.code, st.stderr)
	require.Contains(t, st.stdout, "last run interrupted")
	require.Contains(t, st.stdout, "resume     gcbulk run --ledger "+s.ledger+
		" --api-url "+s.url+" --max-rate 1200")
	require.Contains(t, st.stdout, "rate       ")

	// Resuming finishes the job.
	res = s.run("run", "--ledger", s.ledger, "--api-url", s.url, "--max-rate", "1200",
		"--progress", "none")
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Regexp(t, `not_found\s+3`, res.stdout)
}
