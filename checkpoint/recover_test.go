package checkpoint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

// restart is the wall time of the restart in these tests.
var restart = time.Date(2025, 3, 2, 3, 0, 0, 0, time.UTC)

func clock() time.Time { return restart }

// idFor returns a deterministic user id for n.
func idFor(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }

// Division ids: users start in divA, the plan moves them to divB.
const (
	divA = "d1000000-0000-4000-8000-00000000000a"
	divB = "d1000000-0000-4000-8000-00000000000b"
)

// fakeReader serves users from a map; the first calls may fail.
type fakeReader struct {
	mu      sync.Mutex
	users   map[string]genesys.User
	hidden  map[string]bool // users batch reads leave out, as a lagging index would
	fail    []error         // returned by the first batch calls, in order
	failOne []error         // returned by the first single calls, in order
	calls   [][]string      // ids of every batch call
	single  []string        // id of every single call
}

func (f *fakeReader) GetUsers(_ context.Context, ids []string) ([]genesys.User, genesys.Meta,
	error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]string(nil), ids...))
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return nil, genesys.Meta{Status: 503, CorrelationID: "cid-fail"}, err
	}
	var out []genesys.User
	for _, id := range ids {
		if u, ok := f.users[id]; ok && !f.hidden[id] {
			out = append(out, u)
		}
	}
	return out, genesys.Meta{Status: 200, CorrelationID: fmt.Sprintf("cid-%d", len(f.calls))},
		nil
}

func (f *fakeReader) GetUser(_ context.Context, id string) (genesys.User, genesys.Meta,
	error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.single = append(f.single, id)
	cid := fmt.Sprintf("cid-one-%d", len(f.single))
	if len(f.failOne) > 0 {
		err := f.failOne[0]
		f.failOne = f.failOne[1:]
		return genesys.User{}, genesys.Meta{Status: 503, CorrelationID: cid}, err
	}
	u, ok := f.users[id]
	if !ok {
		return genesys.User{}, genesys.Meta{Status: 404, CorrelationID: cid},
			&genesys.Error{Op: "get user", Class: genesys.ClassNotFound, Status: 404,
				Code: "not.found", Message: "user " + id + " not found", CorrelationID: cid}
	}
	return u, genesys.Meta{Status: 200, CorrelationID: cid}, nil
}

func (f *fakeReader) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// bundle is what setup gives a test.
type bundle struct {
	l  *store.Ledger
	r  *fakeReader
	in []*store.Item // the items put in flight, in plan order
}

