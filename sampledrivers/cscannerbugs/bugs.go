// Package cscannerbugs is a copy of the C scanner's scanner.c (package cscanner, whose headers
// it includes) with bugs planted in it, switched on one by one, for the tests that show which
// verifier rule each one breaks. driver_gen.go, written by cdrivergen, names its DriverEntry.
package cscannerbugs

// #include <fltKernel.h>
// extern ULONG PlantedBugs;
import "C"

import "github.com/fltemu/fltemu/cdriver"

// The planted bugs (scanner.c's BUG_* values).
const (
	BugNoCloseClientPort = 0x1     // DisconnectNotify forgets FltCloseClientPort
	BugLeakNotification  = 0x2     // the notification is never freed
	BugUnregisterOpen    = 0x4     // unload unregisters with the server port open
	BugSendInPostWrite   = 0x8     // a post-write callback reads the file and sends to user mode
	BugRegistrationSize  = 0x10    // FLT_REGISTRATION.Size too small for its Version
	BugDoubleFree        = 0x20    // the notification is freed twice
	BugLockHeldAtReturn  = 0x40    // the pre-create returns holding a push lock
	BugReleaseNotHeld    = 0x80    // the pre-create releases a push lock it does not hold
	BugWriteAfterFree    = 0x100   // the notification is written after it is freed
	BugWaitAtDispatch    = 0x200   // the pre-create waits, with a timeout, holding a spin lock
	BugPoolOverrun       = 0x400   // the notification is written one byte past its end
	BugFreeWrongTag      = 0x800   // the notification is freed with another tag
	BugAssertInPreCreate = 0x1000  // the pre-create asserts what only holds for a write
	BugLowerIrqlUp       = 0x2000  // the pre-create "lowers" the IRQL to APC_LEVEL from PASSIVE_LEVEL
	BugReturnAtAPC       = 0x4000  // the pre-create raises to APC_LEVEL and returns there
	BugRaiseIrqlDown     = 0x8000  // the post-write "raises" to APC_LEVEL from DISPATCH_LEVEL
	BugNullRegistration  = 0x10000 // FltRegisterFilter with a NULL Registration
	BugRegistrationVer   = 0x20000 // FLT_REGISTRATION.Version of a future header (0x0300)
	BugOddPortNameLength = 0x40000 // the port name's Length cuts its last WCHAR in half
)

// New returns the driver with the given bugs planted. Call it before loading.
func New(bugs uint32) *cdriver.Driver {
	C.PlantedBugs = C.ULONG(bugs)
	return newDriver()
}
