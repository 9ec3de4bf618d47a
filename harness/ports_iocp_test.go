package harness_test

// Tests of I/O completion ports with connection handles (docs/rules.md §6, R-IOCP), ending with
// the scanner sample's user-mode pattern.

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

type gqcsResult struct {
	n   uint32
	key uintptr
	ov  *fltlib.Overlapped
	err error
}

func gqcsAsync(p *harness.Process, port kernel.Handle, timeout time.Duration) <-chan gqcsResult {
	ch := make(chan gqcsResult, 1)
	go func() {
		n, key, ov, err := p.GetQueuedCompletionStatus(port, timeout)
		ch <- gqcsResult{n, key, ov, err}
	}()
	return ch
}

func TestIOCPAssociation(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-IOCP: CreateIoCompletionPort associates a connection handle with a new or an
		// existing port under a key; Get completions of each handle arrive there with their key,
		// their byte count and their OVERLAPPED. A handle is associated once.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		h1, h2 := connect(t, p), connect(t, p)
		port, err := p.CreateIoCompletionPort(h1, 0, 0x51, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, port)
		port2, err := p.CreateIoCompletionPort(h2, port, 0x52, 0)
		require.NoError(t, err)
		require.Equal(t, port, port2)
		_, err = p.CreateIoCompletionPort(h1, port, 0x53, 0)
		require.Equal(t, kernel.ERROR_INVALID_PARAMETER, err)
		_, err = p.CreateIoCompletionPort(h1, 0, 0x53, 0)
		require.Equal(t, kernel.ERROR_INVALID_PARAMETER, err)
		require.Len(t, p.Kernel().Handles(), 3, "a failed association leaves no new port behind")

		ov1, ov2 := &fltlib.Overlapped{}, &fltlib.Overlapped{}
		b1, b2 := make([]byte, 64), make([]byte, 64)
		require.Equal(t, hrPending, p.FilterGetMessage(h1, b1, ov1))
		require.Equal(t, hrPending, p.FilterGetMessage(h2, b2, ov2))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(1), []byte("two"), nil, nil))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("one!"), nil, nil))

		n, key, ov, err := p.GetQueuedCompletionStatus(port, fltlib.INFINITE)
		require.NoError(t, err)
		require.Equal(t, uint32(19), n)
		require.Equal(t, uintptr(0x52), key)
		require.Same(t, ov2, ov)
		require.Equal(t, "two", string(b2[driverapi.FilterMessageHeaderSize:19]))
		n, key, ov, err = p.GetQueuedCompletionStatus(port, fltlib.INFINITE)
		require.NoError(t, err)
		require.Equal(t, uint32(20), n)
		require.Equal(t, uintptr(0x51), key)
		require.Same(t, ov1, ov)
		require.Equal(t, "one!", string(b1[driverapi.FilterMessageHeaderSize:20]))
	})
}

func TestIOCPCompletionOrder(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-IOCP, R-USER Get 3: completions come out in the order they happened, not the order
		// the Gets were issued; errors come through the port with their Win32 error.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		port, err := p.CreateIoCompletionPort(h, 0, 7, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, port)
		a, b, c := &fltlib.Overlapped{}, &fltlib.Overlapped{}, &fltlib.Overlapped{}
		for _, ov := range []*fltlib.Overlapped{a, b, c} {
			require.Equal(t, hrPending, p.FilterGetMessage(h, make([]byte, 32), ov))
		}
		require.NoError(t, p.CancelIoEx(h, b))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("x"), nil, nil))
		// Too small for c: c completes with the size needed.
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, d.Conn(0), make([]byte, 40), nil, driverapi.RelativeTimeout(time.Second)))

		want := []gqcsResult{
			{0, 7, b, kernel.ERROR_OPERATION_ABORTED},
			{17, 7, a, nil},
			{56, 7, c, kernel.ERROR_INSUFFICIENT_BUFFER},
		}
		for i, wr := range want {
			n, key, ov, err := p.GetQueuedCompletionStatus(port, 0)
			require.Equal(t, wr, gqcsResult{n, key, ov, err}, "completion %d", i)
		}
		_, _, ov, err := p.GetQueuedCompletionStatus(port, 0)
		require.Equal(t, kernel.ERROR_WAIT_TIMEOUT, err)
		require.Nil(t, ov)
	})
}

