package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// env is what commands take from the process: environment variables,
// signals, the clock and the way out. Tests replace parts of it.
type env struct {
	getenv func(string) string
	// notify subscribes c to SIGINT and SIGTERM; stop undoes it.
	notify func(c chan<- os.Signal)
	stop   func(c chan<- os.Signal)
	// exit ends the process at once (a second interrupt).
	exit func(code int)
	now  func() time.Time
	pid  int
}

// processEnv returns the env of the running process.
func processEnv() *env {
	return &env{
		getenv: os.Getenv,
		notify: func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) },
		stop:   func(c chan<- os.Signal) { signal.Stop(c) },
		exit:   os.Exit,
		now:    time.Now,
		pid:    os.Getpid(),
	}
}

// Names of the environment variables Genesys's own tools read.
const (
	envClientID     = "GENESYSCLOUD_OAUTHCLIENT_ID"
	envClientSecret = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
	envSecretFile   = "GENESYSCLOUD_OAUTHCLIENT_SECRET_FILE"
	envRegion       = "GENESYSCLOUD_REGION"
)

// Flag names shared by several commands.
const (
	flagLedger    = "ledger"
	flagLogFormat = "log-format"
	flagLogLevel  = "log-level"
	flagProgress  = "progress"
	flagJSON      = "json"
)

func ledgerFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:      flagLedger,
		Usage:     "ledger `FILE` (bbolt) that records every item of the run",
		Required:  true,
		TakesFile: true,
	}
}

// logFlags returns --log-format and --log-level, at info by default.
func logFlags() []cli.Flag { return logFlagsAt("info") }

// logFlagsAt returns --log-format and --log-level with level as the default.
func logFlagsAt(level string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:  flagLogFormat,
			Usage: "log format on stderr: text or json",
			Value: "text",
		},
		&cli.StringFlag{
			Name:  flagLogLevel,
			Usage: "log level: debug, info, warn or error",
			Value: level,
		},
	}
}

func progressFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name: flagProgress,
		Usage: "live view: auto (a bar on a terminal, else a line every 5s), " +
			"bar, lines or none",
		Value: "auto",
	}
}

// newLogger builds the logger the command's flags ask for, writing to w.
// Secrets never reach it: components log the auth mode and host only.
func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String(flagLogLevel))); err != nil {
		return nil, usageErrorf("--log-level %q: use debug, info, warn or error",
			c.String(flagLogLevel))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.String(flagLogFormat) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErrorf("--log-format %q: use text or json", c.String(flagLogFormat))
	}
}

// credentials builds the API client configuration from the environment,
// the --client-id and --region overrides and --api-url. The secret comes
// only from the environment (or the file it names), never from a flag.
//
// When neither gives a target, the one recorded (the ledger's settings:
// api_url or region) is used; fromLedger then reports true.
func credentials(c *cli.Context, e *env, recorded map[string]string) (cfg genesys.Config,
	fromLedger bool, err error) {
	cfg, err = baseCredentials(c, e)
	if err != nil {
		return genesys.Config{}, false, err
	}
	if cfg.Region == "" && cfg.APIURL == "" {
		cfg.APIURL, cfg.Region = recorded["api_url"], recorded["region"]
		fromLedger = cfg.APIURL != "" || cfg.Region != ""
	}
	if err := checkCredentials(cfg); err != nil {
		return genesys.Config{}, false, err
	}
	return cfg, fromLedger, nil
}

// baseCredentials reads the environment and the flags that override it.
func baseCredentials(c *cli.Context, e *env) (genesys.Config, error) {
	cfg, err := genesys.ConfigFromEnv(e.getenv)
	if err != nil {
		return genesys.Config{}, usageErrorf("read credentials: %w", err)
	}
	if v := c.String("client-id"); v != "" {
		cfg.ClientID = v
	}
	if v := c.String("region"); v != "" {
		cfg.Region = v
	}
	if v := c.String("api-url"); v != "" {
		cfg.APIURL = v
	}
	return cfg, nil
}

// checkCredentials says what is missing or wrong in cfg.
func checkCredentials(cfg genesys.Config) error {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return usageErrorf("missing credentials: set %s and %s (or %s "+
			"naming a file that holds the secret); --client-id may replace the first",
			envClientID, envClientSecret, envSecretFile)
	}
	if cfg.Region == "" && cfg.APIURL == "" {
		return usageErrorf("missing region: set %s or --region to one of: %s",
			envRegion, regionList())
	}
	if _, _, err := genesys.ResolveBase(cfg.Region, cfg.APIURL); err != nil {
		return usageErrorf("check region and api url: %w", err)
	}
	return nil
}

// regionList returns the valid region codes, sorted and comma-separated.
func regionList() string {
	codes := make([]string, 0, len(genesys.Regions()))
	for code := range genesys.Regions() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}

// shellQuote quotes s for a POSIX shell when it needs it, so printed
// commands can be pasted as they are.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '=' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fileExists reports whether path names an existing file.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case os.IsNotExist(err):
		return false, nil
	default:
		return false, fmt.Errorf("check %s: %w", path, err)
	}
}

// lockWait is how long commands wait for another process's lock on the
// ledger before saying who holds it.
const lockWait = time.Second

// ledgerExists reports whether a ledger file is at path; a directory there
// is a usage error that says so.
func ledgerExists(path string) (bool, error) {
	st, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		return false, nil
	case err != nil:
		return false, exitWith(exitUsage, fmt.Errorf("check %s: %w", path, err))
	case st.IsDir():
		return false, usageErrorf("--ledger %s is a directory: name the ledger file "+
			"inside it, e.g. %s", path, shellQuote(filepath.Join(path, "run.db")))
	}
	return true, nil
}

// recordedSettings returns the run settings of the ledger at path, or nil
// when there is none or it cannot be read now (the caller reports that
// when it opens the ledger for real).
func recordedSettings(path string) map[string]string {
	if ok, err := ledgerExists(path); !ok || err != nil {
		return nil
	}
	l, err := store.Open(path, store.Options{LockTimeout: 200 * time.Millisecond,
		ReadOnly: true})
	if err != nil {
		return nil
	}
	defer l.Close()
	m, err := l.Meta()
	if err != nil {
		return nil
	}
	return m.Settings
}

// openLedger opens an existing ledger, read-only for inspection commands,
// with errors that say what to do next.
func openLedger(path string, readOnly bool) (*store.Ledger, error) {
	ok, err := ledgerExists(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, usageErrorf("no ledger at %s: check the path, or start a run with "+
			"`gcbulk run --ledger %s --plan PLAN`", path, shellQuote(path))
	}
	l, err := store.Open(path, store.Options{LockTimeout: lockWait, ReadOnly: readOnly})
	if err != nil {
		return nil, exitWith(exitUsage, lockHint(err))
	}
	return l, nil
}

// lockHint adds how to stop the holder to a locked-ledger error.
func lockHint(err error) error {
	var le *store.LockedError
	if errors.As(err, &le) && le.Pid > 0 {
		return fmt.Errorf("%w (to stop it gracefully: kill -INT %d; "+
			"`gcbulk status --ledger %s` shows its progress)", err, le.Pid, shellQuote(le.Path))
	}
	return err
}
