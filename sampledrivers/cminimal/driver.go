// Package cminimal is the minimal template (package minimal) written in C, as for the WDK:
// minimal.c and minimal.h are the driver; this file only names its DriverEntry.
package cminimal

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
	return cdriver.New("minimal.sys", unsafe.Pointer(C.DriverEntry)).AllowWCHAR32(true)
}
