package main

import (
	"container/heap"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/store"
)

func exportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write the audit record of a run, one record per plan row",
		Description: "Reads the ledger and writes one record per plan row, ordered by plan\n" +
			"line: row, user_id, key, state, attempts, http_status, error_code,\n" +
			"error_message, correlation_id (of the last answer), verified, and for each\n" +
			"changed field the value found before and the value the plan asked for (in\n" +
			"effect only when state is applied). The ledger is only read, but it must be\n" +
			"free: while a run holds it, stop the run, or use `gcbulk status` instead.\n\n" +
			"CSV has columns <field>_before,<field>_after for every field; JSON Lines has\n" +
			"an object \"changes\": {field: {before, after}}.\n" +
			"A row merged with an identical earlier row gets a record of its own.\n\n" +
			"--format defaults to csv, or to the --output file's extension (.csv, .jsonl).\n" +
			"Output goes to stdout unless --output is given.\n\n" +
			"--undo-plan FILE also writes a plan (CSV or JSON Lines, by FILE's extension) that\n" +
			"puts the before-values back for every applied item, keyed by user id. A value\n" +
			"that was empty before cannot be restored by a plan (an empty cell means \"leave\n" +
			"as is\"); their count is printed.\n\n" +
			"The ledger holds no secrets, so neither does the export.\n\n" +
			"Examples:\n" +
			"  $ gcbulk export --ledger reorg.db --output reorg-audit.csv\n" +
			"  $ gcbulk export --ledger reorg.db --format jsonl | jq 'select(.state != \"applied\")'\n" +
			"  $ gcbulk export --ledger reorg.db --output audit.csv --undo-plan undo-reorg.csv",
		Flags: []cli.Flag{
			ledgerFlag(),
			&cli.StringFlag{Name: "format", Usage: "csv or jsonl (default: by --output, else csv)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, TakesFile: true,
				Usage: "write to `FILE` instead of stdout"},
			&cli.StringFlag{Name: "undo-plan", TakesFile: true,
				Usage: "also write a plan to `FILE` that restores the before-values"},
		},
		Action: func(c *cli.Context) error { return exportAction(c, e) },
	}
}

func exportAction(c *cli.Context, _ *env) error {
	format, err := exportFormat(c.String("format"), c.String("output"))
	if err != nil {
		return err
	}
	undo := c.String("undo-plan")
	if undo != "" {
		if _, err := planFormatOf(undo); err != nil {
			return err
		}
	}

	l, err := openLedger(c.String(flagLedger), true)
	var le *store.LockedError
	if errors.As(err, &le) {
		return exitWith(exitUsage, fmt.Errorf("export needs the ledger free, but a run "+
			"holds it: stop the run, or use `gcbulk status` while it runs: %w", err))
	}
	if err != nil {
		return err
	}
	defer l.Close()

	if out := c.String("output"); out != "" {
		err = writeFileAtomic(out, func(w io.Writer) error { return writeExport(l, format, w) })
	} else {
		err = writeExport(l, format, c.App.Writer)
	}
	if err != nil {
		return exitWith(exitUsage, err)
	}
	if undo == "" {
		return nil
	}

	var st undoStats
	err = writeFileAtomic(undo, func(w io.Writer) error {
		st, err = writeUndoPlan(l, undo, w)
		return err
	})
	if err != nil {
		return exitWith(exitUsage, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "undo plan %s: %d rows", undo, st.Rows)
	if st.Unrestorable > 0 {
		fmt.Fprintf(c.App.ErrWriter, "; %d values were empty before and cannot be restored "+
			"by a plan", st.Unrestorable)
	}
	fmt.Fprintln(c.App.ErrWriter)
	return nil
}

// exportFormat picks csv or jsonl from --format, else the output's
// extension, else csv.
func exportFormat(format, output string) (string, error) {
	if format == "" && output != "" {
		if f, err := planFormatOf(output); err == nil {
			return f, nil
		}
		return "csv", nil
	}
	switch strings.ToLower(format) {
	case "", "csv":
		return "csv", nil
	case "jsonl", "ndjson", "json":
		return "jsonl", nil
	}
	return "", usageErrorf("--format %q: use csv or jsonl", format)
}

// planFormatOf returns csv or jsonl from a file name's extension.
func planFormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".jsonl", ".ndjson":
		return "jsonl", nil
	}
	return "", usageErrorf("%s: name the file .csv, .jsonl or .ndjson to choose its format", path)
}

