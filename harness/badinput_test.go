package harness_test

// Bad-input sweep of the harness user API: every Process fltlib/kernel32 routine of the
// communication-port model, Dial and Conn, the header helpers and the World's load/unload
// entry points, called with nil, zero, negative, oversized, closed and foreign (another
// process's, another world's) arguments. Each call runs on a goroutine of its own inside a
// synctest bubble: the sweep fails if a call panics, if it is still blocked once everything
// else is, or if it does not return the documented status.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

const biPortName = `\BadInputPort`

// biDriver is a driver with one port (4 connections), an echoing MessageNotify and client
// ports kept per connection.
type biDriver struct {
	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	conns  []*driverapi.ClientPort
}

func (d *biDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		fm.CloseCommunicationPort(d.server)
		fm.UnregisterFilter(d.filter)
		return kernel.STATUS_SUCCESS
	}})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(biPortName, driverapi.OBJ_KERNEL_HANDLE, kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS))
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil,
		func(_ context.Context, p driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
			cp := &driverapi.ClientPort{}
			cp.Store(p)
			d.conns = append(d.conns, cp) // ConnectNotify runs on the connecting goroutine: the test's
			return cp, kernel.STATUS_SUCCESS
		},
		func(_ context.Context, cookie any) { fm.CloseClientPort(f, cookie.(*driverapi.ClientPort)) },
		func(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
			return uint32(copy(out, in)), kernel.STATUS_SUCCESS
		},
		4)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

// biBlocked is the wanted result of a call that must block (a wait with a long timeout).
type biBlockedT struct{}

var biBlocked any = biBlockedT{}

// biCall runs f on a goroutine of its own and returns its result. It reports a panic, and a
// call still blocked once every other goroutine of the bubble is blocked (for which it returns
// biBlocked).
func biCall(t *testing.T, name string, f func() any) any {
	t.Helper()
	var v any
	var pan any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { pan = recover() }()
		v = f()
	}()
	synctest.Wait()
	select {
	case <-done:
	default:
		return biBlocked
	}
	if pan != nil {
		t.Errorf("%s: panicked: %v", name, pan)
	}
	return v
}

type biCase struct {
	name string
	call func() any
	want any
}

func biRun(t *testing.T, cases []biCase) {
	t.Helper()
	for _, c := range cases {
		got := biCall(t, c.name, c.call)
		if !equalValues(c.want, got) {
			t.Errorf("%s: got %v (%T), want %v (%T)", c.name, got, got, c.want, c.want)
		}
	}
}

// equalValues compares two results; errors compare by value (a nil error and nil are equal).
func equalValues(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a == b
}

func errv(err error) any {
	if err == nil {
		return nil
	}
	return err
}

var (
	biHrNotFound = kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND)
)

