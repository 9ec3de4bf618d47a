package harness_test

// Tests of FltSendMessage (docs/rules.md R-SEND-1…10, R-MODEL-5), of MessageNotify (R-CB-3) and
// of FilterSendMessage (R-USER Send). Everything that waits runs in a synctest bubble.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

func TestSendClearsReplyLengthOnEntry(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-1: the out reply length is 0 on entry, whatever the outcome.
		// R-SEND-2: a nil client-port variable is PORT_DISCONNECTED at once.
		w, d := load(t, nil)
		fm := d.FM
		var empty driverapi.ClientPort
		n := uint32(8)
		start := time.Now()
		st := fm.SendMessage(context.Background(), d.Filter, &empty, []byte("x"), make([]byte, 8), &n, nil)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, st)
		require.Equal(t, uint32(0), n)
		require.Equal(t, time.Duration(0), time.Since(start))

		p := adminProc(w, "svc.exe")
		connect(t, p)
		n = 8
		st = fm.SendMessage(context.Background(), d.Filter, &d.Conn(0).Port, []byte("x"), make([]byte, 8), &n, driverapi.NoWait())
		require.Equal(t, kernel.STATUS_TIMEOUT, st)
		require.Equal(t, uint32(0), n)
	})
}

func TestSendAfterCloseClientPort(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-2, R-CLOSECLI-1: after FltCloseClientPort the variable is nil, and a send on
		// it, even with no timeout, returns PORT_DISCONNECTED without waiting.
		w, d := load(t, nil)
		connect(t, adminProc(w, "svc.exe"))
		c := d.Conn(0)
		d.FM.CloseClientPort(d.Filter, &c.Port)
		require.True(t, c.Port.IsNil())
		start := time.Now()
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-sendAsync(context.Background(), d, c, []byte("x"), make([]byte, 4), nil))
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-sendAsync(context.Background(), d, c, []byte("x"), nil, nil))
		require.Equal(t, time.Duration(0), time.Since(start))
	})
}

func TestSendNilTimeoutWaitsForever(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-3: a nil timeout waits as long as it takes, in both phases.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("scan"), make([]byte, 4), nil)
		time.Sleep(240 * time.Hour)
		requireBlocked(t, r)
		hdr, _ := getMessage(t, p, h, 64)
		time.Sleep(240 * time.Hour)
		requireBlocked(t, r)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 2}, <-r)
	})
}

func TestSendZeroTimeoutDoesNotWait(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-3 (Decision): a zero timeout does not wait at all.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		c := d.Conn(0)
		start := time.Now()

		// No receiver: TIMEOUT at once, and the message is never delivered (R-SEND-5).
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, c, []byte("lost"), make([]byte, 4), driverapi.NoWait()))
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, c, []byte("lost"), nil, driverapi.NoWait()))
		buf := make([]byte, 64)
		g := getAsync(p, h, buf)
		requireBlocked(t, g)

		// A receiver waiting: a one-way message is delivered and the send succeeds.
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, c, []byte("one-way"), nil, driverapi.NoWait()))
		require.Equal(t, kernel.S_OK, <-g)
		require.Equal(t, "one-way", string(buf[msgHdr:msgHdr+7]))

		// A receiver waiting and a reply expected: delivered, but the send does not wait for
		// the reply: TIMEOUT with out length 0, and the reply comes too late (R-SEND-9).
		g = getAsync(p, h, buf)
		requireBlocked(t, g)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, c, []byte("verdict?"), make([]byte, 4), driverapi.NoWait()))
		require.Equal(t, kernel.S_OK, <-g)
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		require.NotEqual(t, uint64(0), hdr.MessageId)
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok")))
		require.Equal(t, time.Duration(0), time.Since(start))
	})
}

func TestSendRelativeTimeout(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-3: a negative timeout is relative, in 100 ns units.
		w, d := load(t, nil)
		connect(t, adminProc(w, "svc.exe"))
		timeout := driverapi.RelativeTimeout(3 * time.Second)
		require.Equal(t, int64(-30_000_000), *timeout)
		start := time.Now()
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("x"), make([]byte, 4), timeout)
		time.Sleep(3*time.Second - time.Nanosecond)
		requireBlocked(t, r)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
		require.Equal(t, 3*time.Second, time.Since(start))
	})
}

func TestSendAbsoluteTimeout(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-3: a positive timeout is an absolute system time.
		w, d := load(t, nil)
		connect(t, adminProc(w, "svc.exe"))
		start := time.Now()
		at := start.Add(5 * time.Second)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("x"), make([]byte, 4), driverapi.AbsoluteTimeout(at))
		time.Sleep(5*time.Second - time.Microsecond)
		requireBlocked(t, r)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
		require.Equal(t, 5*time.Second, time.Since(start))

		// A time already past does not wait.
		past := time.Now().Add(-time.Hour)
		require.Greater(t, *driverapi.AbsoluteTimeout(past), int64(0))
		now := time.Now()
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("x"), make([]byte, 4), driverapi.AbsoluteTimeout(past)))
		require.Equal(t, time.Duration(0), time.Since(now))
	})
}

