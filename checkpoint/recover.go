package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// History ops Recover records. OpRecover is the op the scheduler also
// writes for an item put back in the queue after a crash: it tells the
// scheduler a write of ours may have landed.
const (
	OpVerify  = "verify"
	OpRecover = "recover"
)

// Outcomes Recover records besides "ok".
const (
	outcomeOK        = "ok"
	outcomeUncertain = "uncertain"
)

// BatchSize is how many uncertain items one read covers: the most
// GET /api/v2/users takes.
const BatchSize = genesys.MaxGetUsers

// readTries bounds the reads of one batch; readBackoff is the wait after
// the first failure, doubled after each further one, and maxReadWait caps
// a Retry-After. Recover runs before anything else, so it waits briefly
// and then leaves the rest to the next start.
const (
	readTries   = 3
	readBackoff = time.Second
	maxReadWait = 10 * time.Second
)

// ErrUncertain is returned, wrapped, when some items left in flight could
// not be read back: they stay InFlight and the next Recover checks them.
var ErrUncertain = errors.New("items left in flight are still uncertain")

// Reader reads up to BatchSize users in one request; ids that do not exist
// are absent from the answer. *genesys.Client satisfies it.
type Reader interface {
	GetUsers(ctx context.Context, ids []string) ([]genesys.User, genesys.Meta, error)
}

// RecoverSummary counts what Recover did with the items left in flight.
type RecoverSummary struct {
	Verified int // the user holds the desired values: Applied, Verified
	Requeued int // the user does not: Waiting, due now, re-read before any write
	NotFound int // the user no longer exists
	Reads    int // GET users requests sent, failed ones included
}

// Recover settles every item a crash left InFlight, whose write may or may
// not have reached Genesys. It re-reads their users in batches of
// BatchSize: an item whose user holds all desired values is Applied and
// Verified (with a "verify" attempt and the version read); one whose user
// does not goes back to Waiting, due at now(), with a "recover" attempt so
// the scheduler knows a write may have landed; an absent user ends
// NotFound. Each batch is one ledger transaction, which also counts the
// reads in the stored checkpoint.
//
// A transient or rate-limited read is tried again after a short backoff
// (at most three tries a batch). When a batch still fails, its items stay
// InFlight and Recover returns an error wrapping ErrUncertain and the read
// error, after trying the other batches. An authentication failure or a
// cancelled ctx returns at once. Nothing is ever written to Genesys.
func Recover(ctx context.Context, l *store.Ledger, r Reader, now func() time.Time,
) (RecoverSummary, error) {
	var sum RecoverSummary
	items, err := inFlight(l)
	if err != nil || len(items) == 0 {
		return sum, err
	}

	var failed int
	var lastErr error
	for start := 0; start < len(items); start += BatchSize {
		batch := items[start:min(start+BatchSize, len(items))]
		err := recoverBatch(ctx, l, r, now, batch, &sum)
		switch {
		case err == nil:
		case ctx.Err() != nil, genesys.ClassOf(err) == genesys.ClassAuth,
			errors.Is(err, errLedger):
			return sum, err
		default:
			failed += len(batch)
			lastErr = err
		}
	}
	if lastErr != nil {
		return sum, fmt.Errorf("recover in-flight items: %d %w (left in flight; the next run "+
			"checks them again): %w", failed, ErrUncertain, lastErr)
	}
	return sum, nil
}

// errLedger marks a ledger failure inside recoverBatch.
var errLedger = errors.New("ledger")

// inFlight lists the items left InFlight. A crash leaves at most the run's
// concurrency times its batch size of them, so they fit in memory.
func inFlight(l *store.Ledger) ([]*store.Item, error) {
	var items []*store.Item
	err := l.EachInState(store.InFlight, func(it *store.Item) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recover in-flight items: %w", err)
	}
	return items, nil
}

// recoverBatch reads one batch's users and records what it found in one
// transaction.
func recoverBatch(ctx context.Context, l *store.Ledger, r Reader, now func() time.Time,
	batch []*store.Item, sum *RecoverSummary) error {
	var ids []string
	for _, it := range batch {
		if id := userID(it); id != "" {
			ids = append(ids, id)
		}
	}
	users, meta, reads, err := readUsers(ctx, r, ids)
	sum.Reads += reads
	if err != nil {
		if reads > 0 {
			// Keep the failed reads in the request counters all the same.
			_ = commit(l, nil, reads)
		}
		return err
	}

	at := now().UTC()
	for _, it := range batch {
		settle(it, users, meta, at, sum)
	}
	if err := commit(l, batch, reads); err != nil {
		return fmt.Errorf("recover in-flight items: %w: %w", errLedger, err)
	}
	return nil
}

