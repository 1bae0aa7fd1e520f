package baseline

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// fakeAPI answers from a map of users and fails the first calls of each
// operation as scripted.
type fakeAPI struct {
	mu      sync.Mutex
	users   map[string]genesys.User
	fail    map[string][]error // op → errors returned by its next calls
	calls   map[string]int
	patches []genesys.Patch
	moves   [][]string
}

func newFake(users ...genesys.User) *fakeAPI {
	f := &fakeAPI{users: map[string]genesys.User{}, fail: map[string][]error{},
		calls: map[string]int{}}
	for _, u := range users {
		f.users[u.ID] = u
	}
	return f
}

// next counts a call of op and returns its scripted error, if any.
func (f *fakeAPI) next(op string) error {
	f.calls[op]++
	if errs := f.fail[op]; len(errs) > 0 {
		f.fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeAPI) GetUser(_ context.Context, id string) (genesys.User, genesys.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.next("get"); err != nil {
		return genesys.User{}, genesys.Meta{}, err
	}
	u, ok := f.users[id]
	if !ok {
		return u, genesys.Meta{}, &genesys.Error{Op: "get user", Class: genesys.ClassNotFound,
			Status: http.StatusNotFound}
	}
	return u, genesys.Meta{Status: http.StatusOK}, nil
}

func (f *fakeAPI) PatchUser(_ context.Context, _ string, p genesys.Patch) (genesys.User,
	genesys.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.next("patch"); err != nil {
		return genesys.User{}, genesys.Meta{}, err
	}
	f.patches = append(f.patches, p)
	return genesys.User{}, genesys.Meta{Status: http.StatusOK}, nil
}

func (f *fakeAPI) MoveUsers(_ context.Context, div string, ids []string) (genesys.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.next("move"); err != nil {
		return genesys.Meta{}, err
	}
	f.moves = append(f.moves, append([]string{div}, ids...))
	return genesys.Meta{Status: http.StatusAccepted}, nil
}

// sleeps records the backoff waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func tooMany() error {
	return &genesys.Error{Op: "x", Class: genesys.ClassRateLimited, Status: 429,
		RetryAfter: 30 * time.Second}
}

func unavailable() error {
	return &genesys.Error{Op: "x", Class: genesys.ClassTransient, Status: 503}
}

func agent(id string) genesys.User {
	return genesys.User{ID: id, Title: "Agent", Department: "Care", Version: 7,
		Division: &genesys.Division{ID: "div-a"}}
}

// setup returns a fake with users u1 and u2 and a config that records
// its sleeps.
func setup(t *testing.T) (*fakeAPI, *sleeps, Config) {
	t.Helper()
	s := &sleeps{}
	return newFake(agent("u1"), agent("u2")), s, Config{Sleep: s.sleep}
}

func TestRun_AppliesPatchWithVersionAndMovesDivision(t *testing.T) {
	f, _, cfg := setup(t)
	items := []Item{
		{UserID: "u1", Want: map[string]string{"title": "Lead", "division": "div-b"}},
		{UserID: "u2", Want: map[string]string{"title": "Agent", "department": "Care"}},
	}
	res, err := Run(t.Context(), f, items, cfg)
	require.NoError(t, err)

	require.Equal(t, Result{Applied: 1, Unchanged: 1, Requests: 4}, res)
	require.Len(t, f.patches, 1)
	require.Equal(t, 7, f.patches[0].Version)
	require.Equal(t, "Lead", *f.patches[0].Title)
	require.Nil(t, f.patches[0].Department)
	require.Equal(t, [][]string{{"div-b", "u1"}}, f.moves)
}

