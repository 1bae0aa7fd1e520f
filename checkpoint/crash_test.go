package checkpoint

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/internal/e2etest"
	"github.com/gcbulk/gcbulk/store"
)

// Crash test settings: the reference data, how much of the plan, how many
// kills, and how long the resume loop may take.
const (
	crashRows     = 3000
	crashGhosts   = 2
	crashKills    = 5
	crashDeadline = 75 * time.Second
	seedEnv       = "GCBULK_CRASH_SEED"
)

// crash holds the binary, the simulator and the run's files.
type crash struct {
	t      *testing.T
	bin    string
	dir    string
	url    string
	ledger string
	plan   string

	deadline time.Time // the resume loop's end
	verified int       // items Recover verified
}

func TestCrash_KillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gcbulk and runs 3,000 plan rows through kill -9 and resume; " +
			"skipped in -short mode")
	}
	c := setupCrash(t)
	seed := crashSeed(t)
	t.Logf("crash seed %d (replay with %s=%d)", seed, seedEnv, seed)

	code := c.interruptUntilDone(rand.New(rand.NewPCG(seed, seed)))
	c.check(code)
}

// interruptUntilDone runs and resumes gcbulk: crashKills kill -9s at random
// moments with one SIGTERM among them, then a run to the end. It returns
// the final exit status.
func (c *crash) interruptUntilDone(rng *rand.Rand) int {
	t := c.t
	kills, sigterm := 0, false
	c.deadline = time.Now().Add(crashDeadline)
	for session := 1; time.Now().Before(c.deadline); session++ {
		delay := 300*time.Millisecond + time.Duration(rng.Int64N(int64(2700*time.Millisecond)))
		sig := syscall.Signal(0)
		switch {
		case kills < crashKills && (kills != 2 || sigterm):
			sig = syscall.SIGKILL
		case !sigterm:
			sig, delay = syscall.SIGTERM, time.Second
		}
		res := c.run(delay, sig)
		t.Logf("session %d: %s -> %s", session, sigText(sig, delay), res)

		switch {
		case res.signalled:
			kills++
			if kills%2 == 1 {
				c.recover()
			}
		case res.sent == syscall.SIGTERM:
			require.Equal(t, 3, res.code, "SIGTERM exits 3; stderr:\n%s", res.stderr)
			require.Contains(t, res.stderr, "resume with: gcbulk run --ledger",
				"SIGTERM prints the resume command")
			sigterm = true
		default:
			require.Contains(t, []int{0, 1}, res.code, "a final status; stderr:\n%s", res.stderr)
			require.GreaterOrEqual(t, kills, crashKills, "the run finished after only %d kills: "+
				"slow the simulator down", kills)
			require.True(t, sigterm, "the run finished before the SIGTERM")
			return res.code
		}
	}
	t.Fatalf("the run did not finish within %s", crashDeadline)
	return -1
}

// setupCrash builds gcbulk, writes the plan and starts the simulator.
func setupCrash(t *testing.T) *crash {
	t.Helper()
	dirFile := e2etest.SharedData(t, "directory.jsonl")
	planFile := e2etest.SharedData(t, "plan-reorg.csv")

	dir := t.TempDir()
	c := &crash{t: t, dir: dir, bin: e2etest.BuildGcbulk(t),
		ledger: filepath.Join(dir, "run.db"), plan: filepath.Join(dir, "plan.csv")}
	c.writePlan(planFile)
	// The simulator has latency, 5xx faults, ambiguous resets and another writer.
	c.url = e2etest.StartSim(t, c.bin, "--directory", dirFile,
		"--rate-limit", "15000/1m", "--latency", "15ms", "--jitter", "10ms",
		"--error-rate", "0.01", "--reset-after-rate", "0.005",
		"--edits-per-second", "20", "--seed", "11", "--log-level", "error")
	return c
}

// crashSeed is GCBULK_CRASH_SEED, or a constant.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	s := os.Getenv(seedEnv)
	if s == "" {
		return 20250302
	}
	n, err := strconv.ParseUint(s, 10, 64)
	require.NoError(t, err, "%s=%q", seedEnv, s)
	return n
}

