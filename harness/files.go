// # Files
//
// The file half of the user-mode world: volumes ([World.AddVolume]), the kernel32 file API of
// a process (CreateFile, ReadFile, WriteFile, SetFileInformationByHandle,
// MoveFileEx, DeleteFile, DeviceIoControl, ...) and fltlib's FilterAttach / FilterDetach.
// Every call runs the operation through the volume's minifilter stack on the caller's
// goroutine and returns the Win32 error kernel32 would (nil for success).
//
// Decisions:
//   - Paths are absolute: `C:\dir\a.txt` (`/` accepted), `\\?\C:\...` (taken literally) or
//     `\\server\share\...` for a network volume with that share. `.` and `..` are resolved and
//     trailing dots and spaces dropped from each component, as Win32 does. A relative path is
//     ERROR_INVALID_NAME (there is no current directory); an unknown drive ERROR_PATH_NOT_FOUND.
//   - Each process's calls run on its main thread, id = process id + 2; the thread's context
//     is done when the process exits. Cleanup and close of a file object run with the thread
//     of the process that opened it, whoever closes the last handle.
//   - CREATE_ALWAYS and OPEN_ALWAYS on an existing file succeed with a nil error: the
//     "ERROR_ALREADY_EXISTS as last error" detail is not reported.
//   - FILE_FLAG_OVERLAPPED makes an asynchronous file object (no file pointer: reads and writes
//     need an offset), but the calls still complete before they return.
//   - MoveFile does not copy across volumes: ERROR_NOT_SAME_DEVICE.
package harness

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/kernel"
)

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

// SetFilePointerEx move methods.
const (
	FILE_BEGIN   uint32 = 0
	FILE_CURRENT uint32 = 1
	FILE_END     uint32 = 2
)

// MoveFileEx flags.
const (
	MOVEFILE_REPLACE_EXISTING uint32 = 0x1
	MOVEFILE_COPY_ALLOWED     uint32 = 0x2
)

// FileInfoByHandleClass is FILE_INFO_BY_HANDLE_CLASS, the class of SetFileInformationByHandle.
type FileInfoByHandleClass uint32

// Classes SetFileInformationByHandle accepts, with the structure each takes.
const (
	FileBasicInfo       FileInfoByHandleClass = 0 // *fsys.FILE_BASIC_INFORMATION
	FileRenameInfo      FileInfoByHandleClass = 3 // *fsys.FILE_RENAME_INFORMATION (FileName: a path or a simple name)
	FileDispositionInfo FileInfoByHandleClass = 4 // *fsys.FILE_DISPOSITION_INFORMATION
	FileAllocationInfo  FileInfoByHandleClass = 5 // *fsys.FILE_ALLOCATION_INFORMATION
	FileEndOfFileInfo   FileInfoByHandleClass = 6 // *fsys.FILE_END_OF_FILE_INFORMATION
)

// win32Error maps a file operation's status to the Win32 error kernel32 reports.
func win32Error(st kernel.NTSTATUS) kernel.Win32Error { return kernel.NtStatusToDosError(st) }

func errOf(st kernel.NTSTATUS) error {
	if st.IsSuccess() {
		return nil
	}
	return win32Error(st)
}

// ---- volumes ----

// AddVolume creates a volume from cfg and mounts it (R-IO-VOL-1): filters already filtering
// attach to it automatically. A local volume without a DeviceName gets the next
// \Device\HarddiskVolumeN. The seed files (cfg.Files) are written directly, not through the
// filters. It returns an error for a bad configuration or a drive letter in use.
func (w *World) AddVolume(cfg fsys.VolumeConfig) (*fsys.Volume, error) {
	if cfg.DeviceName == "" && cfg.Kind == fsys.VolumeLocal {
		cfg.DeviceName = w.fm.NextLocalDeviceName()
	}
	v, err := fsys.NewVolume(cfg)
	if err != nil {
		return nil, err
	}
	if st := w.fm.AddVolume(v); st != kernel.STATUS_SUCCESS {
		return nil, fmt.Errorf("harness: cannot mount volume %s: %w", v.Name(), st)
	}
	return v, nil
}

