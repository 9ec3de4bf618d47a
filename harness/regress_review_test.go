package harness_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// blockedMessageDriver is a test driver whose MessageNotify blocks until release is closed,
// and which records whether DisconnectNotify ever ran while a MessageNotify was in flight (a
// real driver would free its cookie there).
type blockedMessageDriver struct {
	*testdriver.Driver
	entered, release chan struct{}
	inFlight         atomic.Int32
	overlapped       atomic.Bool
}

func newBlockedMessageDriver() *blockedMessageDriver {
	b := &blockedMessageDriver{entered: make(chan struct{}), release: make(chan struct{})}
	b.Driver = &testdriver.Driver{
		OnMessage: func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			b.inFlight.Add(1)
			close(b.entered)
			<-b.release
			b.inFlight.Add(-1)
			return 0, kernel.STATUS_SUCCESS
		},
		OnDisconnect: func(context.Context, *testdriver.Conn) {
			if b.inFlight.Load() > 0 {
				b.overlapped.Store(true)
			}
		},
	}
	return b
}

// R-CB-2 (rev 2), R-CB-3: DisconnectNotify after a user close never overlaps a MessageNotify of
// the same connection: the closing thread waits for the port's message run-down, then runs
// DisconnectNotify itself, and CloseHandle returns after it.
func TestRegressionDisconnectNotifyOverlapsMessageNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newBlockedMessageDriver()
		w, _ := load(t, d.Driver)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		done := make(chan kernel.HRESULT, 1)
		go func() { done <- p.FilterSendMessage(h, []byte("x"), make([]byte, 4), nil) }()
		<-d.entered
		var closer string
		d.Driver.OnDisconnect = func(context.Context, *testdriver.Conn) {
			closer = goid()
			if d.inFlight.Load() > 0 {
				d.overlapped.Store(true)
			}
		}
		closed := make(chan error, 1)
		var closing string
		go func() {
			closing = goid()
			closed <- p.CloseHandle(h)
		}()
		requireBlocked(t, closed) // CloseHandle waits for the running MessageNotify
		require.Equal(t, int32(0), d.Disconnects.Load(), "DisconnectNotify must wait for the running MessageNotify")
		close(d.release)
		require.Equal(t, kernel.S_OK, <-done)
		require.NoError(t, <-closed)
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.Equal(t, closing, closer, "DisconnectNotify runs on the closing thread")
		require.False(t, d.overlapped.Load(), "DisconnectNotify ran while MessageNotify of the same connection was in flight")
	})
}

// R-UNLOAD-5: at unload too, a connection's running MessageNotify returns before its
// DisconnectNotify is called, and the unload waits for it. Found in review.
func TestRegressionUnloadDisconnectNotifyOverlapsMessageNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newBlockedMessageDriver()
		w, _ := load(t, d.Driver)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		go func() { _ = p.FilterSendMessage(h, []byte("x"), make([]byte, 4), nil) }()
		<-d.entered
		unloaded := make(chan error, 1)
		go func() { unloaded <- w.Unload("test") }()
		synctest.Wait()
		require.Equal(t, int32(0), d.Disconnects.Load(), "the unload must wait for the running MessageNotify")
		close(d.release)
		require.NoError(t, <-unloaded)
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.False(t, d.overlapped.Load(), "unload: DisconnectNotify ran while MessageNotify was in flight")
		_ = p.CloseHandle(h)
	})
}

// Conn.Close racing Receive, while a duplicate keeps the connection open, makes Receive return
// ErrClosed. Found in review: the Get queued after Close's cancellation and Receive hung, even
// after its ctx expired (its CancelIoEx went through the closed handle).
func TestRegressionConnCloseRaceReceiveHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := load(t, &testdriver.Driver{MaxConnections: 1})
		p := adminProc(w, "svc.exe")
		q := adminProc(w, "other.exe")
		c, err := fltlib.Dial(context.Background(), p, testPort, nil)
		require.NoError(t, err)
		dup, err := p.DuplicateHandle(c.Handle(), q, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.NoError(t, err)
		defer func() { require.NoError(t, q.CloseHandle(dup)) }()
		var once atomic.Bool
		// The predicate runs between the handle lookup and the queuing of the Get: exactly the
		// window a concurrent Close can hit.
		require.NoError(t, w.Faults().FailIf(harness.RoutineFilterGetMessage, kernel.STATUS_UNSUCCESSFUL, func(harness.FaultCall) bool {
			if once.CompareAndSwap(false, true) {
				_ = c.Close()
			}
			return false
		}))
		res := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.Receive(ctx)
			res <- err
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case err := <-res:
			require.ErrorIs(t, err, fltlib.ErrClosed)
		default:
			t.Errorf("Receive still blocked one minute after its 1s ctx expired and Close returned")
			w.Faults().Clear()
			p.Exit(0) // unblocks it (Exit cancels p's Gets)
			<-res
		}
	})
}

// On a synchronous-handle Conn, one Receive's ctx cancellation cancels only its own Get.
// Found in review: it cancelled every Receive of the Conn (CancelIoEx(h, nil)).
func TestRegressionSyncConnCancelHitsOtherReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := load(t, nil)
		p := adminProc(w, "svc.exe")
		c, err := fltlib.Dial(context.Background(), p, testPort, &fltlib.DialOptions{SyncHandle: true})
		require.NoError(t, err)
		ctx1, cancel1 := context.WithCancel(context.Background())
		r1 := make(chan error, 1)
		r2 := make(chan error, 1)
		go func() { _, err := c.Receive(ctx1); r1 <- err }()
		go func() { _, err := c.Receive(context.Background()); r2 <- err }()
		synctest.Wait()
		cancel1()
		synctest.Wait()
		require.ErrorIs(t, <-r1, context.Canceled)
		select {
		case err := <-r2:
			t.Errorf("the other Receive (ctx never cancelled) returned %v", err)
			require.NoError(t, c.Close())
		default:
			require.NoError(t, c.Close())
			<-r2
		}
	})
}

// R-USER (process exit): a message sent while a process exits (here from DisconnectNotify) never
// lands in that process's Gets. Found in review: Exit closed the handles, running driver code,
// before it cancelled the Gets on connections kept alive by duplicates.
func TestRegressionExitDeliversToDeadProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d *testdriver.Driver
		var sent atomic.Int32
		var sendSt kernel.NTSTATUS
		d = &testdriver.Driver{MaxConnections: 2, OnDisconnect: func(_ context.Context, c *testdriver.Conn) {
			if c == d.Conn(0) && sent.CompareAndSwap(0, 1) {
				sendSt, _ = d.Send(context.Background(), d.Conn(1), []byte("hello"), nil, driverapi.NoWait())
			}
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		q := adminProc(w, "other.exe")
		hA := connect(t, p)
		hB := connect(t, p)
		require.Less(t, hA, hB)
		hQ, err := p.DuplicateHandle(hB, q, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.NoError(t, err)
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(hB, make([]byte, 64), ov))
		p.Exit(0)
		st, n := ov.Result()
		t.Logf("send status %v; dead process's Get: %v, %d bytes", sendSt, st, n)
		require.NotEqual(t, kernel.STATUS_SUCCESS, st, "a message was delivered into the Get of an exited process")
		_ = q.CloseHandle(hQ)
	})
}
