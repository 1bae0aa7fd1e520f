package scheduler

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
)

func TestRetryCall(t *testing.T) {
	auth := &genesys.Error{Class: genesys.ClassAuth, Status: 401}
	invalid := &genesys.Error{Class: genesys.ClassInvalid, Status: 400}
	tr := transient()
	park := &ParkError{} // Until is set in the bubble, a minute ahead
	cases := []struct {
		name    string
		fails   []error // returned by the first calls, in order
		calls   int
		sent    int64
		wantErr error // nil: the call succeeds
	}{
		{"first try", nil, 1, 1, nil},
		{"transient then ok", []error{transient(), rateLimited(0, false)}, 3, 3, nil},
		{"pause not counted", []error{park}, 2, 1, nil},
		{"auth stops", []error{auth}, 1, 1, ErrAuth},
		{"refused at once", []error{invalid}, 1, 1, invalid},
		{"attempts spent", []error{tr, tr, tr, tr}, 3, 3, tr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := setup(t, Config{MaxAttempts: 3}, 0, nil).s
				park.Until = time.Now().Add(time.Minute)
				start := time.Now()
				var sent atomic.Int64
				calls := 0
				out, err := retryCall(context.Background(), s, "read users", &sent,
					func() (int, error) {
						calls++
						if calls <= len(tc.fails) {
							return 0, tc.fails[calls-1]
						}
						return 42, nil
					})
				require.Equal(t, tc.calls, calls)
				require.Equal(t, tc.sent, sent.Load())
				if tc.fails != nil && tc.fails[0] == park {
					require.Equal(t, time.Minute, time.Since(start), "the pause waited out")
				}
				if tc.wantErr == nil {
					require.NoError(t, err)
					require.Equal(t, 42, out)
					return
				}
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorContains(t, err, "read users: ")
			})
		})
	}
}
