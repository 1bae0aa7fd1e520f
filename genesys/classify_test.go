package genesys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// answer returns a handler that sends one Genesys-shaped error.
func answer(status int, code, msg string, hdr map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		writeError(w, status, code, msg)
	}
}

func TestClassify_Answers(t *testing.T) {
	t.Parallel()
	soon := time.Now().Add(42 * time.Second).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	far := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	ra := func(v string) map[string]string { return map[string]string{"Retry-After": v} }
	const rateMsg = "Rate limit exceeded the maximum. Retry the request in [7] seconds"

	tests := []struct {
		name   string
		h      http.HandlerFunc
		class  Class
		status int
		code   string
		wait   time.Duration // checked when not zero
		slack  time.Duration
		capped bool
	}{
		{"429 seconds", answer(429, "too.many.requests.retry.after", rateMsg, ra("7")),
			ClassRateLimited, 429, "too.many.requests.retry.after", 7 * time.Second, 0, false},
		{"429 legacy code", answer(429, "too.many.requests", rateMsg, ra("3")),
			ClassRateLimited, 429, "too.many.requests", 3 * time.Second, 0, false},
		{"429 http-date", answer(429, "too.many.requests", rateMsg, ra(soon)),
			ClassRateLimited, 429, "", 42 * time.Second, 2 * time.Second, false},
		{"429 past date", answer(429, "too.many.requests", rateMsg, ra(past)),
			ClassRateLimited, 429, "", time.Second, 0, false},
		{"429 zero", answer(429, "too.many.requests", rateMsg, ra("0")),
			ClassRateLimited, 429, "", time.Second, 0, false},
		{"429 negative", answer(429, "too.many.requests", rateMsg, ra("-5")),
			ClassRateLimited, 429, "", time.Second, 0, false},
		{"429 missing", answer(429, "too.many.requests", rateMsg, nil),
			ClassRateLimited, 429, "", time.Second, 0, false},
		{"429 garbage", answer(429, "too.many.requests", rateMsg, ra("soon")),
			ClassRateLimited, 429, "", time.Second, 0, false},
		{"429 huge", answer(429, "too.many.requests", rateMsg, ra("100000")),
			ClassRateLimited, 429, "", 180 * time.Second, 0, true},
		{"429 far date", answer(429, "too.many.requests", rateMsg, ra(far)),
			ClassRateLimited, 429, "", 180 * time.Second, 0, true},
		{"503 retry-after", answer(503, "service.unavailable", "busy", ra("9")),
			ClassRateLimited, 503, "service.unavailable", 9 * time.Second, 0, false},
		{"503 plain", answer(503, "service.unavailable", "busy", nil),
			ClassTransient, 503, "service.unavailable", 0, 0, false},
		{"409", answer(409, "general.conflict", "version 3 does not match 4", nil),
			ClassConflict, 409, "general.conflict", 0, 0, false},
		{"400 version", answer(400, "bad.request", "The version supplied does not match", nil),
			ClassConflict, 400, "bad.request", 0, 0, false},
		{"400 other", answer(400, "invalid.value", "title too long", nil),
			ClassInvalid, 400, "invalid.value", 0, 0, false},
		{"404", answer(404, "not.found", "user not found", nil),
			ClassNotFound, 404, "not.found", 0, 0, false},
		{"403", answer(403, "missing.permissions", "no directory:user:edit", nil),
			ClassForbidden, 403, "missing.permissions", 0, 0, false},
		{"413", answer(413, "payload.too.large", "too big", nil),
			ClassInvalid, 413, "payload.too.large", 0, 0, false},
		{"415", answer(415, "unsupported.media.type", "json only", nil),
			ClassInvalid, 415, "unsupported.media.type", 0, 0, false},
		{"422", answer(422, "invalid.value", "bad", nil),
			ClassInvalid, 422, "invalid.value", 0, 0, false},
		{"500", answer(500, "internal.server.error", "oops", nil),
			ClassTransient, 500, "internal.server.error", 0, 0, false},
		{"502", answer(502, "bad.gateway", "oops", nil), ClassTransient, 502, "", 0, 0, false},
		{"504", answer(504, "request.timeout", "slow", nil), ClassTransient, 504, "", 0, 0, false},
		{"408", answer(408, "request.timeout", "slow", nil), ClassTransient, 408, "", 0, 0, false},
		{"501", answer(501, "not.implemented", "no", nil), ClassInvalid, 501, "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newFake(t, tt.h).client(Config{})

			_, meta, err := c.GetUser(context.Background(), "u1")
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.class, e.Class, e.Error())
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.status, meta.Status)
			require.Equal(t, "get user", e.Op)
			require.NotEmpty(t, e.CorrelationID)
			require.Equal(t, e.CorrelationID, meta.CorrelationID)
			if tt.code != "" {
				require.Equal(t, tt.code, e.Code)
			}
			if tt.wait != 0 {
				require.InDelta(t, float64(tt.wait), float64(e.RetryAfter), float64(tt.slack))
			}
			require.Equal(t, tt.capped, e.RetryCapped)
		})
	}
}

