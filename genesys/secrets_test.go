package genesys_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// tokenSpy is a transport that notes every bearer token the client sends.
type tokenSpy struct {
	mu     sync.Mutex
	tokens map[string]bool
}

func (s *tokenSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.mu.Lock()
		s.tokens[tok] = true
		s.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestSecrets_NeverLogged(t *testing.T) {
	t.Parallel()
	const secret = "Top-Secret-Value-0123456789"
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu},
		&slog.HandlerOptions{Level: slog.LevelDebug}))
	spy := &tokenSpy{tokens: map[string]bool{}}
	cfg := genesys.Config{
		ClientSecret: secret,
		Logger:       logger,
		HTTPClient:   &http.Client{Transport: spy},
	}
	b := setupSim(t, sim.Config{ClientSecret: secret},
		sim.Generate(50, 4), cfg)
	ctx := context.Background()

	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i := range 10 {
		_, _, err := b.client.GetUser(ctx, b.users[i].ID)
		keep(err)
	}
	_, _, err := b.client.GetUser(ctx, "no-such-user")
	keep(err)
	b.srv.RevokeTokens()
	_, _, err = b.client.GetUser(ctx, b.users[0].ID)
	keep(err)
	_, err = b.client.ResolveEmails(ctx, []string{b.users[3].Email, b.users[4].Email})
	keep(err)

	// A wrong secret (the real one with a suffix) fails at the token endpoint.
	cfg.APIURL, cfg.ClientID, cfg.ClientSecret = b.url, sim.DefaultClientID, secret+"-old"
	bad, err := genesys.NewClient(cfg)
	require.NoError(t, err)
	_, _, err = bad.GetUser(ctx, b.users[0].ID)
	require.Equal(t, genesys.ClassAuth, genesys.ClassOf(err))
	keep(err)

	spy.mu.Lock()
	defer spy.mu.Unlock()
	require.GreaterOrEqual(t, len(spy.tokens), 2, "a token before and after the revocation")
	require.NotEmpty(t, errs)
	logMu.Lock()
	defer logMu.Unlock()
	require.Contains(t, logs.String(), "api answer", "debug records were written")
	for _, s := range append([]string{secret}, keys(spy.tokens)...) {
		require.NotContains(t, logs.String(), s)
		for _, err := range errs {
			require.NotContains(t, err.Error(), s)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
