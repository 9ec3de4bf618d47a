package harness

import (
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// File information: the file pointer, the size, SetFileInformationByHandle.

// SetFilePointerEx move methods.
const (
	FILE_BEGIN   uint32 = 0
	FILE_CURRENT uint32 = 1
	FILE_END     uint32 = 2
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
