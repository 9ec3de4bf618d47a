package fsys

import "github.com/fltemu/fltemu/kernel"

const (
	readRights   = kernel.FILE_READ_DATA | kernel.FILE_EXECUTE
	writeRights  = kernel.FILE_WRITE_DATA | kernel.FILE_APPEND_DATA
	shareRights  = readRights | writeRights | kernel.DELETE
	readOnlyDeny = kernel.FILE_WRITE_DATA | kernel.FILE_APPEND_DATA
)

// Create opens or creates the file fo names (the file system's IRP_MJ_CREATE) for the
// requestor whose token is tok (from the create's security context; nil for a kernel-mode
// open, which is not access-checked). It returns the create result (FILE_OPENED,
// FILE_CREATED, ...) and the status. fo must be new.
func (v *Volume) Create(fo *FileObject, req CreateRequest, tok *kernel.Token) (uint64, kernel.NTSTATUS) {
	if fo == nil || fo.vol != v {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if req.Disposition > FILE_OVERWRITE_IF || req.Options&^FILE_VALID_OPTION_FLAGS != 0 ||
		req.Options&(FILE_DIRECTORY_FILE|FILE_NON_DIRECTORY_FILE) == FILE_DIRECTORY_FILE|FILE_NON_DIRECTORY_FILE ||
		req.ShareAccess&^(FILE_SHARE_READ|FILE_SHARE_WRITE|FILE_SHARE_DELETE) != 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	desired := kernel.FileGenericMapping().Map(req.DesiredAccess)
	if req.Options&FILE_DELETE_ON_CLOSE != 0 && desired&kernel.DELETE == 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if req.Options&FILE_OPEN_BY_FILE_ID != 0 {
		return 0, kernel.STATUS_NOT_SUPPORTED
	}
	pn, st := parseName(fo.FileName)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	wantDir := req.Options&FILE_DIRECTORY_FILE != 0
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo.state != foNew {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	var parent, n *fsNode
	if len(pn.comps) == 0 {
		n = v.root
	} else {
		if parent, st = v.lookupParent(pn); st != kernel.STATUS_SUCCESS {
			return 0, st
		}
		n = parent.children[key(pn.comps[len(pn.comps)-1])]
	}
	if n != nil && n.dir && pn.stream != "" {
		return 0, kernel.STATUS_OBJECT_NAME_INVALID
	}
	var s *Stream
	if n != nil {
		s = n.streams[key(pn.stream)]
	}
	info := FILE_OPENED
	if n != nil && s != nil {
		// The stream exists.
		if n.deleting || s.delete {
			return 0, kernel.STATUS_DELETE_PENDING
		}
		switch {
		case req.Disposition == FILE_CREATE:
			return 0, kernel.STATUS_OBJECT_NAME_COLLISION
		case n.dir && req.Options&FILE_NON_DIRECTORY_FILE != 0:
			return 0, kernel.STATUS_FILE_IS_A_DIRECTORY
		case !n.dir && wantDir:
			return 0, kernel.STATUS_NOT_A_DIRECTORY
		case n.dir && req.Disposition != FILE_OPEN && req.Disposition != FILE_OPEN_IF:
			return 0, kernel.STATUS_FILE_IS_A_DIRECTORY
		}
		granted, st := v.accessLocked(n, desired, tok)
		if st != kernel.STATUS_SUCCESS {
			return 0, st
		}
		if req.Options&FILE_DELETE_ON_CLOSE != 0 && (n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir || n == v.root) {
			return 0, kernel.STATUS_CANNOT_DELETE
		}
		overwrite := req.Disposition == FILE_SUPERSEDE || req.Disposition == FILE_OVERWRITE || req.Disposition == FILE_OVERWRITE_IF
		if overwrite && n.attrs&FILE_ATTRIBUTE_READONLY != 0 {
			return 0, kernel.STATUS_ACCESS_DENIED
		}
		if st := s.share.check(granted, req.ShareAccess); st != kernel.STATUS_SUCCESS {
			return 0, st
		}
		if overwrite {
			s.data = nil
			if s.name == "" {
				// Overwriting the default stream drops the named ones that are not open.
				for k, other := range n.streams {
					if other.name != "" && other.objects == 0 {
						delete(n.streams, k)
					}
				}
				if req.FileAttributes != 0 {
					n.attrs = (req.FileAttributes | FILE_ATTRIBUTE_ARCHIVE) &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
				}
			}
			info = FILE_OVERWRITTEN
			if req.Disposition == FILE_SUPERSEDE {
				info = FILE_SUPERSEDED
			}
		}
		v.openLocked(fo, s, granted, req)
		return info, kernel.STATUS_SUCCESS
	}
	// The stream does not exist.
	if req.Disposition == FILE_OPEN || req.Disposition == FILE_OVERWRITE {
		return 0, kernel.STATUS_OBJECT_NAME_NOT_FOUND
	}
	if n != nil && n.deleting {
		return 0, kernel.STATUS_DELETE_PENDING
	}
	if n != nil && wantDir {
		return 0, kernel.STATUS_NOT_A_DIRECTORY
	}
	if wantDir && pn.stream != "" {
		return 0, kernel.STATUS_OBJECT_NAME_INVALID
	}
	if tok != nil && parent.sd != nil {
		right := kernel.FILE_ADD_FILE
		if wantDir {
			right = kernel.FILE_ADD_SUBDIRECTORY
		}
		if _, st := kernel.AccessCheck(parent.sd, tok, right, kernel.FileGenericMapping()); st != kernel.STATUS_SUCCESS {
			return 0, st
		}
	}
	granted := desired
	if n != nil {
		// A new named stream of an existing file: the file's protection applies.
		if granted, st = v.accessLocked(n, desired, tok); st != kernel.STATUS_SUCCESS {
			return 0, st
		}
	} else if granted&kernel.MAXIMUM_ALLOWED != 0 {
		granted = granted&^kernel.MAXIMUM_ALLOWED | kernel.FILE_ALL_ACCESS
	}
	if n == nil {
		n = &fsNode{name: pn.comps[len(pn.comps)-1], parent: parent, id: v.newID()}
		if wantDir {
			n.dir = true
			n.children = map[string]*fsNode{}
		} else {
			n.attrs = (req.FileAttributes | FILE_ATTRIBUTE_ARCHIVE) &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
		}
		n.streams = map[string]*Stream{"": {vol: v, node: n}}
		parent.children[key(n.name)] = n
	}
	s = n.streams[key(pn.stream)]
	if s == nil {
		s = &Stream{vol: v, node: n, name: pn.stream}
		n.streams[key(pn.stream)] = s
	}
	v.openLocked(fo, s, granted, req)
	return FILE_CREATED, kernel.STATUS_SUCCESS
}

// accessLocked checks the token against the node's descriptor and attributes.
func (v *Volume) accessLocked(n *fsNode, desired kernel.AccessMask, tok *kernel.Token) (kernel.AccessMask, kernel.NTSTATUS) {
	granted := desired
	if tok != nil && n.sd != nil {
		g, st := kernel.AccessCheck(n.sd, tok, desired, kernel.FileGenericMapping())
		if st != kernel.STATUS_SUCCESS {
			return 0, st
		}
		granted = g
	} else if desired&kernel.MAXIMUM_ALLOWED != 0 {
		granted = desired&^kernel.MAXIMUM_ALLOWED | kernel.FILE_ALL_ACCESS
	}
	if n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir {
		if desired&kernel.MAXIMUM_ALLOWED != 0 {
			granted &^= readOnlyDeny
		} else if granted&readOnlyDeny != 0 {
			return 0, kernel.STATUS_ACCESS_DENIED
		}
	}
	return granted, kernel.STATUS_SUCCESS
}

// check is IoCheckShareAccess without the update.
func (sh *shareState) check(granted kernel.AccessMask, share uint32) kernel.NTSTATUS {
	r, w, d := granted&readRights != 0, granted&writeRights != 0, granted&kernel.DELETE != 0
	if !r && !w && !d {
		return kernel.STATUS_SUCCESS
	}
	sr, sw, sd := share&FILE_SHARE_READ != 0, share&FILE_SHARE_WRITE != 0, share&FILE_SHARE_DELETE != 0
	if r && sh.sharedRead < sh.open || w && sh.sharedWrite < sh.open || d && sh.sharedDelete < sh.open ||
		sh.readers != 0 && !sr || sh.writers != 0 && !sw || sh.deleters != 0 && !sd {
		return kernel.STATUS_SHARING_VIOLATION
	}
	return kernel.STATUS_SUCCESS
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (v *Volume) openLocked(fo *FileObject, s *Stream, granted kernel.AccessMask, req CreateRequest) {
	fo.stream = s
	fo.state = foOpened
	fo.granted = granted
	fo.dir = s.node.dir
	fo.ReadAccess = granted&readRights != 0
	fo.WriteAccess = granted&writeRights != 0
	fo.DeleteAccess = granted&kernel.DELETE != 0
	fo.SharedRead = req.ShareAccess&FILE_SHARE_READ != 0
	fo.SharedWrite = req.ShareAccess&FILE_SHARE_WRITE != 0
	fo.SharedDelete = req.ShareAccess&FILE_SHARE_DELETE != 0
	fo.deleteOnClose = req.Options&FILE_DELETE_ON_CLOSE != 0
	if fo.deleteOnClose {
		fo.flags.Or(FO_DELETE_ON_CLOSE)
	}
	if fo.ReadAccess || fo.WriteAccess || fo.DeleteAccess {
		fo.countsShare = true
		sh := &s.share
		sh.open++
		sh.readers += b2i(fo.ReadAccess)
		sh.writers += b2i(fo.WriteAccess)
		sh.deleters += b2i(fo.DeleteAccess)
		sh.sharedRead += b2i(fo.SharedRead)
		sh.sharedWrite += b2i(fo.SharedWrite)
		sh.sharedDelete += b2i(fo.SharedDelete)
	}
	s.handles++
	s.objects++
	s.node.handles++
}
