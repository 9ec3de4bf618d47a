package harness

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/kernel"
)

// Object type names of the handles the harness opens.
const (
	TypeFilterConnectionPort = "FilterConnectionPort"
	TypeIoCompletion         = "IoCompletion"
)

// Process is a user process of a harness world: it owns handles and makes the fltlib and
// Win32 calls a user-mode service makes. Its methods return HRESULTs (fltlib) or Win32 errors
// (kernel32) exactly as the real functions do, so C user-mode code ports line by line.
type Process struct {
	w      *World
	k      *kernel.Process
	thread context.Context // the main thread's: made once, as every call needs it

	ioMu    sync.Mutex
	ioFiles map[*portFile]struct{} // connections this process issued Gets on, for Exit

	allowOpen atomic.Bool // AllowOpenHandles
}

// AllowOpenHandles lets the process still hold handles when the test ends: the teardown's
// exit closes them without a report (see [World.AllowOpenHandles] for every process).
// Without it, a handle the test neither closed nor ended with [Process.Exit] fails the test,
// as a leak.
func (p *Process) AllowOpenHandles() { p.allowOpen.Store(true) }

// Kernel returns the kernel process (id, image name, token, handle table).
func (p *Process) Kernel() *kernel.Process { return p.k }

// ID returns the process id.
func (p *Process) ID() uint32 { return p.k.ID() }

// String is "image.exe (pid N)".
func (p *Process) String() string { return p.k.String() }

// World returns the world the process lives in.
func (p *Process) World() *World { return p.w }

// Exit ends the process: every handle it holds closes, which ends the connections whose last
// handle it held (R-USER: process exit 3).
//
// The FilterGetMessage requests the process issued are cancelled too (ERROR_OPERATION_ABORTED),
// even on a connection that lives on through a handle duplicated into another process: on
// Windows a terminating thread's pending I/O is cancelled, so a dead process never receives a
// message (which would be lost).
func (p *Process) Exit(code uint32) {
	// Before the handles close (which runs driver code: DisconnectNotify may send), and again
	// after, for a Get that was being issued meanwhile.
	p.cancelIssuedGets(false)
	p.k.Exit(code)
	p.cancelIssuedGets(true)
}

// cancelIssuedGets cancels the Gets the process issued on every connection it used; with
// forget, it also forgets those connections (the process has exited).
func (p *Process) cancelIssuedGets(forget bool) {
	p.ioMu.Lock()
	files := make([]*portFile, 0, len(p.ioFiles))
	for pf := range p.ioFiles {
		files = append(files, pf)
	}
	if forget {
		p.ioFiles = nil
	}
	p.ioMu.Unlock()
	for _, pf := range files {
		pf.conn.CancelGets(func(tag any) bool { r, ok := tag.(request); return ok && r.issuedBy() == p })
	}
}

// cancelIfExited cancels the Get tagged tag when the process exited while issuing it (Exit
// may have run its cancellation before the Get was queued).
func (p *Process) cancelIfExited(pf *portFile, tag any) {
	if p.k.Exited() {
		pf.conn.CancelGets(func(t any) bool { return t == tag })
	}
}

// noteIO remembers that the process issued a Get on pf, so that Exit can cancel it: the Get
// may outlive the process's handle (closed, or the process exiting) when a duplicate keeps the
// connection open.
func (p *Process) noteIO(pf *portFile) {
	if pf.noted.Load() == p {
		return // already in p.ioFiles: the steady state of a service's Get loop takes no lock
	}
	pf.noted.Store(p)
	p.ioMu.Lock()
	if p.ioFiles == nil {
		p.ioFiles = make(map[*portFile]struct{})
	}
	p.ioFiles[pf] = struct{}{}
	p.ioMu.Unlock()
}

// Spawn starts a child process with the same token; with inheritHandles the child gets the
// parent's inheritable handles, with the same values.
func (p *Process) Spawn(image string, inheritHandles bool) (*Process, error) {
	return p.w.StartProcess(image, p.k.Token(), p, inheritHandles)
}

// portFile is the file object behind a connection handle: the connection's user endpoint.
type portFile struct {
	conn     *fltmgr.Connection
	syncOnly bool
	// ioLock is the file object lock of a synchronous handle (FLT_PORT_FLAG_SYNC_HANDLE): all
	// I/O on such a handle is serialized, as the I/O manager does for any file opened for
	// synchronous I/O, and closing its last handle waits for the call in progress (R-USER
	// connect 3). A buffered channel of one, so a waiter is durably blocked and a deadlock
	// shows in a synctest bubble. nil for an asynchronous handle.
	ioLock chan struct{}
	assoc  atomic.Pointer[iocpAssoc]
	noted  atomic.Pointer[Process] // the last process that noted a Get on it (noteIO's fast path)
}

