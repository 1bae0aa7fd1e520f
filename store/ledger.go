package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket and key names. The format marker says the file is a gcbulk ledger.
var (
	bucketMeta   = []byte("meta")
	bucketItems  = []byte("items")
	bucketDue    = []byte("due")
	bucketState  = []byte("state")
	bucketCounts = []byte("counts")
	bucketKeys   = []byte("keys")

	keyFormat     = []byte("format")
	keyRun        = []byte("run")
	keyCheckpoint = []byte("checkpoint")

	formatMarker = []byte("gcbulk-ledger/1")
)

// defaultLockTimeout is how long Open waits for another process's lock.
const defaultLockTimeout = time.Second

// Options tune how a ledger is opened.
type Options struct {
	LockTimeout time.Duration    // how long to wait for another process's lock; default 1s
	ReadOnly    bool             // open for inspection only; shares the lock with other readers
	NoSync      bool             // skip fsync on commit; benchmarks only
	Logger      *slog.Logger     // nil: silent
	Clock       func() time.Time // nil: time.Now; used by Retry and Import
}

// Ledger is a run's durable record: the plan's items, their states and
// history, the run metadata and the scheduler's checkpoint.
type Ledger struct {
	db    *bolt.DB
	path  string
	opts  Options
	log   *slog.Logger
	owner bool // wrote the pid sidecar
}

// LockedError says the ledger is held by another process, and by which pid
// when known. It matches ErrLocked with errors.Is.
type LockedError struct {
	Path string
	Pid  int // 0 when unknown
}

// Error says who holds the ledger and what to do about it.
func (e *LockedError) Error() string {
	who := "another process"
	if e.Pid > 0 {
		who = "process " + strconv.Itoa(e.Pid)
	}
	return fmt.Sprintf("open ledger %s: held by %s: %v", e.Path, who, ErrLocked)
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Open opens an existing ledger. It returns ErrNotLedger for a file gcbulk
// did not write and a *LockedError when another process holds it.
func Open(path string, opts Options) (*Ledger, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 || !hasBoltMagic(path) {
		return nil, fmt.Errorf("open ledger %s: %w", path, ErrNotLedger)
	}

	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	l := newLedger(db, path, opts)
	if err := l.checkFormat(); err != nil {
		_ = db.Close()
		return nil, err
	}

	if !opts.ReadOnly {
		l.writePid()
	}
	l.log.Debug("ledger opened", "path", path, "read_only", opts.ReadOnly)
	return l, nil
}

// boltMagic is the number bbolt writes in its first meta page, after the
// 16-byte page header, in the host's byte order.
const boltMagic = 0xED0CDAED

// hasBoltMagic reports whether path starts like a bbolt file, so any other
// file, however short, is refused the same way before bbolt reads it.
func hasBoltMagic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // let bbolt report the real error
	}
	defer f.Close()
	var head [20]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	return binary.NativeEndian.Uint32(head[16:]) == boltMagic
}

// openBolt opens the bbolt file and turns its errors into ours.
func openBolt(path string, opts Options) (*bolt.DB, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &LockedError{Path: path, Pid: readPid(path)}
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("open ledger %s: %w: %w", path, ErrNotLedger, err)
	}
	return nil, fmt.Errorf("open ledger %s: %w", path, err)
}

func newLedger(db *bolt.DB, path string, opts Options) *Ledger {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = timeNow
	}
	return &Ledger{db: db, path: path, opts: opts, log: log}
}

// checkFormat confirms the file carries gcbulk's format marker.
func (l *Ledger) checkFormat() error {
	return l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return fmt.Errorf("open ledger %s: no meta bucket: %w", l.path, ErrNotLedger)
		}
		if got := b.Get(keyFormat); string(got) != string(formatMarker) {
			if strings.HasPrefix(string(got), "gcbulk-ledger/") {
				return fmt.Errorf("open ledger %s: format %q: %w", l.path, got, ErrUnknownVersion)
			}
			return fmt.Errorf("open ledger %s: %w", l.path, ErrNotLedger)
		}
		return nil
	})
}

// pidPath is the sidecar file naming the process that holds the ledger.
func pidPath(path string) string { return path + ".pid" }

// writePid records this process as the ledger's holder. A failure only
// costs a less helpful lock message, so it is logged, not returned.
func (l *Ledger) writePid() {
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := os.WriteFile(pidPath(l.path), pid, 0o600); err != nil {
		l.log.Warn("write ledger pid file", "path", pidPath(l.path), "err", err)
		return
	}
	l.owner = true
}

// readPid returns the pid in a ledger's sidecar, or 0.
func readPid(path string) int {
	b, err := os.ReadFile(pidPath(path))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Close releases the ledger and its lock.
func (l *Ledger) Close() error {
	if l.owner {
		if err := os.Remove(pidPath(l.path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.log.Warn("remove ledger pid file", "path", pidPath(l.path), "err", err)
		}
		l.owner = false
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// Path returns the ledger's file path.
func (l *Ledger) Path() string { return l.path }

// view runs a read transaction.
func (l *Ledger) view(fn func(tx *bolt.Tx) error) error { return l.db.View(fn) }

// update runs a write transaction, refusing early on a read-only ledger.
func (l *Ledger) update(fn func(tx *bolt.Tx) error) error {
	if l.opts.ReadOnly {
		return ErrReadOnly
	}
	return l.db.Update(fn)
}

// timeNow is the default clock.
var timeNow = time.Now
