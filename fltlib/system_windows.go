//go:build windows

package fltlib

import (
	"errors"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/fltemu/fltemu/kernel"
)

// The Windows backend: thin calls into fltlib.dll and kernel32. Argument checks, error
// mapping and timeouts are decided in portable code (args.go).

var (
	modfltlib                          = windows.NewLazySystemDLL("fltlib.dll")
	procFilterConnectCommunicationPort = modfltlib.NewProc("FilterConnectCommunicationPort")
	procFilterGetMessage               = modfltlib.NewProc("FilterGetMessage")
	procFilterReplyMessage             = modfltlib.NewProc("FilterReplyMessage")
	procFilterSendMessage              = modfltlib.NewProc("FilterSendMessage")
	procFilterAttach                   = modfltlib.NewProc("FilterAttach")
	procFilterDetach                   = modfltlib.NewProc("FilterDetach")
	procCancelSynchronousIo            = windows.NewLazySystemDLL("kernel32.dll").NewProc("CancelSynchronousIo")
)

// instanceNameMaxChars is INSTANCE_NAME_MAX_CHARS: the longest instance name FilterAttach
// returns.
const instanceNameMaxChars = 255

// System returns the backend of the running Windows system: fltlib.dll and kernel32.
func System() Backend {
	return &sysBackend{pinned: map[*sysOverlapped]struct{}{}, associated: map[kernel.Handle]bool{}}
}

type sysBackend struct {
	mu         sync.Mutex
	pinned     map[*sysOverlapped]struct{} // guarded by mu: requests the OS may still write into
	associated map[kernel.Handle]bool      // guarded by mu: handles tied to a completion port
}

// sysOverlapped is the OS's OVERLAPPED of a request (first, so that the pointer a completion
// port returns leads back to it), the buffer the OS writes into, and the event the request
// signals. It stays referenced from pinned until its completion has been observed and no
// completion packet can refer to it any more.
type sysOverlapped struct {
	ov    windows.Overlapped
	owner *Overlapped
	buf   []byte
	port  kernel.Handle // the handle the request was issued on
	b     *sysBackend
	event closeOnce // ov.HEvent: waiters may still be blocked on it when the completion is seen
	once  sync.Once
}

func (s *sysOverlapped) result() (kernel.NTSTATUS, uint32) {
	return kernel.NTSTATUS(uint32(s.ov.Internal)), uint32(s.ov.InternalHigh)
}

func (s *sysOverlapped) pending() bool {
	st, _ := s.result()
	return st == kernel.STATUS_PENDING
}

// wait blocks until the request completed, on its OS event.
func (s *sysOverlapped) wait() error {
	if !s.event.acquire() {
		return nil // finished: it completed
	}
	defer func() { _ = s.event.release() }()
	_, err := windows.WaitForSingleObject(s.ov.HEvent, windows.INFINITE)
	return errnoError(err)
}

// observed runs when a completion was seen outside a completion port (the event, or
// GetOverlappedResult): the Go event is set, and unless the handle is tied to a completion
// port, whose packet still refers to the request, the request is finished.
func (s *sysOverlapped) observed() {
	if s.owner != nil && s.owner.Event != nil {
		s.owner.Event.Set()
	}
	if !s.b.isAssociated(s.port) {
		s.finish()
	}
}

// finish runs once the OS no longer refers to the request: it is unpinned, its OS event is
// closed (by the last waiter still on it), the Go event is set.
func (s *sysOverlapped) finish() {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.pinned, s)
		s.b.mu.Unlock()
		_, _ = s.event.finish()
		if s.owner != nil && s.owner.Event != nil {
			s.owner.Event.Set()
		}
	})
}

func (b *sysBackend) isAssociated(h kernel.Handle) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.associated[h]
}

