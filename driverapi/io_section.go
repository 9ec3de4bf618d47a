package driverapi

import (
	"context"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// Section access rights (the DesiredAccess of FltCreateSectionForDataScan).
const (
	SECTION_QUERY       kernel.AccessMask = 0x0001
	SECTION_MAP_WRITE   kernel.AccessMask = 0x0002
	SECTION_MAP_READ    kernel.AccessMask = 0x0004
	SECTION_MAP_EXECUTE kernel.AccessMask = 0x0008
	SECTION_EXTEND_SIZE kernel.AccessMask = 0x0010
	SECTION_ALL_ACCESS  kernel.AccessMask = 0x000F001F
)

// Page protections (SectionPageProtection) and allocation attributes (AllocationAttributes)
// of FltCreateSectionForDataScan.
const (
	PAGE_READONLY  uint32 = 0x02
	PAGE_READWRITE uint32 = 0x04
	SEC_FILE       uint32 = 0x00800000
	SEC_COMMIT     uint32 = 0x08000000
)

// STATUS_MAPPED_FILE_SIZE_ZERO is what FltCreateSectionForDataScan returns for an empty file:
// a file of zero bytes cannot be mapped.
const STATUS_MAPPED_FILE_SIZE_ZERO kernel.NTSTATUS = 0xC000011E

// DataScanRoutines are the filter-manager routines of data scans (Windows 8 and later). The
// emulated filter manager implements them as part of [FileRoutines].
type DataScanRoutines interface {
	// RegisterForDataScan emulates FltRegisterForDataScan: it enables sections for data
	// scans on the instance's volume. Call it in InstanceSetup.
	RegisterForDataScan(instance Instance) kernel.NTSTATUS
	// CreateSectionForDataScan emulates FltCreateSectionForDataScan. ctx is the calling
	// thread (PsGetCurrentThread): the section handle is inserted into its process's handle
	// table, as when the routine runs in a user service's MessageNotify (the avscan sample
	// hands that handle to the service). sectionContext is an FLT_SECTION_CONTEXT the
	// filter allocated; the section holds a reference to it until CloseSectionForDataScan.
	// maximumSize is reserved (ignored). It returns the handle, the section object (opaque,
	// PVOID) and the file size when the section was made.
	CreateSectionForDataScan(ctx context.Context, instance Instance, fileObject *fsys.FileObject, sectionContext FltContext,
		desiredAccess kernel.AccessMask, objectAttributes *ObjectAttributes, maximumSize *int64,
		sectionPageProtection, allocationAttributes, flags uint32) (sectionHandle kernel.Handle, sectionObject any,
		sectionFileSize int64, status kernel.NTSTATUS)
	// CloseSectionForDataScan emulates FltCloseSectionForDataScan: it closes the section
	// the context describes and drops the section's reference to the context. The handle the
	// section was returned through stays valid until its owner closes it.
	CloseSectionForDataScan(sectionContext FltContext) kernel.NTSTATUS
}

// IoFileObjectType is the object type name of file handles (*IoFileObjectType).
const IoFileObjectType = "File"

// ReferenceFileObjectByHandle emulates ObReferenceObjectByHandle(Handle, 0, *IoFileObjectType,
// KernelMode, ...) for a handle of process p (the process a MessageNotify runs for): it
// returns the file object behind a file handle. A handle p does not own is
// STATUS_INVALID_HANDLE; a handle to anything but a file STATUS_OBJECT_TYPE_MISMATCH. No
// reference needs dropping: the emulator's objects are garbage collected.
func ReferenceFileObjectByHandle(p *kernel.Process, h kernel.Handle) (*fsys.FileObject, kernel.NTSTATUS) {
	if p == nil {
		return nil, kernel.STATUS_INVALID_HANDLE
	}
	obj, _, st := p.ReferenceHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	b, ok := obj.Body().(drvhost.FileObjectBody)
	if !ok || obj.Type() != IoFileObjectType || b.FileObject() == nil {
		return nil, kernel.STATUS_OBJECT_TYPE_MISMATCH
	}
	return b.FileObject(), kernel.STATUS_SUCCESS
}
