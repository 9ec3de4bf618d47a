// Package avscanproto holds what the avscan filter and its user-mode scanner share (the
// sample's avlib.h): the three port names, the connection context, and the exact byte layouts
// of the messages that cross the ports, with functions to encode and decode them.
//
//	AV_CONNECTION_CONTEXT (the context of FilterConnectCommunicationPort, 4 bytes)
//	  @0  Type         uint32  ForScan 1, ForAbort 2, ForQuery 3
//
//	AV_SCANNER_NOTIFICATION (kernel → user, 24 bytes)
//	  @0  Message      uint32  StartScanning 0, AbortScanning 1, FilterUnloading 2
//	  @4  Reason       uint32  OnOpen 0, OnCleanup 1
//	  @8  ScanId       int64   the scan, as the kernel numbers them (from 1)
//	  @16 ScanThreadId uint32  the worker that acknowledged the scan (AbortScanning)
//	  @20 (padding)
//
//	reply to StartScanning and to FilterUnloading (user → kernel, 4 bytes)
//	  @0  ThreadId     uint32  the replying thread
//
//	COMMAND_MESSAGE (user → kernel through FilterSendMessage, 32 bytes)
//	  @0  Command      uint32  IsFileModified 0, CreateSectionForDataScan 1, CloseSectionForDataScan 2
//	  @4  (padding)
//	  @8  ScanId       int64
//	  @16 ScanThreadId uint32
//	  @20 (padding)
//	  @24 FileHandle   HANDLE  (IsFileModified) — or —
//	  @24 ScanResult   uint32  Undetermined 0, Infected 1, Clean 2 (CloseSectionForDataScan)
//
//	CreateSectionForDataScan's output: HANDLE (8 bytes), the section handle in the caller.
//	IsFileModified's output: BOOLEAN (1 byte).
//
// Kernel messages follow the 16-byte FILTER_MESSAGE_HEADER (a user Get needs 16 + 24 = 40
// bytes); replies follow FILTER_REPLY_HEADER (16 + 4 = 20 bytes). All integers are little
// endian; a HANDLE is 8 bytes (64-bit processes).
package avscanproto