type iocpAssoc struct {
	port *kernel.CompletionPort
	key  uintptr
}

// lookup returns the body of h if it is an object of type typ. Errors: STATUS_INVALID_HANDLE
// for a value this process does not own, STATUS_OBJECT_TYPE_MISMATCH for another type.
func (p *Process) lookup(h kernel.Handle, typ string) (any, kernel.NTSTATUS) {
	obj, _, st := p.k.ReferenceHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	if obj.Type() != typ {
		return nil, kernel.STATUS_OBJECT_TYPE_MISMATCH
	}
	return obj.Body(), kernel.STATUS_SUCCESS
}

func (p *Process) portFile(h kernel.Handle) (*portFile, kernel.NTSTATUS) {
	obj, _, st := p.k.ReferenceHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	// Every object of TypeFilterConnectionPort has a *portFile body, and no other does: the
	// type assertion is the type check, and cheaper than comparing the type names.
	pf, ok := obj.Body().(*portFile)
	if !ok {
		return nil, kernel.STATUS_OBJECT_TYPE_MISMATCH
	}
	return pf, kernel.STATUS_SUCCESS
}

// FilterConnectCommunicationPort emulates fltlib's FilterConnectCommunicationPort (R-USER
// connect, R-MODEL-2). sizeOfContext is wSizeOfContext: context nil with a non-zero size, a
// context with size 0, a size larger than the context or than 65511 are E_INVALIDARG. options
// may be FLT_PORT_FLAG_SYNC_HANDLE: a synchronous handle, on which all I/O is serialized (a Reply
// or Send waits while a Get blocks on it; closing its last handle waits too: cancel the Get with
// CancelSynchronousIo first), which cannot join a completion port (R-USER connect 3). sa decides whether the handle is inheritable. On S_OK,
// ConnectNotify has already run and accepted.
//
// The caller's token must be granted FLT_PORT_ALL_ACCESS (0x1F0001) by the port's descriptor,
// not only FLT_PORT_CONNECT: a DACL that grants a user only FLT_PORT_CONNECT refuses that user
// with E_ACCESSDENIED (R-MODEL-2). The name is looked up case-sensitively and ends at the first
// NUL, as an LPCWSTR does; an empty name or one not starting with `\` is 0x800700A1, a missing
// directory 0x80070003, a missing port 0x80070002 (R-USER connect 5).
func (p *Process) FilterConnectCommunicationPort(portName string, options uint32, context []byte, sizeOfContext int,
	sa *fltlib.SecurityAttributes) (kernel.Handle, kernel.HRESULT) {
	if why := connectArgsProblem(options, context, sizeOfContext); why != "" {
		return kernel.InvalidHandle, p.refuseHR("FilterConnectCommunicationPort", kernel.E_INVALIDARG, why)
	}
	if i := strings.IndexByte(portName, 0); i >= 0 {
		portName = portName[:i] // lpPortName is an LPCWSTR: it ends at the first NUL
	}
	thread := p.ThreadContext()
	conn, st := p.w.fm.Connect(thread, portName, context[:sizeOfContext])
	if st != kernel.STATUS_SUCCESS {
		return kernel.InvalidHandle, kernel.HResultFromNtStatus(st)
	}
	pf := &portFile{conn: conn, syncOnly: options&driverapi.FLT_PORT_FLAG_SYNC_HANDLE != 0}
	if pf.syncOnly {
		pf.ioLock = make(chan struct{}, 1)
	}
	// DisconnectNotify runs on the thread closing the last handle: in the process holding it
	// (a duplicate may close last in another process). Closing a synchronous handle waits
	// for the call in progress on it.
	closed := func(closer *kernel.Process) {
		pf.lockIO()
		defer pf.unlockIO()
		conn.CloseUserEndpoint(fltmgr.ThreadContext(closer))
	}
	obj := kernel.NewObjectClosedBy(TypeFilterConnectionPort, conn.PortName(), pf, closed)
	h, st := p.k.InsertHandle(obj, kernel.FLT_PORT_ALL_ACCESS, sa != nil && sa.InheritHandle)
	if st != kernel.STATUS_SUCCESS {
		closed(p.k) // the process died while connecting: no handle ever existed
		return kernel.InvalidHandle, kernel.HResultFromNtStatus(st)
	}
	return h, kernel.S_OK
}

