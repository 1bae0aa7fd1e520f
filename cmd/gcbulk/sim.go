package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// simDescription is the long help of `gcbulk sim`.
const simDescription = `Serves a simulated Genesys Cloud org on loopback: POST /oauth/token, the
users endpoints (get, list by id or page, patch with versions, search by
e-mail), division moves, the platform's rate limits and 429 answers, and
deterministic faults. Point gcbulk at it with --api-url, or the official
SDKs with their gateway setting.

The users come from --directory (JSON Lines in the API's field names, such
as shared/data/directory.jsonl) or are generated with --users N and --seed.
Log in with client id "` + sim.DefaultClientID + `" and secret "` + sim.DefaultClientSecret + `"
unless --client-id and --client-secret say otherwise.

--rate-limit is requests per token per window, written N/DURATION (300/1m,
the platform default) or 0 for none; --window picks fixed or sliding.
Fault rates are shares from 0 to 1 and are repeatable under --seed.

It prints one line, "listening on http://127.0.0.1:PORT", once ready, and
serves until interrupted (exit 0). GET /sim/stats and GET /sim/users show
counters and every user's state; POST /sim/revoke and
POST /sim/outage?for=30s inject faults on demand.

Examples:
  # 25,000 reference users, the platform's default limit
  $ gcbulk sim --listen 127.0.0.1:8089 --directory shared/data/directory.jsonl

  # 2,000 generated users, a tight sliding limit, 2% 5xx, some resets
  $ gcbulk sim --users 2000 --rate-limit 60/1m --window sliding \
      --error-rate 0.02 --reset-after-rate 0.01 --seed 7

  # a 30 s outage one minute in
  $ gcbulk sim --users 500 --outage-after 1m --outage-for 30s`

// simCommand builds `gcbulk sim`.
func simCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "sim",
		Usage:       "serve a simulated Genesys Cloud org on loopback for demos and tests",
		UsageText:   "gcbulk sim [--listen ADDR] (--directory FILE | --users N) [options]",
		Description: simDescription,
		Flags:       append(simFlags(), logFlags()...),
		Action:      func(c *cli.Context) error { return runSim(c, e) },
	}
}

// simFlags are the flags of `gcbulk sim`.
func simFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0",
			Usage: "`ADDR` to listen on; port 0 picks a free port"},
		&cli.BoolFlag{Name: "allow-remote",
			Usage: "allow a --listen address other than loopback"},
		&cli.StringFlag{Name: "directory", TakesFile: true,
			Usage: "load users from `FILE` (JSON Lines)"},
		&cli.IntFlag{Name: "users", Usage: "generate `N` users instead of --directory"},
		&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed for generated users and faults"},
		&cli.StringFlag{Name: "rate-limit", Value: "300/1m",
			Usage: "requests per token per window, `N/DURATION`, or 0 for none"},
		&cli.StringFlag{Name: "window", Value: "fixed", Usage: "rate window: fixed or sliding"},
		&cli.StringFlag{Name: "client-id", Value: sim.DefaultClientID,
			Usage: "client id to accept"},
		&cli.StringFlag{Name: "client-secret", Value: sim.DefaultClientSecret,
			Usage: "client secret to accept (a made-up one: this is a simulator)"},
		&cli.DurationFlag{Name: "token-lifetime", Value: sim.DefaultTokenLifetime,
			Usage: "lifetime of issued tokens"},
		&cli.IntFlag{Name: "move-batch-max", Value: sim.DefaultMoveBatchMax,
			Usage: "most user ids in one division move"},
		&cli.IntFlag{Name: "token-rate-limit", Usage: "token requests per client per window; 0 = none"},
		&cli.IntFlag{Name: "write-rate-limit",
			Usage: "tighter per-token limit on PATCH and moves per window; 0 = none"},
		&cli.BoolFlag{Name: "legacy-429", Usage: "answer 429 with the old code too.many.requests"},
		&cli.BoolFlag{Name: "retry-after-date", Usage: "send Retry-After as an HTTP-date"},
		&cli.IntFlag{Name: "deep-paging-limit", Usage: "answer 400 for pages past N results; 0 = off"},
		&cli.Float64Flag{Name: "error-rate", Usage: "share of requests answered 500/502/503/504"},
		&cli.DurationFlag{Name: "latency", Usage: "mean latency added to every request"},
		&cli.DurationFlag{Name: "jitter", Usage: "latency varies by up to ± this"},
		&cli.Float64Flag{Name: "reset-before-rate",
			Usage: "share of requests dropped before they are carried out"},
		&cli.Float64Flag{Name: "reset-after-rate",
			Usage: "share of requests dropped after they are carried out (the ambiguous case)"},
		&cli.Float64Flag{Name: "slow-rate", Usage: "share of requests answered after --slow-delay"},
		&cli.DurationFlag{Name: "slow-delay", Value: 2 * time.Minute,
			Usage: "delay of slow answers"},
		&cli.Float64Flag{Name: "conflict-rate",
			Usage: "share of PATCHes that find the user just edited by another writer (409)"},
		&cli.Float64Flag{Name: "edits-per-second",
			Usage: "another writer bumps the version of random users at this rate"},
		&cli.DurationFlag{Name: "outage-after", Usage: "start an outage (every request 503) this late"},
		&cli.DurationFlag{Name: "outage-for", Usage: "length of the outage; 0 = none"},
	}
}

