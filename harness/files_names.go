package harness

import (
	"strings"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// The namespace: delete, rename and directories.

// MoveFileEx flags.
const (
	MOVEFILE_REPLACE_EXISTING uint32 = 0x1
	MOVEFILE_COPY_ALLOWED     uint32 = 0x2
)

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
