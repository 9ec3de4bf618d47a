package harness_test

// Helpers shared by the test files of this package. Helpers used by one file only stay in
// that file; the benchmarks' own helpers are in bench_util_test.go.

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

const testPort = `\TestPort`

// msgHdr and replyHdr are the sizes of FILTER_MESSAGE_HEADER and FILTER_REPLY_HEADER, short
// for the buffer arithmetic of the tests.
const (
	msgHdr   = driverapi.FilterMessageHeaderSize
	replyHdr = driverapi.FilterReplyHeaderSize
)

// bubble runs f in parallel with the other tests, inside a synctest bubble: time is fake, and a
// test that would block forever fails with a deadlock report instead of hanging.
func bubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	t.Parallel()
	synctest.Test(t, f)
}

// load makes a world for t and loads d (a default test driver when nil) under the name "test".
func load(t *testing.T, d *testdriver.Driver) (*harness.World, *testdriver.Driver) {
	t.Helper()
	w := harness.New(t)
	if d == nil {
		d = &testdriver.Driver{}
	}
	require.NoError(t, w.Load("test", d))
	return w, d
}

// adminProc starts an elevated administrator's process.
func adminProc(w *harness.World, image string) *harness.Process {
	return w.NewProcess(image, kernel.TokenAdmin())
}

// connect connects p to the test port with no context and requires S_OK. The handle is
// closed at the end of the test if the test did not close it (see closeAtEnd).
func connect(t *testing.T, p *harness.Process) kernel.Handle {
	t.Helper()
	h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	require.NotEqual(t, kernel.InvalidHandle, h)
	closeAtEnd(t, p, h)
	return h
}

// closeAtEnd closes h at the end of the test, before the world's teardown checks (cleanups
// run last-registered first, and the world registered its own before), unless the test
// closed it itself or p exited. Handle values are never reused in a process, so a handle the
// test already closed cannot stand for another object by then.
func closeAtEnd(t testing.TB, p *harness.Process, h kernel.Handle) {
	t.Cleanup(func() {
		if !p.Kernel().Exited() {
			p.CloseHandle(h)
		}
	})
}

type sendResult struct {
	st kernel.NTSTATUS
	n  uint32 // the out reply length
}

// sendAsync runs FltSendMessage on connection c on a goroutine of its own (the driver's
// thread). reply nil is a one-way message; the reply capacity is len(reply).
func sendAsync(ctx context.Context, d *testdriver.Driver, c *testdriver.Conn, msg, reply []byte, timeout *int64) <-chan sendResult {
	ch := make(chan sendResult, 1)
	go func() {
		st, n := d.Send(ctx, c, msg, reply, timeout)
		ch <- sendResult{st, n}
	}()
	return ch
}

// getAsync runs a synchronous FilterGetMessage on a goroutine of its own.
func getAsync(p *harness.Process, h kernel.Handle, buf []byte) <-chan kernel.HRESULT {
	ch := make(chan kernel.HRESULT, 1)
	go func() { ch <- p.FilterGetMessage(h, buf, nil) }()
	return ch
}

// requireBlocked lets every goroutine of the bubble block, then requires that ch has nothing.
func requireBlocked[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	synctest.Wait()
	select {
	case v := <-ch:
		t.Fatalf("expected the call to be still blocked, it returned %v", v)
	default:
	}
}

// getMessage makes a synchronous FilterGetMessage with a buffer of size bytes and requires S_OK.
func getMessage(t *testing.T, p *harness.Process, h kernel.Handle, size int) (driverapi.FilterMessageHeader, []byte) {
	t.Helper()
	buf := make([]byte, size)
	require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, buf, nil))
	hdr, ok := driverapi.ParseFilterMessageHeader(buf)
	require.True(t, ok)
	return hdr, buf[driverapi.FilterMessageHeaderSize:]
}

// reply sends FILTER_REPLY_HEADER{status, id} + payload with FilterReplyMessage.
func reply(p *harness.Process, h kernel.Handle, status kernel.NTSTATUS, id uint64, payload []byte) kernel.HRESULT {
	return p.FilterReplyMessage(h, driverapi.NewFilterReply(status, id, payload))
}

// goid returns the id of the calling goroutine, to show on which goroutine a callback ran.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return strings.Fields(string(b))[1]
}

// port creation arguments for tests that call CreateCommunicationPort themselves.
func kernelAttrs(name string, sd *kernel.SecurityDescriptor) *driverapi.ObjectAttributes {
	a := driverapi.InitializeObjectAttributes(name, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	return &a
}

// HRESULT_FROM_WIN32(ERROR_IO_PENDING) and HRESULT_FROM_WIN32(ERROR_OPERATION_ABORTED).
const (
	hrPending kernel.HRESULT = 0x800703E5
	hrAborted kernel.HRESULT = 0x800703E3
)

// labConnect connects p to port with ctx as the connection context and requires S_OK; the
// handle is not closed at the end of the test (unlike connect).
func labConnect(t *testing.T, p *harness.Process, port string, ctx []byte) kernel.Handle {
	t.Helper()
	h, hr := p.FilterConnectCommunicationPort(port, 0, ctx, len(ctx), nil)
	require.Equal(t, kernel.S_OK, hr)
	return h
}

// second returns the second of two results, for calls whose first result a test ignores.
func second[A, B any](_ A, b B) B { return b }

// fourth returns the fourth of four results.
func fourth[A, B, C, D any](_ A, _ B, _ C, d D) D { return d }
