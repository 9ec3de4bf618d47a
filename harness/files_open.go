package harness

import (
	"context"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// Opening files: CreateFile and the handles it returns, on the process's thread.

// TypeFile is the object type name of file handles.
const TypeFile = "File"

// CreateFile dispositions (dwCreationDisposition).
const (
	CREATE_NEW        uint32 = 1
	CREATE_ALWAYS     uint32 = 2
	OPEN_EXISTING     uint32 = 3
	OPEN_ALWAYS       uint32 = 4
	TRUNCATE_EXISTING uint32 = 5
)

// CreateFile flags (dwFlagsAndAttributes, with the FILE_ATTRIBUTE_* of package kernel).
const (
	FILE_FLAG_WRITE_THROUGH      uint32 = 0x80000000
	FILE_FLAG_OVERLAPPED         uint32 = 0x40000000
	FILE_FLAG_NO_BUFFERING       uint32 = 0x20000000
	FILE_FLAG_RANDOM_ACCESS      uint32 = 0x10000000
	FILE_FLAG_SEQUENTIAL_SCAN    uint32 = 0x08000000
	FILE_FLAG_DELETE_ON_CLOSE    uint32 = 0x04000000
	FILE_FLAG_BACKUP_SEMANTICS   uint32 = 0x02000000
	FILE_FLAG_OPEN_REPARSE_POINT uint32 = 0x00200000
)

// ThreadContext returns the context of the process's main thread: it carries the thread (for
// driverapi.CurrentProcess, FltGetRequestorProcess) and is done when the process exits.
func (p *Process) ThreadContext() context.Context { return p.thread }

// fileHandle is the body of a file handle's object.
type fileHandle struct {
	fo   *fsys.FileObject
	path string // as opened, for messages
}

func (p *Process) fileHandle(h kernel.Handle) (*fileHandle, kernel.AccessMask, kernel.NTSTATUS) {
	obj, access, st := p.k.ReferenceHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return nil, 0, st
	}
	fh, ok := obj.Body().(*fileHandle)
	if !ok || obj.Type() != TypeFile {
		return nil, 0, kernel.STATUS_OBJECT_TYPE_MISMATCH
	}
	return fh, access, kernel.STATUS_SUCCESS
}

// FileObject returns the file object behind a file handle, for tests that look at what the
// filters saw. The error is ERROR_INVALID_HANDLE for anything else.
func (p *Process) FileObject(h kernel.Handle) (*fsys.FileObject, error) {
	fh, _, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return nil, kernel.ERROR_INVALID_HANDLE
	}
	return fh.fo, nil
}

