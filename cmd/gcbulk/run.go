package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

// Flags of the run command.
const (
	flagPlan        = "plan"
	flagAPIURL      = "api-url"
	flagRegion      = "region"
	flagClientID    = "client-id"
	flagMaxRate     = "max-rate"
	flagConcurrency = "concurrency"
	flagMaxAttempts = "max-attempts"
	flagDryRun      = "dry-run"
)

// snapshotEvery is how often a run rewrites <ledger>.status.json.
const snapshotEvery = time.Second

func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "apply a plan to Genesys Cloud users, or resume a run",
		Description: "With --plan and a ledger that does not exist yet, run checks the whole plan\n" +
			"(every problem is listed as file:line:col; nothing is sent and no ledger is\n" +
			"left behind if there is one), records it in the ledger and applies it. With an\n" +
			"existing ledger it resumes where the last run stopped; --plan may then be left\n" +
			"out, or must be the same plan the ledger was started with.\n\n" +
			"Credentials: GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET (or\n" +
			"GENESYSCLOUD_OAUTHCLIENT_SECRET_FILE) and GENESYSCLOUD_REGION. --client-id and\n" +
			"--region override the environment; the secret is never a flag. --api-url sends\n" +
			"to another base URL instead (plain http only on loopback, e.g. `gcbulk sim`).\n\n" +
			"The rate starts just under --max-rate (default 300 a minute, Genesys's default\n" +
			"limit) and adapts to the 429s it meets. --dry-run reads current values and\n" +
			"reports what would change, writing nothing to Genesys.\n\n" +
			"Ctrl-C (SIGINT) or SIGTERM stops gracefully: requests in flight finish, the\n" +
			"ledger is written, the command that resumes is printed and the exit status is 3.\n" +
			"A second Ctrl-C quits at once; the ledger is still safe to resume. While it\n" +
			"runs, <ledger>.status.json is rewritten every second for `gcbulk status`.\n\n" +
			"Exit status: 0 all applied or unchanged, 1 some items failed (see `gcbulk\n" +
			"export`), 2 usage or input error, 3 interrupted, 4 authentication failure.\n\n" +
			"Examples:\n" +
			"  $ gcbulk run --ledger reorg.db --plan reorg.csv\n" +
			"  $ gcbulk run --ledger reorg.db --plan reorg.csv --dry-run\n" +
			"  $ gcbulk run --ledger reorg.db          # resume after an interruption\n" +
			"  $ gcbulk run --ledger reorg.db --plan reorg.csv --api-url http://127.0.0.1:8080",
		Flags: append([]cli.Flag{
			ledgerFlag(),
			&cli.StringFlag{Name: flagPlan, TakesFile: true,
				Usage: "plan `FILE` (.csv, .jsonl or .ndjson); needed to start a new ledger"},
			&cli.StringFlag{Name: flagAPIURL, Usage: "API base `URL` instead of the region's " +
				"(e.g. a simulator on 127.0.0.1)"},
			&cli.StringFlag{Name: flagRegion, Usage: "region `CODE` such as eu-west-1 " +
				"(default: $GENESYSCLOUD_REGION)"},
			&cli.StringFlag{Name: flagClientID, Usage: "OAuth client `ID` " +
				"(default: $GENESYSCLOUD_OAUTHCLIENT_ID)"},
			&cli.Float64Flag{Name: flagMaxRate, Value: 300,
				Usage: "most requests per minute; raise it only if your org's limit is higher"},
			&cli.IntFlag{Name: flagConcurrency, Value: 8, Usage: "most requests in flight"},
			&cli.IntFlag{Name: flagMaxAttempts, Value: 8,
				Usage: "write attempts per item before it ends exhausted"},
			&cli.BoolFlag{Name: flagDryRun, Usage: "read and report what would change; " +
				"write nothing to Genesys"},
			progressFlag(),
		}, logFlags()...),
		Action: func(c *cli.Context) error { return runAction(c, e) },
	}
}

// runParams is everything a run needs, checked.
type runParams struct {
	ledger   string
	plan     string
	api      genesys.Config
	sched    scheduler.Config
	progress string // resolved: bar, lines or none
	log      *slog.Logger
	resume   string // the command that resumes this run
	// resumeFix resumes it once the target or the credentials are fixed:
	// the target's value is a placeholder, never the one that failed.
	resumeFix string
}