func TestSendOneDeadlineForBothPhases(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-3: one deadline covers the delivery and the reply phase.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		start := time.Now()
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("x"), make([]byte, 4), driverapi.RelativeTimeout(10*time.Second))
		time.Sleep(4 * time.Second)
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
		require.Equal(t, 10*time.Second, time.Since(start))
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))
	})
}

// ovGet issues an overlapped FilterGetMessage of size bytes and checks it is pending.
func ovGet(t *testing.T, p *harness.Process, h kernel.Handle, size int) (*fltlib.Overlapped, []byte) {
	t.Helper()
	ov := &fltlib.Overlapped{}
	buf := make([]byte, size)
	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(h, buf, ov))
	return ov, buf
}

// requireResult checks an overlapped request's status and byte count (after the bubble settled).
func requireResult(t *testing.T, ov *fltlib.Overlapped, st kernel.NTSTATUS, n uint32) {
	t.Helper()
	synctest.Wait()
	gst, gn := ov.Result()
	require.Equal(t, st, gst)
	require.Equal(t, n, gn)
}

func TestSendFirstFitTakesOldestLargeEnoughGet(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-4a: the sender takes the oldest pending Get that is large enough for 16 +
		// len(msg); smaller pending Gets are left alone and stay pending for other messages.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		msg := []byte("0123456789") // needs 26 bytes
		small := getAsync(p, h, make([]byte, 25))
		synctest.Wait()
		ovFit, fit := ovGet(t, p, h, 26)
		ovBig, _ := ovGet(t, p, h, 40)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), msg, nil, nil))
		requireResult(t, ovFit, kernel.STATUS_SUCCESS, 26)
		require.Equal(t, msg, fit[msgHdr:])
		requireBlocked(t, small)
		requireResult(t, ovBig, kernel.STATUS_PENDING, 0)

		// The small Get, still the oldest, takes the next message that fits it.
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("short"), nil, nil))
		require.Equal(t, kernel.S_OK, <-small)
		requireResult(t, ovBig, kernel.STATUS_PENDING, 0)
		require.NoError(t, p.CancelIoEx(h, ovBig))
		requireResult(t, ovBig, kernel.STATUS_CANCELLED, 0)
	})
}

func TestSendRefusesOnlyTheOldestGetWhenNoneFits(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-4b: with Gets pending and none large enough, the sender completes the oldest
		// one with BUFFER_TOO_SMALL and the size needed (16 + len), one Get per refusal; the
		// others stay pending. A synchronous Get sees 0x8007007A; an overlapped one's
		// completion reports the size needed and GetOverlappedResult gives
		// ERROR_INSUFFICIENT_BUFFER.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		sync20 := getAsync(p, h, make([]byte, 20))
		synctest.Wait()
		ov24, _ := ovGet(t, p, h, 24)
		ov30, _ := ovGet(t, p, h, 30)
		r1 := sendAsync(context.Background(), d, d.Conn(0), make([]byte, 40), make([]byte, 4), nil) // needs 56
		require.Equal(t, kernel.HRESULT(0x8007007A), <-sync20)
		requireBlocked(t, r1)
		requireResult(t, ov24, kernel.STATUS_PENDING, 0)
		requireResult(t, ov30, kernel.STATUS_PENDING, 0)

		r2 := sendAsync(context.Background(), d, d.Conn(0), make([]byte, 50), nil, nil) // needs 66
		requireResult(t, ov24, kernel.STATUS_BUFFER_TOO_SMALL, 66)
		n, err := p.GetOverlappedResult(h, ov24, false)
		require.Equal(t, kernel.ERROR_INSUFFICIENT_BUFFER, err)
		require.Equal(t, uint32(66), n)
		requireResult(t, ov30, kernel.STATUS_PENDING, 0)
		requireBlocked(t, r2)

		// Both messages are intact for Gets large enough (R-SEND-4d), oldest sender first.
		hdr, payload := getMessage(t, p, h, 100)
		require.Equal(t, make([]byte, 40), payload[:40])
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: 20, MessageId: 1}, hdr)
		_, payload = getMessage(t, p, h, 66)
		require.Len(t, payload, 50)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r2)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, 1, []byte("ok")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 2}, <-r1)
		require.NoError(t, p.CancelIoEx(h, ov30))
	})
}

