package fltmgr

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// fltContext is a minifilter context. Its references: AllocateContext, GetXxxContext and
// ReferenceContext add one, ReleaseContext drops one, and the link to an object (a stream
// handle, a stream, an instance) holds one. When the count reaches zero the registration's
// cleanup callback runs, on the goroutine that dropped the last reference, and the context is
// freed (R-IO-CTX-1).
type fltContext struct {
	fio  *filterIO
	typ  driverapi.ContextType
	reg  *driverapi.ContextRegistration
	id   uint64
	refs atomic.Int32

	mu   sync.Mutex
	data any
	// The link: written with the owner instance's mu and then mu held (in that order), so
	// either lock is enough to read it.
	owner  *instance
	key    any
	linked bool // was ever linked (a deleted context cannot be linked again)
}

// setOwner records the link; the instance's mu is held.
func (c *fltContext) setOwner(inst *instance, key any) {
	c.mu.Lock()
	c.owner, c.key = inst, key
	if inst != nil {
		c.linked = true
	}
	c.mu.Unlock()
}

// ContextType returns the type the context was allocated as.
func (c *fltContext) ContextType() driverapi.ContextType { return c.typ }

// Data returns the driver's value.
func (c *fltContext) Data() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data
}

// SetData stores the driver's value.
func (c *fltContext) SetData(v any) {
	c.mu.Lock()
	c.data = v
	c.mu.Unlock()
}

func (c *fltContext) String() string {
	return fmt.Sprintf("%v #%d of %q", c.typ, c.id, c.fio.f.name)
}

func (m *Manager) asContext(c driverapi.FltContext) (*fltContext, bool) {
	fc, ok := c.(*fltContext)
	if !ok || fc == nil || fc.fio.f.m != m {
		return nil, false
	}
	return fc, true
}

