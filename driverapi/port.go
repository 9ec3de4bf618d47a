package driverapi

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fltemu/fltemu/kernel"
)

// Object attribute flags.
const (
	OBJ_INHERIT          = 0x00000002
	OBJ_CASE_INSENSITIVE = 0x00000040
	OBJ_KERNEL_HANDLE    = 0x00000200
)

// FLT_PORT_FLAG_SYNC_HANDLE is the connect option that makes the user's handle synchronous.
// The port access rights (FLT_PORT_CONNECT, FLT_PORT_ALL_ACCESS) are in package kernel, beside
// the port's generic mapping and the access check that uses them.
const FLT_PORT_FLAG_SYNC_HANDLE = 0x1

// MaxConnectionContext is the largest connection context FilterConnectCommunicationPort
// accepts, in bytes.
const MaxConnectionContext = 65511

// ObjectAttributes is OBJECT_ATTRIBUTES as InitializeObjectAttributes fills it for a port.
// SecurityDescriptor decides who may connect: a connect asks for FLT_PORT_ALL_ACCESS
// (0x1F0001), so a user needs an ACE that grants all of it (GA), not only FLT_PORT_CONNECT, or
// a NULL DACL (R-MODEL-2). A nil descriptor lets only SYSTEM connect (R-CREATE-6).
type ObjectAttributes struct {
	ObjectName         string
	Attributes         uint32
	SecurityDescriptor *kernel.SecurityDescriptor
}

// InitializeObjectAttributes emulates the InitializeObjectAttributes macro.
func InitializeObjectAttributes(name string, attributes uint32, sd *kernel.SecurityDescriptor) ObjectAttributes {
	return ObjectAttributes{ObjectName: name, Attributes: attributes, SecurityDescriptor: sd}
}

// ConnectNotify is PFLT_CONNECT_NOTIFY. It runs on the connecting thread after the access and
// slot checks: ctx is that thread, so CurrentProcess(ctx) is the connecting process, as
// PsGetCurrentProcess is on Windows (its token, image name and id tell who connects).
// connectionContext is a copy that is valid only during the call: keep a copy of what you
// need. The connection cookie it returns is handed to DisconnectNotify and MessageNotify. A
// failure status refuses the connection and goes back to the caller (R-CB-1).
type ConnectNotify func(ctx context.Context, clientPort Port, serverPortCookie any, connectionContext []byte) (connectionCookie any, status kernel.NTSTATUS)

// DisconnectNotify is PFLT_DISCONNECT_NOTIFY: called at most once per connection, when the
// last user handle closes or at unload, never after the filter closed the client port itself.
// It is expected to call CloseClientPort (R-CB-2). ctx is the thread it runs on: the user's
// thread that closed the connection, or the thread unloading the filter (a system thread,
// CurrentProcess nil, when the unload is a service stop).
type DisconnectNotify func(ctx context.Context, connectionCookie any)

// MessageNotify is PFLT_MESSAGE_NOTIFY: runs on the user's thread for each FilterSendMessage
// (ctx is that thread: CurrentProcess(ctx) is the sender's process, whose handles the message
// may name). input and output are the user's own buffers, not copies (R-CB-3).
//
// It returns the number of bytes it wrote into output and a status, which the user gets as an
// HRESULT (R-HR). When output is too small for the answer, return STATUS_BUFFER_TOO_SMALL with
// the size the answer needs (or 0, as the samples do): the user's FilterSendMessage gets
// HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) (0x8007007A) and that size in its byte count,
// so it can retry with a buffer large enough (R-CB-3, R-USER Send 4). Return
// STATUS_BUFFER_OVERFLOW when output holds part of the answer (a warning: the count reaches the
// user, with 0x800700EA), and STATUS_INVALID_PARAMETER for an input the driver does not
// understand (0x80070057). For any other status the count must not exceed len(output): a
// larger one is R-VERIFY-5 and is clamped, since Windows hands it to the user unchecked. The
// count reaches the user for success and warning statuses and for STATUS_BUFFER_TOO_SMALL; an
// error status reports 0 bytes (R-USER Send 4). STATUS_PENDING is R-VERIFY-8 (FilterSendMessage
// would never return).
type MessageNotify func(ctx context.Context, connectionCookie any, input, output []byte) (returnOutputBufferLength uint32, status kernel.NTSTATUS)

// ClientPort is the variable in which a driver keeps a client port (a PFLT_PORT). Reading it
// is race-free, so a driver may test it from any goroutine (the scanner sample does, to skip
// scanning while no scanner is connected). SendMessage and CloseClientPort take a pointer to
// it, and CloseClientPort clears it atomically with respect to SendMessage (R-CLOSECLI-1).
//
// A port with MaxConnections above 1 needs one ClientPort per connection: keep it in a
// per-connection value and return that as the cookie from ConnectNotify, which then comes back
// to MessageNotify and DisconnectNotify (DisconnectNotify closes that connection's port).
type ClientPort struct {
	p atomic.Pointer[portBox]
}

type portBox struct{ port Port }

// Load returns the port, nil if none.
func (c *ClientPort) Load() Port {
	if b := c.p.Load(); b != nil {
		return b.port
	}
	return nil
}

// Store sets the port (nil clears it).
func (c *ClientPort) Store(p Port) {
	if p == nil {
		c.p.Store(nil)
		return
	}
	c.p.Store(&portBox{port: p})
}

