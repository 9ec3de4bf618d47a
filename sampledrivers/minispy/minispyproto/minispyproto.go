// Package minispyproto holds the byte layouts that the minispy driver and its user-mode
// program share (minispy.h of the C sample), with an encoder and a decoder for each, for
// 64-bit Windows:
//
//   - COMMAND_MESSAGE, user → kernel through FilterSendMessage (8 bytes): Command uint32 @0
//     (GetMiniSpyLog 0, GetMiniSpyVersion 1), Reserved uint32 @4.
//   - MINISPYVER, the answer to GetMiniSpyVersion (4 bytes): Major uint16 @0, Minor uint16 @2.
//   - LOG_RECORD, the answer to GetMiniSpyLog: records back to back, each a 152-byte fixed
//     part followed by a NUL-terminated UTF-16LE name, its Length rounded up to 8 bytes so
//     that the next record starts pointer-aligned, at most 1008 bytes.
//
// The fixed part of a LOG_RECORD (offsets from the start of the record):
//
//	@0   Length          uint32   the whole record, name and padding included
//	@4   SequenceNumber  uint32
//	@8   RecordType      uint32   RECORD_TYPE_* | RECORD_TYPE_FLAG_*
//	@12  Reserved        uint32
//	@16  RECORD_DATA:
//	@16    OriginatingTime  int64   system time of the pre-operation
//	@24    CompletionTime   int64   system time of the post-operation
//	@32    DeviceObject     uint64  FILE_ID (ULONG_PTR)
//	@40    FileObject       uint64
//	@48    Transaction      uint64
//	@56    ProcessId        uint64
//	@64    ThreadId         uint64
//	@72    Information      uint64  IoStatus.Information (ULONG_PTR)
//	@80    Status           int32   IoStatus.Status (NTSTATUS)
//	@84    IrpFlags         uint32
//	@88    Flags            uint32  FLT_CALLBACK_DATA.Flags
//	@92    CallbackMajorId  uint8
//	@93    CallbackMinorId  uint8
//	@94    Reserved         [2]uint8
//	@96    Arg1 … Arg5      5 × uint64 (PVOID)
//	@136   Arg6             int64 (LARGE_INTEGER)
//	@144   EcpCount         uint32
//	@148   KnownEcpMask     uint32
//	@152 Name             NUL-terminated UTF-16LE
package minispyproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/fltemu/fltemu/kernel"
)

// PortName is the name of minispy's server port (MINISPY_PORT_NAME).
const PortName = `\MiniSpyPort`

// FilterName is the name user mode gives FilterAttach and FilterDetach ("MiniSpy"): load the
// driver under this name.
const FilterName = "MiniSpy"

// Version of the driver (MINISPY_MAJ_VERSION, MINISPY_MIN_VERSION).
const (
	MajorVersion = 2
	MinorVersion = 0
)

// Command is MINISPY_COMMAND.
type Command uint32

// Commands user mode sends.
const (
	GetMiniSpyLog     Command = 0
	GetMiniSpyVersion Command = 1
)

// String returns the command's name, e.g. "GetMiniSpyLog".
func (c Command) String() string {
	switch c {
	case GetMiniSpyLog:
		return "GetMiniSpyLog"
	case GetMiniSpyVersion:
		return "GetMiniSpyVersion"
	}
	return fmt.Sprintf("MINISPY_COMMAND(%d)", uint32(c))
}

