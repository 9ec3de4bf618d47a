// Package cscanner is the scanner minifilter written in C, as for the WDK (scanner.c,
// scanner.h, scanuk.h, scanner.inf). This file only names its DriverEntry and the default
// instance of its INF.
package cscanner

// #cgo CFLAGS: -I${SRCDIR}/../../cdriver/include
// #include <fltKernel.h>
// NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
import "C"

import (
	"unsafe"

	"github.com/fltemu/fltemu/cdriver"
)

// New returns the C driver, ready for harness.World.Load.
func New() *cdriver.Driver {
	return cdriver.New("scanner.sys", unsafe.Pointer(C.DriverEntry)).
		SetInstance(cdriver.Instance{Altitude: "265000", Name: "Scanner Instance", Flags: 0x0}).
		AllowWCHAR32(true)
}
