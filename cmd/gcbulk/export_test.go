package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/store"
)

func TestExport_CSV(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()

	res := h.run("export", "--ledger", ledger)
	require.Equal(t, exitOK, res.code, res.stderr)

	rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, csvHeader(), rows[0])
	require.Len(t, rows, 1+6, "one record per plan row")

	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	var lines []string
	for _, r := range rows[1:] {
		lines = append(lines, r[col["row"]])
	}
	require.Equal(t, []string{"2", "3", "4", "5", "6", "7"}, lines, "ordered by plan line")

	applied := rows[1]
	require.Equal(t, "applied", applied[col["state"]])
	require.Equal(t, "Agent", applied[col["title_before"]])
	require.Equal(t, "Lead", applied[col["title_after"]])
	require.Equal(t, "corr-patch", applied[col["correlation_id"]], "last correlation id")
	require.Equal(t, applied[1:], rows[5][1:], "a merged duplicate repeats its item")

	notFound := rows[3]
	require.Equal(t, "not_found", notFound[col["state"]])
	require.Equal(t, "404", notFound[col["http_status"]])
	require.Equal(t, "not.found", notFound[col["error_code"]])
	require.Equal(t, "Ghost", notFound[col["title_after"]])
	require.Empty(t, rows[2][col["department_after"]], "unchanged rows list no change")
}

func TestExport_JSONL(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()
	out := h.path("audit.jsonl")

	res := h.run("export", "--ledger", ledger, "--output", out)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Empty(t, res.stdout)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	var recs []exportRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r exportRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	require.Len(t, recs, 6)
	require.Equal(t, "Agent", *recs[0].Changes["title"].Before)
	require.Equal(t, "Lead", recs[0].Changes["title"].After)
	require.Nil(t, recs[2].Changes["title"].Before, "a user never read has no before value")
	require.Equal(t, "e@example.com", recs[3].Key)
	require.Equal(t, "waiting", recs[3].State)
	require.Equal(t, "", *recs[5].Changes["division"].Before)

	info, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "exports name people")
}

func TestExport_UndoPlan(t *testing.T) {
	for _, ext := range []string{".csv", ".jsonl"} {
		t.Run(ext, func(t *testing.T) {
			h := setup(t)
			ledger := h.fixtureLedger()
			undo := h.path("undo" + ext)

			res := h.run("export", "--ledger", ledger, "--output", h.path("a.csv"),
				"--undo-plan", undo)
			require.Equal(t, exitOK, res.code, res.stderr)
			require.Contains(t, res.stderr, "2 rows")
			require.Contains(t, res.stderr, "1 values were empty before")

			// The undo plan is itself a valid plan that restores the title.
			var rows []store.Row
			_, err := store.ReadPlan(undo, func(r store.Row) error {
				rows = append(rows, r)
				return nil
			})
			require.NoError(t, err)
			require.Len(t, rows, 2)
			require.Equal(t, idA, rows[0].Key)
			require.Equal(t, map[string]string{"title": "Agent"}, rows[0].Fields)
			require.Equal(t, idD, rows[1].Key)
			require.Empty(t, rows[1].Fields)
		})
	}
}

func TestExport_Flags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"--format", "xml"}, `--format "xml"`},
		{"bad undo extension", []string{"--undo-plan", "undo.txt"}, ".csv, .jsonl or .ndjson"},
		{"no ledger file", []string{"--ledger", "missing.db"}, "no ledger at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t)
			args := append([]string{"export", "--ledger", h.fixtureLedger()}, tt.args...)
			res := h.run(args...)
			require.Equal(t, exitUsage, res.code)
			require.Contains(t, res.stderr, tt.want)
		})
	}
}

func TestExport_NoSecrets(t *testing.T) {
	h := setup(t)
	ledger := h.fixtureLedger()
	for _, format := range []string{"csv", "jsonl"} {
		res := h.run("export", "--ledger", ledger, "--format", format)
		require.Equal(t, exitOK, res.code)
		for _, secret := range []string{h.vars[envClientSecret], "Bearer", "Authorization"} {
			require.NotContains(t, res.stdout, secret)
		}
	}
}

func TestEachRow_OrdersMergedLines(t *testing.T) {
	// An e-mail item merged into an earlier id item at resolution brings
	// a later line that must come out in its place.
	items := fakeItems{
		{Seq: 1, Lines: []int{2, 9}, Key: "a"},
		{Seq: 2, Lines: []int{3}, Key: "b"},
		{Seq: 3, Lines: []int{5, 6, 12}, Key: "c"},
		{Seq: 4, Lines: []int{10}, Key: "d"},
	}
	var got []int
	require.NoError(t, eachRow(items, func(line int, _ *store.Item) error {
		got = append(got, line)
		return nil
	}))
	require.Equal(t, []int{2, 3, 5, 6, 9, 10, 12}, got)
}

// fakeItems is an itemSource in memory.
type fakeItems []store.Item

func (f fakeItems) Each(fn func(*store.Item) error) error {
	for i := range f {
		if err := fn(&f[i]); err != nil {
			return err
		}
	}
	return nil
}
