package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// chunk is how many items the streaming readers load per read transaction,
// so a callback may write to the ledger between chunks.
const chunk = 1000

// Get returns the item with sequence number seq, or ErrNoItem.
func (l *Ledger) Get(seq uint64) (*Item, error) {
	var it *Item
	err := l.view(func(tx *bolt.Tx) error {
		var err error
		it, err = getItem(tx, seq)
		return err
	})
	return it, err
}

func getItem(tx *bolt.Tx, seq uint64) (*Item, error) {
	raw := tx.Bucket(bucketItems).Get(seqKey(seq))
	if raw == nil {
		return nil, fmt.Errorf("get item %d: %w", seq, ErrNoItem)
	}
	it, err := decodeItem(raw)
	if err != nil {
		return nil, fmt.Errorf("get item %d: %w", seq, err)
	}
	return it, nil
}

// Due returns up to max Waiting items whose NextAt is not after now,
// earliest first, read from the due index.
func (l *Ledger) Due(now time.Time, max int) ([]*Item, error) {
	var out []*Item
	limit := dueNanos(now)
	err := l.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < max; k, _ = c.Next() {
			if binary.BigEndian.Uint64(k) > limit {
				break
			}
			it, err := getItem(tx, binary.BigEndian.Uint64(k[8:]))
			if err != nil {
				return fmt.Errorf("read due items: %w", err)
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// NextDue returns the earliest NextAt of any Waiting item; false when no
// item is waiting. A Waiting item with a zero NextAt reports the zero time.
func (l *Ledger) NextDue() (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := l.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketDue).Cursor().First()
		if k == nil {
			return nil
		}
		ok = true
		if n := binary.BigEndian.Uint64(k); n > 0 {
			at = time.Unix(0, int64(n))
		}
		return nil
	})
	return at, ok, err
}

// EachInState calls fn for every item in state s, in Seq order, from the
// state index. Items are read in chunks, each in its own read transaction,
// so fn may save items; an item moved by fn is not visited twice.
func (l *Ledger) EachInState(s State, fn func(*Item) error) error {
	prefix := []byte{byte(s)}
	return l.walk(bucketState, prefix, seqFromStateKey, fn)
}

// Each calls fn for every item in Seq order, streaming in chunks as
// EachInState does.
func (l *Ledger) Each(fn func(*Item) error) error {
	return l.walk(bucketItems, nil, func(k []byte) uint64 {
		return binary.BigEndian.Uint64(k)
	}, fn)
}

// walk streams the items named by the keys of bucket under prefix.
func (l *Ledger) walk(bucket, prefix []byte, seqOf func([]byte) uint64,
	fn func(*Item) error,
) error {
	var after []byte
	for {
		batch, last, err := l.readChunk(bucket, prefix, after, seqOf)
		if err != nil {
			return err
		}
		for _, it := range batch {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(batch) < chunk {
			return nil
		}
		after = last
	}
}

// readChunk reads up to chunk items whose keys follow after.
func (l *Ledger) readChunk(bucket, prefix, after []byte, seqOf func([]byte) uint64,
) ([]*Item, []byte, error) {
	batch := make([]*Item, 0, chunk)
	var last []byte
	err := l.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, _ := c.Seek(prefix)
		if after != nil {
			k, _ = c.Seek(after)
			if bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(batch) < chunk; k, _ = c.Next() {
			it, err := getItem(tx, seqOf(k))
			if err != nil {
				return err
			}
			batch = append(batch, it)
			last = append(last[:0], k...)
		}
		return nil
	})
	return batch, last, err
}

// Counts returns how many items are in each state; states with no items
// are absent. It reads kept counters, not the items.
func (l *Ledger) Counts() (map[State]int, error) {
	out := make(map[State]int, len(States))
	err := l.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			if len(k) != 1 || len(v) != 8 {
				return fmt.Errorf("read counts: %w", ErrCorrupt)
			}
			if n := binary.BigEndian.Uint64(v); n > 0 {
				out[State(k[0])] = int(n)
			}
			return nil
		})
	})
	return out, err
}

// Delete removes an item, its index entries and its plan-key entry. It is
// used when resolution finds two items naming the same user.
func (l *Ledger) Delete(seq uint64) error {
	return l.update(func(tx *bolt.Tx) error {
		it, err := getItem(tx, seq)
		if err != nil {
			return fmt.Errorf("delete item: %w", err)
		}
		if err := unindex(tx, it); err != nil {
			return err
		}
		if err := tx.Bucket(bucketItems).Delete(seqKey(seq)); err != nil {
			return fmt.Errorf("delete item %d: %w", seq, err)
		}
		return deleteKeyEntry(tx, it)
	})
}

// deleteKeyEntry drops the plan-key entry of a deleted item if it points at it.
func deleteKeyEntry(tx *bolt.Tx, it *Item) error {
	b := tx.Bucket(bucketKeys)
	k := normalKey(it.KeyKind, it.Key)
	if v := b.Get(k); len(v) >= 8 && binary.BigEndian.Uint64(v) == it.Seq {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete item %d key: %w", it.Seq, err)
		}
	}
	return nil
}

func seqFromStateKey(k []byte) uint64 { return binary.BigEndian.Uint64(k[1:]) }
