package harness

import (
	"encoding/binary"

	"github.com/fltemu/fltemu/kernel"
)

// MessageHeader is FILTER_MESSAGE_HEADER: the first 16 bytes of every buffer FilterGetMessage
// fills. ReplyLength is 0 and MessageId 0 for a one-way message; otherwise ReplyLength is the
// sender's reply capacity plus 16.
type MessageHeader struct {
	ReplyLength uint32
	MessageId   uint64
}

// ParseMessageHeader reads FILTER_MESSAGE_HEADER from buf (which must hold 16 bytes; a shorter
// buffer gives the zero header and false).
func ParseMessageHeader(buf []byte) (MessageHeader, bool) {
	if len(buf) < 16 {
		return MessageHeader{}, false
	}
	return MessageHeader{ReplyLength: binary.LittleEndian.Uint32(buf[0:]), MessageId: binary.LittleEndian.Uint64(buf[8:])}, true
}

// PutReplyHeader writes FILTER_REPLY_HEADER (Status at 0, padding, MessageId at 8) into the
// first 16 bytes of buf; it returns false if buf is shorter.
func PutReplyHeader(buf []byte, status kernel.NTSTATUS, messageID uint64) bool {
	if len(buf) < 16 {
		return false
	}
	binary.LittleEndian.PutUint32(buf[0:], uint32(status))
	binary.LittleEndian.PutUint32(buf[4:], 0)
	binary.LittleEndian.PutUint64(buf[8:], messageID)
	return true
}

// ReplyBuffer returns a new FILTER_REPLY_HEADER followed by payload.
func ReplyBuffer(status kernel.NTSTATUS, messageID uint64, payload []byte) []byte {
	buf := make([]byte, 16+len(payload))
	PutReplyHeader(buf, status, messageID)
	copy(buf[16:], payload)
	return buf
}
