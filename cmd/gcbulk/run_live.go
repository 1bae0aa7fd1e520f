package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

// runResult is what a finished (or stopped) run reports.
type runResult struct {
	ledger   string
	imported *store.ImportSummary
	summary  scheduler.Summary
	counts   map[store.State]int
	elapsed  time.Duration
	requests int64
	limited  int
	dryRun   bool
}

// failed counts items in failed states.
func (r runResult) failed() int {
	n := 0
	for s, c := range r.counts {
		if s.Failed() {
			n += c
		}
	}
	return n
}

// execute imports or opens the ledger and runs the scheduler on it with
// the live display, the status snapshot and signal handling. The returned
// error is already mapped to an exit status where it matters.
func execute(parent context.Context, e *env, p runParams, w, errw io.Writer) (runResult,
	error) {
	l, imported, err := prepareLedger(p)
	if err != nil {
		return runResult{}, err
	}
	defer l.Close()
	res := runResult{ledger: p.ledger, imported: imported, dryRun: p.sched.DryRun}
	if imported != nil {
		fmt.Fprintf(w, "plan %s: %d rows, %d items (%d duplicate rows merged, %d keyed by "+
			"e-mail)\n", p.plan, imported.Rows, imported.Items, imported.Duplicates,
			imported.EmailKeyed)
	}

	gov := scheduler.NewGovernor(p.sched)
	api := p.api
	api.Pacer = gov
	client, err := genesys.NewClient(api)
	if err != nil {
		return res, usageErrorf("set up the API client: %w", err)
	}
	s := scheduler.New(l, client, gov, p.sched)
	p.log.Info("run starting", "ledger", p.ledger, "api_host", apiHost(p.api),
		"auth", "client_credentials", "client_id", p.api.ClientID, "dry_run", p.sched.DryRun)

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	unwatch := watchSignals(e, errw, cancel, p.resume)
	defer unwatch()

	if !p.sched.DryRun {
		if err := recoverInFlight(ctx, l, client, p.log); err != nil {
			return res, runError(err, p, res)
		}
	}

	live := startLive(e, p, l, s, errw)
	start := time.Now()
	sum, runErr := s.Run(ctx)
	res.elapsed = time.Since(start)
	live.stop(runOutcome(runErr))

	res.summary = sum
	res.requests, res.limited = sum.Counters.Requests, sum.Governor.RateLimited
	if res.counts, err = l.Counts(); err != nil {
		return res, exitWith(exitInterrupted, fmt.Errorf("count items: %w", err))
	}
	return res, runError(runErr, p, res)
}

// recoverInFlight settles the items a killed run left in flight before any
// new write is sent: each is re-read, and is recorded as applied (verified)
// when its user already holds the desired values. Items whose read fails
// stay in flight and the scheduler re-reads them before writing, so that
// failure is logged, not fatal; an authentication failure or an interrupt
// is returned.
func recoverInFlight(ctx context.Context, l *store.Ledger, r checkpoint.Reader,
	log *slog.Logger) error {
	sum, err := checkpoint.Recover(ctx, l, r, time.Now)
	if sum != (checkpoint.RecoverSummary{}) {
		log.Info("recovered items left in flight by the last run", "verified", sum.Verified,
			"requeued", sum.Requeued, "not_found", sum.NotFound)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, checkpoint.ErrUncertain):
		log.Warn("some in-flight items could not be re-read; the scheduler re-reads them "+
			"before any write", "err", err)
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("recover in-flight items: %w", scheduler.ErrInterrupted)
	}
	return err
}

// runOutcome names how a run ended, for the final status snapshot.
func runOutcome(err error) string {
	switch {
	case err == nil:
		return "finished"
	case errors.Is(err, scheduler.ErrInterrupted):
		return "interrupted"
	default:
		return "stopped: " + err.Error()
	}
}

// runError maps the scheduler's error to an exit status with what to do.
func runError(err error, p runParams, res runResult) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, scheduler.ErrInterrupted):
		done := 0
		total := 0
		for s, n := range res.counts {
			total += n
			if s.Terminal() {
				done += n
			}
		}
		return exitWith(exitInterrupted, fmt.Errorf("interrupted with %d of %d items done; "+
			"resume with: %s", done, total, p.resume))
	case errors.Is(err, scheduler.ErrUnreachable):
		return exitWith(exitInterrupted, unreachableError(err, p))
	case errors.Is(err, genesys.ErrTokenEndpoint):
		return exitWith(exitAuth, fmt.Errorf("%w\nfix --%s (the token URL is the API URL "+
			"plus /oauth/token) or --%s, then: %s", err, flagAPIURL, flagRegion,
			p.resumeFix))
	case exitCode(err) == exitAuth:
		return exitWith(exitAuth, fmt.Errorf("%w\nfix the OAuth client id and secret "+
			"(%s, %s) or the client's roles (or --%s/--%s if this is the wrong org), "+
			"then: %s", err, envClientID, envClientSecret, flagAPIURL, flagRegion,
			p.resumeFix))
	}
	return exitWith(exitInterrupted, fmt.Errorf("run stopped: %w\nthe ledger records "+
		"everything done so far; fix the cause and resume with: %s", err, p.resume))
}

// unreachableError says the API never answered this session, and how to
// go on: the ledger is intact and resumable.
func unreachableError(err error, p runParams) error {
	last := err.Error()
	var ue *scheduler.UnreachableError
	if errors.As(err, &ue) && ue.LastError != "" {
		last = ue.LastError
	}
	return fmt.Errorf("cannot reach the API at %s: %s; check --%s/--%s and the network, "+
		"then resume with: %s", apiHost(p.api), last, flagAPIURL, flagRegion, p.resume)
}

