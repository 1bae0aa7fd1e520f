package checkpoint_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/checkpoint"
	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/scheduler"
	"github.com/gcbulk/gcbulk/store"
)

// benchItems and benchInFlight size the resume benchmark.
const (
	benchItems    = 1_000_000
	benchInFlight = 100
)

// BenchmarkResume1M times a resume on a 1,000,000-item ledger with 100
// items left in flight: Open, Load, Recover (whose read is the first
// request), then the scheduler's start until its first request reaches a
// server on 127.0.0.1. Run it with
//
//	go test -run '^$' -bench Resume1M -benchtime 5x ./checkpoint
func BenchmarkResume1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-item ledger; skipped in -short mode")
	}
	path := buildLedger(b, benchItems)
	srv := newFirstRequestServer(b)
	next := 0
	var toRecover, toScheduler time.Duration

	for b.Loop() {
		b.StopTimer()
		next = putInFlight(b, path, next)
		srv.reset()
		b.StartTimer()

		start := time.Now()
		resume(b, path, srv)
		toRecover += srv.times[0].Sub(start)
		toScheduler += srv.times[1].Sub(start)
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(ms(toRecover), "ms-to-first-request")
	b.ReportMetric(ms(toScheduler), "ms-to-scheduler-request")
}

// resume opens the ledger and runs a resumed session until the scheduler
// sends its first request, then stops it.
func resume(b *testing.B, path string, srv *firstRequestServer) {
	l, err := store.Open(path, store.Options{})
	require.NoError(b, err)
	defer l.Close()
	_, err = checkpoint.Load(l)
	require.NoError(b, err)

	cfg := scheduler.Config{MaxRate: 1000, Rate: 1000}
	gov := scheduler.NewGovernor(cfg)
	client, err := genesys.NewClient(genesys.Config{ClientID: "bench", ClientSecret: "bench",
		APIURL: srv.URL, Pacer: gov})
	require.NoError(b, err)
	sum, err := checkpoint.Recover(context.Background(), l, client, time.Now)
	require.NoError(b, err)
	require.GreaterOrEqual(b, sum.Requeued, benchInFlight)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := scheduler.New(l, client, gov, cfg).Run(ctx)
		done <- err
	}()
	<-srv.second
	cancel()
	if err := <-done; err != nil && !errors.Is(err, scheduler.ErrInterrupted) {
		require.NoError(b, err)
	}
}

// benchID returns a deterministic user id for n.
func benchID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }

// buildLedger imports a generated plan of n id-keyed rows, without fsync.
func buildLedger(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	plan := filepath.Join(dir, "plan.csv")
	f, err := os.Create(plan)
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "id,title")
	for i := range n {
		fmt.Fprintf(w, "%s,Lead %d\n", benchID(i), i%97)
	}
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())

	path := filepath.Join(dir, "run.ledger")
	l, _, err := store.Import(path, plan, store.ImportOptions{
		Options: store.Options{NoSync: true}})
	require.NoError(b, err)
	require.NoError(b, l.SetMeta(func(m *store.RunMeta) { m.Resolved = true }))
	counts, err := l.Counts()
	require.NoError(b, err)
	require.Equal(b, map[store.State]int{store.Waiting: n}, counts)
	require.NoError(b, l.Close())
	return path
}

// putInFlight moves benchInFlight waiting items, from the from-th on, in
// flight as a crash would leave them, and returns where the next call
// starts.
func putInFlight(b *testing.B, path string, from int) int {
	b.Helper()
	l, err := store.Open(path, store.Options{NoSync: true})
	require.NoError(b, err)
	defer l.Close()
	items := make([]*store.Item, 0, benchInFlight)
	for seq := uint64(from + 1); len(items) < benchInFlight; seq++ {
		it, err := l.Get(seq)
		require.NoError(b, err)
		if it.State == store.Waiting {
			it.State = store.InFlight
			items = append(items, it)
		}
		from++
	}
	require.NoError(b, l.Save(items...))
	return from
}

// firstRequestServer is a minimal Genesys on 127.0.0.1: a token, users
// that do not hold the plan's values yet, and 503 for writes. It notes
// when the first two user reads arrive.
type firstRequestServer struct {
	*httptest.Server
	mu     sync.Mutex
	reads  int
	times  [2]time.Time
	second chan struct{}
}

func newFirstRequestServer(b *testing.B) *firstRequestServer {
	s := &firstRequestServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	b.Cleanup(s.Close)
	return s
}

func (s *firstRequestServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads, s.times, s.second = 0, [2]time.Time{}, make(chan struct{})
}

func (s *firstRequestServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/oauth/token":
		_, _ = w.Write([]byte(`{"access_token":"t","token_type":"bearer","expires_in":86400}`))
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/users":
		s.noteRead()
		var page genesys.UserPage
		for _, id := range r.URL.Query()["id"] {
			page.Entities = append(page.Entities, genesys.User{ID: id, Title: "Agent",
				Version: 1})
		}
		_ = json.NewEncoder(w).Encode(page)
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"message":"busy","code":"service.unavailable","status":503}`))
	}
}

func (s *firstRequestServer) noteRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads < len(s.times) {
		s.times[s.reads] = time.Now()
	}
	s.reads++
	if s.reads == 2 {
		close(s.second)
	}
}
