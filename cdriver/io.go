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
	"unsafe"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// ---- callback data ---------------------------------------------------------------------------

// cFileObject returns the FILE_OBJECT that stands for fo during the frame.
func (fr *frame) cFileObject(fo *fsys.FileObject) C.PFILE_OBJECT {
	if fo == nil {
		return nil
	}
	for p, f := range fr.files {
		if f == fo {
			return C.PFILE_OBJECT(p)
		}
	}
	c := (*C.FILE_OBJECT)(fr.alloc(C.sizeof_FILE_OBJECT))
	c.Type = 5 // IO_TYPE_FILE
	c.Size = C.CSHORT(C.sizeof_FILE_OBJECT)
	b := func(v bool) C.BOOLEAN {
		if v {
			return 1
		}
		return 0
	}
	c.ReadAccess, c.WriteAccess, c.DeleteAccess = b(fo.ReadAccess), b(fo.WriteAccess), b(fo.DeleteAccess)
	c.SharedRead, c.SharedWrite, c.SharedDelete = b(fo.SharedRead), b(fo.SharedWrite), b(fo.SharedDelete)
	fr.setUnicode(&c.FileName, fo.FileName)
	if fr.files == nil {
		fr.files = map[unsafe.Pointer]*fsys.FileObject{}
	}
	fr.files[unsafe.Pointer(c)] = fo
	return C.PFILE_OBJECT(unsafe.Pointer(c))
}

// setUnicode points u at a copy of s in the frame's arena.
func (fr *frame) setUnicode(u *C.UNICODE_STRING, s string) {
	w := wunits(s)
	p := fr.alloc(C.size_t(wcharSize * (len(w) + 1)))
	putW(p, w)
	u.Buffer = (*C.WCHAR)(p)
	u.Length = C.USHORT(wcharSize * len(w))
	u.MaximumLength = C.USHORT(wcharSize * (len(w) + 1))
}

// cBuffer returns a C copy of b (in the frame's arena), NULL for nil.
func (fr *frame) cBuffer(b []byte) unsafe.Pointer {
	if b == nil {
		return nil
	}
	p := fr.alloc(C.size_t(len(b) + 1))
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	return p
}

