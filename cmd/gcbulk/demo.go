package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

// demoSeed makes the demo's directory and plan the same every time.
const demoSeed = 20260301

func demoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "watch a whole run against a built-in simulator: no account, no files",
		Description: "Starts the Genesys Cloud simulator in-process on a free loopback port with\n" +
			"a generated directory (--users, default 2000), writes a realistic reorg plan\n" +
			"for it (title and department changes, some division moves, rows keyed by\n" +
			"e-mail, a few rows that already match, a few unknown users), runs it with the\n" +
			"live display, and writes the audit export.\n\n" +
			"--rate-limit sets the simulator's limit as N/WINDOW (default 50/1s): the shape\n" +
			"of Genesys's default 300 requests per minute per token, ten times faster and\n" +
			"with a 60 times shorter window, so 2000 users finish in about a minute. The\n" +
			"run's --max-rate follows it, as it would follow your org's limit.\n\n" +
			"Everything is written to --dir (default: a new temporary directory, printed):\n" +
			"plan.csv, ledger.db and export.csv. The unknown users end as not_found, as\n" +
			"they should; the exit status is 0 when the run ended exactly as planned.\n\n" +
			"Examples:\n" +
			"  $ gcbulk demo\n" +
			"  $ gcbulk demo --users 500 --dir ./demo --progress lines\n" +
			"  $ gcbulk demo --rate-limit 300/1m --users 200   # real pace",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "users", Value: 2000, Usage: "users in the simulated directory"},
			&cli.StringFlag{Name: "dir", TakesFile: true,
				Usage: "`DIR` for the plan, ledger and export (default: a new temp dir)"},
			&cli.StringFlag{Name: "rate-limit", Value: "50/1s",
				Usage: "simulated limit: requests per token per window, as N/WINDOW"},
			progressFlag(),
		}, logFlagsAt("warn")...),
		Action: func(c *cli.Context) error { return demoAction(c, e) },
	}
}

// checkDemoFlags validates the demo's flags and returns the directory size
// and the simulated limit.
func checkDemoFlags(c *cli.Context) (int, int, time.Duration, error) {
	n := c.Int("users")
	if n < 1 || n > 100000 {
		return 0, 0, 0, usageErrorf("--users %d: give 1 to 100000", n)
	}
	limit, window, err := parseRatePerWindow(c.String("rate-limit"))
	if err != nil {
		return 0, 0, 0, err
	}
	return n, limit, window, checkProgressMode(c.String(flagProgress))
}