func TestSendRefusedSenderWaitsForALargeEnoughGet(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-4c: a refused sender waits only for a Get at least as large as it needs:
		// smaller Gets that arrive later neither go to it nor fail because of it; they go to
		// other senders whose message fits, or stay pending.
		// R-SEND-4d: the message is never lost or truncated: a later Get receives it intact.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		msg := []byte("a message of forty bytes, give or take.!")
		require.Len(t, msg, 40)
		g := getAsync(p, h, make([]byte, 32))
		synctest.Wait()
		r := sendAsync(context.Background(), d, d.Conn(0), msg, make([]byte, 4), nil)
		require.Equal(t, kernel.HRESULT(0x8007007A), <-g)
		requireBlocked(t, r)

		// Smaller Gets now stay pending: no second refusal for the same sender.
		g55 := getAsync(p, h, make([]byte, 55))
		requireBlocked(t, g55)
		ovHdr, _ := ovGet(t, p, h, msgHdr)
		requireResult(t, ovHdr, kernel.STATUS_PENDING, 0)
		requireBlocked(t, r)

		// A smaller message arriving meanwhile takes the oldest pending Get that fits it: it
		// is not starved by the oversized one.
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("small"), nil, nil))
		require.Equal(t, kernel.S_OK, <-g55)
		requireResult(t, ovHdr, kernel.STATUS_PENDING, 0)

		hdr, payload := getMessage(t, p, h, 56)
		require.Equal(t, msg, payload)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: replyHdr + 4, MessageId: 1}, hdr)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, 1, []byte("done")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 4}, <-r)
		require.NoError(t, p.CancelIoEx(h, ovHdr))
		requireResult(t, ovHdr, kernel.STATUS_CANCELLED, 0)
	})
}

func TestSendGetGoesToTheOldestSenderItFits(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-4c (Decision): a Get that arrives while several senders wait goes to the
		// oldest waiting sender whose message fits; only if none fits is it refused, for the
		// oldest sender not yet refused; when every waiting sender was refused once, it stays
		// pending.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		big := make([]byte, 100) // needs 116
		rBig := sendAsync(context.Background(), d, d.Conn(0), big, nil, nil)
		synctest.Wait()
		rSmall := sendAsync(context.Background(), d, d.Conn(0), []byte("five!"), nil, nil) // needs 21
		requireBlocked(t, rSmall)
		requireBlocked(t, rBig)

		_, payload := getMessage(t, p, h, 64) // the big one does not fit: the small one does
		require.Equal(t, []byte("five!"), payload[:5])
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-rSmall)

		rMid := sendAsync(context.Background(), d, d.Conn(0), make([]byte, 50), nil, nil) // needs 66
		requireBlocked(t, rMid)
		ov32, _ := ovGet(t, p, h, 32) // fits nobody: refused for the oldest, the big one
		requireResult(t, ov32, kernel.STATUS_BUFFER_TOO_SMALL, 116)
		ov40, _ := ovGet(t, p, h, 40) // fits nobody: refused for the next one, rMid
		requireResult(t, ov40, kernel.STATUS_BUFFER_TOO_SMALL, 66)
		ov48, _ := ovGet(t, p, h, 48) // both refused once: it stays pending
		requireResult(t, ov48, kernel.STATUS_PENDING, 0)

		rTiny := sendAsync(context.Background(), d, d.Conn(0), []byte("x"), nil, nil)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-rTiny)
		requireResult(t, ov48, kernel.STATUS_SUCCESS, 17)

		_, payload = getMessage(t, p, h, 200)
		require.Equal(t, big, payload[:100])
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-rBig)
		_, payload = getMessage(t, p, h, 66)
		require.Len(t, payload, 50)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-rMid)
	})
}

func TestSendZeroTimeoutRefusesTheOldestGet(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-4b with R-SEND-3: a send that does not wait still refuses the oldest pending
		// Get when none is large enough, then returns TIMEOUT; the message is not delivered
		// later (R-SEND-5).
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		ov, _ := ovGet(t, p, h, msgHdr)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("x"), nil, driverapi.NoWait()))
		requireResult(t, ov, kernel.STATUS_BUFFER_TOO_SMALL, msgHdr+1)
		g := getAsync(p, h, make([]byte, 64))
		requireBlocked(t, g)
		require.NoError(t, p.CancelIoEx(h, nil))
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED), <-g)
	})
}

func TestSendDeliveryPhaseTimeoutNeverDelivers(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-5: the deadline passing in the delivery phase is TIMEOUT and the message is
		// never delivered: a later Get receives the next message, not that one.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0},
			<-sendAsync(context.Background(), d, d.Conn(0), []byte("first"), make([]byte, 4), driverapi.RelativeTimeout(2*time.Second)))
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0},
			<-sendAsync(context.Background(), d, d.Conn(0), []byte("one-way"), nil, driverapi.RelativeTimeout(time.Second)))
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		buf := make([]byte, 64)
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(h, buf, ov))
		time.Sleep(time.Minute)
		synctest.Wait()
		st, _ := ov.Result()
		require.Equal(t, kernel.STATUS_PENDING, st)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("second"), make([]byte, 4), nil)
		n, err := p.GetOverlappedResult(h, ov, true)
		require.NoError(t, err)
		require.Equal(t, uint32(msgHdr+6), n)
		require.Equal(t, "second", string(buf[msgHdr:n]))
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		require.Equal(t, uint32(20), hdr.ReplyLength)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
	})
}

