package harness_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// syncConnect connects p with FLT_PORT_FLAG_SYNC_HANDLE.
func syncConnect(t *testing.T, p *harness.Process) kernel.Handle {
	t.Helper()
	h, hr := p.FilterConnectCommunicationPort(testPort, driverapi.FLT_PORT_FLAG_SYNC_HANDLE, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	return h
}

// R-USER connect 3, R-IOCP: a synchronous handle cannot be associated with an I/O
// completion port: 0x80070057; an asynchronous one can.
func TestSyncHandleCannotJoinACompletionPort(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, _ := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		hs := syncConnect(t, p)
		port, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		_, err = p.CreateIoCompletionPort(hs, port, 1, 0)
		require.ErrorIs(t, err, kernel.ERROR_INVALID_PARAMETER)
		require.Equal(t, kernel.HRESULT(0x80070057), kernel.HResultFromWin32(err.(kernel.Win32Error)))
		ha := connect(t, p)
		_, err = p.CreateIoCompletionPort(ha, port, 2, 0)
		require.NoError(t, err)
		for _, h := range []kernel.Handle{hs, ha, port} {
			require.NoError(t, p.CloseHandle(h))
		}
	})
}

// R-USER connect 3: all I/O on a synchronous handle is serialized. While a Get blocks
// on it, FilterReplyMessage and FilterSendMessage on the same handle wait; they run when the
// Get returns. Another handle of the same process is not held up.
func TestSyncHandleSerializesIO(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		h := syncConnect(t, p)
		other := connect(t, p)

		got := make(chan kernel.HRESULT, 1)
		buf := make([]byte, 64)
		go func() { got <- p.FilterGetMessage(h, buf, nil) }()
		synctest.Wait()

		replied := make(chan kernel.HRESULT, 1)
		go func() { replied <- p.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, 1, nil)) }()
		sent := make(chan kernel.HRESULT, 1)
		go func() { sent <- p.FilterSendMessage(h, []byte("x"), nil, nil) }()
		synctest.Wait()
		require.Empty(t, replied, "the reply went past the blocked Get")
		require.Empty(t, sent, "the send went past the blocked Get")
		// The other handle is free.
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(other, []byte("x"), nil, nil))

		// A one-way message ends the Get; the waiting calls then run one after the other.
		st, _ := d.Send(context.Background(), d.Conn(0), []byte("hi"), nil, nil)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, kernel.S_OK, <-got)
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, <-replied) // nobody waits for id 1
		require.Equal(t, kernel.S_OK, <-sent)
		require.NoError(t, p.CloseHandle(h))
		require.NoError(t, p.CloseHandle(other))
	})
}

// R-USER connect 3: closing a synchronous handle from another thread waits for the
// Get in progress (the classic "CloseHandle hangs"); CancelSynchronousIo on the blocked
// thread is the way out, and then the close completes and DisconnectNotify runs.
func TestSyncHandleCloseWaitsForTheBlockedGet(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := syncConnect(t, p)
		reader := p.NewThread()
		got := make(chan kernel.HRESULT, 1)
		go func() { got <- reader.FilterGetMessage(h, make([]byte, 64), nil) }()
		synctest.Wait()

		closed := make(chan error, 1)
		go func() { closed <- p.CloseHandle(h) }()
		synctest.Wait()
		require.Empty(t, closed, "CloseHandle returned while the Get was blocked")
		require.Equal(t, int32(0), d.Disconnects.Load())

		require.NoError(t, p.CancelSynchronousIo(reader))
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED), <-got)
		require.NoError(t, <-closed)
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}
