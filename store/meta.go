package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RunMeta describes a run: which plan it came from and how it was set up.
type RunMeta struct {
	Fingerprint string            `json:"fingerprint"`  // PlanFingerprint of the plan
	ToolVersion string            `json:"tool_version"` // gcbulk version that imported the plan
	Created     time.Time         `json:"created"`      // when the ledger was imported
	PlanPath    string            `json:"plan_path"`    // absolute path of the plan
	PlanFormat  string            `json:"plan_format"`  // "csv" or "jsonl"
	Rows        int               `json:"rows"`         // plan rows, blank lines left out
	Items       int               `json:"items"`        // items after merging duplicates
	Duplicates  int               `json:"duplicates"`   // rows merged into an earlier row
	Settings    map[string]string `json:"settings,omitempty"`
	Resolved    bool              `json:"resolved"` // every e-mail key has been resolved
}

// Meta returns the run metadata.
func (l *Ledger) Meta() (RunMeta, error) {
	var m RunMeta
	err := l.view(func(tx *bolt.Tx) error {
		var err error
		m, err = getMeta(tx)
		return err
	})
	return m, err
}

// SetMeta changes the run metadata in one transaction.
func (l *Ledger) SetMeta(fn func(*RunMeta)) error {
	return l.update(func(tx *bolt.Tx) error {
		m, err := getMeta(tx)
		if err != nil {
			return err
		}
		fn(&m)
		return putMeta(tx, m)
	})
}

func getMeta(tx *bolt.Tx) (RunMeta, error) {
	var m RunMeta
	b := tx.Bucket(bucketMeta).Get(keyRun)
	if len(b) == 0 {
		return m, fmt.Errorf("read run meta: missing: %w", ErrCorrupt)
	}
	if b[0] != recordV1 {
		return m, fmt.Errorf("read run meta: format version %d: %w", b[0], ErrUnknownVersion)
	}
	if err := json.Unmarshal(b[1:], &m); err != nil {
		return m, fmt.Errorf("read run meta: %w: %w", ErrCorrupt, err)
	}
	return m, nil
}

func putMeta(tx *bolt.Tx, m RunMeta) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("write run meta: %w", err)
	}
	rec := append([]byte{recordV1}, body...)
	if err := tx.Bucket(bucketMeta).Put(keyRun, rec); err != nil {
		return fmt.Errorf("write run meta: %w", err)
	}
	return nil
}

// Checkpoint returns the bytes last stored by SetCheckpoint, or nil.
func (l *Ledger) Checkpoint() ([]byte, error) {
	var out []byte
	err := l.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(keyCheckpoint); b != nil {
			out = append([]byte(nil), b...)
		}
		return nil
	})
	return out, err
}

// SetCheckpoint stores opaque checkpoint bytes in their own transaction.
func (l *Ledger) SetCheckpoint(b []byte) error {
	return l.Update(func(tx *Tx) error { return tx.SetCheckpoint(b) })
}
