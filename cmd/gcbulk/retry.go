package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/store"
)

func retryCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "retry",
		Usage: "put failed items back to waiting so the next run tries them again",
		Description: "Moves items in terminal failure states back to waiting, keeping their\n" +
			"attempts and history. Without --state, every failed state is retried:\n" +
			failedStateNames() + ". --state may be repeated (or comma-separated) to\n" +
			"retry only some, e.g. after granting a missing permission. Then resume with\n" +
			"`gcbulk run --ledger FILE`. The ledger must not be in use by a run.\n\n" +
			"Examples:\n" +
			"  $ gcbulk retry --ledger reorg.db\n" +
			"  $ gcbulk retry --ledger reorg.db --state forbidden --state exhausted",
		Flags: []cli.Flag{
			ledgerFlag(),
			&cli.StringSliceFlag{Name: "state", Usage: "failed `STATE` to retry " +
				"(default: all failed states)"},
		},
		Action: func(c *cli.Context) error { return retryAction(c, e) },
	}
}

func retryAction(c *cli.Context, _ *env) error {
	states, err := parseFailedStates(c.StringSlice("state"))
	if err != nil {
		return err
	}
	path := c.String(flagLedger)
	l, err := openLedger(path, false)
	if err != nil {
		return err
	}
	defer l.Close()

	n, err := l.Retry(states...)
	if err != nil {
		return exitWith(exitUsage, fmt.Errorf("retry items: %w", err))
	}
	var settings map[string]string
	if m, err := l.Meta(); err == nil {
		settings = m.Settings
	}
	fmt.Fprintf(c.App.Writer, "%d items back to waiting; resume with: %s\n",
		n, resumeHint(path, settings))
	return nil
}

// parseFailedStates parses --state values; each must be a failed state.
// None means every failed state.
func parseFailedStates(values []string) ([]store.State, error) {
	var states []store.State
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			s, err := store.ParseState(strings.TrimSpace(strings.ToLower(name)))
			if err != nil || !s.Failed() {
				return nil, usageErrorf("--state %q: use one of %s", name, failedStateNames())
			}
			states = append(states, s)
		}
	}
	return states, nil
}

// failedStateNames lists the failed states, comma-separated.
func failedStateNames() string {
	var names []string
	for _, s := range store.States {
		if s.Failed() {
			names = append(names, s.String())
		}
	}
	return strings.Join(names, ", ")
}