// cCallbackData makes the FLT_CALLBACK_DATA of d for the frame.
func (fr *frame) cCallbackData(d *driverapi.CallbackData) *C.FLT_CALLBACK_DATA {
	cd := (*C.FLT_CALLBACK_DATA)(fr.alloc(C.sizeof_FLT_CALLBACK_DATA))
	iopb := (*C.FLT_IO_PARAMETER_BLOCK)(fr.alloc(C.sizeof_FLT_IO_PARAMETER_BLOCK))
	cd.Flags = C.FLT_CALLBACK_DATA_FLAGS(d.Flags)
	cd.Iopb = iopb
	cd.RequestorMode = C.KPROCESSOR_MODE(d.RequestorMode)
	if d.Thread != nil {
		cd.Thread = C.PETHREAD(fr.h.token(d.Thread))
	}
	C.fltemu_iostatus_set(cd, st(d.IoStatus.Status), C.ULONG_PTR(d.IoStatus.Information))
	g := d.Iopb
	iopb.IrpFlags = C.ULONG(g.IrpFlags)
	iopb.MajorFunction = C.UCHAR(g.MajorFunction)
	iopb.MinorFunction = C.UCHAR(g.MinorFunction)
	iopb.OperationFlags = C.UCHAR(g.OperationFlags)
	iopb.TargetFileObject = fr.cFileObject(g.TargetFileObject)
	if g.TargetInstance != nil {
		iopb.TargetInstance = C.PFLT_INSTANCE(fr.h.token(g.TargetInstance))
	}
	var v C.fltemu_params
	ps := &g.Parameters
	switch g.MajorFunction {
	case driverapi.IRP_MJ_CREATE:
		c := &ps.Create
		v.a1, v.s1, v.s2, v.a2, v.off = C.ULONG(c.Options), C.USHORT(c.FileAttributes), C.USHORT(c.ShareAccess), C.ULONG(c.EaLength), C.LONGLONG(c.AllocationSize)
		if c.SecurityContext != nil {
			sc := (*C.IO_SECURITY_CONTEXT)(fr.alloc(C.sizeof_IO_SECURITY_CONTEXT))
			sc.DesiredAccess = C.ACCESS_MASK(c.SecurityContext.DesiredAccess)
			sc.FullCreateOptions = C.ULONG(c.Options)
			v.secctx = C.PVOID(unsafe.Pointer(sc))
		}
	case driverapi.IRP_MJ_READ:
		r := &ps.Read
		v.a1, v.a2, v.off, v.buf = C.ULONG(r.Length), C.ULONG(r.Key), C.LONGLONG(r.ByteOffset), C.PVOID(fr.cBuffer(r.ReadBuffer))
	case driverapi.IRP_MJ_WRITE:
		w := &ps.Write
		v.a1, v.a2, v.off, v.buf = C.ULONG(w.Length), C.ULONG(w.Key), C.LONGLONG(w.ByteOffset), C.PVOID(fr.cBuffer(w.WriteBuffer))
	case driverapi.IRP_MJ_QUERY_INFORMATION:
		v.a1, v.infoClass = C.ULONG(ps.QueryFileInformation.Length), C.ULONG(ps.QueryFileInformation.FileInformationClass)
	case driverapi.IRP_MJ_SET_INFORMATION:
		v.a1, v.infoClass = C.ULONG(ps.SetFileInformation.Length), C.ULONG(ps.SetFileInformation.FileInformationClass)
		if ps.SetFileInformation.ReplaceIfExists {
			v.s1 = 1
		}
	case driverapi.IRP_MJ_FILE_SYSTEM_CONTROL:
		f := &ps.FileSystemControl
		v.a1, v.a2, v.a3 = C.ULONG(f.OutputBufferLength), C.ULONG(f.InputBufferLength), C.ULONG(f.Common.FsControlCode)
	case driverapi.IRP_MJ_DEVICE_CONTROL, driverapi.IRP_MJ_INTERNAL_DEVICE_CONTROL:
		f := &ps.DeviceIoControl
		v.a1, v.a2, v.a3 = C.ULONG(f.OutputBufferLength), C.ULONG(f.InputBufferLength), C.ULONG(f.IoControlCode)
	}
	C.fltemu_params_set(iopb, &v)
	fr.data, fr.cdata = d, cd
	return cd
}

// readBack copies what the driver may change in the callback data back into d: the I/O
// status, the dirty flag, and the data buffers of reads and writes (a buffer swapped in by
// the driver is copied).
func (fr *frame) readBack(d *driverapi.CallbackData, cd *C.FLT_CALLBACK_DATA, post bool) {
	var info C.ULONG_PTR
	d.IoStatus.Status = kernel.NTSTATUS(uint32(C.fltemu_iostatus_get(cd, &info)))
	d.IoStatus.Information = uint64(info)
	var v C.fltemu_params
	C.fltemu_params_get(cd.Iopb, &v)
	ps := &d.Iopb.Parameters
	switch d.Iopb.MajorFunction {
	case driverapi.IRP_MJ_READ:
		if post && v.buf != nil && ps.Read.ReadBuffer != nil {
			copy(ps.Read.ReadBuffer, unsafe.Slice((*byte)(unsafe.Pointer(v.buf)), min(len(ps.Read.ReadBuffer), int(v.a1))))
		}
	case driverapi.IRP_MJ_WRITE:
		if !post && v.buf != nil {
			n := int(v.a1)
			if len(ps.Write.WriteBuffer) != n || !sameBytes(ps.Write.WriteBuffer, unsafe.Pointer(v.buf)) {
				ps.Write.WriteBuffer = C.GoBytes(unsafe.Pointer(v.buf), C.int(n))
				ps.Write.Length = uint32(n)
			}
		}
	}
	if uint32(cd.Flags)&0x80000000 != 0 && uint32(d.Flags)&0x80000000 == 0 {
		fr.h.fm.SetCallbackDataDirty(d)
	}
}

