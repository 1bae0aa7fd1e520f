package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bundle is a running simulator with a fake clock.
type bundle struct {
	srv   *sim.Server
	url   string
	clock *clock
	users []genesys.User
	hc    *http.Client
}

// setup starts a simulator over 20 generated users on 127.0.0.1:0.
func setup(t *testing.T, cfg sim.Config) *bundle {
	t.Helper()
	return setupUsers(t, cfg, sim.Generate(20, 7))
}

// setupUsers starts a simulator over the given users.
func setupUsers(t *testing.T, cfg sim.Config, users []genesys.User) *bundle {
	t.Helper()
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	srv, base, stop, err := sim.StartServer(cfg, users)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &bundle{srv: srv, url: base, clock: c, users: users,
		hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// login returns a fresh access token for the default client.
func (b *bundle) login(t *testing.T) string {
	t.Helper()
	resp := b.tokenRequest(t, sim.DefaultClientID, sim.DefaultClientSecret, "client_credentials")
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(resp.body, &tok))
	return tok.AccessToken
}

// answer is a response read to the end.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer's body into v.
func (a answer) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.body, v), string(a.body))
}

// genesysError decodes an error body and checks its shape.
func (a answer) genesysError(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	a.json(t, &m)
	for _, k := range []string{"message", "code", "status", "contextId", "details", "errors"} {
		require.Contains(t, m, k, "error body %s", a.body)
	}
	require.EqualValues(t, a.status, m["status"])
	require.Equal(t, a.header.Get("ININ-Correlation-Id"), m["contextId"])
	return m
}

func (b *bundle) tokenRequest(t *testing.T, id, secret, grant string) answer {
	t.Helper()
	form := url.Values{"grant_type": {grant}}.Encode()
	req, err := http.NewRequest(http.MethodPost, b.url+"/oauth/token", strings.NewReader(form))
	require.NoError(t, err)
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(t, req)
}

// do sends an API request with a bearer token (none when tok is empty);
// a non-nil body is sent as JSON.
func (b *bundle) do(t *testing.T, tok, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			var err error
			raw, err = json.Marshal(body)
			require.NoError(t, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return b.send(t, req)
}

func (b *bundle) send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := b.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NotEmpty(t, resp.Header.Get("ININ-Correlation-Id"))
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// getUser reads one user through the API.
func (b *bundle) getUser(t *testing.T, tok, id string) genesys.User {
	t.Helper()
	a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+id, nil)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	var u genesys.User
	a.json(t, &u)
	return u
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
