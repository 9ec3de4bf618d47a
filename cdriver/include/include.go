// Package include holds fltemu's own WDK-shaped C headers (fltKernel.h, fltUserStructures.h,
// ntifs.h, ntddk.h, wdm.h, dontuse.h, suppress.h): the directory is what a C driver's
// package passes to cgo with -I, and [FS] embeds the files for cdrivergen, which copies them
// into a driver's package outside this module (cgo cannot name a directory in the module
// cache).
//
// wdm.h defines FLTEMU_HEADERS_ID, a hash of the headers' text; the runtime and every C file
// of a driver name it in a symbol, so a driver compiled with a stale copy does not link. The
// package's test checks the ID; after editing a header, set it with
// FLTEMU_UPDATE_GOLDEN=1 go test ./cdriver/include.
package include

import "embed"

// FS holds the headers, at its root.
//
//go:embed *.h
var FS embed.FS