// begin makes the OS OVERLAPPED for a request of ov on port into buf, with its own event.
func (b *sysBackend) begin(port kernel.Handle, ov *Overlapped, buf []byte) (*sysOverlapped, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, err
	}
	s := &sysOverlapped{owner: ov, buf: buf, port: port, b: b}
	s.ov.HEvent = ev
	s.event.close = func() error { return windows.CloseHandle(ev) }
	s.ov.Internal = uintptr(kernel.STATUS_PENDING)
	if ov.Event != nil {
		ov.Event.Reset()
	}
	ov.mu.Lock()
	ov.req, ov.sys = nil, s
	ov.mu.Unlock()
	b.mu.Lock()
	b.pinned[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

func (b *sysBackend) FilterConnectCommunicationPort(portName string, options uint32, context []byte, sizeOfContext int, sa *SecurityAttributes) (kernel.Handle, kernel.HRESULT) {
	if hr := checkConnect(portName, options, context, sizeOfContext); hr != kernel.S_OK {
		return kernel.InvalidHandle, hr
	}
	name, err := windows.UTF16PtrFromString(portName)
	if err != nil {
		return kernel.InvalidHandle, kernel.E_INVALIDARG
	}
	var ctx unsafe.Pointer
	if sizeOfContext > 0 {
		ctx = unsafe.Pointer(&context[0])
	}
	var wsa *windows.SecurityAttributes
	if sa != nil {
		wsa = &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{}))}
		if sa.InheritHandle {
			wsa.InheritHandle = 1
		}
	}
	var h windows.Handle
	if hr := callHR(procFilterConnectCommunicationPort, uintptr(unsafe.Pointer(name)), uintptr(options),
		uintptr(ctx), uintptr(uint16(sizeOfContext)), uintptr(unsafe.Pointer(wsa)), uintptr(unsafe.Pointer(&h))); hr != kernel.S_OK {
		return kernel.InvalidHandle, hr
	}
	return kernel.Handle(h), kernel.S_OK
}

func (b *sysBackend) FilterGetMessage(port kernel.Handle, buf []byte, ov *Overlapped) kernel.HRESULT {
	if hr := checkGetBuffer(buf); hr != kernel.S_OK {
		return hr
	}
	if ov == nil {
		return callHR(procFilterGetMessage, uintptr(port), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
	}
	s, err := b.begin(port, ov, buf)
	if err != nil {
		return hresultOf(errnoError(err))
	}
	hr := callHR(procFilterGetMessage, uintptr(port), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&s.ov)))
	switch {
	case hr == hrPending:
		if ov.Event != nil {
			go func() { // the Go event follows the OS event
				_ = s.wait()
				s.observed()
			}()
		}
	case s.pending():
		// Refused before any I/O started: the OS never completes it.
		ov.mu.Lock()
		ov.sys = nil
		ov.status = kernel.STATUS_UNSUCCESSFUL
		ov.mu.Unlock()
		s.finish()
	case hr&0x80000000 != 0:
		s.finish() // failed at once: no completion packet follows
	default:
		// Completed at once (a synchronous handle, or a message already queued). A handle
		// associated with a completion port still gets a packet, which finishes it.
		s.observed()
	}
	return hr
}

