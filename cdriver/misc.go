package cdriver

/*
#include "runtime.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/fltemu/fltemu/kernel"
)

//export cdrv_DbgPrint
func cdrv_DbgPrint(f C.fltemu_frame_t, msg *C.char, truncated C.int) {
	fr := frameOf(f)
	s := strings.TrimRight(C.GoString(msg), "\r\n")
	if truncated != 0 {
		s += " [truncated to 511 bytes]"
	}
	fr.h.trace(kernel.TraceEvent{Kind: EvDbgPrint, Detail: s})
}

//export cdrv_BadInput
func cdrv_BadInput(f C.fltemu_frame_t, routine, what *C.char) {
	frameOf(f).badInput(C.GoString(routine), C.GoString(what))
}

//export cdrv_AssertFailed
func cdrv_AssertFailed(f C.fltemu_frame_t, expr, file *C.char, line C.int) {
	fr := frameOf(f)
	fr.h.report(RuleAssert, fmt.Sprintf("%s:%d", C.GoString(file), line),
		fmt.Sprintf("assertion failed in %s: %s", fr.where, C.GoString(expr)), "a breakpoint on a checked build; nothing on a free build")
}

//export cdrv_Probe
func cdrv_Probe(f C.fltemu_frame_t, p unsafe.Pointer, n C.SIZE_T, align C.ULONG, write C.int) {
	fr := frameOf(f)
	routine := "ProbeForRead"
	if write != 0 {
		routine = "ProbeForWrite"
	}
	if n == 0 {
		return
	}
	if p == nil {
		fr.h.report(kernel.RuleVerify5, routine, fmt.Sprintf("%s probed a NULL buffer of %d bytes", fr.where, n),
			"raises STATUS_ACCESS_VIOLATION: the __except handler runs (the emulator's __try cannot run it)")
		return
	}
	if align != 0 && uintptr(p)%uintptr(align) != 0 {
		fr.h.report(kernel.RuleVerify5, routine, fmt.Sprintf("%s probed %p, not aligned on %d", fr.where, p, align),
			"raises STATUS_DATATYPE_MISALIGNMENT: the __except handler runs (the emulator's __try cannot run it)")
	}
}

//export cdrv_RaiseStatus
func cdrv_RaiseStatus(f C.fltemu_frame_t, s C.NTSTATUS) {
	fr := frameOf(f)
	fr.h.report(kernel.RuleVerify5, "ExRaiseStatus", fmt.Sprintf("%s raised %v; the emulator cannot unwind C code and goes on after the call", fr.where, kernel.NTSTATUS(uint32(s))),
		"the nearest __except handler runs")
}

// Layout is the size and two field offsets of a C structure as the headers declare it, for
// the layout tests.
type Layout struct{ Size, Offset1, Offset2 uintptr }

// layoutOf returns the layout of the structure numbered which (see fltemu_layout_of).
func layoutOf(which int) Layout {
	l := C.fltemu_layout_of(C.int(which))
	return Layout{uintptr(l.size), uintptr(l.offset1), uintptr(l.offset2)}
}
