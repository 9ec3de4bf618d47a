package fsys

import "github.com/fltemu/fltemu/kernel"

// The two request descriptions below flow unchanged from the user's call (harness) through the
// I/O manager and the filters (fltmgr) to the file system. Who asks (the thread and its token)
// and what is named (the volume and file name, then the file object) travel beside them.

// CreateRequest is an open: the parameters of IRP_MJ_CREATE (NtCreateFile's, after the name).
type CreateRequest struct {
	// DesiredAccess is the access asked for; generic rights are mapped with
	// kernel.FileGenericMapping.
	DesiredAccess kernel.AccessMask
	// Disposition is FILE_SUPERSEDE ... FILE_OVERWRITE_IF.
	Disposition uint32
	// Options are the create options: FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE,
	// FILE_DELETE_ON_CLOSE, FILE_SYNCHRONOUS_IO_NONALERT, ...
	Options uint32
	// ShareAccess is FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE.
	ShareAccess uint32
	// FileAttributes are the attributes of a file the open creates (FILE_ATTRIBUTE_*).
	FileAttributes uint32
	// AllocationSize is the initial allocation of a file the open creates; the emulated file
	// system does not use it, filters see it.
	AllocationSize int64
}

// IORequest is a read or a write: where, and which path it takes (the flags of the IRP).
type IORequest struct {
	// Offset is the byte offset; FILE_USE_FILE_POINTER_POSITION uses the file object's
	// current byte offset (synchronous file objects only), and for a write
	// FILE_WRITE_TO_END_OF_FILE appends.
	Offset int64
	// NonCached is non-cached I/O (IRP_NOCACHE, a FILE_FLAG_NO_BUFFERING handle): offset
	// and length must be multiples of the sector size unless the request is paging I/O. A
	// file object opened with FILE_NO_INTERMEDIATE_BUFFERING makes every request non-cached.
	NonCached bool
	// Paging is paging I/O (IRP_PAGING_IO | IRP_NOCACHE | IRP_SYNCHRONOUS_PAGING_IO, kernel
	// mode), as the memory manager sends for a mapped file: it never moves the current byte
	// offset and never extends the file (a paging write is cut at the end of file).
	Paging bool
	// FastIO tries the fast I/O path first (a cached request on a synchronous file object):
	// filters see FLTFL_CALLBACK_DATA_FAST_IO_OPERATION and may answer
	// FLT_PREOP_DISALLOW_FASTIO, after which the request is sent again as an IRP (R-IO-RW-4).
	// The file system serves both paths alike.
	FastIO bool
	// KeepPosition leaves a synchronous file object's current byte offset where it was
	// (FltReadFile's FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET).
	KeepPosition bool
}
