package harness_test

// Tests of what a failure tells its reader: which call failed, why, and what to fix. A refused
// call is in the trace with its reason; a reply to an id that was never issued points at the
// missing FILTER_REPLY_HEADER; names print as the driver wrote them; a failed load names the
// routine that failed inside DriverEntry.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// refusals returns the trace's EvRoutineFailed events as "process|status|detail" lines.
func refusals(w *harness.World) []string {
	var out []string
	for _, e := range w.Trace().Filter(kernel.EvRoutineFailed) {
		out = append(out, e.Process+e.Driver+"|"+e.Status+"|"+e.Detail)
	}
	return out
}

// A user-mode call that fails an argument or handle check returns the HRESULT (or Win32
// error) Windows returns, and leaves an EvRoutineFailed event in the trace that says which
// argument and why (R-USER Get 1, R-USER Reply 1, R-USER Connect 1, R-IOCP).
func TestRefusedUserCallsAreTracedWithTheReason(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, _ := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		h := connect(t, p)

		require.Equal(t, kernel.E_INVALIDARG, p.FilterReplyMessage(h, make([]byte, 8)))
		require.Equal(t, kernel.E_INVALIDARG, p.FilterGetMessage(h, make([]byte, 15), nil))
		require.Equal(t, kernel.E_INVALIDARG, p.FilterSendMessage(h, nil, nil, nil))
		_, hr := p.FilterConnectCommunicationPort(testPort, 0, []byte{1}, 0, nil)
		require.Equal(t, kernel.E_INVALIDARG, hr)
		_, hr = p.FilterConnectCommunicationPort(testPort, 2, nil, 0, nil)
		require.Equal(t, kernel.E_INVALIDARG, hr)

		sh, hr := p.FilterConnectCommunicationPort(testPort, driverapi.FLT_PORT_FLAG_SYNC_HANDLE, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		_, err := p.CreateIoCompletionPort(sh, 0, 1, 0)
		require.Equal(t, kernel.ERROR_INVALID_PARAMETER, err)
		require.NoError(t, p.CloseHandle(sh))
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(sh, make([]byte, 64), nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p.CloseHandle(sh))

		const svc = "svc.exe (pid 8)"
		require.Equal(t, []string{
			svc + "|E_INVALIDARG (0x80070057)|FilterReplyMessage: the 8-byte buffer is shorter than FILTER_REPLY_HEADER " +
				"(16 bytes: Status, MessageId), which comes before the reply: build it with driverapi.NewFilterReply",
			svc + "|E_INVALIDARG (0x80070057)|FilterGetMessage: the 15-byte buffer is shorter than FILTER_MESSAGE_HEADER " +
				"(16 bytes), which comes before the message",
			svc + "|E_INVALIDARG (0x80070057)|FilterSendMessage: the input buffer is empty: a message has at least one byte",
			svc + "|E_INVALIDARG (0x80070057)|FilterConnectCommunicationPort: wSizeOfContext is 0 with a 1-byte lpContext: pass nil for no context",
			svc + "|E_INVALIDARG (0x80070057)|FilterConnectCommunicationPort: unknown dwOptions bits 0x2 (only FLT_PORT_FLAG_SYNC_HANDLE, 0x1, is defined)",
			svc + "|ERROR_INVALID_PARAMETER (87)|CreateIoCompletionPort: the handle was opened with FLT_PORT_FLAG_SYNC_HANDLE: " +
				"a synchronous handle cannot join a completion port",
			svc + "|E_HANDLE (0x80070006)|FilterGetMessage: handle 0x80008 is not open in this process (closed already, or another process's value)",
			svc + "|ERROR_INVALID_HANDLE (6)|CloseHandle: handle 0x80008 is not open in this process (closed already, or another process's value)",
		}, refusals(w))

		// A handle of the wrong type says what it is.
		cp, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		require.Equal(t, kernel.HRESULT(0x80070006), p.FilterReplyMessage(cp, make([]byte, replyHdr)))
		require.NoError(t, p.CloseHandle(cp))
		last := refusals(w)[len(refusals(w))-1]
		require.Equal(t, svc+"|E_HANDLE (0x80070006)|FilterReplyMessage: handle 0x80010 refers to an object of type IoCompletion, not FilterConnectionPort", last)

		// The diagram draws each refusal as a failed call from the process.
		require.Contains(t, harness.Mermaid(w.Trace().Events()),
			"P1-xFM: FilterReplyMessage: E_INVALIDARG, the 8-byte buffer is shorter than FILTER_REPLY_HEADER")
	})
}

