package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		name string
		v    progressView
		want []string
	}{
		{
			name: "running",
			v: progressView{Done: 500, Total: 2000, Applied: 450, Unchanged: 40, Failed: 10,
				Rate: 4.9, Limit: 5, RateLimited: 2, Breaker: "closed", ETA: 5 * time.Minute},
			want: []string{"500/2000 done (25%)", "applied=450", "unchanged=40", "failed=10",
				"rate=294/min", "limit=300/min", "429s=2", "breaker=closed", "eta=5m0s"},
		},
		{
			name: "unknown rate and eta",
			v:    progressView{Total: 10},
			want: []string{"0/10 done (0%)", "rate=-", "limit=-", "eta=unknown"},
		},
		{
			name: "paused",
			v: progressView{Done: 0, Total: 20, Rate: 4.75, Breaker: "open", Paused: true,
				ETA: 4 * time.Second, LastError: "connection refused"},
			want: []string{"rate=paused", "breaker=open", "eta=-",
				`last_error="connection refused"`},
		},
		{
			name: "finished",
			v:    progressView{Done: 10, Total: 10, Applied: 10},
			want: []string{"10/10 done (100%)", "eta=0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summaryLine(tt.v)
			for _, w := range tt.want {
				require.Contains(t, got, w)
			}
		})
	}
}

func TestCheckProgressMode(t *testing.T) {
	for _, m := range []string{"auto", "bar", "lines", "none"} {
		require.NoError(t, checkProgressMode(m))
	}
	err := checkProgressMode("fancy")
	require.Error(t, err)
	require.Equal(t, exitUsage, exitCode(err))
	require.Equal(t, progressLines, resolveProgressMode(progressAuto, &bytes.Buffer{}),
		"a buffer is not a terminal")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDisplay_Lines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		var mu sync.Mutex
		done := 0
		poll := func() progressView {
			mu.Lock()
			defer mu.Unlock()
			return progressView{Done: done, Total: 100}
		}
		d := startDisplay(progressLines, &out, poll)

		time.Sleep(linesEvery - time.Millisecond)
		synctest.Wait()
		require.Empty(t, out.String(), "nothing before the first period")

		mu.Lock()
		done = 40
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, 1, strings.Count(out.String(), "\n"))
		require.Contains(t, out.String(), "40/100 done")

		mu.Lock()
		done = 100
		mu.Unlock()
		d.stop()
		d.stop()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, 2, "stop draws one final line")
		require.Contains(t, lines[1], "100/100 done")
	})
}

func TestDisplay_Bar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		poll := func() progressView {
			return progressView{Done: 7, Total: 10, Applied: 6, Failed: 1, Rate: 5}
		}
		d := startDisplay(progressBar, &out, poll)
		time.Sleep(time.Second)
		d.stop()
		require.Contains(t, out.String(), "7/10")
		require.Contains(t, out.String(), "applied 6")
		require.Contains(t, out.String(), "300/min")
	})
}

func TestDisplay_None(t *testing.T) {
	var out bytes.Buffer
	d := startDisplay(progressNone, &out, func() progressView { return progressView{} })
	d.stop()
	require.Empty(t, out.String())
}
