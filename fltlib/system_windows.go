//go:build windows

package fltlib

import (
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

// System returns the backend of the running Windows system: fltlib.dll and kernel32.
// instanceNameMaxChars is INSTANCE_NAME_MAX_CHARS: the longest instance name FilterAttach
// returns.
const instanceNameMaxChars = 255

func System() Backend { return &sysBackend{pinned: map[*sysOverlapped]struct{}{}} }

type sysBackend struct {
	mu     sync.Mutex
	pinned map[*sysOverlapped]struct{} // guarded by mu: requests the OS may still write into
}

// sysOverlapped is the OS's OVERLAPPED of a request (first, so that the pointer a completion
// port returns leads back to it), the buffer the OS writes into, and the event the request
// signals. It stays referenced from pinned until its completion has been observed.
type sysOverlapped struct {
	ov    windows.Overlapped
	owner *Overlapped
	buf   []byte
	b     *sysBackend
	once  sync.Once
}

func (s *sysOverlapped) result() (kernel.NTSTATUS, uint32) {
	return kernel.NTSTATUS(uint32(s.ov.Internal)), uint32(s.ov.InternalHigh)
}

func (s *sysOverlapped) pending() bool {
	st, _ := s.result()
	return st == kernel.STATUS_PENDING
}

// finish runs once the completion of a request has been observed: the OS no longer writes
// into it, its event closes, the Go event is set.
func (s *sysOverlapped) finish() {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.pinned, s)
		s.b.mu.Unlock()
		if s.ov.HEvent != 0 {
			_ = windows.CloseHandle(s.ov.HEvent)
		}
		if s.owner != nil && s.owner.Event != nil {
			s.owner.Event.Set()
		}
	})
}

// begin makes the OS OVERLAPPED for a request of ov into buf, with its own event.
func (b *sysBackend) begin(ov *Overlapped, buf []byte) (*sysOverlapped, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, err
	}
	s := &sysOverlapped{owner: ov, buf: buf, b: b}
	s.ov.HEvent = ev
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
	r, _, _ := procFilterConnectCommunicationPort.Call(uintptr(unsafe.Pointer(name)), uintptr(options),
		uintptr(ctx), uintptr(uint16(sizeOfContext)), uintptr(unsafe.Pointer(wsa)), uintptr(unsafe.Pointer(&h)))
	if hr := kernel.HRESULT(uint32(r)); hr != kernel.S_OK {
		return kernel.InvalidHandle, hr
	}
	return kernel.Handle(h), kernel.S_OK
}

func (b *sysBackend) FilterGetMessage(port kernel.Handle, buf []byte, ov *Overlapped) kernel.HRESULT {
	if hr := checkGetBuffer(buf); hr != kernel.S_OK {
		return hr
	}
	if ov == nil {
		r, _, _ := procFilterGetMessage.Call(uintptr(port), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
		return kernel.HRESULT(uint32(r))
	}
	s, err := b.begin(ov, buf)
	if err != nil {
		return hresultOf(errnoError(err))
	}
	r, _, _ := procFilterGetMessage.Call(uintptr(port), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&s.ov)))
	hr := kernel.HRESULT(uint32(r))
	switch {
	case hr == hrPending:
		if ov.Event != nil {
			go func() { // the Go event follows the OS event
				_, _ = windows.WaitForSingleObject(s.ov.HEvent, windows.INFINITE)
				s.finish()
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
		// associated with a completion port still gets a packet, which releases it.
		if ov.Event != nil {
			ov.Event.Set()
		}
	}
	return hr
}

func (b *sysBackend) FilterReplyMessage(port kernel.Handle, buf []byte) kernel.HRESULT {
	if hr := checkReplyBuffer(buf); hr != kernel.S_OK {
		return hr
	}
	r, _, _ := procFilterReplyMessage.Call(uintptr(port), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return kernel.HRESULT(uint32(r))
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
	r, _, _ := procFilterSendMessage.Call(uintptr(port), uintptr(unsafe.Pointer(&in[0])), uintptr(len(in)),
		uintptr(outp), uintptr(len(out)), uintptr(unsafe.Pointer(&n)))
	if bytesReturned != nil {
		*bytesReturned = n
	}
	return kernel.HRESULT(uint32(r))
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
	r, _, _ := procFilterAttach.Call(uintptr(unsafe.Pointer(f)), uintptr(unsafe.Pointer(v)), uintptr(unsafe.Pointer(inst)),
		uintptr(len(created)*2), uintptr(unsafe.Pointer(&created[0])))
	if hr := kernel.HRESULT(uint32(r)); hr != kernel.S_OK {
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
	r, _, _ := procFilterDetach.Call(uintptr(unsafe.Pointer(f)), uintptr(unsafe.Pointer(v)), uintptr(unsafe.Pointer(inst)))
	return kernel.HRESULT(uint32(r))
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
		if _, err := windows.WaitForSingleObject(s.ov.HEvent, windows.INFINITE); err != nil {
			return 0, errnoError(err)
		}
	}
	st, n := ov.Result()
	if st == kernel.STATUS_PENDING {
		return 0, kernel.ERROR_IO_INCOMPLETE
	}
	return n, completionError(st)
}

func (b *sysBackend) CreateIoCompletionPort(file, existing kernel.Handle, key uintptr, concurrency uint32) (kernel.Handle, error) {
	h, err := windows.CreateIoCompletionPort(windows.Handle(file), windows.Handle(existing), key, concurrency)
	if err != nil {
		return kernel.InvalidHandle, errnoError(err)
	}
	return kernel.Handle(h), nil
}

func (b *sysBackend) GetQueuedCompletionStatus(port kernel.Handle, timeout time.Duration) (uint32, uintptr, *Overlapped, error) {
	var n uint32
	var key uintptr
	var o *windows.Overlapped
	err := windows.GetQueuedCompletionStatus(windows.Handle(port), &n, &key, &o, timeoutMillis(timeout))
	if o == nil {
		return 0, 0, nil, errnoError(err)
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
	if r, _, e := procCancelSynchronousIo.Call(uintptr(t.h)); r == 0 {
		return errnoError(e)
	}
	return nil
}

// errnoError converts the error of an x/sys/windows call to the project's Win32Error.
func errnoError(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(windows.Errno); ok {
		return win32Error(uintptr(e))
	}
	return err
}
