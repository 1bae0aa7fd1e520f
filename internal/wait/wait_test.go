package wait

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSleep(t *testing.T) {
	t.Run("waits d", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			require.NoError(t, Sleep(context.Background(), 3*time.Second))
			require.Equal(t, 3*time.Second, time.Since(start))
		})
	})
	t.Run("ctx ends first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			require.ErrorIs(t, Sleep(ctx, time.Hour), context.DeadlineExceeded)
			require.Equal(t, time.Second, time.Since(start))
		})
	})
	t.Run("no wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			require.NoError(t, Sleep(context.Background(), 0))
			require.NoError(t, Sleep(context.Background(), -time.Second))
			require.Zero(t, time.Since(start))

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.ErrorIs(t, Sleep(ctx, 0), context.Canceled)
			require.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
			require.Zero(t, time.Since(start))
		})
	})
}