// itemSource is the part of the ledger that exports read.
type itemSource interface {
	Each(fn func(*store.Item) error) error
}

// exportRecord is one plan row's outcome.
type exportRecord struct {
	Row           int               `json:"row"`
	UserID        string            `json:"user_id"`
	Key           string            `json:"key"`
	State         string            `json:"state"`
	Attempts      int               `json:"attempts"`
	HTTPStatus    int               `json:"http_status"`
	ErrorCode     string            `json:"error_code"`
	ErrorMessage  string            `json:"error_message"`
	CorrelationID string            `json:"correlation_id"`
	Verified      bool              `json:"verified"`
	Changes       map[string]change `json:"changes"`
}

// change is one field's value before and the value the plan asked for.
// Before is nil when the user was never read (not found, not yet done).
type change struct {
	Before *string `json:"before"`
	After  string  `json:"after"`
}

// newRecord builds the record of plan line row of it.
func newRecord(row int, it *store.Item) exportRecord {
	r := exportRecord{
		Row:          row,
		UserID:       it.UserID,
		Key:          it.Key,
		State:        it.State.String(),
		Attempts:     it.Attempts,
		HTTPStatus:   it.HTTPStatus,
		ErrorCode:    it.ErrorCode,
		ErrorMessage: it.ErrorMessage,
		Verified:     it.Verified,
		Changes:      changesOf(it),
	}
	if n := len(it.CorrelationIDs); n > 0 {
		r.CorrelationID = it.CorrelationIDs[n-1]
	}
	return r
}

// changesOf lists the fields the item changes (or would change). Before
// values are recorded for changed fields only; an item never read lists
// every desired field with no before value; an unchanged one lists none.
func changesOf(it *store.Item) map[string]change {
	out := map[string]change{}
	switch {
	case len(it.Before) > 0:
		for f, before := range it.Before {
			b := before
			out[f] = change{Before: &b, After: it.Desired[f]}
		}
	case it.State != store.Unchanged:
		for f, after := range it.Desired {
			out[f] = change{After: after}
		}
	}
	return out
}

// rowRef is one plan line waiting to be written.
type rowRef struct {
	line int
	item *store.Item
}

// rowHeap orders pending rows by plan line.
type rowHeap []rowRef

