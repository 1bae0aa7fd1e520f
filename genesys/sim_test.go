package genesys_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// simBundle is a simulator on loopback and a client of it.
type simBundle struct {
	srv    *sim.Server
	url    string
	client *genesys.Client
	users  []genesys.User
}

func setupSim(t *testing.T, scfg sim.Config, users []genesys.User,
	cfg genesys.Config) *simBundle {
	t.Helper()
	srv, url, stop, err := sim.StartServer(scfg, users)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })

	cfg.APIURL = url
	if cfg.ClientID == "" {
		cfg.ClientID = sim.DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = sim.DefaultClientSecret
	}
	c, err := genesys.NewClient(cfg)
	require.NoError(t, err)
	return &simBundle{srv: srv, url: url, client: c, users: users}
}

// apiRequests returns the simulator's request count less token requests.
func (b *simBundle) apiRequests() int64 {
	st := b.srv.Stats()
	return st.Requests - st.TokensIssued
}

func TestSim_Operations(t *testing.T) {
	t.Parallel()
	b := setupSim(t, sim.Config{}, sim.Generate(300, 7), genesys.Config{})
	ctx := context.Background()
	first := b.users[10]

	got, meta, err := b.client.GetUsers(ctx, []string{first.ID, b.users[250].ID, "no-such-id"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NotEmpty(t, meta.CorrelationID)

	u, _, err := b.client.GetUser(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, first.Email, u.Email)

	title := "Platform Tester"
	after, meta, err := b.client.PatchUser(ctx, u.ID, genesys.Patch{Title: &title, Version: u.Version})
	require.NoError(t, err)
	require.Equal(t, title, after.Title)
	require.Equal(t, u.Version+1, after.Version)
	require.Equal(t, 200, meta.Status)

	_, _, err = b.client.PatchUser(ctx, u.ID, genesys.Patch{Title: &title, Version: u.Version})
	require.Equal(t, genesys.ClassConflict, genesys.ClassOf(err))
	_, _, err = b.client.GetUser(ctx, "no-such-id")
	require.Equal(t, genesys.ClassNotFound, genesys.ClassOf(err))
}

func TestSim_MoveListSearch(t *testing.T) {
	t.Parallel()
	b := setupSim(t, sim.Config{}, sim.Generate(1200, 3), genesys.Config{})
	ctx := context.Background()

	target := sim.Divisions[0].ID
	ids := []string{b.users[1].ID, b.users[2].ID}
	meta, err := b.client.MoveUsers(ctx, target, ids)
	require.NoError(t, err)
	require.Equal(t, 204, meta.Status)
	moved, _, err := b.client.GetUsers(ctx, ids)
	require.NoError(t, err)
	for _, u := range moved {
		require.Equal(t, target, u.Division.ID)
	}

	page, _, err := b.client.ListUsers(ctx, 500, 3)
	require.NoError(t, err)
	require.Equal(t, 1200, page.Total)
	require.Equal(t, 3, page.PageCount)
	require.Len(t, page.Entities, 200)

	u, ok, _, err := b.client.SearchEmail(ctx, strings.ToUpper(b.users[99].Email))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, b.users[99].ID, u.ID)
}

func TestSim_ResolveEmailsCost(t *testing.T) {
	t.Parallel()
	users := sim.Generate(25000, 11)
	b := setupSim(t, sim.Config{}, users, genesys.Config{})

	// 2,000 addresses spread over the whole directory, some in upper case.
	var emails []string
	want := map[string]string{}
	for i := 0; len(emails) < 2000; i += 12 {
		e := users[i].Email
		if i%5 == 0 {
			e = strings.ToUpper(e)
		}
		emails = append(emails, e)
		want[strings.ToLower(e)] = users[i].ID
	}

	got, err := b.client.ResolveEmails(context.Background(), emails)
	require.NoError(t, err)
	require.Equal(t, want, got)
	n := b.apiRequests()
	t.Logf("resolved %d addresses in %d requests", len(got), n)
	require.LessOrEqual(t, n, int64(51))
	require.GreaterOrEqual(t, n, int64(48))
}

func TestSim_ResolveEmailsFew(t *testing.T) {
	t.Parallel()
	users := sim.Generate(2000, 5)
	b := setupSim(t, sim.Config{}, users, genesys.Config{})
	emails := []string{users[1700].Email, users[1800].Email, "nobody@example.com"}

	got, err := b.client.ResolveEmails(context.Background(), emails)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		users[1700].Email: users[1700].ID, users[1800].Email: users[1800].ID,
	}, got)
	spent := b.apiRequests()

	// One probe page, then one search per address the probe did not find:
	// cheaper than 3 more pages.
	page, _, err := b.client.ListUsers(context.Background(), 500, 1)
	require.NoError(t, err)
	searched := int64(len(emails))
	for _, u := range page.Entities {
		if _, ok := got[u.Email]; ok {
			searched--
		}
	}
	require.Equal(t, 1+searched, spent)

	// A single address costs a single search.
	one, err := b.client.ResolveEmails(context.Background(), []string{users[3].Email})
	require.NoError(t, err)
	require.Len(t, one, 1)
	require.Equal(t, spent+2, b.apiRequests())
}