func TestClassify_MaxRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFake(t, answer(429, "too.many.requests", "slow down", map[string]string{
		"Retry-After": "61",
	}))
	c := f.client(Config{MaxRetryAfter: time.Minute})

	_, _, err := c.GetUser(context.Background(), "u1")
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, time.Minute, e.RetryAfter)
	require.True(t, e.RetryCapped)
	require.Equal(t, int64(1), c.Stats().RetryCapped)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		capped bool
	}{
		{"", time.Second, false},
		{"1", time.Second, false},
		{"30", 30 * time.Second, false},
		{"180", 180 * time.Second, false},
		{"181", 180 * time.Second, true},
		{"9223372036854775807", 180 * time.Second, true},
		{"-1", time.Second, false},
		{"1.5", time.Second, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, false},
		{now.Add(-90 * time.Second).Format(http.TimeFormat), time.Second, false},
		{now.Add(time.Hour).Format(http.TimeFormat), 180 * time.Second, true},
		{now.Add(2 * time.Second).Format(time.RFC850), 2 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, capped := parseRetryAfter(tt.in, 180*time.Second, now)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.capped, capped)
		})
	}
}

func TestClassify_Transport(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, h http.HandlerFunc, cfg Config) *Error {
		t.Helper()
		c := newFake(t, h).client(cfg)
		_, _, err := c.GetUser(context.Background(), "u1")
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, ClassTransient, e.Class, e.Error())
		return e
	}

	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		e := run(t, func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.(*net.TCPConn).SetLinger(0)
				_ = conn.Close()
			}
		}, Config{})
		require.Zero(t, e.Status)
		require.Error(t, e.Err)
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		e := run(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}, Config{Timeout: 20 * time.Millisecond})
		var ne net.Error
		require.ErrorAs(t, e, &ne)
		require.True(t, ne.Timeout())
	})
	t.Run("truncated", func(t *testing.T) {
		t.Parallel()
		e := run(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.Header().Set(headerCorrelation, "cid-trunc")
			_, _ = w.Write([]byte(`{"id":"u1","na`))
		}, Config{})
		require.Equal(t, 200, e.Status)
		require.Equal(t, "cid-trunc", e.CorrelationID)
	})
	t.Run("undecodable", func(t *testing.T) {
		t.Parallel()
		e := run(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`<html>gateway</html>`))
		}, Config{})
		require.Equal(t, 200, e.Status)
		require.Contains(t, e.Error(), "decode answer")
	})
}

func TestClassify_ContextCancel(t *testing.T) {
	t.Parallel()
	c := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, User{ID: "u1"})
	}).client(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, _, err := c.GetUser(ctx, "u1")
	require.ErrorIs(t, err, context.Canceled)
}

func TestClassOfStatus_Unlisted(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]Class{
		405: ClassInvalid, 410: ClassInvalid, 505: ClassTransient, 599: ClassTransient,
	} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			require.Equal(t, want, classOfStatus(status, "", ""))
		})
	}
	require.Equal(t, ClassTransient, ClassOf(errors.New("x")))
	wrapped := fmt.Errorf("wrap: %w", transportError("op", 0, "", errors.New("eof")))
	require.Equal(t, ClassTransient, ClassOf(wrapped))
}
