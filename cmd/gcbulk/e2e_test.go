package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/internal/e2etest"
	"github.com/gcbulk/gcbulk/store"
)

// e2eRows is how many data rows of the reference plan the end-to-end run
// takes: enough for e-mail rows, moves, duplicates and unknown users.
const e2eRows = 3000

// e2e drives the built binary on the reference data.
type e2e struct {
	t         *testing.T
	bin       string
	dir       string
	directory string // the reference directory.jsonl
	planSrc   string // the reference plan-reorg.csv
}

func setupE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds the binary and runs 3,000 rows; skipped with -short")
	}
	directory := e2etest.SharedData(t, "directory.jsonl")
	planSrc := e2etest.SharedData(t, "plan-reorg.csv")
	return &e2e{t: t, bin: e2etest.BuildGcbulk(t), dir: t.TempDir(),
		directory: directory, planSrc: planSrc}
}

// command returns gcbulk with args, ready to start.
func (e *e2e) command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e2etest.SimEnv()
	return cmd
}

// exec runs gcbulk to the end and returns its exit status and output.
func (e *e2e) exec(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	cmd := e.command(args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	require.NoError(e.t, err)
	return 0, out.String(), errOut.String()
}

// writePlan writes the header and the first e2eRows data rows of the
// reference plan as they are (BOM, CRLF, blank lines, quoting). When none
// of the plan's unknown users falls in, it adds the first few rows naming
// unknown users from further down, or made-up ones if there are none.
func (e *e2e) writePlan(known map[string]string) (string, int) {
	e.t.Helper()
	raw, err := os.ReadFile(e.planSrc)
	require.NoError(e.t, err)

	var head, later strings.Builder
	rows, unknown, extra := -1, 0, 0
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if strings.TrimSpace(line) == "" {
			if rows <= e2eRows {
				head.WriteString(line)
			}
			continue
		}
		rows++
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		require.NoError(e.t, err)
		isUnknown := rows > 0 && known[strings.ToLower(rec[0])] == "" &&
			known[strings.ToLower(rec[1])] == ""
		switch {
		case rows <= e2eRows:
			head.WriteString(line)
			if isUnknown {
				unknown++
			}
		case isUnknown && extra < 3:
			later.WriteString(line)
			extra++
		}
	}
	if unknown == 0 {
		head.WriteString(later.String())
		unknown = extra
	}
	if unknown == 0 {
		for i := range 3 {
			fmt.Fprintf(&head, "00000000-dead-4000-8000-%012d,,,,Ghost,,\r\n", i)
		}
		unknown = 3
	}
	path := filepath.Join(e.dir, "plan.csv")
	require.NoError(e.t, os.WriteFile(path, []byte(head.String()), 0o600))
	return path, unknown
}

func TestE2E_RunAgainstSimProcess(t *testing.T) {
	e := setupE2E(t)
	users, err := sim.LoadDirectory(e.directory)
	require.NoError(t, err)
	// known maps each directory id and e-mail, lower-cased, to the user id.
	known := map[string]string{}
	for _, u := range users {
		known[strings.ToLower(u.ID)], known[strings.ToLower(u.Email)] = u.ID, u.ID
	}
	plan, unknown := e.writePlan(known)
	t.Logf("plan of %d rows, %d naming unknown users", e2eRows, unknown)

	url := e2etest.StartSim(t, e.bin, "--directory", e.directory, "--rate-limit", "300/1s")
	ledger := filepath.Join(e.dir, "reorg.db")
	run := e.command("run", "--ledger", ledger, "--plan", plan, "--api-url", url,
		"--max-rate", "15000", "--concurrency", "16", "--progress", "lines")
	var runOut, runErr bytes.Buffer
	run.Stdout, run.Stderr = &runOut, &runErr
	start := time.Now()
	require.NoError(t, run.Start())

	statusOut := e.statusWhileRunning(ledger, run)
	err = run.Wait()
	t.Logf("run took %s\n%s", time.Since(start).Round(time.Millisecond), runOut.String())
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stderr: %s", runErr.String())
	require.Equal(t, exitFailed, ee.ExitCode(), "stderr: %s", runErr.String())
	require.Contains(t, statusOut, "live, pid")

	e.checkExport(ledger, plan, unknown)
	e.checkUsers(url, plan, known)
}

// statusWhileRunning calls `gcbulk status` as soon as the run has written
// its first snapshot, and returns its output.
func (e *e2e) statusWhileRunning(ledger string, run *exec.Cmd) string {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		_, err := os.Stat(statusPath(ledger))
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "no status snapshot")

	code, out, errOut := e.exec("status", "--ledger", ledger)
	require.Equal(e.t, exitOK, code, errOut)
	require.Contains(e.t, out, "items done")
	return out
}

// checkExport checks one record per plan row, and that every failure is
// one of the unknown users, as not_found.
func (e *e2e) checkExport(ledger, plan string, unknown int) {
	e.t.Helper()
	code, out, errOut := e.exec("export", "--ledger", ledger, "--format", "jsonl")
	require.Equal(e.t, exitOK, code, errOut)

	rows := map[int]bool{}
	notFound := 0
	for _, r := range e2etest.JSONLines[exportRecord](e.t, []byte(out)) {
		require.False(e.t, rows[r.Row], "row %d twice", r.Row)
		rows[r.Row] = true
		switch r.State {
		case "applied", "unchanged":
		case "not_found":
			notFound++
		default:
			e.t.Errorf("row %d: state %s (%s %s)", r.Row, r.State, r.ErrorCode, r.ErrorMessage)
		}
	}
	info, err := store.ReadPlan(plan, func(store.Row) error { return nil })
	require.NoError(e.t, err)
	require.Len(e.t, rows, info.Rows, "one record per plan row")
	require.Equal(e.t, unknown, notFound)
}

// checkUsers checks every user the plan names holds its desired values.
func (e *e2e) checkUsers(url, plan string, known map[string]string) {
	e.t.Helper()
	byID := e2etest.SimUsers(e.t, url)
	checked := 0
	_, err := store.ReadPlan(plan, func(r store.Row) error {
		id := known[strings.ToLower(r.Key)]
		if id == "" {
			return nil
		}
		u := byID[id]
		if u == nil {
			u = &genesys.User{} // holds nothing: every field below is reported
		}
		for f, v := range r.Fields {
			if !u.Holds(f, v) {
				e.t.Errorf("line %d: user %s %s is %q, want %q", r.Line, u.ID, f, u.Field(f), v)
			}
		}
		checked++
		return nil
	})
	require.NoError(e.t, err)
	require.Greater(e.t, checked, e2eRows-50)
}
