package fltlib

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// ErrClosed is what the error of a Conn method wraps after Close, and the error of a Receive
// that Close interrupted: errors.Is(err, net.ErrClosed) holds.
var ErrClosed = net.ErrClosed

// OpError is the error of a Conn operation: the operation, the port name, and the fltlib
// HRESULT (or another cause) it wraps, so errors.Is(err, kernel.E_HANDLE) works, and
// errors.As(err, &hr) with a kernel.HRESULT hr extracts the code itself.
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
	// SyncHandle asks for a synchronous-only handle (FLT_PORT_FLAG_SYNC_HANDLE). All I/O on
	// such a handle is serialized, as Windows does for any synchronous file handle: while a
	// Receive waits for a message, Reply, Send and other Receives wait for it to return. So a
	// service that receives on one goroutine and replies on another deadlocks on a
	// synchronous handle (the emulator reports it, R-VERIFY-10); leave SyncHandle false for
	// that design. A call still waiting for its turn returns when its ctx ends.
	SyncHandle bool
	// Inherit makes the handle inheritable by child processes.
	Inherit bool
	// MaxMessageSize is the initial payload capacity of Receive's buffer (default 4096). A
	// larger message is not lost: Receive grows its buffer and asks again.
	MaxMessageSize int
}

// Conn is an idiomatic client of a communication port, built only on the calls of its
// Backend: FilterConnectCommunicationPort, FilterGetMessage with an OVERLAPPED (on a Thread
// for a synchronous handle), CancelIoEx, CancelSynchronousIo, FilterReplyMessage,
// FilterSendMessage, CloseHandle. Its methods may be called from several goroutines at once.
//
// The handle is closed exactly once, and never while one of the Conn's calls is using it (its
// value could otherwise be reused for another object): each call holds a reference while it
// is inside a call on the handle, and the last reference closes it.
type Conn struct {
	b       Backend
	h       kernel.Handle
	port    string
	sync    bool
	size    int
	closing chan struct{} // closed by Close: wakes the cancellers of synchronous Receives
	turn    chan struct{} // a synchronous handle's calls, one at a time; nil for an asynchronous one
	life    closeOnce     // of h: each call acquires it; Close finishes it
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

// Dial connects to the named port through backend b (FilterConnectCommunicationPort). ctx is checked
// before connecting: ConnectNotify runs synchronously and cannot be interrupted. Errors wrap
// the HRESULT, e.g. errors.Is(err, kernel.E_ACCESSDENIED) for a token the port's descriptor
// refuses, HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (0x80070002) for a port that does not
// exist, or HRESULT_FROM_WIN32(ERROR_CONNECTION_COUNT_LIMIT) (0x800704D6) when the port already
// has its MaxConnections clients. errors.As(err, &hr) with a kernel.HRESULT hr gives the exact
// code, for a test that asserts it.
//
// The access asked for is FLT_PORT_ALL_ACCESS (0x1F0001), as fltmgr asks: the descriptor must
// grant the caller's token all of it (GA), not only FLT_PORT_CONNECT. The default descriptor
// (FltBuildDefaultSecurityDescriptor) lets only SYSTEM and administrators in; a process at Low
// integrity also needs a Low mandatory label on the port.
func Dial(ctx context.Context, b Backend, portName string, opts *DialOptions) (*Conn, error) {
	if b == nil {
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
	h, hr := b.FilterConnectCommunicationPort(portName, options, ctxBytes, len(ctxBytes), sa)
	if hr != kernel.S_OK {
		return nil, &OpError{Op: "dial", Port: portName, Err: hr}
	}
	c := &Conn{b: b, h: h, port: portName, sync: o.SyncHandle, size: o.MaxMessageSize, closing: make(chan struct{})}
	c.life.close = func() error { return b.CloseHandle(h) }
	if c.sync {
		c.turn = make(chan struct{}, 1)
	}
	return c, nil
}

// Handle returns the connection's handle, for the faithful calls of the backend. It is valid
// until Close.
func (c *Conn) Handle() kernel.Handle { return c.h }

// Backend returns the backend the connection was dialed through.
func (c *Conn) Backend() Backend { return c.b }

func (c *Conn) opError(op string, err error) error { return &OpError{Op: op, Port: c.port, Err: err} }

var (
	hrAborted         = kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED)
	hrPending         = kernel.HResultFromWin32(kernel.ERROR_IO_PENDING)
	hrInsufficientBuf = kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER)
)

