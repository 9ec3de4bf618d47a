// Package cdriver hosts minifilters written in C, as a driver author writes them for the WDK,
// in the emulated filter manager under go test.
//
// A C driver is compiled by cgo, with the machine's C compiler, against fltemu's own headers
// (directory include: fltKernel.h, ntifs.h, ntddk.h, wdm.h, fltUserStructures.h, dontuse.h)
// and linked with this package, which implements the routines those headers declare by
// calling the emulator through [driverapi.FilterManager]. [New] wraps the driver's
// DriverEntry in a [driverapi.Driver]: DriverEntry, the unload callback and every C callback
// run through the same paths, rules and verifier as a Go driver's, with the same processes,
// tokens, trace, fault injection and fake time.
//
// # Recipe
//
//  1. Put the driver's .c and .h files (and its INF) in a package directory, unedited.
//  2. Add the one Go file that names DriverEntry: the generator below writes it.
//  3. Write the Go test as for any driver, w.Load("mydriver", mydriver.New()), and run it with
//     CGO_CFLAGS="-O2 -g -fshort-wchar" (see WCHAR under Limits).
//
// Run in the driver's directory,
//
//	go run github.com/fltemu/fltemu/cdriver/cmd/cdrivergen
//
// writes driver_gen.go: cgo's -I for the headers (outside this module, a copy of them in
// fltemu_include), the declaration of DriverEntry, a go:generate line that writes the file
// again, and the constructor, with the default instance of the directory's INF:
//
//	func New() *cdriver.Driver {
//		return cdriver.New("mydriver.sys", unsafe.Pointer(C.DriverEntry)).
//			SetInstance(cdriver.Instance{Altitude: "265000", Name: "MyDriver Instance"})
//	}
//
// # What the runtime checks
//
// Besides the filter manager's own rules, the runtime reports what C gets wrong (the rule ids
// are the constants below):
//   - pool still allocated when the driver unloads, with tag, size and the file:line of the
//     allocation (RulePoolLeak); a double free or the free of memory the pool did not hand out
//     (RulePoolFree); a write into freed memory, past the end of a block, or a free with
//     another tag (RulePoolCorrupt). Freed blocks are filled with 0xFD and kept until unload,
//     so a use after free reads the pattern instead of another allocation's data;
//   - a lock released that the callback does not hold or acquired again by its holder
//     (RuleLockUnbalanced), a lock still held when a callback returns (RuleLockHeld);
//   - IRQL (R-VERIFY-9): waits, PAGED_CODE and the filter-manager routines called above the
//     IRQL they allow. The runtime knows the IRQL of each callback it makes (PASSIVE_LEVEL for
//     port callbacks, pre-operations and post-create; DISPATCH_LEVEL, the worst case, for the
//     other post-operations) and follows spin locks, fast mutexes and KeRaiseIrql;
//   - bad arguments that would crash on Windows (R-VERIFY-5): a NULL where a pointer is
//     required, an FLT_REGISTRATION of the wrong size or version, a malformed UNICODE_STRING.
//     The routine then fails (STATUS_INVALID_PARAMETER) instead of crashing the test binary.
//
// # Limits
//
//   - WCHAR is the compiler's wchar_t, so that L"..." literals compile unedited: 16 bits only
//     when the C code is compiled with -fshort-wchar, which the go command accepts from the
//     environment alone (CGO_CFLAGS="-O2 -g -fshort-wchar"), never from a #cgo line. Built
//     without it, a driver fails to load with STATUS_INVALID_IMAGE_FORMAT unless its Go file
//     says it shares no WCHAR layout ([Driver.AllowWCHAR32]); see [WCHARSize]. C files built
//     with different sizes do not link.
//   - One image per process: a C driver's globals exist once per test binary, so a given C
//     driver can be loaded in one world at a time (a second load gets
//     STATUS_IMAGE_ALREADY_LOADED, and the load's error says why); its tests do not run in
//     parallel with each other; they do run in parallel with other drivers' tests. Globals
//     keep their values from one load to the next in the same test binary, where Windows
//     would map a fresh image: initialize them in DriverEntry. Two C drivers that define a
//     global of the same name (every WDK driver defines DriverEntry) do not link into one test
//     binary: each C driver is tested in its own package.
//   - __try/__except is a stand-in (see wdm.h): the body runs, the handler never does; a fault
//     in C is a crash of the test binary (SIGSEGV with the C stack), not an exception.
//   - The race detector does not see inside C code: -race checks the Go side only.
//   - The C code runs on the goroutine of the operation. Blocking routines (waits, contended
//     locks, FltSendMessage) call back into Go and block on channels, so inside a
//     testing/synctest bubble their timeouts run on the fake clock; C code that blocks by
//     itself (a spin loop, a pthread call) would keep the bubble from ever being idle.
package cdriver