func TestSendOneWay(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-6: a one-way message has ReplyLength 0 and MessageId 0, the send returns
		// SUCCESS once it is copied, and nobody can reply to it.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("log line"), nil, nil)
		requireBlocked(t, r)
		hdr, payload := getMessage(t, p, h, 64)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: 0, MessageId: 0}, hdr)
		require.Equal(t, "log line", string(payload[:8]))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, 0, nil))
		// A one-way message uses no id: the next message with a reply is number 1.
		r = sendAsync(context.Background(), d, d.Conn(0), []byte("q"), make([]byte, 1), nil)
		hdr, _ = getMessage(t, p, h, 64)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: 17, MessageId: 1}, hdr)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, 1, []byte{1}))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 1}, <-r)
	})
}

func TestSendMessageIdsAndReplyLength(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-7: MessageId counts from 1 per connection and is never reused (not even after
		// a timeout); ReplyLength is the reply capacity plus 16.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		for i, capacity := range []int{1, 8, 1000, 0x10000} {
			r := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), make([]byte, capacity), driverapi.RelativeTimeout(time.Second))
			hdr, _ := getMessage(t, p, h, 64)
			require.Equal(t, uint64(i+1), hdr.MessageId)
			require.Equal(t, uint32(replyHdr+capacity), hdr.ReplyLength)
			if i == 1 {
				// Let this one time out in the reply phase: its id is not given again.
				require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
				continue
			}
			require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
		}
	})
}

func TestSendFastReply(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-7: the reply waiter is registered before the receiver is completed, so a
		// reply made the moment the Get returns is never missed, whichever goroutine delivers.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		for i := range 20 {
			want := fmt.Sprintf("v%02d", i)
			var r <-chan sendResult
			buf := make([]byte, 64)
			if i%2 == 0 {
				// The sender waits; the user's Get delivers it and replies on the same goroutine.
				r = sendAsync(context.Background(), d, d.Conn(0), []byte("m"), make([]byte, 8), nil)
				synctest.Wait()
				require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, buf, nil))
			} else {
				// The Get waits; the sender completes it and the user replies at once.
				ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
				require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(h, buf, ov))
				r = sendAsync(context.Background(), d, d.Conn(0), []byte("m"), make([]byte, 8), nil)
				require.NoError(t, ov.Event.Wait(context.Background()))
			}
			hdr, _ := driverapi.ParseFilterMessageHeader(buf)
			require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte(want)))
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 3}, <-r)
		}
	})
}

func TestSendReplyPayload(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-8: the reply header is stripped: the reply buffer gets the payload only, the
		// out length is the bytes copied, and a reply shorter than the capacity is fine.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		for _, payload := range [][]byte{[]byte("verdict"), {}, []byte("exactly sixteen!")} {
			rb := make([]byte, 16)
			for i := range rb {
				rb[i] = 0xEE
			}
			r := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), rb, nil)
			hdr, _ := getMessage(t, p, h, 64)
			require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, payload))
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, uint32(len(payload))}, <-r)
			require.Equal(t, payload, rb[:len(payload)])
			for _, b := range rb[len(payload):] {
				require.Equal(t, byte(0xEE), b, "bytes past the reply are untouched")
			}
		}
	})
}

func TestSendReplyStatusPassthrough(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-8: the send returns the Status the user put in the reply header, whatever it
		// is, including STATUS_TIMEOUT itself and values with no meaning to Windows.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		for _, status := range []kernel.NTSTATUS{kernel.STATUS_ACCESS_DENIED, kernel.STATUS_TIMEOUT,
			kernel.STATUS_PENDING, kernel.STATUS_BUFFER_OVERFLOW, 0xE0001234, 0x00000001, kernel.STATUS_SUCCESS} {
			r := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), make([]byte, 4), nil)
			hdr, _ := getMessage(t, p, h, 64)
			require.Equal(t, kernel.S_OK, reply(p, h, status, hdr.MessageId, []byte("ab")))
			require.Equal(t, sendResult{status, 2}, <-r, "status %v", status)
		}
	})
}

