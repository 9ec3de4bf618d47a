package minispyproto_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
	mp "github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
)

// The sizes of minispy.h on 64-bit Windows.
func TestSizes(t *testing.T) {
	require.Equal(t, 8, mp.CommandMessageSize)
	require.Equal(t, 4, mp.VersionSize)
	require.Equal(t, 152, mp.LogRecordSize)
	require.Equal(t, 136, mp.RecordDataSize)
	require.Equal(t, mp.LogRecordSize, 16+mp.RecordDataSize)
	require.Equal(t, 1008, mp.MaxLogRecordLength)
	require.Equal(t, 856, mp.MaxNameSpace)
	require.Equal(t, 427, mp.MaxNameChars)
	require.Equal(t, mp.MaxLogRecordLength, mp.LogRecordSize+mp.MaxNameSpace)
}

func sampleRecord() mp.LogRecord {
	return mp.LogRecord{
		SequenceNumber: 0x11223344, RecordType: 0xA0000000, Reserved: 0x55,
		Data: mp.RecordData{
			OriginatingTime: 0x0102030405060708, CompletionTime: 0x1112131415161718,
			DeviceObject: 0x2122232425262728, FileObject: 0x3132333435363738, Transaction: 0x4142434445464748,
			ProcessId: 0x5152535455565758, ThreadId: 0x6162636465666768, Information: 0x7172737475767778,
			Status: kernel.STATUS_NO_MORE_ENTRIES, IrpFlags: 0x81828384, Flags: 0x91929394,
			CallbackMajorId: 0xA1, CallbackMinorId: 0xA2, Reserved: [2]uint8{0xA3, 0xA4},
			Arg1: 0xB1, Arg2: 0xB2, Arg3: 0xB3, Arg4: 0xB4, Arg5: 0xB5, Arg6: -2,
			EcpCount: 0xC1, KnownEcpMask: 0xC2,
		},
		Name: `\Device\HarddiskVolume1\a.txt`,
	}
}

// Every field of LOG_RECORD at its offset, little-endian; the name as NUL-terminated UTF-16LE;
// the length rounded up to 8 with zero padding.
func TestRecordLayout(t *testing.T) {
	r := sampleRecord()
	b := r.Encode()
	le := binary.LittleEndian
	nameLen := len(r.Name) // ASCII: one UTF-16 unit per byte
	want := (152 + 2*nameLen + 2 + 7) &^ 7
	require.Len(t, b, want)
	require.Equal(t, uint32(want), le.Uint32(b[0:]), "Length")
	require.Equal(t, uint32(0x11223344), le.Uint32(b[4:]), "SequenceNumber")
	require.Equal(t, uint32(0xA0000000), le.Uint32(b[8:]), "RecordType")
	require.Equal(t, uint32(0x55), le.Uint32(b[12:]), "Reserved")
	for off, v := range map[int]uint64{16: 0x0102030405060708, 24: 0x1112131415161718, 32: 0x2122232425262728,
		40: 0x3132333435363738, 48: 0x4142434445464748, 56: 0x5152535455565758, 64: 0x6162636465666768,
		72: 0x7172737475767778, 96: 0xB1, 104: 0xB2, 112: 0xB3, 120: 0xB4, 128: 0xB5, 136: 0xFFFFFFFFFFFFFFFE} {
		require.Equal(t, v, le.Uint64(b[off:]), "8-byte field at %d", off)
	}
	require.Equal(t, uint32(0x8000001A), le.Uint32(b[80:]), "Status")
	require.Equal(t, uint32(0x81828384), le.Uint32(b[84:]), "IrpFlags")
	require.Equal(t, uint32(0x91929394), le.Uint32(b[88:]), "Flags")
	require.Equal(t, []byte{0xA1, 0xA2, 0xA3, 0xA4}, b[92:96], "major, minor, reserved")
	require.Equal(t, uint32(0xC1), le.Uint32(b[144:]), "EcpCount")
	require.Equal(t, uint32(0xC2), le.Uint32(b[148:]), "KnownEcpMask")
	for i := 0; i < nameLen; i++ {
		require.Equal(t, uint16(r.Name[i]), le.Uint16(b[152+2*i:]))
	}
	for _, c := range b[152+2*nameLen:] {
		require.Zero(t, c, "NUL and padding")
	}

	got, err := mp.DecodeRecord(b)
	require.NoError(t, err)
	r.Length = uint32(want)
	require.Equal(t, r, got)
}

func TestRecordLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		want uint32
	}{
		{"", 160},    // 152 + NUL = 154 → 160
		{"abc", 160}, // 152 + 6 + 2 = 160
		{"abcd", 168},
		{"é", 160},          // one UTF-16 unit
		{"\U0001F600", 160}, // a surrogate pair: 152 + 4 + 2 = 158 → 160
		{strings.Repeat("x", 427), 1008},
		{strings.Repeat("x", 2000), 1008}, // truncated to 427 units
	} {
		require.Equal(t, tc.want, mp.RecordLength(tc.name), "%q", tc.name)
		r := mp.LogRecord{Name: tc.name}
		require.Len(t, r.Encode(), int(tc.want))
	}
}

