package avscanproto_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
)

// The layouts byte by byte, as avlib.h lays them out on 64-bit Windows.
func TestLayouts(t *testing.T) {
	n := avscanproto.Notification{Message: avscanproto.AbortScanning, Reason: avscanproto.OnCleanup, ScanId: 0x0102030405060708, ScanThreadId: 0xAABBCCDD}
	b := n.Encode()
	require.Len(t, b, 24)
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(b[0:]))
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(b[4:]))
	require.Equal(t, uint64(0x0102030405060708), binary.LittleEndian.Uint64(b[8:]))
	require.Equal(t, uint32(0xAABBCCDD), binary.LittleEndian.Uint32(b[16:]))
	require.Equal(t, []byte{0, 0, 0, 0}, b[20:], "padding")
	got, err := avscanproto.DecodeNotification(b)
	require.NoError(t, err)
	require.Equal(t, n, got)
	_, err = avscanproto.DecodeNotification(b[:23])
	require.ErrorIs(t, err, avscanproto.ErrShortNotification)

	c := avscanproto.CommandMessage{Command: avscanproto.CloseSectionForDataScan, ScanId: -2, ScanThreadId: 7, ScanResult: avscanproto.Clean}
	b = c.Encode()
	require.Len(t, b, 32)
	require.Equal(t, uint32(2), binary.LittleEndian.Uint32(b[0:]))
	require.Equal(t, uint64(0xFFFFFFFFFFFFFFFE), binary.LittleEndian.Uint64(b[8:]))
	require.Equal(t, uint32(7), binary.LittleEndian.Uint32(b[16:]))
	require.Equal(t, uint32(2), binary.LittleEndian.Uint32(b[24:]))
	got2, err := avscanproto.DecodeCommand(b)
	require.NoError(t, err)
	require.Equal(t, avscanproto.Clean, got2.ScanResult)
	require.Equal(t, int64(-2), got2.ScanId)

	q := avscanproto.CommandMessage{Command: avscanproto.IsFileModified, FileHandle: kernel.Handle(0x1234_0000_0010)}
	b = q.Encode()
	require.Equal(t, uint64(0x1234_0000_0010), binary.LittleEndian.Uint64(b[24:]), "the HANDLE member of the union is 8 bytes")
	got2, err = avscanproto.DecodeCommand(b)
	require.NoError(t, err)
	require.Equal(t, q.FileHandle, got2.FileHandle)
	_, err = avscanproto.DecodeCommand(b[:31])
	require.ErrorIs(t, err, avscanproto.ErrShortCommand)

	require.Equal(t, []byte{3, 0, 0, 0}, avscanproto.ConnectionContext{Type: avscanproto.ForQuery}.Encode())
	_, err = avscanproto.DecodeConnectionContext([]byte{1})
	require.ErrorIs(t, err, avscanproto.ErrShortContext)

	require.Equal(t, []byte{0x78, 0x56, 0x34, 0x12}, avscanproto.EncodeReply(0x12345678))
	tid, ok := avscanproto.DecodeReply([]byte{1, 0, 0})
	require.False(t, ok)
	require.Zero(t, tid)
	hb := make([]byte, 8)
	avscanproto.EncodeHandle(hb, 0x80010)
	h, ok := avscanproto.DecodeHandle(hb)
	require.True(t, ok)
	require.Equal(t, kernel.Handle(0x80010), h)

	require.Equal(t, 40, avscanproto.MessageSize)
	require.Equal(t, 20, avscanproto.ReplyMessageSize)
}

// The signature is stored XORed with 90 and decodes to the 19 bytes "message to be found".
func TestPattern(t *testing.T) {
	require.Equal(t, "message to be found", string(avscanproto.Pattern()))
	require.Len(t, avscanproto.Pattern(), 19)
	require.False(t, bytes.Contains([]byte(avscanproto.EncodedPattern), []byte("message")))
	p := avscanproto.Pattern()
	p[0] = 'X'
	require.Equal(t, byte('m'), avscanproto.Pattern()[0], "each call decodes a fresh copy")
}

func TestPortNames(t *testing.T) {
	require.Equal(t, `\MicrosoftAvSampleFilterScanPort`, avscanproto.ForScan.PortName())
	require.Equal(t, `\MicrosoftAvSampleFilterAbortPort`, avscanproto.ForAbort.PortName())
	require.Equal(t, `\MicrosoftAvSampleFilterQueryPort`, avscanproto.ForQuery.PortName())
	require.Empty(t, avscanproto.ConnectionType(4).PortName())
}