func TestSendReplyTruncated(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-8, R-USER Reply 3: a payload longer than the capacity is truncated: the send
		// returns BUFFER_OVERFLOW, the user's FilterReplyMessage 0x800700EA.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		rb := make([]byte, 4)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), rb, nil)
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, uint32(20), hdr.ReplyLength)
		require.Equal(t, kernel.HRESULT(0x800700EA), reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("0123456789")))
		require.Equal(t, sendResult{kernel.STATUS_BUFFER_OVERFLOW, 4}, <-r)
		require.Equal(t, []byte("0123"), rb)
		// The waiter is gone: replying again is too late.
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))
	})
}

func TestSendReplyPhaseTimeout(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-9: the deadline passing in the reply phase is TIMEOUT with out length 0; the
		// waiter is removed, so a late reply gets 0x801F0020 and changes nothing.
		// R-SEND-10: the sender never sees FLT_NO_WAITER_FOR_REPLY.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		rb := []byte{9, 9, 9, 9}
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), rb, driverapi.RelativeTimeout(30*time.Second))
		hdr, _ := getMessage(t, p, h, 64)
		res := <-r
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, res)
		require.NotEqual(t, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, res.st)
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("late")))
		require.Equal(t, []byte{9, 9, 9, 9}, rb)
		// The connection goes on working.
		r = sendAsync(context.Background(), d, d.Conn(0), []byte("m"), rb, driverapi.RelativeTimeout(30*time.Second))
		hdr, _ = getMessage(t, p, h, 64)
		require.Equal(t, uint64(2), hdr.MessageId)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, 2, []byte("ok")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 2}, <-r)
	})
}

// TestSendEndings checks every way a send can end early, in each phase (R-SEND-5, R-SEND-9):
// the deadline (TIMEOUT), a disconnect by the user, the process, the driver or the unload
// (PORT_DISCONNECTED), and the sending thread terminating (THREAD_IS_TERMINATING). None of them
// is ever FLT_NO_WAITER_FOR_REPLY (R-SEND-10).
func TestSendEndings(t *testing.T) {
	type ender func(t *testing.T, w *harness.World, d *testdriver.Driver, p *harness.Process, h kernel.Handle, cancel context.CancelFunc)
	enders := []struct {
		name string
		end  ender
		want kernel.NTSTATUS
	}{
		{"deadline", func(t *testing.T, _ *harness.World, _ *testdriver.Driver, _ *harness.Process, _ kernel.Handle, _ context.CancelFunc) {
			time.Sleep(time.Hour)
		}, kernel.STATUS_TIMEOUT},
		{"user CloseHandle", func(t *testing.T, _ *harness.World, _ *testdriver.Driver, p *harness.Process, h kernel.Handle, _ context.CancelFunc) {
			require.NoError(t, p.CloseHandle(h))
		}, kernel.STATUS_PORT_DISCONNECTED},
		{"process exit", func(t *testing.T, _ *harness.World, _ *testdriver.Driver, p *harness.Process, _ kernel.Handle, _ context.CancelFunc) {
			p.Exit(1)
		}, kernel.STATUS_PORT_DISCONNECTED},
		{"FltCloseClientPort", func(t *testing.T, _ *harness.World, d *testdriver.Driver, _ *harness.Process, _ kernel.Handle, _ context.CancelFunc) {
			d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		}, kernel.STATUS_PORT_DISCONNECTED},
		{"unload", func(t *testing.T, w *harness.World, _ *testdriver.Driver, _ *harness.Process, _ kernel.Handle, _ context.CancelFunc) {
			require.NoError(t, w.Unload("test"))
		}, kernel.STATUS_PORT_DISCONNECTED},
		{"thread terminating", func(t *testing.T, _ *harness.World, _ *testdriver.Driver, _ *harness.Process, _ kernel.Handle, cancel context.CancelFunc) {
			cancel()
		}, kernel.STATUS_THREAD_IS_TERMINATING},
	}
	for _, phase := range []string{"delivery", "reply"} {
		for _, e := range enders {
			t.Run(phase+"/"+e.name, func(t *testing.T) {
				bubble(t, func(t *testing.T) {
					w, d := load(t, nil)
					p := adminProc(w, "svc.exe")
					h := connect(t, p)
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					rb := []byte{7, 7, 7, 7}
					start := time.Now()
					r := sendAsync(ctx, d, d.Conn(0), []byte("m"), rb, driverapi.RelativeTimeout(time.Minute))
					var hdr driverapi.FilterMessageHeader
					if phase == "reply" {
						hdr, _ = getMessage(t, p, h, 64)
					}
					requireBlocked(t, r)
					e.end(t, w, d, p, h, cancel)
					res := <-r
					require.Equal(t, sendResult{e.want, 0}, res)
					require.NotEqual(t, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, res.st)
					require.Equal(t, []byte{7, 7, 7, 7}, rb)
					if e.want != kernel.STATUS_TIMEOUT {
						require.Less(t, time.Since(start), time.Minute)
					}
					switch {
					case e.want == kernel.STATUS_PORT_DISCONNECTED:
						// The connection is over: nothing more to check on the user side.
					case phase == "reply":
						// The waiter is gone: the user's reply comes too late (R-SEND-9).
						require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))
					default:
						// The message was never delivered (R-SEND-5): a Get stays pending.
						g := getAsync(p, h, make([]byte, 64))
						requireBlocked(t, g)
						require.NoError(t, p.CancelIoEx(h, nil))
						require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED), <-g)
					}
				})
			})
		}
	}
}

