package store

import (
	"fmt"
	"time"
)

// State is where an item stands. Every state is documented here and only
// here; exports and status show the String form.
type State uint8

const (
	// Waiting: not done yet; eligible once NextAt has passed.
	Waiting State = iota + 1
	// InFlight: a write for the item may have been sent and its outcome is
	// not recorded. After a crash the item is uncertain and is re-read
	// before anything is sent again.
	InFlight
	// Applied: the user now holds the desired values because gcbulk changed
	// them.
	Applied
	// Unchanged: the user already held the desired values; nothing was sent.
	Unchanged
	// NotFound: the user does not exist (or the e-mail matched no user).
	NotFound
	// Forbidden: Genesys refused for lack of permission.
	Forbidden
	// Invalid: Genesys refused the values, or the row conflicts with another
	// row naming the same user.
	Invalid
	// Conflict: the user's version kept changing under us and the write
	// would not settle within the allowed re-reads.
	Conflict
	// Exhausted: transient failures used up every allowed attempt.
	Exhausted
)

var stateNames = map[State]string{
	Waiting:   "waiting",
	InFlight:  "in_flight",
	Applied:   "applied",
	Unchanged: "unchanged",
	NotFound:  "not_found",
	Forbidden: "forbidden",
	Invalid:   "invalid",
	Conflict:  "conflict",
	Exhausted: "exhausted",
}

// States lists every state in display order.
var States = []State{
	Waiting, InFlight, Applied, Unchanged, NotFound, Forbidden, Invalid, Conflict, Exhausted,
}

// String returns the state's snake_case name.
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState returns the state named s.
func ParseState(s string) (State, error) {
	for st, n := range stateNames {
		if n == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("parse state %q: %w", s, ErrUnknownState)
}

// Terminal reports whether the item is finished: applied, unchanged, or a
// failure that only an explicit retry reopens.
func (s State) Terminal() bool { return s != Waiting && s != InFlight }

// Failed reports whether the state is a terminal failure.
func (s State) Failed() bool { return s.Terminal() && s != Applied && s != Unchanged }

// KeyKind says how a plan row names its user.
type KeyKind uint8

const (
	// KeyID: the row names the user by Genesys user id.
	KeyID KeyKind = iota + 1
	// KeyEmail: the row names the user by e-mail, resolved at run time.
	KeyEmail
)

// Item is one planned change to one user: what was asked, what happened,
// and every attempt.
type Item struct {
	// Seq is the ledger key, in plan order.
	Seq uint64 `json:"seq"`
	// Lines are the plan lines; more than one when exact duplicates merged.
	Lines []int `json:"lines"`
	// KeyKind and Key are how the plan named the user.
	KeyKind KeyKind `json:"key_kind"`
	Key     string  `json:"key"`
	// UserID is the resolved Genesys user id; empty until resolved.
	UserID string `json:"user_id"`
	// Desired maps each field to the value the user should end with.
	Desired map[string]string `json:"desired"`
	// State is where the item stands; NextAt is when a Waiting item is
	// eligible (wall time).
	State  State     `json:"state"`
	NextAt time.Time `json:"next_at"`
	// Attempts counts write attempts sent; it only grows.
	Attempts int `json:"attempts"`

	// HTTPStatus, ErrorCode and ErrorMessage describe the last answer.
	HTTPStatus   int    `json:"http_status,omitempty"`
	ErrorCode    string `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	// CorrelationIDs holds every answer's ININ-Correlation-Id.
	CorrelationIDs []string `json:"correlation_ids,omitempty"`
	// Before holds the values found before the change, for audit and undo.
	Before map[string]string `json:"before,omitempty"`
	// VersionAfter is the user's version after the change.
	VersionAfter int `json:"version_after,omitempty"`
	// Verified says a re-read after a restart confirmed the applied state.
	Verified bool `json:"verified,omitempty"`
	// History records each attempt's time and outcome.
	History []Attempt `json:"history,omitempty"`
}

// Attempt records one request made for an item.
type Attempt struct {
	At            time.Time `json:"at"`
	Op            string    `json:"op"`             // read, patch, move, verify, recover, retry
	Status        int       `json:"status"`         // HTTP status; 0 when no answer came
	Outcome       string    `json:"outcome"`        // "ok", or the genesys error class
	Code          string    `json:"code,omitempty"` // Genesys error code
	CorrelationID string    `json:"correlation_id,omitempty"`
}

// Line returns the item's first plan line.
func (it *Item) Line() int {
	if len(it.Lines) == 0 {
		return 0
	}
	return it.Lines[0]
}