func sameBytes(b []byte, p unsafe.Pointer) bool {
	return string(b) == string(unsafe.Slice((*byte)(p), len(b)))
}

func (h *host) preCallback(mj driverapi.MajorFunction, fn C.PFLT_PRE_OPERATION_CALLBACK) driverapi.PreOperationCallback {
	where := "PreOperation(" + mj.String() + ")"
	return func(d *driverapi.CallbackData, objs *driverapi.RelatedObjects, cc *any) driverapi.PreopCallbackStatus {
		fr := h.enter(where, d.Context())
		defer fr.leave()
		cd := fr.cCallbackData(d)
		co := h.relatedObjects(fr, objs)
		var ccp C.PVOID
		r := C.fltemu_call_pre(fr.id, fn, cd, co, &ccp)
		fr.readBack(d, cd, false)
		if ccp != nil && cc != nil {
			*cc = cookie{ccp}
		}
		return driverapi.PreopCallbackStatus(r)
	}
}

// postCallback wraps a C post-operation callback. It runs at the IRQL the filter manager
// raised for it: PASSIVE_LEVEL for post-create, DISPATCH_LEVEL for the others (R-IRQL).
func (h *host) postCallback(mj driverapi.MajorFunction, fn C.PFLT_POST_OPERATION_CALLBACK) driverapi.PostOperationCallback {
	where := "PostOperation(" + mj.String() + ")"
	return func(d *driverapi.CallbackData, objs *driverapi.RelatedObjects, cc any, flags driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
		fr := h.enter(where, d.Context())
		defer fr.leave()
		cd := fr.cCallbackData(d)
		co := h.relatedObjects(fr, objs)
		r := C.fltemu_call_post(fr.id, fn, cd, co, cookieOf(cc), C.ULONG(flags))
		fr.readBack(d, cd, true)
		if r == C.FLT_POSTOP_MORE_PROCESSING_REQUIRED {
			fr.badInput(where, "FLT_POSTOP_MORE_PROCESSING_REQUIRED (the C runtime does not support pended post-operations yet)")
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING
		}
		return driverapi.PostopCallbackStatus(r)
	}
}

// callbackData returns the emulator's callback data a PFLT_CALLBACK_DATA stands for.
func (fr *frame) callbackData(routine string, p C.PFLT_CALLBACK_DATA) (*driverapi.CallbackData, bool) {
	for f := fr; f != nil; f = f.parent {
		if f.cdata != nil && f.cdata == (*C.FLT_CALLBACK_DATA)(p) {
			return f.data, true
		}
	}
	fr.badInput(routine, fmt.Sprintf("a PFLT_CALLBACK_DATA (%p) that is not the current callback's", unsafe.Pointer(p)))
	return nil, false
}

func (fr *frame) instance(routine string, p C.PFLT_INSTANCE) (driverapi.Instance, bool) {
	o, _ := fr.h.object(unsafe.Pointer(p))
	if in, ok := o.(driverapi.Instance); ok {
		return in, true
	}
	fr.badInput(routine, fmt.Sprintf("a PFLT_INSTANCE (%p) the filter manager did not hand out", unsafe.Pointer(p)))
	return nil, false
}

func (fr *frame) file(routine string, p C.PFILE_OBJECT) (*fsys.FileObject, bool) {
	if fo := fr.fileObject(unsafe.Pointer(p)); fo != nil {
		return fo, true
	}
	fr.badInput(routine, fmt.Sprintf("a FILE_OBJECT (%p) that is not one of the current callback's", unsafe.Pointer(p)))
	return nil, false
}

//export cdrv_FltGetRequestorProcessId
func cdrv_FltGetRequestorProcessId(f C.fltemu_frame_t, p C.PFLT_CALLBACK_DATA) C.ULONG {
	fr := frameOf(f)
	d, ok := fr.callbackData("FltGetRequestorProcessId", p)
	if !ok {
		return 0
	}
	return C.ULONG(fr.h.fm.GetRequestorProcessId(d))
}

