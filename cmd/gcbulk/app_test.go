package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"explicit", exitWith(exitFailed, errors.New("3 items failed")), exitFailed},
		{"explicit, wrapped", fmt.Errorf("run: %w", exitWith(exitAuth, nil)), exitAuth},
		{"interrupted", fmt.Errorf("run: %w", scheduler.ErrInterrupted), exitInterrupted},
		{"auth sentinel", fmt.Errorf("run: %w", scheduler.ErrAuth), exitAuth},
		{"invalid client", &genesys.Error{Class: genesys.ClassAuth, Status: 400}, exitAuth},
		{"forbidden", &genesys.Error{Class: genesys.ClassForbidden, Status: 403}, exitAuth},
		{"transient", &genesys.Error{Class: genesys.ClassTransient, Status: 503}, exitUsage},
		{"plan errors", store.PlanErrors{{File: "p.csv", Line: 2, Column: 1}}, exitUsage},
		{"anything else", errors.New("flag provided but not defined"), exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, exitCode(tt.err))
		})
	}
}

func TestRunApp_RecoversPanic(t *testing.T) {
	var out, errOut bytes.Buffer
	app := newAppWith(setup(t).env())
	app.Writer, app.ErrWriter = &out, &errOut
	app.Commands = append(app.Commands, &cli.Command{Name: "boom",
		Action: func(*cli.Context) error { panic("nil map") }})

	code := runApp(app, []string{"gcbulk", "boom"})
	require.Equal(t, exitInterrupted, code)
	require.Contains(t, errOut.String(), "internal error: nil map")
	require.Contains(t, errOut.String(), "gcbulk status")
}

func TestHelp(t *testing.T) {
	app := newAppWith(setup(t).env())
	for _, c := range app.Commands {
		t.Run(c.Name, func(t *testing.T) {
			require.NotEmpty(t, c.Usage)
			require.Equal(t, strings.ToLower(c.Usage[:1]), c.Usage[:1], "lowercase usage")
			require.False(t, strings.HasSuffix(c.Usage, "."), "usage ends without a period")
			require.Contains(t, c.Description, "$ gcbulk "+c.Name, "an examples block")

			res := setup(t).run(c.Name, "--help")
			require.Equal(t, exitOK, res.code, res.stderr)
			require.Contains(t, res.stdout, "$ gcbulk "+c.Name)
		})
	}
}

func TestHelp_Unknown(t *testing.T) {
	res := setup(t).run("frobnicate")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr+res.stdout, "frobnicate")
}