func TestIOCPDisconnectThroughPort(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-IOCP, R-USER Get 4: a kernel disconnect completes the pending Gets through the port
		// with ERROR_INVALID_HANDLE (E_HANDLE); a handle close with ERROR_OPERATION_ABORTED.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		h1, h2 := connect(t, p), connect(t, p)
		port, err := p.CreateIoCompletionPort(h1, 0, 1, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, port)
		_, err = p.CreateIoCompletionPort(h2, port, 2, 0)
		require.NoError(t, err)
		ov1, ov2 := &fltlib.Overlapped{}, &fltlib.Overlapped{}
		require.Equal(t, hrPending, p.FilterGetMessage(h1, make([]byte, 32), ov1))
		require.Equal(t, hrPending, p.FilterGetMessage(h2, make([]byte, 32), ov2))
		d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		require.NoError(t, p.CloseHandle(h2))
		r := <-gqcsAsync(p, port, fltlib.INFINITE)
		require.Equal(t, gqcsResult{0, 1, ov1, kernel.ERROR_INVALID_HANDLE}, r)
		r = <-gqcsAsync(p, port, fltlib.INFINITE)
		require.Equal(t, gqcsResult{0, 2, ov2, kernel.ERROR_OPERATION_ABORTED}, r)
	})
}

func TestIOCPTimeout(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-IOCP: GetQueuedCompletionStatus with a timeout returns WAIT_TIMEOUT (258) when it
		// runs out; 0 does not wait; INFINITE waits until a packet comes.
		w, _ := load(t, nil)
		p := adminProc(w, "svc.exe")
		port, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, port)

		start := time.Now()
		_, _, ov, err := p.GetQueuedCompletionStatus(port, 0)
		require.Equal(t, kernel.ERROR_WAIT_TIMEOUT, err)
		require.Equal(t, kernel.Win32Error(258), err)
		require.Nil(t, ov)
		require.Equal(t, time.Duration(0), time.Since(start))

		r := gqcsAsync(p, port, 5*time.Second)
		time.Sleep(5*time.Second - time.Nanosecond)
		requireBlocked(t, r)
		require.Equal(t, gqcsResult{0, 0, nil, kernel.ERROR_WAIT_TIMEOUT}, <-r)
		require.Equal(t, 5*time.Second, time.Since(start))

		r = gqcsAsync(p, port, fltlib.INFINITE)
		time.Sleep(1000 * time.Hour)
		requireBlocked(t, r)
		ov = &fltlib.Overlapped{}
		require.NoError(t, p.PostQueuedCompletionStatus(port, 3, 9, ov))
		require.Equal(t, gqcsResult{3, 9, ov, nil}, <-r)
	})
}

func TestIOCPCloseWakesWaiters(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-IOCP: closing the completion port wakes its waiters with ERROR_ABANDONED_WAIT_0
		// (735); the handle is invalid afterwards, and a Get completing later for a handle
		// associated with it still sets its event.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		port, err := p.CreateIoCompletionPort(h, 0, 1, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, port)
		w1 := gqcsAsync(p, port, fltlib.INFINITE)
		w2 := gqcsAsync(p, port, time.Hour)
		requireBlocked(t, w1)
		requireBlocked(t, w2)
		require.NoError(t, p.CloseHandle(port))
		require.Equal(t, gqcsResult{0, 0, nil, kernel.ERROR_ABANDONED_WAIT_0}, <-w1)
		require.Equal(t, gqcsResult{0, 0, nil, kernel.Win32Error(735)}, <-w2)
		_, _, _, err = p.GetQueuedCompletionStatus(port, 0)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p.PostQueuedCompletionStatus(port, 0, 0, nil))

		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, hrPending, p.FilterGetMessage(h, make([]byte, 32), ov))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("x"), nil, nil))
		n, err := p.GetOverlappedResult(h, ov, true)
		require.NoError(t, err)
		require.Equal(t, uint32(17), n)
	})
}