// runSim serves the simulator until SIGINT or SIGTERM.
func runSim(c *cli.Context, e *env) error {
	cfg, users, err := simConfig(c)
	if err != nil {
		return err
	}
	cfg.Logger, err = newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	srv, err := sim.New(cfg, users)
	if err != nil {
		return usageErrorf("%w", err)
	}
	if err := checkListen(c.String("listen"), c.Bool("allow-remote")); err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return usageErrorf("listen on %s: %w", c.String("listen"), err)
	}
	return serveSim(c, e, srv, l)
}

// serveSim serves on l, prints the ready line and stops on a signal.
func serveSim(c *cli.Context, e *env, srv *sim.Server, l net.Listener) error {
	sigc := make(chan os.Signal, 1)
	e.notify(sigc)
	defer e.stop(sigc)

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	fmt.Fprintf(c.App.Writer, "listening on http://%s\n", l.Addr())

	select {
	case <-sigc:
	case <-c.Context.Done():
	case err := <-done:
		return fmt.Errorf("serve simulator: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		_ = hs.Close() // slow answers may hold handlers: drop them
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve simulator: %w", err)
	}
	return nil
}

// simConfig turns the flags into a simulator config and its users.
func simConfig(c *cli.Context) (sim.Config, []genesys.User, error) {
	limit, window, err := parseRateLimit(c.String("rate-limit"))
	if err != nil {
		return sim.Config{}, nil, usageErrorf("--rate-limit: %w", err)
	}
	sliding := false
	switch c.String("window") {
	case "fixed":
	case "sliding":
		sliding = true
	default:
		return sim.Config{}, nil, usageErrorf("--window %q: use fixed or sliding", c.String("window"))
	}
	users, err := simUsers(c)
	if err != nil {
		return sim.Config{}, nil, err
	}
	return sim.Config{
		ClientID:        c.String("client-id"),
		ClientSecret:    c.String("client-secret"),
		DeepPagingLimit: c.Int("deep-paging-limit"),
		Faults:          simFaults(c),
		LegacyRateCode:  c.Bool("legacy-429"),
		MoveBatchMax:    c.Int("move-batch-max"),
		RateLimit:       limit,
		RateWindow:      window,
		RetryAfterDate:  c.Bool("retry-after-date"),
		Seed:            c.Int64("seed"),
		Sliding:         sliding,
		TokenLifetime:   c.Duration("token-lifetime"),
		TokenRateLimit:  c.Int("token-rate-limit"),
		WriteRateLimit:  c.Int("write-rate-limit"),
	}, users, nil
}

// simFaults reads the fault flags; sim.New checks their ranges.
func simFaults(c *cli.Context) sim.Faults {
	return sim.Faults{
		ConflictRate:    c.Float64("conflict-rate"),
		EditsPerSecond:  c.Float64("edits-per-second"),
		ErrorRate:       c.Float64("error-rate"),
		Jitter:          c.Duration("jitter"),
		Latency:         c.Duration("latency"),
		OutageAfter:     c.Duration("outage-after"),
		OutageFor:       c.Duration("outage-for"),
		ResetAfterRate:  c.Float64("reset-after-rate"),
		ResetBeforeRate: c.Float64("reset-before-rate"),
		SlowDelay:       c.Duration("slow-delay"),
		SlowRate:        c.Float64("slow-rate"),
	}
}

// simUsers loads --directory or generates --users, exactly one of them.
func simUsers(c *cli.Context) ([]genesys.User, error) {
	dir, n := c.String("directory"), c.Int("users")
	switch {
	case dir != "" && c.IsSet("users"):
		return nil, usageErrorf("give --directory or --users, not both")
	case dir != "":
		users, err := sim.LoadDirectory(dir)
		if err != nil {
			return nil, usageErrorf("--directory: %w", err)
		}
		return users, nil
	case n > 0:
		return sim.Generate(n, c.Int64("seed")), nil
	case c.IsSet("users"):
		return nil, usageErrorf("--users %d: give a positive number", n)
	}
	return nil, usageErrorf("give --directory FILE or --users N")
}

// parseRateLimit reads "N/DURATION", "N" (per minute) or "0" (no limit).
func parseRateLimit(s string) (int, time.Duration, error) {
	count, span, hasSpan := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("%q: want N/DURATION such as 300/1m, or 0", s)
	}
	window := sim.DefaultRateWindow
	if hasSpan {
		if !strings.ContainsAny(span, "0123456789") {
			span = "1" + span // "300/m" reads as 300 per 1m
		}
		window, err = time.ParseDuration(span)
		if err != nil || window <= 0 {
			return 0, 0, fmt.Errorf("%q: window %q is not a positive duration", s, span)
		}
	}
	return n, window, nil
}

// checkListen refuses a listen address off loopback unless allowed.
func checkListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--listen %q: want HOST:PORT: %w", addr, err)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageErrorf("--listen %q is not a loopback address; add --allow-remote to serve "+
		"the simulator to other hosts", addr)
}
