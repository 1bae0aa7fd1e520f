package genesys

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func okUser(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, User{ID: r.PathValue("id"), Version: 1})
}

func userMux() http.HandlerFunc {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/users/{id}", okUser)
	return mux.ServeHTTP
}

func TestAuth_BasicHeaderAndReuse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var inBody bool
	f := newFake(t, userMux())
	f.tokenHook = func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		inBody = r.PostForm.Has("client_secret") || r.PostForm.Has("client_id")
		mu.Unlock()
		f.token(w, r)
	}
	c := f.client(Config{})

	for range 5 {
		_, _, err := c.GetUser(context.Background(), "u1")
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), f.tokenFetches.Load())
	require.False(t, inBody, "credentials must travel in the Basic header only")
	require.Equal(t, int64(5), c.Stats().Requests)
}

func TestAuth_RevokedTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t, userMux())
	p := &recPacer{}
	c := f.client(Config{Pacer: p})
	_, _, err := c.GetUser(context.Background(), "u1")
	require.NoError(t, err)

	f.revoke()
	u, meta, err := c.GetUser(context.Background(), "u2")
	require.NoError(t, err)
	require.Equal(t, "u2", u.ID)
	require.Equal(t, 200, meta.Status)
	require.Equal(t, int64(2), f.tokenFetches.Load())

	// Every send was paced, the 401 reported as a passing fault.
	require.Equal(t, 3, p.waits)
	require.Len(t, p.done, 3)
	require.Equal(t, ClassTransient, ClassOf(p.done[1]))
	require.NoError(t, p.done[2])
	st := c.Stats()
	require.Equal(t, int64(1), st.TokenRetries)
	require.Equal(t, int64(1), st.Unauthorized)
}

func TestAuth_SecondUnauthorizedIsFatal(t *testing.T) {
	t.Parallel()
	f := newFake(t, answer(401, "bad.credentials", "Invalid login credentials.", nil))
	p := &recPacer{}
	c := f.client(Config{Pacer: p})

	_, _, err := c.GetUser(context.Background(), "u1")
	require.Equal(t, ClassAuth, ClassOf(err))
	require.Equal(t, int64(2), f.apiRequests.Load(), "one retry, no more")
	require.Equal(t, int64(2), f.tokenFetches.Load())
	require.Equal(t, ClassAuth, ClassOf(p.done[1]))
}

func TestAuth_InvalidClient(t *testing.T) {
	t.Parallel()
	f := newFake(t, userMux())
	c := f.client(Config{ClientSecret: "wrong-secret-xyz"})

	for range 3 {
		_, _, err := c.GetUser(context.Background(), "u1")
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, ClassAuth, e.Class)
		require.Equal(t, 400, e.Status)
		require.Equal(t, "invalid_client", e.Code)
		require.Contains(t, e.Error(), "client id and secret")
		require.NotContains(t, e.Error(), "wrong-secret-xyz")
	}
	require.Equal(t, int64(1), f.tokenFetches.Load(), "a refused client is not asked again")
	require.Zero(t, f.apiRequests.Load())
}

func TestAuth_TokenEndpointNotFound(t *testing.T) {
	t.Parallel()
	f := newFake(t, userMux())
	f.tokenHook = answer(404, "not.found", "no such path", nil)
	c := f.client(Config{})

	_, _, err := c.GetUser(context.Background(), "u1")
	require.Equal(t, ClassAuth, ClassOf(err), "fatal")
	require.ErrorIs(t, err, ErrTokenEndpoint)
	require.Contains(t, err.Error(), "token endpoint not found at http://127.0.0.1:")
	require.Contains(t, err.Error(), "check the API URL or region")
	require.NotContains(t, err.Error(), "client id and secret")
}

func TestAuth_TokenEndpointFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		h     http.HandlerFunc
		class Class
	}{
		{"429", answer(429, "too.many.requests", "slow", map[string]string{"Retry-After": "5"}),
			ClassRateLimited},
		{"503", answer(503, "service.unavailable", "down", nil), ClassTransient},
		{"401", answer(401, "unauthorized", "no", nil), ClassAuth},
		{"echoed secret", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":"invalid_client","description":"bad %s"}`, testSecret)
		}, ClassAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, userMux())
			f.tokenHook = tt.h
			c := f.client(Config{})

			_, _, err := c.GetUser(context.Background(), "u1")
			require.Equal(t, tt.class, ClassOf(err), err.Error())
			require.NotContains(t, err.Error(), testSecret)
		})
	}
}

func TestAuth_StormFetchesOneToken(t *testing.T) {
	t.Parallel()
	f := newFake(t, userMux())
	c := f.client(Config{})
	_, _, err := c.GetUser(context.Background(), "u0")
	require.NoError(t, err)
	f.revoke()

	// Hold every 401 back until all 20 requests were refused, so every
	// worker sees a 401 for the same revoked token at once.
	var arrived sync.WaitGroup
	arrived.Add(20)
	f.hold401 = func() {
		arrived.Done()
		arrived.Wait()
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			_, _, err := c.GetUser(context.Background(), fmt.Sprint("u", i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(2), f.tokenFetches.Load())
	require.Equal(t, int64(20), f.unauthorized.Load())
	require.Equal(t, int64(41), f.apiRequests.Load())
}

func TestAuth_WaitingForTokenHonoursContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(t, userMux())
	f.tokenHook = func(w http.ResponseWriter, r *http.Request) {
		<-release
		f.token(w, r)
	}
	c := f.client(Config{})
	t.Cleanup(func() { close(release) })

	go func() { _, _, _ = c.GetUser(context.Background(), "slow") }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.GetUser(ctx, "u1")
	require.ErrorIs(t, err, context.Canceled)
}

func TestAuth_ExpiringTokenRenewedBeforeUse(t *testing.T) {
	t.Parallel()
	f := newFake(t, userMux())
	f.tokenHook = func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		tok := fmt.Sprintf("short-%d", len(f.issued))
		f.issued = append(f.issued, tok)
		f.valid[tok] = true
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// Inside oauth2's 10s expiry margin: stale as soon as it arrives.
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":5}`, tok)
	}
	c := f.client(Config{})

	for range 3 {
		_, _, err := c.GetUser(context.Background(), "u1")
		require.NoError(t, err)
	}
	require.Equal(t, int64(3), f.tokenFetches.Load())
	require.Zero(t, f.unauthorized.Load(), "renewed before use, not after a 401")
}