// lockIO takes the file object lock of a synchronous handle; on an asynchronous handle it
// does nothing. unlockIO releases it.
func (pf *portFile) lockIO() {
	if pf.ioLock != nil {
		pf.ioLock <- struct{}{}
	}
}

func (pf *portFile) unlockIO() {
	if pf.ioLock != nil {
		<-pf.ioLock
	}
}

// request is what the harness tags each pending Get with, so CancelIoEx can find the
// requests a process issued on a handle.
type request interface{ issuedBy() *Process }

// ovRequest is the emulator's record of a Get issued with an OVERLAPPED: the completion the
// filter manager calls and the tag CancelIoEx matches. It lives in the Overlapped (Begin) and
// is reused by the next Get issued with it once the previous one completed, so a service's
// steady Get loop allocates nothing.
type ovRequest struct {
	// Written by the issuer only while no request of this record is pending; read by the
	// completion before it reports the request complete (after which the record may be
	// reused), and by cancellation only while the request is queued.
	ov     *fltlib.Overlapped
	file   *portFile
	issuer *Process

	seq    atomic.Uint64                 // odd while a request is pending: issues and completions
	waitCh atomic.Pointer[chan struct{}] // made by a GetOverlappedResult that waits; closed at a completion
}

func (r *ovRequest) issuedBy() *Process { return r.issuer }

// newOvRequest returns the record of a new Get issued by p on pf with ov: the one ov carries
// from its previous Get when that Get completed, else a new one (ov reissued while its request
// is still pending, which Windows forbids, keeps the old record intact for the old request).
func newOvRequest(ov *fltlib.Overlapped, pf *portFile, p *Process) *ovRequest {
	r, _ := ov.Request().(*ovRequest)
	if r == nil || r.seq.Load()&1 != 0 {
		r = &ovRequest{}
	}
	r.ov, r.file, r.issuer = ov, pf, p
	r.seq.Add(1)
	return r
}

// completed marks the request complete (its result already in the Overlapped) and wakes the
// GetOverlappedResult calls waiting for it. The record may be reused as soon as it returns.
func (r *ovRequest) completed() {
	r.seq.Add(1)
	// A waiter stores its channel before it looks at seq; this looks after the Add: one of the
	// two sees the other's write, so no waiter is left behind.
	if r.waitCh.Load() != nil {
		if ch := r.waitCh.Swap(nil); ch != nil {
			close(*ch)
		}
	}
}

// wait returns once the request pending on r when it is called (if any) has completed.
func (r *ovRequest) wait() {
	s := r.seq.Load()
	for s&1 != 0 && r.seq.Load() == s {
		ch := r.waitCh.Load()
		if ch == nil {
			c := make(chan struct{})
			if !r.waitCh.CompareAndSwap(nil, &c) {
				continue
			}
			ch = &c
		}
		if r.seq.Load() != s {
			return // completed meanwhile; the channel is left for the next request's waiters
		}
		// The completion of the previous request may still be closing channels when this
		// one is issued: a wake-up is only a hint, seq is the truth.
		<-*ch
	}
}

// GetCompleted is called by the filter manager when the request completes: it records the
// result in the OVERLAPPED, sets its event and queues a packet to the completion port the
// handle is associated with.
func (r *ovRequest) GetCompleted(st kernel.NTSTATUS, n uint32) {
	ov, a := r.ov, r.file.assoc.Load()
	ov.Complete(st, n)
	r.completed() // r may be reused from here on: only the locals are used below
	if a != nil {
		a.port.Post(kernel.CompletionPacket{Key: a.key, Bytes: n, Overlapped: ov, Status: st})
	}
}

// syncGet is the completion of a synchronous FilterGetMessage.
type syncGet struct {
	ch     chan getResult
	issuer *Process
	file   *portFile // the connection the request waits on, for CancelSynchronousIo
	tag    any       // the request's tag in the connection's queue
}

func (s *syncGet) issuedBy() *Process { return s.issuer }

type getResult struct {
	st kernel.NTSTATUS
	n  uint32
}

func (s *syncGet) GetCompleted(st kernel.NTSTATUS, n uint32) { s.ch <- getResult{st, n} }

