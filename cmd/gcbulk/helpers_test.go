package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/store"
)

// harness runs the CLI in-process with captured output and a fake env.
type harness struct {
	t    *testing.T
	dir  string
	vars map[string]string

	mu     sync.Mutex
	sigc   chan<- os.Signal // set by notify
	exited []int
	now    time.Time
}

// result is what one command run produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// setup returns a harness with a temp dir and simulator-style credentials.
func setup(t *testing.T) *harness {
	t.Helper()
	return &harness{
		t:   t,
		dir: t.TempDir(),
		vars: map[string]string{
			envClientID:     "gcbulk-sim",
			envClientSecret: "gcbulk-sim-secret",
		},
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// env returns the fake process env.
func (h *harness) env() *env {
	return &env{
		getenv: func(k string) string { return h.vars[k] },
		notify: func(c chan<- os.Signal) {
			h.mu.Lock()
			h.sigc = c
			h.mu.Unlock()
		},
		stop: func(chan<- os.Signal) {},
		exit: func(code int) {
			h.mu.Lock()
			h.exited = append(h.exited, code)
			h.mu.Unlock()
		},
		now: func() time.Time { return h.now },
		pid: 4242,
	}
}

// run runs gcbulk with args and returns its exit status and output.
func (h *harness) run(args ...string) result {
	h.t.Helper()
	var out, errOut syncBuffer
	app := newAppWith(h.env())
	app.Writer, app.ErrWriter = &out, &errOut
	code := runApp(app, append([]string{"gcbulk"}, args...))
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// path returns a path inside the harness's temp dir.
func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// write writes a file in the temp dir and returns its path.
func (h *harness) write(name, content string) string {
	h.t.Helper()
	p := h.path(name)
	require.NoError(h.t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// Ids used by fixture plans.
const (
	idA  = "00000000-0000-4000-8000-00000000000a"
	idB  = "00000000-0000-4000-8000-00000000000b"
	idC  = "00000000-0000-4000-8000-00000000000c"
	idD  = "00000000-0000-4000-8000-00000000000d"
	idE  = "00000000-0000-4000-8000-00000000000e"
	divX = "00000000-0000-4000-8000-0000000000d1"
)

// fixturePlan has one row of each kind the export must show; line 6
// repeats line 2 exactly.
const fixturePlan = "id,email,title,department,division\n" +
	idA + ",,Lead,,\n" + // 2: applied (title)
	idB + ",,,Care,\n" + // 3: unchanged
	idC + ",,Ghost,,\n" + // 4: not found
	",e@example.com,Agent,,\n" + // 5: still waiting
	idA + ",,Lead,,\n" + // 6: duplicate of 2
	idD + ",,,,\"" + divX + "\"\n" // 7: applied (division, empty before)

// fixtureLedger imports fixturePlan and moves its items into the states
// the comments above name, as a run would record them.
func (h *harness) fixtureLedger() string {
	h.t.Helper()
	ledger := h.path("fixture.db")
	l, _, err := store.Import(ledger, h.write("fixture.csv", fixturePlan),
		store.ImportOptions{})
	require.NoError(h.t, err)
	defer l.Close()

	at := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	var items []*store.Item
	require.NoError(h.t, l.Each(func(it *store.Item) error {
		items = append(items, it)
		return nil
	}))
	require.Len(h.t, items, 5)
	for _, it := range items {
		switch it.Key {
		case idA:
			it.UserID, it.State, it.Attempts = idA, store.Applied, 1
			it.Before = map[string]string{"title": "Agent"}
			it.HTTPStatus, it.CorrelationIDs = 200, []string{"corr-read", "corr-patch"}
		case idB:
			it.UserID, it.State = idB, store.Unchanged
		case idC:
			it.State, it.HTTPStatus = store.NotFound, 404
			it.ErrorCode, it.ErrorMessage = "not.found", "user "+idC+" does not exist"
			it.History = []store.Attempt{{At: at, Op: "read", Status: 200, Outcome: "not_found"}}
		case idD:
			it.UserID, it.State, it.Attempts = idD, store.Applied, 1
			it.Before = map[string]string{"division": ""}
		}
	}
	require.NoError(h.t, l.Save(items...))
	return ledger
}
