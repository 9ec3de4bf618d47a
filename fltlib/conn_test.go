package fltlib_test

import (
	"context"
	"errors"
	"net"
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

func loadTestDriver(t *testing.T, d *testdriver.Driver) *harness.World {
	t.Helper()
	w := harness.New(t)
	require.NoError(t, w.Load("test", d))
	return w
}

// dialTestPort loads d and connects a service process to its port with Dial.
func dialTestPort(t *testing.T, d *testdriver.Driver) (*harness.World, *harness.Process, *fltlib.Conn) {
	t.Helper()
	w := loadTestDriver(t, d)
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, err := fltlib.Dial(context.Background(), p, `\TestPort`, nil)
	require.NoError(t, err)
	return w, p, c
}

func TestClientDialReceiveReply(t *testing.T) {
	d := &testdriver.Driver{}
	w := loadTestDriver(t, d)
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, err := fltlib.Dial(context.Background(), p, `\TestPort`, &fltlib.DialOptions{Context: []byte("ctx")})
	require.NoError(t, err)
	require.Equal(t, []byte("ctx"), d.Conn(0).Context)

	type res struct {
		st kernel.NTSTATUS
		n  uint32
	}
	done := make(chan res, 1)
	reply := make([]byte, 4)
	go func() {
		st, n := d.Send(context.Background(), d.Conn(0), []byte("question"), reply, nil)
		done <- res{st, n}
	}()
	m, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), m.ID) // R-SEND-7
	require.True(t, m.WantsReply())
	require.Equal(t, 4, m.ReplyCapacity)
	require.Equal(t, "question", string(m.Payload))
	require.NoError(t, c.Reply(m, kernel.STATUS_ACCESS_DENIED, []byte("no")))
	r := <-done
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, r.st) // R-SEND-8: the user's status, whatever it is
	require.Equal(t, "no", string(reply[:r.n]))

	// A second reply to the same message has no waiter (R-USER Reply 2).
	err = c.Reply(m, kernel.STATUS_SUCCESS, nil)
	require.ErrorIs(t, err, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY)

	out := make([]byte, 8)
	n, err := c.Send(context.Background(), []byte("echo"), out)
	require.NoError(t, err)
	require.Equal(t, "echo", string(out[:n]))
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), fltlib.ErrClosed)
	require.Equal(t, int32(1), d.Disconnects.Load())
}

func TestClientDialErrors(t *testing.T) {
	d := &testdriver.Driver{}
	w := loadTestDriver(t, d)
	user := w.NewProcess("user.exe", kernel.TokenStandardUser())
	_, err := fltlib.Dial(context.Background(), user, `\TestPort`, nil)
	require.ErrorIs(t, err, kernel.E_ACCESSDENIED) // R-MODEL-2
	require.ErrorIs(t, err, kernel.ERROR_ACCESS_DENIED)
	var oe *fltlib.OpError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, "dial", oe.Op)
	require.Equal(t, int32(0), d.Connects.Load())

	admin := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, err = fltlib.Dial(context.Background(), admin, `\NoSuchPort`, nil)
	require.ErrorIs(t, err, kernel.ERROR_FILE_NOT_FOUND)
	// errors.As gives the exact HRESULT, as Dial's doc comment says (R-USER connect 5).
	var hr kernel.HRESULT
	require.True(t, errors.As(err, &hr))
	require.Equal(t, kernel.HRESULT(0x80070002), hr)

	// The port's MaxConnections (1) is taken: HRESULT_FROM_WIN32(ERROR_CONNECTION_COUNT_LIMIT).
	first, err := fltlib.Dial(context.Background(), admin, `\TestPort`, nil)
	require.NoError(t, err)
	_, err = fltlib.Dial(context.Background(), admin, `\TestPort`, nil)
	require.True(t, errors.As(err, &hr))
	require.Equal(t, kernel.HRESULT(0x800704D6), hr)
	require.NoError(t, first.Close())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = fltlib.Dial(ctx, admin, `\TestPort`, nil)
	require.ErrorIs(t, err, context.Canceled)

	_, err = fltlib.Dial(context.Background(), admin, `\TestPort`, &fltlib.DialOptions{MaxMessageSize: -1})
	require.ErrorIs(t, err, kernel.E_INVALIDARG)
	_, err = fltlib.Dial(context.Background(), nil, `\TestPort`, nil)
	require.ErrorIs(t, err, kernel.E_INVALIDARG)
}

func TestClientCloseUnblocksReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, syncHandle := range []bool{false, true} {
			d := &testdriver.Driver{}
			w := loadTestDriver(t, d)
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			c, err := fltlib.Dial(context.Background(), p, `\TestPort`, &fltlib.DialOptions{SyncHandle: syncHandle})
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Receive(context.Background())
				errc <- err
			}()
			synctest.Wait() // the Receive is blocked in its Get
			require.NoError(t, c.Close())
			require.ErrorIs(t, <-errc, fltlib.ErrClosed)
			_, err = c.Receive(context.Background())
			require.ErrorIs(t, err, fltlib.ErrClosed)
		}
	})
}

func TestClientReceiveContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, syncHandle := range []bool{false, true} {
			d := &testdriver.Driver{}
			w := loadTestDriver(t, d)
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			c, err := fltlib.Dial(context.Background(), p, `\TestPort`, &fltlib.DialOptions{SyncHandle: syncHandle})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := c.Receive(ctx)
				errc <- err
			}()
			synctest.Wait() // the Receive is blocked in its Get
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled)
			require.NoError(t, c.Close())
		}
	})
}

// Close racing Receive ends the Receive with ErrClosed, even while a duplicate handle keeps the
// connection open and the Get is queued after Close already cancelled the Conn's requests: the
// Receive cannot rely on its ctx either, since its CancelIoEx goes through the closed handle.
func TestClientCloseRacingReceiveEndsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := loadTestDriver(t, &testdriver.Driver{MaxConnections: 1})
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		q := w.NewProcess("other.exe", kernel.TokenAdmin())
		c, err := fltlib.Dial(context.Background(), p, `\TestPort`, nil)
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

// On a synchronous-handle Conn, one Receive's ctx cancellation cancels only its own Get, not
// the other Receives of the Conn (a per-thread CancelSynchronousIo, not CancelIoEx(h, nil)).
func TestClientSyncReceiveCancelIsPerReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := loadTestDriver(t, &testdriver.Driver{})
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		c, err := fltlib.Dial(context.Background(), p, `\TestPort`, &fltlib.DialOptions{SyncHandle: true})
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

// A message larger than Receive's buffer is not lost: Receive grows and asks again (R-SEND-4).
func TestClientReceiveGrows(t *testing.T) {
	d := &testdriver.Driver{}
	w := loadTestDriver(t, d)
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, err := fltlib.Dial(context.Background(), p, `\TestPort`, &fltlib.DialOptions{MaxMessageSize: 8})
	require.NoError(t, err)
	big := make([]byte, 1000)
	for i := range big {
		big[i] = byte(i)
	}
	done := make(chan kernel.NTSTATUS, 1)
	go func() {
		st, _ := d.Send(context.Background(), d.Conn(0), big, nil, nil)
		done <- st
	}()
	m, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Equal(t, big, m.Payload)
	require.False(t, m.WantsReply()) // R-SEND-6
	require.Equal(t, kernel.STATUS_SUCCESS, <-done)
	require.NoError(t, c.Close())
}

// Unload ends the connection: Receive fails with E_HANDLE, the samples' "filter unloading".
func TestClientReceiveUnload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &testdriver.Driver{}
		w, _, c := dialTestPort(t, d)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Receive(context.Background())
			errc <- err
		}()
		synctest.Wait() // the Receive is blocked in its Get
		require.NoError(t, w.Unload("test"))
		require.ErrorIs(t, <-errc, kernel.E_HANDLE) // R-UNLOAD-5
		_, err := c.Send(context.Background(), []byte("x"), nil)
		require.ErrorIs(t, err, kernel.E_HANDLE)
		require.NoError(t, c.Close())
	})
}

// The HRESULT of a failed Get reaches Receive unchanged: STATUS_INSUFFICIENT_RESOURCES is
// HRESULT_FROM_WIN32(ERROR_NO_SYSTEM_RESOURCES) 0x800705AA (R-HR), not a generic failure.
func TestClientReceiveKeepsTheGetHResult(t *testing.T) {
	for _, syncHandle := range []bool{false, true} {
		d := &testdriver.Driver{}
		w := loadTestDriver(t, d)
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		c, err := fltlib.Dial(context.Background(), p, `\TestPort`, &fltlib.DialOptions{SyncHandle: syncHandle})
		require.NoError(t, err)
		require.NoError(t, w.Faults().FailNth(harness.RoutineFilterGetMessage, 1, kernel.STATUS_INSUFFICIENT_RESOURCES))
		_, err = c.Receive(context.Background())
		require.ErrorIs(t, err, kernel.HRESULT(0x800705AA))
		require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_NO_SYSTEM_RESOURCES))
		var oe *fltlib.OpError
		require.True(t, errors.As(err, &oe))
		require.Equal(t, "receive", oe.Op)
		require.Equal(t, `\TestPort`, oe.Port)
		require.NoError(t, c.Close())
	}
}

// After Close every method fails with an OpError naming the operation and the port that wraps
// net.ErrClosed.
func TestClientClosedErrors(t *testing.T) {
	d := &testdriver.Driver{}
	_, _, c := dialTestPort(t, d)
	require.NoError(t, c.Close())
	_, errRecv := c.Receive(context.Background())
	_, errSend := c.Send(context.Background(), []byte("x"), nil)
	errReply := c.Reply(&fltlib.Message{ID: 1}, 0, nil)
	errClose := c.Close()
	for op, err := range map[string]error{"receive": errRecv, "send": errSend, "reply": errReply, "close": errClose} {
		require.ErrorIs(t, err, net.ErrClosed, op)
		var oe *fltlib.OpError
		require.True(t, errors.As(err, &oe), op)
		require.Equal(t, op, oe.Op)
		require.Equal(t, `\TestPort`, oe.Port)
	}
}

