package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// OpRetry is the History op that records an explicit retry.
const OpRetry = "retry"

// Retry moves items in the given terminal failure states (every failure
// state when none is given) back to Waiting, eligible now. Attempts and
// history are kept; a History entry with Op "retry" records the state the
// item left. It returns how many items moved. Items move in batches, each
// batch in one transaction.
func (l *Ledger) Retry(states ...State) (int, error) {
	if len(states) == 0 {
		for _, s := range States {
			if s.Failed() {
				states = append(states, s)
			}
		}
	}
	moved := 0
	for _, s := range states {
		if !s.Failed() {
			return moved, fmt.Errorf("retry %s: not a failure state: %w", s, ErrBadTransition)
		}
		for {
			n, err := l.retryBatch(s)
			moved += n
			if err != nil {
				return moved, err
			}
			if n == 0 {
				break
			}
		}
	}
	return moved, nil
}

// retryBatch moves up to chunk items out of state s in one transaction.
func (l *Ledger) retryBatch(s State) (int, error) {
	now := l.opts.Clock()
	n := 0
	err := l.update(func(tx *bolt.Tx) error {
		var seqs []uint64
		c := tx.Bucket(bucketState).Cursor()
		k, _ := c.Seek([]byte{byte(s)})
		for ; k != nil && k[0] == byte(s) && len(seqs) < chunk; k, _ = c.Next() {
			seqs = append(seqs, seqFromStateKey(k))
		}
		for _, seq := range seqs {
			it, err := getItem(tx, seq)
			if err != nil {
				return fmt.Errorf("retry: %w", err)
			}
			if err := unindex(tx, it); err != nil {
				return err
			}
			it.History = append(it.History, Attempt{At: now, Op: OpRetry, Outcome: it.State.String()})
			it.State, it.NextAt = Waiting, now
			if err := putItem(tx, it); err != nil {
				return err
			}
		}
		n = len(seqs)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