func TestModelMessagesAreNotBuffered(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-5: a kernel message is copied straight into a waiting receiver's buffer; with
		// no receiver the sender waits (a one-way send too), and nothing is queued for later
		// once it gave up.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("waiting"), nil, nil)
		time.Sleep(time.Hour)
		requireBlocked(t, r)
		buf := make([]byte, 64)
		require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, buf, nil))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
		require.Equal(t, "waiting", string(buf[msgHdr:msgHdr+7]))
	})
}

// ---- R-CB-3 and R-USER Send ----

func TestMessageNotifyUsesCallerGoroutineAndBuffers(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CB-3: MessageNotify runs on the user's calling goroutine, with the user's own
		// buffers (not copies): what the driver writes into output the caller sees, and input
		// is the caller's backing array. R-USER Send 4: the HRESULT and the byte count are the
		// callback's.
		var g string
		var inPtr, outPtr *byte
		var inLen, outLen int
		d := &testdriver.Driver{OnMessage: func(_ context.Context, _ *testdriver.Conn, in, out []byte) (uint32, kernel.NTSTATUS) {
			g = goid()
			inPtr, outPtr = unsafe.SliceData(in), unsafe.SliceData(out)
			inLen, outLen = len(in), len(out)
			copy(out, "from the driver")
			return 15, kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		in := []byte("request")
		out := make([]byte, 32)
		var n uint32
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, in, out, &n))
		require.Equal(t, goid(), g)
		require.Same(t, unsafe.SliceData(in), inPtr)
		require.Same(t, unsafe.SliceData(out), outPtr)
		require.Equal(t, 7, inLen)
		require.Equal(t, 32, outLen)
		require.Equal(t, uint32(15), n)
		require.Equal(t, "from the driver", string(out[:n]))
		require.Equal(t, int32(1), d.Messages.Load())
	})
}

func TestMessageNotifyRunsConcurrently(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CB-3: MessageNotify runs on many user goroutines at once: every call below waits
		// inside the callback until all of them are inside, which only works if they run
		// concurrently (otherwise the bubble deadlocks and the test fails).
		const callers = 8
		var inside atomic.Int32
		all := make(chan struct{})
		d := &testdriver.Driver{OnMessage: func(_ context.Context, _ *testdriver.Conn, in, out []byte) (uint32, kernel.NTSTATUS) {
			if inside.Add(1) == callers {
				close(all)
			}
			<-all
			return uint32(copy(out, in)), kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		var wg sync.WaitGroup
		results := make([]kernel.HRESULT, callers)
		outs := make([][]byte, callers)
		for i := range callers {
			wg.Go(func() {
				outs[i] = make([]byte, 8)
				var n uint32
				results[i] = p.FilterSendMessage(h, []byte{byte(i)}, outs[i], &n)
				outs[i] = outs[i][:n]
			})
		}
		wg.Wait()
		for i := range callers {
			require.Equal(t, kernel.S_OK, results[i])
			require.Equal(t, []byte{byte(i)}, outs[i])
		}
		require.Equal(t, int32(callers), d.Messages.Load())
	})
}

func TestMessageNotifyStatusMapping(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CB-3: STATUS_BUFFER_TOO_SMALL from the callback is 0x8007007A for the user.
		// R-USER Send 4: other statuses map through R-HR, with the byte count reported.
		var status kernel.NTSTATUS
		var ret uint32
		d := &testdriver.Driver{OnMessage: func(_ context.Context, _ *testdriver.Conn, in, out []byte) (uint32, kernel.NTSTATUS) {
			return ret, status
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		for _, tc := range []struct {
			st   kernel.NTSTATUS
			n    uint32
			want kernel.HRESULT
		}{
			{kernel.STATUS_BUFFER_TOO_SMALL, 0, 0x8007007A},
			{kernel.STATUS_INVALID_PARAMETER, 0, kernel.E_INVALIDARG},
			{kernel.STATUS_DATATYPE_MISALIGNMENT, 0, 0x800703E6},
			{kernel.STATUS_NO_MORE_ENTRIES, 0, 0x80070103},
			{kernel.STATUS_BUFFER_OVERFLOW, 8, 0x800700EA},
			{kernel.STATUS_SUCCESS, 3, kernel.S_OK},
		} {
			status, ret = tc.st, tc.n
			var n uint32 = 99
			require.Equal(t, tc.want, p.FilterSendMessage(h, []byte("cmd"), make([]byte, 8), &n), "status %v", tc.st)
			require.Equal(t, tc.n, n)
		}
	})
}

