package fsys

import (
	"fmt"
	"sync/atomic"

	"github.com/fltemu/fltemu/kernel"
)

type foState int

const (
	foNew foState = iota
	foOpened
	foCleanedUp
	foClosed
)

// FileObject is a FILE_OBJECT: one open of a stream. The I/O manager makes it (NewFileObject)
// before the create goes down the stack; the file system fills it in when the create
// succeeds. The access and share fields are set then and do not change; they are read
// without a lock, as in C.
type FileObject struct {
	// FileName is the name the open asked for, relative to the volume (`\dir\a.txt`). It does
	// not change when the file is renamed.
	FileName string
	// ReadAccess, WriteAccess and DeleteAccess say what the open was granted (as
	// IoCheckShareAccess records it); SharedRead, SharedWrite and SharedDelete what it shares.
	ReadAccess, WriteAccess, DeleteAccess bool
	SharedRead, SharedWrite, SharedDelete bool

	vol   *Volume
	id    uint64
	flags atomic.Uint32

	// guarded by vol.mu
	stream                          *Stream
	state                           foState
	pos                             int64
	granted                         kernel.AccessMask
	deleteOnClose, countsShare, dir bool
}

// NewFileObject makes the file object of a create that is about to go down the stack (the
// I/O manager's part of IoCreateFile). fileName is volume-relative; options are the create
// options, from which the object's flags come (FO_SYNCHRONOUS_IO,
// FO_NO_INTERMEDIATE_BUFFERING, ...).
func (v *Volume) NewFileObject(fileName string, options uint32) *FileObject {
	fo := &FileObject{FileName: fileName, vol: v, id: v.foIDs.Add(1)}
	var fl uint32
	if options&(FILE_SYNCHRONOUS_IO_ALERT|FILE_SYNCHRONOUS_IO_NONALERT) != 0 {
		fl |= FO_SYNCHRONOUS_IO
		if options&FILE_SYNCHRONOUS_IO_ALERT != 0 {
			fl |= FO_ALERTABLE_IO
		}
	}
	if options&FILE_NO_INTERMEDIATE_BUFFERING != 0 {
		fl |= FO_NO_INTERMEDIATE_BUFFERING
	}
	if options&FILE_WRITE_THROUGH != 0 {
		fl |= FO_WRITE_THROUGH
	}
	if options&FILE_SEQUENTIAL_ONLY != 0 {
		fl |= FO_SEQUENTIAL_ONLY
	}
	if options&FILE_RANDOM_ACCESS != 0 {
		fl |= FO_RANDOM_ACCESS
	}
	fo.flags.Store(fl)
	return fo
}

// Volume returns the volume the file object belongs to.
func (fo *FileObject) Volume() *Volume { return fo.vol }

// ID is a number unique among the file objects of the volume, for traces.
func (fo *FileObject) ID() uint64 { return fo.id }

// Flags returns FILE_OBJECT.Flags (FO_*).
func (fo *FileObject) Flags() uint32 { return fo.flags.Load() }

// Stream returns the stream the file object is open on (its FsContext): nil before the
// file system opened it. Two file objects on the same stream return the same pointer.
func (fo *FileObject) Stream() *Stream {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.stream
}

// IsOpen reports whether the file system opened the file object and it is not cleaned up.
func (fo *FileObject) IsOpen() bool {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.state == foOpened
}

// IsClosed reports whether IRP_MJ_CLOSE reached the file system for the file object.
func (fo *FileObject) IsClosed() bool {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.state == foClosed
}

// IsDirectory reports whether the file object is open on a directory.
func (fo *FileObject) IsDirectory() bool {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.dir
}

// GrantedAccess returns the access the create granted (what the handle gets).
func (fo *FileObject) GrantedAccess() kernel.AccessMask {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.granted
}

// CurrentByteOffset returns FILE_OBJECT.CurrentByteOffset.
func (fo *FileObject) CurrentByteOffset() int64 {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.pos
}