// Receive waits for the next kernel message (FilterGetMessage). It returns an error wrapping
// ctx's error when ctx ends first (only this call's Get is cancelled; a message that arrived
// meanwhile is returned instead), ErrClosed when Close interrupted it, and otherwise the
// HRESULT of the Get, unchanged: E_HANDLE when the kernel ended the connection (the filter
// closed the client port or is unloading).
func (c *Conn) Receive(ctx context.Context) (*Message, error) {
	size := c.size
	for {
		buf := make([]byte, driverapi.FilterMessageHeaderSize+size)
		hr, n, err := c.get(ctx, buf)
		if err != nil {
			return nil, err
		}
		switch hr {
		case kernel.S_OK:
			hdr, _ := driverapi.ParseFilterMessageHeader(buf)
			return &Message{ID: hdr.MessageId, Payload: driverapi.FilterMessagePayload(buf, n), ReplyCapacity: hdr.ReplyCapacity()}, nil
		case hrInsufficientBuf:
			// The message waits for a larger Get; the completion says how large.
			if int(n) > len(buf) {
				size = int(n) - driverapi.FilterMessageHeaderSize
			} else {
				size = 2*size + 1
			}
			continue
		case hrAborted:
			if err := ctx.Err(); err != nil {
				return nil, c.opError("receive", err)
			}
			if c.life.finished() {
				return nil, c.opError("receive", ErrClosed)
			}
		}
		return nil, c.opError("receive", hr)
	}
}

// get issues one Get into buf and waits for it. It returns the Get's HRESULT and byte count,
// or an error when Close came first.
func (c *Conn) get(ctx context.Context, buf []byte) (kernel.HRESULT, uint32, error) {
	if !c.life.acquire() {
		return 0, 0, c.opError("receive", ErrClosed)
	}
	if c.sync {
		return c.syncGet(ctx, buf)
	}
	ov := &Overlapped{Event: kernel.NewEvent(true, false)}
	hr := c.b.FilterGetMessage(c.h, buf, ov)
	if hr == hrPending && c.life.finished() {
		// Close ran while the Get was being queued: its CancelIoEx may have missed it.
		_ = c.b.CancelIoEx(c.h, ov)
	}
	_ = c.life.release()
	if hr != hrPending {
		return hr, 0, nil
	}
	if ov.Event.Wait(ctx) != nil {
		if c.life.acquire() { // after Close, Close's own CancelIoEx took care of it
			_ = c.b.CancelIoEx(c.h, ov)
			_ = c.life.release()
		}
		_ = ov.Event.Wait(context.Background()) // the cancellation or the message completes it
	}
	st, n := ov.Result()
	return kernel.HResultFromNtStatus(st), n, nil
}

