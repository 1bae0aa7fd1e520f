package store

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gcbulk/gcbulk/genesys"
)

// bom is the UTF-8 byte-order mark spreadsheet exports put first.
const bom = "\uFEFF"

// skipBOM returns r positioned after a leading byte-order mark, if any.
func skipBOM(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(bom))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if string(head) == bom {
		_, _ = br.Discard(len(bom))
	}
	return br, nil
}

// readCSV reads a CSV plan with a header row. Blank lines and rows whose
// cells are all empty are skipped.
func readCSV(f io.Reader, c *collector, emit func(Row) error) (int, error) {
	br, err := skipBOM(f)
	if err != nil {
		return 0, err
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	columns, err := readHeader(r, c)
	if err != nil || columns == nil {
		return 0, err
	}
	rows := 0
	cells := make([]cell, 0, len(columns))
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rows++
			c.add(pe.Line, pe.Column, "", "malformed CSV at byte %d of the line: %v", pe.Column, pe.Err)
			continue
		} else if err != nil {
			return rows, err
		}
		if allEmpty(rec) {
			continue
		}
		rows++
		line, _ := r.FieldPos(0)
		if len(rec) != len(columns) {
			c.add(line, min(len(rec), len(columns))+1, "",
				"row has %d cells, expected %d as in the header", len(rec), len(columns))
			continue
		}
		if err := csvRow(c, line, columns, rec, cells[:0], emit); err != nil {
			return rows, err
		}
	}
}

// csvRow turns one record into a row and emits it if it is valid.
func csvRow(c *collector, line int, columns, rec []string, cells []cell,
	emit func(Row) error,
) error {
	for i, v := range rec {
		if columns[i] == "" || strings.TrimSpace(v) == "" {
			continue // a blank cell, or one under a column the header could not name
		}
		cells = append(cells, cell{name: columns[i], value: v, col: i + 1})
	}
	row, ok := buildRow(c, line, cells)
	if !ok {
		return nil
	}
	return emit(row)
}

// readHeader maps the header's columns to plan names. A column it cannot
// name (unknown, or not UTF-8) or a repeated one is recorded in c and left
// as "" so the rows are still checked with the other columns. It returns
// nil columns when no row can be checked: no header, or no key column.
func readHeader(r *csv.Reader, c *collector) ([]string, error) {
	rec, err := r.Read()
	if errors.Is(err, io.EOF) {
		c.add(1, 1, "", "empty plan: expected a header row naming id or email and the fields to set")
		return nil, nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		c.add(pe.Line, pe.Column, "", "malformed CSV header: %v", pe.Err)
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	line, _ := r.FieldPos(0)
	columns := make([]string, len(rec))
	seen := make(map[string]int, len(rec))
	for i, raw := range rec {
		name, ok := canonicalColumn(raw)
		switch {
		case !utf8.ValidString(raw):
			c.add(line, i+1, "", "column name is not valid UTF-8")
		case !ok:
			c.add(line, i+1, "", "unknown column %q (columns: %s)", raw, columnNames)
		case seen[name] > 0:
			c.add(line, i+1, name, "column %s appears twice (also column %d)", name, seen[name])
		default:
			seen[name] = i + 1
			columns[i] = name
		}
	}
	if seen[columnID] == 0 && seen[genesys.FieldEmail] == 0 {
		c.add(line, 1, "", "header names no id or email column: a row must name its user")
		return nil, nil
	}
	return columns, nil
}

// allEmpty reports whether every cell of a record is blank.
func allEmpty(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
