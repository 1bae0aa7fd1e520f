package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/internal/baseline"
	"github.com/gcbulk/gcbulk/store"
)

// Approaches and window kinds the bench compares.
const (
	approachGcbulk   = "gcbulk"
	approachLearn    = "gcbulk-learn"
	approachBaseline = "baseline"

	// learnCeiling is how far above the limit gcbulk-learn's --max-rate is
	// set: it is not told the limit and must learn it from 429s.
	learnCeiling  = 4
	windowFixed   = "fixed"
	windowSliding = "sliding"
)

// benchProbeEvery is how often the bench samples the simulator's counters
// to time the changes.
const benchProbeEvery = 20 * time.Millisecond

func benchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "time gcbulk against the common script approach on the built-in simulator",
		Description: "For each window kind and approach, starts the simulator in-process on a\n" +
			"free loopback port with --users generated users and the limit --limit (N per\n" +
			"WINDOW per token; default 300/5s, the shape of Genesys's 300 a minute twelve\n" +
			"times faster), writes a plan changing the title and department of every user\n" +
			"(and the division of one in twenty), runs the approach over real HTTP and\n" +
			"reads the simulator's counters. Each run gets a fresh simulator.\n\n" +
			"gcbulk is the run command's engine, with --max-rate set to the limit;\n" +
			"gcbulk-learn is the same with --max-rate four times the limit, so it must\n" +
			"learn the limit from 429s. baseline\n" +
			"is what most scripts do: 10 workers, one GET and one PATCH per user, each\n" +
			"worker retrying 429s and 5xx on its own with backoff from 1s doubling to 60s,\n" +
			"at most 5 attempts, Retry-After ignored.\n\n" +
			"Columns: wall time; applied changes per second after the first window (one\n" +
			"change is one user's PATCH applied; the first window is left out so a burst\n" +
			"the limit allows at the start does not flatter anyone) and that as a share\n" +
			"of the limit; requests and 429 answers the simulator counted (token requests\n" +
			"included); requests per changed user; failed items. A run still going after\n" +
			"--timeout is stopped and shown with its progress; the wall-time ratio is then\n" +
			"a lower bound, with a projection from its pace.\n\n" +
			"Examples:\n" +
			"  $ gcbulk bench\n" +
			"  $ gcbulk bench --users 600 --windows sliding --approaches gcbulk\n" +
			"  $ gcbulk bench --limit 60/1s --users 300 --json",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "users", Value: 3000, Usage: "users in each simulated directory"},
			&cli.StringFlag{Name: "limit", Value: "300/5s",
				Usage: "simulated limit: requests per token per window, as N/WINDOW"},
			&cli.StringFlag{Name: "windows", Value: "fixed,sliding",
				Usage: "window kinds to run, comma-separated: fixed, sliding"},
			&cli.StringFlag{Name: "approaches", Value: "gcbulk,gcbulk-learn,baseline",
				Usage: "approaches to run, comma-separated: gcbulk (--max-rate at the limit), " +
					"gcbulk-learn (--max-rate 4x the limit, learned from 429s), baseline"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the directory and the plan"},
			&cli.DurationFlag{Name: "timeout", Value: 60 * time.Second,
				Usage: "longest one run may take before it is stopped and shown unfinished"},
			&cli.BoolFlag{Name: flagJSON, Usage: "print the results as JSON"},
		}, logFlagsAt("warn")...),
		Action: func(c *cli.Context) error { return benchAction(c, e) },
	}
}

// benchOptions are the bench's checked flags.
type benchOptions struct {
	users      int
	limit      int
	window     time.Duration
	windows    []string
	approaches []string
	seed       int64
	timeout    time.Duration
}

// perSec is the simulated limit in requests per second.
func (o benchOptions) perSec() float64 { return float64(o.limit) / o.window.Seconds() }