//export cdrv_FltGetRequestorProcess
func cdrv_FltGetRequestorProcess(f C.fltemu_frame_t, p C.PFLT_CALLBACK_DATA) C.PVOID {
	fr := frameOf(f)
	d, ok := fr.callbackData("FltGetRequestorProcess", p)
	if !ok {
		return nil
	}
	if proc := fr.h.fm.GetRequestorProcess(d); proc != nil {
		return C.PVOID(fr.h.token(proc))
	}
	return C.PVOID(fr.h.token(systemProcess{}))
}

//export cdrv_FltCallbackDataDirty
func cdrv_FltCallbackDataDirty(f C.fltemu_frame_t, p C.PFLT_CALLBACK_DATA, op C.int) C.BOOLEAN {
	fr := frameOf(f)
	d, ok := fr.callbackData("FltSetCallbackDataDirty", p)
	if !ok {
		return 0
	}
	switch op {
	case 1:
		fr.h.fm.SetCallbackDataDirty(d)
		p.Flags |= 0x80000000
	case 0:
		fr.h.fm.ClearCallbackDataDirty(d)
		p.Flags &^= 0x80000000
	default:
		if fr.h.fm.IsCallbackDataDirty(d) {
			return 1
		}
	}
	return 0
}

// ---- file I/O ------------------------------------------------------------------------------