func demoAction(c *cli.Context, e *env) error {
	n, limit, window, err := checkDemoFlags(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	dir, err := demoDir(c.String("dir"))
	if err != nil {
		return err
	}
	w := c.App.Writer

	users := sim.Generate(n, demoSeed)
	srv, url, stop, err := sim.StartServer(sim.Config{RateLimit: limit, RateWindow: window,
		Seed: demoSeed, Logger: log}, users)
	if err != nil {
		return exitWith(exitUsage, fmt.Errorf("start simulator: %w", err))
	}
	defer stop()
	fmt.Fprintf(w, "simulating a Genesys Cloud org of %d users at %s\n", n, url)
	fmt.Fprintf(w, "rate limit %d requests per %s per token (Genesys's default is 300 per "+
		"1m)\n", limit, window)

	planPath := filepath.Join(dir, "plan.csv")
	var plan demoPlanStats
	err = writeFileAtomic(planPath, func(f io.Writer) error {
		plan, err = writeDemoPlan(f, users, demoSeed)
		return err
	})
	if err != nil {
		return exitWith(exitUsage, err)
	}
	// The run's import line gives the rows and e-mail keys; this adds what
	// only the demo knows about its plan.
	fmt.Fprintf(w, "wrote a reorganisation plan: %d division moves, %d rows already matching, "+
		"%d unknown users\n", plan.Moves, plan.Matching, plan.Unknown)

	p := demoParams(c, dir, url, limit, window, log)
	res, err := execute(c.Context, e, p, w, c.App.ErrWriter)
	if err != nil {
		return err
	}
	return demoReport(w, p, res, plan, srv.Stats(), dir)
}

// demoParams sets up the run of the demo plan against the simulator.
func demoParams(c *cli.Context, dir, url string, limit int, window time.Duration,
	log *slog.Logger) runParams {
	p := runParams{
		ledger: filepath.Join(dir, "ledger.db"),
		plan:   filepath.Join(dir, "plan.csv"),
		api: genesys.Config{ClientID: sim.DefaultClientID,
			ClientSecret: sim.DefaultClientSecret, APIURL: url},
		progress: resolveProgressMode(c.String(flagProgress), c.App.ErrWriter),
		log:      log,
	}
	p.api.Logger = log
	perSec := float64(limit) / window.Seconds()
	p.sched = scheduler.Config{
		// Start just under the limit and learn the rest, as a real run does
		// with its default of 285 a minute under Genesys's 300.
		Rate:    perSec * 0.95,
		MaxRate: perSec,
		Logger:  p.log,
	}
	p.resume = fmt.Sprintf("gcbulk demo cannot be resumed (its simulator is gone); "+
		"the ledger %s records what was done", shellQuote(p.ledger))
	return p
}

// demoReport prints the demo's summary, writes the export and checks the
// run ended as planned: only the unknown users failed, as not_found.
func demoReport(w io.Writer, p runParams, res runResult, plan demoPlanStats, st sim.Stats,
	dir string) error {
	exportPath := filepath.Join(dir, "export.csv")
	l, err := store.Open(p.ledger, store.Options{ReadOnly: true, LockTimeout: lockWait})
	if err != nil {
		return exitWith(exitFailed, fmt.Errorf("open ledger for export: %w", err))
	}
	err = writeFileAtomic(exportPath, func(f io.Writer) error { return writeExport(l, "csv", f) })
	l.Close()
	if err != nil {
		return exitWith(exitFailed, err)
	}

	c := res.counts
	fmt.Fprintf(w, "\ndone in %s: %d applied, %d unchanged, %d failed\n",
		res.elapsed.Round(100*time.Millisecond), c[store.Applied], c[store.Unchanged],
		res.failed())
	fmt.Fprintf(w, "simulator saw %d requests, %d answered 429\n", st.Requests,
		st.ByStatus["429"])
	fmt.Fprintf(w, "ledger  %s\nexport  %s\n", p.ledger, exportPath)
	fmt.Fprintf(w, "try:    gcbulk status --ledger %s\n", shellQuote(p.ledger))

	if res.failed() == plan.Unknown && c[store.NotFound] == plan.Unknown {
		fmt.Fprintf(w, "the %d unknown users ended as not_found, as planned\n", plan.Unknown)
		return nil
	}
	return exitWith(exitFailed, fmt.Errorf("expected exactly %d failures (the unknown "+
		"users, as not_found), got %d: see %s", plan.Unknown, res.failed(), exportPath))
}

// demoDir returns the demo's directory: dir (created if needed, and not
// holding an earlier demo), or a new temporary one.
func demoDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "gcbulk-demo-")
		if err != nil {
			return "", exitWith(exitUsage, fmt.Errorf("create demo directory: %w", err))
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", exitWith(exitUsage, fmt.Errorf("create demo directory: %w", err))
	}
	if ok, _ := fileExists(filepath.Join(dir, "ledger.db")); ok {
		return "", usageErrorf("%s already holds a demo ledger: choose another --dir "+
			"or remove it", dir)
	}
	return dir, nil
}

// parseRatePerWindow parses the demo's --rate-limit with the sim command's
// parser, and refuses no limit: the demo's run paces itself by it.
func parseRatePerWindow(s string) (int, time.Duration, error) {
	n, window, err := parseRateLimit(s)
	if err != nil || n < 1 || window < time.Millisecond {
		return 0, 0, usageErrorf("--rate-limit %q: write requests per window as N/WINDOW, "+
			"e.g. 300/1m or 50/1s", s)
	}
	return n, window, nil
}