func (h rowHeap) Len() int           { return len(h) }
func (h rowHeap) Less(i, j int) bool { return h[i].line < h[j].line }
func (h rowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rowHeap) Push(x any)        { *h = append(*h, x.(rowRef)) }
func (h *rowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// eachRow calls fn once per plan line, in line order, streaming. Items
// come in plan order (an item's first line grows with its seq); only the
// extra lines of merged duplicates come later, so they wait in a heap that
// holds no more than the duplicates.
func eachRow(src itemSource, fn func(line int, it *store.Item) error) error {
	var pending rowHeap
	flush := func(before int) error {
		for pending.Len() > 0 && pending[0].line < before {
			r := heap.Pop(&pending).(rowRef)
			if err := fn(r.line, r.item); err != nil {
				return err
			}
		}
		return nil
	}

	err := src.Each(func(it *store.Item) error {
		if err := flush(it.Line()); err != nil {
			return err
		}
		for _, line := range it.Lines[min(1, len(it.Lines)):] {
			heap.Push(&pending, rowRef{line: line, item: it})
		}
		return fn(it.Line(), it)
	})
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	return flush(int(^uint(0) >> 1))
}

// writeExport writes every row of src to w in format.
func writeExport(src itemSource, format string, w io.Writer) error {
	if format == "jsonl" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return eachRow(src, func(line int, it *store.Item) error {
			return enc.Encode(newRecord(line, it))
		})
	}

	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader()); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	err := eachRow(src, func(line int, it *store.Item) error {
		return cw.Write(csvRow(newRecord(line, it)))
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

// csvHeader names the export's CSV columns.
func csvHeader() []string {
	h := []string{"row", "user_id", "key", "state", "attempts", "http_status", "error_code",
		"error_message", "correlation_id", "verified"}
	for _, f := range genesys.Fields {
		h = append(h, f+"_before", f+"_after")
	}
	return h
}

// csvRow renders r in csvHeader's order.
func csvRow(r exportRecord) []string {
	row := []string{strconv.Itoa(r.Row), r.UserID, r.Key, r.State, strconv.Itoa(r.Attempts),
		"", r.ErrorCode, r.ErrorMessage, r.CorrelationID, strconv.FormatBool(r.Verified)}
	if r.HTTPStatus != 0 {
		row[5] = strconv.Itoa(r.HTTPStatus)
	}
	for _, f := range genesys.Fields {
		c, ok := r.Changes[f]
		var before string
		if ok && c.Before != nil {
			before = *c.Before
		}
		row = append(row, before, c.After)
	}
	return row
}

// undoStats counts what an undo plan holds.
type undoStats struct {
	Rows         int // applied items restored
	Unrestorable int // before-values that were empty
}

// writeUndoPlan writes to w a plan in path's format that restores the
// before-values of every applied item, keyed by user id.
func writeUndoPlan(src itemSource, path string, w io.Writer) (undoStats, error) {
	format, err := planFormatOf(path)
	if err != nil {
		return undoStats{}, err
	}

	fields, err := undoFields(src)
	if err != nil {
		return undoStats{}, err
	}

	u := &undoWriter{format: format, fields: fields, csv: csv.NewWriter(w), json: json.NewEncoder(w)}
	u.json.SetEscapeHTML(false)
	if err := u.header(); err != nil {
		return undoStats{}, err
	}
	err = src.Each(func(it *store.Item) error {
		if it.State != store.Applied || it.UserID == "" || len(it.Before) == 0 {
			return nil
		}
		return u.write(it)
	})
	if err != nil {
		return u.stats, fmt.Errorf("write undo plan: %w", err)
	}
	u.csv.Flush()
	if err := u.csv.Error(); err != nil {
		return u.stats, fmt.Errorf("write undo plan: %w", err)
	}
	return u.stats, nil
}

// undoFields returns, in genesys.Fields order, the fields whose
// before-values an undo plan restores, so a CSV has only those columns.
func undoFields(src itemSource) ([]string, error) {
	used := map[string]bool{}
	err := src.Each(func(it *store.Item) error {
		if it.State == store.Applied {
			for f := range it.Before {
				used[f] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	var fields []string
	for _, f := range genesys.Fields {
		if used[f] {
			fields = append(fields, f)
		}
	}
	return fields, nil
}

// undoWriter writes undo plan rows in CSV or JSON Lines.
type undoWriter struct {
	format string
	fields []string
	csv    *csv.Writer
	json   *json.Encoder
	stats  undoStats
}

func (u *undoWriter) header() error {
	if u.format != "csv" {
		return nil
	}
	if err := u.csv.Write(append([]string{"id"}, u.fields...)); err != nil {
		return fmt.Errorf("write undo plan: %w", err)
	}
	return nil
}

func (u *undoWriter) write(it *store.Item) error {
	u.stats.Rows++
	row := []string{it.UserID}
	obj := map[string]string{"id": it.UserID}
	for _, f := range u.fields {
		before, ok := it.Before[f]
		if ok && before == "" {
			u.stats.Unrestorable++
		}
		row = append(row, before)
		if before != "" {
			obj[f] = before
		}
	}
	if u.format == "csv" {
		return u.csv.Write(row)
	}
	return u.json.Encode(obj)
}

// writeFileAtomic writes a file through fn into a temporary file beside
// path and renames it into place, so a reader never sees half a file.
// The file is private (0600): it names people.
func writeFileAtomic(path string, fn func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename

	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
