package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// recordV1 is the first record format: one version byte, then the item as JSON.
// A later format gets a new number; decodeItem keeps reading every older one.
const recordV1 byte = 1

// encodeItem returns the stored form of an item.
func encodeItem(it *Item) ([]byte, error) {
	buf := make([]byte, 1, 512)
	buf[0] = recordV1
	body, err := json.Marshal(it)
	if err != nil {
		return nil, fmt.Errorf("encode item %d: %w", it.Seq, err)
	}
	return append(buf, body...), nil
}

// decodeItem reads a stored record of any known format version.
func decodeItem(b []byte) (*Item, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("decode item: empty record: %w", ErrCorrupt)
	}
	switch b[0] {
	case recordV1:
		it := new(Item)
		if err := json.Unmarshal(b[1:], it); err != nil {
			return nil, fmt.Errorf("decode item: %w: %w", ErrCorrupt, err)
		}
		if err := checkDecoded(it); err != nil {
			return nil, err
		}
		return it, nil
	default:
		return nil, fmt.Errorf("decode item: format version %d, this build reads up to %d: %w",
			b[0], recordV1, ErrUnknownVersion)
	}
}

// checkDecoded rejects decoded records that no gcbulk would have written.
func checkDecoded(it *Item) error {
	switch {
	case it.State < Waiting || it.State > Exhausted:
		return fmt.Errorf("decode item %d: state %d: %w", it.Seq, it.State, ErrCorrupt)
	case it.Attempts < 0:
		return fmt.Errorf("decode item %d: attempts %d: %w", it.Seq, it.Attempts, ErrCorrupt)
	case it.KeyKind != KeyID && it.KeyKind != KeyEmail:
		return fmt.Errorf("decode item %d: key kind %d: %w", it.Seq, it.KeyKind, ErrCorrupt)
	}
	return nil
}

// seqKey returns the 8-byte big-endian key of a sequence number.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// dueNanos maps an eligibility time onto the due index's unsigned clock.
// Times before 1970 (including the zero time) sort first as "due now".
func dueNanos(t time.Time) uint64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	if t.Unix() >= math.MaxInt64/int64(time.Second) {
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// dueKey returns the due-index key: 8-byte unix nanos then 8-byte seq.
func dueKey(t time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, dueNanos(t))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// stateKey returns the state-index key: one state byte then 8-byte seq.
func stateKey(s State, seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = byte(s)
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}
