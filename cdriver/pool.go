package cdriver

/*
#include <stdlib.h>
#include <string.h>
#include "runtime.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/fltemu/fltemu/kernel"
)

// Pool patterns: a fresh block that was not asked to be zeroed, the guard bytes after each
// block, a freed block.
const (
	poolFresh  = 0xCD
	poolGuard  = 0xCB
	poolFreed  = 0xFD
	guardBytes = 16
)

// pool2 marks an allocation through ExAllocatePool2 (its first argument is POOL_FLAGS).
const pool2 = 1 << 63

// POOL_FLAGS bits that say which pool.
const (
	poolFlagNonPaged        = 0x40
	poolFlagNonPagedExecute = 0x80
	poolFlagPaged           = 0x100
)

// allocation is one block of the driver's pool.
type allocation struct {
	p       unsafe.Pointer
	size    int
	tag     uint32
	site    string // file:line of the allocation, or the routine that allocated for the driver
	runtime bool   // allocated by a runtime routine for the driver (a security descriptor)
}

type poolState struct {
	mu    sync.Mutex
	live  map[unsafe.Pointer]*allocation
	freed map[unsafe.Pointer]*allocation
}

func (ps *poolState) init() {
	ps.live = map[unsafe.Pointer]*allocation{}
	ps.freed = map[unsafe.Pointer]*allocation{}
}

// tagString shows a pool tag as poolmon does: its four bytes in memory order.
func tagString(tag uint32) string {
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '.'
		}
	}
	return fmt.Sprintf("'%s'", b)
}

func (a *allocation) String() string {
	return fmt.Sprintf("%d bytes tagged %s allocated at %s", a.size, tagString(a.tag), a.site)
}

// track records a block the runtime allocated on the driver's behalf.
func (ps *poolState) track(h *host, p unsafe.Pointer, size int, tag uint32, site string, line int, runtime bool) {
	if line > 0 {
		site = fmt.Sprintf("%s:%d", site, line)
	}
	ps.mu.Lock()
	ps.live[p] = &allocation{p: p, size: size, tag: tag, site: site, runtime: runtime}
	ps.mu.Unlock()
}

func (ps *poolState) untrack(p unsafe.Pointer) {
	ps.mu.Lock()
	delete(ps.live, p)
	ps.mu.Unlock()
}

//export cdrv_Allocate
func cdrv_Allocate(f C.fltemu_frame_t, flags C.ULONG64, n C.SIZE_T, tag C.ULONG, zero C.int, site *C.char, line C.int) C.PVOID {
	fr := frameOf(f)
	h := fr.h
	routine := "ExAllocatePoolWithTag"
	paged := flags&1 != 0 // PagedPool, PagedPoolCacheAligned, ...
	if uint64(flags)&pool2 != 0 {
		routine = "ExAllocatePool2"
		fl := uint64(flags) &^ pool2
		if fl&(poolFlagNonPaged|poolFlagNonPagedExecute|poolFlagPaged) == 0 {
			fr.badInput(routine, fmt.Sprintf("POOL_FLAGS %#x without POOL_FLAG_PAGED or POOL_FLAG_NON_PAGED", fl))
			return nil
		}
		paged = fl&poolFlagPaged != 0
	}
	if paged {
		fr.checkIRQL(routine+" (paged pool)", kernel.APC_LEVEL)
	} else {
		fr.checkIRQL(routine, kernel.DISPATCH_LEVEL)
	}
	if tag == 0 {
		fr.badInput(routine, "a pool tag of 0")
	}
	size := int(n)
	if size < 0 || size > 1<<31 {
		return nil // STATUS_INSUFFICIENT_RESOURCES: the pool has no such block
	}
	p := C.malloc(C.size_t(size + guardBytes))
	if p == nil {
		return nil
	}
	fill := C.int(poolFresh)
	if zero != 0 {
		fill = 0
	}
	C.memset(p, fill, C.size_t(size))
	C.memset(unsafe.Add(p, size), poolGuard, guardBytes)
	where := "?"
	if site != nil {
		where = C.GoString(site)
	}
	h.pool.track(h, p, size, uint32(tag), where, int(line), false)
	return C.PVOID(p)
}

//export cdrv_Free
func cdrv_Free(f C.fltemu_frame_t, pv C.PVOID, tag C.ULONG, checkTag C.int, routine *C.char) {
	fr := frameOf(f)
	h := fr.h
	name := C.GoString(routine)
	p := unsafe.Pointer(pv)
	if p == nil {
		fr.badInput(name, "a NULL pointer")
		return
	}
	fr.checkIRQL(name, kernel.DISPATCH_LEVEL)
	ps := &h.pool
	ps.mu.Lock()
	a, live := ps.live[p]
	old, freed := ps.freed[p]
	if live {
		delete(ps.live, p)
		if !a.runtime {
			ps.freed[p] = a
		}
	}
	ps.mu.Unlock()
	switch {
	case live && a.runtime:
		h.report(RulePoolFree, fmt.Sprintf("block at %p", p), fmt.Sprintf("%s freed memory that %s returned; free it with its own routine", name, a.site),
			"BAD_POOL_CALLER bugcheck")
		C.free(p)
		return
	case !live && freed:
		h.report(RulePoolFree, fmt.Sprintf("block at %p", p), fmt.Sprintf("%s in %s: double free of %v", name, fr.where, old),
			"BAD_POOL_CALLER bugcheck (0xC2, the block is already free)")
		return
	case !live:
		h.report(RulePoolFree, fmt.Sprintf("block at %p", p), fmt.Sprintf("%s in %s: the pool did not allocate this block", name, fr.where),
			"BAD_POOL_CALLER bugcheck")
		return
	}
	if checkTag != 0 && uint32(tag)&^0x80000000 != a.tag&^0x80000000 {
		h.report(RulePoolCorrupt, fmt.Sprintf("block at %p", p), fmt.Sprintf("%s in %s with tag %s frees %v", name, fr.where, tagString(uint32(tag)), a),
			"BAD_POOL_CALLER bugcheck (0xC2, a tag mismatch)")
	}
	if !guardIntact(p, a.size) {
		h.report(RulePoolCorrupt, fmt.Sprintf("block at %p", p), fmt.Sprintf("the driver wrote past the end of %v (found at %s in %s)", a, name, fr.where),
			"pool corruption: a bugcheck later, in whoever owns the next block")
	}
	C.memset(p, poolFreed, C.size_t(a.size))
}

func firstNot(b []byte, v byte) int {
	for i, c := range b {
		if c != v {
			return i
		}
	}
	return -1
}

func guardIntact(p unsafe.Pointer, size int) bool {
	return firstNot(unsafe.Slice((*byte)(unsafe.Add(p, size)), guardBytes), poolGuard) < 0
}

// checkAtUnload reports what the driver did not free (R-POOL-1), the overruns of those blocks
// and freed blocks written after the free (R-POOL-3), then frees everything: the image is gone.
func (ps *poolState) checkAtUnload(h *host, why string) {
	ps.mu.Lock()
	live, freed := ps.live, ps.freed
	ps.live, ps.freed = map[unsafe.Pointer]*allocation{}, map[unsafe.Pointer]*allocation{}
	ps.mu.Unlock()
	for _, p := range sortedKeys(live) {
		a := live[p]
		h.report(RulePoolLeak, fmt.Sprintf("pool block at %p", p), fmt.Sprintf("%v was still allocated when the driver unloaded (%s)", a, why),
			"Driver Verifier bugchecks (0xC4/0x62, a driver unloading without freeing its pool); without it the memory leaks until reboot")
		// A block never freed had its guard checked by nobody: an overrun of a leaked block
		// would otherwise go unseen.
		if !a.runtime && !guardIntact(p, a.size) {
			h.report(RulePoolCorrupt, fmt.Sprintf("pool block at %p", p), fmt.Sprintf("the driver wrote past the end of %v (found at unload)", a),
				"pool corruption: a bugcheck later, in whoever owns the next block")
		}
		C.free(p)
	}
	for _, p := range sortedKeys(freed) {
		a := freed[p]
		body := unsafe.Slice((*byte)(p), a.size)
		if i := firstNot(body, poolFreed); i >= 0 {
			h.report(RulePoolCorrupt, fmt.Sprintf("pool block at %p", p), fmt.Sprintf("byte %d of %v was written after the block was freed", i, a),
				"the write lands in another allocation: corruption, a bugcheck later")
		}
		C.free(p)
	}
}