// setup imports a plan of n rows (user i to title "Lead i", division
// divB) and puts the first inFlight items in flight with their Before
// values. Every user is in the reader, still holding the old values.
func setup(t *testing.T, n, inFlight int) *bundle {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("id,title,division\n")
	for i := range n {
		fmt.Fprintf(&sb, "%s,Lead %d,"+divB+"\n", idFor(i), i)
	}
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.csv")
	require.NoError(t, os.WriteFile(plan, []byte(sb.String()), 0o600))
	l, _, err := store.Import(filepath.Join(dir, "run.ledger"), plan, store.ImportOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	b := &bundle{l: l, r: &fakeReader{users: map[string]genesys.User{}}}
	for i := range n {
		b.r.users[idFor(i)] = genesys.User{ID: idFor(i), Title: "Agent", Version: 3,
			Division: &genesys.Division{ID: divA}}
	}
	require.NoError(t, l.Each(func(it *store.Item) error {
		if len(b.in) < inFlight {
			it.State, it.Attempts = store.InFlight, 1
			it.Before = map[string]string{"title": "Agent", "division": divA}
			b.in = append(b.in, it)
		}
		return nil
	}))
	require.NoError(t, l.Save(b.in...))
	return b
}

// apply makes the reader's user i hold its desired values, as if the write
// sent before the crash had landed.
func (b *bundle) apply(i int) {
	u := b.r.users[idFor(i)]
	u.Title, u.Division, u.Version = fmt.Sprintf("Lead %d", i), &genesys.Division{ID: divB}, 5
	b.r.users[idFor(i)] = u
}

func (b *bundle) get(t *testing.T, i int) *store.Item {
	t.Helper()
	it, err := b.l.Get(b.in[i].Seq)
	require.NoError(t, err)
	return it
}

func (b *bundle) counts(t *testing.T) map[store.State]int {
	t.Helper()
	c, err := b.l.Counts()
	require.NoError(t, err)
	return c
}

func TestRecover(t *testing.T) {
	t.Parallel()

	t.Run("Settles", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 5, 4)
		b.apply(0)
		b.apply(3)
		u := b.r.users[idFor(1)] // the patch landed, the division move did not
		u.Title = "Lead 1"
		b.r.users[idFor(1)] = u
		delete(b.r.users, idFor(2))

		sum, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err)
		require.Equal(t, RecoverSummary{Verified: 2, Requeued: 1, NotFound: 1, Reads: 2}, sum)
		require.Equal(t, map[store.State]int{store.Applied: 2, store.Waiting: 2,
			store.NotFound: 1}, b.counts(t))
		require.Len(t, b.r.calls, 1)
		require.Len(t, b.r.calls[0], 4, "only the items in flight are read")
	})

	t.Run("Verified", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1, 1)
		b.apply(0)
		_, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err)

		it := b.get(t, 0)
		require.Equal(t, store.Applied, it.State)
		require.True(t, it.Verified)
		require.Equal(t, 5, it.VersionAfter)
		require.Equal(t, 1, it.Attempts, "a verify is not a write attempt")
		require.Equal(t, map[string]string{"title": "Agent", "division": divA}, it.Before)
		last := it.History[len(it.History)-1]
		require.Equal(t, store.Attempt{At: restart, Op: OpVerify, Status: 200, Outcome: "ok",
			CorrelationID: "cid-1"}, last)
		require.Equal(t, []string{"cid-1"}, it.CorrelationIDs)
	})

	t.Run("Requeued", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1, 1)
		_, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err)

		it := b.get(t, 0)
		require.Equal(t, store.Waiting, it.State)
		require.True(t, it.NextAt.Equal(restart))
		require.False(t, it.Verified)
		require.Equal(t, OpRecover, it.History[len(it.History)-1].Op)
		due, err := b.l.Due(restart, 10)
		require.NoError(t, err)
		require.Len(t, due, 1, "due again at once")
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1, 1)
		delete(b.r.users, idFor(0))
		_, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err)

		it := b.get(t, 0)
		require.Equal(t, store.NotFound, it.State)
		require.Equal(t, "not.found", it.ErrorCode)
		require.Equal(t, "user "+idFor(0)+" not found", it.ErrorMessage)
		require.Equal(t, 404, it.HTTPStatus, "the single read's 404, not the batch's 200")
		require.Equal(t, []string{"cid-one-1"}, it.CorrelationIDs)
		require.Equal(t, store.Attempt{At: restart, Op: OpVerify, Status: 404,
			Outcome: "not_found", Code: "not.found", CorrelationID: "cid-one-1"},
			it.History[len(it.History)-1])
		require.Equal(t, []string{idFor(0)}, b.r.single, "one single read")
	})
}

func TestRecover_AbsentFromBatch(t *testing.T) {
	t.Parallel()

	t.Run("FoundOnTheSingleRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 2, 2)
		b.apply(1)
		b.r.hidden = map[string]bool{idFor(0): true, idFor(1): true}
		sum, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err)
		require.Equal(t, RecoverSummary{Verified: 1, Requeued: 1, Reads: 3}, sum)
		require.Equal(t, store.Waiting, b.get(t, 0).State)
		require.Equal(t, store.Applied, b.get(t, 1).State)
		require.Equal(t, []string{idFor(0), idFor(1)}, b.r.single)
	})

	t.Run("ReadFailsStaysInFlight", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 3, 3)
		delete(b.r.users, idFor(1))
		b.r.failOne = []error{transient(), transient(), transient()}
		synctest.Test(t, func(t *testing.T) {
			sum, err := Recover(context.Background(), b.l, b.r, clock)
			require.ErrorIs(t, err, ErrUncertain)
			require.ErrorContains(t, err, "1 items left in flight are still uncertain")
			require.Equal(t, RecoverSummary{Requeued: 2, Reads: 4}, sum)
		})
		require.Equal(t, store.InFlight, b.get(t, 1).State, "never NotFound on a guess")
		require.Equal(t, map[store.State]int{store.InFlight: 1, store.Waiting: 2}, b.counts(t))

		sum, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err, "the next start checks it again")
		require.Equal(t, RecoverSummary{NotFound: 1, Reads: 2}, sum)
	})

	t.Run("AuthStops", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 2, 2)
		delete(b.r.users, idFor(0))
		b.r.failOne = []error{&genesys.Error{Class: genesys.ClassAuth, Status: 401}}
		_, err := Recover(context.Background(), b.l, b.r, clock)
		require.Equal(t, genesys.ClassAuth, genesys.ClassOf(err))
		require.Equal(t, map[store.State]int{store.InFlight: 2}, b.counts(t))
	})
}

