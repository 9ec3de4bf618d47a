package driverapi

import (
	"encoding/binary"

	"github.com/fltemu/fltemu/kernel"
)

// The two headers of fltUserStructures.h that frame every port message. Both sides use them:
// the filter manager writes FILTER_MESSAGE_HEADER into a user's FilterGetMessage buffer and
// reads FILTER_REPLY_HEADER from FilterReplyMessage; a user program does the opposite. They
// live here, the lowest package both a driver's side and a user program may import, so that
// the layout is written down once.
//
// On the wire (x64, little endian, 8-byte alignment of the ULONGLONG):
//
//	FILTER_MESSAGE_HEADER: ReplyLength ULONG @0, 4 bytes padding, MessageId ULONGLONG @8
//	FILTER_REPLY_HEADER:   Status NTSTATUS  @0, 4 bytes padding, MessageId ULONGLONG @8
const (
	// FilterMessageHeaderSize is sizeof(FILTER_MESSAGE_HEADER).
	FilterMessageHeaderSize = 16
	// FilterReplyHeaderSize is sizeof(FILTER_REPLY_HEADER).
	FilterReplyHeaderSize = 16
)

// FilterMessageHeader is FILTER_MESSAGE_HEADER, the start of every buffer FilterGetMessage
// fills. For a message that expects a reply, ReplyLength is FILTER_REPLY_HEADER plus the
// sender's reply capacity and MessageId is the id to reply to; for a one-way message both are 0.
type FilterMessageHeader struct {
	ReplyLength uint32
	MessageId   uint64
}

// ParseFilterMessageHeader reads FILTER_MESSAGE_HEADER from the start of buf. A buffer shorter
// than the header gives the zero header and false.
func ParseFilterMessageHeader(buf []byte) (FilterMessageHeader, bool) {
	if len(buf) < FilterMessageHeaderSize {
		return FilterMessageHeader{}, false
	}
	return FilterMessageHeader{
		ReplyLength: binary.LittleEndian.Uint32(buf[0:]),
		MessageId:   binary.LittleEndian.Uint64(buf[8:]),
	}, true
}

// Put writes h, padding zeroed, into the first FilterMessageHeaderSize bytes of buf; it writes
// nothing and returns false when buf is shorter.
func (h FilterMessageHeader) Put(buf []byte) bool {
	if len(buf) < FilterMessageHeaderSize {
		return false
	}
	binary.LittleEndian.PutUint32(buf[0:], h.ReplyLength)
	binary.LittleEndian.PutUint32(buf[4:], 0)
	binary.LittleEndian.PutUint64(buf[8:], h.MessageId)
	return true
}

// ReplyCapacity returns the sender's reply capacity the header announces (ReplyLength minus
// FILTER_REPLY_HEADER), 0 for a one-way message.
func (h FilterMessageHeader) ReplyCapacity() int {
	if h.ReplyLength < FilterReplyHeaderSize {
		return 0
	}
	return int(h.ReplyLength) - FilterReplyHeaderSize
}

// MessageReplyLength returns the ReplyLength of a message whose sender waits for a reply of at
// most capacity bytes: the capacity plus FILTER_REPLY_HEADER, as FltSendMessage announces it.
func MessageReplyLength(capacity int) uint32 { return uint32(capacity) + FilterReplyHeaderSize }

// FilterMessagePayload returns the message body in a FilterGetMessage buffer of which n bytes
// were filled: the bytes after FILTER_MESSAGE_HEADER. It is empty when n does not reach past
// the header, and never longer than buf.
func FilterMessagePayload(buf []byte, n uint32) []byte {
	end := min(int(n), len(buf))
	if end <= FilterMessageHeaderSize {
		return nil
	}
	return buf[FilterMessageHeaderSize:end:end]
}

// FilterReplyHeader is FILTER_REPLY_HEADER, the start of every FilterReplyMessage buffer:
// the status FltSendMessage's caller receives and the MessageId being answered.
type FilterReplyHeader struct {
	Status    kernel.NTSTATUS
	MessageId uint64
}

// ParseFilterReplyHeader reads FILTER_REPLY_HEADER from the start of buf. A buffer shorter than
// the header gives the zero header and false.
func ParseFilterReplyHeader(buf []byte) (FilterReplyHeader, bool) {
	if len(buf) < FilterReplyHeaderSize {
		return FilterReplyHeader{}, false
	}
	return FilterReplyHeader{
		Status:    kernel.NTSTATUS(binary.LittleEndian.Uint32(buf[0:])),
		MessageId: binary.LittleEndian.Uint64(buf[8:]),
	}, true
}

// Put writes h, padding zeroed, into the first FilterReplyHeaderSize bytes of buf; it writes
// nothing and returns false when buf is shorter.
func (h FilterReplyHeader) Put(buf []byte) bool {
	if len(buf) < FilterReplyHeaderSize {
		return false
	}
	binary.LittleEndian.PutUint32(buf[0:], uint32(h.Status))
	binary.LittleEndian.PutUint32(buf[4:], 0)
	binary.LittleEndian.PutUint64(buf[8:], h.MessageId)
	return true
}

// FilterReplyPayload returns the part of a FilterReplyMessage buffer after FILTER_REPLY_HEADER
// (empty when buf is not longer than the header).
func FilterReplyPayload(buf []byte) []byte {
	if len(buf) <= FilterReplyHeaderSize {
		return nil
	}
	return buf[FilterReplyHeaderSize:]
}

// NewFilterReply returns a new FilterReplyMessage buffer: FILTER_REPLY_HEADER{status,
// messageID} followed by a copy of payload.
func NewFilterReply(status kernel.NTSTATUS, messageID uint64, payload []byte) []byte {
	buf := make([]byte, FilterReplyHeaderSize+len(payload))
	FilterReplyHeader{Status: status, MessageId: messageID}.Put(buf)
	copy(buf[FilterReplyHeaderSize:], payload)
	return buf
}
