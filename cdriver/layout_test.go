//go:build cgo

package cdriver

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
)

// The headers give the structures their Windows (LLP64, x64) sizes and offsets: ULONG is 32
// bits, pointers 64, and the structures shared with user mode match fltuser.h byte for byte.
func TestHeaderLayouts(t *testing.T) {
	cases := []struct {
		name   string
		which  int
		layout Layout
	}{
		{"UNICODE_STRING (Length, MaximumLength, Buffer)", 0, Layout{16, 2, 8}},
		{"FILTER_MESSAGE_HEADER (ReplyLength, MessageId)", 1, Layout{driverapi.FilterMessageHeaderSize, 0, 8}},
		{"FILTER_REPLY_HEADER (Status, MessageId)", 2, Layout{driverapi.FilterMessageHeaderSize, 0, 8}},
		{"FLT_REGISTRATION (Flags, SectionNotificationCallback)", 3, Layout{112, 4, 104}},
		{"FLT_OPERATION_REGISTRATION (Flags, PreOperation)", 4, Layout{32, 4, 8}},
		{"LARGE_INTEGER (HighPart)", 5, Layout{8, 4, 0}},
		{"OBJECT_ATTRIBUTES (ObjectName, SecurityDescriptor)", 6, Layout{48, 16, 32}},
		{"FLT_RELATED_OBJECTS (Filter, FileObject)", 7, Layout{48, 8, 32}},
		{"FLT_CONTEXT_REGISTRATION (Size, PoolTag)", 8, Layout{56, 16, 24}},
	}
	for _, c := range cases {
		require.Equal(t, c.layout, layoutOf(c.which), c.name)
	}
	basic := layoutOf(9) // sizeof(WCHAR), sizeof(ULONG), sizeof(LONG_PTR)
	require.Equal(t, uintptr(4), basic.Offset1, "ULONG is 32 bits (LLP64)")
	require.Equal(t, uintptr(8), basic.Offset2, "LONG_PTR is 64 bits")
	require.Contains(t, []uintptr{2, 4}, basic.Size, "WCHAR is wchar_t")
	if wcharSize == 2 {
		t.Log("WCHAR is 16 bits (-fshort-wchar): Windows layouts throughout")
	}
}
