package harness_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

func TestRoundTripBasic(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("test", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)

	done := make(chan struct{})
	var st kernel.NTSTATUS
	var n uint32
	reply := make([]byte, 8)
	go func() {
		defer close(done)
		st, n = d.Send(context.Background(), d.Conn(0), []byte("hello"), reply, nil)
	}()
	buf := make([]byte, 64)
	require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, buf, nil))
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	require.Equal(t, uint64(1), hdr.MessageId)
	require.Equal(t, driverapi.MessageReplyLength(8), hdr.ReplyLength)
	require.Equal(t, "hello", string(buf[driverapi.FilterMessageHeaderSize:21]))
	require.Equal(t, kernel.S_OK, p.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok"))))
	<-done
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, uint32(2), n)
	require.Equal(t, "ok", string(reply[:n]))
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, int32(1), d.Disconnects.Load())
	require.NoError(t, w.Unload("test"))
}
