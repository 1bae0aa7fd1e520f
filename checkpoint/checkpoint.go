package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gcbulk/gcbulk/store"
)

// Version is the encoding version Encode writes.
const Version = 1

// ErrVersion is returned when stored checkpoint bytes carry a version this
// build does not know.
var ErrVersion = errors.New("unknown checkpoint version")

// Counters counts the requests a run has sent, over all its sessions.
type Counters struct {
	Requests int64 `json:"requests"` // every paced request, whatever its op
	Reads    int64 `json:"reads"`    // GET users (batch and single)
	Patches  int64 `json:"patches"`  // PATCH user bodies sent
	Moves    int64 `json:"moves"`    // division move requests
	Resolves int64 `json:"resolves"` // e-mail resolution calls
}

// State is the checkpointed run state. The governor fields are plain
// values so this package does not depend on the scheduler.
type State struct {
	Rate        float64       `json:"rate"`         // sending rate, requests per second
	Limit       float64       `json:"limit"`        // learned limit, requests per second; 0 unknown
	RateLimited int           `json:"rate_limited"` // 429 answers seen
	Breaker     string        `json:"breaker"`      // circuit breaker state name
	Counters    Counters      `json:"counters"`
	Elapsed     time.Duration `json:"elapsed"`    // time spent sending, over all sessions
	UpdatedAt   time.Time     `json:"updated_at"` // wall time of the last save
}

type record struct {
	Version int `json:"version"`
	State
}

// Encode returns the stored form of st.
func Encode(st State) ([]byte, error) {
	b, err := json.Marshal(record{Version: Version, State: st})
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return b, nil
}

// Decode parses bytes written by Encode. Empty input is the zero State.
func Decode(b []byte) (State, error) {
	if len(b) == 0 {
		return State{}, nil
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return State{}, fmt.Errorf("decode checkpoint: %w", err)
	}
	if r.Version != Version {
		return State{}, fmt.Errorf("decode checkpoint version %d: %w", r.Version, ErrVersion)
	}
	return r.State, nil
}

// Load reads the checkpoint stored in the ledger; a ledger without one
// gives the zero State.
func Load(l *store.Ledger) (State, error) {
	b, err := l.Checkpoint()
	if err != nil {
		return State{}, fmt.Errorf("load checkpoint: %w", err)
	}
	return Decode(b)
}

// Save stores st within tx, so it commits with the items saved there.
func Save(tx *store.Tx, st State) error {
	b, err := Encode(st)
	if err != nil {
		return err
	}
	if err := tx.SetCheckpoint(b); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
