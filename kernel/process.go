package kernel

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// Handle is a user-mode handle value. It means something only in the process that owns it:
// each process numbers its handles in a range of its own, so a value used in another process
// is invalid there (R-USER: CloseHandle, DuplicateHandle, process exit 1).
type Handle uintptr

// InvalidHandle is INVALID_HANDLE_VALUE.
const InvalidHandle = ^Handle(0)

// DuplicateHandle options.
const (
	DUPLICATE_CLOSE_SOURCE = 0x1
	DUPLICATE_SAME_ACCESS  = 0x2
)

// STATUS_PROCESS_IS_TERMINATING is returned for work asked of a process that has exited.
const STATUS_PROCESS_IS_TERMINATING NTSTATUS = 0xC000010A

// Process is an emulated user process: an id, an image name, an access token and a handle
// table. Handles are inserted by the subsystems that open objects (the filter manager's
// connect, a completion port, ...).
type Process struct {
	world  *World
	id     uint32
	parent uint32
	image  string
	token  *Token

	mu      sync.Mutex
	handles map[Handle]*handleEntry // the table; entries are never changed once inserted
	base    Handle                  // the start of the process's own range of handle values
	next    Handle

	// index is a lock-free copy of the table for the values of the process's own range, so
	// that the lookup every user call makes takes no lock. Written under mu.
	index  [handleChunks]atomic.Pointer[handleChunk]
	exited atomic.Bool // written under mu; Exited reads it without the lock (every overlapped Get asks)
	code   uint32
	done   chan struct{}
}

type handleEntry struct {
	obj     *Object
	access  AccessMask
	inherit bool
}

// The index covers a process's range of 1<<16 handle values, 4 apart, in chunks made when
// first needed.
const (
	handleSlotsPerChunk = 256
	handleChunks        = (1 << 16) / 4 / handleSlotsPerChunk
)

type handleChunk [handleSlotsPerChunk]atomic.Pointer[handleEntry]

// slot returns the index slot of h, nil for a value outside the process's range. With create
// (mu held) it makes the slot's chunk if needed.
func (p *Process) slot(h Handle, create bool) *atomic.Pointer[handleEntry] {
	if h <= p.base || h&3 != 0 {
		return nil
	}
	i := uint64(h-p.base) >> 2
	c := i / handleSlotsPerChunk
	if c >= handleChunks {
		return nil
	}
	ch := p.index[c].Load()
	if ch == nil {
		if !create {
			return nil
		}
		ch = new(handleChunk)
		p.index[c].Store(ch)
	}
	return &ch[i%handleSlotsPerChunk]
}

// setHandle records h → e (nil removes it) in the table and the index. mu is held.
func (p *Process) setHandle(h Handle, e *handleEntry) {
	if e == nil {
		delete(p.handles, h)
		if s := p.slot(h, false); s != nil {
			s.Store(nil)
		}
		return
	}
	p.handles[h] = e
	if s := p.slot(h, true); s != nil {
		s.Store(e)
	}
}

// HandleInfo describes one open handle, for leak reports.
type HandleInfo struct {
	Process *Process
	Handle  Handle
	Object  *Object
	Access  AccessMask
	Inherit bool
}

func (h HandleInfo) String() string {
	return fmt.Sprintf("handle %#x in %s → %s", uintptr(h.Handle), h.Process, h.Object)
}

// ID returns the process id.
func (p *Process) ID() uint32 { return p.id }

// ParentID returns the id of the process that created this one, 0 for none.
func (p *Process) ParentID() uint32 { return p.parent }

// ImageName returns the image name, e.g. "scanuser.exe".
func (p *Process) ImageName() string { return p.image }

// Token returns the process's primary access token.
func (p *Process) Token() *Token { return p.token }

// World returns the world the process lives in.
func (p *Process) World() *World { return p.world }

// String is "scanuser.exe (pid 8)".
func (p *Process) String() string { return fmt.Sprintf("%s (pid %d)", p.image, p.id) }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool { return p.exited.Load() }

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// InsertHandle opens a new handle to obj in this process. It fails with
// STATUS_PROCESS_IS_TERMINATING once the process has exited, and STATUS_INVALID_PARAMETER for
// a nil object.
func (p *Process) InsertHandle(obj *Object, access AccessMask, inherit bool) (Handle, NTSTATUS) {
	if obj == nil {
		return InvalidHandle, STATUS_INVALID_PARAMETER
	}
	p.mu.Lock()
	if p.exited.Load() {
		p.mu.Unlock()
		return InvalidHandle, STATUS_PROCESS_IS_TERMINATING
	}
	obj.addHandle()
	p.next += 4
	h := p.next
	p.setHandle(h, &handleEntry{obj: obj, access: access, inherit: inherit})
	p.mu.Unlock()
	return h, STATUS_SUCCESS
}