func TestRecover_Batches(t *testing.T) {
	t.Parallel()
	b := setup(t, 260, 250)
	for i := range 250 {
		if i%2 == 0 {
			b.apply(i)
		}
	}

	sum, err := Recover(context.Background(), b.l, b.r, clock)
	require.NoError(t, err)
	require.Equal(t, RecoverSummary{Verified: 125, Requeued: 125, Reads: 3}, sum)
	require.Len(t, b.r.calls, 3)
	for _, ids := range b.r.calls {
		require.LessOrEqual(t, len(ids), BatchSize)
	}
	require.Equal(t, map[store.State]int{store.Applied: 125, store.Waiting: 135},
		b.counts(t), "the 10 items never in flight stay waiting")
}

func TestRecover_NothingInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t, 3, 0)
	sum, err := Recover(context.Background(), b.l, b.r, clock)
	require.NoError(t, err)
	require.Zero(t, sum)
	require.Zero(t, b.r.callCount())
}

func TestRecover_Counters(t *testing.T) {
	t.Parallel()
	b := setup(t, 2, 2)
	require.NoError(t, b.l.Update(func(tx *store.Tx) error {
		return Save(tx, State{Rate: 3.5, Limit: 4, Counters: Counters{Requests: 40, Reads: 7}})
	}))
	b.r.fail = []error{transient()}

	synctest.Test(t, func(t *testing.T) {
		_, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err)
	})
	st, err := Load(b.l)
	require.NoError(t, err)
	require.Equal(t, State{Rate: 3.5, Limit: 4, Counters: Counters{Requests: 42, Reads: 9}}, st,
		"both reads counted, the learned rate kept")
}

func transient() error {
	return &genesys.Error{Op: "get users", Class: genesys.ClassTransient, Status: 503}
}

func TestRecover_ReadErrors(t *testing.T) {
	t.Parallel()

	t.Run("RetriedThenRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 3, 3)
		b.apply(1)
		limited := &genesys.Error{Class: genesys.ClassRateLimited, Status: 429,
			RetryAfter: 7 * time.Second}
		b.r.fail = []error{limited, transient()}

		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			sum, err := Recover(context.Background(), b.l, b.r, clock)
			require.NoError(t, err)
			require.Equal(t, RecoverSummary{Verified: 1, Requeued: 2, Reads: 3}, sum)
			require.Equal(t, 7*time.Second+2*readBackoff, time.Since(start),
				"Retry-After honoured, then the doubled backoff")
		})
	})

	t.Run("KeepsItemsInFlight", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 150, 150)
		b.apply(120)
		b.r.fail = []error{transient(), transient(), transient()}

		synctest.Test(t, func(t *testing.T) {
			sum, err := Recover(context.Background(), b.l, b.r, clock)
			require.ErrorIs(t, err, ErrUncertain)
			require.ErrorContains(t, err, "100 items left in flight are still uncertain")
			require.Equal(t, 1, sum.Verified, "the second batch is still settled")
			require.Equal(t, 49, sum.Requeued)
		})
		require.Equal(t, 4, b.r.callCount(), "three tries, then the next batch")
		require.Equal(t, map[store.State]int{store.InFlight: 100, store.Applied: 1,
			store.Waiting: 49}, b.counts(t))

		sum, err := Recover(context.Background(), b.l, b.r, clock)
		require.NoError(t, err, "the next start checks them again")
		require.Equal(t, 100, sum.Requeued)
	})

	t.Run("AuthStops", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 150, 150)
		b.r.fail = []error{&genesys.Error{Class: genesys.ClassAuth, Status: 401}}
		_, err := Recover(context.Background(), b.l, b.r, clock)
		require.Equal(t, genesys.ClassAuth, genesys.ClassOf(err))
		require.Equal(t, 1, b.r.callCount())
		require.Equal(t, map[store.State]int{store.InFlight: 150}, b.counts(t))
	})

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 2, 2)
		b.r.fail = []error{transient()}
		ctx, cancel := context.WithCancel(context.Background())
		synctest.Test(t, func(t *testing.T) {
			go func() {
				time.Sleep(readBackoff / 2)
				cancel()
			}()
			_, err := Recover(ctx, b.l, b.r, clock)
			require.ErrorIs(t, err, context.Canceled)
		})
		require.Equal(t, map[store.State]int{store.InFlight: 2}, b.counts(t))
	})
}
