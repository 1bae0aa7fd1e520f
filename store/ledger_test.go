package store

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("missing file", func(t *testing.T) {
		_, err := Open(filepath.Join(t.TempDir(), "nope"), Options{})
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("empty file is not created as a ledger", func(t *testing.T) {
		p := writeFile(t, "empty", "")
		_, err := Open(p, Options{})
		require.ErrorIs(t, err, ErrNotLedger)
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Zero(t, fi.Size())
	})
	t.Run("text file is refused and left alone", func(t *testing.T) {
		content := string(make([]byte, 8192)) + "hello"
		p := writeFile(t, "notes.txt", content)
		_, err := Open(p, Options{})
		require.ErrorIs(t, err, ErrNotLedger)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, content, string(b))
	})
	t.Run("short random file is refused plainly", func(t *testing.T) {
		b := make([]byte, 5000)
		_, _ = rand.Read(b)
		_, err := Open(writeFile(t, "random.db", string(b)), Options{})
		require.ErrorIs(t, err, ErrNotLedger)
		require.NotContains(t, err.Error(), "too small")
	})
	t.Run("other bbolt file", func(t *testing.T) {
		l := setup(t)
		require.NoError(t, l.db.Update(func(tx *bolt.Tx) error {
			return tx.DeleteBucket(bucketMeta)
		}))
		require.NoError(t, l.Close())
		_, err := Open(l.Path(), Options{})
		require.ErrorIs(t, err, ErrNotLedger)
	})
	t.Run("mode 0600", func(t *testing.T) {
		l := setup(t)
		fi, err := os.Stat(l.Path())
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
}

func TestOpen_Lock(t *testing.T) {
	t.Parallel()

	t.Run("second writer gets ErrLocked with the pid", func(t *testing.T) {
		l := setup(t)
		_, err := Open(l.Path(), Options{LockTimeout: 50 * time.Millisecond})
		require.ErrorIs(t, err, ErrLocked)
		var le *LockedError
		require.True(t, errors.As(err, &le))
		require.Equal(t, os.Getpid(), le.Pid)
		require.Contains(t, err.Error(), "process "+strconv.Itoa(os.Getpid()))
		require.Contains(t, err.Error(), "wait for that run to finish")
	})
	t.Run("reader waits for the writer too", func(t *testing.T) {
		l := setup(t)
		_, err := Open(l.Path(), Options{LockTimeout: 50 * time.Millisecond, ReadOnly: true})
		require.ErrorIs(t, err, ErrLocked)
	})
	t.Run("pid file goes on close and lock is free", func(t *testing.T) {
		l := setup(t)
		require.FileExists(t, l.Path()+".pid")
		require.NoError(t, l.Close())
		require.NoFileExists(t, l.Path()+".pid")
		l2, err := Open(l.Path(), Options{LockTimeout: 50 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, l2.Close())
	})
	t.Run("unknown holder", func(t *testing.T) {
		l := setup(t)
		require.NoError(t, os.Remove(l.Path()+".pid"))
		_, err := Open(l.Path(), Options{LockTimeout: 50 * time.Millisecond})
		require.ErrorIs(t, err, ErrLocked)
		require.Contains(t, err.Error(), "another process")
	})
}

func TestOpen_ReadOnly(t *testing.T) {
	t.Parallel()
	l := setup(t)
	seed(t, l, 3)
	require.NoError(t, l.Close())

	r1, err := Open(l.Path(), Options{ReadOnly: true})
	require.NoError(t, err)
	defer r1.Close()
	r2, err := Open(l.Path(), Options{ReadOnly: true})
	require.NoError(t, err, "readers share the lock")
	defer r2.Close()
	require.NoFileExists(t, l.Path()+".pid")

	counts, err := r1.Counts()
	require.NoError(t, err)
	require.Equal(t, 3, counts[Waiting])
	require.ErrorIs(t, r1.Save(newItem(9, epoch)), ErrReadOnly)
	require.ErrorIs(t, r1.SetCheckpoint([]byte("x")), ErrReadOnly)
	require.ErrorIs(t, r1.SetMeta(func(*RunMeta) {}), ErrReadOnly)
}

func TestLedger_Meta(t *testing.T) {
	t.Parallel()
	l := setup(t)

	m, err := l.Meta()
	require.NoError(t, err)
	require.Equal(t, epoch, m.Created)
	require.Equal(t, FormatCSV, m.PlanFormat)

	require.NoError(t, l.SetMeta(func(m *RunMeta) {
		m.Resolved = true
		m.Settings = map[string]string{"rate": "250"}
	}))
	m, err = l.Meta()
	require.NoError(t, err)
	require.True(t, m.Resolved)
	require.Equal(t, "250", m.Settings["rate"])
	require.Equal(t, epoch, m.Created, "other fields kept")
}

func TestLedger_Checkpoint(t *testing.T) {
	t.Parallel()
	l := setup(t)

	b, err := l.Checkpoint()
	require.NoError(t, err)
	require.Nil(t, b)
	require.NoError(t, l.SetCheckpoint([]byte("cp-1")))
	b, err = l.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, "cp-1", string(b))
}