func TestFilterSendMessageArguments(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Send 1: input nil or empty is E_INVALIDARG and the callback does not run.
		// R-USER Send 3: once disconnected, E_HANDLE.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		var n uint32 = 5
		require.Equal(t, kernel.E_INVALIDARG, p.FilterSendMessage(h, nil, make([]byte, 4), &n))
		require.Equal(t, uint32(0), n)
		require.Equal(t, kernel.E_INVALIDARG, p.FilterSendMessage(h, []byte{}, make([]byte, 4), nil))
		require.Equal(t, int32(0), d.Messages.Load())
		// No output buffer is fine: the callback gets an empty one.
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("x"), nil, &n))
		require.Equal(t, uint32(0), n)
		require.Equal(t, int32(1), d.Messages.Load())

		d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		require.Equal(t, kernel.E_HANDLE, p.FilterSendMessage(h, []byte("x"), make([]byte, 4), &n))
		require.Equal(t, int32(1), d.Messages.Load())
	})
}

func TestFilterSendMessageWithoutMessageNotify(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Send 2 (Decision): a port without MessageNotify gives
		// HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED).
		w, _ := load(t, &testdriver.Driver{NoMessage: true})
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		var n uint32
		require.Equal(t, kernel.HRESULT(0x80070032), p.FilterSendMessage(h, []byte("x"), make([]byte, 4), &n))
		require.Equal(t, uint32(0), n)
	})
}

func TestSendNilReplyBufferIsOneWay(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-6: a nil reply buffer makes a one-way send whatever *ReplyLength held:
		// it is read, zeroed and ignored, and no violation is reported.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		n := uint32(64)
		r := make(chan kernel.NTSTATUS, 1)
		go func() {
			r <- d.FM.SendMessage(context.Background(), d.Filter, &d.Conn(0).Port, []byte("log"), nil, &n, nil)
		}()
		hdr, payload := getMessage(t, p, h, msgHdr+3)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: 0, MessageId: 0}, hdr)
		require.Equal(t, []byte("log"), payload)
		require.Equal(t, kernel.STATUS_SUCCESS, <-r)
		require.Equal(t, uint32(0), n)
		require.Empty(t, w.Violations())
	})
}

func TestSendZeroCapacityIsStatusOnlyReply(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-7: capacity 0 with a reply buffer waits for a status-only reply: the
		// user sees ReplyLength 16; a reply with no payload returns its status; a payload is
		// truncated to 0 bytes: the kernel gets BUFFER_OVERFLOW, the user 0x800700EA.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("q"), make([]byte, 4)[:0], nil)
		hdr, _ := getMessage(t, p, h, msgHdr+1)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: replyHdr, MessageId: 1}, hdr)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_VIRUS_INFECTED, 1, nil))
		require.Equal(t, sendResult{kernel.STATUS_VIRUS_INFECTED, 0}, <-r)

		r = sendAsync(context.Background(), d, d.Conn(0), []byte("q"), make([]byte, 0), nil)
		hdr, _ = getMessage(t, p, h, msgHdr+1)
		require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: replyHdr, MessageId: 2}, hdr)
		require.Equal(t, kernel.HRESULT(0x800700EA), reply(p, h, kernel.STATUS_SUCCESS, 2, []byte("payload")))
		require.Equal(t, sendResult{kernel.STATUS_BUFFER_OVERFLOW, 0}, <-r)
		require.Empty(t, w.Violations())
	})
}

func TestSendNeverProducesNoWaiter(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-10: FltSendMessage itself never returns FLT_NO_WAITER_FOR_REPLY; a
		// user who writes 0xC01C0020 into its reply header gets it returned (R-SEND-8).
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("q"), make([]byte, 4), driverapi.RelativeTimeout(time.Second))
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, hdr.MessageId, []byte("ab")))
		require.Equal(t, sendResult{kernel.NTSTATUS(0xC01C0020), 2}, <-r)
	})
}

