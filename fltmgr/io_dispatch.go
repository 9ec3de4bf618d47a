package fltmgr

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// ioOp is one operation travelling through a volume's instance stack: the callback data the
// minifilters see, the post-operation callbacks owed, and what the file system does at the
// bottom. It runs on the requestor's goroutine, start to end (R-IO-STACK-4).
type ioOp struct {
	m      *Manager
	vol    *fltVolume
	seq    uint64
	major  driverapi.MajorFunction
	data   *driverapi.CallbackData
	fo     *fsys.FileObject
	below  *instance   // generated I/O: only the instances below this one see it
	bottom func(*ioOp) // the file system's part: sets data.IoStatus
	stack  []*postEntry

	fastIODisallowed bool

	// mu may be held when taking instance.mu (the lock-order tree is in doc.go).
	mu        sync.Mutex
	postInst  *instance // the instance whose post-create callback is running
	cancelled bool      // FltCancelFileOpen ran
	cbInst    *instance // the instance whose callback is running, for early completions
	cbPost    bool
	early     *pendResult // a completion that came before the callback returned
	pendInst  *instance   // the instance the operation is pended in
	pendPost  bool
	pendCh    chan pendResult
}

type pendResult struct {
	status driverapi.PreopCallbackStatus
	cctx   any
}

// postEntry is a post-operation callback owed to an instance.
type postEntry struct {
	op     *ioOp
	inst   *instance
	cb     driverapi.PostOperationCallback
	cctx   any
	params driverapi.IoParameterBlock // what the instance's pre-operation callback was given
	flags  uint32                     // the callback data flags then
	seq    uint64
}

func (m *Manager) newOp(ctx context.Context, fv *fltVolume, major driverapi.MajorFunction, fo *fsys.FileObject, mode driverapi.ProcessorMode) *ioOp {
	op := &ioOp{m: m, vol: fv, major: major, fo: fo, seq: m.nextSeq()}
	op.data = newCallbackData(ctx, op)
	op.data.RequestorMode = mode
	op.data.Flags = driverapi.FLTFL_CALLBACK_DATA_IRP_OPERATION
	op.data.Iopb.MajorFunction = major
	op.data.Iopb.TargetFileObject = fo
	return op
}

func (m *Manager) nextSeq() uint64 {
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	m.io.seq++
	return m.io.seq
}

func (op *ioOp) foName() string {
	if op.fo == nil {
		return op.vol.v.Name()
	}
	return kernel.Quote(op.fo.FileName) + " on " + op.vol.v.Name()
}

func (op *ioOp) objects(inst *instance) *driverapi.RelatedObjects {
	return &driverapi.RelatedObjects{Filter: inst.fio.f, Volume: op.vol, Instance: inst, FileObject: op.fo}
}

// skips applies the FLTFL_OPERATION_REGISTRATION_SKIP_* flags of a read or write.
func (op *ioOp) skips(flags uint32) bool {
	if flags == 0 || op.major != driverapi.IRP_MJ_READ && op.major != driverapi.IRP_MJ_WRITE {
		return false
	}
	if flags&driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_NON_DASD_IO != 0 {
		return true // every emulated read and write is on a file, not a volume
	}
	if op.data.IsFastIoOperation() {
		return flags&driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO != 0
	}
	irp := op.data.Iopb.IrpFlags
	switch {
	case irp&driverapi.IRP_PAGING_IO != 0:
		return flags&driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO != 0
	case irp&driverapi.IRP_NOCACHE != 0:
		return flags&driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_NON_CACHED_NON_PAGING_IO != 0
	}
	return flags&driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO != 0
}

