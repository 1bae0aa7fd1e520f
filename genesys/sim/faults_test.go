package sim_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

func TestFaultErrors(t *testing.T) {
	t.Parallel()

	t.Run("EveryStatus", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{ErrorRate: 1}})
		tok, seen := b.login(t), map[int]bool{}
		for range 60 {
			a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
			a.genesysError(t)
			seen[a.status] = true
		}
		require.Equal(t, map[int]bool{500: true, 502: true, 503: true, 504: true}, seen)
		require.EqualValues(t, 60, b.srv.Stats().FaultErrors)
	})

	t.Run("PatchNotApplied", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
		u := b.users[0]
		a := b.do(t, b.login(t), http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Title: ptr("x"), Version: u.Version})
		require.Equal(t, http.StatusServiceUnavailable, a.status)
		require.Equal(t, u.Title, b.srv.Users()[indexOf(b.srv.Users(), u.ID)].Title)
	})

	t.Run("DeterministicUnderSeed", func(t *testing.T) {
		run := func(seed int64) []int {
			b := setup(t, sim.Config{Seed: seed, Faults: sim.Faults{ErrorRate: 0.3}})
			return b.hit(t, b.login(t), 40)
		}
		first := run(11)
		require.Equal(t, first, run(11))
		require.NotEqual(t, first, run(12))
		require.Contains(t, first, 200)
		require.NotEqual(t, statuses(40, 0), first)
	})

	t.Run("SimEndpointsUntouched", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{ErrorRate: 1, ResetBeforeRate: 1}})
		a := b.do(t, "", http.MethodGet, "/sim/stats", nil)
		require.Equal(t, http.StatusOK, a.status)
	})
}

func TestFaultResets(t *testing.T) {
	t.Parallel()
	patch := func(t *testing.T, b *bundle, u genesys.User) error {
		t.Helper()
		body, err := json.Marshal(genesys.Patch{Title: ptr("Reset"), Version: u.Version})
		require.NoError(t, err)
		a := b.do(t, b.login(t), http.MethodGet, "/sim/stats", nil) // warm the connection
		require.Equal(t, http.StatusOK, a.status)
		req, err := http.NewRequest(http.MethodPatch, b.url+"/api/v2/users/"+u.ID, bytesReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.login(t))
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	t.Run("Before", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{ResetBeforeRate: 1}})
		u := b.users[0]
		require.Error(t, patch(t, b, u))
		require.Equal(t, u.Title, b.srv.Users()[indexOf(b.srv.Users(), u.ID)].Title)
		require.EqualValues(t, 1, b.srv.Stats().ResetsBefore)
	})

	t.Run("AfterApplied", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{ResetAfterRate: 1}})
		u := b.users[0]
		require.Error(t, patch(t, b, u))
		got := b.srv.Users()[indexOf(b.srv.Users(), u.ID)]
		require.Equal(t, "Reset", got.Title)
		require.Equal(t, u.Version+1, got.Version)
		require.EqualValues(t, 1, b.srv.Stats().ResetsAfter)
	})
}

func TestFaultTiming(t *testing.T) {
	t.Parallel()

	t.Run("SlowAnswerTripsTimeout", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{SlowRate: 1, SlowDelay: 5 * time.Second}})
		u, tok := b.users[0], b.login(t)
		b.hc.Timeout = 100 * time.Millisecond
		body, err := json.Marshal(genesys.Patch{Title: ptr("Slow"), Version: u.Version})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPatch, b.url+"/api/v2/users/"+u.ID, bytesReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		_, err = b.hc.Do(req)
		require.ErrorContains(t, err, "Timeout")
		require.Equal(t, "Slow", b.srv.Users()[indexOf(b.srv.Users(), u.ID)].Title)
	})

	t.Run("Latency", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{Latency: 40 * time.Millisecond}})
		tok := b.login(t)
		start := time.Now()
		b.hit(t, tok, 2)
		require.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
	})
}

func TestConcurrentEdits(t *testing.T) {
	t.Parallel()

	t.Run("ConflictRate", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{ConflictRate: 1}})
		tok, u := b.login(t), b.users[0]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Title: ptr("x"), Version: u.Version})
		require.Equal(t, http.StatusConflict, a.status)
		got := b.srv.Users()[indexOf(b.srv.Users(), u.ID)]
		require.Equal(t, u.Version+1, got.Version)
		require.Equal(t, u.Title, got.Title)
	})

	t.Run("EditsPerSecond", func(t *testing.T) {
		b := setup(t, sim.Config{Faults: sim.Faults{EditsPerSecond: 2}})
		tok := b.login(t)
		b.clock.Advance(10 * time.Second)
		b.hit(t, tok, 1)
		require.EqualValues(t, 20, b.srv.Stats().ConcurrentEdits)

		sum := func(users []genesys.User) (n int) {
			for _, u := range users {
				n += u.Version
			}
			return n
		}
		require.Equal(t, sum(b.users)+20, sum(b.srv.Users()))
		for i, u := range b.srv.Users() {
			want := b.users[indexOf(b.users, u.ID)]
			want.Version, want.SelfURI = u.Version, u.SelfURI
			require.Equal(t, want, u, "user %d: only the version may change", i)
		}
	})
}

func TestOutage(t *testing.T) {
	t.Parallel()

	t.Run("Scheduled", func(t *testing.T) {
		outage := sim.Faults{OutageAfter: time.Minute, OutageFor: 30 * time.Second}
		b := setup(t, sim.Config{Faults: outage})
		tok := b.login(t)
		require.Equal(t, statuses(1, 0), b.hit(t, tok, 1))
		b.clock.Advance(time.Minute)
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, http.StatusServiceUnavailable, a.status)
		require.Equal(t, "service.unavailable", a.genesysError(t)["code"])
		a = b.tokenRequest(t, sim.DefaultClientID, sim.DefaultClientSecret, "client_credentials")
		require.Equal(t, http.StatusServiceUnavailable, a.status)

		b.clock.Advance(30 * time.Second)
		require.Equal(t, statuses(1, 0), b.hit(t, tok, 1))
	})

	t.Run("OnDemand", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok := b.login(t)
		a := b.do(t, "", http.MethodPost, "/sim/outage?for=10s", nil)
		require.Equal(t, http.StatusNoContent, a.status)
		require.Equal(t, 503, b.hit(t, tok, 1)[0])
		b.clock.Advance(10 * time.Second)
		require.Equal(t, 200, b.hit(t, tok, 1)[0])
	})

	t.Run("SetFaults", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok := b.login(t)
		b.srv.SetFaults(sim.Faults{ErrorRate: 1, ErrorStatuses: []int{502}})
		require.Equal(t, 502, b.hit(t, tok, 1)[0])
		b.srv.SetFaults(sim.Faults{})
		require.Equal(t, 200, b.hit(t, tok, 1)[0])
	})
}

func TestSimUsers(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{})
	a := b.do(t, "", http.MethodGet, "/sim/users", nil)
	require.Equal(t, http.StatusOK, a.status)
	sc := bufio.NewScanner(bytesReader(a.body))
	var got []genesys.User
	for sc.Scan() {
		var u genesys.User
		require.NoError(t, json.Unmarshal(sc.Bytes(), &u))
		got = append(got, u)
	}
	require.Equal(t, b.srv.Users(), got)
	require.Len(t, got, len(b.users))
}