// benchOptionsOf checks the bench's flags.
func benchOptionsOf(c *cli.Context) (benchOptions, error) {
	o := benchOptions{users: c.Int("users"), seed: c.Int64("seed"), timeout: c.Duration("timeout")}
	if o.users < 1 || o.users > 100000 {
		return o, usageErrorf("--users %d: give 1 to 100000", o.users)
	}
	if o.timeout <= 0 {
		return o, usageErrorf("--timeout %s: give a positive duration such as 2m", o.timeout)
	}
	var err error
	o.limit, o.window, err = parseRateLimit(c.String("limit"))
	if err != nil || o.limit < 1 || o.window < time.Millisecond {
		return o, usageErrorf("--limit %q: write requests per window as N/WINDOW, "+
			"e.g. 300/5s or 300/1m", c.String("limit"))
	}
	if o.windows, err = listFlag(c, "windows", windowFixed, windowSliding); err != nil {
		return o, err
	}
	o.approaches, err = listFlag(c, "approaches", approachGcbulk, approachLearn, approachBaseline)
	return o, err
}

// listFlag splits a comma-separated flag and checks each value is one of
// allowed.
func listFlag(c *cli.Context, name string, allowed ...string) ([]string, error) {
	var out []string
	for v := range strings.SplitSeq(c.String(name), ",") {
		v = strings.ToLower(strings.TrimSpace(v))
		if !slices.Contains(allowed, v) {
			return nil, usageErrorf("--%s: %q is not one of %s", name, v,
				strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func benchAction(c *cli.Context, e *env) error {
	o, err := benchOptionsOf(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gcbulk-bench-")
	if err != nil {
		return fmt.Errorf("create bench directory: %w", err)
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	defer benchSignals(e, c.App.ErrWriter, cancel)()

	rep := benchReport{Users: o.users, Limit: o.limit, WindowSec: o.window.Seconds(),
		LimitPerSec: o.perSec(), TimeoutSec: o.timeout.Seconds(), Seed: o.seed}
	for _, w := range o.windows {
		for _, a := range o.approaches {
			fmt.Fprintf(c.App.ErrWriter, "bench: %s window, %s ...\n", w, a)
			b := benchRun{c: c, e: e, o: o, log: log, window: w, approach: a,
				dir: filepath.Join(dir, w+"-"+a)}
			row, err := b.run(ctx)
			if err != nil {
				return err
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	rep.Ratios = ratiosOf(rep.Rows)
	if c.Bool(flagJSON) {
		return printJSON(c.App.Writer, rep)
	}
	rep.print(c.App.Writer)
	return nil
}

// benchSignals cancels the bench on SIGINT or SIGTERM and quits at once
// on a second one. It returns a function that stops watching.
func benchSignals(e *env, errw io.Writer, cancel context.CancelFunc) func() {
	sigc := make(chan os.Signal, 2)
	done := make(chan struct{})
	e.notify(sigc)
	go func() {
		select {
		case <-sigc:
		case <-done:
			return
		}
		fmt.Fprintln(errw, "\nstopping the bench; press Ctrl-C again to quit at once")
		cancel()
		select {
		case <-sigc:
			e.exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() {
		e.stop(sigc)
		close(done)
	}
}

// benchRun is one approach run under one window kind.
type benchRun struct {
	c        *cli.Context
	e        *env
	o        benchOptions
	log      *slog.Logger
	window   string
	approach string
	dir      string
	hc       *http.Client // the run's API connections
}

// benchOutcome is what an approach reports of its own run.
type benchOutcome struct {
	applied, failed, done, total int
}

// run starts a fresh simulator, runs the approach against it under the
// timeout and measures it.
func (b benchRun) run(ctx context.Context) (benchRow, error) {
	users := sim.Generate(b.o.users, b.o.seed)
	srv, url, stop, err := sim.StartServer(sim.Config{RateLimit: b.o.limit,
		RateWindow: b.o.window, Sliding: b.window == windowSliding, Seed: b.o.seed}, users)
	if err != nil {
		return benchRow{}, fmt.Errorf("start simulator: %w", err)
	}
	defer stop()
	// Closing the client's connections first lets the simulator stop at
	// once instead of waiting for them.
	tr := benchTransport()
	defer tr.CloseIdleConnections()
	b.hc = &http.Client{Transport: tr}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return benchRow{}, fmt.Errorf("create bench directory: %w", err)
	}
	items := benchPlan(users, b.o.seed)

	runCtx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	p := startProbe(srv, benchProbeEvery)
	start := time.Now()
	out, err := b.approachRun(runCtx, url, items)
	wall := time.Since(start)
	samples := p.stop()

	timedOut := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	switch {
	case ctx.Err() != nil:
		return benchRow{}, exitWith(exitInterrupted, errors.New("bench interrupted"))
	case err != nil && !timedOut:
		return benchRow{}, fmt.Errorf("run %s under a %s window: %w", b.approach, b.window, err)
	}
	return b.row(out, wall, srv.Stats(), samples), nil
}

// approachRun runs the chosen approach against the simulator at url.
func (b benchRun) approachRun(ctx context.Context, url string,
	items []baseline.Item) (benchOutcome, error) {
	if b.approach == approachBaseline {
		return b.runBaseline(ctx, url, items)
	}
	return b.runGcbulk(ctx, url, items, b.approach == approachLearn)
}

// runGcbulk writes the plan and runs it the way `gcbulk run` does, paced
// by the limit as a user would set --max-rate to their org's, or, with
// learn, with a ceiling far above it, so the limit is learned from 429s.
func (b benchRun) runGcbulk(ctx context.Context, url string,
	items []baseline.Item, learn bool) (benchOutcome, error) {
	err := writeFileAtomic(filepath.Join(b.dir, "plan.csv"), func(w io.Writer) error {
		return writeBenchPlan(w, items)
	})
	if err != nil {
		return benchOutcome{}, err
	}
	p := demoParams(b.c, b.dir, url, b.o.limit, b.o.window, b.log)
	p.progress = progressNone
	p.api.HTTPClient = b.hc
	if learn {
		p.sched.MaxRate *= learnCeiling
		p.sched.Rate *= learnCeiling
	}
	p.resume = "a bench run is not resumed"

	res, err := execute(ctx, b.e, p, io.Discard, io.Discard)
	out := benchOutcome{applied: res.counts[store.Applied], failed: res.failed()}
	for s, n := range res.counts {
		out.total += n
		if s.Terminal() {
			out.done += n
		}
	}
	return out, err
}

// runBaseline runs the common approach with a client that paces nothing.
func (b benchRun) runBaseline(ctx context.Context, url string,
	items []baseline.Item) (benchOutcome, error) {
	client, err := genesys.NewClient(genesys.Config{ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, APIURL: url, HTTPClient: b.hc, Logger: b.log})
	if err != nil {
		return benchOutcome{}, fmt.Errorf("set up the API client: %w", err)
	}
	res, err := baseline.Run(ctx, client, items, baseline.Config{Logger: b.log})
	return benchOutcome{applied: res.Applied, failed: res.Failed, done: res.Done(),
		total: len(items)}, err
}

// benchTransport pools connections as the API client's own transport
// does, for both approaches alike.
func benchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	return t
}

// benchTitles and benchDepartments differ from every value the simulator
// generates, so every user of the bench plan has a change to apply.
var (
	benchTitles      = []string{"Care Advocate", "Care Specialist", "Care Lead"}
	benchDepartments = []string{"Care North", "Care South", "Care East", "Care West"}
)

// benchPlan changes the title and department of every user, and moves one
// user in twenty to another division.
func benchPlan(users []genesys.User, seed int64) []baseline.Item {
	items := make([]baseline.Item, 0, len(users))
	for i, u := range users {
		k := i + int(seed%7)
		want := map[string]string{
			genesys.FieldTitle:      benchTitles[k%len(benchTitles)],
			genesys.FieldDepartment: benchDepartments[k%len(benchDepartments)],
		}
		if i%20 == 10 && u.Division != nil {
			want[genesys.FieldDivision] = nextDivision(u.Division.ID)
		}
		items = append(items, baseline.Item{UserID: u.ID, Want: want})
	}
	return items
}

// nextDivision returns the simulator division after id, round the list.
func nextDivision(id string) string {
	for i, d := range sim.Divisions {
		if d.ID == id {
			return sim.Divisions[(i+1)%len(sim.Divisions)].ID
		}
	}
	return sim.Divisions[0].ID
}

// writeBenchPlan writes items as a CSV plan keyed by id.
func writeBenchPlan(w io.Writer, items []baseline.Item) error {
	cw := csv.NewWriter(w)
	cols := []string{"id", genesys.FieldTitle, genesys.FieldDepartment, genesys.FieldDivision}
	if err := cw.Write(cols); err != nil {
		return fmt.Errorf("write bench plan: %w", err)
	}
	for _, it := range items {
		row := []string{it.UserID, it.Want[genesys.FieldTitle],
			it.Want[genesys.FieldDepartment], it.Want[genesys.FieldDivision]}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write bench plan: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write bench plan: %w", err)
	}
	return nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// benchSample is the simulator's counters at one moment.
type benchSample struct {
	at       time.Time
	requests int64
	patches  int64
}

// probe samples the simulator's counters while a run goes on.
type probe struct {
	quit chan struct{}
	done chan []benchSample
}

// startProbe samples srv every interval until stop.
func startProbe(srv *sim.Server, every time.Duration) *probe {
	p := &probe{quit: make(chan struct{}), done: make(chan []benchSample, 1)}
	take := func(samples []benchSample) []benchSample {
		st := srv.Stats()
		return append(samples, benchSample{at: time.Now(), requests: st.Requests,
			patches: st.PatchesApplied})
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		samples := take(nil)
		for {
			select {
			case <-t.C:
				samples = take(samples)
			case <-p.quit:
				p.done <- take(samples)
				return
			}
		}
	}()
	return p
}

// stop ends sampling and returns the samples, the last taken at once.
func (p *probe) stop() []benchSample {
	close(p.quit)
	return <-p.done
}

// steadyRate is the pace of applied changes after the first window: the
// changes applied from the end of the first window (counted from the first
// request) to the last change, over that time. ok is false when the run
// made no change after its first window.
func steadyRate(samples []benchSample, window time.Duration) (perSec float64, ok bool) {
	first := slices.IndexFunc(samples, func(s benchSample) bool { return s.requests > 0 })
	if first < 0 {
		return 0, false
	}
	windowEnd := samples[first].at.Add(window)
	base := first
	for i := first; i < len(samples) && !samples[i].at.After(windowEnd); i++ {
		base = i
	}
	final := samples[len(samples)-1].patches
	last := slices.IndexFunc(samples, func(s benchSample) bool { return s.patches == final })

	changes := final - samples[base].patches
	secs := samples[last].at.Sub(samples[base].at).Seconds()
	if changes <= 0 || secs <= 0 {
		return 0, false
	}
	return float64(changes) / secs, true
}

// benchReport is the whole bench's result.
type benchReport struct {
	Users       int          `json:"users"`
	Limit       int          `json:"limit"`
	WindowSec   float64      `json:"window_sec"`
	LimitPerSec float64      `json:"limit_per_sec"`
	TimeoutSec  float64      `json:"timeout_sec"`
	Seed        int64        `json:"seed"`
	Rows        []benchRow   `json:"rows"`
	Ratios      []benchRatio `json:"ratios"`
}

// benchRow is one approach run under one window kind.
type benchRow struct {
	Window   string `json:"window"`
	Approach string `json:"approach"`
	Finished bool   `json:"finished"`
	Done     int    `json:"done"`
	Total    int    `json:"total"`
	Applied  int    `json:"applied"`
	Failed   int    `json:"failed"`

	WallSec float64 `json:"wall_sec"`
	// ChangesPerSec is the pace of applied changes after the first window;
	// 0 when the run made none then.
	ChangesPerSec float64 `json:"changes_per_sec"`
	LimitPct      float64 `json:"limit_pct"`

	Requests          int64   `json:"requests"`
	RateLimited       int64   `json:"rate_limited"`
	RateLimitedPct    float64 `json:"rate_limited_pct"`
	RequestsPerChange float64 `json:"requests_per_changed_user"`
}

// row measures a finished or stopped run.
func (b benchRun) row(out benchOutcome, wall time.Duration, st sim.Stats,
	samples []benchSample) benchRow {
	r := benchRow{
		Window: b.window, Approach: b.approach, Finished: out.total > 0 && out.done == out.total,
		Done: out.done, Total: out.total, Applied: out.applied, Failed: out.failed,
		WallSec: wall.Seconds(), Requests: st.Requests, RateLimited: st.RateLimited,
	}
	if rate, ok := steadyRate(samples, b.o.window); ok {
		r.ChangesPerSec = rate
		r.LimitPct = 100 * rate / b.o.perSec()
	}
	if st.Requests > 0 {
		r.RateLimitedPct = 100 * float64(st.RateLimited) / float64(st.Requests)
	}
	if out.applied > 0 {
		r.RequestsPerChange = float64(st.Requests) / float64(out.applied)
	}
	return r
}

// projectedWall is the wall time the run would have taken at its pace: its
// wall time when it finished.
func (r benchRow) projectedWall() float64 {
	if r.Finished || r.Done == 0 {
		return r.WallSec
	}
	return r.WallSec * float64(r.Total) / float64(r.Done)
}

// benchRatio compares the baseline's wall time with gcbulk's under one
// window kind.
type benchRatio struct {
	Window string `json:"window"`
	// Ratio is baseline wall time over gcbulk's, as measured; a lower bound
	// when the baseline did not finish.
	Ratio float64 `json:"ratio"`
	// Exact is true when both runs finished; LowerBound when only gcbulk
	// did.
	Exact      bool `json:"exact"`
	LowerBound bool `json:"lower_bound"`
	// Projected uses, for a run that did not finish, its wall time at the
	// pace it kept.
	Projected float64 `json:"projected"`
}

// ratiosOf compares baseline and gcbulk under each window kind run with
// both.
func ratiosOf(rows []benchRow) []benchRatio {
	var out []benchRatio
	for _, g := range rows {
		if g.Approach != approachGcbulk || g.WallSec <= 0 {
			continue
		}
		for _, b := range rows {
			if b.Approach != approachBaseline || b.Window != g.Window {
				continue
			}
			out = append(out, benchRatio{Window: g.Window, Ratio: b.WallSec / g.WallSec,
				Exact: g.Finished && b.Finished, LowerBound: g.Finished && !b.Finished,
				Projected: b.projectedWall() / g.projectedWall()})
		}
	}
	return out
}

// print writes the report as a table with a legend.
func (rep benchReport) print(w io.Writer) {
	fmt.Fprintf(w, "bench: %d users, limit %d per %s (%.4g requests/s), seed %d, "+
		"timeout %s a run\n\n", rep.Users, rep.Limit, secondsText(rep.WindowSec),
		rep.LimitPerSec, rep.Seed, secondsText(rep.TimeoutSec))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "window\tapproach\twall s\tchanges/s\t% limit\trequests\t429s\t429 %\t"+
		"req/user\tfailed\tfinished\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%d\t%d\t%.1f%%\t%s\t%d\t%s\t\n", r.Window,
			r.Approach, r.WallSec, orDash(r.ChangesPerSec, "%.1f"),
			orDash(r.LimitPct, "%.1f%%"), r.Requests, r.RateLimited, r.RateLimitedPct,
			orDash(r.RequestsPerChange, "%.3f"), r.Failed, finishedText(r))
	}
	_ = tw.Flush()

	if len(rep.Ratios) > 0 {
		fmt.Fprintln(w)
	}
	for _, q := range rep.Ratios {
		fmt.Fprintf(w, "%s window: baseline/gcbulk wall time %s\n", q.Window, ratioText(q))
	}
	fmt.Fprint(w, "\nchanges/s: users whose PATCH was applied per second, from the end of "+
		"the first window\nto the last change; % limit: that over the limit. requests and "+
		"429s as the simulator\ncounted them, token requests included. req/user: requests "+
		"per user changed.\n")
}

// finishedText says whether a run finished, or how far it got.
func finishedText(r benchRow) string {
	if r.Finished {
		return "yes"
	}
	return fmt.Sprintf("no, %d/%d", r.Done, r.Total)
}

// ratioText formats a wall-time ratio with what it is worth.
func ratioText(q benchRatio) string {
	switch {
	case q.Exact:
		return fmt.Sprintf("%.2fx", q.Ratio)
	case !q.LowerBound:
		return fmt.Sprintf("~%.1fx projected from both runs' pace (gcbulk did not finish)",
			q.Projected)
	}
	return fmt.Sprintf(">= %.2fx at the timeout; ~%.1fx projected from its pace",
		q.Ratio, q.Projected)
}

// orDash formats v, or a dash when it was not measured.
func orDash(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// secondsText writes a number of seconds as a duration.
func secondsText(s float64) string {
	return time.Duration(s * float64(time.Second)).String()
}