// FilterGetMessage emulates fltlib's FilterGetMessage (R-USER Get). buf receives
// FILTER_MESSAGE_HEADER and the payload; shorter than the header is E_INVALIDARG. With ov nil it
// blocks until a message arrives (S_OK), the connection ends (E_HANDLE) or the request is
// cancelled (HRESULT_FROM_WIN32(ERROR_OPERATION_ABORTED)); it has no timeout. With ov it
// returns HRESULT_FROM_WIN32(ERROR_IO_PENDING) at once and completes through ov's event and the
// handle's completion port; on a FLT_PORT_FLAG_SYNC_HANDLE handle it waits like the synchronous
// form and also writes the result (status, byte count) into ov (R-USER connect 3).
func (p *Process) FilterGetMessage(h kernel.Handle, buf []byte, ov *fltlib.Overlapped) kernel.HRESULT {
	if ov != nil {
		return p.getMessageOverlapped(h, buf, ov, nil)
	}
	// The service's hot loop. It blocks in this frame, not in a helper's: after a goroutine
	// switch every return on the way out is mispredicted, so each frame between the caller and
	// the receive costs a round trip several nanoseconds (measured: three extra frames around
	// each channel operation of the channel baseline add 15-50 %).
	sg := p.w.syncGets.Get().(*syncGet)
	pf, hr := p.prepareGet(h, buf)
	if hr != kernel.S_OK {
		p.w.syncGets.Put(sg)
		return hr
	}
	r, pending := p.issueSyncGet(pf, buf, sg, nil, sg)
	if pending {
		r = <-sg.ch
	}
	p.endSyncGet(pf, sg, nil)
	p.w.syncGets.Put(sg)
	return kernel.HResultFromNtStatus(r.st)
}

// getMessageOverlapped is FilterGetMessage with an OVERLAPPED, issued by thread t (nil: no
// Thread, so not cancellable by CancelSynchronousIo when it blocks on a synchronous handle).
func (p *Process) getMessageOverlapped(h kernel.Handle, buf []byte, ov *fltlib.Overlapped, t *Thread) kernel.HRESULT {
	pf, hr := p.prepareGet(h, buf)
	if hr != kernel.S_OK {
		return hr
	}
	if pf.syncOnly {
		hr, _ := p.syncGetOverlapped(pf, buf, ov, t)
		return hr
	}
	r := newOvRequest(ov, pf, p)
	ov.Begin(r)
	if st := pf.conn.Get(buf, r, r); st != kernel.STATUS_PENDING {
		ov.Complete(st, 0)
		r.completed()
		return kernel.HResultFromNtStatus(st)
	}
	p.cancelIfExited(pf, r)
	return kernel.HResultFromWin32(kernel.ERROR_IO_PENDING)
}

// prepareGet does the checks every FilterGetMessage makes before it queues its request.
func (p *Process) prepareGet(h kernel.Handle, buf []byte) (*portFile, kernel.HRESULT) {
	if len(buf) < driverapi.FilterMessageHeaderSize {
		return nil, p.refuseHR(RoutineFilterGetMessage, kernel.E_INVALIDARG, fmt.Sprintf(
			"the %d-byte buffer is shorter than FILTER_MESSAGE_HEADER (%d bytes), which comes before the message",
			len(buf), driverapi.FilterMessageHeaderSize))
	}
	pf, st := p.portFileFor(RoutineFilterGetMessage, h)
	if st != kernel.STATUS_SUCCESS {
		return nil, kernel.HResultFromNtStatus(st)
	}
	if st := p.w.faults.userCall(RoutineFilterGetMessage, p); st != kernel.STATUS_SUCCESS {
		return nil, kernel.HResultFromNtStatus(st)
	}
	p.noteIO(pf)
	return pf, kernel.S_OK
}

// syncGetMessage is the synchronous FilterGetMessage, completing through sg (the request's
// tag, so that a caller can cancel exactly this request). t, if not nil, is the thread that
// issues it: CancelSynchronousIo(t) cancels it.
func (p *Process) syncGetMessage(h kernel.Handle, buf []byte, sg *syncGet, t *Thread) (kernel.HRESULT, uint32) {
	pf, hr := p.prepareGet(h, buf)
	if hr != kernel.S_OK {
		return hr, 0
	}
	st, n := p.syncGet(pf, buf, sg, t, sg)
	return kernel.HResultFromNtStatus(st), n
}

