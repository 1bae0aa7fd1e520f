package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/internal/e2etest"
)

// heapSampler records the peak of live heap objects while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > s.peak.Load() {
				s.peak.Store(v)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// report stops sampling and reports the peak heap in MB.
func (s *heapSampler) report(b *testing.B) {
	close(s.stop)
	<-s.done
	b.ReportMetric(float64(s.peak.Load())/(1<<20), "peak-heap-MB")
}

func benchImport(b *testing.B, plan string) {
	dir := b.TempDir()
	hs := startHeapSampler()
	i := 0
	var sum ImportSummary
	for b.Loop() {
		i++
		l, s, err := Import(filepath.Join(dir, fmt.Sprintf("run-%d.ledger", i)), plan, ImportOptions{})
		require.NoError(b, err)
		require.NoError(b, l.Close())
		require.NoError(b, os.Remove(l.Path()))
		sum = s
	}
	hs.report(b)
	b.ReportMetric(float64(sum.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkImport_Reference imports the 20,035-row reference plan.
func BenchmarkImport_Reference(b *testing.B) {
	benchImport(b, e2etest.SharedData(b, "plan-reorg.csv"))
}

// BenchmarkImport_1M imports a generated 1,000,000-row plan.
func BenchmarkImport_1M(b *testing.B) {
	if testing.Short() {
		b.Skip("generates and imports a 1,000,000-row plan; skipped in -short mode")
	}
	plan := filepath.Join(b.TempDir(), "big.csv")
	writeBigPlan(b, plan, 1_000_000)
	benchImport(b, plan)
}

// writeBigPlan writes a CSV plan of n distinct users, every tenth keyed by e-mail.
func writeBigPlan(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "\uFEFFid,email,name,department,title,division\r\n")
	for i := range n {
		id, email := uuidFor(i), ""
		if i%10 == 0 {
			id, email = "", fmt.Sprintf("user.%d@example.com", i)
		}
		fmt.Fprintf(w, "%s,%s,User Zoë %d,\"Sales, EMEA\",Agent %d,%s\r\n",
			id, email, i, i%50, uuidFor(1_000_000_000+i%6))
	}
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())
}

// BenchmarkSave_GroupCommit measures durable state transitions (fsync on)
// with many transitions per transaction.
func BenchmarkSave_GroupCommit(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l := setup(b)
			items := seed(b, l, batch)
			n := 0
			for b.Loop() {
				for _, it := range items {
					if it.State == Waiting {
						it.State = InFlight
					} else {
						it.State, it.Attempts = Waiting, it.Attempts+1
					}
				}
				require.NoError(b, l.Save(items...))
				n += batch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "transitions/s")
		})
	}
}

// BenchmarkDue_1M takes the next 100 due items from a 1,000,000-item ledger.
func BenchmarkDue_1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-item ledger; skipped in -short mode")
	}
	l := setup(b)
	buildLedger1M(b, l)
	now := epoch.Add(time.Hour)
	for b.Loop() {
		due, err := l.Due(now, 100)
		require.NoError(b, err)
		require.Len(b, due, 100)
	}
}

// buildLedger1M fills l with 1,000,000 Waiting items due at random times
// over two hours around epoch, in large transactions.
func buildLedger1M(b *testing.B, l *Ledger) {
	l.db.NoSync = true
	defer func() { l.db.NoSync = false }()
	rng := rand.New(rand.NewPCG(7, 7))
	const total, batch = 1_000_000, 50_000
	for start := 0; start < total; start += batch {
		items := make([]*Item, batch)
		for i := range items {
			offset := time.Duration(rng.Int64N(int64(2*time.Hour))) - time.Hour
			items[i] = newItem(start+i, epoch.Add(offset))
		}
		require.NoError(b, l.Save(items...))
	}
}