// Sizes of the layouts, in bytes.
const (
	// CommandMessageSize is sizeof(COMMAND_MESSAGE).
	CommandMessageSize = 8
	// CommandSize is sizeof(MINISPY_COMMAND): the driver needs at least this much input.
	CommandSize = 4
	// VersionSize is sizeof(MINISPYVER).
	VersionSize = 4
	// LogRecordSize is sizeof(LOG_RECORD): the fixed part, where the name starts.
	LogRecordSize = 152
	// RecordDataSize is sizeof(RECORD_DATA).
	RecordDataSize = 136
	// RecordSize is RECORD_SIZE: the driver's allocation per record, list links included.
	RecordSize = 1024
	// recordListOverhead is sizeof(LIST_ENTRY) in front of the LOG_RECORD in a RECORD_LIST.
	recordListOverhead = 16
	// MaxLogRecordLength is MAX_LOG_RECORD_LENGTH: the largest record, 1008 bytes.
	MaxLogRecordLength = RecordSize - recordListOverhead
	// MaxNameSpace is MAX_NAME_SPACE: the bytes a record has for its name and NUL (856).
	MaxNameSpace = (RecordSize - recordListOverhead - LogRecordSize + 7) &^ 7
	// MaxNameChars is MAX_NAME_WCHARS_LESS_NULL: the longest name kept, in UTF-16 code units
	// (427); longer names are truncated.
	MaxNameChars = (MaxNameSpace - 2) / 2
	// MinLogRecordLength is the smallest valid Length: the fixed part and a NUL.
	MinLogRecordLength = LogRecordSize + 2
	// pointerSize is sizeof(PVOID) on 64-bit Windows: records are padded to it.
	pointerSize = 8
)

// Record types and flags (LOG_RECORD.RecordType).
const (
	RECORD_TYPE_NORMAL                       uint32 = 0x00000000
	RECORD_TYPE_FILETAG                      uint32 = 0x00000004
	RECORD_TYPE_FLAG_STATIC                  uint32 = 0x80000000
	RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE uint32 = 0x20000000
	RECORD_TYPE_FLAG_OUT_OF_MEMORY           uint32 = 0x10000000
	RECORD_TYPE_FLAG_MASK                    uint32 = 0xffff0000
)

// CommandMessage is COMMAND_MESSAGE without its variable-length Data (minispy sends none).
type CommandMessage struct {
	Command  Command
	Reserved uint32
}

// Encode returns the 8-byte message.
func (m CommandMessage) Encode() []byte {
	b := make([]byte, CommandMessageSize)
	binary.LittleEndian.PutUint32(b[0:], uint32(m.Command))
	binary.LittleEndian.PutUint32(b[4:], m.Reserved)
	return b
}

// ErrShort is returned for a buffer shorter than the layout it should hold.
var ErrShort = errors.New("minispyproto: buffer too short")

// DecodeCommandMessage decodes a full 8-byte COMMAND_MESSAGE.
func DecodeCommandMessage(b []byte) (CommandMessage, error) {
	if len(b) < CommandMessageSize {
		return CommandMessage{}, ErrShort
	}
	return CommandMessage{Command: Command(binary.LittleEndian.Uint32(b)), Reserved: binary.LittleEndian.Uint32(b[4:])}, nil
}

// CommandOf reads the Command field, which is all the driver needs: it reports false for an
// input shorter than the field (4 bytes), as the C sample checks.
func CommandOf(in []byte) (Command, bool) {
	if len(in) < CommandSize {
		return 0, false
	}
	return Command(binary.LittleEndian.Uint32(in)), true
}

// Version is MINISPYVER.
type Version struct {
	Major, Minor uint16
}

// String returns "major.minor", e.g. "2.0".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Put writes the 4-byte MINISPYVER at the start of b, which must hold VersionSize bytes.
func (v Version) Put(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], v.Major)
	binary.LittleEndian.PutUint16(b[2:], v.Minor)
}

// Encode returns the 4-byte MINISPYVER.
func (v Version) Encode() []byte {
	b := make([]byte, VersionSize)
	v.Put(b)
	return b
}

// DecodeVersion decodes a MINISPYVER.
func DecodeVersion(b []byte) (Version, error) {
	if len(b) < VersionSize {
		return Version{}, ErrShort
	}
	return Version{Major: binary.LittleEndian.Uint16(b), Minor: binary.LittleEndian.Uint16(b[2:])}, nil
}