// syncGet queues a synchronous Get on pf and waits for its completion.
func (p *Process) syncGet(pf *portFile, buf []byte, sg *syncGet, t *Thread, tag any) (kernel.NTSTATUS, uint32) {
	r, pending := p.issueSyncGet(pf, buf, sg, t, tag)
	if pending {
		r = <-sg.ch
	}
	p.endSyncGet(pf, sg, t)
	return r.st, r.n
}

// issueSyncGet queues a synchronous Get on pf, completing through sg with tag; when pending
// is true the caller receives the result from sg.ch. Either way it then calls endSyncGet.
// No defers: nothing in between calls driver code, and this is the service's hot loop.
func (p *Process) issueSyncGet(pf *portFile, buf []byte, sg *syncGet, t *Thread, tag any) (r getResult, pending bool) {
	sg.issuer, sg.file, sg.tag = p, pf, tag
	if t != nil {
		t.setRequest(sg)
	}
	pf.lockIO()
	if r.st = pf.conn.Get(buf, tag, sg); r.st == kernel.STATUS_PENDING {
		p.cancelIfExited(pf, tag)
		return r, true
	}
	return r, false
}

// endSyncGet ends a synchronous Get issued by issueSyncGet.
func (p *Process) endSyncGet(pf *portFile, sg *syncGet, t *Thread) {
	pf.unlockIO()
	if t != nil {
		t.setRequest(nil)
	}
	sg.issuer, sg.file, sg.tag = nil, nil, nil
}

// setRequest records the synchronous request t is blocked in (nil: none), for
// CancelSynchronousIo.
func (t *Thread) setRequest(sg *syncGet) {
	t.mu.Lock()
	t.req = sg
	t.mu.Unlock()
}

// syncGetOverlapped is a FilterGetMessage with an OVERLAPPED on a FLT_PORT_FLAG_SYNC_HANDLE
// handle: as for any synchronous file handle, the call waits for the request and returns its
// result, which it also writes into ov (R-USER connect 3). The overlapped's event is set; no
// completion packet is queued (such a handle cannot be associated with a completion port).
// That is how a service learns the size of a message received on a synchronous handle, which
// the plain synchronous call does not report.
func (p *Process) syncGetOverlapped(pf *portFile, buf []byte, ov *fltlib.Overlapped, t *Thread) (kernel.HRESULT, uint32) {
	r := &ovRequest{ov: ov, file: pf, issuer: p}
	r.seq.Add(1)
	ov.Begin(r)
	// A request a thread may cancel gets its own completion: a pooled one could be reused by
	// another call while a CancelSynchronousIo still holds it.
	sg := &syncGet{ch: make(chan getResult, 1)}
	st, n := p.syncGet(pf, buf, sg, t, r)
	ov.Complete(st, n)
	r.completed()
	return kernel.HResultFromNtStatus(st), n
}

// Thread is a thread of a user process, the unit CancelSynchronousIo works on (the emulator's
// fltlib.Thread). Windows names the thread that blocks in a synchronous call implicitly (the
// caller's); a goroutine has no such identity, so a call that another goroutine may need to
// cancel is made through a Thread: t.FilterGetMessage is Process.FilterGetMessage issued by t.
// A Thread makes one call at a time.
type Thread struct {
	p *Process

	mu  sync.Mutex
	req *syncGet // guarded by mu: the synchronous request t is blocked in, if any
}

// NewThread returns a new thread of p (a *Thread), for the calls a goroutine makes on it.
func (p *Process) NewThread() fltlib.Thread { return &Thread{p: p} }

// FilterGetMessage emulates FilterGetMessage issued by thread t: the same call as
// Process.FilterGetMessage, except that while it blocks (the synchronous form, or any form on a
// FLT_PORT_FLAG_SYNC_HANDLE handle) CancelSynchronousIo(t) cancels it.
func (t *Thread) FilterGetMessage(h kernel.Handle, buf []byte, ov *fltlib.Overlapped) kernel.HRESULT {
	p := t.p
	if ov == nil {
		hr, _ := p.syncGetMessage(h, buf, &syncGet{ch: make(chan getResult, 1)}, t)
		return hr
	}
	return p.getMessageOverlapped(h, buf, ov, t)
}