// Swap sets the port and returns the previous one.
func (c *ClientPort) Swap(p Port) Port {
	var nb *portBox
	if p != nil {
		nb = &portBox{port: p}
	}
	if old := c.p.Swap(nb); old != nil {
		return old.port
	}
	return nil
}

// IsNil reports whether no port is stored.
func (c *ClientPort) IsNil() bool { return c.p.Load() == nil }

// Timeout values for SendMessage, as the WDK gives them in a PLARGE_INTEGER: nil waits
// forever; a pointer to zero does not wait at all; a negative value is relative, in 100 ns
// units; a positive value is an absolute system time (100 ns units since 1601-01-01 UTC).

// RelativeTimeout returns a relative timeout of d (negative 100 ns units).
// RelativeTimeout(0) means "do not wait", like NoWait, not "wait forever" (that is a nil
// timeout): a SendMessage with it hands the message only to a Get already pending and never
// waits for a reply, so it returns STATUS_TIMEOUT at once unless it is a one-way send that
// found a Get (R-SEND-3). A negative duration does not wait either.
func RelativeTimeout(d time.Duration) *int64 {
	v := -int64(d / 100)
	return &v
}

// AbsoluteTimeout returns an absolute timeout at t, in system time.
func AbsoluteTimeout(t time.Time) *int64 {
	v := kernel.SystemTime(t)
	return &v
}

// NoWait returns the zero timeout: do not wait at all.
func NoWait() *int64 {
	var v int64
	return &v
}

// FilterManager is the set of filter-manager routines a driver may call. The emulated filter
// manager (package fltmgr) implements it; a test may wrap it.
type FilterManager interface {
	// RegisterFilter emulates FltRegisterFilter.
	RegisterFilter(driver *DriverObject, registration *Registration) (Filter, kernel.NTSTATUS)
	// StartFiltering emulates FltStartFiltering.
	StartFiltering(filter Filter) kernel.NTSTATUS
	// UnregisterFilter emulates FltUnregisterFilter.
	UnregisterFilter(filter Filter)
	// BuildDefaultSecurityDescriptor emulates FltBuildDefaultSecurityDescriptor: SYSTEM and
	// BUILTIN\Administrators are granted desiredAccess (R-SD). Pass kernel.FLT_PORT_ALL_ACCESS:
	// a connect asks for all of it (R-MODEL-2), so a descriptor built with FLT_PORT_CONNECT
	// alone refuses even administrators. Anyone else needs an ACE of their own (GA), or an
	// SDDL descriptor (kernel.ParseSDDL).
	BuildDefaultSecurityDescriptor(desiredAccess kernel.AccessMask) (*kernel.SecurityDescriptor, kernel.NTSTATUS)
	// FreeSecurityDescriptor emulates FltFreeSecurityDescriptor (the emulator captured a copy
	// at port creation, so freeing is always safe).
	FreeSecurityDescriptor(sd *kernel.SecurityDescriptor)
	// CreateCommunicationPort emulates FltCreateCommunicationPort. attributes must hold
	// OBJ_KERNEL_HANDLE; its SecurityDescriptor (copied: free yours afterwards) decides who may
	// connect, each connect asking for FLT_PORT_ALL_ACCESS (see ObjectAttributes). connect and
	// disconnect are required, message may be nil; maxConnections > 0 (R-CREATE).
	CreateCommunicationPort(filter Filter, attributes *ObjectAttributes, serverPortCookie any,
		connect ConnectNotify, disconnect DisconnectNotify, message MessageNotify,
		maxConnections int32) (ServerPort, kernel.NTSTATUS)
	// CloseCommunicationPort emulates FltCloseCommunicationPort: the name goes away (later
	// connects fail with HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)) and the connections made
	// through the port keep working (R-CLOSESRV). Close a server port once, before
	// UnregisterFilter: a second close is a use after free on Windows, reported as R-VERIFY-4;
	// a port still open at UnregisterFilter is R-VERIFY-1.
	CloseCommunicationPort(serverPort ServerPort)
	// CloseClientPort emulates FltCloseClientPort: it reads and clears *clientPort.
	CloseClientPort(filter Filter, clientPort *ClientPort)
	// SendMessage emulates FltSendMessage. ctx is the calling thread: its cancellation is
	// the thread terminating (STATUS_THREAD_IS_TERMINATING). replyLength is in/out: the reply
	// capacity on entry, the bytes received on return. timeout follows the WDK convention:
	// nil waits forever, RelativeTimeout(0) or NoWait does not wait (see RelativeTimeout).
	//
	// A nil replyBuffer is a one-way send (replyLength is then ignored and may be nil): it
	// still blocks until a FilterGetMessage takes the message, then returns STATUS_SUCCESS
	// without waiting for an answer; the user sees MessageId 0 and has nothing to reply to
	// (R-SEND-6). With no Get in time it returns STATUS_TIMEOUT, a success code, and the
	// message is not delivered: compare with STATUS_SUCCESS. A reply buffer waits for
	// FilterReplyMessage (R-SEND-7, R-SEND-8); STATUS_PORT_DISCONNECTED when no client is
	// connected or the connection ends meanwhile.
	SendMessage(ctx context.Context, filter Filter, clientPort *ClientPort, sendBuffer []byte,
		replyBuffer []byte, replyLength *uint32, timeout *int64) kernel.NTSTATUS
	FileRoutines // file I/O: FltReadFile, contexts, names, volumes, instances (io.go)
}
