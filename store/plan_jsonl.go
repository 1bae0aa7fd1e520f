package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gcbulk/gcbulk/genesys"
)

// readJSONL reads a JSON Lines plan: one object a line holding the fields
// to set. Blank lines are skipped. Columns are 1-based byte offsets.
func readJSONL(f io.Reader, c *collector, emit func(Row) error) (int, error) {
	br, err := skipBOM(f)
	if err != nil {
		return 0, err
	}
	rows := 0
	for line := 1; ; line++ {
		text, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return rows, err
		}
		eof := err != nil
		text = bytes.TrimRight(text, "\r\n")
		if len(bytes.TrimSpace(text)) > 0 {
			rows++
			if err := jsonRow(c, line, text, emit); err != nil {
				return rows, err
			}
		}
		if eof {
			return rows, nil
		}
	}
}

// jsonRow checks one line and emits its row if it is valid.
func jsonRow(c *collector, line int, text []byte, emit func(Row) error) error {
	if !utf8.Valid(text) {
		c.add(line, invalidUTF8At(text)+1, "", "invalid UTF-8")
		return nil
	}
	cells, ok := jsonCells(c, line, text)
	if !ok {
		return nil
	}
	row, ok := buildRow(c, line, cells)
	if !ok {
		return nil
	}
	return emit(row)
}

// jsonCells walks one JSON object and returns its non-empty values. An
// unknown field is recorded in c and skipped, so the known ones are still
// checked.
func jsonCells(c *collector, line int, text []byte) ([]cell, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		c.add(line, nextTokenAt(text, 0)+1, "", "expected a JSON object {...}")
		return nil, false
	}
	var cells []cell
	seen := make(map[string]bool)
	for dec.More() {
		cl, ok := jsonField(c, line, text, dec, seen)
		if !ok {
			return nil, false
		}
		if cl.value != "" {
			cells = append(cells, cl)
		}
	}
	return jsonEnd(c, line, text, dec, cells)
}

// jsonField reads one key and its value. An unknown key's value is read
// and dropped, giving an empty cell; false means the line cannot go on.
func jsonField(c *collector, line int, text []byte, dec *json.Decoder,
	seen map[string]bool,
) (cell, bool) {
	keyAt := nextTokenAt(text, dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		c.add(line, jsonErrAt(err, keyAt)+1, "", "malformed JSON: %v", err)
		return cell{}, false
	}
	key, _ := tok.(string)
	name, known := canonicalColumn(key)
	if !known {
		c.add(line, keyAt+1, "", "unknown field %q (fields: %s)", key, columnNames)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			c.add(line, keyAt+1, "", "malformed JSON: %v", err)
			return cell{}, false
		}
		return cell{}, true
	}
	if seen[name] {
		c.add(line, keyAt+1, name, "field %s appears twice", name)
		return cell{}, false
	}
	seen[name] = true

	valAt := nextTokenAt(text, dec.InputOffset())
	v, msg := jsonValue(dec, name)
	if msg != "" {
		c.add(line, valAt+1, name, "%s: %s", name, msg)
		return cell{}, false
	}
	return cell{name: name, value: v, col: valAt + 1}, true
}

// jsonEnd checks that the object closes and nothing follows it.
func jsonEnd(c *collector, line int, text []byte, dec *json.Decoder, cells []cell) ([]cell, bool) {
	at := nextTokenAt(text, dec.InputOffset())
	if _, err := dec.Token(); err != nil {
		c.add(line, jsonErrAt(err, at)+1, "", "malformed JSON: %v", err)
		return nil, false
	}
	if rest := nextTokenAt(text, dec.InputOffset()); rest < len(text) {
		c.add(line, rest+1, "", "unexpected text after the JSON object: one object a line")
		return nil, false
	}
	return cells, true
}

// jsonValue reads one field value: a string, null (leave as is), or for
// acdAutoAnswer a boolean.
func jsonValue(dec *json.Decoder, name string) (string, string) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return "", fmt.Sprintf("malformed JSON: %v", err)
	}
	switch {
	case bytes.Equal(raw, []byte("null")):
		return "", ""
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Sprintf("malformed JSON string: %v", err)
		}
		return s, ""
	case name == genesys.FieldAcdAutoAnswer && (string(raw) == "true" || string(raw) == "false"):
		return string(raw), ""
	case name == genesys.FieldAcdAutoAnswer:
		return "", "expected true, false or a string"
	}
	return "", fmt.Sprintf("expected a string, got %s", raw)
}

// nextTokenAt skips JSON separators and spaces from offset and returns the
// offset of the next token (len(text) at the end).
func nextTokenAt(text []byte, offset int64) int {
	i := int(offset)
	for i < len(text) && strings.IndexByte(" \t\r\n:,", text[i]) >= 0 {
		i++
	}
	return min(i, len(text))
}

// jsonErrAt returns the offset a JSON syntax error points at, or fallback.
func jsonErrAt(err error, fallback int) int {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return int(se.Offset) // the count of bytes before the bad one
	}
	return fallback
}

// invalidUTF8At returns the offset of the first byte that is not UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}