func (b *sysBackend) FilterReplyMessage(port kernel.Handle, buf []byte) kernel.HRESULT {
	if hr := checkReplyBuffer(buf); hr != kernel.S_OK {
		return hr
	}
	return callHR(procFilterReplyMessage, uintptr(port), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
}

func (b *sysBackend) FilterSendMessage(port kernel.Handle, in, out []byte, bytesReturned *uint32) kernel.HRESULT {
	if bytesReturned != nil {
		*bytesReturned = 0
	}
	if hr := checkSend(in, out); hr != kernel.S_OK {
		return hr
	}
	var outp unsafe.Pointer
	if len(out) > 0 {
		outp = unsafe.Pointer(&out[0])
	}
	var n uint32
	hr := callHR(procFilterSendMessage, uintptr(port), uintptr(unsafe.Pointer(&in[0])), uintptr(len(in)),
		uintptr(outp), uintptr(len(out)), uintptr(unsafe.Pointer(&n)))
	if bytesReturned != nil {
		*bytesReturned = n
	}
	return hr
}

func (b *sysBackend) FilterAttach(filterName, volumeName, instanceName string) (string, kernel.HRESULT) {
	if filterName == "" || volumeName == "" {
		return "", kernel.E_INVALIDARG
	}
	f, err1 := windows.UTF16PtrFromString(filterName)
	v, err2 := windows.UTF16PtrFromString(volumeName)
	if err1 != nil || err2 != nil {
		return "", kernel.E_INVALIDARG
	}
	var inst *uint16
	if instanceName != "" {
		var err error
		if inst, err = windows.UTF16PtrFromString(instanceName); err != nil {
			return "", kernel.E_INVALIDARG
		}
	}
	created := make([]uint16, instanceNameMaxChars+1)
	if hr := callHR(procFilterAttach, uintptr(unsafe.Pointer(f)), uintptr(unsafe.Pointer(v)), uintptr(unsafe.Pointer(inst)),
		uintptr(len(created)*2), uintptr(unsafe.Pointer(&created[0]))); hr != kernel.S_OK {
		return "", hr
	}
	return windows.UTF16ToString(created), kernel.S_OK
}

func (b *sysBackend) FilterDetach(filterName, volumeName, instanceName string) kernel.HRESULT {
	if filterName == "" || volumeName == "" {
		return kernel.E_INVALIDARG
	}
	f, err1 := windows.UTF16PtrFromString(filterName)
	v, err2 := windows.UTF16PtrFromString(volumeName)
	if err1 != nil || err2 != nil {
		return kernel.E_INVALIDARG
	}
	var inst *uint16
	if instanceName != "" {
		var err error
		if inst, err = windows.UTF16PtrFromString(instanceName); err != nil {
			return kernel.E_INVALIDARG
		}
	}
	return callHR(procFilterDetach, uintptr(unsafe.Pointer(f)), uintptr(unsafe.Pointer(v)), uintptr(unsafe.Pointer(inst)))
}

func (b *sysBackend) MapViewOfFile(section kernel.Handle, desiredAccess uint32, fileOffsetHigh, fileOffsetLow uint32, numberOfBytesToMap uintptr) ([]byte, error) {
	addr, err := windows.MapViewOfFile(windows.Handle(section), desiredAccess, fileOffsetHigh, fileOffsetLow, numberOfBytesToMap)
	if err != nil {
		return nil, errnoError(err)
	}
	n := numberOfBytesToMap
	if n == 0 {
		var mbi windows.MemoryBasicInformation
		if err := windows.VirtualQuery(addr, &mbi, unsafe.Sizeof(mbi)); err != nil {
			_ = windows.UnmapViewOfFile(addr)
			return nil, errnoError(err)
		}
		n = mbi.RegionSize
	}
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr)) // the view's address, which Go does not manage
	return unsafe.Slice((*byte)(p), n), nil
}

func (b *sysBackend) UnmapViewOfFile(view []byte) error {
	if len(view) == 0 {
		return kernel.Win32Error(487) // ERROR_INVALID_ADDRESS
	}
	return errnoError(windows.UnmapViewOfFile(uintptr(unsafe.Pointer(&view[0]))))
}

func (b *sysBackend) CloseHandle(h kernel.Handle) error {
	if err := windows.CloseHandle(windows.Handle(h)); err != nil {
		return errnoError(err)
	}
	b.mu.Lock()
	delete(b.associated, h) // the value may come back for another object
	b.mu.Unlock()
	return nil
}

func (b *sysBackend) CancelIoEx(h kernel.Handle, ov *Overlapped) error {
	var o *windows.Overlapped
	if ov != nil {
		ov.mu.Lock()
		s, _ := ov.sys.(*sysOverlapped)
		ov.mu.Unlock()
		if s == nil {
			return kernel.ERROR_NOT_FOUND
		}
		o = &s.ov
	}
	return errnoError(windows.CancelIoEx(windows.Handle(h), o))
}

func (b *sysBackend) GetOverlappedResult(h kernel.Handle, ov *Overlapped, wait bool) (uint32, error) {
	if ov == nil {
		return 0, kernel.ERROR_INVALID_PARAMETER
	}
	ov.mu.Lock()
	s, _ := ov.sys.(*sysOverlapped)
	ov.mu.Unlock()
	if s != nil && s.pending() {
		if !wait {
			return 0, kernel.ERROR_IO_INCOMPLETE
		}
		if err := s.wait(); err != nil {
			return 0, err
		}
	}
	st, n := ov.Result()
	if st == kernel.STATUS_PENDING {
		return 0, kernel.ERROR_IO_INCOMPLETE
	}
	if s != nil {
		s.observed()
	}
	return n, completionError(st)
}