func TestSendDeadlineWinsATie(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-11: when the deadline and a reply arrive at the same fake instant the
		// send returns TIMEOUT with out length 0 and the user's reply gets 0x801F0020. The same
		// for a Get arriving at the deadline: the message is not delivered (R-SEND-5).
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		start := time.Now()
		rb := []byte{5, 5}
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("q"), rb, driverapi.RelativeTimeout(5*time.Second))
		hdr, _ := getMessage(t, p, h, 64)
		time.Sleep(5 * time.Second)
		require.Equal(t, 5*time.Second, time.Since(start))
		require.Equal(t, kernel.HRESULT(0x801F0020), reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok")))
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
		require.Equal(t, []byte{5, 5}, rb)

		start = time.Now()
		r = sendAsync(context.Background(), d, d.Conn(0), []byte("late"), nil, driverapi.RelativeTimeout(5*time.Second))
		time.Sleep(5 * time.Second)
		ov, _ := ovGet(t, p, h, 64)
		require.Equal(t, sendResult{kernel.STATUS_TIMEOUT, 0}, <-r)
		requireResult(t, ov, kernel.STATUS_PENDING, 0)
		require.Equal(t, 5*time.Second, time.Since(start))
		require.NoError(t, p.CancelIoEx(h, ov))
	})
}

func TestFilterSendMessageBytesOnlyForSuccessAndWarnings(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// FilterSendMessage 4: the bytes MessageNotify reported reach the user only for
		// a success or warning status; for an error status *lpBytesReturned is 0. The callback's
		// BUFFER_TOO_SMALL becomes the warning 0x801C0001, so its count (the size needed)
		// reaches the user, with 0x8007007A.
		var status kernel.NTSTATUS
		d := &testdriver.Driver{OnMessage: func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			return 6, status
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		for _, tc := range []struct {
			st   kernel.NTSTATUS
			hr   kernel.HRESULT
			want uint32
		}{
			{kernel.STATUS_SUCCESS, kernel.S_OK, 6},
			{kernel.STATUS_BUFFER_OVERFLOW, 0x800700EA, 6},
			{kernel.STATUS_BUFFER_TOO_SMALL, 0x8007007A, 6},
			{kernel.STATUS_ACCESS_DENIED, 0x80070005, 0},
			{kernel.STATUS_INVALID_PARAMETER, 0x80070057, 0},
		} {
			status = tc.st
			n := uint32(99)
			require.Equal(t, tc.hr, p.FilterSendMessage(h, []byte("q"), make([]byte, 8), &n), "%v", tc.st)
			require.Equal(t, tc.want, n, "%v", tc.st)
		}
	})
}

func TestMessageNotifySizeNeededIsNoViolation(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Send 4 / R-VERIFY-5: with STATUS_BUFFER_TOO_SMALL the count is the size the
		// answer needs, larger than the buffer by definition; fltmgr reports it to the user
		// (0x8007007A and the size) and copies nothing, so it is no violation. With a success
		// status the same count is R-VERIFY-5 and is clamped to the buffer.
		var status kernel.NTSTATUS
		d := &testdriver.Driver{OnMessage: func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			return 100, status
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		status = kernel.STATUS_BUFFER_TOO_SMALL
		n := uint32(99)
		require.Equal(t, kernel.HRESULT(0x8007007A), p.FilterSendMessage(h, []byte("q"), make([]byte, 8), &n))
		require.Equal(t, uint32(100), n)
		require.Empty(t, w.Violations())

		status = kernel.STATUS_SUCCESS
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("q"), make([]byte, 8), &n))
		require.Equal(t, uint32(8), n)
		w.ExpectViolation(kernel.RuleVerify5).Containing("MessageNotify reported 100 output bytes for a 8-byte buffer")
	})
}

func TestMessageNotifyReturningPending(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-VERIFY-8: a MessageNotify that returns STATUS_PENDING would leave
		// FilterSendMessage waiting forever on Windows; the emulator reports it and the user's
		// call returns 0x800703E5 with no bytes.
		d := &testdriver.Driver{OnMessage: func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			return 4, kernel.STATUS_PENDING
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		n := uint32(99)
		require.Equal(t, kernel.HRESULT(0x800703E5), p.FilterSendMessage(h, []byte("q"), make([]byte, 8), &n))
		require.Equal(t, uint32(0), n)
		w.ExpectViolation(kernel.RuleVerify8).Containing("MessageNotify returned STATUS_PENDING")
	})
}

func TestGetOverlappedResultWaitsWithoutAnEvent(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Get 3: GetOverlappedResult with bWait and an OVERLAPPED without an
		// event waits on the handle, as documented, instead of failing.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		ov := &fltlib.Overlapped{} // no Event
		buf := make([]byte, 64)
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(h, buf, ov))
		_, err := p.GetOverlappedResult(h, ov, false)
		require.Equal(t, kernel.ERROR_IO_INCOMPLETE, err)
		type res struct {
			n   uint32
			err error
		}
		got := make(chan res, 1)
		go func() { n, err := p.GetOverlappedResult(h, ov, true); got <- res{n, err} }()
		requireBlocked(t, got)
		time.Sleep(time.Hour)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("hello"), nil, nil))
		require.Equal(t, res{msgHdr + 5, nil}, <-got)
		require.Equal(t, "hello", string(buf[msgHdr:msgHdr+5]))
	})
}