// run sends the operation down the stack (R-IO-STACK-1..3): pre-operation callbacks from the
// highest altitude down, the file system unless a filter completed the operation, then the
// post-operation callbacks owed, lowest altitude first.
func (op *ioOp) run() {
	insts := op.vol.list()
	start := 0
	if op.below != nil {
		for start < len(insts) && !insts[start].alt.less(op.below.alt) {
			start++
		}
	}
	completed := false
	for i := start; i < len(insts) && !completed; i++ {
		inst := insts[i]
		reg := inst.fio.ops[op.major]
		if reg == nil || op.skips(reg.Flags) || !inst.enter() {
			continue
		}
		op.data.Iopb.TargetInstance = inst
		entry := *op.data.Iopb
		st := driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
		var cctx any
		if reg.PreOperation != nil {
			var sec driverapi.IoSecurityContext
			if entry.Parameters.Create.SecurityContext != nil {
				sec = *entry.Parameters.Create.SecurityContext
			}
			op.data.Flags &^= driverapi.FLTFL_CALLBACK_DATA_DIRTY
			iopb := op.data.Iopb
			op.beginCallback(inst, false)
			st = reg.PreOperation(op.data, op.objects(inst), &cctx)
			op.keepIopb(inst, iopb)
			op.checkChanges(inst, &entry, sec)
			if r, pended := op.endCallback(inst, st == driverapi.FLT_PREOP_PENDING); pended {
				st, cctx = r.status, r.cctx
			}
		}
		completed = op.handlePre(inst, reg, st, cctx, entry)
		inst.leave()
	}
	if !completed || op.major == driverapi.IRP_MJ_CLEANUP || op.major == driverapi.IRP_MJ_CLOSE {
		if !op.fastIODisallowed {
			op.bottom(op)
		}
	}
	for j := len(op.stack) - 1; j >= 0; j-- {
		op.stack[j].run()
	}
}

func (op *ioOp) violation(inst *instance, rule kernel.RuleID, msg, windows string) {
	driver := "?"
	obj := op.foName()
	if inst != nil {
		driver = inst.fio.f.name
		obj = inst.String()
	}
	op.m.violation(kernel.Violation{Rule: rule, Driver: driver, Object: obj, Message: msg, Windows: windows})
}

// handlePre acts on a pre-operation result; it returns true when the operation stops here.
func (op *ioOp) handlePre(inst *instance, reg *driverapi.OperationRegistration, st driverapi.PreopCallbackStatus, cctx any, entry driverapi.IoParameterBlock) bool {
	switch st {
	case driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK, driverapi.FLT_PREOP_SYNCHRONIZE:
		if reg.PostOperation == nil {
			op.violation(inst, kernel.RuleIOVerify2, fmt.Sprintf("pre-operation callback for %v returned %v but no post-operation callback is registered", op.major, st),
				"an assertion on checked builds; the post-operation callback is not called")
			return false
		}
		pe := &postEntry{op: op, inst: inst, cb: reg.PostOperation, cctx: cctx, params: entry, flags: op.data.Flags, seq: op.m.nextSeq()}
		inst.mu.Lock()
		if inst.state != instGone {
			inst.posts[pe] = struct{}{}
			op.stack = append(op.stack, pe)
		}
		inst.mu.Unlock()
		return false
	case driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK:
		if cctx != nil {
			op.violation(inst, kernel.RuleIOVerify2, fmt.Sprintf("pre-operation callback for %v set a completion context but returned %v", op.major, st),
				"the completion context is never handed back: whatever it holds leaks")
		}
		return false
	case driverapi.FLT_PREOP_COMPLETE:
		s := op.data.IoStatus.Status
		switch {
		case s == kernel.STATUS_PENDING:
			op.violation(inst, kernel.RuleIOVerify4, fmt.Sprintf("%v completed by a pre-operation callback with STATUS_PENDING; the operation fails with STATUS_UNSUCCESSFUL", op.major),
				"the I/O manager waits for a completion that never comes")
			op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_UNSUCCESSFUL}
		case op.major == driverapi.IRP_MJ_CREATE && s.IsSuccess():
			op.violation(inst, kernel.RuleIOVerify4, "IRP_MJ_CREATE completed with success by a pre-operation callback: the file system never opened the file; the open fails with STATUS_UNSUCCESSFUL",
				"the requestor gets a handle to a file object no file system owns")
			op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_UNSUCCESSFUL}
		case op.major == driverapi.IRP_MJ_CLEANUP || op.major == driverapi.IRP_MJ_CLOSE:
			op.violation(inst, kernel.RuleIOVerify4, fmt.Sprintf("%v completed by a pre-operation callback: the file system never sees it (the emulator sends it anyway)", op.major),
				"share access, delete-on-close and the file object leak in the file system")
		}
		return true
	case driverapi.FLT_PREOP_DISALLOW_FASTIO:
		if op.data.IsFastIoOperation() {
			op.fastIODisallowed = true
			op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_FLT_DISALLOW_FAST_IO}
			return true
		}
		op.violation(inst, kernel.RuleIOVerify1, fmt.Sprintf("pre-operation callback returned FLT_PREOP_DISALLOW_FASTIO for an IRP-based %v", op.major),
			"an assertion on checked builds; the operation continues as FLT_PREOP_SUCCESS_NO_CALLBACK")
		return false
	}
	op.violation(inst, kernel.RuleIOVerify1, fmt.Sprintf("pre-operation callback for %v returned the invalid status %v; the operation fails with STATUS_UNSUCCESSFUL", op.major, st),
		"undefined behaviour (a bugcheck under Driver Verifier)")
	op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_UNSUCCESSFUL}
	return true
}