// allocateContext emulates FltAllocateContext (R-IO-CTX-1). The type must have a context
// registration whose size fits (exactly, or no larger with
// FLTFL_CONTEXT_REGISTRATION_NO_EXACT_SIZE_MATCH, or any with FLT_VARIABLE_SIZED_CONTEXTS),
// else STATUS_FLT_CONTEXT_ALLOCATION_NOT_FOUND. A filter being unregistered gets
// STATUS_FLT_DELETING_OBJECT.
func (m *Manager) allocateContext(fi driverapi.Filter, contextType driverapi.ContextType, size uintptr, poolType driverapi.PoolType) (driverapi.FltContext, kernel.NTSTATUS) {
	f, ok := m.asFilter(fi)
	if !ok || size == 0 {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	fio := m.filterIO(f)
	fio.mu.Lock()
	defer fio.mu.Unlock()
	if fio.gone || f.isUnregistered() {
		return nil, kernel.STATUS_FLT_DELETING_OBJECT
	}
	var reg *driverapi.ContextRegistration
	for k := range fio.ctxReg {
		r := &fio.ctxReg[k]
		if r.ContextType != contextType {
			continue
		}
		if r.Size == driverapi.FLT_VARIABLE_SIZED_CONTEXTS || size == r.Size ||
			r.Flags&driverapi.FLTFL_CONTEXT_REGISTRATION_NO_EXACT_SIZE_MATCH != 0 && size <= r.Size {
			reg = r
			break
		}
	}
	if reg == nil {
		return nil, kernel.STATUS_FLT_CONTEXT_ALLOCATION_NOT_FOUND
	}
	c := &fltContext{fio: fio, typ: contextType, reg: reg, id: m.nextSeq()}
	c.refs.Store(1)
	fio.contexts[c] = struct{}{}
	return c, kernel.STATUS_SUCCESS
}

// referenceContext emulates FltReferenceContext.
func (m *Manager) referenceContext(ci driverapi.FltContext) {
	c, ok := m.asContext(ci)
	if !ok {
		m.badContext(ci, "FltReferenceContext on something that is not a context")
		return
	}
	for {
		n := c.refs.Load()
		if n <= 0 {
			m.violation(kernel.Violation{Rule: kernel.RuleIOVerify8, Driver: c.fio.f.name, Object: c.String(),
				Message: "FltReferenceContext on a context already freed", Windows: "use after free: a bugcheck"})
			return
		}
		if c.refs.CompareAndSwap(n, n+1) {
			return
		}
	}
}

// releaseContext emulates FltReleaseContext. Releasing more references than were taken is
// reported (R-IO-VERIFY-8).
func (m *Manager) releaseContext(ci driverapi.FltContext) {
	c, ok := m.asContext(ci)
	if !ok {
		m.badContext(ci, "FltReleaseContext on something that is not a context")
		return
	}
	m.release(c)
}

func (m *Manager) badContext(ci driverapi.FltContext, msg string) {
	m.violation(kernel.Violation{Rule: kernel.RuleIOVerify8, Driver: "?", Object: fmt.Sprintf("%v", ci), Message: msg, Windows: "a bugcheck"})
}

func (m *Manager) release(c *fltContext) {
	for {
		n := c.refs.Load()
		if n <= 0 {
			m.violation(kernel.Violation{Rule: kernel.RuleIOVerify8, Driver: c.fio.f.name, Object: c.String(),
				Message: "FltReleaseContext on a context with no reference left (released too often)",
				Windows: "the context is freed twice: a bugcheck"})
			return
		}
		if !c.refs.CompareAndSwap(n, n-1) {
			continue
		}
		if n-1 > 0 {
			return
		}
		break
	}
	c.fio.mu.Lock()
	delete(c.fio.contexts, c)
	c.fio.mu.Unlock()
	if cb := c.reg.ContextCleanupCallback; cb != nil {
		cb(c, c.typ)
	}
}

// ---- linking ----

func (inst *instance) ctxMapLocked(kind driverapi.ContextType) (get func(key any) *fltContext, put func(key any, c *fltContext), del func(key any)) {
	switch kind {
	case driverapi.FLT_STREAMHANDLE_CONTEXT:
		return func(k any) *fltContext { return inst.shCtx[k.(*fsys.FileObject)] },
			func(k any, c *fltContext) { inst.shCtx[k.(*fsys.FileObject)] = c },
			func(k any) { delete(inst.shCtx, k.(*fsys.FileObject)) }
	case driverapi.FLT_STREAM_CONTEXT:
		return func(k any) *fltContext { return inst.sCtx[k.(*fsys.Stream)] },
			func(k any, c *fltContext) { inst.sCtx[k.(*fsys.Stream)] = c },
			func(k any) { delete(inst.sCtx, k.(*fsys.Stream)) }
	}
	return func(any) *fltContext { return inst.instCtx },
		func(_ any, c *fltContext) { inst.instCtx = c },
		func(any) { inst.instCtx = nil }
}

// contextTarget resolves the instance and the object key of a stream-handle or stream
// context routine.
func (m *Manager) contextTarget(instance driverapi.Instance, fo *fsys.FileObject, kind driverapi.ContextType) (*instance, any, kernel.NTSTATUS) {
	inst, ok := m.asInstance(instance)
	if !ok {
		return nil, nil, kernel.STATUS_INVALID_PARAMETER
	}
	switch kind {
	case driverapi.FLT_INSTANCE_CONTEXT:
		return inst, nil, kernel.STATUS_SUCCESS
	}
	if fo == nil || fo.Volume() != inst.vol.v {
		return nil, nil, kernel.STATUS_INVALID_PARAMETER
	}
	s := fo.Stream()
	if s == nil {
		return nil, nil, kernel.STATUS_NOT_SUPPORTED // not opened yet: a pre-create
	}
	if fo.IsClosed() {
		return nil, nil, kernel.STATUS_FLT_DELETING_OBJECT
	}
	if kind == driverapi.FLT_STREAM_CONTEXT {
		return inst, s, kernel.STATUS_SUCCESS
	}
	return inst, fo, kernel.STATUS_SUCCESS
}

func (m *Manager) setContext(instance driverapi.Instance, fo *fsys.FileObject, kind driverapi.ContextType,
	op driverapi.SetContextOperation, newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	if oldContext != nil {
		*oldContext = nil
	}
	inst, key, st := m.contextTarget(instance, fo, kind)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	c, ok := m.asContext(newContext)
	if !ok || c.typ != kind || c.fio != inst.fio ||
		op != driverapi.FLT_SET_CONTEXT_REPLACE_IF_EXISTS && op != driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS {
		return kernel.STATUS_INVALID_PARAMETER
	}
	if c.refs.Load() <= 0 {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify8, Driver: c.fio.f.name, Object: c.String(),
			Message: "setting a context that was already freed", Windows: "use after free: a bugcheck"})
		return kernel.STATUS_INVALID_PARAMETER
	}
	inst.mu.Lock()
	if inst.state == instTearingDown || inst.state == instGone {
		inst.mu.Unlock()
		return kernel.STATUS_FLT_DELETING_OBJECT
	}
	c.mu.Lock()
	linked := c.linked
	c.mu.Unlock()
	if linked {
		inst.mu.Unlock()
		return kernel.STATUS_FLT_CONTEXT_ALREADY_LINKED
	}
	get, put, del := inst.ctxMapLocked(kind)
	existing := get(key)
	if existing != nil && op == driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS {
		if oldContext != nil {
			existing.refs.Add(1)
			*oldContext = existing
		}
		inst.mu.Unlock()
		return kernel.STATUS_FLT_CONTEXT_ALREADY_DEFINED
	}
	if existing != nil {
		del(key)
		existing.setOwner(nil, nil)
	}
	c.refs.Add(1)
	c.setOwner(inst, key)
	put(key, c)
	inst.mu.Unlock()
	if existing != nil {
		if oldContext != nil {
			*oldContext = existing // the link's reference goes to the caller
		} else {
			m.release(existing)
		}
	}
	return kernel.STATUS_SUCCESS
}

