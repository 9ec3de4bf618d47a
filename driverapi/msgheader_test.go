package driverapi_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// The layout of docs/rules.md §1: ReplyLength/Status at 0, 4 bytes of padding, MessageId at 8.
func TestFilterHeadersLayout(t *testing.T) {
	require.Equal(t, 16, driverapi.FilterMessageHeaderSize)
	require.Equal(t, 16, driverapi.FilterReplyHeaderSize)

	buf := bytes.Repeat([]byte{0xEE}, 20)
	require.True(t, driverapi.FilterMessageHeader{ReplyLength: 0x11223344, MessageId: 0x0102030405060708}.Put(buf))
	require.Equal(t, []byte{0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0xEE, 0xEE, 0xEE, 0xEE}, buf)
	hdr, ok := driverapi.ParseFilterMessageHeader(buf)
	require.True(t, ok)
	require.Equal(t, driverapi.FilterMessageHeader{ReplyLength: 0x11223344, MessageId: 0x0102030405060708}, hdr)

	rb := driverapi.NewFilterReply(kernel.STATUS_ACCESS_DENIED, 9, []byte("ok"))
	require.Equal(t, []byte{0x22, 0, 0, 0xC0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 'o', 'k'}, rb)
	rh, ok := driverapi.ParseFilterReplyHeader(rb)
	require.True(t, ok)
	require.Equal(t, driverapi.FilterReplyHeader{Status: kernel.STATUS_ACCESS_DENIED, MessageId: 9}, rh)
	require.Equal(t, []byte("ok"), driverapi.FilterReplyPayload(rb))
}

// Short buffers are refused and left untouched; nothing is read or written past the header.
func TestFilterHeadersShortBuffers(t *testing.T) {
	short := bytes.Repeat([]byte{0xEE}, 15)
	require.False(t, driverapi.FilterMessageHeader{ReplyLength: 1}.Put(short))
	require.False(t, driverapi.FilterReplyHeader{Status: 1}.Put(short))
	require.Equal(t, bytes.Repeat([]byte{0xEE}, 15), short)
	h, ok := driverapi.ParseFilterMessageHeader(short)
	require.False(t, ok)
	require.Zero(t, h)
	r, ok := driverapi.ParseFilterReplyHeader(nil)
	require.False(t, ok)
	require.Zero(t, r)
	require.Empty(t, driverapi.FilterReplyPayload(make([]byte, 16)))
	require.Len(t, driverapi.NewFilterReply(0, 1, nil), 16)
}

// R-SEND-7: ReplyLength is the sender's capacity plus FILTER_REPLY_HEADER; a one-way message
// announces 0, and a capacity 0 two-way send announces 16.
func TestFilterMessageReplyLength(t *testing.T) {
	require.Equal(t, uint32(16), driverapi.MessageReplyLength(0))
	require.Equal(t, uint32(24), driverapi.MessageReplyLength(8))
	require.Equal(t, 8, driverapi.FilterMessageHeader{ReplyLength: 24}.ReplyCapacity())
	require.Equal(t, 0, driverapi.FilterMessageHeader{ReplyLength: 16}.ReplyCapacity())
	require.Equal(t, 0, driverapi.FilterMessageHeader{}.ReplyCapacity())
	require.Equal(t, 0, driverapi.FilterMessageHeader{ReplyLength: 7}.ReplyCapacity())
}

func TestFilterMessagePayload(t *testing.T) {
	buf := append(make([]byte, 16), "payload!"...)
	require.Equal(t, []byte("payload"), driverapi.FilterMessagePayload(buf, 23))
	require.Equal(t, []byte("payload!"), driverapi.FilterMessagePayload(buf, 1000)) // n past the buffer: clipped
	require.Empty(t, driverapi.FilterMessagePayload(buf, 16))
	require.Empty(t, driverapi.FilterMessagePayload(buf, 3))
	p := driverapi.FilterMessagePayload(buf, 20)
	require.Equal(t, 4, cap(p), "the payload cannot be appended into the rest of the buffer")
}

// FuzzFilterHeaders: Parse inverts Put for any bytes, and Put touches only the header.
func FuzzFilterHeaders(f *testing.F) {
	f.Add([]byte("0123456789abcdef!"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, ok := driverapi.ParseFilterMessageHeader(raw)
		if ok != (len(raw) >= 16) {
			t.Fatalf("Parse(%d bytes) ok=%v", len(raw), ok)
		}
		if ok && (h.ReplyLength != binary.LittleEndian.Uint32(raw) || h.MessageId != binary.LittleEndian.Uint64(raw[8:])) {
			t.Fatalf("Parse(%x) = %+v", raw, h)
		}
		buf := append([]byte(nil), raw...)
		rh := driverapi.FilterReplyHeader{Status: kernel.NTSTATUS(len(raw)), MessageId: uint64(len(raw)) << 33}
		if rh.Put(buf) != ok {
			t.Fatalf("Put into %d bytes: %v", len(raw), !ok)
		}
		if !ok {
			require.Equal(t, raw, buf)
			return
		}
		back, _ := driverapi.ParseFilterReplyHeader(buf)
		require.Equal(t, rh, back)
		require.Equal(t, raw[16:], buf[16:])
		require.Equal(t, []byte{0, 0, 0, 0}, buf[4:8])
	})
}
