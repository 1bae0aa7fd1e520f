package genesys

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sleeps records the waits a client asks for instead of sleeping.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

// setupResolve serves a directory of n users whose answers pass through
// wrap first, and returns a client that records its waits.
func setupResolve(t *testing.T, n int, cfg Config,
	wrap func(http.HandlerFunc) http.HandlerFunc) (*Client, *directory, *sleeps) {
	t.Helper()
	d := newDirectory(n)
	h := d.handler()
	if wrap != nil {
		h = wrap(h)
	}
	c := newFake(t, h).client(cfg)
	s := &sleeps{}
	c.sleep = s.sleep
	return c, d, s
}

// failFirst answers the first k requests matching match with fail.
func failFirst(k int64, match func(*http.Request) bool,
	fail http.HandlerFunc) func(http.HandlerFunc) http.HandlerFunc {
	var seen atomic.Int64
	return func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if match(r) && seen.Add(1) <= k {
				fail(w, r)
				return
			}
			next(w, r)
		}
	}
}

func isList(r *http.Request) bool   { return r.Method == http.MethodGet }
func isSearch(r *http.Request) bool { return r.Method == http.MethodPost }

func emailsOf(from, to, step int) []string {
	var out []string
	for i := from; i < to; i += step {
		out = append(out, fmt.Sprintf("USER%d@example.com", i))
	}
	return out
}

func TestResolveEmails_ListsWhenCheaper(t *testing.T) {
	t.Parallel()
	c, d, s := setupResolve(t, 1600, Config{}, failFirst(1, isList,
		answer(500, "internal.server.error", "oops", nil)))

	got, err := c.ResolveEmails(context.Background(), append(emailsOf(0, 1600, 100), "x@nowhere"))
	require.NoError(t, err)
	require.Len(t, got, 16)
	require.Equal(t, "id-01500", got["user1500@example.com"])
	require.Equal(t, int64(4), d.lists.Load(), "4 pages, after one 500")
	require.Equal(t, int64(1), d.searches.Load(), "the address no page held")
	require.Equal(t, []time.Duration{transientBackoff}, s.waits)
}

func TestResolveEmails_SearchesWhenCheaper(t *testing.T) {
	t.Parallel()
	c, d, _ := setupResolve(t, 5000, Config{}, nil)

	got, err := c.ResolveEmails(context.Background(), emailsOf(4000, 4005, 1))
	require.NoError(t, err)
	require.Len(t, got, 5)
	require.Equal(t, int64(1), d.lists.Load())
	require.Equal(t, int64(5), d.searches.Load())

	// Duplicates in any case count once; blanks are ignored.
	got, err = c.ResolveEmails(context.Background(),
		[]string{"user4999@example.com", " USER4999@EXAMPLE.COM ", ""})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user4999@example.com": "id-04999"}, got)
	require.Equal(t, int64(6), d.searches.Load())
	require.Equal(t, int64(1), d.lists.Load())
}

func TestResolveEmails_Empty(t *testing.T) {
	t.Parallel()
	c, d, _ := setupResolve(t, 10, Config{}, nil)

	got, err := c.ResolveEmails(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Zero(t, d.lists.Load()+d.searches.Load())
}

func TestResolveEmails_DeepPagingFallsBack(t *testing.T) {
	t.Parallel()
	c, d, _ := setupResolve(t, 3000, Config{}, nil)
	d.deepLimit = 1000

	got, err := c.ResolveEmails(context.Background(), emailsOf(0, 3000, 10))
	require.NoError(t, err)
	require.Len(t, got, 300)
	require.Equal(t, int64(3), d.lists.Load(), "pages 1 and 2, then page 3 refused")
	require.Equal(t, int64(200), d.searches.Load())
}

func TestResolveEmails_RateLimited(t *testing.T) {
	t.Parallel()
	tooMany := answer(429, "too.many.requests.retry.after", "slow",
		map[string]string{"Retry-After": "3"})

	t.Run("no pacer waits itself", func(t *testing.T) {
		t.Parallel()
		c, _, s := setupResolve(t, 100, Config{}, failFirst(2, isSearch, tooMany))
		got, err := c.ResolveEmails(context.Background(), []string{"user7@example.com"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, []time.Duration{3 * time.Second, 3 * time.Second}, s.waits)
	})
	t.Run("pacer waits", func(t *testing.T) {
		t.Parallel()
		p := &recPacer{}
		c, _, s := setupResolve(t, 100, Config{Pacer: p}, failFirst(1, isSearch, tooMany))
		got, err := c.ResolveEmails(context.Background(), []string{"user7@example.com"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Empty(t, s.waits)
		require.Equal(t, 2, p.waits)
		require.Equal(t, ClassRateLimited, ClassOf(p.done[0]))
	})
}

func TestResolveEmails_Failures(t *testing.T) {
	t.Parallel()
	always := func(h http.HandlerFunc) func(http.HandlerFunc) http.HandlerFunc {
		return failFirst(1<<30, isSearch, h)
	}
	tests := []struct {
		name  string
		h     http.HandlerFunc
		class Class // ClassInvalid here means: no error, address absent
		tries int64
	}{
		{"forbidden", answer(403, "missing.permissions", "no", nil), ClassForbidden, 1},
		{"transient gives up", answer(503, "service.unavailable", "down", nil),
			ClassTransient, resolveAttempts},
		{"invalid address", answer(400, "invalid.value", "bad email", nil), ClassInvalid, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, d, _ := setupResolve(t, 10, Config{}, always(tt.h))
			got, err := c.ResolveEmails(context.Background(), []string{"user1@example.com"})
			if tt.class == ClassInvalid {
				require.NoError(t, err)
				require.Empty(t, got)
			} else {
				require.Equal(t, tt.class, ClassOf(err))
			}
			require.Zero(t, d.searches.Load(), "the fault answered first")
			require.NotContains(t, strings.ToLower(fmt.Sprint(err)), "bearer")
		})
	}
}
