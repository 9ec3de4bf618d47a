package driverapi

import "testing"

// IsAligned looks at the buffer's address, as IS_ALIGNED does in C: a heap buffer of 16 bytes
// or more from make is 8-byte aligned, buf[1:] of it is not, buf[4:] is 4- but not 8-aligned.
func TestIsAligned(t *testing.T) {
	buf := make([]byte, 64)
	for _, tc := range []struct {
		b     []byte
		align uintptr
		want  bool
	}{
		{buf, 8, true},
		{buf, 4, true},
		{buf[1:], 8, false},
		{buf[1:], 1, true},
		{buf[4:], 4, true},
		{buf[4:], 8, false},
		{buf[8:], 8, true},
		{buf[2:], 2, true},
		{buf[3:], 2, false},
		{nil, 8, true},
		{buf[:0], 8, true},
		{buf, 0, false},
		{buf, 6, false},
	} {
		if got := IsAligned(tc.b, tc.align); got != tc.want {
			t.Errorf("IsAligned(offset %d, %d) = %v, want %v", len(buf)-len(tc.b), tc.align, got, tc.want)
		}
	}
}
