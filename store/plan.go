package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
)

// Plan formats, as RunMeta.PlanFormat and PlanInfo.Format name them.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// columnID is the plan column holding a Genesys user id.
const columnID = "id"

// defaultMaxErrors is how many plan problems are listed before "and N more".
const defaultMaxErrors = 50

// Row is one valid plan row: the user it names and the values that user
// should end with. Values are normalised: ids and state lower-cased,
// acdAutoAnswer "true" or "false"; empty cells are absent.
type Row struct {
	Line    int               // 1-based line in the plan file
	KeyKind KeyKind           // how the row names its user
	Key     string            // user id (lower-cased) or e-mail as written
	Fields  map[string]string // genesys field name → desired value
}

// PlanInfo describes a plan read to the end.
type PlanInfo struct {
	Format      string // FormatCSV or FormatJSONL
	Rows        int    // rows read, blank lines left out
	Fingerprint string // see PlanFingerprint; empty when the plan has problems
}

// PlanError is one problem in a plan, placed by file, line and column. For
// CSV the column is the 1-based field index (for a quoting error, which
// has no field, the 1-based byte in the line); for JSON Lines it is the
// 1-based byte offset within the line.
type PlanError struct {
	File   string
	Line   int
	Column int
	Field  string // the plan field concerned, when there is one
	Msg    string // what is wrong and what was expected

	more int // set on the last entry only: problems past the listing limit
}

// Error returns "file:line:col: msg".
func (e *PlanError) Error() string {
	if e.more > 0 {
		return fmt.Sprintf("%s: and %d more problems", e.File, e.more)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// More returns how many problems this entry stands for beyond itself: it is
// non-zero only on a final summary entry that replaces the unlisted ones.
func (e *PlanError) More() int { return e.more }

// PlanErrors lists every problem found in a plan, in file order. When there
// were more than the listing limit, the last entry summarises the rest.
type PlanErrors []*PlanError

// Error lists the problems one per line after a count.
func (es PlanErrors) Error() string {
	total := 0
	for _, e := range es {
		if e.more > 0 {
			total += e.more
		} else {
			total++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plan has %d problem", total)
	if total != 1 {
		b.WriteString("s")
	}
	b.WriteString(":")
	for _, e := range es {
		b.WriteString("\n")
		b.WriteString(e.Error())
	}
	return b.String()
}

// collector gathers plan problems up to a limit and counts the rest.
type collector struct {
	file string
	max  int
	list PlanErrors
	more int
}

func (c *collector) add(line, col int, field, format string, args ...any) {
	c.addErr(&PlanError{Line: line, Column: col, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) addErr(e *PlanError) {
	if len(c.list) >= c.max {
		c.more++
		return
	}
	e.File = c.file
	c.list = append(c.list, e)
}

func (c *collector) failed() bool { return len(c.list) > 0 }

func (c *collector) err() error {
	if !c.failed() {
		return nil
	}
	list := c.list
	if c.more > 0 {
		list = append(list, &PlanError{File: c.file, more: c.more})
	}
	return list
}

// ReadPlan streams a plan's rows to fn, checking each. fn sees only valid
// rows. A *PlanError returned by fn is added to the problems and reading
// goes on; any other error stops it. An unknown column or field is a
// problem too, but the rows are still checked and passed on without it,
// so every problem is listed at once. After the last row ReadPlan returns
// PlanErrors if anything was wrong.
func ReadPlan(path string, fn func(Row) error) (PlanInfo, error) {
	return readPlan(path, defaultMaxErrors, fn)
}

// PlanFingerprint returns the sha256, in hex, of the plan's normalised rows
// in order. The same rows give the same fingerprint whatever the format,
// line ends, blank lines, quoting or column order.
func PlanFingerprint(planPath string) (string, error) {
	info, err := ReadPlan(planPath, func(Row) error { return nil })
	if err != nil {
		return "", err
	}
	return info.Fingerprint, nil
}

// planReader is how each format hands rows to readPlan.
type planReader func(f io.Reader, c *collector, emit func(Row) error) (rows int, err error)

func readPlan(path string, maxErrors int, fn func(Row) error) (PlanInfo, error) {
	info := PlanInfo{Format: planFormat(path)}
	var read planReader
	switch info.Format {
	case FormatCSV:
		read = readCSV
	case FormatJSONL:
		read = readJSONL
	default:
		return info, fmt.Errorf("read plan %s: %w", path, ErrPlanFormat)
	}
	if maxErrors <= 0 {
		maxErrors = defaultMaxErrors
	}

	f, err := os.Open(path)
	if err != nil {
		return info, fmt.Errorf("read plan: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return info, fmt.Errorf("read plan %s: is a directory, not a plan file", path)
	}

	c := &collector{file: filepath.Base(path), max: maxErrors}
	fp := sha256.New()
	emit := func(r Row) error {
		writeCanonical(fp, r)
		err := fn(r)
		var pe *PlanError
		if errors.As(err, &pe) {
			c.addErr(pe)
			return nil
		}
		return err
	}
	info.Rows, err = read(f, c, emit)
	if err != nil {
		return info, fmt.Errorf("read plan %s: %w", path, err)
	}
	if err := c.err(); err != nil {
		return info, err
	}
	info.Fingerprint = hex.EncodeToString(fp.Sum(nil))
	return info, nil
}

// planFormat names a plan's format from its file extension, or "".
func planFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return ""
}

// writeCanonical writes a row's normalised form: key kind, key (e-mails
// lower-cased), then each set field in genesys.Fields order.
func writeCanonical(h hash.Hash, r Row) {
	h.Write([]byte{byte(r.KeyKind)})
	h.Write(normalKey(r.KeyKind, r.Key))
	h.Write([]byte{0x1f})
	writeValues(h, r.Fields)
	h.Write([]byte{0x1e})
}

// writeValues writes fields in canonical order, each as name=value.
func writeValues(h hash.Hash, fields map[string]string) {
	for _, name := range genesys.Fields {
		v, ok := fields[name]
		if !ok {
			continue
		}
		h.Write([]byte(name))
		h.Write([]byte{'='})
		h.Write([]byte(strconv.Quote(v)))
		h.Write([]byte{0x1f})
	}
}

// normalKey returns the form under which two plan keys are the same user.
func normalKey(kind KeyKind, key string) []byte {
	return append([]byte{byte(kind)}, strings.ToLower(key)...)
}