// TestIOCPScannerPattern runs the scanner sample's user program against a driver that pushes
// files to scan from several kernel threads: 2 workers drain one completion port fed by 5
// outstanding overlapped Gets each; a worker replies with the verdict and re-arms its Get; the
// unload ends the connection and the workers stop on E_HANDLE (R-IOCP, R-UNLOAD-5).
func TestIOCPScannerPattern(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const workers, perWorker, kernelThreads, perThread = 2, 5, 4, 10
		w, d := load(t, nil)
		p := adminProc(w, "scanuser.exe")
		h := connect(t, p)
		port, err := p.CreateIoCompletionPort(h, 0, 0, workers)
		require.NoError(t, err)
		closeAtEnd(t, p, port)

		// One buffer per outstanding request, found again from its OVERLAPPED.
		bufs := make(map[*fltlib.Overlapped][]byte)
		for range workers * perWorker {
			ov := &fltlib.Overlapped{}
			bufs[ov] = make([]byte, driverapi.FilterMessageHeaderSize+1032)
			require.Equal(t, hrPending, p.FilterGetMessage(h, bufs[ov], ov))
		}

		var replies atomic.Int32
		stopped := make(chan error, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					n, _, ov, err := p.GetQueuedCompletionStatus(port, fltlib.INFINITE)
					if err != nil {
						stopped <- err
						return
					}
					buf := bufs[ov]
					hdr, _ := driverapi.ParseFilterMessageHeader(buf)
					safe := byte(1)
					if bytes.Contains(buf[driverapi.FilterMessageHeaderSize:n], []byte("foul")) {
						safe = 0
					}
					if hr := p.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte{safe})); hr != kernel.S_OK {
						stopped <- hr
						return
					}
					replies.Add(1)
					if hr := p.FilterGetMessage(h, buf, ov); hr != hrPending {
						stopped <- hr
						return
					}
				}
			})
		}

		type verdict struct {
			foul bool
			res  sendResult
			safe byte
		}
		verdicts := make(chan verdict, kernelThreads*perThread)
		var senders sync.WaitGroup
		for k := range kernelThreads {
			senders.Go(func() {
				for i := range perThread {
					foul := (k+i)%3 == 0
					content := fmt.Sprintf("file %d/%d contents", k, i)
					if foul {
						content += " with something foul inside"
					}
					rb := make([]byte, 1)
					st, n := d.Send(context.Background(), d.Conn(0), []byte(content), rb, nil)
					verdicts <- verdict{foul, sendResult{st, n}, rb[0]}
				}
			})
		}
		senders.Wait()
		close(verdicts)
		count := 0
		for v := range verdicts {
			count++
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 1}, v.res)
			if v.foul {
				require.Equal(t, byte(0), v.safe)
			} else {
				require.Equal(t, byte(1), v.safe)
			}
		}
		require.Equal(t, kernelThreads*perThread, count)
		require.Equal(t, int32(kernelThreads*perThread), replies.Load())

		// The filter unloads: every outstanding Get completes with E_HANDLE through the port or
		// the re-arming Get fails with it; each worker stops.
		require.NoError(t, w.Unload("test"))
		wg.Wait()
		close(stopped)
		for err := range stopped {
			if hr, ok := err.(kernel.HRESULT); ok {
				require.Equal(t, kernel.E_HANDLE, hr)
				continue
			}
			require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		}
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.NoError(t, p.CloseHandle(port))
		require.NoError(t, p.CloseHandle(h))
	})
}
