package scheduler

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

const dataDir = "../../shared/data"

func loadDirectory(b *testing.B) []genesys.User {
	b.Helper()
	f, err := os.Open(filepath.Join(dataDir, "directory.jsonl"))
	if err != nil {
		b.Skipf("reference data not available: %v", err)
	}
	defer f.Close()
	var users []genesys.User
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var u genesys.User
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
	}
	return users
}

// BenchmarkReferencePlan runs the 20,035-row reference plan against the
// 25,000-user directory behind a fixed-window limit of 300 requests a
// minute (and a sliding 200), in virtual time, on a real bbolt ledger with fsync on. It reports
// the virtual run time against the least the limit allows.
func BenchmarkReferencePlan(b *testing.B) {
	users := loadDirectory(b)
	b.Run("limit=300", func(b *testing.B) { benchPlan(b, users, 300, false) })
	b.Run("limit=200-sliding", func(b *testing.B) { benchPlan(b, users, 200, true) })
}

func benchPlan(b *testing.B, users []genesys.User, perMinute int, sliding bool) {
	for range b.N {
		dir := b.TempDir()
		l, _, err := store.Import(filepath.Join(dir, "run.ledger"),
			filepath.Join(dataDir, "plan-reorg.csv"), store.ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		synctest.Test(&testing.T{}, func(t *testing.T) {
			gov := NewGovernor(Config{})
			api := newFakeAPI(gov, users...)
			lim := &fakeLimit{n: perMinute, window: time.Minute, sliding: sliding,
				start: time.Now()}
			api.script = func(op, id string, n int) error {
				_, err := lim.admit(time.Now())
				return err
			}
			start := time.Now()
			sum, err := New(l, api, gov, Config{}).Run(context.Background())
			if err != nil {
				b.Error(err)
			}
			virtual := time.Since(start)
			reqs := float64(sum.Governor.Requests)
			b.ReportMetric(virtual.Minutes(), "virtual-min")
			b.ReportMetric(reqs/float64(perMinute), "least-min")
			b.ReportMetric(reqs, "requests")
			b.ReportMetric(float64(sum.Governor.RateLimited), "429s")
			b.ReportMetric(float64(sum.Counts[store.Applied]), "applied")
			b.ReportMetric(float64(sum.Counts[store.Unchanged]), "unchanged")
			b.ReportMetric(float64(sum.Counts[store.NotFound]), "not-found")
		})
		_ = l.Close()
	}
}
