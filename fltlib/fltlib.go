// Package fltlib is the user-mode side of a minifilter's communication ports (fltuser.h and
// the kernel32 calls a service uses with them), in two layers over one small interface.
//
// The faithful layer is [Backend]: FilterConnectCommunicationPort, FilterGetMessage (with or
// without an [Overlapped]), FilterReplyMessage, FilterSendMessage, CloseHandle, CancelIoEx,
// CancelSynchronousIo, GetOverlappedResult and the I/O completion port calls, on byte buffers
// that carry the real FILTER_MESSAGE_HEADER and FILTER_REPLY_HEADER (the codec is in driverapi,
// shared with the kernel side), returning the real HRESULTs and Win32 errors. C service code
// ports to it line by line.
//
// The idiomatic layer is [Dial] and [Conn]: Receive with a context, Reply, Send, Close, errors
// of type [*OpError] that wrap the HRESULT a call returned (errors.Is(err, kernel.E_HANDLE)),
// net.ErrClosed after Close. It is written once, over Backend, and makes every decision
// (header parsing, buffer growth, cancellation bookkeeping, closing the handle exactly once) in
// portable code.
//
// Two backends implement Backend: the emulator (a *harness.Process of a test world) and real
// Windows ([System], over fltlib.dll and kernel32, built only for windows). A service written
// against this package is tested under go test against a Go model of its driver and ships
// unchanged. The conformance suite in fltlib/fltlibtest runs the same scenarios against either.
package fltlib

import (
	"sync"
	"time"

	"github.com/fltemu/fltemu/kernel"
)

// INFINITE is the timeout that never expires, for GetQueuedCompletionStatus.
const INFINITE time.Duration = -1

// MapViewOfFile access (dwDesiredAccess, memoryapi.h).
const (
	FILE_MAP_COPY       uint32 = 0x0001
	FILE_MAP_WRITE      uint32 = 0x0002 // SECTION_MAP_WRITE
	FILE_MAP_READ       uint32 = 0x0004 // SECTION_MAP_READ
	FILE_MAP_ALL_ACCESS uint32 = 0xF001F
)

// SecurityAttributes is SECURITY_ATTRIBUTES: only bInheritHandle is carried.
type SecurityAttributes struct {
	InheritHandle bool
}

// Backend is the fltlib and kernel32 surface a service uses with a communication port. Each
// method behaves as the Windows routine of the same name: results are HRESULTs (the fltlib
// routines) or Win32 errors (kernel32), never panics, for any argument (nil or short buffers,
// closed or foreign handles).
type Backend interface {
	// FilterConnectCommunicationPort connects to the named port. context is lpContext, of which
	// sizeOfContext bytes are sent (wSizeOfContext); options may be FLT_PORT_FLAG_SYNC_HANDLE;
	// sa decides whether the handle is inheritable. The port's security descriptor must grant
	// the caller FLT_PORT_ALL_ACCESS (0x1F0001), not only FLT_PORT_CONNECT: else E_ACCESSDENIED.
	FilterConnectCommunicationPort(portName string, options uint32, context []byte, sizeOfContext int, sa *SecurityAttributes) (kernel.Handle, kernel.HRESULT)
	// FilterGetMessage receives a message into buf (FILTER_MESSAGE_HEADER and payload). With ov
	// nil it blocks; with ov it returns HRESULT_FROM_WIN32(ERROR_IO_PENDING) and completes
	// through ov (on a FLT_PORT_FLAG_SYNC_HANDLE handle it completes before returning). buf
	// must stay untouched until the request completes.
	FilterGetMessage(port kernel.Handle, buf []byte, ov *Overlapped) kernel.HRESULT
	// FilterReplyMessage answers a message: buf is FILTER_REPLY_HEADER and the payload.
	FilterReplyMessage(port kernel.Handle, buf []byte) kernel.HRESULT
	// FilterSendMessage calls the driver's MessageNotify with in and out; bytesReturned, if
	// not nil, receives the byte count it reported.
	FilterSendMessage(port kernel.Handle, in, out []byte, bytesReturned *uint32) kernel.HRESULT
	// CloseHandle closes a handle.
	CloseHandle(h kernel.Handle) error
	// CancelIoEx cancels the requests this process issued on h with ov (all of them when ov
	// is nil); ERROR_NOT_FOUND when there was none.
	CancelIoEx(h kernel.Handle, ov *Overlapped) error
	// GetOverlappedResult returns the byte count and the error of the request of ov; with
	// wait it waits for the request to complete, else a pending one is ERROR_IO_INCOMPLETE.
	GetOverlappedResult(h kernel.Handle, ov *Overlapped, wait bool) (uint32, error)
	// CreateIoCompletionPort makes a completion port (file InvalidHandle, existing 0) or
	// associates file with one under key.
	CreateIoCompletionPort(file, existing kernel.Handle, key uintptr, concurrency uint32) (kernel.Handle, error)
	// GetQueuedCompletionStatus dequeues a completion, waiting up to timeout (INFINITE: no
	// limit): its byte count, key, Overlapped and the request's error.
	GetQueuedCompletionStatus(port kernel.Handle, timeout time.Duration) (uint32, uintptr, *Overlapped, error)
	// PostQueuedCompletionStatus queues a completion packet of one's own.
	PostQueuedCompletionStatus(port kernel.Handle, bytes uint32, key uintptr, ov *Overlapped) error
	// FilterAttach attaches an instance of the named filter to a volume and returns the new
	// instance's name; instanceName "" asks for the filter's default instance.
	FilterAttach(filterName, volumeName, instanceName string) (string, kernel.HRESULT)
	// FilterDetach detaches an instance of the named filter from a volume.
	FilterDetach(filterName, volumeName, instanceName string) kernel.HRESULT
	// MapViewOfFile maps a view of a section (a handle a filter made for this process, such as
	// the data-scan section of the avscan sample); numberOfBytesToMap 0 maps to the end.
	MapViewOfFile(section kernel.Handle, desiredAccess uint32, fileOffsetHigh, fileOffsetLow uint32, numberOfBytesToMap uintptr) ([]byte, error)
	// UnmapViewOfFile unmaps a view MapViewOfFile returned; the view must not be used after.
	UnmapViewOfFile(view []byte) error
	// NewThread returns a thread to make blocking calls on that CancelSynchronousIo can cancel.
	NewThread() Thread
	// CancelSynchronousIo cancels the synchronous call t is blocked in; ERROR_NOT_FOUND when t
	// is not in one (not yet, or no longer: a caller racing the call retries).
	CancelSynchronousIo(t Thread) error
}

