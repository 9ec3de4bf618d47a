package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// ErrClosed is returned by the methods of a Conn after Close, and by a Receive that Close
// interrupted. errors.Is(err, net.ErrClosed)-style checks use it.
var ErrClosed = errors.New("fltemu: connection closed")

// OpError is the error of a Conn operation: the operation, the port name, and the fltlib
// HRESULT (or another cause) it wraps, so errors.Is(err, kernel.E_HANDLE) works.
type OpError struct {
	Op   string // "dial", "receive", "reply", "send", "close"
	Port string
	Err  error
}

func (e *OpError) Error() string { return fmt.Sprintf("fltemu: %s %s: %v", e.Op, e.Port, e.Err) }

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// DialOptions are the options of Dial. The zero value is a usable default.
type DialOptions struct {
	// Context is the connection context handed to ConnectNotify (at most 65511 bytes).
	Context []byte
	// SyncHandle asks for a synchronous-only handle (FLT_PORT_FLAG_SYNC_HANDLE).
	SyncHandle bool
	// Inherit makes the handle inheritable by child processes.
	Inherit bool
	// MaxMessageSize is the initial payload capacity of Receive's buffer (default 4096). A
	// larger message is not lost: Receive grows its buffer and asks again.
	MaxMessageSize int
}

// Conn is an idiomatic client of a communication port, built on the fltlib-shaped calls of
// Process (FilterConnectCommunicationPort, FilterGetMessage with an OVERLAPPED, CancelIoEx,
// FilterReplyMessage, FilterSendMessage, CloseHandle). Its methods may be called from several
// goroutines at once.
type Conn struct {
	p    *Process
	h    kernel.Handle
	pf   *portFile // the connection behind h: cancellation goes through it, not the handle
	port string
	sync bool
	size int

	mu     sync.Mutex
	closed bool
}

// Message is a message received from the kernel.
type Message struct {
	// ID is the MessageId to reply to; 0 for a one-way message.
	ID uint64
	// Payload is the message body (without FILTER_MESSAGE_HEADER). It belongs to the caller.
	Payload []byte
	// ReplyCapacity is the number of reply payload bytes the sender accepts (its reply
	// buffer), 0 for a one-way message.
	ReplyCapacity int
}

// WantsReply reports whether the sender waits for a reply.
func (m *Message) WantsReply() bool { return m.ID != 0 }

// Dial connects process p to the named port (FilterConnectCommunicationPort). ctx is checked
// before connecting: ConnectNotify runs synchronously and cannot be interrupted. Errors wrap
// the HRESULT, e.g. errors.Is(err, kernel.E_ACCESSDENIED) for a token the port's descriptor
// refuses, or HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) for a port that does not exist.
func Dial(ctx context.Context, p *Process, portName string, opts *DialOptions) (*Conn, error) {
	if p == nil {
		return nil, &OpError{Op: "dial", Port: portName, Err: kernel.E_INVALIDARG}
	}
	if err := ctx.Err(); err != nil {
		return nil, &OpError{Op: "dial", Port: portName, Err: err}
	}
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxMessageSize < 0 {
		return nil, &OpError{Op: "dial", Port: portName, Err: fmt.Errorf("negative MaxMessageSize %d: %w", o.MaxMessageSize, kernel.E_INVALIDARG)}
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 4096
	}
	var options uint32
	if o.SyncHandle {
		options = driverapi.FLT_PORT_FLAG_SYNC_HANDLE
	}
	var sa *SecurityAttributes
	if o.Inherit {
		sa = &SecurityAttributes{InheritHandle: true}
	}
	var ctxBytes []byte
	if len(o.Context) > 0 {
		ctxBytes = o.Context
	}
	h, hr := p.FilterConnectCommunicationPort(portName, options, ctxBytes, len(ctxBytes), sa)
	if hr != kernel.S_OK {
		return nil, &OpError{Op: "dial", Port: portName, Err: hr}
	}
	pf, _ := p.portFile(h)
	return &Conn{p: p, h: h, pf: pf, port: portName, sync: o.SyncHandle, size: o.MaxMessageSize}, nil
}

// Handle returns the connection's handle in its process, for the fltlib-shaped calls.
func (c *Conn) Handle() kernel.Handle { return c.h }

