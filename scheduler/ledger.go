package scheduler

import (
	"time"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/store"
)

// Ledger is what the scheduler needs from the run ledger. StoreLedger
// adapts a *store.Ledger; tests may use an in-memory one.
type Ledger interface {
	// Meta and SetMeta read and change the run metadata.
	Meta() (store.RunMeta, error)
	SetMeta(fn func(*store.RunMeta)) error
	// Due returns up to max Waiting items with NextAt <= now, earliest first.
	Due(now time.Time, max int) ([]*store.Item, error)
	// NextDue returns the earliest NextAt of any Waiting item.
	NextDue() (time.Time, bool, error)
	// Each and EachInState stream items in Seq order.
	Each(fn func(*store.Item) error) error
	EachInState(s store.State, fn func(*store.Item) error) error
	// Counts returns how many items are in each state.
	Counts() (map[store.State]int, error)
	// Get returns one item; Delete removes one (after a merge).
	Get(seq uint64) (*store.Item, error)
	Delete(seq uint64) error
	// LoadCheckpoint returns the saved checkpoint, zero when none.
	LoadCheckpoint() (checkpoint.State, error)
	// Commit saves items and the checkpoint in one transaction.
	Commit(items []*store.Item, cp checkpoint.State) error
}

// StoreLedger adapts a *store.Ledger to Ledger.
func StoreLedger(l *store.Ledger) Ledger { return storeLedger{l} }

type storeLedger struct{ *store.Ledger }

func (l storeLedger) LoadCheckpoint() (checkpoint.State, error) {
	return checkpoint.Load(l.Ledger)
}

func (l storeLedger) Commit(items []*store.Item, cp checkpoint.State) error {
	return l.Update(func(tx *store.Tx) error {
		if err := tx.Save(items...); err != nil {
			return err
		}
		return checkpoint.Save(tx, cp)
	})
}
