package cdriver

/*
#include <stdlib.h>
#include <string.h>
#include "runtime.h"
*/
import "C"

import (
	"context"
	"fmt"
	"strings"
	"unsafe"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// Instance is what the driver's INF says about its default instance (the registry values
// Windows reads at attach time). Set it on the Driver before loading; the generator writes it
// from the .inf file.
type Instance struct {
	Altitude string // e.g. "265000"; "" attaches only where told to
	Name     string // DefaultInstance; "" is "<driver> Instance"
	Flags    uint32 // the instance's Flags value
}

// SetInstance sets the default instance the INF describes. It returns d.
func (d *Driver) SetInstance(in Instance) *Driver {
	d.mu.Lock()
	d.inst = in
	d.mu.Unlock()
	return d
}

// registration is the C driver's FLT_REGISTRATION as the runtime keeps it.
type registration struct {
	unload     C.PFLT_FILTER_UNLOAD_CALLBACK
	setup      C.PFLT_INSTANCE_SETUP_CALLBACK
	queryTD    C.PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK
	tdStart    C.PFLT_INSTANCE_TEARDOWN_CALLBACK
	tdComplete C.PFLT_INSTANCE_TEARDOWN_CALLBACK
	ctxCleanup map[driverapi.ContextType]C.PFLT_CONTEXT_CLEANUP_CALLBACK
}

// minimum FLT_REGISTRATION sizes per version: up to NormalizeContextCleanupCallback (0x0200),
// NormalizeNameComponentExCallback (0x0201), SectionNotificationCallback (0x0202 and 0x0203).
func registrationSizeFor(version uint16) (int, bool) {
	switch version {
	case 0x0200:
		return int(unsafe.Offsetof(C.FLT_REGISTRATION{}.TransactionNotificationCallback)), true
	case 0x0201:
		return int(unsafe.Offsetof(C.FLT_REGISTRATION{}.SectionNotificationCallback)), true
	case 0x0202, 0x0203:
		return C.sizeof_FLT_REGISTRATION, true
	}
	return 0, false
}

//export cdrv_FltRegisterFilter
func cdrv_FltRegisterFilter(f C.fltemu_frame_t, drv *C.DRIVER_OBJECT, creg *C.FLT_REGISTRATION, ret *C.PFLT_FILTER) C.NTSTATUS {
	fr := frameOf(f)
	h := fr.h
	fr.checkIRQL("FltRegisterFilter", kernel.PASSIVE_LEVEL)
	if drv == nil || creg == nil || ret == nil {
		fr.badInput("FltRegisterFilter", "a NULL "+nullArgs([]string{"Driver", "Registration", "RetFilter"}, drv == nil, creg == nil, ret == nil))
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if drv != h.cobj {
		fr.badInput("FltRegisterFilter", "a DRIVER_OBJECT that is not the one DriverEntry received")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	version := uint16(creg.Version)
	need, known := registrationSizeFor(version)
	if !known || version>>8 != 2 {
		fr.badInput("FltRegisterFilter", fmt.Sprintf("an FLT_REGISTRATION with Version %#04x (this runtime knows 0x0200 to 0x0203)", version))
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if int(creg.Size) < need {
		fr.badInput("FltRegisterFilter", fmt.Sprintf("an FLT_REGISTRATION with Size %d; version %#04x needs at least %d (sizeof(FLT_REGISTRATION) is %d)",
			creg.Size, version, need, C.sizeof_FLT_REGISTRATION))
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	r := &registration{unload: creg.FilterUnloadCallback, setup: creg.InstanceSetupCallback,
		queryTD: creg.InstanceQueryTeardownCallback, tdStart: creg.InstanceTeardownStartCallback,
		tdComplete: creg.InstanceTeardownCompleteCallback, ctxCleanup: map[driverapi.ContextType]C.PFLT_CONTEXT_CLEANUP_CALLBACK{}}
	h.drv.mu.Lock()
	inst := h.drv.inst
	h.drv.mu.Unlock()
	g := &driverapi.Registration{
		Version: version, Flags: uint32(creg.Flags),
		Altitude: inst.Altitude, DefaultInstanceName: inst.Name, InstanceFlags: inst.Flags,
	}
	if version == 0x0201 {
		g.Version = driverapi.FLT_REGISTRATION_VERSION_0202 // the emulator has no transactions: 0x0201 adds nothing else
	}
	if r.unload != nil {
		g.FilterUnload = h.unloadCallback(r.unload)
	}
	// Contexts, up to FLT_CONTEXT_END.
	if cr := creg.ContextRegistration; cr != nil {
		for i := 0; ; i++ {
			c := C.fltemu_context_registration_at(cr, C.int(i))
			if uint16(c.ContextType) == 0xffff {
				break
			}
			if i == 63 {
				fr.badInput("FltRegisterFilter", "a ContextRegistration array without FLT_CONTEXT_END")
				return st(kernel.STATUS_INVALID_PARAMETER)
			}
			if c.ContextAllocateCallback != nil || c.ContextFreeCallback != nil {
				h.trace(kernel.TraceEvent{Kind: EvDbgPrint, Detail: "fltemu: ContextAllocateCallback/ContextFreeCallback are ignored; the runtime allocates contexts"})
			}
			typ := driverapi.ContextType(c.ContextType)
			r.ctxCleanup[typ] = c.ContextCleanupCallback
			g.ContextRegistration = append(g.ContextRegistration, driverapi.ContextRegistration{
				ContextType: typ, Flags: uint16(c.Flags), Size: uintptr(c.Size), PoolTag: uint32(c.PoolTag),
				ContextCleanupCallback: h.contextCleanup(c.ContextCleanupCallback),
			})
		}
	}
	// Operations, up to IRP_MJ_OPERATION_END.
	if or := creg.OperationRegistration; or != nil {
		for i := 0; ; i++ {
			o := C.fltemu_operation_registration_at(or, C.int(i))
			if uint8(o.MajorFunction) == 0x80 {
				break
			}
			if i == 255 {
				fr.badInput("FltRegisterFilter", "an OperationRegistration array without IRP_MJ_OPERATION_END")
				return st(kernel.STATUS_INVALID_PARAMETER)
			}
			mj := driverapi.MajorFunction(o.MajorFunction)
			op := driverapi.OperationRegistration{MajorFunction: mj, Flags: uint32(o.Flags)}
			if o.PreOperation != nil {
				op.PreOperation = h.preCallback(mj, o.PreOperation)
			}
			if o.PostOperation != nil {
				op.PostOperation = h.postCallback(mj, o.PostOperation)
			}
			g.OperationRegistration = append(g.OperationRegistration, op)
		}
	}
	if r.setup != nil {
		g.InstanceSetup = h.instanceSetup(r.setup)
	}
	if r.queryTD != nil {
		g.InstanceQueryTeardown = h.queryTeardown(r.queryTD)
	}
	if r.tdStart != nil {
		g.InstanceTeardownStart = h.teardown("InstanceTeardownStart", r.tdStart)
	}
	if r.tdComplete != nil {
		g.InstanceTeardownComplete = h.teardown("InstanceTeardownComplete", r.tdComplete)
	}
	obj := &driverapi.DriverObject{Name: h.name}
	if o, ok := h.drvObj(); ok {
		obj = o
	}
	filter, status := h.fm.RegisterFilter(obj, g)
	if status != kernel.STATUS_SUCCESS {
		return st(status)
	}
	tok := h.token(filter)
	h.mu.Lock()
	h.filter, h.filterC, h.reg = filter, tok, r
	h.mu.Unlock()
	*ret = C.PFLT_FILTER(tok)
	return st(kernel.STATUS_SUCCESS)
}

// drvObj returns the DriverObject the emulator handed to DriverEntry.
func (h *host) drvObj() (*driverapi.DriverObject, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gobj, h.gobj != nil
}

func st(s kernel.NTSTATUS) C.NTSTATUS { return C.NTSTATUS(int32(s)) }

// filterOf returns the filter a PFLT_FILTER stands for, reporting a bad one.
func (fr *frame) filterOf(routine string, p C.PFLT_FILTER) (driverapi.Filter, bool) {
	o, ok := fr.h.object(unsafe.Pointer(p))
	if f, isF := o.(driverapi.Filter); ok && isF {
		return f, true
	}
	fr.badInput(routine, fmt.Sprintf("a PFLT_FILTER (%p) that FltRegisterFilter did not return", unsafe.Pointer(p)))
	return nil, false
}

//export cdrv_FltUnregisterFilter
func cdrv_FltUnregisterFilter(f C.fltemu_frame_t, p C.PFLT_FILTER) {
	fr := frameOf(f)
	fr.checkIRQL("FltUnregisterFilter", kernel.PASSIVE_LEVEL)
	if flt, ok := fr.filterOf("FltUnregisterFilter", p); ok {
		fr.h.fm.UnregisterFilter(flt)
	}
}

//export cdrv_FltStartFiltering
func cdrv_FltStartFiltering(f C.fltemu_frame_t, p C.PFLT_FILTER) C.NTSTATUS {
	fr := frameOf(f)
	fr.checkIRQL("FltStartFiltering", kernel.PASSIVE_LEVEL)
	flt, ok := fr.filterOf("FltStartFiltering", p)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	return st(fr.h.fm.StartFiltering(flt))
}

// unloadCallback wraps the C FilterUnloadCallback. After a successful unload the image is
// gone: the pool and lock checks run.
func (h *host) unloadCallback(fn C.PFLT_FILTER_UNLOAD_CALLBACK) driverapi.FilterUnloadCallback {
	return func(flags driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		fr := h.enter("FilterUnloadCallback", context.Background())
		s := kernel.NTSTATUS(C.fltemu_call_unload(fr.id, fn, C.ULONG(flags)))
		fr.leave()
		if s == kernel.STATUS_SUCCESS {
			h.imageUnloaded("unload")
		}
		return s
	}
}

func (h *host) relatedObjects(fr *frame, objs *driverapi.RelatedObjects) *C.FLT_RELATED_OBJECTS {
	c := (*C.FLT_RELATED_OBJECTS)(fr.alloc(C.sizeof_FLT_RELATED_OBJECTS))
	c.Size = C.USHORT(C.sizeof_FLT_RELATED_OBJECTS)
	if objs == nil {
		return c
	}
	c.Filter = C.PFLT_FILTER(h.filterToken())
	if objs.Volume != nil {
		c.Volume = C.PFLT_VOLUME(h.token(objs.Volume))
	}
	if objs.Instance != nil {
		c.Instance = C.PFLT_INSTANCE(h.token(objs.Instance))
	}
	if objs.FileObject != nil {
		c.FileObject = fr.cFileObject(objs.FileObject)
	}
	return c
}

func (h *host) filterToken() unsafe.Pointer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.filterC
}

func (h *host) instanceSetup(fn C.PFLT_INSTANCE_SETUP_CALLBACK) driverapi.InstanceSetupCallback {
	return func(objs *driverapi.RelatedObjects, flags driverapi.InstanceSetupFlags, dt fsys.DeviceType, ft driverapi.FilesystemType) kernel.NTSTATUS {
		fr := h.enter("InstanceSetupCallback", nil)
		defer fr.leave()
		return kernel.NTSTATUS(C.fltemu_call_instance_setup(fr.id, fn, h.relatedObjects(fr, objs), C.ULONG(flags), C.ULONG(dt), C.ULONG(ft)))
	}
}

func (h *host) queryTeardown(fn C.PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK) driverapi.InstanceQueryTeardownCallback {
	return func(objs *driverapi.RelatedObjects, flags driverapi.InstanceQueryTeardownFlags) kernel.NTSTATUS {
		fr := h.enter("InstanceQueryTeardownCallback", nil)
		defer fr.leave()
		return kernel.NTSTATUS(C.fltemu_call_query_teardown(fr.id, fn, h.relatedObjects(fr, objs), C.ULONG(flags)))
	}
}

func (h *host) teardown(where string, fn C.PFLT_INSTANCE_TEARDOWN_CALLBACK) driverapi.InstanceTeardownCallback {
	return func(objs *driverapi.RelatedObjects, reason driverapi.InstanceTeardownFlags) {
		fr := h.enter(where, nil)
		defer fr.leave()
		C.fltemu_call_teardown(fr.id, fn, h.relatedObjects(fr, objs), C.ULONG(reason))
	}
}

// ---- security descriptors --------------------------------------------------------------------

//export cdrv_FltBuildDefaultSecurityDescriptor
func cdrv_FltBuildDefaultSecurityDescriptor(f C.fltemu_frame_t, ret *C.PSECURITY_DESCRIPTOR, access C.ACCESS_MASK) C.NTSTATUS {
	fr := frameOf(f)
	fr.checkIRQL("FltBuildDefaultSecurityDescriptor", kernel.APC_LEVEL)
	if ret == nil {
		fr.badInput("FltBuildDefaultSecurityDescriptor", "a NULL SecurityDescriptor pointer")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	sd, s := fr.h.fm.BuildDefaultSecurityDescriptor(kernel.AccessMask(access))
	if s != kernel.STATUS_SUCCESS {
		return st(s)
	}
	p := C.calloc(1, 64) // the SECURITY_DESCRIPTOR stand-in; freed by FltFreeSecurityDescriptor
	fr.h.mu.Lock()
	fr.h.sds[p] = sd
	fr.h.mu.Unlock()
	fr.h.pool.track(fr.h, p, 64, 0x44536c46 /* 'FlSD' */, "FltBuildDefaultSecurityDescriptor", 0, true)
	*ret = C.PSECURITY_DESCRIPTOR(p)
	return st(kernel.STATUS_SUCCESS)
}

func (h *host) securityDescriptor(p unsafe.Pointer) (*kernel.SecurityDescriptor, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sd, ok := h.sds[p]
	return sd, ok
}

//export cdrv_FltFreeSecurityDescriptor
func cdrv_FltFreeSecurityDescriptor(f C.fltemu_frame_t, p C.PVOID) {
	fr := frameOf(f)
	if _, ok := fr.h.securityDescriptor(unsafe.Pointer(p)); !ok {
		fr.badInput("FltFreeSecurityDescriptor", "a descriptor FltBuildDefaultSecurityDescriptor did not return (or one freed already)")
		return
	}
	fr.h.mu.Lock()
	delete(fr.h.sds, unsafe.Pointer(p))
	fr.h.mu.Unlock()
	fr.h.pool.untrack(unsafe.Pointer(p))
	C.free(unsafe.Pointer(p))
}

//export cdrv_RtlSetDaclSecurityDescriptor
func cdrv_RtlSetDaclSecurityDescriptor(f C.fltemu_frame_t, p C.PVOID, present C.BOOLEAN, dacl *C.ACL, defaulted C.BOOLEAN) C.NTSTATUS {
	fr := frameOf(f)
	if _, ok := fr.h.securityDescriptor(unsafe.Pointer(p)); !ok {
		fr.badInput("RtlSetDaclSecurityDescriptor", "a descriptor FltBuildDefaultSecurityDescriptor did not return")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if present != 0 && dacl != nil {
		// Building ACLs in C (RtlCreateAcl, RtlAddAccessAllowedAce) is not emulated.
		fr.badInput("RtlSetDaclSecurityDescriptor", "a DACL built in C (not supported by the emulator: only a NULL DACL)")
		return st(kernel.STATUS_NOT_SUPPORTED)
	}
	sd, err := kernel.ParseSDDL("D:NO_ACCESS_CONTROL") // no DACL, or a NULL one: everyone gets everything
	if err != nil {
		return st(kernel.STATUS_UNSUCCESSFUL)
	}
	fr.h.mu.Lock()
	fr.h.sds[unsafe.Pointer(p)] = sd
	fr.h.mu.Unlock()
	return st(kernel.STATUS_SUCCESS)
}

// cstring returns a C string in the frame's arena.
func (fr *frame) cstring(s string) *C.char {
	p := (*C.char)(fr.alloc(C.size_t(len(s) + 1)))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(s)), s)
	return p
}

// nullArgs names the arguments that are NULL (null[i] says names[i] is), "Driver and
// RetFilter": the report says which one the driver got wrong.
func nullArgs(names []string, null ...bool) string {
	var got []string
	for i, n := range null {
		if n {
			got = append(got, names[i])
		}
	}
	if len(got) <= 1 {
		return strings.Join(got, "")
	}
	return strings.Join(got[:len(got)-1], ", ") + " and " + got[len(got)-1]
}