// writePlan copies the header and the first crashRows data rows of the
// reference plan byte for byte (BOM, CRLF, quoting and blank lines kept),
// then adds crashGhosts rows naming users that do not exist.
func (c *crash) writePlan(src string) {
	raw, err := os.ReadFile(src)
	require.NoError(c.t, err)
	var b strings.Builder
	rows := -1 // the header is not a data row
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if rows == crashRows {
			break
		}
		b.WriteString(line)
		if strings.TrimSpace(line) != "" {
			rows++
		}
	}
	require.Equal(c.t, crashRows, rows)
	// The first rows name no missing user: add two, by id and by e-mail.
	b.WriteString("00000000-dead-4000-8000-000000000001,,,,Ghost,,\r\n")
	b.WriteString(",Nobody.Here@Example.com,,,Ghost,,\r\n")
	require.NoError(c.t, os.WriteFile(c.plan, []byte(b.String()), 0o600))
}

// recover runs Recover in this process on the ledger a kill left, before
// the resume (which runs it again and finds nothing left), so the test
// sees exactly what Recover settled after a real crash.
func (c *crash) recover() {
	if _, err := os.Stat(c.ledger); errors.Is(err, os.ErrNotExist) {
		return // killed before the import finished
	}
	l, err := store.Open(c.ledger, store.Options{})
	require.NoError(c.t, err)
	defer l.Close()
	client, err := genesys.NewClient(genesys.Config{ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, APIURL: c.url})
	require.NoError(c.t, err)
	sum, err := Recover(context.Background(), l, client, time.Now)
	require.NoError(c.t, err)
	c.t.Logf("recover: %+v", sum)
	c.verified += sum.Verified
}

// session is how one `gcbulk run` ended.
type session struct {
	sent      syscall.Signal // 0 when none was sent
	signalled bool           // killed by the signal, not exited
	code      int
	stderr    string
}

func (s session) String() string {
	if s.signalled {
		return "killed"
	}
	return "exit " + strconv.Itoa(s.code)
}

// run starts gcbulk run (with --plan until the ledger exists) and sends sig
// after delay unless it has exited by then; sig 0 lets it run to the end.
func (c *crash) run(delay time.Duration, sig syscall.Signal) session {
	args := []string{"run", "--ledger", c.ledger, "--api-url", c.url, "--progress", "none",
		"--max-rate", "12000"}
	if _, err := os.Stat(c.ledger); errors.Is(err, os.ErrNotExist) {
		args = append(args, "--plan", c.plan)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = e2etest.SimEnv()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	require.NoError(c.t, cmd.Start())

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var s session
	var err error
	var timer <-chan time.Time
	if sig != 0 {
		timer = time.After(delay)
	}
	select {
	case err = <-done:
	case <-timer:
		s.sent = sig
		_ = cmd.Process.Signal(sig)
		err = <-done
	case <-time.After(time.Until(c.deadline)):
		_ = cmd.Process.Kill()
		<-done
		c.t.Fatalf("gcbulk run still going at the deadline (%s); stderr:\n%s",
			crashDeadline, stderr.String())
	}
	s.stderr = stderr.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		s.signalled = ws.Signaled()
		s.code = ee.ExitCode()
	default:
		require.NoError(c.t, err)
	}
	return s
}

// sigText says what a session was in for.
func sigText(sig syscall.Signal, delay time.Duration) string {
	if sig == 0 {
		return "no signal"
	}
	return fmt.Sprintf("%s after %s", sig, delay.Round(time.Millisecond))
}

// exportRow is the part of an export record the crash test checks.
type exportRow struct {
	Row      int    `json:"row"`
	UserID   string `json:"user_id"`
	Key      string `json:"key"`
	State    string `json:"state"`
	Verified bool   `json:"verified"`
}

