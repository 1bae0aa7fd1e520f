package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gcbulk/gcbulk/internal/wait"

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

// Reader reads users: GetUsers up to BatchSize in one request, leaving out
// ids that do not exist; GetUser one, an unknown id being a ClassNotFound
// error. *genesys.Client satisfies it.
type Reader interface {
	GetUsers(ctx context.Context, ids []string) ([]genesys.User, genesys.Meta, error)
	GetUser(ctx context.Context, id string) (genesys.User, genesys.Meta, error)
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
// the scheduler knows a write may have landed. A user absent from the batch
// answer is read once more on its own: it ends NotFound only on that read's
// 404. Each batch is one ledger transaction, which also counts the reads in
// the stored checkpoint.
//
// A transient or rate-limited read is tried again after a short backoff
// (at most three tries a read). When a read still fails, its items stay
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
		left, err := recoverBatch(ctx, l, r, now, batch, &sum)
		switch {
		case err == nil:
		case ctx.Err() != nil, genesys.ClassOf(err) == genesys.ClassAuth,
			errors.Is(err, errLedger):
			return sum, err
		default:
			failed += left
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
// transaction. left counts the items still in flight because a read failed.
func recoverBatch(ctx context.Context, l *store.Ledger, r Reader, now func() time.Time,
	batch []*store.Item, sum *RecoverSummary) (left int, err error) {
	var ids []string
	for _, it := range batch {
		if id := userID(it); id != "" {
			ids = append(ids, id)
		}
	}
	rd, err := readBatch(ctx, r, ids)
	sum.Reads += rd.reads
	if err != nil {
		if rd.reads > 0 {
			// Keep the failed reads in the request counters all the same.
			_ = commit(l, nil, rd.reads)
		}
		return len(batch), err
	}

	at := now().UTC()
	for _, it := range batch {
		if !settle(it, &rd, at, sum) {
			left++
		}
	}
	if err := commit(l, batch, rd.reads); err != nil {
		return len(batch), fmt.Errorf("recover in-flight items: %w: %w", errLedger, err)
	}
	if left > 0 {
		return left, rd.err
	}
	return 0, nil
}

// reading is what the reads of one batch found.
type reading struct {
	users map[string]genesys.User   // by id, from the batch and single reads
	meta  genesys.Meta              // the batch read's answer
	gone  map[string]*genesys.Error // the 404 of each user confirmed absent
	reads int                       // requests sent, failed ones included
	err   error                     // the last single read that still failed
}

// readBatch reads the users of ids in one request, then each user left
// out of the answer on its own: a batch answers 200 without them, which
// proves nothing. It returns an error when the batch read fails, or when
// a single read meets an authentication failure or a cancelled ctx.
func readBatch(ctx context.Context, r Reader, ids []string) (reading, error) {
	rd := reading{users: map[string]genesys.User{}, gone: map[string]*genesys.Error{}}
	if len(ids) == 0 {
		return rd, nil
	}
	list, meta, tries, err := retry(ctx, func() ([]genesys.User, genesys.Meta, error) {
		return r.GetUsers(ctx, ids)
	})
	rd.meta, rd.reads = meta, tries
	if err != nil {
		return rd, fmt.Errorf("read users left in flight: %w", err)
	}
	for _, u := range list {
		rd.users[u.ID] = u
	}

	for _, id := range ids {
		if _, ok := rd.users[id]; ok {
			continue
		}
		u, _, tries, err := retry(ctx, func() (genesys.User, genesys.Meta, error) {
			return r.GetUser(ctx, id)
		})
		rd.reads += tries
		var ge *genesys.Error
		switch {
		case err == nil:
			rd.users[id] = u
		case ctx.Err() != nil, genesys.ClassOf(err) == genesys.ClassAuth:
			return rd, fmt.Errorf("read user left in flight: %w", err)
		case genesys.ClassOf(err) == genesys.ClassNotFound && errors.As(err, &ge):
			rd.gone[id] = ge
		default:
			rd.err = fmt.Errorf("read user left in flight: %w", err)
		}
	}
	return rd, nil
}

// retry runs one read, trying a transient or rate-limited failure again
// after a short backoff, up to readTries. It returns how many requests it
// sent.
func retry[T any](ctx context.Context, call func() (T, genesys.Meta, error),
) (T, genesys.Meta, int, error) {
	backoff := readBackoff
	for try := 1; ; try++ {
		out, meta, err := call()
		if err == nil || try == readTries || !retryable(ctx, err) {
			return out, meta, try, err
		}
		if err := wait.Sleep(ctx, retryWait(err, backoff)); err != nil {
			return out, meta, try, err
		}
		backoff *= 2
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

// userID returns the Genesys id an item names; empty for an e-mail key not
// resolved yet.
func userID(it *store.Item) string {
	if it.UserID == "" && it.KeyKind == store.KeyID {
		return it.Key
	}
	return it.UserID
}

// settle moves one uncertain item on by what the reads found. It reports
// false when the item stays in flight: its user's single read failed.
func settle(it *store.Item, rd *reading, at time.Time, sum *RecoverSummary) bool {
	id := userID(it)
	u, found := rd.users[id]
	switch {
	case id == "":
		// No id to read: the scheduler resolves it before anything else.
		requeue(it, genesys.Meta{}, at)
		sum.Requeued++
	case found && len(u.Diff(it.Desired)) == 0:
		it.State, it.NextAt = store.Applied, time.Time{}
		it.Verified, it.VersionAfter = true, u.Version
		it.ErrorCode, it.ErrorMessage = "", ""
		note(it, OpVerify, rd.meta, at, outcomeOK)
		sum.Verified++
	case found:
		requeue(it, rd.meta, at)
		sum.Requeued++
	case rd.gone[id] != nil:
		e := rd.gone[id]
		it.State, it.NextAt = store.NotFound, time.Time{}
		it.ErrorCode, it.ErrorMessage = e.Code, e.Message
		note(it, OpVerify, genesys.Meta{Status: e.Status, CorrelationID: e.CorrelationID}, at,
			genesys.ClassNotFound.String())
		it.History[len(it.History)-1].Code = e.Code
		sum.NotFound++
	default:
		return false
	}
	return true
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
