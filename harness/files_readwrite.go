package harness

import (
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// Reads and writes: ReadFile, WriteFile, and a mapped view's paging write.

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
