package harness

import (
	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// AllocationGranularity is the granularity of view offsets (SYSTEM_INFO.dwAllocationGranularity).
const AllocationGranularity = 65536

// MapViewOfFile emulates MapViewOfFile on a section handle that a filter returned (the
// avscan sample's CreateSectionForDataScan answer): it returns the bytes of the view, from the
// offset fileOffsetHigh:fileOffsetLow, numberOfBytesToMap of them (0: to the end of the
// section). The handle must have been granted SECTION_MAP_READ for fltlib.FILE_MAP_READ (and
// SECTION_MAP_WRITE, on a PAGE_READWRITE section, for fltlib.FILE_MAP_WRITE), else
// ERROR_ACCESS_DENIED; a handle that is not a section is ERROR_INVALID_HANDLE; an offset that is
// not a multiple of AllocationGranularity ERROR_MAPPED_ALIGNMENT; a view past the end of the
// section ERROR_ACCESS_DENIED.
//
// Decision: the view is the process's own copy of the section's bytes (and a section is a
// snapshot of the file when the filter made it; see package fltmgr): there is nothing to
// unmap, and writing to the copy changes nothing on disk.
func (p *Process) MapViewOfFile(section kernel.Handle, desiredAccess uint32, fileOffsetHigh, fileOffsetLow uint32,
	numberOfBytesToMap uintptr) ([]byte, error) {
	obj, granted, st := p.k.ReferenceHandle(section)
	if st != kernel.STATUS_SUCCESS {
		return nil, kernel.ERROR_INVALID_HANDLE
	}
	sec, ok := obj.Body().(*fltmgr.Section)
	if !ok || obj.Type() != fltmgr.TypeSection {
		return nil, kernel.ERROR_INVALID_HANDLE
	}
	need := kernel.AccessMask(0)
	if desiredAccess&(fltlib.FILE_MAP_READ|fltlib.FILE_MAP_COPY) != 0 {
		need |= driverapi.SECTION_MAP_READ
	}
	if desiredAccess&fltlib.FILE_MAP_WRITE != 0 {
		if !sec.Writable() {
			return nil, kernel.ERROR_ACCESS_DENIED
		}
		need |= driverapi.SECTION_MAP_WRITE
	}
	if need == 0 || granted&need != need {
		return nil, kernel.ERROR_ACCESS_DENIED
	}
	off := int64(fileOffsetHigh)<<32 | int64(fileOffsetLow)
	if off%AllocationGranularity != 0 {
		return nil, kernel.ERROR_MAPPED_ALIGNMENT
	}
	size := sec.Size()
	if off >= size {
		return nil, kernel.ERROR_ACCESS_DENIED
	}
	n := size - off
	if numberOfBytesToMap != 0 {
		if uint64(numberOfBytesToMap) > uint64(n) {
			return nil, kernel.ERROR_ACCESS_DENIED
		}
		n = int64(numberOfBytesToMap)
	}
	view := make([]byte, n)
	view = view[:sec.ReadAt(view, off)]
	return view, nil
}

// FileObject returns the file object behind a file handle: what ObReferenceObjectByHandle
// finds (driverapi.ReferenceFileObjectByHandle).
func (fh *fileHandle) FileObject() *fsys.FileObject { return fh.fo }

// UnmapViewOfFile emulates UnmapViewOfFile: a view is the process's own copy, so there is
// nothing to release; an empty view is ERROR_INVALID_ADDRESS, as an address Windows did not map.
func (p *Process) UnmapViewOfFile(view []byte) error {
	if len(view) == 0 {
		return kernel.Win32Error(487) // ERROR_INVALID_ADDRESS
	}
	return nil
}