func (m *Manager) getContext(instance driverapi.Instance, fo *fsys.FileObject, kind driverapi.ContextType) (driverapi.FltContext, kernel.NTSTATUS) {
	inst, key, st := m.contextTarget(instance, fo, kind)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	get, _, _ := inst.ctxMapLocked(kind)
	c := get(key)
	if c == nil {
		return nil, kernel.STATUS_NOT_FOUND
	}
	c.refs.Add(1)
	return c, kernel.STATUS_SUCCESS
}

func (m *Manager) deleteContextAt(instance driverapi.Instance, fo *fsys.FileObject, kind driverapi.ContextType, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	if oldContext != nil {
		*oldContext = nil
	}
	inst, key, st := m.contextTarget(instance, fo, kind)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	inst.mu.Lock()
	get, _, del := inst.ctxMapLocked(kind)
	c := get(key)
	if c == nil {
		inst.mu.Unlock()
		return kernel.STATUS_NOT_FOUND
	}
	del(key)
	c.setOwner(nil, nil)
	inst.mu.Unlock()
	if oldContext != nil {
		*oldContext = c
	} else {
		m.release(c)
	}
	return kernel.STATUS_SUCCESS
}

// deleteContext emulates FltDeleteContext: the context is unlinked from its object and the
// link's reference dropped; a context that is not linked is left alone.
func (m *Manager) deleteContext(ci driverapi.FltContext) {
	c, ok := m.asContext(ci)
	if !ok {
		m.badContext(ci, "FltDeleteContext on something that is not a context")
		return
	}
	for {
		c.mu.Lock()
		o := c.owner
		c.mu.Unlock()
		if o == nil {
			return
		}
		o.mu.Lock()
		c.mu.Lock()
		same, key := c.owner == o, c.key
		c.mu.Unlock()
		if !same {
			o.mu.Unlock()
			continue
		}
		_, _, del := o.ctxMapLocked(c.typ)
		del(key)
		c.setOwner(nil, nil)
		o.mu.Unlock()
		m.release(c)
		return
	}
}

// setStreamHandleContext emulates FltSetStreamHandleContext (R-IO-CTX-2). The file object
// must be open on the instance's volume (in a pre-create it is not: STATUS_NOT_SUPPORTED).
func (m *Manager) setStreamHandleContext(instance driverapi.Instance, fileObject *fsys.FileObject, operation driverapi.SetContextOperation,
	newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return m.setContext(instance, fileObject, driverapi.FLT_STREAMHANDLE_CONTEXT, operation, newContext, oldContext)
}

// getStreamHandleContext emulates FltGetStreamHandleContext: the context, referenced, or
// STATUS_NOT_FOUND.
func (m *Manager) getStreamHandleContext(instance driverapi.Instance, fileObject *fsys.FileObject) (driverapi.FltContext, kernel.NTSTATUS) {
	return m.getContext(instance, fileObject, driverapi.FLT_STREAMHANDLE_CONTEXT)
}

// deleteStreamHandleContext emulates FltDeleteStreamHandleContext.
func (m *Manager) deleteStreamHandleContext(instance driverapi.Instance, fileObject *fsys.FileObject, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return m.deleteContextAt(instance, fileObject, driverapi.FLT_STREAMHANDLE_CONTEXT, oldContext)
}