// CancelSynchronousIo emulates CancelSynchronousIo: the synchronous call thread t is blocked in
// (a FilterGetMessage on a synchronous handle or without OVERLAPPED) returns
// HRESULT_FROM_WIN32(ERROR_OPERATION_ABORTED). It returns ERROR_NOT_FOUND when t is not
// blocked in a cancellable call (it has not entered it yet, or has already returned: a caller
// that races the call retries), ERROR_INVALID_HANDLE for a thread of another process.
func (p *Process) CancelSynchronousIo(th fltlib.Thread) error {
	t, _ := th.(*Thread)
	if t == nil || t.p != p {
		return kernel.ERROR_INVALID_HANDLE
	}
	t.mu.Lock()
	var pf *portFile
	var req any
	if sg := t.req; sg != nil {
		pf, req = sg.file, sg.tag
	}
	t.mu.Unlock()
	if pf == nil || pf.conn.CancelGets(func(tag any) bool { return tag == req }) == 0 {
		return kernel.ERROR_NOT_FOUND
	}
	return nil
}

// GetOverlappedResult emulates GetOverlappedResult for a Get issued on h: with wait it blocks
// on the overlapped's event until the request completes. It returns the byte count and nil, or
// the Win32 error of the request (ERROR_IO_INCOMPLETE while pending without wait).
func (p *Process) GetOverlappedResult(h kernel.Handle, ov *fltlib.Overlapped, wait bool) (uint32, error) {
	if ov == nil {
		p.refuse("GetOverlappedResult", kernel.ERROR_INVALID_PARAMETER, "lpOverlapped is nil")
		return 0, kernel.ERROR_INVALID_PARAMETER
	}
	r, _ := ov.Request().(*ovRequest)
	issued := r != nil
	// Like Windows, a request already issued can be waited for even after its handle closed.
	if _, st := p.portFile(h); st != kernel.STATUS_SUCCESS && !(st == kernel.STATUS_INVALID_HANDLE && issued) {
		return 0, kernel.NtStatusToDosError(st)
	}
	st, n := ov.Result()
	if st == kernel.STATUS_PENDING && wait && r != nil {
		r.wait()
		st, n = ov.Result()
	}
	if st == kernel.STATUS_PENDING {
		return 0, kernel.ERROR_IO_INCOMPLETE
	}
	if st != kernel.STATUS_SUCCESS {
		return n, kernel.NtStatusToDosError(st)
	}
	return n, nil
}

// FilterReplyMessage emulates fltlib's FilterReplyMessage (R-USER Reply): buf is
// FILTER_REPLY_HEADER (Status, MessageId) and the payload. It returns S_OK,
// ERROR_FLT_NO_WAITER_FOR_REPLY (0x801F0020) when no sender waits for that id on this
// connection, HRESULT_FROM_WIN32(ERROR_MORE_DATA) when the payload was truncated, E_HANDLE
// once the connection ended, E_INVALIDARG for a buffer shorter than FILTER_REPLY_HEADER. It never waits.
// A MessageId the connection never issued is most often a buffer without FILTER_REPLY_HEADER in
// front (its payload read as the id): the trace says so. Every refused check of these calls is
// an EvRoutineFailed event in the trace, with the argument and the reason.
func (p *Process) FilterReplyMessage(h kernel.Handle, buf []byte) kernel.HRESULT {
	if len(buf) < driverapi.FilterReplyHeaderSize {
		return p.refuseHR(RoutineFilterReplyMessage, kernel.E_INVALIDARG, fmt.Sprintf(
			"the %d-byte buffer is shorter than FILTER_REPLY_HEADER (%d bytes: Status, MessageId), which comes before the reply: build it with driverapi.NewFilterReply",
			len(buf), driverapi.FilterReplyHeaderSize))
	}
	pf, st := p.portFileFor(RoutineFilterReplyMessage, h)
	if st != kernel.STATUS_SUCCESS {
		return kernel.HResultFromNtStatus(st)
	}
	if st := p.w.faults.userCall(RoutineFilterReplyMessage, p); st != kernel.STATUS_SUCCESS {
		return kernel.HResultFromNtStatus(st)
	}
	pf.lockIO()
	st = pf.conn.Reply(buf) // never calls driver code: no defer needed
	pf.unlockIO()
	return kernel.HResultFromNtStatus(st)
}