// SetCurrentByteOffset sets the current byte offset (what the I/O manager does for
// FilePositionInformation). A negative offset is STATUS_INVALID_PARAMETER.
func (fo *FileObject) SetCurrentByteOffset(off int64) kernel.NTSTATUS {
	if off < 0 {
		return kernel.STATUS_INVALID_PARAMETER
	}
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	fo.pos = off
	return kernel.STATUS_SUCCESS
}

// Path returns the current volume-relative path of the open stream, with the case the file
// system stores (it follows renames; a named stream ends in `:name`). Before the open
// succeeded it is the normalized form of FileName: the components that exist with their
// stored case, the rest as given, or STATUS_OBJECT_PATH_NOT_FOUND / STATUS_OBJECT_NAME_INVALID.
func (fo *FileObject) Path() (string, kernel.NTSTATUS) {
	v := fo.vol
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo.stream != nil {
		p := fo.stream.node.path()
		if fo.stream.name != "" {
			p += ":" + fo.stream.name
		}
		return p, kernel.STATUS_SUCCESS
	}
	return v.normalizeLocked(fo.FileName)
}

func (fo *FileObject) String() string {
	return fmt.Sprintf("file object %d %s on %s", fo.id, fo.FileName, fo.vol.name)
}

// usable checks that fo may carry a request; paging I/O may follow a cleanup.
func (v *Volume) usableLocked(fo *FileObject, paging bool) kernel.NTSTATUS {
	if fo == nil || fo.vol != v || fo.stream == nil {
		return kernel.STATUS_INVALID_PARAMETER
	}
	if fo.state == foOpened || paging && fo.state == foCleanedUp {
		return kernel.STATUS_SUCCESS
	}
	return kernel.STATUS_FILE_CLOSED
}

// Cleanup is the file system's IRP_MJ_CLEANUP: the last handle to fo closed. It releases the
// share access, makes a FILE_DELETE_ON_CLOSE file delete-pending, and deletes the file (or the
// named stream) whose delete is pending once its last handle is cleaned up.
func (v *Volume) Cleanup(fo *FileObject) kernel.NTSTATUS {
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo == nil || fo.vol != v || fo.state != foOpened {
		return kernel.STATUS_INVALID_PARAMETER
	}
	s := fo.stream
	n := s.node
	if fo.countsShare {
		sh := &s.share
		sh.open--
		sh.readers -= b2i(fo.ReadAccess)
		sh.writers -= b2i(fo.WriteAccess)
		sh.deleters -= b2i(fo.DeleteAccess)
		sh.sharedRead -= b2i(fo.SharedRead)
		sh.sharedWrite -= b2i(fo.SharedWrite)
		sh.sharedDelete -= b2i(fo.SharedDelete)
	}
	if fo.deleteOnClose {
		if s.name != "" {
			s.delete = true
		} else if !(n.dir && len(n.children) > 0) {
			n.deleting = true
		}
	}
	s.handles--
	n.handles--
	if s.name != "" && s.delete && s.handles == 0 {
		delete(n.streams, key(s.name))
		s.deleted = true
	}
	if n.deleting && n.handles == 0 && n.parent != nil && !n.deleted {
		if cur := n.parent.children[key(n.name)]; cur == n {
			delete(n.parent.children, key(n.name))
		}
		n.deleted = true
		for _, st := range n.streams {
			st.deleted = true
		}
	}
	fo.state = foCleanedUp
	fo.flags.Or(FO_CLEANUP_COMPLETE)
	return kernel.STATUS_SUCCESS
}

// Close is the file system's IRP_MJ_CLOSE: the last reference to fo is gone. It returns
// whether fo was the last file object of its stream (the stream's contexts end then). Closing
// a file object that was never opened, or twice, is STATUS_INVALID_PARAMETER.
func (v *Volume) Close(fo *FileObject) (lastOfStream bool, st kernel.NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo == nil || fo.vol != v || fo.stream == nil || fo.state == foClosed || fo.state == foNew {
		return false, kernel.STATUS_INVALID_PARAMETER
	}
	if fo.state == foOpened {
		return false, kernel.STATUS_INVALID_DEVICE_STATE // cleanup first
	}
	fo.state = foClosed
	fo.stream.objects--
	return fo.stream.objects == 0, kernel.STATUS_SUCCESS
}
