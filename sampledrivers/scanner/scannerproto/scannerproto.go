// Package scannerproto holds what the scanner filter and its user-mode service share (the
// sample's scanuk.h): the port name and the exact byte layouts of the two payloads that cross
// the port, with functions to encode and decode them.
//
//	SCANNER_NOTIFICATION (kernel → user, 1032 bytes)
//	  @0  BytesToScan uint32     how many bytes of Contents to scan (at most 1024)
//	  @4  Reserved    uint32     0, for alignment
//	  @8  Contents    [1024]byte the head of the file, or of the data being written
//
//	SCANNER_REPLY (user → kernel, 1 byte)
//	  @0  SafeToOpen  BOOLEAN    0: foul, deny; anything else: safe
//
// On the wire each payload follows the 16-byte FILTER_MESSAGE_HEADER (a user Get needs
// 16 + 1032 = 1048 bytes) or FILTER_REPLY_HEADER (the user's reply is 16 + 1 = 17 bytes).
// All integers are little endian.
package scannerproto

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fltemu/fltemu/driverapi"
)

// PortName is the scanner's communication port (ScannerPortName).
const PortName = `\ScannerPort`

// Sizes of the layouts, in bytes.
const (
	// ReadBufferSize is SCANNER_READ_BUFFER_SIZE: the size of Contents, and the most
	// BytesToScan may say.
	ReadBufferSize = 1024
	// NotificationSize is sizeof(SCANNER_NOTIFICATION).
	NotificationSize = 8 + ReadBufferSize
	// ReplySize is sizeof(SCANNER_REPLY).
	ReplySize = 1
	// MessageSize is the buffer a user Get needs: FILTER_MESSAGE_HEADER + SCANNER_NOTIFICATION
	// (the user program's SCANNER_MESSAGE without its OVERLAPPED).
	MessageSize = driverapi.FilterMessageHeaderSize + NotificationSize
	// ReplyMessageSize is the user's reply: FILTER_REPLY_HEADER + SCANNER_REPLY
	// (SCANNER_REPLY_MESSAGE).
	ReplyMessageSize = driverapi.FilterReplyHeaderSize + ReplySize
)

// Offsets of the notification's fields.
const (
	OffsetBytesToScan = 0
	OffsetReserved    = 4
	OffsetContents    = 8
)

// Errors of DecodeNotification.
var (
	// ErrShortNotification: fewer than NotificationSize bytes.
	ErrShortNotification = errors.New("scannerproto: notification shorter than 1032 bytes")
	// ErrBytesToScan: BytesToScan is larger than Contents (the C filter's unclamped count on a
	// volume whose sectors are larger than 1024 bytes).
	ErrBytesToScan = errors.New("scannerproto: BytesToScan larger than 1024")
)

// Notification is SCANNER_NOTIFICATION.
type Notification struct {
	BytesToScan uint32
	Reserved    uint32
	Contents    [ReadBufferSize]byte
}

// NewNotification returns the notification for data: Contents holds its first 1024 bytes and
// BytesToScan says how many that is (never more than 1024).
func NewNotification(data []byte) Notification {
	var n Notification
	n.BytesToScan = uint32(copy(n.Contents[:], data))
	return n
}

// Data returns the bytes to scan: Contents cut to BytesToScan (and to 1024 if BytesToScan
// says more).
func (n *Notification) Data() []byte {
	return n.Contents[:min(n.BytesToScan, ReadBufferSize)]
}

// Marshal returns the 1032-byte layout.
func (n *Notification) Marshal() []byte {
	b := make([]byte, NotificationSize)
	binary.LittleEndian.PutUint32(b[OffsetBytesToScan:], n.BytesToScan)
	binary.LittleEndian.PutUint32(b[OffsetReserved:], n.Reserved)
	copy(b[OffsetContents:], n.Contents[:])
	return b
}

// EncodeNotification returns the 1032-byte notification for data (see NewNotification).
func EncodeNotification(data []byte) []byte {
	n := NewNotification(data)
	return n.Marshal()
}

// DecodeNotification reads a notification from b (the payload after FILTER_MESSAGE_HEADER).
// It returns ErrShortNotification for fewer than 1032 bytes and ErrBytesToScan, with the
// notification decoded, when BytesToScan exceeds 1024: the caller decides whether to scan
// the 1024 bytes that are there.
func DecodeNotification(b []byte) (Notification, error) {
	var n Notification
	if len(b) < NotificationSize {
		return n, fmt.Errorf("%w (got %d)", ErrShortNotification, len(b))
	}
	n.BytesToScan = binary.LittleEndian.Uint32(b[OffsetBytesToScan:])
	n.Reserved = binary.LittleEndian.Uint32(b[OffsetReserved:])
	copy(n.Contents[:], b[OffsetContents:NotificationSize])
	if n.BytesToScan > ReadBufferSize {
		return n, fmt.Errorf("%w (got %d)", ErrBytesToScan, n.BytesToScan)
	}
	return n, nil
}

// EncodeReply returns the 1-byte SCANNER_REPLY.
func EncodeReply(safeToOpen bool) []byte {
	if safeToOpen {
		return []byte{1}
	}
	return []byte{0}
}

// DecodeReply reads SCANNER_REPLY from the reply payload. ok is false when the payload is
// empty (the service replied with a bare header): there is no verdict.
func DecodeReply(b []byte) (safeToOpen, ok bool) {
	if len(b) < ReplySize {
		return false, false
	}
	return b[0] != 0, true
}
