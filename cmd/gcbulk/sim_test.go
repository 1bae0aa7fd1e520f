package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys/sim"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		n      int
		window time.Duration
		bad    bool
	}{
		{in: "300/1m", n: 300, window: time.Minute},
		{in: "300", n: 300, window: time.Minute},
		{in: "0", n: 0, window: time.Minute},
		{in: "50/10s", n: 50, window: 10 * time.Second},
		{in: "60/m", n: 60, window: time.Minute},
		{in: "-1", bad: true},
		{in: "fast", bad: true},
		{in: "300/soon", bad: true},
		{in: "300/0s", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, w, err := parseRateLimit(tt.in)
			if tt.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.n, n)
			require.Equal(t, tt.window, w)
		})
	}
}

func TestCheckListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:0", false, true},
		{"[::1]:8089", false, true},
		{"localhost:8089", false, true},
		{":8089", false, false},
		{"0.0.0.0:8089", false, false},
		{"192.0.2.7:8089", false, false},
		{"0.0.0.0:8089", true, true},
		{"no-port", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := checkListen(tt.addr, tt.remote)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// The commands run one at a time: urfave/cli v2 writes to its shared help
// flag on every run, which races under t.Parallel.
func TestSimCommandUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoUsers", nil, "--directory FILE or --users N"},
		{"Both", []string{"--users", "3", "--directory", "x.jsonl"}, "not both"},
		{"ZeroUsers", []string{"--users", "0"}, "positive"},
		{"Window", []string{"--users", "3", "--window", "rolling"}, "fixed or sliding"},
		{"RateLimit", []string{"--users", "3", "--rate-limit", "lots"}, "--rate-limit"},
		{"Remote", []string{"--users", "3", "--listen", "0.0.0.0:0"}, "--allow-remote"},
		{"ErrorRate", []string{"--users", "3", "--error-rate", "2"}, "between 0 and 1"},
		{"MissingFile", []string{"--directory", "/nonexistent/dir.jsonl"}, "open directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t)
			res := h.run(append([]string{"sim"}, tt.args...)...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, tt.want)
			require.Empty(t, res.stdout)
		})
	}
}

func TestSimCommandHelp(t *testing.T) {
	res := setup(t).run("sim", "--help")
	require.Equal(t, exitOK, res.code)
	require.Contains(t, res.stdout, sim.DefaultClientID)
	require.Contains(t, res.stdout, sim.DefaultClientSecret)
	require.Contains(t, res.stdout, "Examples:")
}

func TestSimCommandServes(t *testing.T) {
	h := setup(t)
	app := newAppWith(h.env())
	pr, pw := io.Pipe()
	var errOut strings.Builder
	app.Writer, app.ErrWriter = pw, &errOut
	codec := make(chan int, 1)
	go func() {
		codec <- runApp(app, []string{"gcbulk", "sim", "--users", "30", "--rate-limit", "2/1m"})
		pw.Close()
	}()

	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan(), "no ready line; stderr: %s", errOut.String())
	base, ok := strings.CutPrefix(lines.Text(), "listening on ")
	require.True(t, ok, lines.Text())
	u, err := url.Parse(base)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", u.Hostname())

	tok := simToken(t, base)
	var statuses []int
	for range 3 {
		req, err := http.NewRequest(http.MethodGet, base+"/api/v2/users?pageSize=5", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	require.Equal(t, []int{200, 200, 429}, statuses)

	h.mu.Lock()
	h.sigc <- syscall.SIGTERM
	h.mu.Unlock()
	require.Equal(t, exitOK, <-codec, errOut.String())
	require.False(t, lines.Scan(), "more than one line on stdout: %q", lines.Text())
}

// simToken logs in to the simulator at base with the default client.
func simToken(t *testing.T, base string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/token",
		strings.NewReader("grant_type=client_credentials"))
	require.NoError(t, err)
	req.SetBasicAuth(sim.DefaultClientID, sim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.AccessToken
}
