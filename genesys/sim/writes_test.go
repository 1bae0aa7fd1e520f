package sim_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

func ptr[T any](v T) *T { return &v }

func TestPatchUser(t *testing.T) {
	t.Parallel()

	t.Run("AppliesAndBumpsVersion", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok, u := b.login(t), b.users[4]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Title: ptr("Coach"), Department: ptr("Training"), Version: u.Version})
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		var got genesys.User
		a.json(t, &got)
		require.Equal(t, "Coach", got.Title)
		require.Equal(t, "Training", got.Department)
		require.Equal(t, u.Name, got.Name) // whole user comes back
		require.Equal(t, u.Version+1, got.Version)
		require.Equal(t, got, b.getUser(t, tok, u.ID))
		require.EqualValues(t, 1, b.srv.Stats().PatchesApplied)
	})

	t.Run("MissingVersion", func(t *testing.T) {
		b := setup(t, sim.Config{})
		a := b.do(t, b.login(t), http.MethodPatch, "/api/v2/users/"+b.users[0].ID,
			[]byte(`{"title":"Coach"}`))
		require.Equal(t, http.StatusBadRequest, a.status)
		a.genesysError(t)
	})

	t.Run("StaleVersion", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok, u := b.login(t), b.users[1]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Title: ptr("Coach"), Version: u.Version - 1})
		require.Equal(t, http.StatusConflict, a.status)
		e := a.genesysError(t)
		require.Equal(t, "general.conflict", e["code"])
		require.Contains(t, e["message"], "does not match")
		require.Equal(t, u.Title, b.getUser(t, tok, u.ID).Title)
	})

	t.Run("Noop", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok, u := b.login(t), b.users[2]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Title: ptr(u.Title), Version: u.Version})
		require.Equal(t, http.StatusOK, a.status)
		st := b.srv.Stats()
		require.EqualValues(t, 0, st.PatchesApplied)
		require.EqualValues(t, 1, st.PatchesNoop)
	})

	t.Run("StateOnly", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok, u := b.login(t), b.users[3]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{State: ptr("inactive"), Title: ptr("Ignored"), Version: u.Version})
		require.Equal(t, http.StatusOK, a.status)
		got := b.getUser(t, tok, u.ID)
		require.Equal(t, "inactive", got.State)
		require.Equal(t, u.Title, got.Title)
		require.Equal(t, u.Version+1, got.Version)
	})

	t.Run("Manager", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok, u, m := b.login(t), b.users[10], b.users[5]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Manager: ptr(m.ID), Version: u.Version})
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, &genesys.Ref{ID: m.ID}, b.getUser(t, tok, u.ID).Manager)

		a = b.do(t, tok, http.MethodPatch, "/api/v2/users/"+u.ID,
			genesys.Patch{Manager: ptr("nobody"), Version: u.Version + 1})
		require.Equal(t, http.StatusBadRequest, a.status)
		a.genesysError(t)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		b := setup(t, sim.Config{})
		a := b.do(t, b.login(t), http.MethodPatch, "/api/v2/users/missing",
			genesys.Patch{Title: ptr("x"), Version: 1})
		require.Equal(t, http.StatusNotFound, a.status)
		require.Equal(t, "not.found", a.genesysError(t)["code"])
	})
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{})
	tok, path := b.login(t), "/api/v2/users/"+b.users[0].ID
	send := func(ctype string, body []byte) answer {
		req, err := http.NewRequest(http.MethodPatch, b.url+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", ctype)
		return b.send(t, req)
	}

	tests := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		code   string
	}{
		{"Malformed", "application/json", []byte(`{"title":`), 400, "bad.request"},
		{"WrongType", "text/plain", []byte(`{"version":1}`), 415, "unsupported.media.type"},
		{"TooLarge", "application/json", bigBody(), 413, "request.entity.too.large"},
		{"CharsetOK", "application/json; charset=utf-8", []byte(`{"version":-1}`), 409,
			"general.conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(tt.ctype, tt.body)
			require.Equal(t, tt.status, a.status, string(a.body))
			require.Equal(t, tt.code, a.genesysError(t)["code"])
		})
	}
}

// bigBody is valid JSON just over 512,000 bytes.
func bigBody() []byte {
	return []byte(`{"version":1,"biography":"` + strings.Repeat("x", 512000) + `"}`)
}