func runAction(c *cli.Context, e *env) error {
	p, err := runParamsOf(c, e)
	if err != nil {
		return err
	}
	res, err := execute(c.Context, e, p, c.App.Writer, c.App.ErrWriter)
	if err != nil {
		return err
	}
	return res.report(c.App.Writer, p)
}

// runParamsOf checks the run command's flags and credentials. Nothing is
// opened or sent yet.
func runParamsOf(c *cli.Context, e *env) (runParams, error) {
	p := runParams{ledger: c.String(flagLedger), plan: c.String(flagPlan)}
	if err := checkRunFlags(c); err != nil {
		return p, err
	}
	log, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return p, err
	}
	api, fromLedger, err := credentials(c, e, recordedSettings(p.ledger))
	if err != nil {
		return p, err
	}
	if fromLedger {
		log.Info("no --api-url or --region given: using the target the ledger records",
			"api_host", apiHost(api))
	}

	p.log = log
	api.Logger = log
	p.api = api
	p.progress = resolveProgressMode(c.String(flagProgress), c.App.ErrWriter)
	maxRate := c.Float64(flagMaxRate) / 60
	p.sched = scheduler.Config{
		// Start just under the ceiling, as the scheduler's own default does
		// under Genesys's 300 a minute, and learn the rest from the 429s.
		Rate:        maxRate * 0.95,
		MaxRate:     maxRate,
		Concurrency: c.Int(flagConcurrency),
		MaxAttempts: c.Int(flagMaxAttempts),
		DryRun:      c.Bool(flagDryRun),
		Logger:      log,
	}
	p.resume = resumeCommand(c, "")
	p.resumeFix = resumeCommand(c, "<REGION>")
	if api.APIURL != "" {
		p.resumeFix = resumeCommand(c, "<URL>")
	}
	return p, nil
}

// checkRunFlags validates the run command's flag values.
func checkRunFlags(c *cli.Context) error {
	if err := checkProgressMode(c.String(flagProgress)); err != nil {
		return err
	}
	if r := c.Float64(flagMaxRate); r < 1 || r > 100000 {
		return usageErrorf("--max-rate %v: give requests per minute, from 1 to 100000 "+
			"(Genesys's default limit is 300)", r)
	}
	if n := c.Int(flagConcurrency); n < 1 || n > 64 {
		return usageErrorf("--concurrency %d: give 1 to 64", n)
	}
	if n := c.Int(flagMaxAttempts); n < 1 || n > 100 {
		return usageErrorf("--max-attempts %d: give 1 to 100", n)
	}
	if plan := c.String(flagPlan); plan != "" {
		if st, err := os.Stat(plan); err == nil && st.IsDir() {
			return usageErrorf("read plan %s: is a directory; give the plan file "+
				"(.csv, .jsonl or .ndjson)", plan)
		}
		if _, err := planFormatOf(plan); err != nil {
			return err
		}
	}
	return nil
}

// resumeCommand is the command that resumes this run: the same flags,
// less the plan (the ledger holds it) and --dry-run. A non-empty target
// ("<URL>" or "<REGION>") replaces the target flags with a placeholder for
// the user to fill in.
func resumeCommand(c *cli.Context, target string) string {
	parts := []string{"gcbulk", "run", "--" + flagLedger, shellQuote(c.String(flagLedger))}
	switch target {
	case "<URL>":
		parts = append(parts, "--"+flagAPIURL, target)
	case "<REGION>":
		parts = append(parts, "--"+flagRegion, target)
	}
	for _, name := range []string{flagAPIURL, flagRegion, flagClientID, flagMaxRate,
		flagConcurrency, flagMaxAttempts} {
		isTarget := name == flagAPIURL || name == flagRegion
		if c.IsSet(name) && !(isTarget && target != "") {
			parts = append(parts, "--"+name, shellQuote(flagText(c, name)))
		}
	}
	return strings.Join(parts, " ")
}

// flagText returns a flag's value as it would be typed.
func flagText(c *cli.Context, name string) string {
	switch name {
	case flagMaxRate:
		return strconv.FormatFloat(c.Float64(name), 'f', -1, 64)
	case flagConcurrency, flagMaxAttempts:
		return strconv.Itoa(c.Int(name))
	}
	return c.String(name)
}

