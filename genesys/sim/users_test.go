package sim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// page is the answer of GET /api/v2/users.
type page struct {
	Entities   []genesys.User `json:"entities"`
	PageSize   int            `json:"pageSize"`
	PageNumber int            `json:"pageNumber"`
	Total      int            `json:"total"`
	PageCount  int            `json:"pageCount"`
	NextURI    string         `json:"nextUri"`
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{})
	tok := b.login(t)

	t.Run("Found", func(t *testing.T) {
		want := b.users[3]
		u := b.getUser(t, tok, want.ID)
		require.Equal(t, want.Name, u.Name)
		require.Equal(t, want.Version, u.Version)
		require.Equal(t, want.Division.ID, u.Division.ID)
		require.Equal(t, "/api/v2/users/"+want.ID, u.SelfURI)
	})

	t.Run("NotFound", func(t *testing.T) {
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/no-such-user", nil)
		require.Equal(t, http.StatusNotFound, a.status)
		require.Equal(t, "not.found", a.genesysError(t)["code"])
	})

	t.Run("UnknownPath", func(t *testing.T) {
		a := b.do(t, tok, http.MethodGet, "/api/v2/queues", nil)
		require.Equal(t, http.StatusNotFound, a.status)
		a.genesysError(t)
	})
}

func TestGetUsersByID(t *testing.T) {
	t.Parallel()
	b := setupUsers(t, sim.Config{}, sim.Generate(150, 3))
	tok := b.login(t)

	t.Run("SomeUnknown", func(t *testing.T) {
		q := "?id=" + b.users[0].ID + "&id=missing&id=" + b.users[5].ID + "," + b.users[9].ID
		var p page
		a := b.do(t, tok, http.MethodGet, "/api/v2/users"+q, nil)
		require.Equal(t, http.StatusOK, a.status)
		a.json(t, &p)
		require.Equal(t, 3, p.Total)
		require.Equal(t, []string{b.users[0].ID, b.users[5].ID, b.users[9].ID}, ids(p.Entities))
	})

	t.Run("Hundred", func(t *testing.T) {
		var p page
		a := b.do(t, tok, http.MethodGet, "/api/v2/users?"+idQuery(b.users[:100]), nil)
		require.Equal(t, http.StatusOK, a.status)
		a.json(t, &p)
		require.Len(t, p.Entities, 100)
	})

	t.Run("TooMany", func(t *testing.T) {
		a := b.do(t, tok, http.MethodGet, "/api/v2/users?"+idQuery(b.users[:101]), nil)
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "max.user.ids", a.genesysError(t)["code"])
	})
}

func idQuery(users []genesys.User) string {
	parts := make([]string, len(users))
	for i, u := range users {
		parts[i] = "id=" + u.ID
	}
	return strings.Join(parts, "&")
}

func ids(users []genesys.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func TestListUsersPaging(t *testing.T) {
	t.Parallel()
	b := setupUsers(t, sim.Config{DeepPagingLimit: 100}, sim.Generate(130, 4))
	tok := b.login(t)
	list := func(q string) (answer, page) {
		var p page
		a := b.do(t, tok, http.MethodGet, "/api/v2/users"+q, nil)
		if a.status == http.StatusOK {
			a.json(t, &p)
		}
		return a, p
	}

	t.Run("DefaultSize", func(t *testing.T) {
		_, p := list("")
		require.Equal(t, 25, p.PageSize)
		require.Len(t, p.Entities, 25)
		require.Equal(t, 130, p.Total)
		require.Equal(t, 6, p.PageCount)
		require.Equal(t, "/api/v2/users?pageSize=25&pageNumber=2", p.NextURI)
	})

	t.Run("WalkEveryPage", func(t *testing.T) {
		seen := map[string]bool{}
		for n := 1; n <= 2; n++ {
			_, p := list(fmt.Sprintf("?pageSize=50&pageNumber=%d", n))
			for _, u := range p.Entities {
				seen[u.ID] = true
			}
		}
		require.Len(t, seen, 100)
	})

	t.Run("DeepPagingLimit", func(t *testing.T) {
		a, _ := list("?pageSize=50&pageNumber=3")
		require.Equal(t, http.StatusBadRequest, a.status)
		a.genesysError(t)
	})

	t.Run("BadPageSize", func(t *testing.T) {
		for _, q := range []string{"?pageSize=501", "?pageSize=0", "?pageNumber=x"} {
			a, _ := list(q)
			require.Equal(t, http.StatusBadRequest, a.status, q)
			a.genesysError(t)
		}
	})
}

func TestListUsersLastPage(t *testing.T) {
	t.Parallel()
	b := setupUsers(t, sim.Config{}, sim.Generate(130, 4))
	var p page
	a := b.do(t, b.login(t), http.MethodGet, "/api/v2/users?pageSize=500&pageNumber=1", nil)
	a.json(t, &p)
	require.Len(t, p.Entities, 130)
	require.Equal(t, 1, p.PageCount)
	require.Empty(t, p.NextURI)
}
