package fltlib

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCloseOnce(t *testing.T) {
	var closes atomic.Int32
	errClose := errors.New("close failed")
	c := &closeOnce{close: func() error { closes.Add(1); return errClose }}
	require.True(t, c.acquire())
	require.True(t, c.acquire())
	require.False(t, c.finished())
	first, err := c.finish()
	require.True(t, first)
	require.NoError(t, err)
	require.True(t, c.finished())
	require.Equal(t, int32(0), closes.Load(), "closed under a user")
	require.False(t, c.acquire(), "a use after finish")
	require.NoError(t, c.release())
	require.Equal(t, int32(0), closes.Load())
	require.ErrorIs(t, c.release(), errClose, "the last release closes and says how it went")
	require.Equal(t, int32(1), closes.Load())
	first, err = c.finish()
	require.False(t, first)
	require.NoError(t, err)
	require.Equal(t, int32(1), closes.Load(), "closed twice")

	d := &closeOnce{close: func() error { closes.Add(1); return nil }}
	_, _ = d.finish()
	_, _ = d.finish()
	require.Equal(t, int32(2), closes.Load())
}

// Users and finishers racing: the handle is closed exactly once and never while a user
// holds it.
func TestCloseOnceRace(t *testing.T) {
	for range 100 {
		var closes, inside atomic.Int32
		c := &closeOnce{}
		c.close = func() error {
			require.Equal(t, int32(0), inside.Load())
			closes.Add(1)
			return nil
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if c.acquire() {
					inside.Add(1)
					inside.Add(-1)
					_ = c.release()
				}
			})
		}
		wg.Go(func() { _, _ = c.finish() })
		wg.Go(func() { _, _ = c.finish() })
		wg.Wait()
		require.Equal(t, int32(1), closes.Load())
	}
}