// RecordData is RECORD_DATA: what one operation looked like. The FILE_ID fields hold
// pointers in C; see the driver's documentation for what the emulated driver puts there.
type RecordData struct {
	OriginatingTime int64 // system time (100 ns since 1601) of the pre-operation
	CompletionTime  int64 // system time of the post-operation

	DeviceObject uint64
	FileObject   uint64
	Transaction  uint64

	ProcessId uint64
	ThreadId  uint64

	Information uint64
	Status      kernel.NTSTATUS

	IrpFlags uint32
	Flags    uint32

	CallbackMajorId uint8
	CallbackMinorId uint8
	Reserved        [2]uint8

	Arg1, Arg2, Arg3, Arg4, Arg5 uint64
	Arg6                         int64

	EcpCount     uint32
	KnownEcpMask uint32
}

// LogRecord is LOG_RECORD with its name as a Go string.
type LogRecord struct {
	// Length is the record's size on the wire. Decode fills it; the encoder computes it from
	// the name and ignores this field.
	Length         uint32
	SequenceNumber uint32
	RecordType     uint32
	Reserved       uint32
	Data           RecordData
	// Name is the file name (or a "<NO NAME…>" text); the encoder truncates it to
	// MaxNameChars UTF-16 code units, as the driver does.
	Name string
}

// truncatedName returns the UTF-16 code units of name the record keeps.
func truncatedName(name string) []uint16 {
	u := utf16.Encode([]rune(name))
	if len(u) > MaxNameChars {
		u = u[:MaxNameChars]
	}
	return u
}

// RecordLength returns the Length of a record with this name: the fixed part, the name
// (truncated to MaxNameChars) and its NUL, rounded up to 8 bytes.
func RecordLength(name string) uint32 {
	n := LogRecordSize + 2*len(truncatedName(name)) + 2
	return uint32((n + pointerSize - 1) &^ (pointerSize - 1))
}

// Append appends the record's bytes to dst and returns the extended slice. Length is
// computed (RecordLength); the padding is zero.
func (r LogRecord) Append(dst []byte) []byte {
	name := truncatedName(r.Name)
	length := RecordLength(r.Name)
	start := len(dst)
	dst = append(dst, make([]byte, length)...)
	b := dst[start:]
	le := binary.LittleEndian
	le.PutUint32(b[0:], length)
	le.PutUint32(b[4:], r.SequenceNumber)
	le.PutUint32(b[8:], r.RecordType)
	le.PutUint32(b[12:], r.Reserved)
	d := &r.Data
	le.PutUint64(b[16:], uint64(d.OriginatingTime))
	le.PutUint64(b[24:], uint64(d.CompletionTime))
	le.PutUint64(b[32:], d.DeviceObject)
	le.PutUint64(b[40:], d.FileObject)
	le.PutUint64(b[48:], d.Transaction)
	le.PutUint64(b[56:], d.ProcessId)
	le.PutUint64(b[64:], d.ThreadId)
	le.PutUint64(b[72:], d.Information)
	le.PutUint32(b[80:], uint32(d.Status))
	le.PutUint32(b[84:], d.IrpFlags)
	le.PutUint32(b[88:], d.Flags)
	b[92], b[93], b[94], b[95] = d.CallbackMajorId, d.CallbackMinorId, d.Reserved[0], d.Reserved[1]
	le.PutUint64(b[96:], d.Arg1)
	le.PutUint64(b[104:], d.Arg2)
	le.PutUint64(b[112:], d.Arg3)
	le.PutUint64(b[120:], d.Arg4)
	le.PutUint64(b[128:], d.Arg5)
	le.PutUint64(b[136:], uint64(d.Arg6))
	le.PutUint32(b[144:], d.EcpCount)
	le.PutUint32(b[148:], d.KnownEcpMask)
	for i, c := range name {
		le.PutUint16(b[LogRecordSize+2*i:], c)
	}
	return dst
}

// Encode returns the record's bytes (see Append).
func (r LogRecord) Encode() []byte { return r.Append(nil) }