// Thread stands for the thread that blocks in a synchronous call, which CancelSynchronousIo
// names. On Windows that is the calling OS thread; a goroutine has no such identity, so a
// blocking call another goroutine may have to cancel is made through a Thread. A Thread makes
// one call at a time; a Thread of one backend means nothing to another.
type Thread interface {
	// FilterGetMessage is Backend.FilterGetMessage issued by this thread.
	FilterGetMessage(port kernel.Handle, buf []byte, ov *Overlapped) kernel.HRESULT
}

// Overlapped is OVERLAPPED: it carries an optional event set when the request completes and,
// once completed, the request's status (Internal) and byte count (InternalHigh). It must not
// be copied once used, and may be reused for a new request only after the previous one
// completed. The backend that issued the request keeps its own record of it in the Overlapped.
type Overlapped struct {
	// Event, if not nil, is set when the request completes (hEvent).
	Event *kernel.KEvent

	mu     sync.Mutex
	status kernel.NTSTATUS // guarded by mu: Internal, for a backend that fills it itself
	bytes  uint32          // guarded by mu: InternalHigh, likewise
	req    any             // guarded by mu: the issuing backend's record of the request
	sys    sysRequest      // guarded by mu: the OS's OVERLAPPED, on Windows
}

// sysRequest is a request whose status the operating system writes (the Windows backend).
type sysRequest interface {
	result() (kernel.NTSTATUS, uint32)
}

// Result returns the request's status and byte count: STATUS_PENDING while it is in flight.
func (o *Overlapped) Result() (kernel.NTSTATUS, uint32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sys != nil {
		return o.sys.result()
	}
	return o.status, o.bytes
}

// Begin is for backends: it marks the request of o as issued and pending, remembers req (the
// backend's record of it, see Request) and resets the event.
func (o *Overlapped) Begin(req any) {
	o.mu.Lock()
	o.status, o.bytes, o.req, o.sys = kernel.STATUS_PENDING, 0, req, nil
	o.mu.Unlock()
	if o.Event != nil {
		o.Event.Reset()
	}
}

// Complete is for backends: it records the request's status and byte count and sets the event.
func (o *Overlapped) Complete(st kernel.NTSTATUS, n uint32) {
	o.mu.Lock()
	o.status, o.bytes = st, n
	o.mu.Unlock()
	if o.Event != nil {
		o.Event.Set()
	}
}

// Request is for backends: the record the backend passed to Begin for the request last
// issued with o, nil if none was.
func (o *Overlapped) Request() any {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.req
}