// keepIopb puts back the parameter block a callback replaced (Data->Iopb is not the
// driver's to change).
func (op *ioOp) keepIopb(inst *instance, iopb *driverapi.IoParameterBlock) {
	if op.data.Iopb == iopb {
		return
	}
	op.violation(inst, kernel.RuleIOVerify3, fmt.Sprintf("a callback replaced Data.Iopb of %v; the emulator put it back", op.major),
		"the filter manager keeps using its own parameter block: a corruption or a bugcheck")
	op.data.Iopb = iopb
}

// checkChanges enforces R-IO-STACK-5: parameters changed without FltSetCallbackDataDirty are
// ignored (and reported); a redirection to another instance or file object is not emulated.
func (op *ioOp) checkChanges(inst *instance, entry *driverapi.IoParameterBlock, sec driverapi.IoSecurityContext) {
	cur := op.data.Iopb
	secChanged := entry.Parameters.Create.SecurityContext != nil && *entry.Parameters.Create.SecurityContext != sec
	if iopbEqual(cur, entry) && !secChanged {
		return
	}
	dirty := op.data.Flags&driverapi.FLTFL_CALLBACK_DATA_DIRTY != 0
	restore := func() {
		*op.data.Iopb = *entry
		if secChanged {
			*entry.Parameters.Create.SecurityContext = sec
		}
	}
	if !dirty {
		op.violation(inst, kernel.RuleIOVerify3, fmt.Sprintf("pre-operation callback changed the %v parameters without FltSetCallbackDataDirty; the change is ignored", op.major),
			"the filter manager ignores the change")
		restore()
		return
	}
	if cur.TargetInstance != entry.TargetInstance || cur.TargetFileObject != entry.TargetFileObject ||
		cur.MajorFunction != entry.MajorFunction || cur.MinorFunction != entry.MinorFunction {
		op.violation(inst, kernel.RuleIOVerify3, "pre-operation callback redirected the operation (target instance, file object or function); not emulated, the change is ignored",
			"the operation goes to the new target")
		restore()
	}
}

func sliceID(b []byte) (uintptr, int) { return uintptr(unsafe.Pointer(unsafe.SliceData(b))), len(b) }

func sameSlice(a, b []byte) bool {
	pa, la := sliceID(a)
	pb, lb := sliceID(b)
	return pa == pb && la == lb
}

func sameAny(a, b any) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if ta == nil {
		return true
	}
	if ta.Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

