package genesys_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// firstError sends GetUser until it fails, at most n times.
func firstError(t *testing.T, b *simBundle, n int) *genesys.Error {
	t.Helper()
	for range n {
		_, _, err := b.client.GetUser(context.Background(), b.users[0].ID)
		if err != nil {
			var e *genesys.Error
			require.ErrorAs(t, err, &e)
			return e
		}
	}
	t.Fatalf("no error in %d requests", n)
	return nil
}

func TestSimFaults_RateLimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  sim.Config
		code string
	}{
		{"seconds", sim.Config{RateLimit: 2}, "too.many.requests.retry.after"},
		{"legacy code", sim.Config{RateLimit: 2, LegacyRateCode: true}, "too.many.requests"},
		{"http-date", sim.Config{RateLimit: 2, RetryAfterDate: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSim(t, tt.cfg, sim.Generate(5, 1), genesys.Config{})

			e := firstError(t, b, 3)
			require.Equal(t, genesys.ClassRateLimited, e.Class)
			require.Equal(t, 429, e.Status)
			require.NotEmpty(t, e.CorrelationID)
			require.Greater(t, e.RetryAfter, time.Duration(0))
			require.LessOrEqual(t, e.RetryAfter, time.Minute+time.Second)
			if tt.code != "" {
				require.Equal(t, tt.code, e.Code)
			}
			require.Equal(t, int64(1), b.srv.Stats().TokensIssued, "a 429 never mints a token")
		})
	}
}

func TestSimFaults_Transient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		faults  sim.Faults
		timeout time.Duration
		status  int
	}{
		{"reset before", sim.Faults{ResetBeforeRate: 1}, 0, 0},
		{"reset after", sim.Faults{ResetAfterRate: 1}, 0, 0},
		{"slow", sim.Faults{SlowRate: 1, SlowDelay: time.Second}, 30 * time.Millisecond, 0},
		{"502", sim.Faults{ErrorRate: 1, ErrorStatuses: []int{502}}, 0, 502},
		{"500", sim.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}, 0, 500},
		{"outage", sim.Faults{OutageFor: time.Hour}, 0, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSim(t, sim.Config{Faults: tt.faults}, sim.Generate(5, 1),
				genesys.Config{Timeout: tt.timeout})

			_, _, err := b.client.GetUser(context.Background(), b.users[0].ID)
			var e *genesys.Error
			require.ErrorAs(t, err, &e)
			if tt.name == "outage" && e.Op == "fetch token" {
				// The outage also hits the token endpoint.
				require.Equal(t, genesys.ClassTransient, e.Class)
				return
			}
			require.Equal(t, genesys.ClassTransient, e.Class, e.Error())
			require.Equal(t, tt.status, e.Status)
		})
	}
}

func TestSimFaults_InvalidClient(t *testing.T) {
	t.Parallel()
	b := setupSim(t, sim.Config{}, sim.Generate(5, 1),
		genesys.Config{ClientSecret: "not-the-secret-42"})

	_, _, err := b.client.GetUser(context.Background(), b.users[0].ID)
	var e *genesys.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, genesys.ClassAuth, e.Class)
	require.Equal(t, "invalid_client", e.Code)
	require.Contains(t, e.Error(), "check the OAuth client id and secret")
	require.NotContains(t, e.Error(), "not-the-secret-42")

	_, err = b.client.ResolveEmails(context.Background(), []string{"a@b.c", "d@e.f"})
	require.Equal(t, genesys.ClassAuth, genesys.ClassOf(err))
	require.Equal(t, int64(1), b.srv.Stats().Requests, "one token request in all")
}
