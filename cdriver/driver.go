package cdriver

/*
#cgo CFLAGS: -I${SRCDIR}/include -Wall -Wno-unused-function
#include <stdlib.h>
#include "runtime.h"
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"runtime/cgo"
	"sort"
	"sync"
	"unicode/utf16"
	"unsafe"

	// The go command keys its cache on a package's own files only, not on headers included
	// from another directory; the headers' package embeds them, so editing one changes it,
	// and with it this runtime and every C driver, which are then compiled again.
	_ "github.com/fltemu/fltemu/cdriver/include"
	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// Rule ids of the checks the C runtime adds to the verifier.
const (
	RulePoolLeak       kernel.RuleID = "R-POOL-1" // pool still allocated when the driver unloads
	RulePoolFree       kernel.RuleID = "R-POOL-2" // double free, or a free of memory the pool did not hand out
	RulePoolCorrupt    kernel.RuleID = "R-POOL-3" // freed memory written, a block overrun, a free with another tag
	RuleLockUnbalanced kernel.RuleID = "R-LOCK-1" // a release of a lock not held, a recursive acquire
	RuleLockHeld       kernel.RuleID = "R-LOCK-2" // a lock still held when a callback returns
	RuleAssert         kernel.RuleID = "R-ASSERT" // an ASSERT/NT_ASSERT that failed
)

// EvDbgPrint is the trace event of a driver's DbgPrint: Detail is the text, without the
// trailing newline.
const EvDbgPrint kernel.EventKind = "dbg-print"

// Driver is a C minifilter: its DriverEntry, hosted as a [driverapi.Driver].
type Driver struct {
	image   string
	entry   unsafe.Pointer
	inst    Instance
	wchar32 bool // may load with a 32-bit WCHAR

	mu   sync.Mutex
	host *host // the current load, nil when the image is not loaded
}

// images holds the C driver last loaded for each DriverEntry: a driver's globals are one per
// process, so one load at a time.
var (
	imagesMu sync.Mutex
	images   = map[unsafe.Pointer]*Driver{}
)

// New returns the C driver whose DriverEntry is entry (unsafe.Pointer(C.DriverEntry) in the
// driver's package). image names the driver in reports ("scanner.sys").
func New(image string, entry unsafe.Pointer) *Driver {
	if entry == nil {
		panic("cdriver: New needs the address of the driver's DriverEntry")
	}
	return &Driver{image: image, entry: entry}
}

// Image returns the image name given to New.
func (d *Driver) Image() string { return d.image }

// AllowWCHAR32 says whether the driver may load when its C code was compiled without
// -fshort-wchar, with the 32-bit wchar_t of Linux as WCHAR (see [WCHARSize]). By default it
// may not: its load fails with STATUS_INVALID_IMAGE_FORMAT and a message that says how to
// build. The runtime converts every string it hands over or reads (UNICODE_STRING, names,
// DbgPrint), so allow it only for a driver that shares no structure holding a WCHAR with user
// mode or a file, and never counts on sizeof(WCHAR) being 2: such a driver behaves the same
// with either size.
func (d *Driver) AllowWCHAR32(allow bool) *Driver {
	d.wchar32 = allow
	return d
}

// WCHARSize returns sizeof(WCHAR) in this build's C code: 2 (Windows' size) when it was
// compiled with -fshort-wchar, as in CGO_CFLAGS="-O2 -g -fshort-wchar"; 4 without. The go
// command accepts that flag only from the environment, never from a #cgo line. Every C file
// of the test binary has the same size, or the link fails (see include/wdm.h).
func WCHARSize() int { return wcharSize }

// routineImage is the routine named in the explanation of a load refused before DriverEntry ran.
const routineImage = "cdriver (loading the image)"

// DriverEntry emulates the I/O manager calling the C driver's DriverEntry with a
// DRIVER_OBJECT and its registry path. Before it runs, the image is checked: built with a
// 32-bit WCHAR and not allowed to (AllowWCHAR32), the load fails with
// STATUS_INVALID_IMAGE_FORMAT; already loaded in another world of the process, it fails with
// STATUS_IMAGE_ALREADY_LOADED, because its globals exist once per process. Both refusals
// say why in the load's error.
func (d *Driver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, registryPath string) kernel.NTSTATUS {
	if wcharSize != 2 && !d.wchar32 {
		return refuse(fm, kernel.STATUS_INVALID_IMAGE_FORMAT, fmt.Sprintf("%s was compiled with a %d-bit WCHAR "+
			"(Linux's wchar_t), so every structure that holds a WCHAR differs from Windows; compile the C code "+
			"with -fshort-wchar, which the go command takes only from the environment: "+
			`CGO_CFLAGS="-O2 -g -fshort-wchar" go test ./... (or, for a driver that shares no WCHAR layout, `+
			"AllowWCHAR32(true) in its Go file)", d.image, 8*wcharSize))
	}
	imagesMu.Lock()
	if prev, ok := images[d.entry]; ok && prev.loaded() {
		imagesMu.Unlock()
		return refuse(fm, kernel.STATUS_IMAGE_ALREADY_LOADED, fmt.Sprintf("%s is loaded in another world of this "+
			"test binary as %q; a C driver's globals exist once per process, so one world at a time may load it "+
			"(its tests must not run in parallel)", d.image, prev.serviceName()))
	}
	images[d.entry] = d
	h := newHost(d, obj, fm)
	h.gobj = obj
	d.mu.Lock()
	d.host = h
	d.mu.Unlock()
	imagesMu.Unlock()

	cobj := (*C.DRIVER_OBJECT)(h.calloc(C.sizeof_DRIVER_OBJECT))
	cobj.Type = 4
	cobj.Size = C.CSHORT(C.sizeof_DRIVER_OBJECT)
	h.setUnicode(&cobj.DriverName, `\Driver\`+obj.Name)
	h.cobj = cobj
	reg := (*C.UNICODE_STRING)(h.calloc(C.sizeof_UNICODE_STRING))
	h.setUnicode(reg, registryPath)

	fr := h.enter("DriverEntry", context.Background())
	st := kernel.NTSTATUS(C.fltemu_call_driver_entry(fr.id, C.PDRIVER_INITIALIZE(d.entry), cobj, reg))
	fr.leave()
	if !st.IsSuccess() {
		// The image is unloaded at once: what DriverEntry allocated and did not free leaked.
		h.imageUnloaded("DriverEntry failed")
		return st
	}
	return st
}

// refuse fails the load before DriverEntry runs, saying why.
func refuse(fm driverapi.FilterManager, st kernel.NTSTATUS, reason string) kernel.NTSTATUS {
	if drvhost.Refuse != nil {
		return drvhost.Refuse(fm, routineImage, st, reason)
	}
	return st
}

// serviceName is the name the image is loaded under, "" when it is not.
func (d *Driver) serviceName() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.host == nil {
		return ""
	}
	return d.host.name
}

func (d *Driver) loaded() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.host != nil
}

// host is one load of a C driver: the objects the driver was handed, its pool, its locks.
type host struct {
	drv   *Driver
	name  string // the service name (DRIVER_OBJECT name)
	fm    driverapi.FilterManager
	world *kernel.World // nil if the filter manager does not say
	cobj  *C.DRIVER_OBJECT
	gobj  *driverapi.DriverObject

	mu       sync.Mutex
	filter   driverapi.Filter
	filterC  unsafe.Pointer
	reg      *registration
	tokens   map[any]unsafe.Pointer // Go object → the opaque C pointer that stands for it
	objects  map[unsafe.Pointer]any // and back
	refs     map[unsafe.Pointer]int // references on volumes, instances handed out
	sds      map[unsafe.Pointer]*kernel.SecurityDescriptor
	contexts map[unsafe.Pointer]driverapi.FltContext
	names    map[unsafe.Pointer]*nameInfo
	pool     poolState
	sync     syncState
	runtime  []unsafe.Pointer // the runtime's own C memory, freed at unload
	done     bool
}

func newHost(d *Driver, obj *driverapi.DriverObject, fm driverapi.FilterManager) *host {
	h := &host{drv: d, name: obj.Name, fm: fm,
		tokens: map[any]unsafe.Pointer{}, objects: map[unsafe.Pointer]any{}, refs: map[unsafe.Pointer]int{},
		sds: map[unsafe.Pointer]*kernel.SecurityDescriptor{}, contexts: map[unsafe.Pointer]driverapi.FltContext{},
		names: map[unsafe.Pointer]*nameInfo{}}
	if drvhost.WorldOf != nil {
		h.world = drvhost.WorldOf(fm)
	}
	h.pool.init()
	h.sync.init()
	return h
}

// calloc returns zeroed C memory that lives until the image unloads.
func (h *host) calloc(n C.size_t) unsafe.Pointer {
	p := C.calloc(1, n)
	h.mu.Lock()
	h.runtime = append(h.runtime, p)
	h.mu.Unlock()
	return p
}

// token returns the opaque C pointer that stands for o (PFLT_INSTANCE, PFLT_VOLUME, ...).
func (h *host) token(o any) unsafe.Pointer {
	if o == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.tokens[o]; ok {
		return p
	}
	p := C.calloc(1, 64)
	h.runtime = append(h.runtime, p)
	h.tokens[o] = p
	h.objects[p] = o
	return p
}

// object returns what the C pointer p stands for.
func (h *host) object(p unsafe.Pointer) (any, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.objects[p]
	return o, ok
}

// wcharSize is sizeof(WCHAR): 2 with -fshort-wchar, as on Windows; 4 without.
const wcharSize = int(C.sizeof_WCHAR)

// wunits returns s in WCHAR units: UTF-16 or UTF-32.
func wunits(s string) []uint32 {
	var out []uint32
	if wcharSize == 2 {
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, uint32(u))
		}
		return out
	}
	for _, r := range s {
		out = append(out, uint32(r))
	}
	return out
}

// putW writes the units w at p.
func putW(p unsafe.Pointer, w []uint32) {
	for i, u := range w {
		if wcharSize == 2 {
			*(*uint16)(unsafe.Add(p, 2*i)) = uint16(u)
		} else {
			*(*uint32)(unsafe.Add(p, 4*i)) = u
		}
	}
}

// setUnicode points u at a NUL-terminated copy of s that lives until unload.
func (h *host) setUnicode(u *C.UNICODE_STRING, s string) {
	w := wunits(s)
	p := h.calloc(C.size_t(wcharSize * (len(w) + 1)))
	putW(p, w)
	u.Buffer = (*C.WCHAR)(p)
	u.Length = C.USHORT(wcharSize * len(w))
	u.MaximumLength = C.USHORT(wcharSize * (len(w) + 1))
}

// goString reads a UNICODE_STRING.
func goString(u *C.UNICODE_STRING) string {
	if u == nil || u.Length == 0 || u.Buffer == nil {
		return ""
	}
	n := int(u.Length) / wcharSize
	if wcharSize == 2 {
		return string(utf16.Decode(unsafe.Slice((*uint16)(unsafe.Pointer(u.Buffer)), n)))
	}
	rs := make([]rune, n)
	for i, c := range unsafe.Slice((*uint32)(unsafe.Pointer(u.Buffer)), n) {
		rs[i] = rune(c)
	}
	return string(rs)
}

// report records a violation of the driver.
func (h *host) report(rule kernel.RuleID, object, message, windows string) {
	v := kernel.Violation{Rule: rule, Driver: h.name, Object: object, Message: message, Windows: windows}
	if h.world != nil {
		h.world.Verifier().Report(v)
		return
	}
	fmt.Fprintln(os.Stderr, "cdriver:", v.Error())
}

// trace adds an event to the world's trace.
func (h *host) trace(e kernel.TraceEvent) {
	if h.world != nil {
		e.Driver = h.name
		h.world.Trace().Add(e)
	}
}

// timedWait tells the world a timed wait starts (see kernel.World.TimedWait); nil when nobody
// listens, or there is no world.
func (h *host) timedWait(routine string) (end func()) {
	if h.world == nil {
		return nil
	}
	return h.world.TimedWait(routine)
}

// imageUnloaded ends the load: the pool and lock checks of an unloading driver, then the
// runtime's memory is freed and the image may be loaded again.
func (h *host) imageUnloaded(why string) {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return
	}
	h.done = true
	h.mu.Unlock()
	h.pool.checkAtUnload(h, why)
	h.mu.Lock()
	for _, p := range h.runtime {
		C.free(p)
	}
	h.runtime = nil
	for p := range h.contexts {
		C.free(p)
	}
	h.contexts = map[unsafe.Pointer]driverapi.FltContext{}
	for p := range h.names {
		C.free(p)
	}
	h.names = map[unsafe.Pointer]*nameInfo{}
	h.mu.Unlock()
	d := h.drv
	d.mu.Lock()
	if d.host == h {
		d.host = nil
	}
	d.mu.Unlock()
}

// ---- frames --------------------------------------------------------------------------------

// frame is one call into driver code (DriverEntry, a callback) on one goroutine: its IRQL, the
// locks it took, the C memory that lives as long as the call.
type frame struct {
	h      *host
	id     C.fltemu_frame_t
	handle cgo.Handle
	where  string
	entry  kernel.KIRQL // the IRQL the callback was called at
	ctx    context.Context
	parent *frame

	data  *driverapi.CallbackData
	cdata *C.FLT_CALLBACK_DATA
	files map[unsafe.Pointer]*fsys.FileObject
	locks []unsafe.Pointer // held, in acquisition order
	arena []unsafe.Pointer
}

// enter makes the frame of a call into driver code, on the calling goroutine, at the IRQL
// the filter manager runs it at.
func (h *host) enter(where string, ctx context.Context) *frame {
	if ctx == nil {
		ctx = context.Background()
	}
	fr := &frame{h: h, where: where, entry: h.fm.GetCurrentIrql(), ctx: ctx}
	fr.handle = cgo.NewHandle(fr)
	fr.id = C.fltemu_frame_t(fr.handle)
	return fr
}

// leave ends the call: locks still held are reported (and released, so the test goes on),
// the frame's C memory is freed.
func (fr *frame) leave() {
	fr.h.sync.mu.Lock()
	held := fr.locks
	fr.locks = nil
	fr.h.sync.mu.Unlock()
	if len(held) > 0 {
		for i := len(held) - 1; i >= 0; i-- {
			l := held[i]
			kind := fr.h.sync.lockKind(l)
			fr.h.report(RuleLockHeld, fmt.Sprintf("%s at %p", kind, l),
				fmt.Sprintf("%s returned with the lock held", fr.where),
				"the next acquire deadlocks (a spin lock held also leaves the IRQL raised: IRQL_NOT_LESS_OR_EQUAL)")
			fr.h.sync.forceRelease(l)
		}
	}
	if cur := fr.irql(); cur != fr.entry {
		fr.h.report(kernel.RuleVerify9, fr.where, fmt.Sprintf("returned at %v; it was called at %v", cur, fr.entry),
			"IRQL_GT_ZERO_AT_SYSTEM_SERVICE or IRQL_NOT_LESS_OR_EQUAL bugcheck")
		fr.setIRQL(fr.entry)
	}
	for _, p := range fr.arena {
		C.free(p)
	}
	fr.arena = nil
	fr.handle.Delete()
}

// irql is KeGetCurrentIrql for the frame's goroutine: the filter manager's record of it.
func (fr *frame) irql() kernel.KIRQL { return fr.h.fm.GetCurrentIrql() }

// setIRQL sets the goroutine's IRQL where the filter manager keeps it, so that its own
// routines see what the C code raised (KeRaiseIrql, a spin lock).
func (fr *frame) setIRQL(l kernel.KIRQL) {
	if fr.h.world != nil {
		fr.h.world.IRQLs().Raise(l)
	}
}

// alloc returns zeroed C memory freed when the frame ends.
func (fr *frame) alloc(n C.size_t) unsafe.Pointer {
	p := C.calloc(1, n)
	fr.arena = append(fr.arena, p)
	return p
}

// frameOf returns the frame of the calling C code.
func frameOf(f C.fltemu_frame_t) *frame {
	if f == 0 {
		panic("cdriver: a runtime routine was called from C code that the runtime did not call (a thread of the driver's own?)")
	}
	return cgo.Handle(f).Value().(*frame)
}

// fileObject returns the emulator's file object a FILE_OBJECT handed to the driver stands
// for, looking in the frames of the calling goroutine.
func (fr *frame) fileObject(p unsafe.Pointer) *fsys.FileObject {
	for f := fr; f != nil; f = f.parent {
		if fo, ok := f.files[p]; ok {
			return fo
		}
	}
	return nil
}

// checkIRQL reports a routine the runtime implements called above max (the filter
// manager checks its own routines).
func (fr *frame) checkIRQL(routine string, max kernel.KIRQL) {
	if cur := fr.irql(); cur > max {
		fr.h.report(kernel.RuleVerify9, routine, fmt.Sprintf("called at %v from %s; it may be called at %v or below",
			cur, fr.where, max), "IRQL_NOT_LESS_OR_EQUAL bugcheck (or a deadlock on a page fault)")
	}
}

// badInput reports an argument that would crash Windows.
func (fr *frame) badInput(routine, what string) {
	fr.h.report(kernel.RuleVerify5, routine, fmt.Sprintf("%s passed %s", fr.where, what), "a bugcheck (or memory corruption)")
}

// sortedKeys is for stable reports.
func sortedKeys[V any](m map[unsafe.Pointer]V) []unsafe.Pointer {
	ks := make([]unsafe.Pointer, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return uintptr(ks[i]) < uintptr(ks[j]) })
	return ks
}
