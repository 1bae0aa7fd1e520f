package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/internal/e2etest"
)

// importInto imports plan into a fresh directory and returns the ledger.
func importInto(t *testing.T, plan string) (*Ledger, ImportSummary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.ledger")
	opts := ImportOptions{ToolVersion: "test", Settings: map[string]string{"rate": "5"}}
	l, sum, err := Import(path, plan, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l, sum
}

func TestImport_Reference(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("imports 20,035 rows twice; skipped in -short mode")
	}
	csvPlan := e2etest.SharedData(t, "plan-reorg.csv")

	lc, sc := importInto(t, csvPlan)
	require.Equal(t, 20035, sc.Rows)
	require.Equal(t, 20020, sc.Items)
	require.Equal(t, 15, sc.Duplicates)
	require.InDelta(t, 2000, sc.EmailKeyed, 100)
	require.Equal(t, FormatCSV, sc.Format)

	counts, err := lc.Counts()
	require.NoError(t, err)
	require.Equal(t, map[State]int{Waiting: 20020}, counts)
	m, err := lc.Meta()
	require.NoError(t, err)
	require.Equal(t, sc.Fingerprint, m.Fingerprint)
	require.Equal(t, 20035, m.Rows)
	require.Equal(t, "test", m.ToolVersion)
	require.Equal(t, "5", m.Settings["rate"])

	_, sj := importInto(t, e2etest.SharedData(t, "plan-reorg.jsonl"))
	require.Equal(t, sc.Items, sj.Items)
	require.Equal(t, sc.Fingerprint, sj.Fingerprint, "same plan in both formats")
}

func TestImport_Items(t *testing.T) {
	t.Parallel()
	plan := writeFile(t, "p.csv", "id,email,title\n"+
		idA+",,Agent\n"+
		",Ana@X.org,Lead\n"+
		"\n"+
		idA+",,Agent\n"+
		",ana@x.ORG,Lead\n"+
		idB+",b@x.org,\n")
	l, sum := importInto(t, plan)
	require.Equal(t, ImportSummary{Rows: 5, Items: 3, Duplicates: 2, EmailKeyed: 1,
		Fingerprint: sum.Fingerprint, Format: FormatCSV}, sum)

	a, err := l.Get(1)
	require.NoError(t, err)
	require.Equal(t, []int{2, 5}, a.Lines)
	require.Equal(t, idA, a.UserID)
	require.Equal(t, Waiting, a.State)

	e, err := l.Get(2)
	require.NoError(t, err)
	require.Equal(t, KeyEmail, e.KeyKind)
	require.Equal(t, "Ana@X.org", e.Key)
	require.Empty(t, e.UserID, "resolved at run time")
	require.Equal(t, []int{3, 6}, e.Lines)

	b, err := l.Get(3)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"email": "b@x.org"}, b.Desired)

	due, err := l.Due(epoch, 10)
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2, 3}, seqs(due))

	// New saves continue the sequence after the imported items.
	it := newItem(9, epoch)
	require.NoError(t, l.Save(it))
	require.Equal(t, uint64(4), it.Seq)
}

func TestImport_Refuses(t *testing.T) {
	t.Parallel()

	t.Run("conflicting rows name both lines, nothing left behind", func(t *testing.T) {
		plan := writeFile(t, "p.csv", "id,title\n"+idA+",Agent\n"+idB+",x\n"+idA+",Lead\nbad,\n")
		dir := t.TempDir()
		_, _, err := Import(filepath.Join(dir, "run.ledger"), plan, ImportOptions{})
		var pe PlanErrors
		require.True(t, errors.As(err, &pe), "%v", err)
		require.Len(t, pe, 2)
		require.Equal(t, "p.csv:4:1: user "+idA+" is already changed by line 2 with different values: "+
			"expected one row per user, or identical rows", pe[0].Error())
		require.Contains(t, pe[1].Error(), "p.csv:5:1: id")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, entries, "no ledger and no temporary file")
	})
	t.Run("no rows, nothing left behind", func(t *testing.T) {
		for name, body := range map[string]string{"h.csv": "id,title\n", "b.csv": "id\n\n\n",
			"b.jsonl": "\n  \n\n"} {
			dir := t.TempDir()
			_, _, err := Import(filepath.Join(dir, "run.ledger"), writeFile(t, name, body),
				ImportOptions{})
			var pe PlanErrors
			require.True(t, errors.As(err, &pe), "%s: %v", name, err)
			require.Equal(t, name+":1:1: plan has no rows: expected at least one row naming "+
				"a user", pe[0].Error())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, name)
		}
	})
	t.Run("existing file", func(t *testing.T) {
		plan := writeFile(t, "p.csv", "id,title\n"+idA+",Agent\n")
		existing := writeFile(t, "run.ledger", "keep me")
		_, _, err := Import(existing, plan, ImportOptions{})
		require.ErrorIs(t, err, ErrExists)
		b, err := os.ReadFile(existing)
		require.NoError(t, err)
		require.Equal(t, "keep me", string(b))
	})
	t.Run("missing plan", func(t *testing.T) {
		dir := t.TempDir()
		plan := filepath.Join(dir, "nope.csv")
		_, _, err := Import(filepath.Join(dir, "run.ledger"), plan, ImportOptions{})
		require.ErrorIs(t, err, os.ErrNotExist)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, entries)
	})
}

// deadPid returns the pid of a process that has run and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestImport_StaleTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "run.ledger")
	dead := path + ".import-" + strconv.Itoa(deadPid(t)) + "-123"
	live := path + ".import-" + strconv.Itoa(os.Getpid()) + "-456"
	noPid := path + ".import-789"
	other := filepath.Join(dir, "other.ledger.import-"+strconv.Itoa(deadPid(t))+"-1")
	for _, p := range []string{dead, live, noPid, other} {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
	}

	l, _, err := Import(path, writeFile(t, "p.csv", "id,title\n"+idA+",Agent\n"), ImportOptions{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoFileExists(t, dead, "left by a process that is gone")
	for _, p := range []string{live, noPid, other} {
		require.FileExists(t, p)
	}
}

func TestImport_UnknownColumnListsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan := writeFile(t, "p.csv", "id,Titel,title\nbad,x,X\n"+idA+",y,Y\nnope,z,Z\n")
	_, _, err := Import(filepath.Join(dir, "run.ledger"), plan, ImportOptions{})
	var pe PlanErrors
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Len(t, pe, 3, err.Error())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing imported")
}