// DecodeError describes a malformed record in a GetMiniSpyLog answer.
type DecodeError struct {
	Offset int    // where the bad record starts
	Reason string // what is wrong
}

// Error describes the problem and where it is.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("minispyproto: bad LOG_RECORD at offset %d: %s", e.Offset, e.Reason)
}

// DecodeRecord decodes the record at the start of b. It checks what the C user program
// checks and more: the fixed part is present, Length is at least 154 bytes, at most 1008, a
// multiple of 8 and within b, and the name ends with a NUL inside the record.
func DecodeRecord(b []byte) (LogRecord, error) {
	return decodeAt(b, 0)
}

func decodeAt(buf []byte, off int) (LogRecord, error) {
	b := buf[off:]
	if len(b) < LogRecordSize {
		return LogRecord{}, &DecodeError{off, fmt.Sprintf("%d bytes left, the fixed part needs %d", len(b), LogRecordSize)}
	}
	le := binary.LittleEndian
	length := le.Uint32(b)
	switch {
	case length < MinLogRecordLength:
		return LogRecord{}, &DecodeError{off, fmt.Sprintf("Length %d is less than %d", length, MinLogRecordLength)}
	case length > MaxLogRecordLength:
		return LogRecord{}, &DecodeError{off, fmt.Sprintf("Length %d is more than %d", length, MaxLogRecordLength)}
	case length%pointerSize != 0:
		return LogRecord{}, &DecodeError{off, fmt.Sprintf("Length %d is not a multiple of %d", length, pointerSize)}
	case int(length) > len(b):
		return LogRecord{}, &DecodeError{off, fmt.Sprintf("Length %d runs past the %d bytes left", length, len(b))}
	}
	r := LogRecord{Length: length, SequenceNumber: le.Uint32(b[4:]), RecordType: le.Uint32(b[8:]), Reserved: le.Uint32(b[12:])}
	d := &r.Data
	d.OriginatingTime = int64(le.Uint64(b[16:]))
	d.CompletionTime = int64(le.Uint64(b[24:]))
	d.DeviceObject = le.Uint64(b[32:])
	d.FileObject = le.Uint64(b[40:])
	d.Transaction = le.Uint64(b[48:])
	d.ProcessId = le.Uint64(b[56:])
	d.ThreadId = le.Uint64(b[64:])
	d.Information = le.Uint64(b[72:])
	d.Status = kernel.NTSTATUS(le.Uint32(b[80:]))
	d.IrpFlags = le.Uint32(b[84:])
	d.Flags = le.Uint32(b[88:])
	d.CallbackMajorId, d.CallbackMinorId, d.Reserved = b[92], b[93], [2]uint8{b[94], b[95]}
	d.Arg1 = le.Uint64(b[96:])
	d.Arg2 = le.Uint64(b[104:])
	d.Arg3 = le.Uint64(b[112:])
	d.Arg4 = le.Uint64(b[120:])
	d.Arg5 = le.Uint64(b[128:])
	d.Arg6 = int64(le.Uint64(b[136:]))
	d.EcpCount = le.Uint32(b[144:])
	d.KnownEcpMask = le.Uint32(b[148:])
	var units []uint16
	terminated := false
	for i := LogRecordSize; i+1 < int(length); i += 2 {
		c := le.Uint16(b[i:])
		if c == 0 {
			terminated = true
			break
		}
		units = append(units, c)
	}
	if !terminated {
		return LogRecord{}, &DecodeError{off, "the name has no NUL inside the record"}
	}
	r.Name = string(utf16.Decode(units))
	return r, nil
}

// DecodeRecords decodes a GetMiniSpyLog answer: records back to back, each starting where
// the previous one's Length ends. On a malformed record it returns the records before it and
// a *DecodeError; bytes left over that cannot hold a record are an error too (the driver
// only returns whole records).
func DecodeRecords(b []byte) ([]LogRecord, error) {
	var out []LogRecord
	for off := 0; off < len(b); {
		r, err := decodeAt(b, off)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		off += int(r.Length)
	}
	return out, nil
}
