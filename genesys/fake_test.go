package genesys

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	testID     = "client-id"
	testSecret = "s3cret-Value-never-shown"
)

// fake is a small Genesys-shaped server: a token endpoint that checks the
// Basic credentials and issues numbered tokens, and an API that checks
// the bearer token before handing the request to api.
type fake struct {
	t         *testing.T
	url       string
	api       http.HandlerFunc
	tokenHook http.HandlerFunc // answers /oauth/token instead, when set
	hold401   func()           // runs before each 401 is written, when set

	mu     sync.Mutex
	valid  map[string]bool
	issued []string

	tokenFetches atomic.Int64
	apiRequests  atomic.Int64
	unauthorized atomic.Int64
}

func newFake(t *testing.T, api http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{t: t, api: api, valid: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		f.tokenFetches.Add(1)
		if f.tokenHook != nil {
			f.tokenHook(w, r)
			return
		}
		f.token(w, r)
		return
	}

	f.apiRequests.Add(1)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.valid[tok]
	f.mu.Unlock()
	if !ok {
		f.unauthorized.Add(1)
		if f.hold401 != nil {
			f.hold401()
		}
		writeError(w, http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
		return
	}
	f.api(w, r)
}

func (f *fake) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	grant := r.FormValue("grant_type")
	if !ok || id != testID || secret != testSecret || grant != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_client","description":"client not found"}`)
		return
	}

	f.mu.Lock()
	tok := fmt.Sprintf("tok-%d-%x", len(f.issued)+1, len(f.issued)*7919+12345)
	f.issued = append(f.issued, tok)
	f.valid[tok] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":86400}`, tok)
}

// revoke makes every issued token invalid.
func (f *fake) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
}

func (f *fake) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

// client returns a client of the fake with cfg's other fields kept.
func (f *fake) client(cfg Config) *Client {
	f.t.Helper()
	cfg.APIURL = f.url
	if cfg.ClientID == "" {
		cfg.ClientID = testID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = testSecret
	}
	c, err := NewClient(cfg)
	require.NoError(f.t, err)
	return c
}

// writeError writes a Genesys-shaped error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(headerCorrelation, "cid-"+code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"message": msg, "code": code, "status": status,
		"contextId": "cid-" + code, "details": []any{}, "errors": []any{},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(headerCorrelation, "cid-ok")
	_ = json.NewEncoder(w).Encode(v)
}

// recPacer records Wait and Done calls.
type recPacer struct {
	mu    sync.Mutex
	waits int
	done  []error
}

func (p *recPacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waits++
	return ctx.Err()
}

func (p *recPacer) Done(_ Meta, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = append(p.done, err)
}