func iopbEqual(a, b *driverapi.IoParameterBlock) bool {
	if a.IrpFlags != b.IrpFlags || a.MajorFunction != b.MajorFunction || a.MinorFunction != b.MinorFunction ||
		a.OperationFlags != b.OperationFlags || a.TargetFileObject != b.TargetFileObject || a.TargetInstance != b.TargetInstance {
		return false
	}
	pa, pb := &a.Parameters, &b.Parameters
	ca, cb := &pa.Create, &pb.Create
	if ca.SecurityContext != cb.SecurityContext || ca.Options != cb.Options || ca.FileAttributes != cb.FileAttributes ||
		ca.ShareAccess != cb.ShareAccess || ca.EaLength != cb.EaLength || !sameSlice(ca.EaBuffer, cb.EaBuffer) ||
		ca.AllocationSize != cb.AllocationSize {
		return false
	}
	if pa.Read.Length != pb.Read.Length || pa.Read.Key != pb.Read.Key || pa.Read.ByteOffset != pb.Read.ByteOffset ||
		!sameSlice(pa.Read.ReadBuffer, pb.Read.ReadBuffer) {
		return false
	}
	if pa.Write.Length != pb.Write.Length || pa.Write.Key != pb.Write.Key || pa.Write.ByteOffset != pb.Write.ByteOffset ||
		!sameSlice(pa.Write.WriteBuffer, pb.Write.WriteBuffer) {
		return false
	}
	qa, qb := &pa.QueryFileInformation, &pb.QueryFileInformation
	if qa.Length != qb.Length || qa.FileInformationClass != qb.FileInformationClass || !sameAny(qa.InfoBuffer, qb.InfoBuffer) {
		return false
	}
	sa, sb := &pa.SetFileInformation, &pb.SetFileInformation
	if sa.Length != sb.Length || sa.FileInformationClass != sb.FileInformationClass || sa.ParentOfTarget != sb.ParentOfTarget ||
		sa.ReplaceIfExists != sb.ReplaceIfExists || !sameAny(sa.InfoBuffer, sb.InfoBuffer) {
		return false
	}
	fa, fb := &pa.FileSystemControl, &pb.FileSystemControl
	if fa.Common != fb.Common || fa.InputBufferLength != fb.InputBufferLength || fa.OutputBufferLength != fb.OutputBufferLength ||
		!sameSlice(fa.InputBuffer, fb.InputBuffer) || !sameSlice(fa.OutputBuffer, fb.OutputBuffer) {
		return false
	}
	da, db := &pa.DeviceIoControl, &pb.DeviceIoControl
	return da.IoControlCode == db.IoControlCode && da.InputBufferLength == db.InputBufferLength &&
		da.OutputBufferLength == db.OutputBufferLength && sameSlice(da.InputBuffer, db.InputBuffer) &&
		sameSlice(da.OutputBuffer, db.OutputBuffer)
}

