package store

import "errors"

// ErrUnknownState is returned when a state name is not one of States.
var ErrUnknownState = errors.New("unknown state")

// ErrLocked is returned when another process holds the ledger open for writing.
var ErrLocked = errors.New("ledger is in use by another gcbulk process: " +
	"wait for that run to finish or stop it, then try again")

// ErrNotLedger is returned when a file exists but is not a gcbulk ledger.
var ErrNotLedger = errors.New("not a gcbulk ledger")

// ErrExists is returned when an import would overwrite an existing file.
var ErrExists = errors.New("file already exists: choose another ledger path or remove it")

// ErrNoItem is returned when no item has the requested sequence number.
var ErrNoItem = errors.New("no such item")

// ErrBadTransition is returned when a save breaks the state rules or lowers an attempt count.
var ErrBadTransition = errors.New("bad state transition")

// ErrReadOnly is returned when a write is attempted on a ledger opened read-only.
var ErrReadOnly = errors.New("ledger is open read-only")

// ErrUnknownVersion is returned when a record was written in a format this build does not know.
var ErrUnknownVersion = errors.New("unknown record format version: upgrade gcbulk")

// ErrCorrupt is returned when a stored record cannot be decoded.
var ErrCorrupt = errors.New("corrupt ledger record")

// ErrPlanFormat is returned when a plan file's extension names no supported format.
var ErrPlanFormat = errors.New("unsupported plan format: use .csv, .jsonl or .ndjson")
