package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchTableRow is one row of the bench table, parsed.
type benchTableRow struct {
	window, approach string
	nums             []float64 // wall s … failed, in table order; -1 for a dash
	finished         string
}

// parseBenchTable returns the rows of the table in out, checking every
// number parses.
func parseBenchTable(t *testing.T, out string) []benchTableRow {
	t.Helper()
	var rows []benchTableRow
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != windowFixed && f[0] != windowSliding {
			continue
		}
		row := benchTableRow{window: f[0], approach: f[1], finished: strings.Join(f[10:], " ")}
		for _, cell := range f[2:10] {
			if cell == "-" {
				row.nums = append(row.nums, -1)
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSuffix(cell, "%"), 64)
			require.NoError(t, err, "cell %q of %q", cell, line)
			row.nums = append(row.nums, v)
		}
		rows = append(rows, row)
	}
	return rows
}

func TestBench_Table(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator over real time for about 8s; skipped with -short")
	}
	h := setup(t)
	res := h.run("bench", "--users", "120", "--limit", "60/1s", "--windows", "fixed",
		"--timeout", "60s")
	require.Equal(t, 0, res.code, res.stderr)

	rows := parseBenchTable(t, res.stdout)
	require.Len(t, rows, 3, res.stdout)
	require.Equal(t, approachGcbulk, rows[0].approach)
	require.Equal(t, approachLearn, rows[1].approach)
	require.Equal(t, approachBaseline, rows[2].approach)
	for _, r := range rows {
		require.Equal(t, "yes", r.finished, res.stdout)
		require.Positive(t, r.nums[0], "wall time")
		require.Positive(t, r.nums[3], "requests")
		require.Zero(t, r.nums[7], "failed items")
	}
	for _, r := range rows[:2] {
		require.LessOrEqual(t, r.nums[6], 1.1, "%s requests per changed user", r.approach)
	}
	require.Greater(t, rows[2].nums[6], 2.0, "baseline reads each user alone")
	require.Contains(t, res.stdout, "fixed window: baseline/gcbulk wall time ")
}

func TestBench_JSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator over real time for about 3s; skipped with -short")
	}
	h := setup(t)
	res := h.run("bench", "--users", "120", "--limit", "60/1s", "--windows", "sliding",
		"--approaches", "gcbulk", "--json")
	require.Equal(t, 0, res.code, res.stderr)

	var rep benchReport
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &rep), res.stdout)
	require.Len(t, rep.Rows, 1)
	r := rep.Rows[0]
	require.Equal(t, windowSliding, r.Window)
	require.True(t, r.Finished)
	require.Equal(t, 120, r.Applied)
	require.LessOrEqual(t, r.RequestsPerChange, 1.1)
	require.InDelta(t, 60, rep.LimitPerSec, 1e-9)
	require.Empty(t, rep.Ratios, "no baseline ran")
}

func TestBench_FlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no users", []string{"--users", "0"}, "--users 0"},
		{"bad limit", []string{"--limit", "fast"}, "--limit"},
		{"zero limit", []string{"--limit", "0/1s"}, "--limit"},
		{"bad window", []string{"--windows", "fixed,leaky"}, `"leaky"`},
		{"bad approach", []string{"--approaches", "magic"}, `"magic"`},
		{"no timeout", []string{"--timeout", "0s"}, "--timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := setup(t).run(append([]string{"bench"}, tc.args...)...)
			require.Equal(t, exitUsage, res.code)
			require.Contains(t, res.stderr, tc.want)
			require.Empty(t, res.stdout)
		})
	}
}

func TestSteadyRate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int, req, patches int64) benchSample {
		return benchSample{at: t0.Add(time.Duration(ms) * time.Millisecond), requests: req,
			patches: patches}
	}
	cases := []struct {
		name    string
		samples []benchSample
		want    float64
		ok      bool
	}{
		{"burst in the first window is left out", []benchSample{
			at(0, 0, 0), at(100, 5, 0), at(600, 40, 35), at(1100, 50, 40),
			at(2100, 60, 50), at(3100, 70, 60), at(3500, 70, 60),
		}, 10, true},
		{"all in the first window", []benchSample{
			at(0, 1, 0), at(500, 10, 9), at(900, 10, 9),
		}, 0, false},
		{"no request", []benchSample{at(0, 0, 0), at(100, 0, 0)}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := steadyRate(tc.samples, time.Second)
			require.Equal(t, tc.ok, ok)
			require.InDelta(t, tc.want, got, 1e-9)
		})
	}
}

func TestRatiosOf(t *testing.T) {
	rows := []benchRow{
		{Window: windowFixed, Approach: approachGcbulk, Finished: true, WallSec: 10,
			Done: 100, Total: 100},
		{Window: windowFixed, Approach: approachBaseline, WallSec: 30, Done: 25, Total: 100},
		{Window: windowSliding, Approach: approachGcbulk, Finished: true, WallSec: 10,
			Done: 100, Total: 100},
		{Window: windowSliding, Approach: approachBaseline, Finished: true, WallSec: 25,
			Done: 100, Total: 100},
	}
	got := ratiosOf(rows)
	require.Equal(t, []benchRatio{
		{Window: windowFixed, Ratio: 3, LowerBound: true, Projected: 12},
		{Window: windowSliding, Ratio: 2.5, Exact: true, Projected: 2.5},
	}, got)
	require.Equal(t, ">= 3.00x at the timeout; ~12.0x projected from its pace",
		ratioText(got[0]))
}
