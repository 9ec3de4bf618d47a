package fltlib

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCloseOnce(t *testing.T) {
	var closes atomic.Int32
	c := &closeOnce{close: func() { closes.Add(1) }}
	require.True(t, c.acquire())
	require.True(t, c.acquire())
	c.finish()
	require.Equal(t, int32(0), closes.Load(), "closed under a waiter")
	require.False(t, c.acquire(), "a wait after finish")
	c.release()
	require.Equal(t, int32(0), closes.Load())
	c.release()
	require.Equal(t, int32(1), closes.Load())
	c.finish()
	require.Equal(t, int32(1), closes.Load(), "closed twice")

	d := &closeOnce{close: func() { closes.Add(1) }}
	d.finish()
	d.finish()
	require.Equal(t, int32(2), closes.Load())
}

// Waiters and finishers racing: the handle is closed exactly once and never while a waiter
// holds it.
func TestCloseOnceRace(t *testing.T) {
	for range 100 {
		var closes, inside atomic.Int32
		c := &closeOnce{}
		c.close = func() {
			require.Equal(t, int32(0), inside.Load())
			closes.Add(1)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if c.acquire() {
					inside.Add(1)
					inside.Add(-1)
					c.release()
				}
			})
		}
		wg.Go(c.finish)
		wg.Go(c.finish)
		wg.Wait()
		require.Equal(t, int32(1), closes.Load())
	}
}
