package harness_test

// Tests of FilterGetMessage and FilterReplyMessage (docs/rules.md §5, R-USER Get 1…4 and
// R-USER Reply 1…4).

import (
	"context"
	"fmt"
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

func TestGetBufferArgument(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 1: a buffer nil or shorter than 16 bytes is E_INVALIDARG at once, in both
		// forms, and no request is left behind to swallow a message.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		require.Equal(t, kernel.HRESULT(0x80070057), p.FilterGetMessage(h, nil, nil))
		require.Equal(t, kernel.E_INVALIDARG, p.FilterGetMessage(h, make([]byte, msgHdr-1), nil))
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, kernel.E_INVALIDARG, p.FilterGetMessage(h, nil, ov))
		require.Equal(t, kernel.E_INVALIDARG, p.FilterGetMessage(h, make([]byte, msgHdr-1), ov))
		require.False(t, ov.Event.Signaled())
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("x"), nil, driverapi.NoWait()))

		// 16 bytes is enough for an empty message, not for a one-byte one.
		g := getAsync(p, h, make([]byte, msgHdr))
		requireBlocked(t, g)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte{}, nil, nil))
		require.Equal(t, kernel.S_OK, <-g)
		g = getAsync(p, h, make([]byte, msgHdr))
		requireBlocked(t, g)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte{1}, nil, driverapi.RelativeTimeout(time.Second))
		require.Equal(t, kernel.HRESULT(0x8007007A), <-g)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
	})
}

func TestGetSynchronousBlocksUntilMessage(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 2: the synchronous form has no timeout: it blocks until a message comes.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		buf := make([]byte, 64)
		g := getAsync(p, h, buf)
		time.Sleep(1000 * time.Hour)
		requireBlocked(t, g)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("hello"), nil, nil))
		require.Equal(t, kernel.S_OK, <-g)
		require.Equal(t, "hello", string(buf[driverapi.FilterMessageHeaderSize:21]))
	})
}

func TestGetSynchronousEndings(t *testing.T) {
	// R-USER Get 2 and 4: a blocked synchronous Get ends with E_HANDLE when the kernel ends the
	// connection (FltCloseClientPort, unload) and with ERROR_OPERATION_ABORTED when it is
	// cancelled (CancelIoEx) or the handle closes under it.
	cases := []struct {
		name string
		end  func(t *testing.T, w *harness.World, p *harness.Process, h kernel.Handle, d func())
		want kernel.HRESULT
	}{
		{"FltCloseClientPort", func(t *testing.T, _ *harness.World, _ *harness.Process, _ kernel.Handle, closeClient func()) {
			closeClient()
		}, kernel.E_HANDLE},
		{"unload", func(t *testing.T, w *harness.World, _ *harness.Process, _ kernel.Handle, _ func()) {
			require.NoError(t, w.Unload("test"))
		}, kernel.E_HANDLE},
		{"CancelIoEx", func(t *testing.T, _ *harness.World, p *harness.Process, h kernel.Handle, _ func()) {
			require.NoError(t, p.CancelIoEx(h, nil))
		}, hrAborted},
		{"CloseHandle", func(t *testing.T, _ *harness.World, p *harness.Process, h kernel.Handle, _ func()) {
			require.NoError(t, p.CloseHandle(h))
		}, hrAborted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				w, d := load(t, nil)
				p := adminProc(w, "svc.exe")
				h := connect(t, p)
				g := getAsync(p, h, make([]byte, 64))
				requireBlocked(t, g)
				tc.end(t, w, p, h, func() { d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port) })
				require.Equal(t, tc.want, <-g)
			})
		})
	}
}

