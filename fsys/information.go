package fsys

// The FILE_*_INFORMATION structures keep their ntifs.h names: the Go-style names would be
// those of the FILE_INFORMATION_CLASS values (FileBasicInformation) or of winbase.h's
// FILE_INFO_BY_HANDLE_CLASS values (FileBasicInfo).

import (
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// FILE_BASIC_INFORMATION is the structure of the FileBasicInformation class. Times are not
// kept by the emulated volumes (they read as zero, and a zero time in a set means "do not
// change", as on Windows).
type FILE_BASIC_INFORMATION struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
}

// FILE_STANDARD_INFORMATION is the structure of the FileStandardInformation class.
type FILE_STANDARD_INFORMATION struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  bool
	Directory      bool
}

// FILE_INTERNAL_INFORMATION is the structure of the FileInternalInformation class: the file
// id.
type FILE_INTERNAL_INFORMATION struct{ IndexNumber int64 }

// FILE_NAME_INFORMATION is the structure of the FileNameInformation class: the
// volume-relative path of the file.
type FILE_NAME_INFORMATION struct{ FileName string }

// FILE_RENAME_INFORMATION is the structure of the FileRenameInformation class. FileName is
// either a volume-relative path (starting with `\`) or a simple name in the same directory.
type FILE_RENAME_INFORMATION struct {
	ReplaceIfExists bool
	FileName        string
}

// FILE_DISPOSITION_INFORMATION is the structure of the FileDispositionInformation class.
type FILE_DISPOSITION_INFORMATION struct{ DeleteFile bool }

// FILE_POSITION_INFORMATION is the structure of the FilePositionInformation class.
type FILE_POSITION_INFORMATION struct{ CurrentByteOffset int64 }

// FILE_ALLOCATION_INFORMATION is the structure of the FileAllocationInformation class.
type FILE_ALLOCATION_INFORMATION struct{ AllocationSize int64 }

// FILE_END_OF_FILE_INFORMATION is the structure of the FileEndOfFileInformation class.
type FILE_END_OF_FILE_INFORMATION struct{ EndOfFile int64 }

// FILE_VALID_DATA_LENGTH_INFORMATION is the structure of the FileValidDataLengthInformation
// class.
type FILE_VALID_DATA_LENGTH_INFORMATION struct{ ValidDataLength int64 }

// SetInformation is the file system's IRP_MJ_SET_INFORMATION. info must be the pointer type
// of the class (*FILE_RENAME_INFORMATION for FileRenameInformation, ...); a wrong type or an
// unsupported class is STATUS_INVALID_PARAMETER. Rename and delete fail as NTFS makes them:
// STATUS_OBJECT_NAME_COLLISION (target exists, no ReplaceIfExists), STATUS_ACCESS_DENIED
// (target open or a directory; a directory with open files below), STATUS_DIRECTORY_NOT_EMPTY,
// STATUS_CANNOT_DELETE (read-only file, root). A rename to another volume is the caller's
// business (STATUS_NOT_SAME_DEVICE).
func (v *Volume) SetInformation(fo *FileObject, class FileInformationClass, info any) kernel.NTSTATUS {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, false); st != kernel.STATUS_SUCCESS {
		return st
	}
	s := fo.stream
	n := s.node
	switch class {
	case FileBasicInformation:
		in, ok := info.(*FILE_BASIC_INFORMATION)
		if !ok || in == nil {
			return kernel.STATUS_INVALID_PARAMETER
		}
		if in.FileAttributes != 0 {
			n.attrs = in.FileAttributes &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
		}
		return kernel.STATUS_SUCCESS
	case FileDispositionInformation:
		in, ok := info.(*FILE_DISPOSITION_INFORMATION)
		if !ok || in == nil {
			return kernel.STATUS_INVALID_PARAMETER
		}
		if !in.DeleteFile {
			if s.name != "" {
				s.delete = false
			} else {
				n.deleting = false
			}
			return kernel.STATUS_SUCCESS
		}
		if n == v.root || n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir {
			return kernel.STATUS_CANNOT_DELETE
		}
		if n.dir && len(n.children) > 0 {
			return kernel.STATUS_DIRECTORY_NOT_EMPTY
		}
		if s.name != "" {
			s.delete = true
		} else {
			n.deleting = true
		}
		return kernel.STATUS_SUCCESS
	case FileEndOfFileInformation, FileAllocationInformation:
		var size int64
		switch in := info.(type) {
		case *FILE_END_OF_FILE_INFORMATION:
			if class != FileEndOfFileInformation || in == nil {
				return kernel.STATUS_INVALID_PARAMETER
			}
			size = in.EndOfFile
		case *FILE_ALLOCATION_INFORMATION:
			if class != FileAllocationInformation || in == nil {
				return kernel.STATUS_INVALID_PARAMETER
			}
			size = in.AllocationSize
			if size >= int64(len(s.data)) {
				return kernel.STATUS_SUCCESS // allocation only; the end of file stays
			}
		default:
			return kernel.STATUS_INVALID_PARAMETER
		}
		if n.dir || size < 0 {
			return kernel.STATUS_INVALID_PARAMETER
		}
		if size <= int64(len(s.data)) {
			s.data = s.data[:size:size]
		} else {
			grown := make([]byte, size)
			copy(grown, s.data)
			s.data = grown
		}
		fo.flags.Or(FO_FILE_SIZE_CHANGED | FO_FILE_MODIFIED)
		return kernel.STATUS_SUCCESS
	case FileValidDataLengthInformation:
		in, ok := info.(*FILE_VALID_DATA_LENGTH_INFORMATION)
		if !ok || in == nil || n.dir || in.ValidDataLength < 0 || in.ValidDataLength > int64(len(s.data)) {
			return kernel.STATUS_INVALID_PARAMETER
		}
		return kernel.STATUS_SUCCESS
	case FilePositionInformation:
		in, ok := info.(*FILE_POSITION_INFORMATION)
		if !ok || in == nil || in.CurrentByteOffset < 0 {
			return kernel.STATUS_INVALID_PARAMETER
		}
		fo.pos = in.CurrentByteOffset
		return kernel.STATUS_SUCCESS
	case FileRenameInformation:
		in, ok := info.(*FILE_RENAME_INFORMATION)
		if !ok || in == nil {
			return kernel.STATUS_INVALID_PARAMETER
		}
		return v.renameLocked(fo, in)
	}
	return kernel.STATUS_INVALID_PARAMETER
}