// prepareLedger opens the run's ledger, importing the plan into a new one
// or checking that a resumed ledger was started with the same plan.
func prepareLedger(p runParams) (*store.Ledger, *store.ImportSummary, error) {
	exists, err := ledgerExists(p.ledger)
	if err != nil {
		return nil, nil, err
	}
	if exists {
		l, err := openLedger(p.ledger, false)
		if err != nil {
			return nil, nil, err
		}
		if err := checkSamePlan(l, p.plan); err != nil {
			l.Close()
			return nil, nil, err
		}
		if err := checkSameTarget(l, p); err != nil {
			l.Close()
			return nil, nil, err
		}
		return l, nil, nil
	}

	if p.plan == "" {
		return nil, nil, usageErrorf("no ledger at %s: to start a run give --plan FILE; "+
			"to resume one, check the --ledger path", p.ledger)
	}
	if err := checkLedgerDir(p.ledger); err != nil {
		return nil, nil, err
	}
	l, sum, err := store.Import(p.ledger, p.plan, store.ImportOptions{
		Options:     store.Options{LockTimeout: lockWait, Logger: p.log},
		ToolVersion: genesys.Version,
		Settings:    runSettings(p),
	})
	if err != nil {
		return nil, nil, planError(p.plan, err)
	}
	return l, &sum, nil
}

// checkLedgerDir says plainly when a new ledger's directory is missing.
func checkLedgerDir(ledger string) error {
	dir := filepath.Dir(ledger)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErrorf("--ledger %s: directory %s does not exist; create it or "+
			"choose another path", ledger, dir)
	case err == nil && !st.IsDir():
		return usageErrorf("--ledger %s: %s is not a directory", ledger, dir)
	}
	return nil
}

// checkSamePlan refuses to resume a ledger with a different plan.
func checkSamePlan(l *store.Ledger, plan string) error {
	if plan == "" {
		return nil
	}
	fp, err := store.PlanFingerprint(plan)
	if err != nil {
		return planError(plan, err)
	}
	m, err := l.Meta()
	if err != nil {
		return exitWith(exitUsage, fmt.Errorf("read ledger: %w", err))
	}
	if fp != m.Fingerprint {
		return usageErrorf("plan %s differs from the plan ledger %s was started with (%s): "+
			"to apply the new plan use a new --ledger; to resume this run leave out --plan",
			plan, l.Path(), m.PlanPath)
	}
	return nil
}

// checkSameTarget refuses to resume a ledger against another API target
// than the one it was started with: a ledger belongs to one org. A ledger
// no answer ever came to (a wrong --api-url, refused credentials) may take
// the new target, which it then records.
func checkSameTarget(l *store.Ledger, p runParams) error {
	m, err := l.Meta()
	if err != nil {
		return exitWith(exitUsage, fmt.Errorf("read ledger: %w", err))
	}
	now := runSettings(runParams{api: p.api})
	was := targetOf(m.Settings)
	if was == "" || sameTarget(m.Settings, now) {
		return nil
	}
	if fresh, err := neverAnswered(l); err == nil && fresh {
		p.log.Info("the ledger never got an answer from its first target: recording the new one",
			"was", was, "now", targetOf(now))
		return retarget(l, now)
	}
	return usageErrorf("ledger %s belongs to %s but this run targets %s: a ledger belongs "+
		"to one org; resume it with the same target, or start a new --ledger for another org",
		l.Path(), was, targetOf(now))
}

// neverAnswered reports whether every item is waiting with no answer from
// any API in its history: nothing of the ledger touched an org yet.
func neverAnswered(l *store.Ledger) (bool, error) {
	counts, err := l.Counts()
	if err != nil {
		return false, fmt.Errorf("count items: %w", err)
	}
	for s, n := range counts {
		if s != store.Waiting && n > 0 {
			return false, nil
		}
	}
	fresh := true
	err = l.EachInState(store.Waiting, func(it *store.Item) error {
		for _, a := range it.History {
			if a.Status != 0 {
				fresh = false
			}
		}
		return nil
	})
	return fresh, err
}

// retarget records the target in now as the ledger's.
func retarget(l *store.Ledger, now map[string]string) error {
	err := l.SetMeta(func(m *store.RunMeta) {
		if m.Settings == nil {
			m.Settings = map[string]string{}
		}
		for _, k := range []string{"api_host", "api_url", "region"} {
			delete(m.Settings, k)
			if v := now[k]; v != "" {
				m.Settings[k] = v
			}
		}
	})
	if err != nil {
		return exitWith(exitUsage, fmt.Errorf("record the new target: %w", err))
	}
	return nil
}

