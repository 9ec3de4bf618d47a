package kernel_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

type removeResult struct {
	pkt kernel.CompletionPacket
	st  kernel.NTSTATUS
	at  time.Duration // fake time elapsed when Remove returned
}

// removeAsync starts a Remove on its own goroutine and returns the channel of its result.
func removeAsync(ctx context.Context, c *kernel.CompletionPort, timeout time.Duration) <-chan removeResult {
	ch := make(chan removeResult, 1)
	start := time.Now()
	go func() {
		pkt, st := c.Remove(ctx, timeout)
		ch <- removeResult{pkt, st, time.Since(start)}
	}()
	return ch
}

// R-IOCP: packets come out in the order they were queued.
func TestCompletionPortFIFO(t *testing.T) {
	c := kernel.NewCompletionPort()
	for i := range 5 {
		require.Equal(t, kernel.STATUS_SUCCESS, c.Post(kernel.CompletionPacket{Key: uintptr(i), Bytes: uint32(10 * i), Status: kernel.STATUS_SUCCESS}))
	}
	require.Equal(t, 5, c.Len())
	for i := range 5 {
		pkt, st := c.Remove(context.Background(), 0)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, uintptr(i), pkt.Key)
		require.Equal(t, uint32(10*i), pkt.Bytes)
	}
	require.Equal(t, 0, c.Len())
	// Interleaved posts and removes keep the order.
	c.Post(kernel.CompletionPacket{Key: 1})
	c.Post(kernel.CompletionPacket{Key: 2})
	pkt, _ := c.Remove(context.Background(), 0)
	require.Equal(t, uintptr(1), pkt.Key)
	c.Post(kernel.CompletionPacket{Key: 3, Status: kernel.STATUS_CANCELLED, Overlapped: "ov"})
	pkt, _ = c.Remove(context.Background(), 0)
	require.Equal(t, uintptr(2), pkt.Key)
	pkt, st := c.Remove(context.Background(), 0)
	require.Equal(t, kernel.STATUS_SUCCESS, st, "Remove succeeds; the request's own status is in the packet")
	require.Equal(t, kernel.CompletionPacket{Key: 3, Status: kernel.STATUS_CANCELLED, Overlapped: "ov"}, pkt)
}

// R-IOCP: a zero timeout does not wait.
func TestCompletionPortZeroTimeout(t *testing.T) {
	c := kernel.NewCompletionPort()
	pkt, st := c.Remove(context.Background(), 0)
	require.Equal(t, kernel.STATUS_TIMEOUT, st)
	require.Equal(t, kernel.CompletionPacket{}, pkt)
	// The zero value works as a port too.
	var z kernel.CompletionPort
	_, st = z.Remove(context.Background(), 0)
	require.Equal(t, kernel.STATUS_TIMEOUT, st)
	require.Equal(t, kernel.STATUS_SUCCESS, z.Post(kernel.CompletionPacket{Key: 9}))
	pkt, st = z.Remove(context.Background(), 0)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, uintptr(9), pkt.Key)
}

// R-IOCP: a timeout returns STATUS_TIMEOUT (WAIT_TIMEOUT for the user) after exactly the
// time given, in fake time.
func TestCompletionPortTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := kernel.NewCompletionPort()
		r := removeAsync(context.Background(), c, 30*time.Second)
		synctest.Wait()
		select {
		case <-r:
			t.Fatal("Remove returned before its timeout")
		default:
		}
		time.Sleep(30*time.Second - time.Nanosecond)
		synctest.Wait()
		require.Empty(t, r)
		time.Sleep(time.Nanosecond)
		res := <-r
		require.Equal(t, kernel.STATUS_TIMEOUT, res.st)
		require.Equal(t, 30*time.Second, res.at)
		require.Equal(t, kernel.CompletionPacket{}, res.pkt)

		// The timed-out waiter is gone: a later packet is queued, not handed to it.
		require.Equal(t, kernel.STATUS_SUCCESS, c.Post(kernel.CompletionPacket{Key: 1}))
		require.Equal(t, 1, c.Len())
	})
}

// A negative timeout waits forever; a packet ends the wait.
func TestCompletionPortInfinite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := kernel.NewCompletionPort()
		r := removeAsync(context.Background(), c, -1)
		time.Sleep(1000 * time.Hour)
		synctest.Wait()
		require.Empty(t, r)
		c.Post(kernel.CompletionPacket{Key: 5, Bytes: 21})
		res := <-r
		require.Equal(t, kernel.STATUS_SUCCESS, res.st)
		require.Equal(t, uintptr(5), res.pkt.Key)
		require.Equal(t, uint32(21), res.pkt.Bytes)
	})
}

// Blocked waiters are released last-in first-out, as on Windows.
func TestCompletionPortLIFOWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := kernel.NewCompletionPort()
		first := removeAsync(context.Background(), c, -1)
		synctest.Wait()
		second := removeAsync(context.Background(), c, -1)
		synctest.Wait()
		third := removeAsync(context.Background(), c, -1)
		synctest.Wait()

		c.Post(kernel.CompletionPacket{Key: 1})
		synctest.Wait()
		require.Empty(t, first)
		require.Empty(t, second)
		require.Equal(t, uintptr(1), (<-third).pkt.Key)

		c.Post(kernel.CompletionPacket{Key: 2})
		synctest.Wait()
		require.Empty(t, first)
		require.Equal(t, uintptr(2), (<-second).pkt.Key)

		c.Post(kernel.CompletionPacket{Key: 3})
		require.Equal(t, uintptr(3), (<-first).pkt.Key)
		require.Equal(t, 0, c.Len())
	})
}

