package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// importBatch is how many plan rows go into one import transaction.
const importBatch = 10_000

// ImportOptions tune Import. The embedded Options apply to the ledger Import
// returns.
type ImportOptions struct {
	Options
	ToolVersion string            // recorded in RunMeta
	Settings    map[string]string // recorded in RunMeta
	MaxErrors   int               // plan problems listed before "and N more"; default 50

	allowEmpty bool // tests only: import a plan without rows
}

// ImportSummary counts what an import found.
type ImportSummary struct {
	Rows        int    // plan rows, blank lines left out
	Items       int    // items created
	Duplicates  int    // rows that repeated an earlier row exactly and were merged into it
	EmailKeyed  int    // items that name their user by e-mail
	Fingerprint string // PlanFingerprint of the plan
	Format      string // FormatCSV or FormatJSONL
}

// Import creates a new ledger at path from a plan and returns it open. It
// refuses an existing path (ErrExists). The plan is checked in full first:
// on any problem it returns PlanErrors and leaves no file behind. The
// ledger is built in a temporary file beside path, named
// <path>.import-<pid>-<random>, and moved into place only once complete
// and synced. Such files left by an import whose process is gone (killed
// mid-way) are removed first.
func Import(path, planPath string, opts ImportOptions) (*Ledger, ImportSummary, error) {
	var sum ImportSummary
	if _, err := os.Lstat(path); err == nil {
		return nil, sum, fmt.Errorf("import plan to %s: %w", path, ErrExists)
	}
	removeStaleImports(path, opts.Logger)
	tmp, err := os.CreateTemp(filepath.Dir(path), importPrefix(path)+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, sum, fmt.Errorf("import plan: %w", err)
	}
	tmpPath := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpPath) // a no-op once the file has been moved into place

	sum, err = buildLedger(tmpPath, planPath, opts)
	if err != nil {
		return nil, sum, err
	}
	if err := publish(tmpPath, path); err != nil {
		return nil, sum, err
	}
	l, err := Open(path, opts.Options)
	if err != nil {
		return nil, sum, err
	}
	l.log.Info("plan imported", "path", path, "plan", planPath, "rows", sum.Rows,
		"items", sum.Items, "duplicates", sum.Duplicates, "email_keyed", sum.EmailKeyed)
	return l, sum, nil
}

// importPrefix is the start of the base name of path's temporary files.
func importPrefix(path string) string { return filepath.Base(path) + ".import-" }

// removeStaleImports removes path's temporary import files whose creating
// process is no longer alive. A name without a pid, or whose process may
// still run, is left alone.
func removeStaleImports(path string, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, prefix := filepath.Dir(path), importPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // CreateTemp will report a directory that cannot be read
	}
	for _, e := range entries {
		tail, ok := strings.CutPrefix(e.Name(), prefix)
		pidText, random, dashed := strings.Cut(tail, "-")
		if !ok || !dashed || random == "" || e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || !processGone(pid) {
			continue
		}
		stale := filepath.Join(dir, e.Name())
		if err := os.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("remove stale import file", "path", stale, "err", err)
			continue
		}
		log.Info("removed stale import file", "path", stale, "pid", pid)
	}
}

