package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Tx is one write transaction on the ledger: every Save and checkpoint in
// it commits together, with one fsync.
type Tx struct {
	tx  *bolt.Tx
	err error // first failed Save; the whole transaction is then rolled back
}

// Update runs fn in one write transaction and commits if fn and every Save
// in it succeed. A refused Save rolls the transaction back even if fn
// ignores the error, so a bad transition never half-commits.
func (l *Ledger) Update(fn func(tx *Tx) error) error {
	return l.update(func(btx *bolt.Tx) error {
		t := &Tx{tx: btx}
		if err := fn(t); err != nil {
			return err
		}
		return t.err
	})
}

// Save writes items in one transaction (group commit). See Tx.Save.
func (l *Ledger) Save(items ...*Item) error {
	return l.Update(func(tx *Tx) error { return tx.Save(items...) })
}

// Save writes items and keeps the due index, the state index and the
// per-state counts in step. An item with Seq 0 is new and gets the next
// sequence number. It returns ErrBadTransition when an item leaves a
// terminal state or its attempt count goes down.
func (t *Tx) Save(items ...*Item) error {
	if t.err != nil {
		return t.err
	}
	for _, it := range items {
		if err := t.save(it); err != nil {
			t.err = err
			return err
		}
	}
	return nil
}

func (t *Tx) save(it *Item) error {
	items := t.tx.Bucket(bucketItems)
	if !it.State.valid() {
		return fmt.Errorf("save item %d: state %d: %w", it.Seq, it.State, ErrBadTransition)
	}
	if it.Seq == 0 {
		seq, err := items.NextSequence()
		if err != nil {
			return fmt.Errorf("save item: %w", err)
		}
		it.Seq = seq
	}

	if raw := items.Get(seqKey(it.Seq)); raw != nil {
		old, err := decodeItem(raw)
		if err != nil {
			return fmt.Errorf("save item %d: %w", it.Seq, err)
		}
		if err := checkChange(old, it); err != nil {
			return err
		}
		if err := unindex(t.tx, old); err != nil {
			return err
		}
	} else if items.Sequence() < it.Seq {
		if err := items.SetSequence(it.Seq); err != nil {
			return fmt.Errorf("save item %d: %w", it.Seq, err)
		}
	}
	return putItem(t.tx, it)
}

// checkChange applies the state rules to one saved item.
func checkChange(old, it *Item) error {
	if !CanTransition(old.State, it.State) {
		return fmt.Errorf("save item %d: %s to %s: %w", it.Seq, old.State, it.State, ErrBadTransition)
	}
	if it.Attempts < old.Attempts {
		return fmt.Errorf("save item %d: attempts would drop from %d to %d: %w",
			it.Seq, old.Attempts, it.Attempts, ErrBadTransition)
	}
	return nil
}

// SetCheckpoint stores opaque checkpoint bytes in this transaction.
func (t *Tx) SetCheckpoint(b []byte) error {
	if err := t.tx.Bucket(bucketMeta).Put(keyCheckpoint, append([]byte(nil), b...)); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// putItem writes an item's record and its index entries.
func putItem(tx *bolt.Tx, it *Item) error {
	if it.Attempts < 0 {
		return fmt.Errorf("save item %d: attempts %d: %w", it.Seq, it.Attempts, ErrBadTransition)
	}
	rec, err := encodeItem(it)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketItems).Put(seqKey(it.Seq), rec); err != nil {
		return fmt.Errorf("save item %d: %w", it.Seq, err)
	}
	if it.State == Waiting {
		if err := tx.Bucket(bucketDue).Put(dueKey(it.NextAt, it.Seq), nil); err != nil {
			return fmt.Errorf("index item %d: %w", it.Seq, err)
		}
	}
	if err := tx.Bucket(bucketState).Put(stateKey(it.State, it.Seq), nil); err != nil {
		return fmt.Errorf("index item %d: %w", it.Seq, err)
	}
	return addCount(tx, it.State, 1)
}

// unindex removes an item's index entries and its count.
func unindex(tx *bolt.Tx, it *Item) error {
	if it.State == Waiting {
		if err := tx.Bucket(bucketDue).Delete(dueKey(it.NextAt, it.Seq)); err != nil {
			return fmt.Errorf("unindex item %d: %w", it.Seq, err)
		}
	}
	if err := tx.Bucket(bucketState).Delete(stateKey(it.State, it.Seq)); err != nil {
		return fmt.Errorf("unindex item %d: %w", it.Seq, err)
	}
	return addCount(tx, it.State, -1)
}

// addCount changes a state's counter.
func addCount(tx *bolt.Tx, s State, delta int64) error {
	b := tx.Bucket(bucketCounts)
	k := []byte{byte(s)}
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		return fmt.Errorf("count %s: negative: %w", s, ErrCorrupt)
	}
	if err := b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return fmt.Errorf("count %s: %w", s, err)
	}
	return nil
}