// setStreamContext emulates FltSetStreamContext (R-IO-CTX-3): one context per instance and
// stream, shared by every file object open on the stream.
func (m *Manager) setStreamContext(instance driverapi.Instance, fileObject *fsys.FileObject, operation driverapi.SetContextOperation,
	newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return m.setContext(instance, fileObject, driverapi.FLT_STREAM_CONTEXT, operation, newContext, oldContext)
}

// getStreamContext emulates FltGetStreamContext.
func (m *Manager) getStreamContext(instance driverapi.Instance, fileObject *fsys.FileObject) (driverapi.FltContext, kernel.NTSTATUS) {
	return m.getContext(instance, fileObject, driverapi.FLT_STREAM_CONTEXT)
}

// deleteStreamContext emulates FltDeleteStreamContext.
func (m *Manager) deleteStreamContext(instance driverapi.Instance, fileObject *fsys.FileObject, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return m.deleteContextAt(instance, fileObject, driverapi.FLT_STREAM_CONTEXT, oldContext)
}

// setInstanceContext emulates FltSetInstanceContext (it may be called from InstanceSetup).
func (m *Manager) setInstanceContext(instance driverapi.Instance, operation driverapi.SetContextOperation,
	newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return m.setContext(instance, nil, driverapi.FLT_INSTANCE_CONTEXT, operation, newContext, oldContext)
}

// getInstanceContext emulates FltGetInstanceContext.
func (m *Manager) getInstanceContext(instance driverapi.Instance) (driverapi.FltContext, kernel.NTSTATUS) {
	return m.getContext(instance, nil, driverapi.FLT_INSTANCE_CONTEXT)
}

// deleteInstanceContext emulates FltDeleteInstanceContext.
func (m *Manager) deleteInstanceContext(instance driverapi.Instance, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return m.deleteContextAt(instance, nil, driverapi.FLT_INSTANCE_CONTEXT, oldContext)
}

// ---- lifetime ----

// dropHandleContexts ends the stream-handle contexts of a file object that closed (or whose
// open failed), in every instance of its volume.
func (m *Manager) dropHandleContexts(fo *fsys.FileObject) {
	if fv := m.volumeOf(fo.Volume()); fv != nil {
		dropContexts(m, fv, func(i *instance) map[*fsys.FileObject]*fltContext { return i.shCtx }, fo)
	}
}

// dropStreamContexts ends the stream contexts of a stream whose last file object closed.
func (m *Manager) dropStreamContexts(fv *fltVolume, s *fsys.Stream) {
	dropContexts(m, fv, func(i *instance) map[*fsys.Stream]*fltContext { return i.sCtx }, s)
}

// dropContexts removes, in every instance of fv, the context kept under key in the map that
// pick returns (read with the instance's lock held), and releases the contexts removed.
func dropContexts[K comparable](m *Manager, fv *fltVolume, pick func(*instance) map[K]*fltContext, key K) {
	m.io.mu.Lock()
	insts := append([]*instance(nil), fv.all...)
	m.io.mu.Unlock()
	var drop []*fltContext
	for _, i := range insts {
		i.mu.Lock()
		ctxs := pick(i)
		if c := ctxs[key]; c != nil {
			delete(ctxs, key)
			c.setOwner(nil, nil)
			drop = append(drop, c)
		}
		i.mu.Unlock()
	}
	for _, c := range drop {
		m.release(c)
	}
}

// freeInstanceContexts unlinks every context of an instance that is gone (teardown, refused
// setup), in a fixed order: stream-handle, stream, then the instance context.
func (m *Manager) freeInstanceContexts(inst *instance) {
	inst.mu.Lock()
	var drop []*fltContext
	for fo, c := range inst.shCtx {
		delete(inst.shCtx, fo)
		drop = append(drop, c)
	}
	var streams []*fltContext
	for s, c := range inst.sCtx {
		delete(inst.sCtx, s)
		streams = append(streams, c)
	}
	sort.Slice(drop, func(a, b int) bool { return drop[a].id < drop[b].id })
	sort.Slice(streams, func(a, b int) bool { return streams[a].id < streams[b].id })
	drop = append(drop, streams...)
	if inst.instCtx != nil {
		drop = append(drop, inst.instCtx)
		inst.instCtx = nil
	}
	for _, c := range drop {
		c.setOwner(nil, nil)
	}
	inst.mu.Unlock()
	for _, c := range drop {
		m.release(c)
	}
}