import (
	"encoding/binary"
	"errors"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// The filter's communication ports (AV_SCAN_PORT_NAME, AV_ABORT_PORT_NAME,
// AV_QUERY_PORT_NAME).
const (
	ScanPortName  = `\MicrosoftAvSampleFilterScanPort`
	AbortPortName = `\MicrosoftAvSampleFilterAbortPort`
	QueryPortName = `\MicrosoftAvSampleFilterQueryPort`
)

// ConnectionType is AVSCAN_CONNECTION_TYPE: the role a connection takes, given in its
// connection context.
type ConnectionType uint32

// Connection types.
const (
	ForScan  ConnectionType = 1
	ForAbort ConnectionType = 2
	ForQuery ConnectionType = 3
)

// PortName returns the name of the port a connection of type t must use, "" for an unknown
// type.
func (t ConnectionType) PortName() string {
	switch t {
	case ForScan:
		return ScanPortName
	case ForAbort:
		return AbortPortName
	case ForQuery:
		return QueryPortName
	}
	return ""
}

// MessageType is AVSCAN_MESSAGE: what a kernel message asks.
type MessageType uint32

// Kernel messages.
const (
	StartScanning   MessageType = 0
	AbortScanning   MessageType = 1
	FilterUnloading MessageType = 2
)

// Reason is AVSCAN_REASON: why a file is scanned.
type Reason uint32

// Scan reasons.
const (
	OnOpen    Reason = 0
	OnCleanup Reason = 1
)

// Command is AVSCAN_COMMAND: what a COMMAND_MESSAGE asks.
type Command uint32

// Commands.
const (
	IsFileModified           Command = 0
	CreateSectionForDataScan Command = 1
	CloseSectionForDataScan  Command = 2
)

// ScanResult is AVSCAN_RESULT: the verdict.
type ScanResult uint32

// Verdicts.
const (
	Undetermined ScanResult = 0
	Infected     ScanResult = 1
	Clean        ScanResult = 2
)

// Sizes of the layouts, in bytes.
const (
	ConnectionContextSize = 4  // sizeof(AV_CONNECTION_CONTEXT)
	NotificationSize      = 24 // sizeof(AV_SCANNER_NOTIFICATION)
	ReplySize             = 4  // the ThreadId of SCANNER_REPLY_MESSAGE
	CommandSize           = 32 // sizeof(COMMAND_MESSAGE)
	HandleSize            = 8  // sizeof(HANDLE): CreateSectionForDataScan's output
	// MessageSize is the buffer a user Get needs: FILTER_MESSAGE_HEADER + the notification
	// (the user program's SCANNER_MESSAGE without its OVERLAPPED).
	MessageSize = driverapi.FilterMessageHeaderSize + NotificationSize
	// ReplyMessageSize is the user's reply: FILTER_REPLY_HEADER + ThreadId
	// (SCANNER_REPLY_MESSAGE_SIZE).
	ReplyMessageSize = driverapi.FilterReplyHeaderSize + ReplySize
)

// Errors of the decoders.
var (
	ErrShortContext      = errors.New("avscanproto: connection context shorter than 4 bytes")
	ErrShortNotification = errors.New("avscanproto: notification shorter than 24 bytes")
	ErrShortCommand      = errors.New("avscanproto: command shorter than 32 bytes")
)

// ConnectionContext is AV_CONNECTION_CONTEXT.
type ConnectionContext struct {
	Type ConnectionType
}

// Encode returns the 4-byte layout.
func (c ConnectionContext) Encode() []byte {
	b := make([]byte, ConnectionContextSize)
	binary.LittleEndian.PutUint32(b, uint32(c.Type))
	return b
}

// DecodeConnectionContext reads a connection context; a context shorter than 4 bytes (or
// none) is ErrShortContext.
func DecodeConnectionContext(b []byte) (ConnectionContext, error) {
	if len(b) < ConnectionContextSize {
		return ConnectionContext{}, ErrShortContext
	}
	return ConnectionContext{Type: ConnectionType(binary.LittleEndian.Uint32(b))}, nil
}

// Notification is AV_SCANNER_NOTIFICATION.
type Notification struct {
	Message      MessageType
	Reason       Reason
	ScanId       int64
	ScanThreadId uint32
}

// Encode returns the 24-byte layout.
func (n Notification) Encode() []byte {
	b := make([]byte, NotificationSize)
	binary.LittleEndian.PutUint32(b[0:], uint32(n.Message))
	binary.LittleEndian.PutUint32(b[4:], uint32(n.Reason))
	binary.LittleEndian.PutUint64(b[8:], uint64(n.ScanId))
	binary.LittleEndian.PutUint32(b[16:], n.ScanThreadId)
	return b
}

// DecodeNotification reads a notification (the payload after FILTER_MESSAGE_HEADER).
func DecodeNotification(b []byte) (Notification, error) {
	if len(b) < NotificationSize {
		return Notification{}, ErrShortNotification
	}
	return Notification{
		Message:      MessageType(binary.LittleEndian.Uint32(b[0:])),
		Reason:       Reason(binary.LittleEndian.Uint32(b[4:])),
		ScanId:       int64(binary.LittleEndian.Uint64(b[8:])),
		ScanThreadId: binary.LittleEndian.Uint32(b[16:]),
	}, nil
}

// EncodeReply returns the 4-byte reply payload: the replying thread's id.
func EncodeReply(threadID uint32) []byte {
	b := make([]byte, ReplySize)
	binary.LittleEndian.PutUint32(b, threadID)
	return b
}

// DecodeReply reads a reply payload; ok is false for fewer than 4 bytes.
func DecodeReply(b []byte) (threadID uint32, ok bool) {
	if len(b) < ReplySize {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// CommandMessage is COMMAND_MESSAGE. FileHandle and ScanResult share the union at @24:
// Encode writes ScanResult for CloseSectionForDataScan and FileHandle otherwise.
type CommandMessage struct {
	Command      Command
	ScanId       int64
	ScanThreadId uint32
	FileHandle   kernel.Handle
	ScanResult   ScanResult
}

// Encode returns the 32-byte layout.
func (c CommandMessage) Encode() []byte {
	b := make([]byte, CommandSize)
	binary.LittleEndian.PutUint32(b[0:], uint32(c.Command))
	binary.LittleEndian.PutUint64(b[8:], uint64(c.ScanId))
	binary.LittleEndian.PutUint32(b[16:], c.ScanThreadId)
	if c.Command == CloseSectionForDataScan {
		binary.LittleEndian.PutUint32(b[24:], uint32(c.ScanResult))
	} else {
		binary.LittleEndian.PutUint64(b[24:], uint64(c.FileHandle))
	}
	return b
}

// DecodeCommand reads a whole COMMAND_MESSAGE, both members of the union included.
func DecodeCommand(b []byte) (CommandMessage, error) {
	if len(b) < CommandSize {
		return CommandMessage{}, ErrShortCommand
	}
	return CommandMessage{
		Command:      Command(binary.LittleEndian.Uint32(b[0:])),
		ScanId:       int64(binary.LittleEndian.Uint64(b[8:])),
		ScanThreadId: binary.LittleEndian.Uint32(b[16:]),
		FileHandle:   kernel.Handle(binary.LittleEndian.Uint64(b[24:])),
		ScanResult:   ScanResult(binary.LittleEndian.Uint32(b[24:])),
	}, nil
}

// EncodeHandle lays a HANDLE (CreateSectionForDataScan's output) into b, which holds at least
// HandleSize bytes.
func EncodeHandle(b []byte, h kernel.Handle) { binary.LittleEndian.PutUint64(b, uint64(h)) }

// DecodeHandle reads a HANDLE; ok is false for fewer than HandleSize bytes.
func DecodeHandle(b []byte) (kernel.Handle, bool) {
	if len(b) < HandleSize {
		return kernel.InvalidHandle, false
	}
	return kernel.Handle(binary.LittleEndian.Uint64(b)), true
}

// The signature the sample's scanner looks for, as avlib.h stores it: each byte XORed with
// PatternXorKey, so that the scanner's own binary does not contain it.
const (
	EncodedPattern = "7?));=?z.5z8?z<5/4>" // AV_DEFAULT_SEARCH_PATTERN
	PatternXorKey  = 90                    // AV_DEFAULT_PATTERN_XOR_KEY
)

// Pattern decodes EncodedPattern: the 19 bytes "message to be found" (without the NUL that
// AV_DEFAULT_SEARCH_PATTERN_SIZE counts).
func Pattern() []byte {
	p := []byte(EncodedPattern)
	for i := range p {
		p[i] ^= PatternXorKey
	}
	return p
}