// apiHost names the API host for logs: never a URL's user info.
func apiHost(cfg genesys.Config) string {
	if cfg.APIURL != "" {
		return hostOf(cfg.APIURL)
	}
	if d, ok := genesys.Regions()[strings.ToLower(cfg.Region)]; ok {
		return "api." + d
	}
	return cfg.Region
}

// viewOf turns the scheduler's progress into what the display shows.
func viewOf(p scheduler.Progress) progressView {
	v := progressView{
		Counts: p.Counts, Done: p.Done, Total: p.Total, Rate: p.Rate, Limit: p.Limit,
		RateLimited: p.RateLimited, Breaker: p.Breaker, LastError: p.LastError,
		Elapsed: p.Elapsed, ETA: p.ETA, Paused: p.Paused,
		Applied: p.Counts[store.Applied], Unchanged: p.Counts[store.Unchanged],
	}
	for s, n := range p.Counts {
		if s.Failed() {
			v.Failed += n
		}
	}
	return v
}

// live runs the display and the status snapshot writer during a run.
type live struct {
	e       *env
	path    string
	plan    string
	ledger  failedItems
	poll    func() progressView
	started time.Time
	disp    *display
	log     interface{ Warn(string, ...any) }

	mu         sync.Mutex
	lastFailed int
	recent     []recentError

	quit chan string
	done chan struct{}
}

// startLive starts the display and the snapshot writer for a run.
func startLive(e *env, p runParams, l *store.Ledger, s *scheduler.Scheduler,
	errw io.Writer) *live {
	poll := func() progressView { return viewOf(s.Progress()) }
	lv := &live{e: e, path: statusPath(p.ledger), plan: p.plan, ledger: l, poll: poll,
		started: e.now(), log: p.log, lastFailed: -1, quit: make(chan string),
		done: make(chan struct{})}
	lv.disp = startDisplay(p.progress, errw, poll)
	go lv.loop()
	return lv
}

func (lv *live) loop() {
	defer close(lv.done)
	lv.write(true, "")
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			lv.write(true, "")
		case outcome := <-lv.quit:
			lv.write(false, outcome)
			return
		}
	}
}

// stop ends the display and writes the final snapshot.
func (lv *live) stop(outcome string) {
	lv.disp.stop()
	lv.quit <- outcome
	<-lv.done
}

// write saves a status snapshot; a failure is logged, never fatal: the
// snapshot is a convenience, the ledger is the record.
func (lv *live) write(running bool, outcome string) {
	v := lv.poll()
	snap := statusSnapshot{
		Ledger: strings.TrimSuffix(lv.path, statusSuffix), Source: "snapshot",
		Running: running, Outcome: outcome, PID: lv.e.pid, UpdatedAt: lv.e.now(),
		Plan: lv.plan, Done: v.Done, Total: v.Total, Counts: map[string]int{},
		RatePerMin: v.Rate * 60, LimitPerMin: v.Limit * 60, RateLimited: v.RateLimited,
		Breaker: v.Breaker, LastError: v.LastError, ElapsedSec: v.Elapsed.Seconds(),
		ETASec: v.ETA.Seconds(), Paused: v.Paused,
	}
	fillCounts(&snap, v.Counts)
	snap.RecentErrors = lv.recentErrors(v.Failed)

	if err := saveSnapshot(lv.path, snap); err != nil {
		lv.log.Warn("write status snapshot", "path", lv.path, "err", err)
	}
}

// recentErrors rereads the latest failures only when their count moved.
func (lv *live) recentErrors(failed int) []recentError {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if failed != lv.lastFailed {
		if errs, err := recentErrors(lv.ledger, recentErrorsShown); err == nil {
			lv.recent, lv.lastFailed = errs, failed
		}
	}
	if lv.recent == nil {
		return []recentError{}
	}
	return lv.recent
}

// report prints the run's outcome and returns the exit status it means.
func (r runResult) report(w io.Writer, p runParams) error {
	if r.dryRun {
		return r.reportDryRun(w)
	}
	fmt.Fprintf(w, "run finished in %s\n", r.elapsed.Round(time.Second))
	printCounts(w, r.counts)
	fmt.Fprintf(w, "requests %d, 429s %d\n", r.requests, r.limited)
	n := r.failed()
	if n == 0 {
		return nil
	}
	return exitWith(exitFailed, fmt.Errorf("%d items failed; see which and why with: "+
		"gcbulk export --ledger %s --output %s", n, shellQuote(p.ledger),
		shellQuote(strings.TrimSuffix(p.ledger, ".db")+"-audit.csv")))
}

// reportDryRun prints what a dry run found: counts and a sample.
func (r runResult) reportDryRun(w io.Writer) error {
	sum := r.summary
	fmt.Fprintf(w, "dry run: %d items would change; nothing was written to Genesys\n",
		sum.WouldChange)
	printCounts(w, sum.Counts)
	if len(sum.Changes) > 0 {
		fmt.Fprintln(w, "sample of changes:")
	}
	for _, c := range sum.Changes {
		fmt.Fprintf(w, "  line %d  %s  %s: %q -> %q\n", c.Line, c.UserID, c.Field, c.Before,
			c.After)
	}
	fmt.Fprintf(w, "requests %d, 429s %d\n", r.requests, r.limited)
	return nil
}

// printCounts prints the non-zero state counts in display order.
func printCounts(w io.Writer, counts map[store.State]int) {
	states := make([]store.State, 0, len(counts))
	for s, n := range counts {
		if n > 0 {
			states = append(states, s)
		}
	}
	sort.Slice(states, func(i, j int) bool { return states[i] < states[j] })
	for _, s := range states {
		fmt.Fprintf(w, "  %-11s %d\n", s, counts[s])
	}
}