// run calls the post-operation callback on the operation's goroutine, unless a teardown
// drained it already.
func (pe *postEntry) run() {
	inst := pe.inst
	inst.mu.Lock()
	_, owed := inst.posts[pe]
	if owed {
		delete(inst.posts, pe)
		inst.active++
	}
	inst.mu.Unlock()
	if !owed {
		return
	}
	op := pe.op
	*op.data.Iopb = pe.params
	before := op.data.IoStatus.Status
	if op.major == driverapi.IRP_MJ_CREATE {
		op.mu.Lock()
		op.postInst = inst
		op.mu.Unlock()
	}
	iopb := op.data.Iopb
	op.beginCallback(inst, true)
	restore := op.m.world.IRQLs().Raise(postOpIRQL(op.major))
	st := pe.cb(op.data, op.objects(inst), pe.cctx, 0)
	restore()
	op.keepIopb(inst, iopb)
	if _, pended := op.endCallback(inst, st == driverapi.FLT_POSTOP_MORE_PROCESSING_REQUIRED); pended {
		st = driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if op.major == driverapi.IRP_MJ_CREATE {
		op.mu.Lock()
		op.postInst = nil
		cancelled := op.cancelled
		op.mu.Unlock()
		after := op.data.IoStatus.Status
		switch {
		case !before.IsSuccess() && after.IsSuccess():
			op.violation(inst, kernel.RuleIOVerify5, fmt.Sprintf("post-create turned the failed open (%v) into %v; the failure stands", before, after),
				"the requestor gets a handle to a file object the file system never opened")
			op.data.IoStatus = driverapi.IoStatusBlock{Status: before}
		case before.IsSuccess() && !after.IsSuccess() && !cancelled:
			op.violation(inst, kernel.RuleIOVerify5, fmt.Sprintf("post-create failed a successful open with %v without FltCancelFileOpen; the emulator cancelled it", after),
				"the file stays open in the file system: its handle count and share access leak")
			op.m.cancelOpen(op, inst)
		case cancelled && after.IsSuccess():
			op.violation(inst, kernel.RuleIOVerify5, "post-create called FltCancelFileOpen but left a success status; the open fails with STATUS_ACCESS_DENIED",
				"the requestor gets a handle to a closed file object")
			op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		}
	}
	if st != driverapi.FLT_POSTOP_FINISHED_PROCESSING {
		op.violation(inst, kernel.RuleIOVerify6, fmt.Sprintf("post-operation callback for %v returned the invalid status %v", op.major, st),
			"undefined behaviour; the emulator treats it as FLT_POSTOP_FINISHED_PROCESSING")
	}
	inst.leave()
}

// call runs a drained post-operation callback on the teardown's goroutine. It gets a copy of
// the callback data with the parameters the instance saw and no completion status.
func (pe *postEntry) call(flags driverapi.PostOperationFlags) {
	op := pe.op
	d := newCallbackData(op.data.Context(), op)
	d.Flags = pe.flags
	d.RequestorMode = op.data.RequestorMode
	params := pe.params
	d.Iopb = &params
	restore := op.m.world.IRQLs().Raise(postOpIRQL(op.major))
	st := pe.cb(d, op.objects(pe.inst), pe.cctx, flags)
	restore()
	if st != driverapi.FLT_POSTOP_FINISHED_PROCESSING {
		op.violation(pe.inst, kernel.RuleIOVerify6, fmt.Sprintf("draining post-operation callback for %v returned %v", op.major, st),
			"a draining post-operation callback must return FLT_POSTOP_FINISHED_PROCESSING")
	}
}

// beginCallback records that a callback of inst runs for the operation, so that a
// FltCompletePended*Operation racing with its return (from a work item, say) is kept.
func (op *ioOp) beginCallback(inst *instance, post bool) {
	op.mu.Lock()
	op.cbInst, op.cbPost, op.early = inst, post, nil
	op.mu.Unlock()
}

// endCallback ends the callback. When it pended the operation, endCallback returns the
// completion: the one that came early, or else it blocks until the filter completes the
// operation with FltCompletePendedPreOperation (or FltCompletePendedPostOperation) or a
// teardown does. The instance's callback count is released while it waits; the completer
// takes it again for the operation. A completion that came for a callback that did not pend
// is reported (R-IO-VERIFY-7).
func (op *ioOp) endCallback(inst *instance, pends bool) (pendResult, bool) {
	op.mu.Lock()
	early := op.early
	op.cbInst, op.early = nil, nil
	if !pends || early != nil {
		op.mu.Unlock()
		if early != nil && !pends {
			op.violation(inst, kernel.RuleIOVerify7, fmt.Sprintf("FltCompletePended*Operation called for %v while the callback did not pend it", op.major),
				"the operation completes twice: a bugcheck")
		}
		if early != nil && pends {
			return *early, true
		}
		return pendResult{}, false
	}
	ch := make(chan pendResult, 1)
	op.pendInst, op.pendCh = inst, ch
	op.pendPost = op.cbPost
	inst.mu.Lock()
	inst.pends[op] = struct{}{}
	inst.active--
	if inst.active == 0 && inst.idle != nil {
		close(inst.idle)
		inst.idle = nil
	}
	inst.mu.Unlock()
	op.mu.Unlock()
	return <-ch, true
}

// completePended hands a result to a pended operation (or to the callback about to pend it);
// false if the operation is not pended.
func (op *ioOp) completePended(post bool, r pendResult) bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	inst, ch := op.pendInst, op.pendCh
	if inst == nil {
		if op.cbInst != nil && op.cbPost == post && op.early == nil {
			op.early = &r
			return true
		}
		return false
	}
	if op.pendPost != post {
		return false
	}
	op.pendInst, op.pendCh = nil, nil
	inst.mu.Lock()
	delete(inst.pends, op)
	inst.active++
	inst.mu.Unlock()
	ch <- r // buffered: never blocks
	return true
}