// FilterSendMessage emulates fltlib's FilterSendMessage (R-USER Send): MessageNotify runs on
// this goroutine with these buffers. bytesReturned, if not nil, receives the byte count the
// callback reported. An empty input is E_INVALIDARG; a port without MessageNotify gives
// HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED); a disconnected one E_HANDLE.
func (p *Process) FilterSendMessage(h kernel.Handle, in []byte, out []byte, bytesReturned *uint32) kernel.HRESULT {
	if bytesReturned != nil {
		*bytesReturned = 0
	}
	if len(in) == 0 {
		return p.refuseHR(RoutineFilterSendMessage, kernel.E_INVALIDARG, "the input buffer is empty: a message has at least one byte")
	}
	pf, st := p.portFileFor(RoutineFilterSendMessage, h)
	if st != kernel.STATUS_SUCCESS {
		return kernel.HResultFromNtStatus(st)
	}
	if st := p.w.faults.userCall(RoutineFilterSendMessage, p); st != kernel.STATUS_SUCCESS {
		return kernel.HResultFromNtStatus(st)
	}
	pf.lockIO()
	n, st := pf.conn.Send(p.ThreadContext(), in, out)
	pf.unlockIO()
	if bytesReturned != nil {
		*bytesReturned = n
	}
	return kernel.HResultFromNtStatus(st)
}

// CloseHandle emulates CloseHandle. When it closes a connection's last handle (in any
// process), pending Gets complete with ERROR_OPERATION_ABORTED; then, once the connection's
// running MessageNotify calls have returned (Windows never overlaps the two), DisconnectNotify
// runs on this thread, and CloseHandle returns after it (R-CB-2). An unknown handle is
// ERROR_INVALID_HANDLE.
func (p *Process) CloseHandle(h kernel.Handle) error {
	if st := p.k.CloseHandle(h); st != kernel.STATUS_SUCCESS {
		err := kernel.NtStatusToDosError(st)
		p.refuse("CloseHandle", err, p.handleProblem(h, st, "any"))
		return err
	}
	return nil
}

// DuplicateHandle emulates DuplicateHandle from this process into target (which may be this
// process). options are DUPLICATE_SAME_ACCESS and DUPLICATE_CLOSE_SOURCE. The duplicate refers
// to the same connection: the connection ends when its last handle closes, in whichever
// process. Access was checked at connect time, so a duplicate works in a process whose token
// could not have connected, as on Windows.
func (p *Process) DuplicateHandle(h kernel.Handle, target *Process, access kernel.AccessMask, inherit bool, options uint32) (kernel.Handle, error) {
	if target == nil || target.w != p.w {
		return kernel.InvalidHandle, kernel.ERROR_INVALID_HANDLE
	}
	nh, st := kernel.DuplicateHandle(p.k, h, target.k, access, inherit, options)
	if st != kernel.STATUS_SUCCESS {
		return kernel.InvalidHandle, kernel.NtStatusToDosError(st)
	}
	return nh, nil
}

// CancelIoEx emulates CancelIoEx on a connection handle: the pending Gets this process issued
// on the connection with ov (all of them when ov is nil, synchronous ones included) complete
// with ERROR_OPERATION_ABORTED. Requests other processes issued through duplicates are not
// touched. It returns ERROR_NOT_FOUND when there was nothing to cancel.
func (p *Process) CancelIoEx(h kernel.Handle, ov *fltlib.Overlapped) error {
	pf, st := p.portFileFor("CancelIoEx", h)
	if st != kernel.STATUS_SUCCESS {
		return kernel.NtStatusToDosError(st)
	}
	match := func(tag any) bool {
		r, ok := tag.(request)
		if !ok || r.issuedBy() != p {
			return false
		}
		or, _ := tag.(*ovRequest)
		return ov == nil || (or != nil && or.ov == ov)
	}
	if pf.conn.CancelGets(match) == 0 {
		return kernel.ERROR_NOT_FOUND
	}
	return nil
}