// sameTarget reports whether two runs' settings name one API target. It
// compares the API base each resolves to, so a region's code and its
// domain are one target; settings that do not resolve compare as written.
func sameTarget(was, now map[string]string) bool {
	return targetBase(was) == targetBase(now)
}

// targetBase returns the API base run settings resolve to, or their
// target as written when they do not resolve.
func targetBase(s map[string]string) string {
	if s["api_url"] != "" || s["region"] != "" {
		if base, _, err := genesys.ResolveBase(s["region"], s["api_url"]); err == nil {
			return base
		}
	}
	return targetOf(s)
}

// targetOf names the API target recorded in run settings.
func targetOf(s map[string]string) string {
	if h := s["api_host"]; h != "" {
		return "API host " + h
	}
	if r := s["region"]; r != "" {
		return "region " + r
	}
	return ""
}

// planError explains a plan that could not be read or imported.
func planError(plan string, err error) error {
	var pe store.PlanErrors
	if errors.As(err, &pe) {
		return exitWith(exitUsage, fmt.Errorf("plan %s is not valid; nothing was sent and no "+
			"ledger was created. Fix these and run again:\n%w", plan, err))
	}
	// The store's errors already name the plan or the ledger.
	return exitWith(exitUsage, err)
}

// runSettings records how the run was set up, without secrets or URL
// credentials.
func runSettings(p runParams) map[string]string {
	s := map[string]string{
		"max_rate_per_min": strconv.FormatFloat(p.sched.MaxRate*60, 'f', -1, 64),
		"concurrency":      strconv.Itoa(p.sched.Concurrency),
		"max_attempts":     strconv.Itoa(p.sched.MaxAttempts),
		"client_id":        p.api.ClientID,
	}
	if p.api.APIURL != "" {
		s["api_host"] = hostOf(p.api.APIURL)
		s["api_url"] = withoutUserinfo(p.api.APIURL)
	} else {
		s["region"] = p.api.Region
	}
	return s
}

// hostOf returns the host:port of a URL, never its user info.
func hostOf(raw string) string {
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// withoutUserinfo returns a URL with any user info removed.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

// Defaults of the run flags, as recorded in a ledger's settings.
const (
	defaultMaxRate     = "300"
	defaultConcurrency = "8"
	defaultMaxAttempts = "8"
)

// resumeHint is the command that resumes a ledger: with the target it was
// run against (--api-url or --region) and the limits it was run with, where
// they differ from the defaults.
func resumeHint(path string, settings map[string]string) string {
	parts := []string{"gcbulk", "run", "--" + flagLedger, shellQuote(path)}
	if u := settings["api_url"]; u != "" {
		parts = append(parts, "--"+flagAPIURL, shellQuote(u))
	} else if r := settings["region"]; r != "" {
		parts = append(parts, "--"+flagRegion, shellQuote(r))
	}
	for _, f := range []struct{ key, flag, def string }{
		{"max_rate_per_min", flagMaxRate, defaultMaxRate},
		{"concurrency", flagConcurrency, defaultConcurrency},
		{"max_attempts", flagMaxAttempts, defaultMaxAttempts},
	} {
		if v := settings[f.key]; v != "" && v != f.def {
			parts = append(parts, "--"+f.flag, shellQuote(v))
		}
	}
	return strings.Join(parts, " ")
}

// watchSignals cancels the run on the first SIGINT or SIGTERM and exits
// at once on the second. It returns a function that stops watching.
func watchSignals(e *env, errw io.Writer, cancel context.CancelFunc, resume string) func() {
	sigc := make(chan os.Signal, 2)
	done := make(chan struct{})
	finished := make(chan struct{})
	e.notify(sigc)
	go func() {
		defer close(finished)
		select {
		case <-sigc:
		case <-done:
			return
		}
		fmt.Fprintln(errw, "\nstopping: letting requests in flight finish and writing the "+
			"ledger; press Ctrl-C again to quit at once (still safe to resume)")
		cancel()
		select {
		case <-sigc:
			fmt.Fprintf(errw, "quitting now; resume with: %s\n", resume)
			e.exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() {
		e.stop(sigc)
		close(done)
		<-finished
	}
}
