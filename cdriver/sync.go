package cdriver

/*
#include "runtime.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// Lock kinds (runtime.c's LOCK_* values).
const (
	lockSpin = iota + 1
	lockFastMutex
	lockMutex
	lockResource
	lockPush
)

var lockNames = map[int]string{lockSpin: "spin lock", lockFastMutex: "fast mutex", lockMutex: "KMUTEX",
	lockResource: "ERESOURCE", lockPush: "push lock", 0: "lock"}

// syncState holds the driver's events and locks, by address. Nothing blocks while holding
// mu: a waiter takes the current `changed` channel and waits on it, which lets a
// testing/synctest bubble see the goroutine as durably blocked and move its fake clock.
type syncState struct {
	mu     sync.Mutex
	events map[unsafe.Pointer]*event
	locks  map[unsafe.Pointer]*lock
}

type event struct {
	notification bool
	signaled     bool
	changed      chan struct{}
}

type lock struct {
	kind      int
	owner     *frame // exclusive holder
	recursion int
	shared    map[*frame]int
	changed   chan struct{}
}

func (s *syncState) init() {
	s.events = map[unsafe.Pointer]*event{}
	s.locks = map[unsafe.Pointer]*lock{}
}

func (s *syncState) lockKind(p unsafe.Pointer) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[p]; ok {
		return lockNames[l.kind]
	}
	return "lock"
}

// broadcast wakes every waiter of a changed channel; s.mu is held.
func broadcast(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

// ---- IRQL ------------------------------------------------------------------------------------

//export cdrv_GetIrql
func cdrv_GetIrql(f C.fltemu_frame_t) C.KIRQL { return C.KIRQL(frameOf(f).irql()) }

//export cdrv_SetIrql
func cdrv_SetIrql(f C.fltemu_frame_t, irql C.KIRQL) C.KIRQL {
	fr := frameOf(f)
	old := fr.irql()
	fr.setIRQL(kernel.KIRQL(irql))
	return C.KIRQL(old)
}

//export cdrv_RaiseIrql
func cdrv_RaiseIrql(f C.fltemu_frame_t, irql C.KIRQL) C.KIRQL {
	fr := frameOf(f)
	old := fr.irql()
	if kernel.KIRQL(irql) < old {
		fr.h.report(kernel.RuleVerify9, "KeRaiseIrql", fmt.Sprintf("%s raised the IRQL from %v to the lower %v", fr.where, old, kernel.KIRQL(irql)),
			"IRQL_NOT_GREATER_OR_EQUAL bugcheck")
		return C.KIRQL(old)
	}
	fr.setIRQL(kernel.KIRQL(irql))
	return C.KIRQL(old)
}

//export cdrv_LowerIrql
func cdrv_LowerIrql(f C.fltemu_frame_t, irql C.KIRQL) {
	fr := frameOf(f)
	if cur := fr.irql(); kernel.KIRQL(irql) > cur {
		fr.h.report(kernel.RuleVerify9, "KeLowerIrql", fmt.Sprintf("%s lowered the IRQL from %v to the higher %v", fr.where, cur, kernel.KIRQL(irql)),
			"IRQL_NOT_LESS_OR_EQUAL bugcheck")
		return
	}
	fr.setIRQL(kernel.KIRQL(irql))
}

//export cdrv_PagedCode
func cdrv_PagedCode(f C.fltemu_frame_t, file *C.char, line C.int) {
	fr := frameOf(f)
	if cur := fr.irql(); cur > kernel.APC_LEVEL {
		fr.h.report(kernel.RuleVerify9, fmt.Sprintf("PAGED_CODE() at %s:%d", C.GoString(file), line),
			fmt.Sprintf("pageable code ran at %v in %s", cur, fr.where), "a bugcheck when the page is not resident (IRQL_NOT_LESS_OR_EQUAL)")
	}
}

// ---- time, processes ------------------------------------------------------------------------

//export cdrv_SystemTime
func cdrv_SystemTime(f C.fltemu_frame_t, interrupt C.int) C.LONGLONG {
	now := time.Now()
	if interrupt != 0 {
		fr := frameOf(f)
		if fr.h.world != nil {
			return C.LONGLONG(now.Sub(fr.h.world.Trace().Start()) / 100)
		}
	}
	return C.LONGLONG(kernel.SystemTime(now))
}

// timeoutDuration converts a WDK timeout (negative: relative, 100 ns units; positive: absolute
// system time) into a duration; forever is nil.
func timeoutDuration(t *C.LARGE_INTEGER) (d time.Duration, forever bool) {
	if t == nil {
		return 0, true
	}
	v := int64(*(*C.LONGLONG)(unsafe.Pointer(t)))
	if v <= 0 {
		return time.Duration(-v) * 100, false
	}
	return time.Duration(v-kernel.SystemTime(time.Now())) * 100, false
}

//export cdrv_CurrentProcessId
func cdrv_CurrentProcessId(f C.fltemu_frame_t) C.ULONG {
	if p := driverapi.CurrentProcess(frameOf(f).ctx); p != nil {
		return C.ULONG(p.ID())
	}
	return 4 // the System process
}

//export cdrv_CurrentThreadId
func cdrv_CurrentThreadId(f C.fltemu_frame_t) C.ULONG {
	if t := driverapi.CurrentThread(frameOf(f).ctx); t != nil {
		return C.ULONG(t.ID)
	}
	return 0
}

// systemProcess stands for the System process in PEPROCESS values.
type systemProcess struct{}

//export cdrv_CurrentProcess
func cdrv_CurrentProcess(f C.fltemu_frame_t) C.PVOID {
	fr := frameOf(f)
	if p := driverapi.CurrentProcess(fr.ctx); p != nil {
		return C.PVOID(fr.h.token(p))
	}
	return C.PVOID(fr.h.token(systemProcess{}))
}

//export cdrv_CurrentThread
func cdrv_CurrentThread(f C.fltemu_frame_t) C.PVOID {
	fr := frameOf(f)
	if t := driverapi.CurrentThread(fr.ctx); t != nil {
		return C.PVOID(fr.h.token(t))
	}
	return C.PVOID(fr.h.token(systemProcess{}))
}

//export cdrv_ProcessId
func cdrv_ProcessId(f C.fltemu_frame_t, p C.PVOID) C.ULONG {
	fr := frameOf(f)
	o, _ := fr.h.object(unsafe.Pointer(p))
	switch o := o.(type) {
	case *kernel.Process:
		return C.ULONG(o.ID())
	case systemProcess:
		return 4
	}
	fr.badInput("PsGetProcessId", "a PEPROCESS the runtime did not hand out")
	return 0
}

// ---- events and waits --------------------------------------------------------------------

//export cdrv_EventOp
func cdrv_EventOp(f C.fltemu_frame_t, p *C.KEVENT, op, typ C.int, state C.BOOLEAN) C.LONG {
	fr := frameOf(f)
	names := [...]string{"KeInitializeEvent", "KeSetEvent", "KeResetEvent", "KeReadStateEvent"}
	if p == nil {
		fr.badInput(names[op], "a NULL event")
		return 0
	}
	s := &fr.h.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[unsafe.Pointer(p)]
	if op == 0 {
		s.events[unsafe.Pointer(p)] = &event{notification: typ == 0, signaled: state != 0, changed: make(chan struct{})}
		return 0
	}
	if !ok {
		s.mu.Unlock()
		fr.badInput(names[op], "an event KeInitializeEvent did not initialize")
		s.mu.Lock()
		return 0
	}
	prev := C.LONG(0)
	if e.signaled {
		prev = 1
	}
	switch op {
	case 1:
		fr.checkIRQL("KeSetEvent", kernel.DISPATCH_LEVEL)
		e.signaled = true
		broadcast(&e.changed)
	case 2:
		e.signaled = false
	}
	return prev
}

//export cdrv_Wait
func cdrv_Wait(f C.fltemu_frame_t, obj C.PVOID, timeout *C.LARGE_INTEGER) C.NTSTATUS {
	fr := frameOf(f)
	d, forever := timeoutDuration(timeout)
	if forever || d > 0 {
		fr.checkIRQL("KeWaitForSingleObject (a wait with a timeout other than zero)", kernel.APC_LEVEL)
	} else {
		fr.checkIRQL("KeWaitForSingleObject", kernel.DISPATCH_LEVEL)
	}
	if !forever && d > 0 {
		if end := fr.h.timedWait("KeWaitForSingleObject"); end != nil {
			defer end()
		}
	}
	p := unsafe.Pointer(obj)
	s := &fr.h.sync
	s.mu.Lock()
	e, isEvent := s.events[p]
	l, isLock := s.locks[p]
	s.mu.Unlock()
	switch {
	case isEvent:
		return st(s.waitEvent(e, d, forever))
	case isLock && l.kind == lockMutex:
		if fr.acquire(p, lockMutex, false, d, forever, "KeWaitForSingleObject") {
			return st(kernel.STATUS_SUCCESS)
		}
		return st(kernel.STATUS_TIMEOUT)
	}
	fr.badInput("KeWaitForSingleObject", "an object that is not an initialized KEVENT or KMUTEX (the emulator waits on those only)")
	return st(kernel.STATUS_INVALID_PARAMETER)
}

// waitEvent waits for e on channels (and a timer of the world's clock).
func (s *syncState) waitEvent(e *event, d time.Duration, forever bool) kernel.NTSTATUS {
	var timer *time.Timer
	for {
		s.mu.Lock()
		if e.signaled {
			if !e.notification {
				e.signaled = false
			}
			s.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return kernel.STATUS_SUCCESS
		}
		ch := e.changed
		s.mu.Unlock()
		if !forever && d == 0 {
			return kernel.STATUS_TIMEOUT
		}
		if forever {
			<-ch
			continue
		}
		if timer == nil {
			timer = time.NewTimer(d)
		}
		select {
		case <-ch:
		case <-timer.C:
			return kernel.STATUS_TIMEOUT
		}
	}
}

//export cdrv_Delay
func cdrv_Delay(f C.fltemu_frame_t, interval *C.LARGE_INTEGER) C.NTSTATUS {
	fr := frameOf(f)
	fr.checkIRQL("KeDelayExecutionThread", kernel.APC_LEVEL)
	if interval == nil {
		fr.badInput("KeDelayExecutionThread", "a NULL Interval")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	d, _ := timeoutDuration(interval)
	if d > 0 { // a zero delay is no wait: it takes no observer record
		if end := fr.h.timedWait("KeDelayExecutionThread"); end != nil {
			defer end()
		}
	}
	time.Sleep(d)
	return st(kernel.STATUS_SUCCESS)
}

// ---- locks -------------------------------------------------------------------------------

func maxIRQLFor(kind int, wait bool) kernel.KIRQL {
	switch kind {
	case lockSpin:
		return kernel.DISPATCH_LEVEL
	case lockResource:
		if !wait {
			return kernel.DISPATCH_LEVEL
		}
	}
	return kernel.APC_LEVEL
}

//export cdrv_LockInit
func cdrv_LockInit(f C.fltemu_frame_t, p unsafe.Pointer, kind C.int) {
	fr := frameOf(f)
	if p == nil {
		fr.badInput("lock initialization", "a NULL lock")
		return
	}
	s := &fr.h.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[p]; ok && (l.owner != nil || len(l.shared) > 0) {
		s.mu.Unlock()
		fr.h.report(RuleLockUnbalanced, fmt.Sprintf("%s at %p", lockNames[int(kind)], p),
			fmt.Sprintf("%s initialized the lock again while it is held", fr.where), "the holder's release corrupts the lock")
		s.mu.Lock()
	}
	s.locks[p] = &lock{kind: int(kind), shared: map[*frame]int{}, changed: make(chan struct{})}
}

//export cdrv_LockDelete
func cdrv_LockDelete(f C.fltemu_frame_t, p unsafe.Pointer, routine *C.char) {
	fr := frameOf(f)
	s := &fr.h.sync
	s.mu.Lock()
	l, ok := s.locks[p]
	delete(s.locks, p)
	s.mu.Unlock()
	if ok && (l.owner != nil || len(l.shared) > 0) {
		fr.h.report(RuleLockUnbalanced, fmt.Sprintf("%s at %p", lockNames[l.kind], p),
			fmt.Sprintf("%s in %s deleted the lock while it is held", C.GoString(routine), fr.where), "a bugcheck when the holder releases it")
	}
}

//export cdrv_LockAcquire
func cdrv_LockAcquire(f C.fltemu_frame_t, p unsafe.Pointer, kind C.int, shared C.int, wait C.int, routine *C.char) C.BOOLEAN {
	fr := frameOf(f)
	name := C.GoString(routine)
	if p == nil {
		fr.badInput(name, "a NULL lock")
		return 0
	}
	fr.checkIRQL(name, maxIRQLFor(int(kind), wait != 0))
	if fr.acquire(p, int(kind), shared != 0, 0, wait != 0, name) {
		return 1
	}
	return 0
}

// acquire takes lock p for the frame, waiting (on channels) up to d, or forever.
func (fr *frame) acquire(p unsafe.Pointer, kind int, shared bool, d time.Duration, forever bool, routine string) bool {
	s := &fr.h.sync
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		l, ok := s.locks[p]
		if !ok {
			// A zeroed spin lock or push lock is a valid free lock on Windows.
			l = &lock{kind: kind, shared: map[*frame]int{}, changed: make(chan struct{})}
			s.locks[p] = l
		}
		recursive := l.kind == lockMutex || l.kind == lockResource
		switch {
		case l.owner == fr && recursive:
			l.recursion++
			s.mu.Unlock()
			return true
		case l.owner == fr || (l.shared[fr] > 0 && !shared && !recursive):
			s.mu.Unlock()
			fr.h.report(RuleLockUnbalanced, fmt.Sprintf("%s at %p", lockNames[l.kind], p),
				fmt.Sprintf("%s in %s acquired a lock it already holds", routine, fr.where), "a deadlock (the thread waits for itself)")
			return true // carry on as if acquired, so the test reaches its end
		case l.owner == nil && (shared || len(l.shared) == 0):
			if shared {
				l.shared[fr]++
			} else {
				l.owner, l.recursion = fr, 1
			}
			fr.locks = append(fr.locks, p)
			s.mu.Unlock()
			return true
		}
		ch := l.changed
		s.mu.Unlock()
		if !forever && d == 0 {
			return false
		}
		if forever {
			<-ch
			continue
		}
		if timer == nil {
			timer = time.NewTimer(d)
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

//export cdrv_LockRelease
func cdrv_LockRelease(f C.fltemu_frame_t, p unsafe.Pointer, kind C.int, routine *C.char) {
	fr := frameOf(f)
	name := C.GoString(routine)
	if p == nil {
		fr.badInput(name, "a NULL lock")
		return
	}
	s := &fr.h.sync
	s.mu.Lock()
	l, ok := s.locks[p]
	var holder *frame
	switch {
	case ok && l.owner != nil:
		holder = l.owner
		l.recursion--
		if l.recursion > 0 {
			s.mu.Unlock()
			return
		}
		l.owner = nil
	case ok && l.shared[fr] > 0:
		holder = fr
		if l.shared[fr]--; l.shared[fr] == 0 {
			delete(l.shared, fr)
		}
	case ok && len(l.shared) > 0:
		for h := range l.shared { // released on behalf of another callback
			holder = h
			if l.shared[h]--; l.shared[h] == 0 {
				delete(l.shared, h)
			}
			break
		}
	}
	if holder != nil {
		holder.dropLock(p)
		broadcast(&l.changed)
	}
	s.mu.Unlock()
	if holder == nil {
		fr.h.report(RuleLockUnbalanced, fmt.Sprintf("%s at %p", lockNames[int(kind)], p),
			fmt.Sprintf("%s in %s released a lock that is not held", name, fr.where), "a bugcheck or a corrupted lock")
	}
}

// dropLock removes one hold of p from the frame's list; s.mu is held.
func (fr *frame) dropLock(p unsafe.Pointer) {
	for i := len(fr.locks) - 1; i >= 0; i-- {
		if fr.locks[i] == p {
			fr.locks = append(fr.locks[:i], fr.locks[i+1:]...)
			return
		}
	}
}

// forceRelease releases every hold of p, after a report.
func (s *syncState) forceRelease(p unsafe.Pointer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[p]; ok {
		l.owner, l.recursion = nil, 0
		l.shared = map[*frame]int{}
		broadcast(&l.changed)
	}
}