func (v *Volume) renameLocked(fo *FileObject, in *FILE_RENAME_INFORMATION) kernel.NTSTATUS {
	s := fo.stream
	n := s.node
	if s.name != "" || n == v.root || in.FileName == "" {
		return kernel.STATUS_INVALID_PARAMETER
	}
	target := in.FileName
	if target[0] != '\\' {
		if strings.ContainsAny(target, `\:`) {
			return kernel.STATUS_INVALID_PARAMETER
		}
		p := n.parent.path()
		if p != `\` {
			p += `\`
		}
		target = p + target
	}
	pn, st := parseName(target)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	if pn.stream != "" || len(pn.comps) == 0 {
		return kernel.STATUS_INVALID_PARAMETER
	}
	parent, st := v.lookupParent(pn)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	if n.dir && parent.isUnder(n) {
		return kernel.STATUS_INVALID_PARAMETER
	}
	final := pn.comps[len(pn.comps)-1]
	existing := parent.children[key(final)]
	if existing != nil && existing != n {
		if !in.ReplaceIfExists {
			return kernel.STATUS_OBJECT_NAME_COLLISION
		}
		if existing.dir || existing.handles > 0 || existing.attrs&FILE_ATTRIBUTE_READONLY != 0 {
			return kernel.STATUS_ACCESS_DENIED
		}
		delete(parent.children, key(final))
		existing.deleted = true
	}
	if n.dir && n.openHandlesBelow() > n.handles {
		return kernel.STATUS_ACCESS_DENIED
	}
	delete(n.parent.children, key(n.name))
	n.name = final
	n.parent = parent
	parent.children[key(final)] = n
	return kernel.STATUS_SUCCESS
}

// QueryInformation is the file system's IRP_MJ_QUERY_INFORMATION for the classes
// FileBasicInformation, FileStandardInformation, FileInternalInformation,
// FilePositionInformation and FileNameInformation; it returns a pointer to the class's
// structure. Other classes are STATUS_INVALID_PARAMETER.
func (v *Volume) QueryInformation(fo *FileObject, class FileInformationClass) (any, kernel.NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, false); st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	s := fo.stream
	n := s.node
	switch class {
	case FileBasicInformation:
		a := n.attrs
		if n.dir {
			a |= FILE_ATTRIBUTE_DIRECTORY
		}
		if a == 0 {
			a = FILE_ATTRIBUTE_NORMAL
		}
		return &FILE_BASIC_INFORMATION{FileAttributes: a}, kernel.STATUS_SUCCESS
	case FileStandardInformation:
		size := int64(len(s.data))
		alloc := (size + int64(v.sectorSize) - 1) / int64(v.sectorSize) * int64(v.sectorSize)
		return &FILE_STANDARD_INFORMATION{AllocationSize: alloc, EndOfFile: size, NumberOfLinks: 1,
			DeletePending: n.deleting || s.delete, Directory: n.dir}, kernel.STATUS_SUCCESS
	case FileInternalInformation:
		return &FILE_INTERNAL_INFORMATION{IndexNumber: n.id}, kernel.STATUS_SUCCESS
	case FilePositionInformation:
		return &FILE_POSITION_INFORMATION{CurrentByteOffset: fo.pos}, kernel.STATUS_SUCCESS
	case FileNameInformation:
		p := n.path()
		if s.name != "" {
			p += ":" + s.name
		}
		return &FILE_NAME_INFORMATION{FileName: p}, kernel.STATUS_SUCCESS
	}
	return nil, kernel.STATUS_INVALID_PARAMETER
}