func TestGetOverlappedCompletesThroughEvent(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 3: the overlapped form returns ERROR_IO_PENDING at once and completes
		// through the overlapped's event with the byte count 16 + payload.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		buf := make([]byte, 64)
		require.Equal(t, hrPending, p.FilterGetMessage(h, buf, ov))
		n, err := p.GetOverlappedResult(h, ov, false)
		require.Equal(t, kernel.ERROR_IO_INCOMPLETE, err)
		require.Equal(t, uint32(0), n)
		require.False(t, ov.Event.Signaled())

		r := sendAsync(context.Background(), d, d.Conn(0), []byte("payload"), make([]byte, 4), nil)
		require.NoError(t, ov.Event.Wait(context.Background()))
		n, err = p.GetOverlappedResult(h, ov, true)
		require.NoError(t, err)
		require.Equal(t, uint32(23), n)
		st, n2 := ov.Result()
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, uint32(23), n2)
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: 20, MessageId: 1}, hdr)
		require.Equal(t, "payload", string(buf[driverapi.FilterMessageHeaderSize:23]))
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, 1, nil))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)

		// The overlapped can be used again for a new request.
		require.Equal(t, hrPending, p.FilterGetMessage(h, buf, ov))
		require.False(t, ov.Event.Signaled())
		require.NoError(t, p.CancelIoEx(h, ov))
		n, err = p.GetOverlappedResult(h, ov, true)
		require.Equal(t, kernel.ERROR_OPERATION_ABORTED, err)
		require.Equal(t, uint32(0), n)
	})
}

func TestGetOverlappedReusedManyTimes(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 3: an overlapped reused for request after request, each waited for with
		// GetOverlappedResult while the next message is being sent, reports each request's own
		// message and byte count (the emulator recycles its record of the request; a waiter must
		// never be woken by the previous request's completion, nor miss its own).
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		buf := make([]byte, 64)
		for i := range 200 {
			require.Equal(t, hrPending, p.FilterGetMessage(h, buf, ov))
			msg := []byte(fmt.Sprintf("message %d", i))
			waited := make(chan error, 1)
			go func() {
				n, err := p.GetOverlappedResult(h, ov, true)
				if err == nil && n != uint32(driverapi.FilterMessageHeaderSize+len(msg)) {
					err = fmt.Errorf("byte count %d for %q", n, msg)
				}
				waited <- err
			}()
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), msg, nil, nil))
			require.NoError(t, <-waited)
			require.Equal(t, string(msg), string(buf[driverapi.FilterMessageHeaderSize:driverapi.FilterMessageHeaderSize+len(msg)]))
		}
	})
}

func TestGetOverlappedSeveralOutstanding(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 3: several overlapped Gets may be outstanding; each message fills one
		// (oldest first), and each completes on its own event.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		const n = 4
		ovs := make([]*fltlib.Overlapped, n)
		bufs := make([][]byte, n)
		for i := range n {
			ovs[i] = &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
			bufs[i] = make([]byte, 32)
			require.Equal(t, hrPending, p.FilterGetMessage(h, bufs[i], ovs[i]))
		}
		for i := range n {
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte{'m', byte('0' + i)}, nil, nil))
			require.True(t, ovs[i].Event.Signaled())
			for j := i + 1; j < n; j++ {
				require.False(t, ovs[j].Event.Signaled())
			}
			got, err := p.GetOverlappedResult(h, ovs[i], false)
			require.NoError(t, err)
			require.Equal(t, uint32(18), got)
			require.Equal(t, []byte{'m', byte('0' + i)}, bufs[i][driverapi.FilterMessageHeaderSize:18])
		}
	})
}

func TestGetCancelIoEx(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 4: CancelIoEx with an overlapped cancels that request only; with none it
		// cancels every pending Get of the handle; nothing to cancel is ERROR_NOT_FOUND.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		a := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		b := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		bufB := make([]byte, 32)
		require.Equal(t, hrPending, p.FilterGetMessage(h, make([]byte, 32), a))
		require.Equal(t, hrPending, p.FilterGetMessage(h, bufB, b))
		sync := getAsync(p, h, make([]byte, 32))
		requireBlocked(t, sync)

		require.NoError(t, p.CancelIoEx(h, a))
		_, err := p.GetOverlappedResult(h, a, true)
		require.Equal(t, kernel.ERROR_OPERATION_ABORTED, err)
		require.False(t, b.Event.Signaled())
		requireBlocked(t, sync)
		require.Equal(t, kernel.ERROR_NOT_FOUND, p.CancelIoEx(h, a))

		// b is now the oldest and receives the next message.
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("to b"), nil, nil))
		_, err = p.GetOverlappedResult(h, b, true)
		require.NoError(t, err)
		require.Equal(t, "to b", string(bufB[driverapi.FilterMessageHeaderSize:20]))

		require.NoError(t, p.CancelIoEx(h, nil))
		require.Equal(t, hrAborted, <-sync)
		require.Equal(t, kernel.ERROR_NOT_FOUND, p.CancelIoEx(h, nil))
	})
}