// check compares the ledger's export with the simulator's users and
// counters after the run's final exit.
func (c *crash) check(code int) {
	t := c.t
	rows := c.export()
	plan := c.planRows()
	require.Len(t, rows, len(plan), "one export record per plan row: no item lost")

	users := e2etest.SimUsers(t, c.url)
	byEmail := make(map[string]string, len(users))
	for id, u := range users {
		byEmail[strings.ToLower(u.Email)] = id
	}

	states := map[string]int{}
	verified := 0
	appliedPerUser := map[string]int{}
	for i, r := range rows {
		states[r.State]++
		if r.Verified {
			verified++
		}
		want := plan[i]
		id := want["id"]
		if id == "" {
			id = byEmail[strings.ToLower(want["email"])]
		}
		c.checkRow(r, want, users[id], id != "" && users[id] != nil)
		if r.State == "applied" {
			appliedPerUser[id]++
		}
	}
	t.Logf("final exit %d; states %v; verified after a restart %d", code, states, verified)
	require.GreaterOrEqual(t, verified, c.verified, "every item Recover verified is exported so")
	require.Equal(t, crashGhosts, states["not_found"], "the missing users, and only them")
	require.Equal(t, 1, code, "exit 1: some items failed (not found)")
	c.checkStats(verified, appliedPerUser)
}

// checkRow checks one plan row's outcome against the user as it now is.
func (c *crash) checkRow(r exportRow, want map[string]string, u *genesys.User, exists bool) {
	t := c.t
	switch r.State {
	case "applied", "unchanged":
		require.True(t, exists, "row %d %s but its user does not exist", r.Row, r.State)
		for field, value := range want {
			if field == "id" || value == "" || (field == "email" && want["id"] == "") {
				continue
			}
			require.True(t, u.Holds(field, value), "row %d (%s): user %s holds %s=%q, want %q",
				r.Row, r.State, u.ID, field, u.Field(field), value)
		}
	case "not_found":
		require.False(t, exists, "row %d not_found but user %s exists", r.Row, r.UserID)
	default:
		t.Errorf("row %d ended %s, not applied, unchanged or not_found", r.Row, r.State)
	}
}

// checkStats checks the simulator saw no change applied twice.
func (c *crash) checkStats(verified int, appliedPerUser map[string]int) {
	t := c.t
	var st sim.Stats
	e2etest.GetJSON(t, c.url+"/sim/stats", &st)
	t.Logf("sim: requests %d, patches applied %d, patches noop %d, users moved %d, "+
		"moves noop %d, 429s %d, 5xx %d, resets after %d, concurrent edits %d, "+
		"max patches per user %d", st.Requests, st.PatchesApplied, st.PatchesNoop,
		st.UsersMoved, st.MovesNoop, st.RateLimited, st.FaultErrors, st.ResetsAfter,
		st.ConcurrentEdits, st.MaxPatchesPerUser)

	// A PATCH that changed nothing re-sent a change that had landed. Only an
	// item verified after a restart could hide one (it was read back, not
	// re-sent), so more no-ops than verified items means a blind re-send.
	require.LessOrEqual(t, st.PatchesNoop, int64(verified), "PATCHes applied twice")
	once := true
	for _, n := range appliedPerUser {
		once = once && n <= 1
	}
	if once {
		require.LessOrEqual(t, st.MaxPatchesPerUser, int64(1),
			"a user was changed by more than one PATCH")
	}
}

// export returns the ledger's export, in plan order.
func (c *crash) export() []exportRow {
	cmd := exec.Command(c.bin, "export", "--ledger", c.ledger, "--format", "jsonl")
	cmd.Env = e2etest.SimEnv()
	out, err := cmd.Output()
	require.NoError(c.t, err, "export")
	return e2etest.JSONLines[exportRow](c.t, out)
}

// planRows returns the plan's data rows as column → cell.
func (c *crash) planRows() []map[string]string {
	raw, err := os.ReadFile(c.plan)
	require.NoError(c.t, err)
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\ufeff"))))
	recs, err := r.ReadAll()
	require.NoError(c.t, err)
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = rec[i]
		}
		out = append(out, row)
	}
	return out
}