// CreateFile emulates kernel32's CreateFileW (R-IO-USER-1). desiredAccess may hold generic
// rights; SYNCHRONIZE and FILE_READ_ATTRIBUTES are added as kernel32 does. shareMode is
// FILE_SHARE_*; disposition is CREATE_NEW ... TRUNCATE_EXISTING; flagsAndAttributes holds
// FILE_FLAG_* and FILE_ATTRIBUTE_*. Without FILE_FLAG_BACKUP_SEMANTICS the open is
// FILE_NON_DIRECTORY_FILE, so a directory gives ERROR_ACCESS_DENIED. Errors are the Win32
// ones: ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_FILE_EXISTS (CREATE_NEW),
// ERROR_SHARING_VIOLATION, ERROR_ACCESS_DENIED (a filter denied the open, the file's security
// or read-only attribute, a delete pending), ERROR_INVALID_NAME, ERROR_INVALID_PARAMETER.
func (p *Process) CreateFile(name string, desiredAccess kernel.AccessMask, shareMode uint32, sa *fltlib.SecurityAttributes,
	disposition uint32, flagsAndAttributes uint32) (kernel.Handle, error) {
	var ntDisp uint32
	switch disposition {
	case CREATE_NEW:
		ntDisp = fsys.FILE_CREATE
	case CREATE_ALWAYS:
		ntDisp = fsys.FILE_OVERWRITE_IF
	case OPEN_EXISTING:
		ntDisp = fsys.FILE_OPEN
	case OPEN_ALWAYS:
		ntDisp = fsys.FILE_OPEN_IF
	case TRUNCATE_EXISTING:
		ntDisp = fsys.FILE_OVERWRITE
		if desiredAccess&(kernel.GENERIC_WRITE|kernel.FILE_WRITE_DATA) == 0 {
			return kernel.InvalidHandle, kernel.ERROR_INVALID_PARAMETER
		}
	default:
		return kernel.InvalidHandle, kernel.ERROR_INVALID_PARAMETER
	}
	if shareMode&^(fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE|fsys.FILE_SHARE_DELETE) != 0 {
		return kernel.InvalidHandle, kernel.ERROR_INVALID_PARAMETER
	}
	access := desiredAccess | kernel.SYNCHRONIZE | kernel.FILE_READ_ATTRIBUTES
	var opts uint32
	if flagsAndAttributes&FILE_FLAG_BACKUP_SEMANTICS == 0 {
		opts |= fsys.FILE_NON_DIRECTORY_FILE
	} else {
		opts |= fsys.FILE_OPEN_FOR_BACKUP_INTENT
	}
	if flagsAndAttributes&FILE_FLAG_OVERLAPPED == 0 {
		opts |= fsys.FILE_SYNCHRONOUS_IO_NONALERT
	}
	for _, f := range []struct{ win, nt uint32 }{
		{FILE_FLAG_NO_BUFFERING, fsys.FILE_NO_INTERMEDIATE_BUFFERING}, {FILE_FLAG_WRITE_THROUGH, fsys.FILE_WRITE_THROUGH},
		{FILE_FLAG_SEQUENTIAL_SCAN, fsys.FILE_SEQUENTIAL_ONLY}, {FILE_FLAG_RANDOM_ACCESS, fsys.FILE_RANDOM_ACCESS},
		{FILE_FLAG_DELETE_ON_CLOSE, fsys.FILE_DELETE_ON_CLOSE}, {FILE_FLAG_OPEN_REPARSE_POINT, fsys.FILE_OPEN_REPARSE_POINT},
	} {
		if flagsAndAttributes&f.win != 0 {
			opts |= f.nt
		}
	}
	if flagsAndAttributes&FILE_FLAG_DELETE_ON_CLOSE != 0 {
		access |= kernel.DELETE
	}
	attrs := flagsAndAttributes & 0xFFFF &^ fsys.FILE_ATTRIBUTE_DIRECTORY
	h, _, st := p.ntCreate(name, access, attrs, shareMode, ntDisp, opts, sa != nil && sa.InheritHandle)
	if st != kernel.STATUS_SUCCESS {
		if st == kernel.STATUS_OBJECT_NAME_COLLISION && disposition == CREATE_NEW {
			return kernel.InvalidHandle, kernel.ERROR_FILE_EXISTS
		}
		return kernel.InvalidHandle, win32Error(st)
	}
	return h, nil
}

// ntCreate opens name and inserts a handle; it returns the handle, the create result and the
// status.
func (p *Process) ntCreate(name string, access kernel.AccessMask, attrs, share, disposition, options uint32, inherit bool) (kernel.Handle, uint64, kernel.NTSTATUS) {
	vol, rel, st := p.w.resolvePath(name)
	if st != kernel.STATUS_SUCCESS {
		return kernel.InvalidHandle, 0, st
	}
	if p.k.Exited() {
		return kernel.InvalidHandle, 0, kernel.STATUS_PROCESS_IS_TERMINATING
	}
	ctx := p.ThreadContext()
	fm := p.w.fm
	fo, info, st := fm.NtCreateFile(ctx, vol, rel, fsys.CreateRequest{DesiredAccess: access,
		FileAttributes: attrs, ShareAccess: share, Disposition: disposition, Options: options})
	if !st.IsSuccess() {
		return kernel.InvalidHandle, 0, st
	}
	closeFO := func() {
		fm.CleanupFile(ctx, fo)
		fm.CloseFile(ctx, fo)
	}
	obj := kernel.NewObject(TypeFile, vol.Name()+rel, &fileHandle{fo: fo, path: vol.Name() + rel}, closeFO)
	h, st := p.k.InsertHandle(obj, fo.GrantedAccess(), inherit)
	if st != kernel.STATUS_SUCCESS {
		closeFO() // the process died while opening: no handle ever existed
		return kernel.InvalidHandle, 0, st
	}
	return h, info, kernel.STATUS_SUCCESS
}

// openAndDo opens name for a one-shot operation (DeleteFile, MoveFileEx, ...), runs f on the
// file object and closes it.
func (p *Process) openAndDo(name string, access kernel.AccessMask, options uint32, f func(fo *fsys.FileObject) kernel.NTSTATUS) error {
	h, _, st := p.ntCreate(name, access|kernel.SYNCHRONIZE, 0, fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE|fsys.FILE_SHARE_DELETE,
		fsys.FILE_OPEN, options|fsys.FILE_SYNCHRONOUS_IO_NONALERT, false)
	if st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	fh, _, _ := p.fileHandle(h)
	st = f(fh.fo)
	p.k.CloseHandle(h)
	return errOf(st)
}