func TestGetOverlappedEndings(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 4: closing the whole handle completes pending overlapped Gets with
		// ERROR_OPERATION_ABORTED; a disconnect started by the kernel completes them with
		// ERROR_INVALID_HANDLE (E_HANDLE), and later Gets fail with E_HANDLE at once.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		h1 := connect(t, p)
		h2 := connect(t, p)
		ov1 := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		ov2 := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, hrPending, p.FilterGetMessage(h1, make([]byte, 32), ov1))
		require.Equal(t, hrPending, p.FilterGetMessage(h2, make([]byte, 32), ov2))

		require.NoError(t, p.CloseHandle(h1))
		st, _ := ov1.Result()
		require.Equal(t, kernel.STATUS_CANCELLED, st)
		require.True(t, ov1.Event.Signaled())

		d.FM.CloseClientPort(d.Filter, &d.Conn(1).Port)
		_, err := p.GetOverlappedResult(h2, ov2, true)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(h2, make([]byte, 32), ov2))
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(h2, make([]byte, 32), nil))
		require.NoError(t, p.CloseHandle(h2))
	})
}

func TestReplyBufferArgument(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Reply 1: a reply buffer shorter than 16 bytes is E_INVALIDARG, and the sender
		// goes on waiting for a proper reply.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), make([]byte, 4), nil)
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, kernel.E_INVALIDARG, p.FilterReplyMessage(h, nil))
		full := driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, nil)
		require.Equal(t, kernel.E_INVALIDARG, p.FilterReplyMessage(h, full[:replyHdr-1]))
		requireBlocked(t, r)
		require.Equal(t, kernel.S_OK, p.FilterReplyMessage(h, full))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
	})
}

func TestReplyWithoutWaiter(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Reply 2: id 0, an unknown id, a duplicate reply, a reply to a one-way message
		// and a reply on another connection all get 0x801F0020, and nothing else happens: the
		// real sender still waits and gets the right reply.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		other := connect(t, p)

		// One-way message: no id to reply to.
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("one-way"), nil, nil)
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))

		rb := make([]byte, 8)
		r = sendAsync(context.Background(), d, d.Conn(0), []byte("m"), rb, nil)
		hdr, _ = getMessage(t, p, h, 64)
		require.Equal(t, uint64(1), hdr.MessageId)
		for _, tc := range []struct {
			h  kernel.Handle
			id uint64
		}{{h, 0}, {h, 2}, {h, 1 << 40}, {other, 1}} {
			require.Equal(t, kernel.HRESULT(0x801F0020), reply(p, tc.h, kernel.STATUS_ACCESS_DENIED, tc.id, []byte("wrong")))
			requireBlocked(t, r)
		}
		require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 0}, rb)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, 1, []byte("right")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 5}, <-r)
		require.Equal(t, "right", string(rb[:5]))
		// Duplicate.
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_ACCESS_DENIED, 1, []byte("again")))
		require.Equal(t, "right", string(rb[:5]))
	})
}

func TestReplyNeverWaits(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Reply 4: FilterReplyMessage never waits for the kernel, even with no sender at
		// all. FilterReplyMessage 5: after the kernel closed its endpoint the reply
		// finds no waiter: 0x801F0020, not E_HANDLE.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		done := make(chan kernel.HRESULT, 1)
		go func() { done <- reply(p, h, kernel.STATUS_SUCCESS, 1, nil) }()
		synctest.Wait()
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, <-done)
		d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		require.Equal(t, kernel.HRESULT(0x801F0020), reply(p, h, kernel.STATUS_SUCCESS, 1, nil))
	})
}