// A reply whose MessageId the connection never issued still gets ERROR_FLT_NO_WAITER_FOR_REPLY
// (R-USER Reply 2), and the trace says the id was never issued and that the buffer probably
// lacks FILTER_REPLY_HEADER; a late or second reply to a real id says only "no waiter".
func TestReplyToAnIdNeverIssuedHintsAtTheHeader(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("scan"), make([]byte, 16), nil)
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, uint64(1), hdr.MessageId)

		// The service forgot the header: the payload's bytes 8..15 are read as the id.
		verdict := []byte("verdict:clean!!!and more")
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, p.FilterReplyMessage(h, verdict))
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, 0, 0, nil))
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("clean")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 5}, <-r)
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(p, h, 0, hdr.MessageId, nil))

		misread, _ := driverapi.ParseFilterReplyHeader(verdict)
		wrongID := misread.MessageId
		var details []string
		for _, e := range w.Trace().Filter(kernel.EvMessageReplied) {
			details = append(details, e.Status+"|"+e.Detail)
		}
		const noWaiter = "STATUS_FLT_NO_WAITER_FOR_REPLY (0xC01C0020)|"
		const fix = "does the buffer start with FILTER_REPLY_HEADER (Status, MessageId)? driverapi.NewFilterReply builds it"
		require.Equal(t, []string{
			noWaiter + fmt.Sprintf("no waiter: MessageId %d was never issued on this connection (the last was 1); ", wrongID) + fix,
			noWaiter + "no waiter: MessageId 0 was never issued (0 marks a one-way message, which takes no reply); " + fix,
			"STATUS_SUCCESS (0x00000000)|5 reply bytes",
			noWaiter + "no waiter",
		}, details)
		require.Contains(t, harness.Mermaid(w.Trace().Events()),
			fmt.Sprintf("P1-xFM: FilterReplyMessage msg %d: no waiter, id never issued (FILTER_REPLY_HEADER missing?)", wrongID))
	})
}

// Port and object names print as the driver wrote them, with single backslashes, in verifier
// reports, leftovers and the failures of a test; %q would have doubled them.
func TestNamesPrintWithSingleBackslashes(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{UnregisterOnly: true}
	require.NoError(t, w.Load("buggy", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	var leftovers []string
	for _, l := range w.Leftovers() {
		leftovers = append(leftovers, l.String())
	}
	require.Contains(t, leftovers, `svc.exe (pid 8): handle 0x80004 to FilterConnectionPort "\TestPort" still open`)
	require.Contains(t, leftovers, `driver "buggy": server port "\TestPort" still open`)
	p.Exit(0)
	require.NoError(t, w.Unload("buggy"))
	v := w.TakeViolations()
	require.Len(t, v, 1)
	require.Equal(t, `server port "\TestPort"`, v[0].Object)
	require.Contains(t, v[0].Error(), `driver "buggy", server port "\TestPort": FltUnregisterFilter was called`)
	for _, s := range append(leftovers, v[0].Error()) {
		require.NotContains(t, s, `\\`)
	}
	require.NoError(t, w.Close())
}

// A Conn used after Close fails with an error that names the operation and the port, with
// the port's name as written, and that is net.ErrClosed for errors.Is.
func TestConnAfterCloseNamesOperationAndPort(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, _ := load(t, nil)
		c, err := fltlib.Dial(context.Background(), adminProc(w, "svc.exe"), testPort, nil)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		_, err = c.Send(context.Background(), []byte("x"), nil)
		require.EqualError(t, err, `fltemu: send \TestPort: use of closed network connection`)
		require.ErrorIs(t, err, fltlib.ErrClosed)
		require.EqualError(t, c.Reply(&fltlib.Message{ID: 1}, 0, nil), `fltemu: reply \TestPort: use of closed network connection`)
	})
}

// A registration refused for its version says so: Load's error names FltRegisterFilter, the
// version it got and the constant to use; the same reason is in the trace (R-REG-1).
func TestLoadRefusedForItsVersionSaysSo(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w := harness.New(t)
		err := w.Load("old", &testdriver.Driver{Version: 0x0100, NoPort: true})
		require.ErrorIs(t, err, kernel.E_INVALIDARG)
		require.Equal(t, kernel.E_INVALIDARG, harness.HRESULTOf(err))
		var de *harness.DriverError
		require.True(t, errors.As(err, &de))
		require.Equal(t, "FltRegisterFilter", de.Failed.Routine)
		const why = "the registration's Version 0x0100 is not one the filter manager knows (0x0200, 0x0202, 0x0203): " +
			"use driverapi.FLT_REGISTRATION_VERSION"
		require.EqualError(t, err, `harness: load "old": DriverEntry returned STATUS_INVALID_PARAMETER (0xC000000D): `+
			`FltRegisterFilter failed with STATUS_INVALID_PARAMETER (0xC000000D): `+why)
		require.Equal(t, []string{"old|STATUS_INVALID_PARAMETER (0xC000000D)|FltRegisterFilter: " + why}, refusals(w))
		require.True(t, strings.Contains(harness.Mermaid(w.Trace().Events()), "D1-xFM: FltRegisterFilter: STATUS_INVALID_PARAMETER, the registration's Version 0x0100"))
	})
}
