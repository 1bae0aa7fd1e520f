package scheduler

import (
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
)

// fakeLimit is a tenant limit of n requests per window, fixed or sliding.
type fakeLimit struct {
	mu      sync.Mutex
	n       int
	window  time.Duration
	sliding bool
	start   time.Time
	log     []time.Time // sliding: admitted requests
	count   int         // fixed: admitted in the current window
	index   int64       // fixed: current window
}

// admit answers one request arriving at now.
func (f *fakeLimit) admit(now time.Time) (genesys.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var wait time.Duration
	if f.sliding {
		for len(f.log) > 0 && !f.log[0].After(now.Add(-f.window)) {
			f.log = f.log[1:]
		}
		if len(f.log) < f.n {
			f.log = append(f.log, now)
			return okMeta, nil
		}
		wait = f.log[0].Add(f.window).Sub(now)
	} else {
		i := int64(now.Sub(f.start) / f.window)
		if i != f.index {
			f.index, f.count = i, 0
		}
		if f.count < f.n {
			f.count++
			return okMeta, nil
		}
		wait = f.start.Add(time.Duration(i+1) * f.window).Sub(now)
	}
	secs := time.Duration(math.Ceil(wait.Seconds())) * time.Second
	return genesys.Meta{Status: 429}, rateLimited(secs, false)
}

func TestGovernor_AIMDConverges(t *testing.T) {
	for _, sliding := range []bool{false, true} {
		name := map[bool]string{false: "fixed window", true: "sliding window"}[sliding]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const perMinute = 200
				g := NewGovernor(Config{MaxRate: 10, Concurrency: 8})
				start := time.Now()
				f := &fakeLimit{n: perMinute, window: time.Minute, sliding: sliding, start: start}
				settled := start.Add(10 * time.Minute)
				var mu sync.Mutex
				var late429, lateOK int
				runWorkers(t, g, 8, start.Add(40*time.Minute), func() (genesys.Meta, error) {
					meta, err := f.admit(time.Now())
					mu.Lock()
					defer mu.Unlock()
					if time.Now().After(settled) {
						if err != nil {
							late429++
						} else {
							lateOK++
						}
					}
					return meta, err
				})

				st := g.Snapshot()
				perMin := float64(lateOK) / 30
				t.Logf("%s: learned %.1f/min, rate %.1f/min, %.1f ok/min, "+
					"%d 429s in the last 30 min, %d in all",
					name, st.Limit*60, st.Rate*60, perMin, late429, st.RateLimited)
				require.InDelta(t, perMinute, st.Limit*60, perMinute*0.05)
				require.GreaterOrEqual(t, perMin, perMinute*0.93)
				require.LessOrEqual(t, perMin, float64(perMinute))
				require.LessOrEqual(t, late429, 10)
			})
		})
	}
}