// A name longer than MAX_NAME_WCHARS_LESS_NULL is truncated, as the driver's _snwprintf does.
func TestRecordNameTruncated(t *testing.T) {
	r := mp.LogRecord{Name: strings.Repeat("n", 600)}
	got, err := mp.DecodeRecord(r.Encode())
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("n", mp.MaxNameChars), got.Name)
	require.Equal(t, uint32(mp.MaxLogRecordLength), got.Length)

	r.Name = "\U0001F600 ünïcode"
	got, err = mp.DecodeRecord(r.Encode())
	require.NoError(t, err)
	require.Equal(t, r.Name, got.Name)
}

func TestDecodeRecordsBackToBack(t *testing.T) {
	var buf []byte
	var want []mp.LogRecord
	for i, name := range []string{"a", strings.Repeat("b", 100), "", `\Device\HarddiskVolume1\x`} {
		r := sampleRecord()
		r.SequenceNumber = uint32(i + 1)
		r.Name = name
		buf = r.Append(buf)
		r.Length = mp.RecordLength(name)
		want = append(want, r)
	}
	got, err := mp.DecodeRecords(buf)
	require.NoError(t, err)
	require.Equal(t, want, got)

	got, err = mp.DecodeRecords(nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestDecodeErrors(t *testing.T) {
	good := sampleRecord().Encode()
	le := binary.LittleEndian
	withLength := func(n uint32) []byte {
		b := append([]byte(nil), good...)
		le.PutUint32(b, n)
		return b
	}
	noNul := func() []byte {
		b := make([]byte, 160)
		le.PutUint32(b, 160)
		for i := 152; i < 160; i++ {
			b[i] = 'x'
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short fixed part", good[:100], "the fixed part needs 152"},
		{"length too small", withLength(152), "less than 154"},
		{"length too large", append(withLength(1016), make([]byte, 1016)...), "more than 1008"},
		{"length not aligned", withLength(uint32(len(good)) - 4), "not a multiple of 8"},
		{"length past the end", withLength(uint32(len(good)) + 8), "runs past"},
		{"no NUL", noNul(), "no NUL"},
	} {
		_, err := mp.DecodeRecord(tc.b)
		var de *mp.DecodeError
		require.True(t, errors.As(err, &de), tc.name)
		require.Zero(t, de.Offset, tc.name)
		require.Contains(t, err.Error(), tc.want, tc.name)
	}

	// DecodeRecords returns the records before a bad one, and the bad one's offset.
	buf := append(append([]byte(nil), good...), good[:40]...)
	recs, err := mp.DecodeRecords(buf)
	require.Len(t, recs, 1)
	var de *mp.DecodeError
	require.True(t, errors.As(err, &de))
	require.Equal(t, len(good), de.Offset)
}

func TestCommandMessage(t *testing.T) {
	b := mp.CommandMessage{Command: mp.GetMiniSpyVersion, Reserved: 7}.Encode()
	require.Equal(t, []byte{1, 0, 0, 0, 7, 0, 0, 0}, b)
	m, err := mp.DecodeCommandMessage(b)
	require.NoError(t, err)
	require.Equal(t, mp.CommandMessage{Command: mp.GetMiniSpyVersion, Reserved: 7}, m)
	_, err = mp.DecodeCommandMessage(b[:7])
	require.ErrorIs(t, err, mp.ErrShort)

	c, ok := mp.CommandOf(b[:4])
	require.True(t, ok)
	require.Equal(t, mp.GetMiniSpyVersion, c)
	_, ok = mp.CommandOf(b[:3])
	require.False(t, ok)
	require.Equal(t, "GetMiniSpyLog", mp.GetMiniSpyLog.String())
	require.Equal(t, "MINISPY_COMMAND(9)", mp.Command(9).String())
}

func TestVersion(t *testing.T) {
	v := mp.Version{Major: mp.MajorVersion, Minor: mp.MinorVersion}
	require.Equal(t, []byte{2, 0, 0, 0}, v.Encode())
	got, err := mp.DecodeVersion([]byte{2, 0, 1, 0})
	require.NoError(t, err)
	require.Equal(t, mp.Version{Major: 2, Minor: 1}, got)
	require.Equal(t, "2.1", got.String())
	_, err = mp.DecodeVersion([]byte{2, 0, 0})
	require.ErrorIs(t, err, mp.ErrShort)
}

// FuzzDecodeRecords: the decoder never panics, never reads past a record, and what it
// decodes encodes back to a record that decodes the same.
func FuzzDecodeRecords(f *testing.F) {
	r := sampleRecord()
	f.Add(r.Encode())
	f.Add(r.Append(r.Encode()))
	f.Add([]byte{})
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := mp.DecodeRecords(b)
		total := 0
		for i := range recs {
			total += int(recs[i].Length)
			again, err := mp.DecodeRecord(recs[i].Encode())
			if err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			again.Length = recs[i].Length
			// The name may have lost unpaired surrogates (U+FFFD); compare the rest.
			again.Name = recs[i].Name
			require.Equal(t, recs[i], again)
		}
		require.LessOrEqual(t, total, len(b))
		if err == nil {
			require.Equal(t, len(b), total)
		}
	})
}
