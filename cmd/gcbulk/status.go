package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/store"
)

// statusSuffix names the live status snapshot beside a ledger.
const statusSuffix = ".status.json"

// recentErrorsShown is how many of the latest failures status shows.
const recentErrorsShown = 5

// staleAfter is how old a live snapshot may be before status warns that
// the run may be stuck (it is rewritten every second).
const staleAfter = 30 * time.Second

// statusSnapshot is what `status` reports, and what a run writes to
// <ledger>.status.json every second so status can answer while the run
// holds the ledger.
type statusSnapshot struct {
	Ledger       string         `json:"ledger"`
	Live         bool           `json:"live"`              // a run holds the ledger now
	Source       string         `json:"source"`            // "ledger" or "snapshot"
	Running      bool           `json:"running"`           // written by a run still going
	Outcome      string         `json:"outcome,omitempty"` // how the run ended, once it has
	PID          int            `json:"pid,omitempty"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Plan         string         `json:"plan,omitempty"`
	Done         int            `json:"done"`
	Total        int            `json:"total"`
	Counts       map[string]int `json:"counts"`
	RatePerMin   float64        `json:"rate_per_min"`
	LimitPerMin  float64        `json:"limit_per_min"`
	RateLimited  int            `json:"rate_limited"`
	Paused       bool           `json:"paused,omitempty"` // sending held back
	Breaker      string         `json:"breaker,omitempty"`
	LastError    string         `json:"last_error,omitempty"` // last transient failure's cause
	Resume       string         `json:"resume,omitempty"`     // the command that resumes it
	ElapsedSec   float64        `json:"elapsed_sec"`
	ETASec       float64        `json:"eta_sec,omitempty"`
	RecentErrors []recentError  `json:"recent_errors"`
}

// recentError is one failed item, for a quick look without an export.
type recentError struct {
	Row        int       `json:"row"`
	UserID     string    `json:"user_id,omitempty"`
	Key        string    `json:"key"`
	State      string    `json:"state"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Code       string    `json:"code,omitempty"`
	Message    string    `json:"message,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show how far a run has got: counts, rate, breaker, eta, recent errors",
		Description: "Reads the ledger read-only. While a run holds the ledger, status reads the\n" +
			"snapshot the run rewrites every second (<ledger>.status.json) and says it is\n" +
			"live, with the run's pid and the time of the snapshot. --json prints the same\n" +
			"as one JSON object.\n\n" +
			"Examples:\n" +
			"  $ gcbulk status --ledger reorg.db\n" +
			"  $ gcbulk status --ledger reorg.db --json | jq .counts",
		Flags: []cli.Flag{
			ledgerFlag(),
			&cli.BoolFlag{Name: flagJSON, Usage: "print one JSON object"},
		},
		Action: func(c *cli.Context) error { return statusAction(c, e) },
	}
}

func statusAction(c *cli.Context, e *env) error {
	path := c.String(flagLedger)
	snap, err := readStatus(path)
	if err != nil {
		return err
	}
	if c.Bool(flagJSON) {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	printStatus(c.App.Writer, snap, e.now())
	return nil
}

// readStatus reads a ledger's status: from the ledger when it is free,
// from the run's snapshot when a run holds it.
func readStatus(path string) (statusSnapshot, error) {
	ok, err := ledgerExists(path)
	if err != nil {
		return statusSnapshot{}, err
	}
	if !ok {
		return statusSnapshot{}, usageErrorf("no ledger at %s: check the path", path)
	}

	l, err := store.Open(path, store.Options{LockTimeout: 200 * time.Millisecond, ReadOnly: true})
	var le *store.LockedError
	switch {
	case errors.As(err, &le):
		return liveStatus(path, le.Pid)
	case err != nil:
		return statusSnapshot{}, exitWith(exitUsage, err)
	}
	defer l.Close()

	snap, err := ledgerStatus(l)
	if err != nil {
		return statusSnapshot{}, exitWith(exitUsage, err)
	}
	lastKnown(&snap, l, path)
	return snap, nil
}

// lastKnown fills in the rate, limit, breaker and last error the last run
// left: from the checkpoint, or from the last snapshot when that is newer
// (the final snapshot is written after the last commit, and a run that
// never reached the API may have no checkpoint at all). Only the snapshot
// knows the last error.
func lastKnown(snap *statusSnapshot, l *store.Ledger, path string) {
	cp, cpErr := checkpoint.Load(l)
	if cpErr == nil {
		snap.RatePerMin, snap.LimitPerMin = cp.Rate*60, cp.Limit*60
		snap.RateLimited, snap.Breaker = cp.RateLimited, cp.Breaker
		snap.ElapsedSec = cp.Elapsed.Seconds()
	}
	last, err := loadSnapshot(statusPath(path))
	if err != nil {
		return
	}
	snap.UpdatedAt, snap.Outcome = last.UpdatedAt, last.Outcome
	snap.PID, snap.Running = last.PID, last.Running
	snap.LastError, snap.Paused = last.LastError, last.Paused
	if cpErr != nil || !last.UpdatedAt.Before(cp.UpdatedAt) {
		snap.RatePerMin, snap.LimitPerMin = last.RatePerMin, last.LimitPerMin
		snap.RateLimited, snap.Breaker = last.RateLimited, last.Breaker
		snap.ElapsedSec = max(snap.ElapsedSec, last.ElapsedSec)
	}
}

// liveStatus reads the snapshot of the run that holds the ledger.
func liveStatus(path string, pid int) (statusSnapshot, error) {
	snap, err := loadSnapshot(statusPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return statusSnapshot{Ledger: path, Live: true, Source: "none", PID: pid,
			Counts: map[string]int{}}, nil
	}
	if err != nil {
		return statusSnapshot{}, exitWith(exitUsage, err)
	}
	snap.Live, snap.Source = true, "snapshot"
	if pid > 0 {
		snap.PID = pid
	}
	return snap, nil
}

// ledgerStatus builds a status from the ledger itself.
func ledgerStatus(l *store.Ledger) (statusSnapshot, error) {
	snap := statusSnapshot{Ledger: l.Path(), Source: "ledger", Counts: map[string]int{}}
	if m, err := l.Meta(); err == nil {
		snap.Plan = m.PlanPath
		snap.Resume = resumeHint(l.Path(), m.Settings)
	}
	counts, err := l.Counts()
	if err != nil {
		return snap, fmt.Errorf("count items: %w", err)
	}
	fillCounts(&snap, counts)
	snap.RecentErrors, err = recentErrors(l, recentErrorsShown)
	return snap, err
}

// fillCounts sets the per-state counts, done and total.
func fillCounts(snap *statusSnapshot, counts map[store.State]int) {
	snap.Done, snap.Total = 0, 0
	for _, s := range store.States {
		n := counts[s]
		snap.Counts[s.String()] = n
		snap.Total += n
		if s.Terminal() {
			snap.Done += n
		}
	}
}

// failedItems is the part of the ledger recentErrors reads.
type failedItems interface {
	EachInState(s store.State, fn func(*store.Item) error) error
}

// recentErrors returns the n latest failed items, newest first.
func recentErrors(l failedItems, n int) ([]recentError, error) {
	var out []recentError
	for _, s := range store.States {
		if !s.Failed() {
			continue
		}
		err := l.EachInState(s, func(it *store.Item) error {
			out = append(out, recentErrorOf(it))
			if len(out) > 8*n {
				out = latest(out, n)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read failed items: %w", err)
		}
	}
	return latest(out, n), nil
}

// latest sorts errs newest first (then by row) and keeps n.
func latest(errs []recentError, n int) []recentError {
	sort.Slice(errs, func(i, j int) bool {
		if !errs[i].At.Equal(errs[j].At) {
			return errs[i].At.After(errs[j].At)
		}
		return errs[i].Row < errs[j].Row
	})
	return errs[:min(n, len(errs))]
}

func recentErrorOf(it *store.Item) recentError {
	r := recentError{Row: it.Line(), UserID: it.UserID, Key: it.Key, State: it.State.String(),
		HTTPStatus: it.HTTPStatus, Code: it.ErrorCode, Message: it.ErrorMessage}
	if n := len(it.History); n > 0 {
		r.At = it.History[n-1].At
	}
	return r
}

// statusPath returns the snapshot path for a ledger.
func statusPath(ledger string) string { return ledger + statusSuffix }

// loadSnapshot reads a status snapshot file.
func loadSnapshot(path string) (statusSnapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return statusSnapshot{}, err
	}
	var snap statusSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return statusSnapshot{}, fmt.Errorf("read status snapshot %s: %w", path, err)
	}
	if snap.Counts == nil {
		snap.Counts = map[string]int{}
	}
	return snap, nil
}

// saveSnapshot writes snap atomically (temporary file, then rename).
func saveSnapshot(path string, snap statusSnapshot) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	})
}

// printStatus writes snap for a person.
func printStatus(w io.Writer, s statusSnapshot, now time.Time) {
	fmt.Fprintf(w, "ledger     %s\n", s.Ledger)
	fmt.Fprintf(w, "run        %s\n", runState(s, now))
	if s.Source == "none" {
		return
	}
	if s.Plan != "" {
		fmt.Fprintf(w, "plan       %s\n", s.Plan)
	}
	pct := 0
	if s.Total > 0 {
		pct = s.Done * 100 / s.Total
	}
	fmt.Fprintf(w, "progress   %d/%d items done (%d%%)\n", s.Done, s.Total, pct)
	for _, st := range store.States {
		if n := s.Counts[st.String()]; n > 0 {
			fmt.Fprintf(w, "  %-11s %d\n", st, n)
		}
	}
	if s.RatePerMin > 0 || s.LimitPerMin > 0 {
		rate := perMinute(s.RatePerMin / 60)
		if s.Paused {
			rate = "paused at " + rate
		}
		fmt.Fprintf(w, "rate       %s (learned limit %s), 429s %d\n",
			rate, perMinute(s.LimitPerMin/60), s.RateLimited)
	}
	if s.Breaker != "" {
		fmt.Fprintf(w, "breaker    %s\n", s.Breaker)
	}
	if s.LastError != "" {
		fmt.Fprintf(w, "last error %s\n", s.LastError)
	}
	if s.Live && s.ETASec > 0 && !s.Paused {
		fmt.Fprintf(w, "eta        %s\n", (time.Duration(s.ETASec) * time.Second).String())
	}
	if !s.Live && s.Done < s.Total {
		fmt.Fprintf(w, "resume     %s\n", s.resumeCommand())
	}
	printRecentErrors(w, s.RecentErrors)
}

// resumeCommand is the command that resumes the snapshot's ledger.
func (s statusSnapshot) resumeCommand() string {
	if s.Resume != "" {
		return s.Resume
	}
	return resumeHint(s.Ledger, nil)
}

// runState says whether a run is going and how old the data is.
func runState(s statusSnapshot, now time.Time) string {
	age := now.Sub(s.UpdatedAt).Round(time.Second)
	switch {
	case s.Live && s.Source == "none":
		return fmt.Sprintf("live: in use by pid %d; no status snapshot yet "+
			"(written every second), try again shortly", s.PID)
	case s.Live && age > staleAfter:
		return fmt.Sprintf("live, pid %d, as of %s (%s ago: stale, the run may be stuck)",
			s.PID, s.UpdatedAt.Format(time.RFC3339), age)
	case s.Live:
		return fmt.Sprintf("live, pid %d, as of %s (%s ago)", s.PID,
			s.UpdatedAt.Format(time.RFC3339), age)
	case s.Running:
		return fmt.Sprintf("not running; the last run (pid %d) ended without a final status "+
			"(killed?)", s.PID)
	case s.Outcome != "":
		return fmt.Sprintf("not running; last run %s at %s", s.Outcome,
			s.UpdatedAt.Format(time.RFC3339))
	}
	return "not running"
}

func printRecentErrors(w io.Writer, errs []recentError) {
	if len(errs) == 0 {
		return
	}
	fmt.Fprintln(w, "recent errors (export has all of them):")
	for _, e := range errs {
		who := e.UserID
		if who == "" {
			who = e.Key
		}
		fmt.Fprintf(w, "  line %d  %s  %s", e.Row, who, e.State)
		if e.HTTPStatus != 0 {
			fmt.Fprintf(w, "  %d", e.HTTPStatus)
		}
		if e.Code != "" {
			fmt.Fprintf(w, " %s", e.Code)
		}
		if e.Message != "" {
			fmt.Fprintf(w, ": %s", e.Message)
		}
		fmt.Fprintln(w)
	}
}