// R-IOCP: closing the port wakes its waiters with STATUS_ABANDONED_WAIT_0
// (ERROR_ABANDONED_WAIT_0 for the user) and drops queued packets; later calls fail.
func TestCompletionPortClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := kernel.NewCompletionPort()
		a := removeAsync(context.Background(), c, -1)
		b := removeAsync(context.Background(), c, time.Hour)
		synctest.Wait()
		require.False(t, c.Closed())
		require.Equal(t, 0, c.Close())
		require.True(t, c.Closed())
		ra, rb := <-a, <-b
		require.Equal(t, kernel.STATUS_ABANDONED_WAIT_0, ra.st)
		require.Equal(t, kernel.STATUS_ABANDONED_WAIT_0, rb.st)
		require.Zero(t, ra.at, "woken at once")

		_, st := c.Remove(context.Background(), -1)
		require.Equal(t, kernel.STATUS_ABANDONED_WAIT_0, st)
		_, st = c.Remove(context.Background(), 0)
		require.Equal(t, kernel.STATUS_ABANDONED_WAIT_0, st)
		require.Equal(t, kernel.STATUS_INVALID_HANDLE, c.Post(kernel.CompletionPacket{Key: 1}))
		require.Equal(t, 0, c.Len())
		require.Equal(t, 0, c.Close(), "closing twice does nothing")
	})

	c := kernel.NewCompletionPort()
	c.Post(kernel.CompletionPacket{Key: 1})
	c.Post(kernel.CompletionPacket{Key: 2})
	require.Equal(t, 2, c.Close(), "queued packets are dropped and counted")
	require.Equal(t, 0, c.Len())
	// The user-visible error of an abandoned wait.
	require.Equal(t, kernel.Win32Error(735), kernel.ERROR_ABANDONED_WAIT_0)
}

// A packet posted while a waiter's timeout fires is never lost: either the waiter gets it, or
// it stays queued for the next Remove. Both orders of the race are forced here.
func TestCompletionPortPacketDuringTimeoutNotLost(t *testing.T) {
	// Post at exactly the deadline, with the timer and the post racing in the same instant.
	synctest.Test(t, func(t *testing.T) {
		for i := range 50 {
			c := kernel.NewCompletionPort()
			r := removeAsync(context.Background(), c, time.Second)
			synctest.Wait()
			time.Sleep(time.Second)
			c.Post(kernel.CompletionPacket{Key: uintptr(i + 1)})
			res := <-r
			switch res.st {
			case kernel.STATUS_SUCCESS:
				require.Equal(t, uintptr(i+1), res.pkt.Key)
				require.Equal(t, 0, c.Len())
			case kernel.STATUS_TIMEOUT:
				pkt, st := c.Remove(context.Background(), 0)
				require.Equal(t, kernel.STATUS_SUCCESS, st, "the packet must still be queued")
				require.Equal(t, uintptr(i+1), pkt.Key)
			default:
				t.Fatalf("unexpected %v", res.st)
			}
		}
	})
	// Context cancellation racing with a post: same guarantee.
	synctest.Test(t, func(t *testing.T) {
		for i := range 50 {
			c := kernel.NewCompletionPort()
			ctx, cancel := context.WithCancel(context.Background())
			r := removeAsync(ctx, c, -1)
			synctest.Wait()
			go cancel()
			c.Post(kernel.CompletionPacket{Key: uintptr(i + 1)})
			res := <-r
			cancel()
			switch res.st {
			case kernel.STATUS_SUCCESS:
				require.Equal(t, uintptr(i+1), res.pkt.Key)
			case kernel.STATUS_CANCELLED:
				pkt, st := c.Remove(context.Background(), 0)
				require.Equal(t, kernel.STATUS_SUCCESS, st, "the packet must still be queued")
				require.Equal(t, uintptr(i+1), pkt.Key)
			default:
				t.Fatalf("unexpected %v", res.st)
			}
		}
	})
}

// Many waiters and posters: every packet is received exactly once.
func TestCompletionPortNoLossUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := kernel.NewCompletionPort()
		const n = 200
		got := make(chan uintptr, n)
		for range 8 {
			go func() {
				for {
					pkt, st := c.Remove(context.Background(), time.Millisecond)
					switch st {
					case kernel.STATUS_SUCCESS:
						got <- pkt.Key
					case kernel.STATUS_TIMEOUT:
					default:
						return // abandoned: the port closed
					}
				}
			}()
		}
		for i := range n {
			c.Post(kernel.CompletionPacket{Key: uintptr(i)})
			if i%7 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		seen := make(map[uintptr]bool)
		for range n {
			k := <-got
			require.False(t, seen[k], "packet %d twice", k)
			seen[k] = true
		}
		require.Equal(t, 0, c.Close())
		synctest.Wait()
	})
}

func TestCompletionPortContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := kernel.NewCompletionPort()
		ctx, cancel := context.WithCancel(context.Background())
		r := removeAsync(ctx, c, -1)
		synctest.Wait()
		cancel()
		require.Equal(t, kernel.STATUS_CANCELLED, (<-r).st)

		// An already cancelled ctx still gets a queued packet, and cancels a wait at once.
		c.Post(kernel.CompletionPacket{Key: 1})
		pkt, st := c.Remove(ctx, -1)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, uintptr(1), pkt.Key)
		_, st = c.Remove(ctx, time.Hour)
		require.Equal(t, kernel.STATUS_CANCELLED, st)

		// A deadline on the ctx ends the wait like the timeout does, with its own status.
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		r = removeAsync(dctx, c, time.Hour)
		res := <-r
		require.Equal(t, kernel.STATUS_CANCELLED, res.st)
		require.Equal(t, time.Minute, res.at)

		//lint:ignore SA1012 a nil ctx is bad input that must not panic
		_, st = c.Remove(nil, 0)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	})
}