// readUsers reads the users of ids, trying a transient or rate-limited
// failure again after a short backoff. It returns the users by id and how
// many requests it sent.
func readUsers(ctx context.Context, r Reader, ids []string,
) (map[string]genesys.User, genesys.Meta, int, error) {
	if len(ids) == 0 {
		return map[string]genesys.User{}, genesys.Meta{}, 0, nil
	}
	wait := readBackoff
	for try := 1; ; try++ {
		list, meta, err := r.GetUsers(ctx, ids)
		if err == nil {
			users := make(map[string]genesys.User, len(list))
			for _, u := range list {
				users[u.ID] = u
			}
			return users, meta, try, nil
		}
		if try == readTries || !retryable(ctx, err) {
			return nil, meta, try, fmt.Errorf("read users left in flight: %w", err)
		}
		if err := sleep(ctx, retryWait(err, wait)); err != nil {
			return nil, meta, try, fmt.Errorf("read users left in flight: %w", err)
		}
		wait *= 2
	}
}

// retryable reports whether a failed read is worth another try now.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	c := genesys.ClassOf(err)
	return c == genesys.ClassTransient || c == genesys.ClassRateLimited
}

// retryWait is the Retry-After of a 429 (capped), else the backoff.
func retryWait(err error, backoff time.Duration) time.Duration {
	var e *genesys.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return min(e.RetryAfter, maxReadWait)
	}
	return backoff
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// userID returns the Genesys id an item names; empty for an e-mail key not
// resolved yet.
func userID(it *store.Item) string {
	if it.UserID == "" && it.KeyKind == store.KeyID {
		return it.Key
	}
	return it.UserID
}

// settle moves one uncertain item on by what the read found.
func settle(it *store.Item, users map[string]genesys.User, meta genesys.Meta, at time.Time,
	sum *RecoverSummary) {
	id := userID(it)
	u, found := users[id]
	switch {
	case id == "":
		// No id to read: the scheduler resolves it before anything else.
		requeue(it, genesys.Meta{}, at)
		sum.Requeued++
	case !found:
		it.State, it.NextAt = store.NotFound, time.Time{}
		it.ErrorCode, it.ErrorMessage = "not.found", fmt.Sprintf("user %s not found", id)
		note(it, OpVerify, meta, at, genesys.ClassNotFound.String())
		sum.NotFound++
	case len(u.Diff(it.Desired)) == 0:
		it.State, it.NextAt = store.Applied, time.Time{}
		it.Verified, it.VersionAfter = true, u.Version
		it.ErrorCode, it.ErrorMessage = "", ""
		note(it, OpVerify, meta, at, outcomeOK)
		sum.Verified++
	default:
		requeue(it, meta, at)
		sum.Requeued++
	}
}

// requeue puts an item back in the queue, due at once. The "recover"
// attempt tells the scheduler a write of ours may have landed, so an item
// it later finds settled is Applied, not Unchanged.
func requeue(it *store.Item, meta genesys.Meta, at time.Time) {
	it.State, it.NextAt = store.Waiting, at
	note(it, OpRecover, meta, at, outcomeUncertain)
}

// note appends one attempt, made at at, to the item's history.
func note(it *store.Item, op string, meta genesys.Meta, at time.Time, outcome string) {
	it.History = append(it.History, store.Attempt{
		At:            at,
		Op:            op,
		Status:        meta.Status,
		Outcome:       outcome,
		CorrelationID: meta.CorrelationID,
	})
	if meta.CorrelationID != "" {
		it.CorrelationIDs = append(it.CorrelationIDs, meta.CorrelationID)
	}
	if meta.Status != 0 {
		it.HTTPStatus = meta.Status
	}
}

// commit saves items and adds reads to the stored checkpoint's counters in
// one transaction. Recover runs before the scheduler starts, so the
// checkpoint read here is the latest one.
func commit(l *store.Ledger, items []*store.Item, reads int) error {
	st, err := Load(l)
	if err != nil {
		return err
	}
	st.Counters.Reads += int64(reads)
	st.Counters.Requests += int64(reads)
	return l.Update(func(tx *store.Tx) error {
		if err := tx.Save(items...); err != nil {
			return err
		}
		return Save(tx, st)
	})
}