// forceComplete completes a pended operation at teardown: a pended pre-operation completes
// with STATUS_CANCELLED, a pended post-operation finishes. It returns false if the operation
// was completed meanwhile.
func (op *ioOp) forceComplete() bool {
	op.mu.Lock()
	inst, ch, post := op.pendInst, op.pendCh, op.pendPost
	if inst == nil {
		op.mu.Unlock()
		return false
	}
	op.pendInst, op.pendCh = nil, nil
	inst.mu.Lock()
	inst.active++
	inst.mu.Unlock()
	op.mu.Unlock()
	if !post {
		op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_CANCELLED}
	}
	ch <- pendResult{status: driverapi.FLT_PREOP_COMPLETE}
	return true
}

// completePendedPreOperation emulates FltCompletePendedPreOperation. Completing an operation
// that is not pended in a pre-operation callback is reported (R-IO-VERIFY-7).
func (m *Manager) completePendedPreOperation(data *driverapi.CallbackData, status driverapi.PreopCallbackStatus, completionContext any) {
	op, ok := m.opOf(data)
	if !ok || !op.completePended(false, pendResult{status: status, cctx: completionContext}) {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify7, Driver: driverOf(data), Object: "callback data",
			Message: "FltCompletePendedPreOperation on an operation that is not pended in a pre-operation callback",
			Windows: "a bugcheck"})
	}
}

// completePendedPostOperation emulates FltCompletePendedPostOperation.
func (m *Manager) completePendedPostOperation(data *driverapi.CallbackData) {
	op, ok := m.opOf(data)
	if !ok || !op.completePended(true, pendResult{status: driverapi.FLT_PREOP_COMPLETE}) {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify7, Driver: driverOf(data), Object: "callback data",
			Message: "FltCompletePendedPostOperation on an operation that is not pended in a post-operation callback",
			Windows: "a bugcheck"})
	}
}

// driverOf names the filter whose instance the callback data is at, for reports.
func driverOf(data *driverapi.CallbackData) string {
	if data != nil && data.Iopb != nil {
		if i, ok := data.Iopb.TargetInstance.(*instance); ok && i != nil {
			return i.fio.f.name
		}
	}
	return "?"
}

// newCallbackData makes the FLT_CALLBACK_DATA of op, on the thread of ctx.
func newCallbackData(ctx context.Context, op *ioOp) *driverapi.CallbackData {
	return drvhost.NewCallbackData(ctx, op).(*driverapi.CallbackData)
}

func (m *Manager) opOf(data *driverapi.CallbackData) (*ioOp, bool) {
	if data == nil {
		return nil, false
	}
	op, ok := drvhost.CallbackDataOwner(data).(*ioOp)
	if !ok || op == nil || op.m != m {
		return nil, false
	}
	return op, true
}

// setCallbackDataDirty emulates FltSetCallbackDataDirty.
func (m *Manager) setCallbackDataDirty(data *driverapi.CallbackData) {
	if data != nil {
		data.Flags |= driverapi.FLTFL_CALLBACK_DATA_DIRTY
	}
}

// clearCallbackDataDirty emulates FltClearCallbackDataDirty.
func (m *Manager) clearCallbackDataDirty(data *driverapi.CallbackData) {
	if data != nil {
		data.Flags &^= driverapi.FLTFL_CALLBACK_DATA_DIRTY
	}
}

// isCallbackDataDirty emulates FltIsCallbackDataDirty.
func (m *Manager) isCallbackDataDirty(data *driverapi.CallbackData) bool {
	return data != nil && data.Flags&driverapi.FLTFL_CALLBACK_DATA_DIRTY != 0
}

// getRequestorProcess emulates FltGetRequestorProcess: the process of the thread that asked
// for the operation; nil for the System process (kernel-generated I/O without a thread).
func (m *Manager) getRequestorProcess(data *driverapi.CallbackData) *kernel.Process {
	if data == nil || data.Thread == nil {
		return nil
	}
	return data.Thread.Process
}

// getRequestorProcessId emulates FltGetRequestorProcessId (4, the System process, for I/O
// without a requestor process).
func (m *Manager) getRequestorProcessId(data *driverapi.CallbackData) uint32 {
	if p := m.getRequestorProcess(data); p != nil {
		return p.ID()
	}
	return 4
}