// Process returns the process that owns the connection.
func (c *Conn) Process() *Process { return c.p }

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Receive waits for the next kernel message (FilterGetMessage). It returns ctx's error when
// ctx ends first (the Get is cancelled with CancelIoEx; a message that arrived meanwhile is
// returned instead), ErrClosed when Close interrupted it, and an error wrapping E_HANDLE when
// the kernel ended the connection (the filter closed the client port or is unloading).
func (c *Conn) Receive(ctx context.Context) (*Message, error) {
	size := c.size
	for {
		if c.isClosed() {
			return nil, ErrClosed
		}
		buf := make([]byte, driverapi.FilterMessageHeaderSize+size)
		st, n := c.get(ctx, buf)
		switch st {
		case kernel.STATUS_SUCCESS:
			hdr, _ := driverapi.ParseFilterMessageHeader(buf)
			return &Message{ID: hdr.MessageId, Payload: driverapi.FilterMessagePayload(buf, n), ReplyCapacity: hdr.ReplyCapacity()}, nil
		case kernel.STATUS_BUFFER_TOO_SMALL:
			size = int(n) - driverapi.FilterMessageHeaderSize // the message waits for a larger Get
			continue
		case kernel.STATUS_CANCELLED:
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if c.isClosed() {
			return nil, ErrClosed // Close interrupted the Get, or closed the handle first
		}
		return nil, &OpError{Op: "receive", Port: c.port, Err: kernel.HResultFromNtStatus(st)}
	}
}

// get issues one FilterGetMessage and waits for it, cancelling it when ctx ends. Only this
// call's own request is ever cancelled, through the connection (not the handle, which Close
// may have closed meanwhile); a Close that ran before the request was queued is noticed right
// after queuing.
func (c *Conn) get(ctx context.Context, buf []byte) (kernel.NTSTATUS, uint32) {
	if c.sync {
		// A synchronous handle takes no OVERLAPPED: cancel the blocked call from outside.
		sg := &syncGet{ch: make(chan getResult, 1)}
		cancel := func() { c.pf.conn.CancelGets(func(t any) bool { return t == any(sg) }) }
		stop := context.AfterFunc(ctx, cancel)
		hr, n := c.p.syncGetMessage(c.h, buf, sg, func() {
			if ctx.Err() != nil || c.isClosed() {
				cancel()
			}
		})
		stop()
		return hresultStatus(hr), n
	}
	ov := &Overlapped{Event: kernel.NewEvent(true, false)}
	if hr := c.p.FilterGetMessage(c.h, buf, ov); hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
		return hresultStatus(hr), 0
	}
	cancel := func() { c.pf.conn.CancelGets(func(t any) bool { return t == any(ov) }) }
	if c.isClosed() {
		cancel()
	}
	if ov.Event.Wait(ctx) != nil {
		cancel()
		_ = ov.Event.Wait(context.Background()) // the cancellation or the message completes it
	}
	return ov.Result()
}

// hresultStatus maps the HRESULTs a Get can return back to the status Receive switches on.
func hresultStatus(hr kernel.HRESULT) kernel.NTSTATUS {
	switch hr {
	case kernel.S_OK:
		return kernel.STATUS_SUCCESS
	case kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED):
		return kernel.STATUS_CANCELLED
	case kernel.E_HANDLE:
		return kernel.STATUS_PORT_DISCONNECTED
	case kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER):
		return kernel.STATUS_BUFFER_TOO_SMALL
	}
	return kernel.STATUS_UNSUCCESSFUL
}

// Reply answers m with status and payload (FilterReplyMessage). It returns an error wrapping
// ERROR_FLT_NO_WAITER_FOR_REPLY when the sender no longer waits (it timed out, or m was
// one-way), HRESULT_FROM_WIN32(ERROR_MORE_DATA) when payload was longer than
// m.ReplyCapacity (the sender got the truncated reply), ErrClosed after Close.
func (c *Conn) Reply(m *Message, status kernel.NTSTATUS, payload []byte) error {
	if c.isClosed() {
		return ErrClosed
	}
	if m == nil {
		return &OpError{Op: "reply", Port: c.port, Err: kernel.E_INVALIDARG}
	}
	if hr := c.p.FilterReplyMessage(c.h, driverapi.NewFilterReply(status, m.ID, payload)); hr != kernel.S_OK {
		return &OpError{Op: "reply", Port: c.port, Err: hr}
	}
	return nil
}

// Send sends in to the driver's MessageNotify and returns the number of bytes it wrote into
// out (FilterSendMessage). MessageNotify runs synchronously on this goroutine; ctx is checked
// only before the call. A failure status of the callback comes back as an error wrapping its
// HRESULT.
func (c *Conn) Send(ctx context.Context, in, out []byte) (int, error) {
	if c.isClosed() {
		return 0, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, &OpError{Op: "send", Port: c.port, Err: err}
	}
	var n uint32
	if hr := c.p.FilterSendMessage(c.h, in, out, &n); hr != kernel.S_OK {
		return int(n), &OpError{Op: "send", Port: c.port, Err: hr}
	}
	return int(n), nil
}

// Close cancels this connection's pending Receives and closes the handle (CancelIoEx, then
// CloseHandle). If it was the connection's last handle, the driver's DisconnectNotify has run
// when Close returns. A second Close returns ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.p.CancelIoEx(c.h, nil)
	if err := c.p.CloseHandle(c.h); err != nil {
		return &OpError{Op: "close", Port: c.port, Err: err}
	}
	return nil
}
