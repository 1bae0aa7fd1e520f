package sim_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys/sim"
)

func TestOAuth(t *testing.T) {
	t.Parallel()

	t.Run("IssuesBearerToken", func(t *testing.T) {
		b := setup(t, sim.Config{TokenLifetime: 2 * time.Hour})
		a := b.tokenRequest(t, sim.DefaultClientID, sim.DefaultClientSecret, "client_credentials")
		require.Equal(t, http.StatusOK, a.status)
		var tok map[string]any
		a.json(t, &tok)
		require.Equal(t, "bearer", tok["token_type"])
		require.EqualValues(t, 7200, tok["expires_in"])
		require.NotEmpty(t, tok["access_token"])
		require.EqualValues(t, 1, b.srv.Stats().TokensIssued)
	})

	t.Run("BadClient", func(t *testing.T) {
		b := setup(t, sim.Config{ClientID: "me", ClientSecret: "s3cret"})
		for _, c := range [][2]string{{"me", "wrong"}, {"other", "s3cret"}} {
			a := b.tokenRequest(t, c[0], c[1], "client_credentials")
			require.Equal(t, http.StatusBadRequest, a.status)
			var e map[string]string
			a.json(t, &e)
			require.Equal(t, "invalid_client", e["error"])
			require.NotEmpty(t, e["description"])
		}
		a := b.tokenRequest(t, "me", "s3cret", "password")
		require.Equal(t, http.StatusBadRequest, a.status)
	})

	t.Run("NoToken", func(t *testing.T) {
		b := setup(t, sim.Config{})
		a := b.do(t, "", http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "authentication.required", a.genesysError(t)["code"])
	})

	t.Run("UnknownToken", func(t *testing.T) {
		b := setup(t, sim.Config{})
		a := b.do(t, "made-up", http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "bad.credentials", a.genesysError(t)["code"])
	})

	t.Run("ExpiredToken", func(t *testing.T) {
		b := setup(t, sim.Config{TokenLifetime: 10 * time.Minute})
		tok := b.login(t)
		b.clock.Advance(10*time.Minute - time.Second)
		b.getUser(t, tok, b.users[0].ID)

		b.clock.Advance(time.Second)
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "bad.credentials", a.genesysError(t)["code"])
	})

	t.Run("RevokeTokens", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok := b.login(t)
		b.getUser(t, tok, b.users[0].ID)
		b.srv.RevokeTokens()
		a := b.do(t, tok, http.MethodGet, "/api/v2/users/"+b.users[0].ID, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "bad.credentials", a.genesysError(t)["code"])
		b.getUser(t, b.login(t), b.users[0].ID) // a new token works
	})

	t.Run("TokenNeverInStats", func(t *testing.T) {
		b := setup(t, sim.Config{})
		tok := b.login(t)
		a := b.do(t, "", http.MethodGet, "/sim/stats", nil)
		require.NotContains(t, string(a.body), tok)
		require.True(t, json.Valid(a.body))
	})
}