// CancelSynchronousIo cancels the synchronous Get one thread is blocked in, and only that one
// (R-USER Get 2: 0x800703E3); a thread that is not blocked has nothing to cancel
// (ERROR_NOT_FOUND); another process's thread is not a thread of this process.
func TestCancelSynchronousIo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &testdriver.Driver{MaxConnections: 2}
		w := loadTestDriver(t, d)
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		q := w.NewProcess("other.exe", kernel.TokenAdmin())
		for _, opt := range []uint32{0, driverapi.FLT_PORT_FLAG_SYNC_HANDLE} {
			h, hr := p.FilterConnectCommunicationPort(`\TestPort`, opt, nil, 0, nil)
			require.Equal(t, kernel.S_OK, hr)
			t1, t2 := p.NewThread(), p.NewThread()
			require.ErrorIs(t, p.CancelSynchronousIo(t1), kernel.ERROR_NOT_FOUND)
			require.ErrorIs(t, q.CancelSynchronousIo(t1), kernel.ERROR_INVALID_HANDLE)
			r1, r2 := make(chan kernel.HRESULT, 1), make(chan kernel.HRESULT, 1)
			buf2 := make([]byte, 64)
			go func() { r1 <- t1.FilterGetMessage(h, make([]byte, 64), nil) }()
			synctest.Wait()
			go func() { r2 <- t2.FilterGetMessage(h, buf2, nil) }()
			synctest.Wait()
			if opt == driverapi.FLT_PORT_FLAG_SYNC_HANDLE {
				// R-USER connect 3: on a synchronous handle t2 waits for t1's call to end
				// before its own Get is issued: there is nothing of t2's to cancel yet.
				require.ErrorIs(t, p.CancelSynchronousIo(t2), kernel.ERROR_NOT_FOUND)
			}
			require.NoError(t, p.CancelSynchronousIo(t1))
			require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED), <-r1)
			require.ErrorIs(t, p.CancelSynchronousIo(t1), kernel.ERROR_NOT_FOUND)
			synctest.Wait()
			require.Empty(t, r2, "the other thread's Get was cancelled too")
			st, _ := d.Send(context.Background(), d.Conn(len(d.Conns())-1), []byte("t2"), nil, nil)
			require.Equal(t, kernel.STATUS_SUCCESS, st)
			require.Equal(t, kernel.S_OK, <-r2)
			require.Equal(t, "t2", string(buf2[driverapi.FilterMessageHeaderSize:18]))
			require.NoError(t, p.CloseHandle(h))
		}
	})
}

// A ctx already done is an error wrapping it, never a hang, and a Send whose ctx is done
// does not reach the driver; a nil message or an empty input is E_INVALIDARG.
func TestClientBadInput(t *testing.T) {
	d := &testdriver.Driver{}
	_, _, c := dialTestPort(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Send(ctx, []byte("x"), make([]byte, 4))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int32(0), d.Messages.Load())
	_, err = c.Receive(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, c.Reply(nil, kernel.STATUS_SUCCESS, nil), kernel.E_INVALIDARG)
	_, err = c.Send(context.Background(), nil, nil)
	require.ErrorIs(t, err, kernel.E_INVALIDARG)
	require.Equal(t, int32(0), d.Messages.Load())
	// The connection is still fine.
	out := make([]byte, 4)
	n, err := c.Send(context.Background(), []byte("echo"), out)
	require.NoError(t, err)
	require.Equal(t, "echo", string(out[:n]))
	require.NoError(t, c.Close())
}

// Close with another goroutine's call still inside the kernel (here a Reply, held in its
// FilterReplyMessage by a fault predicate) returns at once and leaves the CloseHandle to that
// call: the handle is open until the call returns, then closed, exactly once. (A test that
// tears its world down in between sees the handle as a leftover, with a hint saying so.)
func TestClientCloseLeavesHandleToCallInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &testdriver.Driver{}
		w, p, c := dialTestPort(t, d)
		hold, held := make(chan struct{}), make(chan struct{})
		require.NoError(t, w.Faults().FailIf(harness.RoutineFilterReplyMessage, kernel.STATUS_UNSUCCESSFUL, func(harness.FaultCall) bool {
			close(held)
			<-hold
			return false
		}))
		replied := make(chan error, 1)
		go func() { replied <- c.Reply(&fltlib.Message{ID: 7}, kernel.STATUS_SUCCESS, nil) }()
		<-held
		require.NoError(t, c.Close())
		require.Len(t, p.Kernel().Handles(), 1, "the Reply still inside the kernel keeps the handle")
		close(hold)
		require.ErrorIs(t, <-replied, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY)
		require.Empty(t, p.Kernel().Handles(), "the Reply's return closed it")
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}