// TestBadInputProcess sweeps the Process routines (R-USER, R-IOCP).
func TestBadInputProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.New(t)
		d := &biDriver{}
		require.NoError(t, w.Load("bad", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		other := w.NewProcess("other.exe", kernel.TokenAdmin())
		dead := w.NewProcess("dead.exe", kernel.TokenAdmin())
		hDead, hr := dead.FilterConnectCommunicationPort(biPortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		dead.Exit(0)

		// A foreign world with its own port, process and handle.
		fw := harness.New(t)
		require.NoError(t, fw.Load("bad", &biDriver{}))
		for range 4 { // another pid, hence other handle values, than any process of w
			fw.NewProcess("filler.exe", kernel.TokenStandardUser()).Exit(0)
		}
		fp := fw.NewProcess("foreign.exe", kernel.TokenAdmin())
		hForeign, hr := fp.FilterConnectCommunicationPort(biPortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)

		h, hr := p.FilterConnectCommunicationPort(biPortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		hOther, hr := other.FilterConnectCommunicationPort(biPortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		hSync, hr := p.FilterConnectCommunicationPort(biPortName, driverapi.FLT_PORT_FLAG_SYNC_HANDLE, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		iocp, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, iocp)
		closedH, hr := p.FilterConnectCommunicationPort(biPortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		require.NoError(t, p.CloseHandle(closedH))

		big := make([]byte, driverapi.MaxConnectionContext+1)
		buf := func(n int) []byte { return make([]byte, n) }
		ov := func() *fltlib.Overlapped { return &fltlib.Overlapped{} }
		bad := []kernel.Handle{0, kernel.InvalidHandle, closedH, hOther, hForeign, hDead, 0x7FFFFFFF}

		cases := []biCase{
			// FilterConnectCommunicationPort (R-USER connect 1–2, R-MODEL-2).
			{"connect empty name", func() any { _, hr := p.FilterConnectCommunicationPort("", 0, nil, 0, nil); return hr }, kernel.HRESULT(0x800700A1)},
			{"connect unknown options", func() any {
				_, hr := p.FilterConnectCommunicationPort(biPortName, 0x80000000, nil, 0, nil)
				return hr
			}, kernel.E_INVALIDARG},
			{"connect nil context, size 5", func() any { _, hr := p.FilterConnectCommunicationPort(biPortName, 0, nil, 5, nil); return hr }, kernel.E_INVALIDARG},
			{"connect context, size 0", func() any { _, hr := p.FilterConnectCommunicationPort(biPortName, 0, buf(4), 0, nil); return hr }, kernel.E_INVALIDARG},
			{"connect negative size", func() any { _, hr := p.FilterConnectCommunicationPort(biPortName, 0, buf(4), -1, nil); return hr }, kernel.E_INVALIDARG},
			{"connect size past the context", func() any { _, hr := p.FilterConnectCommunicationPort(biPortName, 0, buf(4), 5, nil); return hr }, kernel.E_INVALIDARG},
			{"connect oversized context", func() any {
				_, hr := p.FilterConnectCommunicationPort(biPortName, 0, big, len(big), nil)
				return hr
			}, kernel.E_INVALIDARG},
			{"connect malformed name", func() any { _, hr := p.FilterConnectCommunicationPort("NoSlash", 0, nil, 0, nil); return hr }, kernel.HRESULT(0x800700A1)},
			{"connect unknown name", func() any { _, hr := p.FilterConnectCommunicationPort(`\Nope`, 0, nil, 0, nil); return hr }, biHrNotFound},
			{"connect from an exited process", func() any {
				_, hr := dead.FilterConnectCommunicationPort(biPortName, 0, nil, 0, nil)
				return hr
			}, kernel.E_ACCESSDENIED},

			// FilterGetMessage (R-USER Get 1): the buffer is checked first, then the handle.
			{"get nil buffer, bad handle", func() any { return p.FilterGetMessage(0, nil, nil) }, kernel.E_INVALIDARG},
			{"get 15-byte buffer", func() any { return p.FilterGetMessage(h, buf(15), ov()) }, kernel.E_INVALIDARG},
			{"get on a completion-port handle", func() any { return p.FilterGetMessage(iocp, buf(64), ov()) }, kernel.E_HANDLE},
			{"overlapped get on a sync handle, short buffer", func() any { return p.FilterGetMessage(hSync, buf(15), ov()) }, kernel.E_INVALIDARG},
			{"get from an exited process", func() any { return dead.FilterGetMessage(hDead, buf(64), ov()) }, kernel.E_HANDLE},

			// FilterReplyMessage (R-USER Reply 1–2).
			{"reply nil buffer", func() any { return p.FilterReplyMessage(h, nil) }, kernel.E_INVALIDARG},
			{"reply 15 bytes", func() any { return p.FilterReplyMessage(h, buf(15)) }, kernel.E_INVALIDARG},
			{"reply unknown id", func() any { return p.FilterReplyMessage(h, driverapi.NewFilterReply(0, 99, nil)) }, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY},
			{"reply id 0", func() any { return p.FilterReplyMessage(h, driverapi.NewFilterReply(0, 0, nil)) }, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY},
			{"reply max id, huge payload", func() any {
				return p.FilterReplyMessage(h, driverapi.NewFilterReply(0, ^uint64(0), buf(1<<20)))
			}, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY},

			// FilterSendMessage (R-USER Send 1).
			{"send nil input", func() any { return p.FilterSendMessage(h, nil, buf(4), nil) }, kernel.E_INVALIDARG},
			{"send empty input, bad handle", func() any { return p.FilterSendMessage(0, []byte{}, nil, nil) }, kernel.E_INVALIDARG},
			{"send nil output", func() any {
				n := uint32(7)
				hr := p.FilterSendMessage(h, buf(3), nil, &n)
				return [2]any{hr, n}
			}, [2]any{kernel.S_OK, uint32(0)}},
			{"send nil bytesReturned", func() any { return p.FilterSendMessage(h, buf(3), buf(3), nil) }, kernel.S_OK},

			// CloseHandle, DuplicateHandle (R-USER CloseHandle 1).
			{"close handle 0", func() any { return errv(p.CloseHandle(0)) }, kernel.ERROR_INVALID_HANDLE},
			{"close another process's handle", func() any { return errv(p.CloseHandle(hOther)) }, kernel.ERROR_INVALID_HANDLE},
			{"close twice", func() any { return errv(p.CloseHandle(closedH)) }, kernel.ERROR_INVALID_HANDLE},
			{"dup to nil", func() any {
				_, err := p.DuplicateHandle(h, nil, 0, false, kernel.DUPLICATE_SAME_ACCESS)
				return errv(err)
			}, kernel.ERROR_INVALID_HANDLE},
			{"dup to another world", func() any {
				_, err := p.DuplicateHandle(h, fp, 0, false, kernel.DUPLICATE_SAME_ACCESS)
				return errv(err)
			}, kernel.ERROR_INVALID_HANDLE},
			{"dup unknown options", func() any { _, err := p.DuplicateHandle(h, other, 0, false, 0x10); return errv(err) }, kernel.ERROR_INVALID_PARAMETER},
			{"dup more access", func() any { _, err := p.DuplicateHandle(h, other, kernel.GENERIC_ALL, false, 0); return errv(err) }, kernel.ERROR_ACCESS_DENIED},
			{"dup into an exited process", func() any {
				_, err := p.DuplicateHandle(h, dead, 0, false, kernel.DUPLICATE_SAME_ACCESS)
				return errv(err)
			}, kernel.ERROR_ACCESS_DENIED},
			{"dup a bad handle", func() any {
				_, err := p.DuplicateHandle(hOther, other, 0, false, kernel.DUPLICATE_SAME_ACCESS)
				return errv(err)
			}, kernel.ERROR_INVALID_HANDLE},

			// CancelIoEx, GetOverlappedResult (R-USER Get 4).
			{"cancel nothing pending", func() any { return errv(p.CancelIoEx(h, nil)) }, kernel.ERROR_NOT_FOUND},
			{"cancel an unknown overlapped", func() any { return errv(p.CancelIoEx(h, ov())) }, kernel.ERROR_NOT_FOUND},
			{"cancel on a completion port", func() any { return errv(p.CancelIoEx(iocp, nil)) }, kernel.ERROR_INVALID_HANDLE},
			{"overlapped result nil", func() any { _, err := p.GetOverlappedResult(h, nil, true); return errv(err) }, kernel.ERROR_INVALID_PARAMETER},
			{"overlapped result bad handle", func() any { _, err := p.GetOverlappedResult(0, ov(), false); return errv(err) }, kernel.ERROR_INVALID_HANDLE},

			// Completion ports (R-IOCP).
			{"associate a bad handle", func() any { _, err := p.CreateIoCompletionPort(hOther, iocp, 1, 0); return errv(err) }, kernel.ERROR_INVALID_HANDLE},
			{"associate with a non-port", func() any { _, err := p.CreateIoCompletionPort(h, hSync, 1, 0); return errv(err) }, kernel.ERROR_INVALID_HANDLE},
			{"dequeue from a bad handle", func() any { _, _, _, err := p.GetQueuedCompletionStatus(h, 0); return errv(err) }, kernel.ERROR_INVALID_HANDLE},
			{"dequeue with zero timeout", func() any { _, _, _, err := p.GetQueuedCompletionStatus(iocp, 0); return errv(err) }, kernel.ERROR_WAIT_TIMEOUT},
			{"dequeue with a huge timeout", func() any {
				_, _, _, err := p.GetQueuedCompletionStatus(iocp, time.Duration(1<<62)) // woken below by CloseHandle
				return errv(err)
			}, biBlocked},
			{"post to a bad handle", func() any { return errv(p.PostQueuedCompletionStatus(h, 0, 0, nil)) }, kernel.ERROR_INVALID_HANDLE},

			// Spawn.
			{"spawn empty image", func() any { _, err := p.Spawn("", false); return err != nil }, true},
			{"spawn from an exited process", func() any { _, err := dead.Spawn("child.exe", true); return err != nil }, true},

			// Headers.
			{"parse nil header", func() any { _, ok := driverapi.ParseFilterMessageHeader(nil); return ok }, false},
			{"put header into nil", func() any { return driverapi.FilterReplyHeader{MessageId: 1}.Put(nil) }, false},
			{"reply buffer of nil", func() any { return len(driverapi.NewFilterReply(0, 1, nil)) }, replyHdr},
		}
		for _, bh := range bad {
			n := fmt.Sprintf(" (handle %#x)", bh)
			cases = append(cases,
				biCase{"get on bad handle" + n, func() any { return p.FilterGetMessage(bh, buf(64), ov()) }, kernel.E_HANDLE},
				biCase{"sync get on bad handle" + n, func() any { return p.FilterGetMessage(bh, buf(64), nil) }, kernel.E_HANDLE},
				biCase{"reply on bad handle" + n, func() any { return p.FilterReplyMessage(bh, buf(replyHdr)) }, kernel.E_HANDLE},
				biCase{"send on bad handle" + n, func() any { return p.FilterSendMessage(bh, buf(1), nil, nil) }, kernel.E_HANDLE},
				biCase{"cancel on bad handle" + n, func() any { return errv(p.CancelIoEx(bh, nil)) }, kernel.ERROR_INVALID_HANDLE},
				biCase{"dequeue from bad handle" + n, func() any { _, _, _, err := p.GetQueuedCompletionStatus(bh, 0); return errv(err) }, kernel.ERROR_INVALID_HANDLE},
			)
		}
		biRun(t, cases)

		// An overlapped Get on the completion port association stays pending; associating the
		// handle a second time is ERROR_INVALID_PARAMETER.
		_, err = p.CreateIoCompletionPort(h, iocp, 1, 0)
		require.NoError(t, err)
		_, err = p.CreateIoCompletionPort(h, iocp, 2, 0)
		require.Equal(t, kernel.ERROR_INVALID_PARAMETER, err)
		// A negative timeout other than INFINITE waits like INFINITE; closing the port wakes it.
		waitDone := make(chan error, 1)
		go func() { _, _, _, err := p.GetQueuedCompletionStatus(iocp, -5); waitDone <- err }()
		synctest.Wait()
		require.NoError(t, p.CloseHandle(iocp))
		require.Equal(t, kernel.ERROR_ABANDONED_WAIT_0, <-waitDone) // R-IOCP

		// The bad calls left the connections working.
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("x"), buf(1), nil))
		require.Equal(t, kernel.S_OK, fp.FilterSendMessage(hForeign, []byte("x"), buf(1), nil))
		require.NoError(t, p.CloseHandle(h))
		require.NoError(t, p.CloseHandle(hSync))
		require.NoError(t, other.CloseHandle(hOther))
		require.NoError(t, fp.CloseHandle(hForeign))
	})
}

// TestBadInputDialConn sweeps Dial and the Conn methods.
func TestBadInputDialConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.New(t)
		require.NoError(t, w.Load("bad", &biDriver{}))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		bg := context.Background()

		errIs := func(err, target error) bool { return errors.Is(err, target) }
		biRun(t, []biCase{
			{"dial nil process", func() any { _, err := fltlib.Dial(bg, nil, biPortName, nil); return errIs(err, kernel.E_INVALIDARG) }, true},
			{"dial cancelled", func() any { _, err := fltlib.Dial(cancelled, p, biPortName, nil); return errIs(err, context.Canceled) }, true},
			{"dial negative MaxMessageSize", func() any {
				_, err := fltlib.Dial(bg, p, biPortName, &fltlib.DialOptions{MaxMessageSize: -1})
				return errIs(err, kernel.E_INVALIDARG)
			}, true},
			{"dial oversized context", func() any {
				_, err := fltlib.Dial(bg, p, biPortName, &fltlib.DialOptions{Context: make([]byte, 70000)})
				return errIs(err, kernel.E_INVALIDARG)
			}, true},
			{"dial empty name", func() any { _, err := fltlib.Dial(bg, p, "", nil); return errIs(err, kernel.HRESULT(0x800700A1)) }, true},
			{"dial unknown port", func() any { _, err := fltlib.Dial(bg, p, `\Nope`, nil); return errIs(err, biHrNotFound) }, true},
		})

		c, err := fltlib.Dial(bg, p, biPortName, nil)
		require.NoError(t, err)
		biRun(t, []biCase{
			{"receive cancelled", func() any { _, err := c.Receive(cancelled); return errIs(err, context.Canceled) }, true},
			{"reply nil message", func() any { return errIs(c.Reply(nil, 0, nil), kernel.E_INVALIDARG) }, true},
			{"reply unknown message", func() any {
				return errIs(c.Reply(&fltlib.Message{ID: 42}, 0, nil), kernel.ERROR_FLT_NO_WAITER_FOR_REPLY)
			}, true},
			{"send nil", func() any { _, err := c.Send(bg, nil, nil); return errIs(err, kernel.E_INVALIDARG) }, true},
			{"send cancelled", func() any { _, err := c.Send(cancelled, []byte("x"), nil); return errIs(err, context.Canceled) }, true},
		})

		// Unloading ends the connection: Receive and Send report E_HANDLE (R-UNLOAD-5); a
		// Reply finds no waiter (FilterReplyMessage 5).
		require.NoError(t, w.Unload("bad"))
		biRun(t, []biCase{
			{"receive after unload", func() any { _, err := c.Receive(bg); return errIs(err, kernel.E_HANDLE) }, true},
			{"send after unload", func() any { _, err := c.Send(bg, []byte("x"), nil); return errIs(err, kernel.E_HANDLE) }, true},
			{"reply after unload", func() any {
				return errIs(c.Reply(&fltlib.Message{ID: 1}, 0, nil), kernel.ERROR_FLT_NO_WAITER_FOR_REPLY)
			}, true},
			{"close after unload", func() any { return errv(c.Close()) }, nil},
			// After Close: ErrClosed everywhere.
			{"receive after close", func() any { _, err := c.Receive(bg); return errIs(err, fltlib.ErrClosed) }, true},
			{"send after close", func() any { _, err := c.Send(bg, []byte("x"), nil); return errIs(err, fltlib.ErrClosed) }, true},
			{"reply after close", func() any { return errIs(c.Reply(&fltlib.Message{ID: 1}, 0, nil), fltlib.ErrClosed) }, true},
			{"close twice", func() any { return errIs(c.Close(), fltlib.ErrClosed) }, true},
		})
	})
}

