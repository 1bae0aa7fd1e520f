package sim_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// hit sends n reads and returns their statuses.
func (b *bundle) hit(t *testing.T, tok string, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil).status
	}
	return out
}

func statuses(ok, limited int) []int {
	var out []int
	for range ok {
		out = append(out, 200)
	}
	for range limited {
		out = append(out, 429)
	}
	return out
}

func TestRateLimitFixed(t *testing.T) {
	t.Parallel()

	t.Run("Answer429", func(t *testing.T) {
		b := setup(t, sim.Config{RateLimit: 3})
		tok := b.login(t)
		b.clock.Advance(15 * time.Second) // 45 s left in the minute
		require.Equal(t, statuses(3, 0), b.hit(t, tok, 3))

		b.clock.Advance(300 * time.Millisecond)
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, http.StatusTooManyRequests, a.status)
		require.Equal(t, "45", a.header.Get("Retry-After")) // 44.7 s rounded up
		e := a.genesysError(t)
		require.Equal(t, "too.many.requests.retry.after", e["code"])
		require.Equal(t, "Rate limit exceeded the maximum. Retry the request in [45] seconds",
			e["message"])
		require.Empty(t, e["details"])
		require.Empty(t, e["errors"])
	})

	t.Run("NewWindow", func(t *testing.T) {
		b := setup(t, sim.Config{RateLimit: 2})
		tok := b.login(t)
		require.Equal(t, statuses(2, 2), b.hit(t, tok, 4))
		b.clock.Advance(time.Minute)
		require.Equal(t, statuses(2, 1), b.hit(t, tok, 3))
		require.EqualValues(t, 3, b.srv.Stats().RateLimited)
	})

	t.Run("PerToken", func(t *testing.T) {
		b := setup(t, sim.Config{RateLimit: 2})
		one, two := b.login(t), b.login(t)
		require.Equal(t, statuses(2, 1), b.hit(t, one, 3))
		require.Equal(t, statuses(2, 0), b.hit(t, two, 2))
	})

	t.Run("AtLeastOneSecond", func(t *testing.T) {
		b := setup(t, sim.Config{RateLimit: 1})
		tok := b.login(t)
		b.clock.Advance(time.Minute - 100*time.Millisecond)
		b.hit(t, tok, 1)
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, "1", a.header.Get("Retry-After"))
	})
}

func TestRateLimitSliding(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{RateLimit: 3, Sliding: true})
	tok := b.login(t)

	require.Equal(t, statuses(2, 0), b.hit(t, tok, 2))
	b.clock.Advance(40 * time.Second)
	require.Equal(t, statuses(1, 1), b.hit(t, tok, 2))

	// The two first requests leave the window 60 s after they came.
	b.clock.Advance(10 * time.Second)
	a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "10", a.header.Get("Retry-After"))

	// Refused requests did not count: exactly two slots free up at 60 s.
	b.clock.Advance(10 * time.Second)
	require.Equal(t, statuses(2, 1), b.hit(t, tok, 3))
}

func TestRateLimitExtras(t *testing.T) {
	t.Parallel()

	t.Run("TokenEndpoint", func(t *testing.T) {
		b := setup(t, sim.Config{TokenRateLimit: 2})
		b.login(t)
		b.login(t)
		a := b.tokenRequest(t, sim.DefaultClientID, sim.DefaultClientSecret, "client_credentials")
		require.Equal(t, http.StatusTooManyRequests, a.status)
		require.NotEmpty(t, a.header.Get("Retry-After"))
		a.genesysError(t)
	})

	t.Run("WriteLimit", func(t *testing.T) {
		b := setup(t, sim.Config{RateLimit: 10, WriteRateLimit: 1})
		tok, u := b.login(t), b.users[0]
		patch := func(v int) int {
			return b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
				genesys.Patch{Title: ptr(fmt.Sprint(v)), Version: v}).status
		}
		require.Equal(t, http.StatusOK, patch(u.Version))
		require.Equal(t, http.StatusTooManyRequests, patch(u.Version+1))
		require.Equal(t, statuses(3, 0), b.hit(t, tok, 3)) // reads still pass
	})

	t.Run("LegacyCodeAndDate", func(t *testing.T) {
		b := setup(t, sim.Config{RateLimit: 1, LegacyRateCode: true, RetryAfterDate: true})
		tok := b.login(t)
		b.hit(t, tok, 1)
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, "too.many.requests", a.genesysError(t)["code"])
		at, err := http.ParseTime(a.header.Get("Retry-After"))
		require.NoError(t, err)
		require.Equal(t, b.clock.Now().Add(time.Minute), at)
	})
}

func TestRetryAfterMatchesBody(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{RateLimit: 1, RateWindow: 10 * time.Second})
	tok := b.login(t)
	b.hit(t, tok, 1)
	for range 5 {
		b.clock.Advance(1700 * time.Millisecond)
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		if a.status == http.StatusOK {
			continue
		}
		n, err := strconv.Atoi(a.header.Get("Retry-After"))
		require.NoError(t, err)
		require.Contains(t, a.genesysError(t)["message"], fmt.Sprintf("[%d]", n))
	}
}