//export cdrv_FltReadWriteFile
func cdrv_FltReadWriteFile(f C.fltemu_frame_t, write C.int, pi C.PFLT_INSTANCE, pfo C.PFILE_OBJECT, off *C.LARGE_INTEGER, n C.ULONG,
	buf C.PVOID, flags C.ULONG, done *C.ULONG, cb unsafe.Pointer) C.NTSTATUS {
	fr := frameOf(f)
	routine := "FltReadFile"
	if write != 0 {
		routine = "FltWriteFile"
	}
	if cb != nil {
		fr.badInput(routine, "a CallbackRoutine (asynchronous I/O is not supported by the C runtime)")
		return st(kernel.STATUS_NOT_SUPPORTED)
	}
	inst, ok := fr.instance(routine, pi)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	fo, ok := fr.file(routine, pfo)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if buf == nil && n != 0 {
		fr.badInput(routine, "a NULL Buffer with a Length")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	var offset *int64
	if off != nil {
		v := int64(*(*C.LONGLONG)(unsafe.Pointer(off)))
		offset = &v
	}
	var b []byte
	if buf != nil {
		b = unsafe.Slice((*byte)(buf), int(n))
	}
	var got uint32
	var s kernel.NTSTATUS
	if write != 0 {
		got, s = fr.h.fm.WriteFile(fr.ctx, inst, fo, offset, uint32(n), b, uint32(flags))
	} else {
		got, s = fr.h.fm.ReadFile(fr.ctx, inst, fo, offset, uint32(n), b, uint32(flags))
	}
	if done != nil {
		*done = C.ULONG(got)
	}
	return st(s)
}

//export cdrv_FltCancelFileOpen
func cdrv_FltCancelFileOpen(f C.fltemu_frame_t, pi C.PFLT_INSTANCE, pfo C.PFILE_OBJECT) {
	fr := frameOf(f)
	fr.checkIRQL("FltCancelFileOpen", kernel.PASSIVE_LEVEL)
	inst, ok := fr.instance("FltCancelFileOpen", pi)
	if !ok {
		return
	}
	if fo, ok := fr.file("FltCancelFileOpen", pfo); ok {
		fr.h.fm.CancelFileOpen(inst, fo)
	}
}

//export cdrv_FltIsDirectory
func cdrv_FltIsDirectory(f C.fltemu_frame_t, pfo C.PFILE_OBJECT, pi C.PFLT_INSTANCE, ret *C.BOOLEAN) C.NTSTATUS {
	fr := frameOf(f)
	fr.checkIRQL("FltIsDirectory", kernel.APC_LEVEL)
	inst, ok := fr.instance("FltIsDirectory", pi)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	fo, ok := fr.file("FltIsDirectory", pfo)
	if !ok || ret == nil {
		if ret == nil {
			fr.badInput("FltIsDirectory", "a NULL IsDirectory")
		}
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	dir, s := fr.h.fm.IsDirectory(fo, inst)
	*ret = 0
	if dir {
		*ret = 1
	}
	return st(s)
}

// ---- volumes and objects ----------------------------------------------------------------------

//export cdrv_FltGetVolumeFromInstance
func cdrv_FltGetVolumeFromInstance(f C.fltemu_frame_t, pi C.PFLT_INSTANCE, ret *C.PFLT_VOLUME) C.NTSTATUS {
	fr := frameOf(f)
	inst, ok := fr.instance("FltGetVolumeFromInstance", pi)
	if !ok || ret == nil {
		if ret == nil {
			fr.badInput("FltGetVolumeFromInstance", "a NULL RetVolume")
		}
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	vol, s := fr.h.fm.GetVolumeFromInstance(inst)
	if s != kernel.STATUS_SUCCESS {
		return st(s)
	}
	*ret = C.PFLT_VOLUME(fr.h.token(vol))
	return st(s)
}

//export cdrv_FltGetVolumeProperties
func cdrv_FltGetVolumeProperties(f C.fltemu_frame_t, pv C.PFLT_VOLUME, props *C.FLT_VOLUME_PROPERTIES, n C.ULONG, ret *C.ULONG) C.NTSTATUS {
	fr := frameOf(f)
	o, _ := fr.h.object(unsafe.Pointer(pv))
	vol, ok := o.(driverapi.FltVolume)
	if !ok || ret == nil {
		fr.badInput("FltGetVolumeProperties", "a PFLT_VOLUME the filter manager did not hand out, or a NULL LengthReturned")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	vp, s := fr.h.fm.GetVolumeProperties(vol)
	if s.IsError() {
		return st(s)
	}
	names := [3][]uint32{wunits(vp.FileSystemDriverName), wunits(vp.FileSystemDeviceName), wunits(vp.RealDeviceName)}
	need := int(C.sizeof_FLT_VOLUME_PROPERTIES)
	for _, w := range names {
		need += wcharSize * len(w)
	}
	*ret = C.ULONG(need)
	if int(n) < int(C.sizeof_FLT_VOLUME_PROPERTIES) || props == nil {
		return st(kernel.STATUS_BUFFER_TOO_SMALL)
	}
	props.DeviceType = C.DEVICE_TYPE(vp.DeviceType)
	props.DeviceCharacteristics = C.ULONG(vp.DeviceCharacteristics)
	props.DeviceObjectFlags = C.ULONG(vp.DeviceObjectFlags)
	props.AlignmentRequirement = C.ULONG(vp.AlignmentRequirement)
	props.SectorSize = C.USHORT(vp.SectorSize)
	props.Flags = C.USHORT(vp.Flags)
	room := int(n) - int(C.sizeof_FLT_VOLUME_PROPERTIES)
	next := unsafe.Add(unsafe.Pointer(props), C.sizeof_FLT_VOLUME_PROPERTIES)
	out := [3]*C.UNICODE_STRING{&props.FileSystemDriverName, &props.FileSystemDeviceName, &props.RealDeviceName}
	s = kernel.STATUS_SUCCESS
	for i, w := range names {
		k := min(len(w), room/wcharSize)
		putW(next, w[:k])
		out[i].Buffer = (*C.WCHAR)(next)
		out[i].Length = C.USHORT(wcharSize * k)
		out[i].MaximumLength = C.USHORT(wcharSize * k)
		next = unsafe.Add(next, wcharSize*k)
		room -= wcharSize * k
		if k < len(w) {
			s = kernel.STATUS_BUFFER_OVERFLOW
		}
	}
	return st(s)
}

//export cdrv_FltObjectReference
func cdrv_FltObjectReference(f C.fltemu_frame_t, p C.PVOID, delta C.int) C.NTSTATUS {
	fr := frameOf(f)
	o, ok := fr.h.object(unsafe.Pointer(p))
	if !ok {
		fr.badInput("FltObjectReference/FltObjectDereference", fmt.Sprintf("an object (%p) the filter manager did not hand out", unsafe.Pointer(p)))
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if delta > 0 {
		return st(fr.h.fm.ObjectReference(o))
	}
	fr.h.fm.ObjectDereference(o)
	return st(kernel.STATUS_SUCCESS)
}

// ---- names --------------------------------------------------------------------------------

// nameInfo is an FLT_FILE_NAME_INFORMATION handed to the driver.
type nameInfo struct {
	g    *driverapi.FltFileNameInformation
	refs int
	room int // UTF-16 units available after the structure
}

//export cdrv_FltGetFileNameInformation
func cdrv_FltGetFileNameInformation(f C.fltemu_frame_t, pd C.PFLT_CALLBACK_DATA, pfo C.PFILE_OBJECT, pi C.PFLT_INSTANCE, opts C.ULONG, ret **C.FLT_FILE_NAME_INFORMATION) C.NTSTATUS {
	fr := frameOf(f)
	routine := "FltGetFileNameInformation"
	if pd == nil {
		routine = "FltGetFileNameInformationUnsafe"
	}
	if ret == nil {
		fr.badInput(routine, "a NULL FileNameInformation")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	var g *driverapi.FltFileNameInformation
	var s kernel.NTSTATUS
	if pd != nil {
		d, ok := fr.callbackData(routine, pd)
		if !ok {
			return st(kernel.STATUS_INVALID_PARAMETER)
		}
		g, s = fr.h.fm.GetFileNameInformation(d, uint32(opts))
	} else {
		fo, ok := fr.file(routine, pfo)
		if !ok {
			return st(kernel.STATUS_INVALID_PARAMETER)
		}
		var inst driverapi.Instance
		if pi != nil {
			if inst, ok = fr.instance(routine, pi); !ok {
				return st(kernel.STATUS_INVALID_PARAMETER)
			}
		}
		g, s = fr.h.fm.GetFileNameInformationUnsafe(fo, inst, uint32(opts))
	}
	if s != kernel.STATUS_SUCCESS {
		return st(s)
	}
	units := 0
	for _, x := range []string{g.Name, g.Volume, g.Share} {
		units += len(wunits(x)) + 1
	}
	room := 4*units + 16 // the parsed components are parts of the name
	p := C.calloc(1, C.size_t(int(C.sizeof_FLT_FILE_NAME_INFORMATION)+wcharSize*room))
	ni := &nameInfo{g: g, refs: 1, room: room}
	fr.h.mu.Lock()
	fr.h.names[p] = ni
	fr.h.mu.Unlock()
	c := (*C.FLT_FILE_NAME_INFORMATION)(p)
	c.Size = C.USHORT(C.sizeof_FLT_FILE_NAME_INFORMATION)
	c.Format = C.FLT_FILE_NAME_OPTIONS(g.Format)
	fillNames(c, ni, false)
	*ret = c
	return st(kernel.STATUS_SUCCESS)
}

// fillNames writes the strings of ni into the structure's tail.
func fillNames(c *C.FLT_FILE_NAME_INFORMATION, ni *nameInfo, parsed bool) {
	next := unsafe.Add(unsafe.Pointer(c), C.sizeof_FLT_FILE_NAME_INFORMATION)
	left := ni.room
	put := func(u *C.UNICODE_STRING, s string) {
		w := wunits(s)
		k := max(min(len(w), left-1), 0)
		putW(next, w[:k])
		u.Buffer = (*C.WCHAR)(next)
		u.Length = C.USHORT(wcharSize * k)
		u.MaximumLength = C.USHORT(wcharSize * (k + 1))
		next = unsafe.Add(next, wcharSize*(k+1))
		left -= k + 1
	}
	g := ni.g
	put(&c.Name, g.Name)
	put(&c.Volume, g.Volume)
	put(&c.Share, g.Share)
	if parsed {
		put(&c.Extension, g.Extension)
		put(&c.Stream, g.Stream)
		put(&c.FinalComponent, g.FinalComponent)
		put(&c.ParentDir, g.ParentDir)
		c.NamesParsed = C.FLT_FILE_NAME_PARSED_FLAGS(g.NamesParsed)
	}
}

func (fr *frame) nameInfo(routine string, p *C.FLT_FILE_NAME_INFORMATION) (*nameInfo, bool) {
	fr.h.mu.Lock()
	ni, ok := fr.h.names[unsafe.Pointer(p)]
	fr.h.mu.Unlock()
	if !ok {
		fr.badInput(routine, fmt.Sprintf("a FLT_FILE_NAME_INFORMATION (%p) that FltGetFileNameInformation did not return, or one released already", unsafe.Pointer(p)))
	}
	return ni, ok
}

//export cdrv_FltParseFileNameInformation
func cdrv_FltParseFileNameInformation(f C.fltemu_frame_t, p *C.FLT_FILE_NAME_INFORMATION) C.NTSTATUS {
	fr := frameOf(f)
	ni, ok := fr.nameInfo("FltParseFileNameInformation", p)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	s := fr.h.fm.ParseFileNameInformation(ni.g)
	if s == kernel.STATUS_SUCCESS {
		fillNames(p, ni, true)
	}
	return st(s)
}

//export cdrv_FltNameReference
func cdrv_FltNameReference(f C.fltemu_frame_t, p *C.FLT_FILE_NAME_INFORMATION, delta C.int) {
	fr := frameOf(f)
	routine := "FltReleaseFileNameInformation"
	if delta > 0 {
		routine = "FltReferenceFileNameInformation"
	}
	ni, ok := fr.nameInfo(routine, p)
	if !ok {
		return
	}
	if delta > 0 {
		fr.h.mu.Lock()
		ni.refs++
		fr.h.mu.Unlock()
		fr.h.fm.ReferenceFileNameInformation(ni.g)
		return
	}
	fr.h.mu.Lock()
	ni.refs--
	last := ni.refs == 0
	if last {
		delete(fr.h.names, unsafe.Pointer(p))
	}
	fr.h.mu.Unlock()
	fr.h.fm.ReleaseFileNameInformation(ni.g)
	if last {
		C.free(unsafe.Pointer(p))
	}
}

// ---- contexts ---------------------------------------------------------------------------------

// contextCleanup is the Go cleanup callback of a C context type: the driver's cleanup (if
// any) runs on the context's C memory, which is then freed.
func (h *host) contextCleanup(fn C.PFLT_CONTEXT_CLEANUP_CALLBACK) driverapi.ContextCleanupCallback {
	return func(c driverapi.FltContext, typ driverapi.ContextType) {
		p := cookieOf(c.Data())
		if p == nil {
			return
		}
		if fn != nil {
			fr := h.enter("ContextCleanupCallback", nil)
			C.fltemu_call_context_cleanup(fr.id, fn, C.PFLT_CONTEXT(p), C.USHORT(typ))
			fr.leave()
		}
		h.mu.Lock()
		_, ok := h.contexts[unsafe.Pointer(p)]
		delete(h.contexts, unsafe.Pointer(p))
		h.mu.Unlock()
		if ok {
			C.free(unsafe.Pointer(p))
		}
	}
}

//export cdrv_FltAllocateContext
func cdrv_FltAllocateContext(f C.fltemu_frame_t, pf C.PFLT_FILTER, typ C.FLT_CONTEXT_TYPE, size C.SIZE_T, pool C.POOL_TYPE, ret *C.PFLT_CONTEXT) C.NTSTATUS {
	fr := frameOf(f)
	fr.checkIRQL("FltAllocateContext", kernel.APC_LEVEL)
	flt, ok := fr.filterOf("FltAllocateContext", pf)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if ret == nil {
		fr.badInput("FltAllocateContext", "a NULL ReturnedContext")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	c, s := fr.h.fm.AllocateContext(flt, driverapi.ContextType(typ), uintptr(size), driverapi.PoolType(pool))
	if s != kernel.STATUS_SUCCESS {
		return st(s)
	}
	p := C.calloc(1, C.size_t(size)+1)
	c.SetData(cookie{C.PVOID(p)})
	fr.h.mu.Lock()
	fr.h.contexts[p] = c
	fr.h.mu.Unlock()
	*ret = C.PFLT_CONTEXT(p)
	return st(kernel.STATUS_SUCCESS)
}

func (fr *frame) context(routine string, p C.PFLT_CONTEXT) (driverapi.FltContext, bool) {
	fr.h.mu.Lock()
	c, ok := fr.h.contexts[unsafe.Pointer(p)]
	fr.h.mu.Unlock()
	if !ok {
		fr.badInput(routine, fmt.Sprintf("a context (%p) that FltAllocateContext did not return, or one freed already", unsafe.Pointer(p)))
	}
	return c, ok
}

//export cdrv_FltContextOp
func cdrv_FltContextOp(f C.fltemu_frame_t, p C.PFLT_CONTEXT, op C.int) {
	fr := frameOf(f)
	names := map[C.int]string{1: "FltReferenceContext", -1: "FltReleaseContext", 0: "FltDeleteContext"}
	c, ok := fr.context(names[op], p)
	if !ok {
		return
	}
	switch op {
	case 1:
		fr.h.fm.ReferenceContext(c)
	case -1:
		fr.h.fm.ReleaseContext(c)
	default:
		fr.h.fm.DeleteContext(c)
	}
}

//export cdrv_FltSetContext
func cdrv_FltSetContext(f C.fltemu_frame_t, kind C.int, pi C.PFLT_INSTANCE, pfo C.PFILE_OBJECT, op C.FLT_SET_CONTEXT_OPERATION, pc C.PFLT_CONTEXT, old *C.PFLT_CONTEXT) C.NTSTATUS {
	fr := frameOf(f)
	routine := "FltSetStreamHandleContext"
	if kind == C.FLT_STREAM_CONTEXT {
		routine = "FltSetStreamContext"
	}
	fr.checkIRQL(routine, kernel.APC_LEVEL)
	inst, ok1 := fr.instance(routine, pi)
	fo, ok2 := fr.file(routine, pfo)
	c, ok3 := fr.context(routine, pc)
	if !ok1 || !ok2 || !ok3 {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	var prev driverapi.FltContext
	var prevp *driverapi.FltContext
	if old != nil {
		prevp = &prev
	}
	var s kernel.NTSTATUS
	if kind == C.FLT_STREAM_CONTEXT {
		s = fr.h.fm.SetStreamContext(inst, fo, driverapi.SetContextOperation(op), c, prevp)
	} else {
		s = fr.h.fm.SetStreamHandleContext(inst, fo, driverapi.SetContextOperation(op), c, prevp)
	}
	if old != nil {
		*old = nil
		if prev != nil {
			*old = C.PFLT_CONTEXT(cookieOf(prev.Data()))
		}
	}
	return st(s)
}

//export cdrv_FltGetContext
func cdrv_FltGetContext(f C.fltemu_frame_t, kind C.int, pi C.PFLT_INSTANCE, pfo C.PFILE_OBJECT, ret *C.PFLT_CONTEXT) C.NTSTATUS {
	fr := frameOf(f)
	routine := "FltGetStreamHandleContext"
	if kind == C.FLT_STREAM_CONTEXT {
		routine = "FltGetStreamContext"
	}
	fr.checkIRQL(routine, kernel.APC_LEVEL)
	inst, ok1 := fr.instance(routine, pi)
	fo, ok2 := fr.file(routine, pfo)
	if !ok1 || !ok2 || ret == nil {
		if ret == nil {
			fr.badInput(routine, "a NULL Context")
		}
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	var c driverapi.FltContext
	var s kernel.NTSTATUS
	if kind == C.FLT_STREAM_CONTEXT {
		c, s = fr.h.fm.GetStreamContext(inst, fo)
	} else {
		c, s = fr.h.fm.GetStreamHandleContext(inst, fo)
	}
	*ret = nil
	if s == kernel.STATUS_SUCCESS && c != nil {
		*ret = C.PFLT_CONTEXT(cookieOf(c.Data()))
	}
	return st(s)
}

var _ = context.Background