// TestBadInputWorld sweeps the World's load and unload entry points.
func TestBadInputWorld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.New(t)
		hrNotFound := kernel.ERROR_FLT_FILTER_NOT_FOUND
		biRun(t, []biCase{
			{"load empty name", func() any { return harness.HRESULTOf(w.Load("", &biDriver{})) }, kernel.E_INVALIDARG},
			{"load nil driver", func() any { return harness.HRESULTOf(w.Load("x", nil)) }, kernel.E_INVALIDARG},
			{"load name with a backslash", func() any { return harness.HRESULTOf(w.Load(`a\b`, &biDriver{})) }, kernel.E_INVALIDARG},
			{"unload unknown", func() any { return harness.HRESULTOf(w.Unload("nope")) }, hrNotFound},
			{"stop unknown", func() any { return harness.HRESULTOf(w.Stop("")) }, hrNotFound},
			{"load", func() any { return harness.HRESULTOf(w.Load("bad", &biDriver{})) }, kernel.S_OK},
			{"load again", func() any { return harness.HRESULTOf(w.Load("BAD", &biDriver{})) }, kernel.HResultFromNtStatus(kernel.STATUS_IMAGE_ALREADY_LOADED)},
			{"unload", func() any { return harness.HRESULTOf(w.Unload("bad")) }, kernel.S_OK},
			{"unload twice", func() any { return harness.HRESULTOf(w.Unload("bad")) }, hrNotFound},
			{"start process with nil token", func() any { _, err := w.StartProcess("x.exe", nil, nil, false); return err != nil }, true},
			{"start process with empty image", func() any {
				_, err := w.StartProcess("", kernel.TokenAdmin(), nil, false)
				return err != nil
			}, true},
			{"new process with nil token panics", func() any {
				defer func() { _ = recover() }()
				w.NewProcess("x.exe", nil)
				return "no panic"
			}, nil},
		})
	})
}