func TestSearchUsers(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{})
	tok, u := b.login(t), b.users[6]
	search := func(criterion map[string]any) (answer, map[string]any) {
		criterion["type"], criterion["fields"] = "EXACT", []string{"email"}
		a := b.do(t, tok, http.MethodPost, "/api/v2/users/search",
			map[string]any{"query": []any{criterion}})
		var m map[string]any
		a.json(t, &m)
		return a, m
	}

	t.Run("ValueAnyCase", func(t *testing.T) {
		a, m := search(map[string]any{"value": strings.ToUpper(u.Email)})
		require.Equal(t, http.StatusOK, a.status)
		require.EqualValues(t, 1, m["total"])
		require.Equal(t, u.ID, m["results"].([]any)[0].(map[string]any)["id"])
	})

	t.Run("Values", func(t *testing.T) {
		_, m := search(map[string]any{"values": []string{b.users[1].Email, "nobody@example.com"}})
		require.EqualValues(t, 1, m["total"])
	})

	t.Run("NoMatch", func(t *testing.T) {
		_, m := search(map[string]any{"value": "nobody@example.com"})
		require.EqualValues(t, 0, m["total"])
		require.NotContains(t, m, "results")
	})

	t.Run("NotPrefix", func(t *testing.T) {
		_, m := search(map[string]any{"value": u.Email[:5]})
		require.EqualValues(t, 0, m["total"])
	})

	t.Run("AfterEmailChange", func(t *testing.T) {
		v := b.users[7]
		a := b.do(t, tok, http.MethodPatch, "/api/v2/users/"+v.ID,
			genesys.Patch{Email: ptr("New.Address@example.com"), Version: v.Version})
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		_, m := search(map[string]any{"value": "new.address@EXAMPLE.com"})
		require.EqualValues(t, 1, m["total"])
		_, m = search(map[string]any{"value": v.Email})
		require.EqualValues(t, 0, m["total"])
	})
}

func TestMoveUsers(t *testing.T) {
	t.Parallel()
	target := sim.Divisions[5]
	path := "/api/v2/authorization/divisions/" + target.ID + "/objects/USER"

	t.Run("Moves", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok := b.login(t)
		var batch []string
		for _, u := range b.users[:6] {
			batch = append(batch, u.ID)
		}
		a := b.do(t, tok, http.MethodPost, path, batch)
		require.Equal(t, http.StatusNoContent, a.status)
		require.Empty(t, a.body)
		for _, u := range b.users[:6] {
			got := b.getUser(t, tok, u.ID)
			require.Equal(t, target, *got.Division)
			require.Equal(t, u.Version, got.Version) // a move keeps the version
		}
		st := b.srv.Stats()
		require.EqualValues(t, 6, st.UsersMoved+st.MovesNoop)
		require.Positive(t, st.UsersMoved)
	})

	t.Run("UnknownDivision", func(t *testing.T) {
		b := setup(t, sim.Config{})
		a := b.do(t, b.login(t), http.MethodPost,
			"/api/v2/authorization/divisions/nowhere/objects/USER", []string{b.users[0].ID})
		require.Equal(t, http.StatusNotFound, a.status)
		a.genesysError(t)
	})

	t.Run("BatchMax", func(t *testing.T) {
		b := setup(t, sim.Config{MoveBatchMax: 3})
		tok := b.login(t)
		a := b.do(t, tok, http.MethodPost, path, ids(b.users[:4]))
		require.Equal(t, http.StatusBadRequest, a.status)
		a.genesysError(t)
		a = b.do(t, tok, http.MethodPost, path, ids(b.users[:3]))
		require.Equal(t, http.StatusNoContent, a.status)
	})

	t.Run("DirectoryDivision", func(t *testing.T) {
		users := sim.Generate(3, 1)
		users[0].Division = &genesys.Division{ID: "extra-div", Name: "Extra"}
		b := setupUsers(t, sim.Config{}, users)
		a := b.do(t, b.login(t), http.MethodPost,
			"/api/v2/authorization/divisions/extra-div/objects/USER", []string{users[1].ID})
		require.Equal(t, http.StatusNoContent, a.status)
		require.Equal(t, "Extra", b.srv.Users()[indexOf(b.srv.Users(), users[1].ID)].Division.Name)
	})
}

func indexOf(users []genesys.User, id string) int {
	for i, u := range users {
		if u.ID == id {
			return i
		}
	}
	return -1
}