// ReferenceHandle returns the object a handle refers to and the access it was opened with, or
// STATUS_INVALID_HANDLE for a value this process does not own.
func (p *Process) ReferenceHandle(h Handle) (*Object, AccessMask, NTSTATUS) {
	if e := p.indexed(h); e != nil {
		return e.obj, e.access, STATUS_SUCCESS
	}
	return p.referenceSlow(h)
}

// indexed returns h's entry from the index, nil when it is not there (a value outside the
// process's own range, or not open). Small enough to inline into every user call's lookup.
func (p *Process) indexed(h Handle) *handleEntry {
	d := uint64(h - p.base) // wraps around for a value below the range
	if d == 0 || h&3 != 0 || d>>2 >= handleChunks*handleSlotsPerChunk {
		return nil
	}
	ch := p.index[d>>2/handleSlotsPerChunk].Load()
	if ch == nil {
		return nil
	}
	return ch[d>>2%handleSlotsPerChunk].Load()
}

// referenceSlow is ReferenceHandle for a value the index does not hold: an inherited handle
// outside the process's own range, or none at all.
func (p *Process) referenceSlow(h Handle) (*Object, AccessMask, NTSTATUS) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.handles[h]
	if !ok {
		return nil, 0, STATUS_INVALID_HANDLE
	}
	return e.obj, e.access, STATUS_SUCCESS
}

// CloseHandle closes h. When it was the object's last handle, in any process, the object's
// cleanup hook runs before CloseHandle returns. An unknown value is STATUS_INVALID_HANDLE.
func (p *Process) CloseHandle(h Handle) NTSTATUS {
	p.mu.Lock()
	e, ok := p.handles[h]
	if ok {
		p.setHandle(h, nil)
	}
	p.mu.Unlock()
	if !ok {
		return STATUS_INVALID_HANDLE
	}
	e.obj.dropHandle(p)
	return STATUS_SUCCESS
}

// Handles lists the process's open handles, in handle order.
func (p *Process) Handles() []HandleInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]HandleInfo, 0, len(p.handles))
	for h, e := range p.handles {
		out = append(out, HandleInfo{Process: p, Handle: h, Object: e.obj, Access: e.access, Inherit: e.inherit})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handle < out[j].Handle })
	return out
}

// Exit ends the process: every handle it holds is closed (running cleanup hooks for objects
// whose last handle it was) and later handle insertions fail. Exiting twice does nothing.
func (p *Process) Exit(code uint32) {
	p.mu.Lock()
	if p.exited.Load() {
		p.mu.Unlock()
		return
	}
	p.exited.Store(true)
	p.code = code
	hs := make([]Handle, 0, len(p.handles))
	for h := range p.handles {
		hs = append(hs, h)
	}
	p.mu.Unlock()
	sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
	for _, h := range hs {
		p.CloseHandle(h)
	}
	close(p.done)
	p.world.processExited(p)
}

// ExitCode returns the code given to Exit.
func (p *Process) ExitCode() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// DuplicateHandle emulates DuplicateHandle: it opens in dst a new handle to the object that h
// refers to in src. With DUPLICATE_SAME_ACCESS the access is copied, otherwise access must be
// a subset of the source handle's access (else STATUS_ACCESS_DENIED). With
// DUPLICATE_CLOSE_SOURCE the source handle is closed, even when the duplication fails. A nil
// process, processes of two different worlds or unknown options are STATUS_INVALID_PARAMETER.
func DuplicateHandle(src *Process, h Handle, dst *Process, access AccessMask, inherit bool, options uint32) (Handle, NTSTATUS) {
	if src == nil || dst == nil || src.world != dst.world ||
		options&^(DUPLICATE_CLOSE_SOURCE|DUPLICATE_SAME_ACCESS) != 0 {
		return InvalidHandle, STATUS_INVALID_PARAMETER
	}
	obj, granted, st := src.ReferenceHandle(h)
	if st != STATUS_SUCCESS {
		return InvalidHandle, st
	}
	if options&DUPLICATE_SAME_ACCESS != 0 {
		access = granted
	}
	var nh Handle = InvalidHandle
	if access&^granted != 0 {
		st = STATUS_ACCESS_DENIED
	} else {
		nh, st = dst.InsertHandle(obj, access, inherit)
	}
	if options&DUPLICATE_CLOSE_SOURCE != 0 {
		src.CloseHandle(h)
	}
	return nh, st
}

// inheritInto copies the parent's inheritable handles into the child, same values.
func (p *Process) inheritInto(child *Process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	child.mu.Lock()
	defer child.mu.Unlock()
	if p.exited.Load() || child.exited.Load() {
		return // nothing to inherit from a dead parent; a dead child must hold nothing
	}
	for h, e := range p.handles {
		if !e.inherit {
			continue
		}
		// The child gets the same handle value, as on Windows; its own numbering starts after
		// the parent's range.
		e.obj.addHandle()
		child.setHandle(h, &handleEntry{obj: e.obj, access: e.access, inherit: e.inherit})
		if h > child.next {
			child.next = h
		}
	}
}
