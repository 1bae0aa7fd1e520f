package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/gcbulk/gcbulk/store"
)

// Progress display modes (--progress).
const (
	progressAuto  = "auto"
	progressBar   = "bar"
	progressLines = "lines"
	progressNone  = "none"
)

// linesEvery is how often plain progress lines are written when the output
// is not a terminal: often enough to show life in a CI log, rarely enough
// to keep an overnight log readable.
const linesEvery = 5 * time.Second

// barEvery is how often the terminal bar is refreshed.
const barEvery = 250 * time.Millisecond

// progressView is what the live display and the status snapshot show.
type progressView struct {
	Counts      map[store.State]int
	Done        int
	Total       int
	Applied     int
	Unchanged   int
	Failed      int
	Rate        float64       // requests per second now
	Limit       float64       // learned limit, requests per second
	RateLimited int           // 429 answers so far
	Breaker     string        // closed, open or half_open
	LastError   string        // the last transient failure's cause
	Paused      bool          // sending held: breaker not closed, or no answer yet
	Elapsed     time.Duration // since the run started
	ETA         time.Duration // 0 when unknown
}

// checkProgressMode validates a --progress value.
func checkProgressMode(mode string) error {
	switch mode {
	case progressAuto, progressBar, progressLines, progressNone:
		return nil
	}
	return usageErrorf("--progress %q: use auto, bar, lines or none", mode)
}

// resolveProgressMode turns auto into bar on a terminal and lines otherwise.
func resolveProgressMode(mode string, w io.Writer) string {
	if mode != progressAuto {
		return mode
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return progressBar
	}
	return progressLines
}

// summaryLine formats v as one line of plain text.
func summaryLine(v progressView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d done", v.Done, v.Total)
	if v.Total > 0 {
		fmt.Fprintf(&b, " (%d%%)", v.Done*100/v.Total)
	}
	fmt.Fprintf(&b, " applied=%d unchanged=%d failed=%d", v.Applied, v.Unchanged, v.Failed)
	fmt.Fprintf(&b, " rate=%s limit=%s 429s=%d", rateText(v), perMinute(v.Limit),
		v.RateLimited)
	if v.Breaker != "" {
		fmt.Fprintf(&b, " breaker=%s", v.Breaker)
	}
	if v.Breaker != "" && v.Breaker != "closed" && v.LastError != "" {
		fmt.Fprintf(&b, " last_error=%q", v.LastError)
	}
	fmt.Fprintf(&b, " eta=%s", etaText(v))
	return b.String()
}

// perMinute formats a per-second rate as requests per minute, the unit
// Genesys publishes its limits in.
func perMinute(perSec float64) string {
	if perSec <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/min", perSec*60)
}

// rateText formats the sending rate, or says sending is paused.
func rateText(v progressView) string {
	if v.Paused {
		return "paused"
	}
	return perMinute(v.Rate)
}

// etaText formats the estimated time left: "-" while sending is paused.
func etaText(v progressView) string {
	switch {
	case v.Total > 0 && v.Done >= v.Total:
		return "0s"
	case v.Paused:
		return "-"
	case v.ETA <= 0:
		return "unknown"
	}
	return v.ETA.Round(time.Second).String()
}

// display shows progress while a run goes on. poll is called from the
// display's own goroutine and must be safe for that.
type display struct {
	mode string
	w    io.Writer
	poll func() progressView

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// startDisplay starts showing progress in mode (already resolved: bar,
// lines or none) on w. Stop it with stop, which draws a last update.
func startDisplay(mode string, w io.Writer, poll func() progressView) *display {
	d := &display{mode: mode, w: w, poll: poll, quit: make(chan struct{}),
		done: make(chan struct{})}
	switch mode {
	case progressBar:
		go d.runBar()
	case progressLines:
		go d.runLines()
	default:
		close(d.done)
	}
	return d
}

// stop ends the display after a final update; it is safe to call twice.
func (d *display) stop() {
	d.stopOnce.Do(func() { close(d.quit) })
	<-d.done
}

func (d *display) runLines() {
	defer close(d.done)
	t := time.NewTicker(linesEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fmt.Fprintln(d.w, "progress:", summaryLine(d.poll()))
		case <-d.quit:
			fmt.Fprintln(d.w, "progress:", summaryLine(d.poll()))
			return
		}
	}
}

func (d *display) runBar() {
	defer close(d.done)
	v := d.poll()
	bar := progressbar.NewOptions(max(v.Total, 1),
		progressbar.OptionSetWriter(d.w),
		progressbar.OptionSetDescription(barText(v)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	t := time.NewTicker(barEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			updateBar(bar, d.poll())
		case <-d.quit:
			updateBar(bar, d.poll())
			_ = bar.Exit()
			fmt.Fprintln(d.w)
			return
		}
	}
}

// updateBar moves bar to v.
func updateBar(bar *progressbar.ProgressBar, v progressView) {
	if v.Total > 0 && bar.GetMax() != v.Total {
		bar.ChangeMax(v.Total)
	}
	bar.Describe(barText(v))
	_ = bar.Set(v.Done)
}

// barText is the bar's description: outcomes, rate, 429s, breaker, ETA.
func barText(v progressView) string {
	s := fmt.Sprintf("applied %d · unchanged %d · failed %d · %s (limit %s) · 429s %d",
		v.Applied, v.Unchanged, v.Failed, rateText(v), perMinute(v.Limit), v.RateLimited)
	if v.Breaker != "" && v.Breaker != "closed" {
		s += " · breaker " + v.Breaker
	}
	return s + " · eta " + etaText(v)
}