// processGone reports whether no process with this pid exists. It answers
// false when in doubt, such as on systems that cannot probe a process.
func processGone(pid int) bool {
	if pid == os.Getpid() {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// buildLedger writes the whole ledger into tmpPath and syncs it.
func buildLedger(tmpPath, planPath string, opts ImportOptions) (ImportSummary, error) {
	db, err := bolt.Open(tmpPath, 0o600, &bolt.Options{
		NoSync:       true, // one sync at the end instead of one per batch
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return ImportSummary{}, fmt.Errorf("import plan: %w", err)
	}
	defer db.Close()

	imp := &importer{db: db}
	sum, err := imp.run(planPath, opts)
	if err != nil {
		return sum, err
	}
	if sum.Rows == 0 && !opts.allowEmpty {
		return sum, PlanErrors{&PlanError{File: filepath.Base(planPath), Line: 1, Column: 1,
			Msg: "plan has no rows: expected at least one row naming a user"}}
	}
	if err := db.Sync(); err != nil {
		return sum, fmt.Errorf("import plan: sync ledger: %w", err)
	}
	if err := db.Close(); err != nil {
		return sum, fmt.Errorf("import plan: close ledger: %w", err)
	}
	return sum, nil
}

// publish moves the finished ledger to path without replacing anything
// that appeared there meanwhile, then syncs the directory.
func publish(tmpPath, path string) error {
	err := os.Link(tmpPath, path)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("import plan to %s: %w", path, ErrExists)
	case err != nil:
		// Some filesystems have no hard links: fall back to a rename.
		if err := os.Rename(tmpPath, path); err != nil {
			return fmt.Errorf("import plan: move ledger into place: %w", err)
		}
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("import plan: sync directory: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("import plan: sync directory: %w", err)
	}
	return nil
}

// importer writes plan rows into a new ledger in batches.
type importer struct {
	db      *bolt.DB
	tx      *bolt.Tx
	pending int
	seq     uint64
	sum     ImportSummary
}

func (im *importer) run(planPath string, opts ImportOptions) (ImportSummary, error) {
	if err := im.begin(); err != nil {
		return im.sum, err
	}
	defer func() {
		if im.tx != nil {
			_ = im.tx.Rollback()
		}
	}()
	if err := initBuckets(im.tx); err != nil {
		return im.sum, err
	}

	info, err := readPlan(planPath, opts.MaxErrors, im.add)
	im.sum.Rows, im.sum.Format, im.sum.Fingerprint = info.Rows, info.Format, info.Fingerprint
	if err != nil {
		return im.sum, err
	}
	if err := im.finish(planPath, opts); err != nil {
		return im.sum, err
	}
	return im.sum, nil
}

// initBuckets creates every bucket and the format marker.
func initBuckets(tx *bolt.Tx) error {
	all := [][]byte{bucketMeta, bucketItems, bucketDue, bucketState, bucketCounts, bucketKeys}
	for _, name := range all {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create ledger: %w", err)
		}
	}
	if err := tx.Bucket(bucketMeta).Put(keyFormat, formatMarker); err != nil {
		return fmt.Errorf("create ledger: %w", err)
	}
	return nil
}

func (im *importer) begin() error {
	tx, err := im.db.Begin(true)
	if err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	im.tx, im.pending = tx, 0
	return nil
}

// commit ends the current batch; the next one starts at once.
func (im *importer) commit() error {
	tx := im.tx
	im.tx = nil
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	return im.begin()
}

// add stores one plan row: a new item, or a line added to the item of an
// identical earlier row. A row giving an earlier key different values is
// a plan problem naming both lines.
func (im *importer) add(row Row) error {
	key := normalKey(row.KeyKind, row.Key)
	sum := valuesHash(row.Fields)
	keys := im.tx.Bucket(bucketKeys)

	if v := keys.Get(key); len(v) == 48 {
		seq, first := binary.BigEndian.Uint64(v), int(binary.BigEndian.Uint64(v[8:]))
		if !bytes.Equal(v[16:], sum) {
			return &PlanError{Line: row.Line, Column: 1, Msg: fmt.Sprintf(
				"user %s is already changed by line %d with different values: "+
					"expected one row per user, or identical rows", row.Key, first)}
		}
		return im.merge(seq, row.Line)
	}

	im.seq++
	it := &Item{Seq: im.seq, Lines: []int{row.Line}, KeyKind: row.KeyKind, Key: row.Key,
		Desired: row.Fields, State: Waiting}
	if row.KeyKind == KeyID {
		it.UserID = row.Key
	} else {
		im.sum.EmailKeyed++
	}
	if err := putItem(im.tx, it); err != nil {
		return err
	}
	v := make([]byte, 16, 48)
	binary.BigEndian.PutUint64(v, it.Seq)
	binary.BigEndian.PutUint64(v[8:], uint64(row.Line))
	if err := keys.Put(key, append(v, sum...)); err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	im.sum.Items++
	return im.tick()
}

// merge adds a duplicate row's line to the earlier item.
func (im *importer) merge(seq uint64, line int) error {
	it, err := getItem(im.tx, seq)
	if err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	it.Lines = append(it.Lines, line)
	rec, err := encodeItem(it)
	if err != nil {
		return err
	}
	if err := im.tx.Bucket(bucketItems).Put(seqKey(seq), rec); err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	im.sum.Duplicates++
	return im.tick()
}

// tick commits every importBatch rows to bound memory.
func (im *importer) tick() error {
	im.pending++
	if im.pending < importBatch {
		return nil
	}
	return im.commit()
}

// finish writes the run metadata and commits the last batch.
func (im *importer) finish(planPath string, opts ImportOptions) error {
	abs, err := filepath.Abs(planPath)
	if err != nil {
		abs = planPath
	}
	clock := opts.Clock
	if clock == nil {
		clock = timeNow
	}
	if err := im.tx.Bucket(bucketItems).SetSequence(im.seq); err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	m := RunMeta{
		Created:     clock().UTC(),
		Duplicates:  im.sum.Duplicates,
		Fingerprint: im.sum.Fingerprint,
		Items:       im.sum.Items,
		PlanFormat:  im.sum.Format,
		PlanPath:    abs,
		Rows:        im.sum.Rows,
		Settings:    opts.Settings,
		ToolVersion: opts.ToolVersion,
	}
	if err := putMeta(im.tx, m); err != nil {
		return err
	}
	tx := im.tx
	im.tx = nil
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("import plan: %w", err)
	}
	return nil
}

// valuesHash returns the sha256 of a row's values in canonical order.
func valuesHash(fields map[string]string) []byte {
	h := sha256.New()
	writeValues(h, fields)
	return h.Sum(nil)
}