func TestRun_Backoff(t *testing.T) {
	t.Run("doubles from 1s and ignores Retry-After", func(t *testing.T) {
		f, s, cfg := setup(t)
		f.fail["patch"] = []error{tooMany(), unavailable(), tooMany(), tooMany()}
		res, err := Run(t.Context(), f, []Item{{UserID: "u1",
			Want: map[string]string{"title": "Lead"}}}, cfg)
		require.NoError(t, err)
		require.Equal(t, 1, res.Applied)
		require.Equal(t, int64(6), res.Requests) // 1 GET, 5 PATCH sends
		require.Equal(t, int64(4), res.Retries)
		require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second,
			8 * time.Second}, s.d)
	})
	t.Run("fails the item after 5 attempts", func(t *testing.T) {
		f, s, cfg := setup(t)
		f.fail["get"] = []error{unavailable(), unavailable(), unavailable(), unavailable(),
			unavailable(), nil}
		res, err := Run(t.Context(), f, []Item{{UserID: "u1",
			Want: map[string]string{"title": "Lead"}}}, cfg)
		require.NoError(t, err)
		require.Equal(t, Result{Failed: 1, Requests: 5, Retries: 4}, res)
		require.Len(t, s.d, 4)
		require.Empty(t, f.patches)
	})
	t.Run("caps the wait at BackoffMax", func(t *testing.T) {
		f, s, cfg := setup(t)
		cfg.MaxAttempts, cfg.BackoffMax = 6, 3*time.Second
		f.fail["get"] = []error{tooMany(), tooMany(), tooMany(), tooMany()}
		_, err := Run(t.Context(), f, []Item{{UserID: "u1"}}, cfg)
		require.NoError(t, err)
		require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second,
			3 * time.Second}, s.d)
	})
}

func TestRun_PermanentErrorFailsAtOnce(t *testing.T) {
	f, s, cfg := setup(t)
	res, err := Run(t.Context(), f, []Item{{UserID: "ghost",
		Want: map[string]string{"title": "Lead"}}}, cfg)
	require.NoError(t, err)
	require.Equal(t, Result{Failed: 1, Requests: 1}, res)
	require.Empty(t, s.d)
}

func TestRun_StopsWhenContextEnds(t *testing.T) {
	f, _, cfg := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cfg.Sleep = func(context.Context, time.Duration) error {
		cancel()
		return context.Canceled
	}
	f.fail["get"] = []error{tooMany()}
	items := []Item{{UserID: "u1", Want: map[string]string{"title": "Lead"}}}
	for range 50 {
		items = append(items, Item{UserID: "u2", Want: map[string]string{"title": "Lead"}})
	}

	res, err := Run(ctx, f, items, cfg)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, res.Failed, "an item cut short is not a failure")
	require.Less(t, res.Done(), len(items))
}

func TestRun_AgainstSimulator(t *testing.T) {
	users := sim.Generate(40, 3)
	srv, url, stop, err := sim.StartServer(sim.Config{}, users)
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(func() {
		// Closing the client's connections first lets the server stop at once.
		tr.CloseIdleConnections()
		_ = stop()
	})
	client, err := genesys.NewClient(genesys.Config{ClientID: sim.DefaultClientID,
		ClientSecret: sim.DefaultClientSecret, APIURL: url,
		HTTPClient: &http.Client{Transport: tr}})
	require.NoError(t, err)

	var items []Item
	for i, u := range users {
		want := map[string]string{"title": "Bench Lead"}
		if i%10 == 0 {
			want["division"] = otherDivision(u)
		}
		items = append(items, Item{UserID: u.ID, Want: want})
	}
	res, err := Run(t.Context(), client, items, Config{})
	require.NoError(t, err)

	require.Equal(t, Result{Applied: 40, Requests: 84}, res)
	st := srv.Stats()
	require.Equal(t, int64(40), st.PatchesApplied)
	require.Equal(t, int64(4), st.UsersMoved)
	require.Equal(t, int64(84), st.Requests-st.TokensIssued)
	require.Zero(t, st.RateLimited)
}

// otherDivision returns a simulator division u is not in.
func otherDivision(u genesys.User) string {
	for _, d := range sim.Divisions {
		if d.ID != u.Division.ID {
			return d.ID
		}
	}
	return ""
}