// MustAddVolume is AddVolume for tests: it panics on an error (a test bug).
func (w *World) MustAddVolume(cfg fsys.VolumeConfig) *fsys.Volume {
	v, err := w.AddVolume(cfg)
	if err != nil {
		panic(err)
	}
	return v
}

// AddVolumeFromDir is AddVolume with the volume seeded from the directory tree dir of the
// host (testdata/volumes/c, say), after cfg.Files.
func (w *World) AddVolumeFromDir(cfg fsys.VolumeConfig, dir string) (*fsys.Volume, error) {
	if cfg.DeviceName == "" && cfg.Kind == fsys.VolumeLocal {
		cfg.DeviceName = w.fm.NextLocalDeviceName()
	}
	v, err := fsys.NewVolume(cfg)
	if err != nil {
		return nil, err
	}
	if err := v.TestAccess().SeedFS(os.DirFS(dir), "."); err != nil {
		return nil, fmt.Errorf("harness: seeding %s from %s: %w", v.Name(), dir, err)
	}
	if st := w.fm.AddVolume(v); st != kernel.STATUS_SUCCESS {
		return nil, fmt.Errorf("harness: cannot mount volume %s: %w", v.Name(), st)
	}
	return v, nil
}

// Volume returns the mounted volume with the drive letter ("C:") or device name, nil if none.
func (w *World) Volume(name string) *fsys.Volume {
	v, _ := w.fm.Volume(name)
	return v
}

// FileData returns what is on disk for a Win32 path (`C:\dir\a.txt`), bypassing the
// filters, and whether the file exists.
func (w *World) FileData(path string) ([]byte, bool) {
	v, rel, st := w.resolvePath(path)
	if st != kernel.STATUS_SUCCESS {
		return nil, false
	}
	return v.TestAccess().FileData(rel)
}

// Instances lists the instances attached to a volume, highest altitude first, as
// "driver/instance@altitude".
func (w *World) Instances(volume string) []string { return w.fm.Instances(volume) }