func TestSim_ResolveEmailsDeepPaging(t *testing.T) {
	t.Parallel()
	users := sim.Generate(3000, 9)
	b := setupSim(t, sim.Config{DeepPagingLimit: 1000}, users, genesys.Config{})
	var emails []string
	for i := 0; i < len(users); i += 30 {
		emails = append(emails, users[i].Email)
	}

	got, err := b.client.ResolveEmails(context.Background(), emails)
	require.NoError(t, err)
	require.Len(t, got, len(emails))
	for i := 0; i < len(users); i += 30 {
		require.Equal(t, users[i].ID, got[users[i].Email])
	}
	spent := b.apiRequests()

	// Two pages, one refused, then a search for each address left.
	listed := 0
	for n := 1; n <= 2; n++ {
		page, _, err := b.client.ListUsers(context.Background(), 500, n)
		require.NoError(t, err)
		for _, u := range page.Entities {
			if _, ok := got[u.Email]; ok {
				listed++
			}
		}
	}
	require.Equal(t, int64(3+len(emails)-listed), spent)
	require.Equal(t, int64(1), b.srv.Stats().ByStatus["400"])
}

func TestSim_TokenRevokedMidRun(t *testing.T) {
	t.Parallel()
	b := setupSim(t, sim.Config{}, sim.Generate(20, 1), genesys.Config{})
	ctx := context.Background()
	_, _, err := b.client.GetUser(ctx, b.users[0].ID)
	require.NoError(t, err)

	b.srv.RevokeTokens()
	_, _, err = b.client.GetUser(ctx, b.users[1].ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), b.srv.Stats().TokensIssued)
	require.Equal(t, int64(1), b.srv.Stats().ByStatus["401"])
	require.Equal(t, int64(1), b.client.Stats().TokenRetries)
}

// barrier is a pacer that, once armed, holds n waiters and releases them
// together; other waiters pass at once.
type barrier struct {
	mu      sync.Mutex
	n       int
	release chan struct{}
}

func (p *barrier) arm(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.release = n, make(chan struct{})
}

func (p *barrier) Wait(ctx context.Context) error {
	p.mu.Lock()
	rel := p.release
	if rel != nil {
		if p.n--; p.n == 0 {
			close(rel)
			p.release = nil
		}
	}
	p.mu.Unlock()
	if rel == nil {
		return nil
	}
	select {
	case <-rel:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *barrier) Done(genesys.Meta, error) {}

func TestSim_UnauthorizedStorm(t *testing.T) {
	t.Parallel()
	p := &barrier{}
	b := setupSim(t, sim.Config{}, sim.Generate(40, 2), genesys.Config{Pacer: p})
	_, _, err := b.client.GetUser(context.Background(), b.users[0].ID)
	require.NoError(t, err)
	b.srv.RevokeTokens()

	// All 20 first sends leave together with the same revoked token.
	p.arm(20)

	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() { _, _, errs[i] = b.client.GetUser(context.Background(), b.users[i].ID) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	st := b.srv.Stats()
	t.Logf("401 answers: %d", st.ByStatus["401"])
	require.Equal(t, int64(2), st.TokensIssued)
	require.Positive(t, st.ByStatus["401"])
}
