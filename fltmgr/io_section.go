package fltmgr

import (
	"context"
	"fmt"
	"sync"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// This file holds the data-scan routines (FltRegisterForDataScan, FltCreateSectionForDataScan,
// FltCloseSectionForDataScan) and the Section object their handles refer to.
//
// Decisions:
//   - A section is a snapshot of the stream's data when it is made. A real data-scan section
//     maps the file, and the filter manager synchronizes I/O that conflicts with it; a scanner
//     only reads it, so the snapshot reads the same bytes. The snapshot is read at the file
//     system (as paging I/O would be), not through the filters.
//   - The handle goes into the handle table of the calling thread's process (the ctx), with
//     the DesiredAccess granted. Kernel handle tables are not emulated: OBJ_KERNEL_HANDLE, or
//     a call from a system thread, is STATUS_NOT_SUPPORTED.
//   - An instance that did not call FltRegisterForDataScan gets STATUS_NOT_SUPPORTED; an
//     empty file STATUS_MAPPED_FILE_SIZE_ZERO; a second open section of the same filter
//     instance on a stream STATUS_FLT_CONTEXT_ALREADY_DEFINED (the avscan sample serializes
//     its scans per stream for that reason); a section context that is not an
//     FLT_SECTION_CONTEXT of the instance's filter, or was used for a section before,
//     STATUS_INVALID_PARAMETER.
//   - The section holds a reference to its section context until FltCloseSectionForDataScan;
//     a filter that never closes a section is reported at FltUnregisterFilter with the other
//     context references it still holds (R-IO-VERIFY-8).
//   - Section conflict notifications (SectionNotificationCallback) are not emulated.

// TypeSection is the object type name of section handles.
const TypeSection = "Section"

// Section is a section object made by FltCreateSectionForDataScan: the body of a section
// handle's object. The harness maps views of it (MapViewOfFile).
type Section struct {
	inst   *instance
	ctx    *fltContext
	fo     *fsys.FileObject
	stream *fsys.Stream
	size   int64
	prot   uint32

	mu      sync.Mutex
	data    []byte // the stream's data when the section was made; dropped once closed and unreferenced
	closed  bool   // FltCloseSectionForDataScan ran
	handles bool   // a handle refers to the section
}

// Size returns the section's size: the file size when it was made.
func (s *Section) Size() int64 { return s.size }

// FileObject returns the file object the section was made for.
func (s *Section) FileObject() *fsys.FileObject { return s.fo }

// Writable reports whether the section was made with PAGE_READWRITE.
func (s *Section) Writable() bool { return s.prot == driverapi.PAGE_READWRITE }

// Closed reports whether the filter closed the section (FltCloseSectionForDataScan). Handles
// to it stay usable: the object lives until its last handle closes.
func (s *Section) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ReadAt copies the section's bytes at off into buf and returns how many it copied (fewer
// than len(buf) at the end of the section).
func (s *Section) ReadAt(buf []byte, off int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off < 0 || off >= int64(len(s.data)) {
		return 0
	}
	return copy(buf, s.data[off:])
}

// handlesClosed is the object's cleanup: the last handle to the section closed.
func (s *Section) handlesClosed() {
	s.mu.Lock()
	s.handles = false
	if s.closed {
		s.data = nil
	}
	s.mu.Unlock()
}

func (s *Section) String() string {
	return fmt.Sprintf("section of %v (%d bytes)", s.fo, s.size)
}

type sectionKey struct {
	inst   *instance
	stream *fsys.Stream
}

// sectionTable is the manager's data-scan state; its zero value is ready. Its mu is taken
// alone (never with another lock of the package held).
type sectionTable struct {
	mu         sync.Mutex
	registered map[*instance]struct{}
	open       map[sectionKey]*Section
	byCtx      map[*fltContext]*Section // open and closed sections, for the close's answer
}

// registerForDataScan emulates FltRegisterForDataScan: the instance may then create sections
// for data scans. An instance that is gone is STATUS_FLT_DELETING_OBJECT.
func (m *Manager) registerForDataScan(in driverapi.Instance) kernel.NTSTATUS {
	inst, ok := m.asInstance(in)
	if !ok {
		return kernel.STATUS_INVALID_PARAMETER
	}
	inst.mu.Lock()
	gone := inst.state == instGone
	inst.mu.Unlock()
	if gone {
		return kernel.STATUS_FLT_DELETING_OBJECT
	}
	t := &m.io.sections
	t.mu.Lock()
	if t.registered == nil {
		t.registered = make(map[*instance]struct{})
	}
	t.registered[inst] = struct{}{}
	t.mu.Unlock()
	return kernel.STATUS_SUCCESS
}

// createSectionForDataScan emulates FltCreateSectionForDataScan (see DataScanRoutines and the
// decisions at the top of this file).
func (m *Manager) createSectionForDataScan(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject,
	sectionContext driverapi.FltContext, desiredAccess kernel.AccessMask, objectAttributes *driverapi.ObjectAttributes,
	_ *int64, sectionPageProtection, allocationAttributes, flags uint32) (kernel.Handle, any, int64, kernel.NTSTATUS) {
	fail := func(st kernel.NTSTATUS) (kernel.Handle, any, int64, kernel.NTSTATUS) {
		m.traceIO(ctx, fmt.Sprintf("FltCreateSectionForDataScan %v", fileObject), st)
		return kernel.InvalidHandle, nil, 0, st
	}
	inst, st := m.issueCheck(instance, fileObject)
	if st != kernel.STATUS_SUCCESS {
		return fail(st)
	}
	sc, ok := m.asContext(sectionContext)
	if !ok || sc.typ != driverapi.FLT_SECTION_CONTEXT || sc.fio != inst.fio || sc.refs.Load() <= 0 {
		return fail(kernel.STATUS_INVALID_PARAMETER)
	}
	if desiredAccess == 0 || desiredAccess&^driverapi.SECTION_ALL_ACCESS != 0 ||
		sectionPageProtection != driverapi.PAGE_READONLY && sectionPageProtection != driverapi.PAGE_READWRITE ||
		allocationAttributes == 0 || allocationAttributes&^(driverapi.SEC_COMMIT|driverapi.SEC_FILE) != 0 || flags != 0 {
		return fail(kernel.STATUS_INVALID_PARAMETER)
	}
	proc := driverapi.CurrentProcess(ctx)
	if proc == nil || objectAttributes != nil && objectAttributes.Attributes&driverapi.OBJ_KERNEL_HANDLE != 0 {
		return fail(kernel.STATUS_NOT_SUPPORTED) // kernel handle tables are not emulated
	}
	if fileObject.Stream() == nil || fileObject.IsDirectory() {
		return fail(kernel.STATUS_INVALID_PARAMETER)
	}
	vol := fileObject.Volume()
	info, st := vol.QueryInformation(fileObject, fsys.FileStandardInformation)
	if st != kernel.STATUS_SUCCESS {
		return fail(st)
	}
	size := info.(*fsys.FILE_STANDARD_INFORMATION).EndOfFile
	if size == 0 {
		return fail(driverapi.STATUS_MAPPED_FILE_SIZE_ZERO)
	}
	data := make([]byte, size)
	n, st := vol.Read(fileObject, data, fsys.IORequest{Offset: 0, Paging: true})
	if st != kernel.STATUS_SUCCESS {
		return fail(st)
	}
	sec := &Section{inst: inst, ctx: sc, fo: fileObject, stream: fileObject.Stream(), size: int64(n), data: data[:n],
		prot: sectionPageProtection, handles: true}

	m.referenceContext(sc) // the section's reference, dropped by FltCloseSectionForDataScan
	t := &m.io.sections
	key := sectionKey{inst, sec.stream}
	t.mu.Lock()
	_, registered := t.registered[inst]
	_, used := t.byCtx[sc]
	_, busy := t.open[key]
	switch {
	case !registered:
		st = kernel.STATUS_NOT_SUPPORTED
	case used:
		st = kernel.STATUS_INVALID_PARAMETER
	case busy:
		st = kernel.STATUS_FLT_CONTEXT_ALREADY_DEFINED
	default:
		if t.open == nil {
			t.open = make(map[sectionKey]*Section)
			t.byCtx = make(map[*fltContext]*Section)
		}
		t.open[key] = sec
		t.byCtx[sc] = sec
	}
	t.mu.Unlock()
	if st != kernel.STATUS_SUCCESS {
		m.release(sc)
		return fail(st)
	}
	obj := kernel.NewObject(TypeSection, "", sec, sec.handlesClosed)
	h, st := proc.InsertHandle(obj, desiredAccess, false)
	if st != kernel.STATUS_SUCCESS { // the process is exiting
		sec.handlesClosed()
		m.closeSection(sec)
		return fail(st)
	}
	m.traceIO(ctx, fmt.Sprintf("FltCreateSectionForDataScan %v: handle %#x in %v, %d bytes", fileObject, uintptr(h), proc, sec.size), st)
	return h, sec, sec.Size(), kernel.STATUS_SUCCESS
}

// closeSectionForDataScan emulates FltCloseSectionForDataScan: STATUS_INVALID_PARAMETER for a
// context no section was made with, STATUS_NOT_FOUND for a section already closed.
func (m *Manager) closeSectionForDataScan(sectionContext driverapi.FltContext) kernel.NTSTATUS {
	sc, ok := m.asContext(sectionContext)
	if !ok {
		return kernel.STATUS_INVALID_PARAMETER
	}
	t := &m.io.sections
	t.mu.Lock()
	sec := t.byCtx[sc]
	t.mu.Unlock()
	if sec == nil {
		return kernel.STATUS_INVALID_PARAMETER
	}
	if !m.closeSection(sec) {
		return kernel.STATUS_NOT_FOUND
	}
	return kernel.STATUS_SUCCESS
}

// closeSection closes sec once: it leaves the stream free for another section and drops the
// section's context reference. It reports whether this call closed it.
func (m *Manager) closeSection(sec *Section) bool {
	sec.mu.Lock()
	if sec.closed {
		sec.mu.Unlock()
		return false
	}
	sec.closed = true
	if !sec.handles {
		sec.data = nil
	}
	sec.mu.Unlock()
	t := &m.io.sections
	key := sectionKey{sec.inst, sec.stream}
	t.mu.Lock()
	if t.open[key] == sec {
		delete(t.open, key)
	}
	t.mu.Unlock()
	m.release(sec.ctx)
	return true
}
