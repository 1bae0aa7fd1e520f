package main

import (
	"errors"
	"fmt"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

// Exit statuses. Scripts act on these; their meaning is part of the interface.
const (
	exitOK          = 0 // every item applied or unchanged
	exitFailed      = 1 // the run finished and some items failed
	exitUsage       = 2 // usage or input error; nothing was sent
	exitInterrupted = 3 // stopped before the end; resumable
	exitAuth        = 4 // authentication or permission failure
)

// ExitError carries the exit status a command asks for, with the error to
// print (nil prints nothing: the command has already said what happened).
type ExitError struct {
	Code int
	Err  error
}

// Error returns the wrapped error's text.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// exitWith wraps err with an exit status.
func exitWith(code int, err error) *ExitError { return &ExitError{Code: code, Err: err} }

// usageErrorf builds an exit-2 error: bad usage or input, nothing sent.
func usageErrorf(format string, args ...any) *ExitError {
	return exitWith(exitUsage, fmt.Errorf(format, args...))
}

// exitCode maps any error a command returns to the process exit status.
// This is the one place where errors become statuses.
func exitCode(err error) int {
	var ee *ExitError
	var ge *genesys.Error
	var pe store.PlanErrors
	var pe1 *store.PlanError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, scheduler.ErrAuth):
		return exitAuth
	case errors.Is(err, scheduler.ErrInterrupted):
		return exitInterrupted
	case errors.As(err, &ge) && (ge.Class == genesys.ClassAuth || ge.Class == genesys.ClassForbidden):
		return exitAuth
	case errors.As(err, &pe), errors.As(err, &pe1):
		return exitUsage
	default:
		// Flag parsing, missing files and anything else found before sending.
		return exitUsage
	}
}
