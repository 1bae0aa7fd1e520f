package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
)

// newApp builds the command-line application for the running process.
// Each command lives in a file of its own, named after it.
func newApp() *cli.App { return newAppWith(processEnv()) }

// newAppWith builds the application on e, so tests can replace the
// environment, the signals and the clock.
func newAppWith(e *env) *cli.App {
	return &cli.App{
		Name:    "gcbulk",
		Usage:   "carry out bulk changes to Genesys Cloud users, safely and resumably",
		Version: genesys.Version,
		Description: "Start with `gcbulk demo`: it needs no account and no files.\n\n" +
			"Credentials come from GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET\n" +
			"(or GENESYSCLOUD_OAUTHCLIENT_SECRET_FILE) and GENESYSCLOUD_REGION, as for\n" +
			"Genesys's own tools.\n\n" +
			"Exit status: 0 every item applied or unchanged; 1 some items failed (see export);\n" +
			"2 usage or input error, nothing sent; 3 interrupted, resumable;\n" +
			"4 authentication or permission failure.",
		HideHelpCommand: true,
		Writer:          os.Stdout,
		ErrWriter:       os.Stderr,
		// Exit statuses are decided in exitCode, never inside the library.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Commands: []*cli.Command{
			runCommand(e),
			statusCommand(e),
			exportCommand(e),
			retryCommand(e),
			demoCommand(e),
			simCommand(e),
			benchCommand(e),
		},
	}
}

// onUsageError turns a flag parsing failure into an exit-2 error.
func onUsageError(_ *cli.Context, err error, _ bool) error {
	return exitWith(exitUsage, fmt.Errorf("%w (see --help)", err))
}

// run runs the application on args and returns the process exit status.
func run(args []string) int {
	app := newApp()
	return runApp(app, args)
}

// runApp runs app, prints any error with what to do next, and maps it to
// an exit status. A panic is recovered and reported, never shown raw.
func runApp(app *cli.App, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(app.ErrWriter, "gcbulk: internal error: %v\n"+
				"the ledger is still the record of what was done: check it with "+
				"`gcbulk status`, and please report this\n", r)
			code = exitInterrupted
		}
	}()

	err := app.Run(args)
	printError(app.ErrWriter, err)
	return exitCode(err)
}

// printError prints err unless it is nil or an ExitError with nothing to
// say.
func printError(w io.Writer, err error) {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) && ee.Err == nil {
		return
	}
	fmt.Fprintln(w, "gcbulk:", err)
}