// CreateIoCompletionPort emulates CreateIoCompletionPort. With file == InvalidHandle and
// existing == 0 it makes a new completion port. Otherwise it associates the connection handle
// file with existing (or with a new port when existing is 0) under key, and returns the port's
// handle. A handle can be associated once; again is ERROR_INVALID_PARAMETER.
func (p *Process) CreateIoCompletionPort(file kernel.Handle, existing kernel.Handle, key uintptr, concurrency uint32) (kernel.Handle, error) {
	var pf *portFile
	if file != kernel.InvalidHandle {
		var st kernel.NTSTATUS
		if pf, st = p.portFileFor("CreateIoCompletionPort", file); st != kernel.STATUS_SUCCESS {
			return kernel.InvalidHandle, kernel.NtStatusToDosError(st)
		}
	}
	var cp *kernel.CompletionPort
	h := existing
	if existing != 0 {
		b, st := p.lookup(existing, TypeIoCompletion)
		if st != kernel.STATUS_SUCCESS {
			err := kernel.NtStatusToDosError(st)
			p.refuse("CreateIoCompletionPort", err, "ExistingCompletionPort: "+p.handleProblem(existing, st, TypeIoCompletion))
			return kernel.InvalidHandle, err
		}
		cp = b.(*kernel.CompletionPort)
	} else {
		cp = kernel.NewCompletionPort()
		obj := kernel.NewObject(TypeIoCompletion, "", cp, func() { cp.Close() })
		var st kernel.NTSTATUS
		if h, st = p.k.InsertHandle(obj, kernel.AccessMask(0x1F0003), false); st != kernel.STATUS_SUCCESS {
			cp.Close()
			return kernel.InvalidHandle, kernel.NtStatusToDosError(st)
		}
	}
	// A synchronous handle cannot be associated (R-IOCP); a handle only once.
	if pf != nil && (pf.syncOnly || !pf.assoc.CompareAndSwap(nil, &iocpAssoc{port: cp, key: key})) {
		if existing == 0 {
			p.k.CloseHandle(h)
		}
		why := "the handle is associated with a completion port already; a handle joins one port, once"
		if pf.syncOnly {
			why = "the handle was opened with FLT_PORT_FLAG_SYNC_HANDLE: a synchronous handle cannot join a completion port"
		}
		p.refuse("CreateIoCompletionPort", kernel.ERROR_INVALID_PARAMETER, why)
		return kernel.InvalidHandle, kernel.ERROR_INVALID_PARAMETER
	}
	return h, nil
}

// GetQueuedCompletionStatus emulates GetQueuedCompletionStatus (R-IOCP): it dequeues the next
// completion, waiting up to timeout (INFINITE: forever; 0: no wait). It returns the byte
// count, the key and the request's Overlapped with a nil error for a successful request, with
// the request's Win32 error (ERROR_OPERATION_ABORTED, ERROR_INVALID_HANDLE, ...) for a failed
// one; with ov nil and WAIT_TIMEOUT when the time runs out, ERROR_ABANDONED_WAIT_0 when the
// port is closed while waiting, ERROR_INVALID_HANDLE for a handle that is not a port.
func (p *Process) GetQueuedCompletionStatus(port kernel.Handle, timeout time.Duration) (uint32, uintptr, *fltlib.Overlapped, error) {
	b, st := p.lookup(port, TypeIoCompletion)
	if st != kernel.STATUS_SUCCESS {
		err := kernel.NtStatusToDosError(st)
		p.refuse("GetQueuedCompletionStatus", err, p.handleProblem(port, st, TypeIoCompletion))
		return 0, 0, nil, err
	}
	if timeout > 0 {
		if end := p.w.k.TimedWait("GetQueuedCompletionStatus"); end != nil {
			defer end()
		}
	}
	pkt, st := b.(*kernel.CompletionPort).Remove(context.Background(), timeout)
	switch st {
	case kernel.STATUS_SUCCESS:
	case kernel.STATUS_TIMEOUT:
		return 0, 0, nil, kernel.ERROR_WAIT_TIMEOUT
	case kernel.STATUS_ABANDONED_WAIT_0:
		return 0, 0, nil, kernel.ERROR_ABANDONED_WAIT_0
	default:
		return 0, 0, nil, kernel.NtStatusToDosError(st)
	}
	ov, _ := pkt.Overlapped.(*fltlib.Overlapped)
	if pkt.Status != kernel.STATUS_SUCCESS {
		return pkt.Bytes, pkt.Key, ov, kernel.NtStatusToDosError(pkt.Status)
	}
	return pkt.Bytes, pkt.Key, ov, nil
}

// PostQueuedCompletionStatus emulates PostQueuedCompletionStatus.
func (p *Process) PostQueuedCompletionStatus(port kernel.Handle, bytes uint32, key uintptr, ov *fltlib.Overlapped) error {
	b, st := p.lookup(port, TypeIoCompletion)
	if st != kernel.STATUS_SUCCESS {
		err := kernel.NtStatusToDosError(st)
		p.refuse("PostQueuedCompletionStatus", err, p.handleProblem(port, st, TypeIoCompletion))
		return err
	}
	if st := b.(*kernel.CompletionPort).Post(kernel.CompletionPacket{Key: key, Bytes: bytes, Overlapped: ov}); st != kernel.STATUS_SUCCESS {
		return kernel.NtStatusToDosError(st)
	}
	return nil
}

var _ fltlib.Backend = (*Process)(nil)
