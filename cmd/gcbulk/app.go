package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// newApp builds the command-line application. Each command lives in a file
// of its own, named after it.
func newApp() *cli.App {
	return &cli.App{
		Name:  "gcbulk",
		Usage: "carry out bulk changes to Genesys Cloud users, safely and resumably",
		Commands: []*cli.Command{
			// Commands are added here, one constructor per file.
		},
	}
}

// run runs the application and returns the process exit status.
func run(args []string) int {
	if err := newApp().Run(args); err != nil {
		fmt.Fprintln(os.Stderr, "gcbulk:", err)
		return 2
	}
	return 0
}
