package scannerproto_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
)

// The sizes of scanuk.h and scanuser.h on 64-bit Windows.
func TestSizes(t *testing.T) {
	require.Equal(t, 1024, scannerproto.ReadBufferSize)
	require.Equal(t, 1032, scannerproto.NotificationSize)
	require.Equal(t, 1, scannerproto.ReplySize)
	require.Equal(t, driverapi.FilterMessageHeaderSize+1032, scannerproto.MessageSize)
	require.Equal(t, driverapi.FilterReplyHeaderSize+1, scannerproto.ReplyMessageSize)
	require.Equal(t, `\ScannerPort`, scannerproto.PortName)
}

// The notification's bytes: BytesToScan @0, Reserved @4, Contents @8, little endian.
func TestNotificationLayout(t *testing.T) {
	b := scannerproto.EncodeNotification([]byte("abc"))
	require.Len(t, b, 1032)
	require.Equal(t, uint32(3), binary.LittleEndian.Uint32(b[0:]))
	require.Equal(t, uint32(0), binary.LittleEndian.Uint32(b[4:]))
	require.Equal(t, []byte("abc"), b[8:11])
	require.Equal(t, make([]byte, 1021), b[11:])
}

// At most 1024 bytes are carried, and BytesToScan says so (the clamp the C filter forgot).
func TestNotificationClampsToContents(t *testing.T) {
	data := bytes.Repeat([]byte{'z'}, 4096)
	data[1023] = 'e'
	n := scannerproto.NewNotification(data)
	require.Equal(t, uint32(1024), n.BytesToScan)
	require.Equal(t, data[:1024], n.Data())

	got, err := scannerproto.DecodeNotification(n.Marshal())
	require.NoError(t, err)
	require.Equal(t, n, got)
}

func TestDecodeNotificationErrors(t *testing.T) {
	_, err := scannerproto.DecodeNotification(make([]byte, 1031))
	require.ErrorIs(t, err, scannerproto.ErrShortNotification)

	// What the C filter sends on a 4096-byte-sector volume: BytesToScan 4096.
	b := scannerproto.EncodeNotification(bytes.Repeat([]byte{'q'}, 1024))
	binary.LittleEndian.PutUint32(b, 4096)
	n, err := scannerproto.DecodeNotification(b)
	require.ErrorIs(t, err, scannerproto.ErrBytesToScan)
	require.Equal(t, uint32(4096), n.BytesToScan)
	require.Len(t, n.Data(), 1024, "Data never reads past Contents")

	// Extra bytes after the layout are ignored.
	n, err = scannerproto.DecodeNotification(append(scannerproto.EncodeNotification([]byte("x")), 1, 2, 3))
	require.NoError(t, err)
	require.Equal(t, []byte("x"), n.Data())
}

func TestReply(t *testing.T) {
	require.Equal(t, []byte{1}, scannerproto.EncodeReply(true))
	require.Equal(t, []byte{0}, scannerproto.EncodeReply(false))
	for _, c := range []struct {
		in       []byte
		safe, ok bool
	}{{[]byte{0}, false, true}, {[]byte{1}, true, true}, {[]byte{0xFF}, true, true}, {nil, false, false}, {[]byte{0, 9}, false, true}} {
		safe, ok := scannerproto.DecodeReply(c.in)
		require.Equal(t, c.safe, safe, "%v", c.in)
		require.Equal(t, c.ok, ok, "%v", c.in)
	}
}
