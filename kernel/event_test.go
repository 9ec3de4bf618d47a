package kernel_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func waitAsync(ctx context.Context, e *kernel.KEvent) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- e.Wait(ctx) }()
	return ch
}

func TestEventManualReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := kernel.NewEvent(true, false)
		require.False(t, e.Signaled())
		a, b := waitAsync(context.Background(), e), waitAsync(context.Background(), e)
		synctest.Wait()
		require.Empty(t, a)
		require.Empty(t, b)

		e.Set()
		require.NoError(t, <-a)
		require.NoError(t, <-b)
		// A manual-reset event stays signalled: later waits return at once.
		require.True(t, e.Signaled())
		require.NoError(t, e.Wait(context.Background()))
		require.True(t, e.Signaled())
		e.Set() // setting a set event changes nothing
		require.True(t, e.Signaled())

		e.Reset()
		require.False(t, e.Signaled())
		c := waitAsync(context.Background(), e)
		synctest.Wait()
		require.Empty(t, c)
		e.Reset() // resetting a clear event changes nothing
		e.Set()
		require.NoError(t, <-c)
	})
}

func TestEventAutoReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := kernel.NewEvent(false, false)
		a, b := waitAsync(context.Background(), e), waitAsync(context.Background(), e)
		synctest.Wait()

		// One Set releases exactly one waiter and is consumed.
		e.Set()
		synctest.Wait()
		require.Equal(t, 1, len(a)+len(b))
		require.False(t, e.Signaled())
		e.Set()
		synctest.Wait()
		require.Equal(t, 2, len(a)+len(b))
		require.NoError(t, <-a)
		require.NoError(t, <-b)

		// A Set with no waiter stays until one Wait consumes it.
		e.Set()
		require.True(t, e.Signaled())
		require.NoError(t, e.Wait(context.Background()))
		require.False(t, e.Signaled())
		c := waitAsync(context.Background(), e)
		synctest.Wait()
		require.Empty(t, c)
		e.Set()
		require.NoError(t, <-c)

		// Reset clears a pending signal.
		e.Set()
		e.Reset()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, e.Wait(ctx), context.DeadlineExceeded)
	})
}

func TestEventInitialState(t *testing.T) {
	for _, manual := range []bool{true, false} {
		e := kernel.NewEvent(manual, true)
		require.True(t, e.Signaled())
		require.NoError(t, e.Wait(context.Background()))
		require.Equal(t, manual, e.Signaled(), "manual=%v", manual)
	}
}

func TestEventWaitContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := kernel.NewEvent(true, false)
		ctx, cancel := context.WithCancel(context.Background())
		r := waitAsync(ctx, e)
		synctest.Wait()
		require.Empty(t, r)
		cancel()
		require.ErrorIs(t, <-r, context.Canceled)

		start := time.Now()
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		require.ErrorIs(t, e.Wait(dctx), context.DeadlineExceeded)
		require.Equal(t, 5*time.Second, time.Since(start))

		// A signalled event wins over a cancelled context.
		e.Set()
		require.NoError(t, e.Wait(ctx))

		//lint:ignore SA1012 a nil ctx is bad input that must not panic
		require.Equal(t, error(kernel.STATUS_INVALID_PARAMETER), e.Wait(nil))
	})
}

func TestEventZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var e kernel.KEvent // a non-signalled auto-reset event
		require.False(t, e.Signaled())
		r := waitAsync(context.Background(), &e)
		synctest.Wait()
		require.Empty(t, r)
		e.Set()
		require.NoError(t, <-r)
		require.False(t, e.Signaled(), "auto-reset")

		var e2 kernel.KEvent
		e2.Reset()
		e2.Set()
		require.True(t, e2.Signaled())
	})
}