// resolvePath turns a Win32 path into a volume and a volume-relative NT name.
func (w *World) resolvePath(path string) (*fsys.Volume, string, kernel.NTSTATUS) {
	p := strings.ReplaceAll(path, "/", `\`)
	literal := false
	switch {
	case strings.HasPrefix(p, `\\?\UNC\`):
		p, literal = `\\`+p[8:], true
	case strings.HasPrefix(p, `\\?\`), strings.HasPrefix(p, `\??\`):
		p, literal = p[4:], true
	case strings.HasPrefix(p, `\\.\`):
		p = p[4:]
	}
	var vol *fsys.Volume
	var rest string
	switch {
	case strings.HasPrefix(p, `\\`):
		parts := strings.SplitN(p[2:], `\`, 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, "", kernel.STATUS_OBJECT_NAME_INVALID
		}
		share := `\` + parts[0] + `\` + parts[1]
		for _, v := range w.fm.Volumes() {
			if v.Kind() == fsys.VolumeNetwork && strings.EqualFold(v.Share(), share) {
				vol = v
			}
		}
		if vol == nil {
			return nil, "", kernel.STATUS_OBJECT_PATH_NOT_FOUND
		}
		if len(parts) == 3 {
			rest = `\` + parts[2]
		}
	case len(p) >= 2 && p[1] == ':':
		v, ok := w.fm.Volume(p[:2])
		if !ok {
			return nil, "", kernel.STATUS_OBJECT_PATH_NOT_FOUND
		}
		vol, rest = v, p[2:]
		if rest != "" && rest[0] != '\\' {
			rest = `\` + rest // no current directory per drive: relative to the root
		}
	default:
		return nil, "", kernel.STATUS_OBJECT_NAME_INVALID
	}
	if rest == "" {
		rest = `\`
	}
	if literal {
		return vol, rest, kernel.STATUS_SUCCESS
	}
	var out []string
	for _, c := range strings.Split(rest, `\`) {
		c = strings.TrimRight(c, ". ")
		switch c {
		case "":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		out = append(out, c)
	}
	// "." components became "" above and were skipped.
	return vol, `\` + strings.Join(out, `\`), kernel.STATUS_SUCCESS
}

// ---- the calling thread ----

// ThreadContext returns the context of the process's main thread: it carries the thread (for
// driverapi.CurrentProcess, FltGetRequestorProcess) and is done when the process exits.
func (p *Process) ThreadContext() context.Context { return p.thread }

// ---- handles ----

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

// ---- reads and writes ----

// ReadFile emulates ReadFile on a synchronous handle at the file pointer (R-IO-USER-2): it
// returns the bytes read, 0 and nil at the end of file. The handle needs FILE_READ_DATA, else
// ERROR_ACCESS_DENIED (checked before the filters see anything).
func (p *Process) ReadFile(h kernel.Handle, buf []byte) (uint32, error) {
	return p.ReadFileWithOptions(h, buf, fsys.IORequest{Offset: fsys.FILE_USE_FILE_POINTER_POSITION})
}

// ReadFileAt emulates ReadFile with an OVERLAPPED offset: at or past the end of file it
// returns ERROR_HANDLE_EOF.
func (p *Process) ReadFileAt(h kernel.Handle, buf []byte, offset int64) (uint32, error) {
	return p.ReadFileWithOptions(h, buf, fsys.IORequest{Offset: offset})
}

// ReadFileWithOptions is ReadFile with the request spelled out: the offset
// (fsys.FILE_USE_FILE_POINTER_POSITION reads at the file pointer, as ReadFile without an
// OVERLAPPED) and the path (fast I/O first, non-cached as on a FILE_FLAG_NO_BUFFERING handle,
// paging as the memory manager's I/O for a mapped file).
func (p *Process) ReadFileWithOptions(h kernel.Handle, buf []byte, r fsys.IORequest) (uint32, error) {
	fh, access, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	if access&kernel.FILE_READ_DATA == 0 {
		return 0, kernel.ERROR_ACCESS_DENIED
	}
	n, st := p.w.fm.NtReadFile(p.ThreadContext(), fh.fo, buf, r)
	if st == kernel.STATUS_END_OF_FILE {
		if r.Offset == fsys.FILE_USE_FILE_POINTER_POSITION && fh.fo.Flags()&fsys.FO_SYNCHRONOUS_IO != 0 {
			return 0, nil
		}
		return 0, kernel.ERROR_HANDLE_EOF
	}
	return n, errOf(st)
}

// WriteFile emulates WriteFile on a synchronous handle at the file pointer (R-IO-USER-2). The
// handle needs FILE_WRITE_DATA or FILE_APPEND_DATA (an append-only handle writes at the end
// of file), else ERROR_ACCESS_DENIED before the filters see anything.
func (p *Process) WriteFile(h kernel.Handle, data []byte) (uint32, error) {
	return p.WriteFileWithOptions(h, data, fsys.IORequest{Offset: fsys.FILE_USE_FILE_POINTER_POSITION})
}

// WriteFileAt emulates WriteFile with an OVERLAPPED offset.
func (p *Process) WriteFileAt(h kernel.Handle, data []byte, offset int64) (uint32, error) {
	return p.WriteFileWithOptions(h, data, fsys.IORequest{Offset: offset})
}

// WriteFileWithOptions is WriteFile with the request spelled out, as ReadFileWithOptions; a
// paging write never extends the file (see also MappedWrite).
func (p *Process) WriteFileWithOptions(h kernel.Handle, data []byte, r fsys.IORequest) (uint32, error) {
	fh, access, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	if access&(kernel.FILE_WRITE_DATA|kernel.FILE_APPEND_DATA) == 0 {
		return 0, kernel.ERROR_ACCESS_DENIED
	}
	if access&kernel.FILE_WRITE_DATA == 0 && !r.Paging {
		r.Offset = fsys.FILE_WRITE_TO_END_OF_FILE
	}
	n, st := p.w.fm.NtWriteFile(p.ThreadContext(), fh.fo, data, r)
	return n, errOf(st)
}

// PageSize is the page size of mapped views.
const PageSize = 4096

// MappedWrite writes data at offset through a mapped view of the file and flushes it
// (MapViewOfFile, a store, FlushViewOfFile; R-IO-RW-3): the filters see a paging write
// (IRP_PAGING_IO | IRP_NOCACHE | IRP_SYNCHRONOUS_PAGING_IO, kernel mode) of the whole pages
// touched, at a page-aligned offset, with the current contents around data. A view cannot
// grow the file: writing past the end of file is ERROR_NOACCESS (the store would fault). The
// handle needs FILE_WRITE_DATA (a read-write mapping), else ERROR_ACCESS_DENIED.
func (p *Process) MappedWrite(h kernel.Handle, offset int64, data []byte) error {
	fh, access, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	if access&kernel.FILE_WRITE_DATA == 0 {
		return kernel.ERROR_ACCESS_DENIED
	}
	fo := fh.fo
	info, st := fo.Volume().QueryInformation(fo, fsys.FileStandardInformation)
	if st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	size := info.(*fsys.FILE_STANDARD_INFORMATION).EndOfFile
	if offset < 0 || offset+int64(len(data)) > size {
		return kernel.ERROR_NOACCESS
	}
	if len(data) == 0 {
		return nil
	}
	start := offset &^ (PageSize - 1)
	end := (offset + int64(len(data)) + PageSize - 1) &^ (PageSize - 1)
	page := make([]byte, end-start)
	if _, st := fo.Volume().Read(fo, page, fsys.IORequest{Offset: start, Paging: true}); st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	copy(page[offset-start:], data)
	_, err := p.WriteFileWithOptions(h, page, fsys.IORequest{Offset: start, Paging: true})
	return err
}

// ---- file information ----

// SetFilePointerEx emulates SetFilePointerEx (FILE_BEGIN, FILE_CURRENT, FILE_END) and returns
// the new position; a negative one is ERROR_NEGATIVE_SEEK. FILE_END queries the size through
// the filters (IRP_MJ_QUERY_INFORMATION).
func (p *Process) SetFilePointerEx(h kernel.Handle, distance int64, moveMethod uint32) (int64, error) {
	fh, _, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	var base int64
	switch moveMethod {
	case FILE_BEGIN:
	case FILE_CURRENT:
		base = fh.fo.CurrentByteOffset()
	case FILE_END:
		size, err := p.GetFileSizeEx(h)
		if err != nil {
			return 0, err
		}
		base = size
	default:
		return 0, kernel.ERROR_INVALID_PARAMETER
	}
	pos := base + distance
	if pos < 0 {
		return 0, kernel.ERROR_NEGATIVE_SEEK
	}
	if st := fh.fo.SetCurrentByteOffset(pos); st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	return pos, nil
}

// GetFileSizeEx emulates GetFileSizeEx (an IRP_MJ_QUERY_INFORMATION for
// FileStandardInformation through the filters).
func (p *Process) GetFileSizeEx(h kernel.Handle) (int64, error) {
	fh, _, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	info, st := p.w.fm.NtQueryInformationFile(p.ThreadContext(), fh.fo, fsys.FileStandardInformation)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	return info.(*fsys.FILE_STANDARD_INFORMATION).EndOfFile, nil
}

// SetEndOfFile emulates SetEndOfFile: the end of file moves to the file pointer
// (FileEndOfFileInformation through the filters). The handle needs FILE_WRITE_DATA.
func (p *Process) SetEndOfFile(h kernel.Handle) error {
	fh, _, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	return p.SetFileInformationByHandle(h, FileEndOfFileInfo, &fsys.FILE_END_OF_FILE_INFORMATION{EndOfFile: fh.fo.CurrentByteOffset()})
}

// SetFileInformationByHandle emulates SetFileInformationByHandle for FileBasicInfo,
// FileRenameInfo, FileDispositionInfo, FileAllocationInfo and FileEndOfFileInfo (R-IO-USER-3).
// info must be a pointer to the class's kernel structure, else ERROR_INVALID_PARAMETER. The
// handle's access is checked first, as NtSetInformationFile does: DELETE for rename and
// disposition, FILE_WRITE_DATA for sizes, FILE_WRITE_ATTRIBUTES for basic information. A
// rename's FileName is a full path (`C:\new.txt`, `\??\C:\new.txt`) or a simple name in the
// same directory; another volume is ERROR_NOT_SAME_DEVICE.
func (p *Process) SetFileInformationByHandle(h kernel.Handle, class FileInfoByHandleClass, info any) error {
	fh, access, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	var ntClass fsys.FileInformationClass
	var need kernel.AccessMask
	ok := false
	switch class {
	case FileBasicInfo:
		_, ok = info.(*fsys.FILE_BASIC_INFORMATION)
		ntClass, need = fsys.FileBasicInformation, kernel.FILE_WRITE_ATTRIBUTES
	case FileRenameInfo:
		var r *fsys.FILE_RENAME_INFORMATION
		if r, ok = info.(*fsys.FILE_RENAME_INFORMATION); ok && r != nil {
			target, st := p.renameTarget(fh.fo, r.FileName)
			if st != kernel.STATUS_SUCCESS {
				return win32Error(st)
			}
			info = &fsys.FILE_RENAME_INFORMATION{ReplaceIfExists: r.ReplaceIfExists, FileName: target}
		}
		ntClass, need = fsys.FileRenameInformation, kernel.DELETE
	case FileDispositionInfo:
		_, ok = info.(*fsys.FILE_DISPOSITION_INFORMATION)
		ntClass, need = fsys.FileDispositionInformation, kernel.DELETE
	case FileAllocationInfo:
		_, ok = info.(*fsys.FILE_ALLOCATION_INFORMATION)
		ntClass, need = fsys.FileAllocationInformation, kernel.FILE_WRITE_DATA
	case FileEndOfFileInfo:
		_, ok = info.(*fsys.FILE_END_OF_FILE_INFORMATION)
		ntClass, need = fsys.FileEndOfFileInformation, kernel.FILE_WRITE_DATA
	}
	if !ok {
		return kernel.ERROR_INVALID_PARAMETER
	}
	if access&need == 0 {
		return kernel.ERROR_ACCESS_DENIED
	}
	return errOf(p.w.fm.NtSetInformationFile(p.ThreadContext(), fh.fo, ntClass, info))
}

// renameTarget turns a rename target into a volume-relative name (or a simple name).
func (p *Process) renameTarget(fo *fsys.FileObject, name string) (string, kernel.NTSTATUS) {
	if name == "" {
		return "", kernel.STATUS_INVALID_PARAMETER
	}
	if !strings.ContainsAny(name, `\/:`) {
		return name, kernel.STATUS_SUCCESS
	}
	vol, rel, st := p.w.resolvePath(name)
	if st != kernel.STATUS_SUCCESS {
		return "", st
	}
	if vol != fo.Volume() {
		return "", kernel.STATUS_NOT_SAME_DEVICE
	}
	return rel, kernel.STATUS_SUCCESS
}

// DeleteFile emulates DeleteFileW: open with DELETE as a non-directory, set the disposition,
// close (R-IO-USER-3). A directory is ERROR_ACCESS_DENIED; a read-only file
// ERROR_ACCESS_DENIED (STATUS_CANNOT_DELETE); a file open without FILE_SHARE_DELETE
// ERROR_SHARING_VIOLATION. The file goes away when its last handle closes.
func (p *Process) DeleteFile(name string) error {
	return p.openAndDo(name, kernel.DELETE|kernel.FILE_READ_ATTRIBUTES, fsys.FILE_NON_DIRECTORY_FILE|fsys.FILE_OPEN_REPARSE_POINT,
		func(fo *fsys.FileObject) kernel.NTSTATUS {
			return p.w.fm.NtSetInformationFile(p.ThreadContext(), fo, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true})
		})
}

// MoveFile emulates MoveFileW (MoveFileEx with no flags).
func (p *Process) MoveFile(existing, newName string) error { return p.MoveFileEx(existing, newName, 0) }

// MoveFileEx emulates MoveFileExW within a volume: open the source with DELETE, rename it
// (FileRenameInformation through the filters), close. MOVEFILE_REPLACE_EXISTING replaces a
// target file; without it an existing target is ERROR_ALREADY_EXISTS. Another volume is
// ERROR_NOT_SAME_DEVICE (copying is not emulated).
func (p *Process) MoveFileEx(existing, newName string, flags uint32) error {
	if flags&^(MOVEFILE_REPLACE_EXISTING|MOVEFILE_COPY_ALLOWED) != 0 {
		return kernel.ERROR_INVALID_PARAMETER
	}
	return p.openAndDo(existing, kernel.DELETE|kernel.FILE_READ_ATTRIBUTES, fsys.FILE_OPEN_FOR_BACKUP_INTENT|fsys.FILE_OPEN_REPARSE_POINT,
		func(fo *fsys.FileObject) kernel.NTSTATUS {
			target, st := p.renameTarget(fo, newName)
			if st != kernel.STATUS_SUCCESS {
				return st
			}
			if !strings.HasPrefix(target, `\`) {
				return kernel.STATUS_OBJECT_NAME_INVALID
			}
			return p.w.fm.NtSetInformationFile(p.ThreadContext(), fo, fsys.FileRenameInformation,
				&fsys.FILE_RENAME_INFORMATION{ReplaceIfExists: flags&MOVEFILE_REPLACE_EXISTING != 0, FileName: target})
		})
}

// CreateDirectory emulates CreateDirectoryW: an existing name is ERROR_ALREADY_EXISTS, a
// missing parent ERROR_PATH_NOT_FOUND.
func (p *Process) CreateDirectory(name string, sa *fltlib.SecurityAttributes) error {
	h, _, st := p.ntCreate(name, kernel.FILE_LIST_DIRECTORY|kernel.SYNCHRONIZE, fsys.FILE_ATTRIBUTE_NORMAL, fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE,
		fsys.FILE_CREATE, fsys.FILE_DIRECTORY_FILE|fsys.FILE_SYNCHRONOUS_IO_NONALERT|fsys.FILE_OPEN_FOR_BACKUP_INTENT, sa != nil && sa.InheritHandle)
	if st != kernel.STATUS_SUCCESS {
		return win32Error(st)
	}
	p.k.CloseHandle(h)
	return nil
}

// RemoveDirectory emulates RemoveDirectoryW: a directory that is not empty is
// ERROR_DIR_NOT_EMPTY; a file ERROR_DIRECTORY.
func (p *Process) RemoveDirectory(name string) error {
	return p.openAndDo(name, kernel.DELETE|kernel.FILE_READ_ATTRIBUTES, fsys.FILE_DIRECTORY_FILE|fsys.FILE_OPEN_FOR_BACKUP_INTENT|fsys.FILE_OPEN_REPARSE_POINT,
		func(fo *fsys.FileObject) kernel.NTSTATUS {
			return p.w.fm.NtSetInformationFile(p.ThreadContext(), fo, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true})
		})
}

// DeviceIoControl emulates DeviceIoControl on a file handle (R-IO-USER-4): a code of device
// type FILE_DEVICE_FILE_SYSTEM is an FSCTL (IRP_MJ_FILE_SYSTEM_CONTROL), any other an IOCTL
// (IRP_MJ_DEVICE_CONTROL). The access bits of the code are checked against the handle first
// (FILE_READ_ACCESS needs FILE_READ_DATA, FILE_WRITE_ACCESS needs FILE_WRITE_DATA), else
// ERROR_ACCESS_DENIED. It returns the bytes written to out. The emulated volumes know
// FSCTL_SET_ZERO_DATA; other codes are ERROR_INVALID_FUNCTION unless a filter completes them.
func (p *Process) DeviceIoControl(h kernel.Handle, code uint32, in, out []byte) (uint32, error) {
	fh, access, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	req := (code >> 14) & 3
	if req&fsys.FILE_READ_ACCESS != 0 && access&kernel.FILE_READ_DATA == 0 ||
		req&fsys.FILE_WRITE_ACCESS != 0 && access&kernel.FILE_WRITE_DATA == 0 {
		return 0, kernel.ERROR_ACCESS_DENIED
	}
	var n uint32
	if fsys.DeviceType(code>>16) == fsys.FILE_DEVICE_FILE_SYSTEM {
		n, st = p.w.fm.NtFsControlFile(p.ThreadContext(), fh.fo, code, in, out)
	} else {
		n, st = p.w.fm.NtDeviceIoControlFile(p.ThreadContext(), fh.fo, code, in, out)
	}
	return n, errOf(st)
}

// ZeroDataInformation builds the 16-byte FILE_ZERO_DATA_INFORMATION input of
// FSCTL_SET_ZERO_DATA.
func ZeroDataInformation(fileOffset, beyondFinalZero int64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b[0:], uint64(fileOffset))
	binary.LittleEndian.PutUint64(b[8:], uint64(beyondFinalZero))
	return b
}

// ---- fltlib: attach and detach ----

// FilterAttach emulates fltlib's FilterAttach (R-IO-INST-3): it attaches the filter to the
// volume ("C:", "C:\" or a device name) at the altitude of its registration, as
// instanceName ("" for the default instance), and returns the instance's name. Results:
// S_OK; E_ACCESSDENIED for a caller that is not an administrator;
// ERROR_FLT_FILTER_NOT_FOUND (0x801F0013); ERROR_FLT_VOLUME_NOT_FOUND (0x801F0014);
// ERROR_FLT_INSTANCE_NAME_COLLISION (0x801F0012); ERROR_FLT_INSTANCE_ALTITUDE_COLLISION
// (0x801F0011); ERROR_FLT_DO_NOT_ATTACH (0x801F000F) when InstanceSetup refuses or the
// filter suppresses manual attachment.
func (p *Process) FilterAttach(filterName, volumeName, instanceName string) (string, kernel.HRESULT) {
	return p.FilterAttachAtAltitude(filterName, volumeName, "", instanceName)
}

// FilterAttachAtAltitude emulates fltlib's FilterAttachAtAltitude: FilterAttach at an
// explicit altitude ("" for the registration's).
func (p *Process) FilterAttachAtAltitude(filterName, volumeName, altitude, instanceName string) (string, kernel.HRESULT) {
	if filterName == "" || volumeName == "" {
		return "", kernel.E_INVALIDARG
	}
	name, st := p.w.fm.AttachFilter(p.k, filterName, volumeName, altitude, instanceName)
	return name, kernel.HResultFromNtStatus(st)
}

// FilterDetach emulates fltlib's FilterDetach (R-IO-INST-4): the instance's
// InstanceQueryTeardown decides (none registered: ERROR_FLT_DO_NOT_DETACH, 0x801F0010); an
// unknown instance is ERROR_FLT_INSTANCE_NOT_FOUND (0x801F0015).
func (p *Process) FilterDetach(filterName, volumeName, instanceName string) kernel.HRESULT {
	if filterName == "" || volumeName == "" {
		return kernel.E_INVALIDARG
	}
	return kernel.HResultFromNtStatus(p.w.fm.DetachFilter(p.k, filterName, volumeName, instanceName))
}
