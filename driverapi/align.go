package driverapi

import "unsafe"

// IsAligned emulates the IS_ALIGNED macro applied to the address of a buffer a driver was
// handed, such as the output buffer of a MessageNotify callback: it reports whether buf's
// first byte sits at a multiple of alignment (a power of two; anything else reports false).
// An empty buffer has no address and reports true.
//
// The emulator gives a driver the user's own memory (R-CB-3), so the address is the one the
// user program's slice has, as on Windows: a buffer of 16 bytes or more from make, like an
// array of PVOIDs in C, starts 8-byte aligned, while buf[1:] of it does not. Every emulated
// process is a 64-bit process, so a driver checks pointer alignment against 8
// (IoIs32bitProcess is always false). A driver calls this instead of looking at the address
// itself, so that it imports nothing but driverapi and kernel.
func IsAligned(buf []byte, alignment uintptr) bool {
	if alignment == 0 || alignment&(alignment-1) != 0 {
		return false
	}
	if len(buf) == 0 {
		return true
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(buf)))&(alignment-1) == 0
}