func (b *sysBackend) CreateIoCompletionPort(file, existing kernel.Handle, key uintptr, concurrency uint32) (kernel.Handle, error) {
	h, err := windows.CreateIoCompletionPort(windows.Handle(file), windows.Handle(existing), key, concurrency)
	if err != nil {
		return kernel.InvalidHandle, errnoError(err)
	}
	if file != kernel.InvalidHandle {
		b.mu.Lock()
		b.associated[file] = true
		b.mu.Unlock()
	}
	return kernel.Handle(h), nil
}

func (b *sysBackend) GetQueuedCompletionStatus(port kernel.Handle, timeout time.Duration) (uint32, uintptr, *Overlapped, error) {
	var n uint32
	var key uintptr
	var o *windows.Overlapped
	err := windows.GetQueuedCompletionStatus(windows.Handle(port), &n, &key, &o, timeoutMillis(timeout))
	if o == nil {
		if err != nil { // nothing dequeued: a timeout, a closed port
			return 0, 0, nil, errnoError(err)
		}
		return n, key, nil, nil // a packet posted without an OVERLAPPED
	}
	s := (*sysOverlapped)(unsafe.Pointer(o)) // CONTAINING_RECORD: the OVERLAPPED is its first field
	ov := s.owner
	s.finish()
	if err != nil {
		return n, key, ov, errnoError(err)
	}
	return n, key, ov, nil
}

func (b *sysBackend) PostQueuedCompletionStatus(port kernel.Handle, bytes uint32, key uintptr, ov *Overlapped) error {
	var o *windows.Overlapped
	if ov != nil {
		s := &sysOverlapped{owner: ov, b: b}
		b.mu.Lock()
		b.pinned[s] = struct{}{}
		b.mu.Unlock()
		o = &s.ov
	}
	return errnoError(windows.PostQueuedCompletionStatus(windows.Handle(port), bytes, key, o))
}

// sysThread is a Thread: the OS thread of the goroutine inside its call, locked for the call.
type sysThread struct {
	b  *sysBackend
	mu sync.Mutex
	h  windows.Handle // guarded by mu: the thread while it is inside a call, else 0
}

func (b *sysBackend) NewThread() Thread { return &sysThread{b: b} }

func (t *sysThread) FilterGetMessage(port kernel.Handle, buf []byte, ov *Overlapped) kernel.HRESULT {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, err := windows.OpenThread(windows.THREAD_TERMINATE, false, windows.GetCurrentThreadId())
	if err != nil {
		return hresultOf(errnoError(err))
	}
	t.mu.Lock()
	t.h = h
	t.mu.Unlock()
	hr := t.b.FilterGetMessage(port, buf, ov)
	t.mu.Lock()
	t.h = 0
	t.mu.Unlock()
	_ = windows.CloseHandle(h)
	return hr
}

func (b *sysBackend) CancelSynchronousIo(th Thread) error {
	t, _ := th.(*sysThread)
	if t == nil || t.b != b {
		return kernel.ERROR_INVALID_HANDLE
	}
	t.mu.Lock()
	defer t.mu.Unlock() // the thread handle stays open while it is used
	if t.h == 0 {
		return kernel.ERROR_NOT_FOUND
	}
	if err := procCancelSynchronousIo.Find(); err != nil {
		return errnoError(err)
	}
	if r, _, e := procCancelSynchronousIo.Call(uintptr(t.h)); r == 0 {
		return errnoError(e)
	}
	return nil
}

// callHR calls an fltlib routine that returns an HRESULT. A DLL or routine the system lacks
// is an HRESULT too (ERROR_MOD_NOT_FOUND, ERROR_PROC_NOT_FOUND), where LazyProc.Call would
// panic.
func callHR(p *windows.LazyProc, args ...uintptr) kernel.HRESULT {
	if err := p.Find(); err != nil {
		return hresultOf(errnoError(err))
	}
	r, _, _ := p.Call(args...)
	return kernel.HRESULT(uint32(r))
}

// errnoError converts the error of an x/sys/windows call (an Errno, or a DLLError carrying
// one) to the project's Win32Error.
func errnoError(err error) error {
	if err == nil {
		return nil
	}
	var de *windows.DLLError
	if errors.As(err, &de) && de.Err != nil {
		err = de.Err
	}
	if e, ok := err.(windows.Errno); ok {
		return win32Error(uintptr(e))
	}
	return err
}
