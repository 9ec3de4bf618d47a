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
//
// The steps, each of which may fail the create: check the parameters, parse the name and look
// it up; then either open the stream that exists (disposition, access, share access, and an
// overwrite if asked) or create the missing one (disposition, the parent's right to add,
// access); finally set up the file object.
func (v *Volume) Create(fo *FileObject, req CreateRequest, tok *kernel.Token) (uint64, kernel.NTSTATUS) {
	if fo == nil || fo.vol != v {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	desired, st := checkCreateParameters(req)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	pn, st := parseName(fo.FileName)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo.state != foNew {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	t, st := v.lookupCreateTarget(pn)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	c := &createCall{v: v, fo: fo, req: req, tok: tok, desired: desired, target: t,
		wantDir: req.Options&FILE_DIRECTORY_FILE != 0}
	if t.stream != nil {
		return c.openExisting()
	}
	return c.createMissing()
}

// checkCreateParameters validates what does not depend on the name, and returns the desired
// access with the generic rights mapped.
func checkCreateParameters(req CreateRequest) (kernel.AccessMask, kernel.NTSTATUS) {
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
	return desired, kernel.STATUS_SUCCESS
}

// createTarget is what a create's name resolves to: the parent directory (nil for the root),
// the node if it exists and the stream if it exists.
type createTarget struct {
	name   parsedName
	parent *fsNode
	node   *fsNode
	stream *Stream
}

// lookupCreateTarget resolves a parsed name; the parent directory must exist. v.mu is held.
func (v *Volume) lookupCreateTarget(pn parsedName) (createTarget, kernel.NTSTATUS) {
	t := createTarget{name: pn}
	if len(pn.comps) == 0 {
		t.node = v.root
	} else {
		parent, st := v.lookupParent(pn)
		if st != kernel.STATUS_SUCCESS {
			return t, st
		}
		t.parent = parent
		t.node = parent.children[key(pn.comps[len(pn.comps)-1])]
	}
	if t.node != nil && t.node.dir && pn.stream != "" {
		return t, kernel.STATUS_OBJECT_NAME_INVALID // directories have no named streams
	}
	if t.node != nil {
		t.stream = t.node.streams[key(pn.stream)]
	}
	return t, kernel.STATUS_SUCCESS
}

// createCall carries one create through its steps; v.mu is held throughout.
type createCall struct {
	v       *Volume
	fo      *FileObject
	req     CreateRequest
	tok     *kernel.Token
	desired kernel.AccessMask // generic rights mapped
	wantDir bool              // FILE_DIRECTORY_FILE
	target  createTarget
}

func (c *createCall) overwrite() bool {
	d := c.req.Disposition
	return d == FILE_SUPERSEDE || d == FILE_OVERWRITE || d == FILE_OVERWRITE_IF
}

// openExisting opens the stream that exists: disposition, access, share access, then the
// overwrite the disposition asks for.
func (c *createCall) openExisting() (uint64, kernel.NTSTATUS) {
	n, s := c.target.node, c.target.stream
	if st := c.checkExistingDisposition(); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	granted, st := c.v.accessLocked(n, c.desired, c.tok)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	if c.req.Options&FILE_DELETE_ON_CLOSE != 0 && (n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir || n == c.v.root) {
		return 0, kernel.STATUS_CANNOT_DELETE
	}
	if c.overwrite() && n.attrs&FILE_ATTRIBUTE_READONLY != 0 {
		return 0, kernel.STATUS_ACCESS_DENIED
	}
	if st := s.share.check(granted, c.req.ShareAccess); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	info := FILE_OPENED
	if c.overwrite() {
		info = c.overwriteLocked()
	}
	c.v.setUpFileObjectLocked(c.fo, s, granted, c.req)
	return info, kernel.STATUS_SUCCESS
}

// checkExistingDisposition fails a create whose disposition or directory option does not fit
// the existing stream.
func (c *createCall) checkExistingDisposition() kernel.NTSTATUS {
	n, s, req := c.target.node, c.target.stream, c.req
	switch {
	case n.deleting || s.delete:
		return kernel.STATUS_DELETE_PENDING
	case req.Disposition == FILE_CREATE:
		return kernel.STATUS_OBJECT_NAME_COLLISION
	case n.dir && req.Options&FILE_NON_DIRECTORY_FILE != 0:
		return kernel.STATUS_FILE_IS_A_DIRECTORY
	case !n.dir && c.wantDir:
		return kernel.STATUS_NOT_A_DIRECTORY
	case n.dir && req.Disposition != FILE_OPEN && req.Disposition != FILE_OPEN_IF:
		return kernel.STATUS_FILE_IS_A_DIRECTORY
	}
	return kernel.STATUS_SUCCESS
}

// overwriteLocked empties the stream for FILE_SUPERSEDE, FILE_OVERWRITE and FILE_OVERWRITE_IF
// and returns the create result.
func (c *createCall) overwriteLocked() uint64 {
	n, s := c.target.node, c.target.stream
	s.data = nil
	if s.name == "" {
		// Overwriting the default stream drops the named ones that are not open.
		for k, other := range n.streams {
			if other.name != "" && other.objects == 0 {
				delete(n.streams, k)
			}
		}
		if c.req.FileAttributes != 0 {
			n.attrs = newFileAttributes(c.req.FileAttributes)
		}
	}
	if c.req.Disposition == FILE_SUPERSEDE {
		return FILE_SUPERSEDED
	}
	return FILE_OVERWRITTEN
}

// newFileAttributes returns the attributes a created or overwritten file keeps.
func newFileAttributes(requested uint32) uint32 {
	return (requested | FILE_ATTRIBUTE_ARCHIVE) &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
}

// createMissing creates the stream that does not exist (and its file or directory if that
// is missing too): disposition, the parent's right to add, access.
func (c *createCall) createMissing() (uint64, kernel.NTSTATUS) {
	if st := c.checkMissingDisposition(); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	if st := c.checkAddRight(); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	granted := c.desired
	if n := c.target.node; n != nil {
		// A new named stream of an existing file: the file's protection applies.
		var st kernel.NTSTATUS
		if granted, st = c.v.accessLocked(n, c.desired, c.tok); st != kernel.STATUS_SUCCESS {
			return 0, st
		}
	} else if granted&kernel.MAXIMUM_ALLOWED != 0 {
		granted = granted&^kernel.MAXIMUM_ALLOWED | kernel.FILE_ALL_ACCESS
	}
	s := c.newStreamLocked()
	c.v.setUpFileObjectLocked(c.fo, s, granted, c.req)
	return FILE_CREATED, kernel.STATUS_SUCCESS
}

// checkMissingDisposition fails a create of a missing stream that the disposition or the
// directory option does not allow.
func (c *createCall) checkMissingDisposition() kernel.NTSTATUS {
	n, req := c.target.node, c.req
	switch {
	case req.Disposition == FILE_OPEN || req.Disposition == FILE_OVERWRITE:
		return kernel.STATUS_OBJECT_NAME_NOT_FOUND
	case n != nil && n.deleting:
		return kernel.STATUS_DELETE_PENDING
	case n != nil && c.wantDir:
		return kernel.STATUS_NOT_A_DIRECTORY
	case c.wantDir && c.target.name.stream != "":
		return kernel.STATUS_OBJECT_NAME_INVALID
	}
	return kernel.STATUS_SUCCESS
}

// checkAddRight checks that the requestor may add a file (or a subdirectory) to the parent
// directory.
func (c *createCall) checkAddRight() kernel.NTSTATUS {
	parent := c.target.parent
	if c.tok == nil || parent.sd == nil {
		return kernel.STATUS_SUCCESS
	}
	right := kernel.FILE_ADD_FILE
	if c.wantDir {
		right = kernel.FILE_ADD_SUBDIRECTORY
	}
	_, st := kernel.AccessCheck(parent.sd, c.tok, right, kernel.FileGenericMapping())
	return st
}

// newStreamLocked makes the missing node (file or directory) and stream of the target.
func (c *createCall) newStreamLocked() *Stream {
	v, pn, n := c.v, c.target.name, c.target.node
	if n == nil {
		parent := c.target.parent
		n = &fsNode{name: pn.comps[len(pn.comps)-1], parent: parent, id: v.newID()}
		if c.wantDir {
			n.dir = true
			n.children = map[string]*fsNode{}
		} else {
			n.attrs = newFileAttributes(c.req.FileAttributes)
		}
		n.streams = map[string]*Stream{"": {vol: v, node: n}}
		parent.children[key(n.name)] = n
	}
	s := n.streams[key(pn.stream)]
	if s == nil {
		s = &Stream{vol: v, node: n, name: pn.stream}
		n.streams[key(pn.stream)] = s
	}
	return s
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

// setUpFileObjectLocked is the last step of a successful create: the file object is open on s
// with the access granted and the sharing asked for, and the stream's share access counts it.
func (v *Volume) setUpFileObjectLocked(fo *FileObject, s *Stream, granted kernel.AccessMask, req CreateRequest) {
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
