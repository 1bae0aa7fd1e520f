// Package e2etest holds the helpers the end-to-end and crash tests share:
// building the gcbulk binary, finding the reference data beside the repo,
// starting `gcbulk sim` as a process and reading what it and gcbulk report.
// It is for tests only.
package e2etest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// gcbulkPkg is the import path of the gcbulk command.
const gcbulkPkg = "github.com/gcbulk/gcbulk/cmd/gcbulk"

// BuildGcbulk builds the gcbulk binary into t.TempDir() and returns its path.
func BuildGcbulk(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gcbulk")
	build := exec.Command("go", "build", "-o", bin, gcbulkPkg)
	build.Dir = ModuleRoot(t)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build gcbulk: %s", out)
	return bin
}

// SharedData returns the path of the reference data file name in
// ../shared/data beside the repository. When the file is missing it skips
// the test with the reason, or fails it when the environment has CI=true.
func SharedData(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(ModuleRoot(t), "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("reference data %s is missing: %v", p, err)
		}
		t.Skipf("reference data %s is missing: %v", p, err)
	}
	return p
}

// SimEnv returns this process's environment with the simulator's client
// credentials set and the secret file and region cleared, for gcbulk runs.
func SimEnv() []string {
	return append(os.Environ(),
		genesys.EnvClientID+"="+sim.DefaultClientID,
		genesys.EnvClientSecret+"="+sim.DefaultClientSecret,
		genesys.EnvSecretFile+"=", genesys.EnvRegion+"=")
}

// StartSim starts `gcbulk sim --listen 127.0.0.1:0 args...` with SimEnv,
// waits for its "listening on URL" line and returns the URL. t.Cleanup
// interrupts it and waits; the simulator's stderr is logged if t failed.
func StartSim(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"sim", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = SimEnv()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sim stderr:\n%s", stderr)
		}
	})

	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	require.NoError(t, err, "sim stderr: %s", stderr)
	go func() { _, _ = io.Copy(io.Discard, r) }()
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "sim said %q", line)
	return url
}

// GetJSON requires GET url to answer 200 and decodes its body into v.
func GetJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v), "GET %s", url)
}

// SimUsers returns every user of the simulator at base URL simURL, by id,
// as GET /sim/users lists them.
func SimUsers(t testing.TB, simURL string) map[string]*genesys.User {
	t.Helper()
	resp, err := http.Get(simURL + "/sim/users")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET /sim/users")
	users := map[string]*genesys.User{}
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		u := &genesys.User{}
		require.NoError(t, dec.Decode(u), "GET /sim/users")
		users[u.ID] = u
	}
	return users
}

// JSONLines decodes data, one JSON value of type T a line, as an export in
// JSON Lines is written. Every line must decode.
func JSONLines[T any](t testing.TB, data []byte) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "JSON line %q", sc.Text())
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	return out
}

// ModuleRoot returns the directory holding go.mod, found from the working
// directory upward.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the working directory")
		dir = parent
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