// syncGet is get on a synchronous handle: the call blocks a thread, which the canceller
// (woken by ctx or Close) cancels with CancelSynchronousIo until the call returns. The
// OVERLAPPED is there for the byte count the synchronous form does not report.
func (c *Conn) syncGet(ctx context.Context, buf []byte) (kernel.HRESULT, uint32, error) {
	if err := c.takeTurn(ctx); err != nil {
		_ = c.life.release()
		return 0, 0, c.opError("receive", err)
	}
	defer c.endTurn()
	th := c.b.NewThread()
	returned := make(chan struct{})
	cancelled := make(chan struct{})
	go func() {
		defer close(cancelled)
		select {
		case <-returned:
			return
		case <-ctx.Done():
		case <-c.closing:
		}
		// CancelSynchronousIo finds nothing before the thread has entered the call: retry.
		for c.b.CancelSynchronousIo(th) != nil {
			select {
			case <-returned:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	ov := &Overlapped{}
	hr := th.FilterGetMessage(c.h, buf, ov)
	close(returned)
	<-cancelled
	_ = c.life.release()
	_, n := ov.Result()
	return hr, n, nil
}

// takeTurn waits until no other call of a synchronous-handle Conn is in the kernel (the
// serialization Windows imposes on the handle, done here first so that a call still waiting
// can give up when its ctx ends or the Conn closes). It does nothing on an asynchronous one.
func (c *Conn) takeTurn(ctx context.Context) error {
	if c.turn == nil {
		return nil
	}
	select {
	case c.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return ErrClosed
	}
}

// endTurn lets the next call of a synchronous-handle Conn in.
func (c *Conn) endTurn() {
	if c.turn != nil {
		<-c.turn
	}
}

// Reply answers m with status and payload (FilterReplyMessage). It returns an error wrapping
// ERROR_FLT_NO_WAITER_FOR_REPLY when the sender no longer waits (it timed out, or m was
// one-way), HRESULT_FROM_WIN32(ERROR_MORE_DATA) when payload was longer than
// m.ReplyCapacity (the sender got the truncated reply), ErrClosed after Close.
func (c *Conn) Reply(m *Message, status kernel.NTSTATUS, payload []byte) error {
	if m == nil {
		return c.opError("reply", kernel.E_INVALIDARG)
	}
	if !c.life.acquire() {
		return c.opError("reply", ErrClosed)
	}
	if err := c.takeTurn(context.Background()); err != nil {
		_ = c.life.release()
		return c.opError("reply", err)
	}
	hr := c.b.FilterReplyMessage(c.h, driverapi.NewFilterReply(status, m.ID, payload))
	c.endTurn()
	_ = c.life.release()
	if hr != kernel.S_OK {
		return c.opError("reply", hr)
	}
	return nil
}

// Send sends in to the driver's MessageNotify and returns the number of bytes it wrote into
// out (FilterSendMessage). MessageNotify runs synchronously on this goroutine; ctx is checked
// only before the call. A failure status of the callback comes back as an error wrapping its
// HRESULT: STATUS_BUFFER_TOO_SMALL, what a driver returns when out is too small, is
// errors.Is(err, kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER)) (0x8007007A),
// and n is the count the driver reported with it: the size it needs, or 0 (as in the samples).
func (c *Conn) Send(ctx context.Context, in, out []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, c.opError("send", err)
	}
	if !c.life.acquire() {
		return 0, c.opError("send", ErrClosed)
	}
	if err := c.takeTurn(ctx); err != nil {
		_ = c.life.release()
		return 0, c.opError("send", err)
	}
	var n uint32
	hr := c.b.FilterSendMessage(c.h, in, out, &n)
	c.endTurn()
	_ = c.life.release()
	if hr != kernel.S_OK {
		return int(n), c.opError("send", hr)
	}
	return int(n), nil
}

// Close cancels this connection's pending Receives and closes the handle (CancelIoEx,
// CancelSynchronousIo, then CloseHandle). If it was the connection's last handle and no other
// call of the Conn was still inside the kernel (a Send whose MessageNotify runs), the driver's
// DisconnectNotify has run when Close returns; otherwise the last of those calls closes the
// handle when it returns. A second Close returns an error wrapping ErrClosed.
func (c *Conn) Close() error {
	if !c.life.acquire() { // the handle stays open for the cancellation below
		return c.opError("close", ErrClosed)
	}
	if first, _ := c.life.finish(); !first {
		_ = c.life.release()
		return c.opError("close", ErrClosed)
	}
	close(c.closing)
	_ = c.b.CancelIoEx(c.h, nil)
	if err := c.life.release(); err != nil {
		return c.opError("close", err)
	}
	return nil
}
