package fltmgr

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// Connection is one connection to a communication port. Its kernel endpoint is the client
// port handed to ConnectNotify (it implements driverapi.Port); its user endpoint is the handle
// the harness opened in the connecting process, whose methods here (Get, Reply, Send, ...) are
// the kernel half of the fltlib calls. Each connection has its own queues and its own message
// ids (R-MODEL-3).
type Connection struct {
	m        *Manager
	f        *filter
	port     *serverPort
	proc     *kernel.Process
	procName string
	id       uint64
	cookie   any // set once, before the user gets its handle

	down         atomic.Bool // disconnected; read without the lock on the user-send path
	msgs         rundown     // MessageNotify calls in flight on this connection
	kernelClosed atomic.Bool // FltCloseClientPort (or teardown) ran; written under f.mu
	notified     bool        // guarded by f.mu: DisconnectNotify ran or must not run

	mu      sync.Mutex
	gets    []getEntry // pending FilterGetMessage requests, oldest first
	senders []*sendOp  // senders waiting for a Get, oldest first
	waiters map[uint64]*sendOp
	nextID  uint64
	cause   string // why the connection ended
}

// GetCompletion receives the result of a FilterGetMessage request. GetCompleted is called
// exactly once per accepted request, with no lock held: n is the number of bytes written
// (FILTER_MESSAGE_HEADER + payload) on success, or the size needed with STATUS_BUFFER_TOO_SMALL.
type GetCompletion interface {
	GetCompleted(status kernel.NTSTATUS, n uint32)
}

type getEntry struct {
	buf  []byte
	tag  any
	done GetCompletion
}

// sendOp is one FltSendMessage call in flight. It is pooled: a sender consumes every token
// sent on ch before it returns, so a recycled op starts with an empty channel.
type sendOp struct {
	msg     []byte
	reply   []byte // nil for a one-way message
	id      uint64
	queued  bool // in Connection.senders (guarded by mu)
	waiting bool // in Connection.waiters (guarded by mu)
	dst     kernel.NTSTATUS
	rst     kernel.NTSTATUS
	n       uint32
	ch      chan struct{} // capacity 2: "delivered" and "final"
}

func newConnection(m *Manager, p *serverPort, proc *kernel.Process) *Connection {
	return &Connection{
		m: m, f: p.f, port: p, proc: proc, procName: proc.String(),
		id:      m.connIDs.Add(1),
		waiters: make(map[uint64]*sendOp),
	}
}

// ConnectionID identifies the connection in traces and verifier messages (unique per world).
func (c *Connection) ConnectionID() uint64 { return c.id }

// PortName returns the name of the server port the connection was made through.
func (c *Connection) PortName() string { return c.port.name }

// Process returns the process that connected.
func (c *Connection) Process() *kernel.Process { return c.proc }

// Disconnected reports whether the connection has ended.
func (c *Connection) Disconnected() bool { return c.down.Load() }

func (c *Connection) String() string {
	return fmt.Sprintf("connection %d to %q from %s", c.id, c.port.name, c.procName)
}

// writeMessage lays FILTER_MESSAGE_HEADER and the payload into buf and returns the length.
func writeMessage(buf []byte, op *sendOp) uint32 {
	hdr := driverapi.FilterMessageHeader{MessageId: op.id}
	if op.reply != nil {
		hdr.ReplyLength = driverapi.MessageReplyLength(len(op.reply))
	}
	hdr.Put(buf)
	return uint32(driverapi.FilterMessageHeaderSize + copy(buf[driverapi.FilterMessageHeaderSize:], op.msg))
}

// registerWaiter gives op its message id and makes it a reply waiter (R-SEND-7). mu is held.
func (c *Connection) registerWaiter(op *sendOp) {
	if op.reply == nil {
		op.id = 0
		return
	}
	c.nextID++
	op.id = c.nextID
	op.waiting = true
	c.waiters[op.id] = op
}

// Get is the kernel half of FilterGetMessage. buf must hold at least FILTER_MESSAGE_HEADER. It returns
// STATUS_PENDING when the request was accepted: done is then called exactly once, maybe before
// Get returns. Any other status means the request was refused and done is never called:
// STATUS_PORT_DISCONNECTED once the connection has ended, STATUS_INVALID_PARAMETER for a short
// buffer or a nil completion.
func (c *Connection) Get(buf []byte, tag any, done GetCompletion) kernel.NTSTATUS {
	if len(buf) < driverapi.FilterMessageHeaderSize || done == nil {
		return kernel.STATUS_INVALID_PARAMETER
	}
	c.mu.Lock()
	if c.down.Load() {
		c.mu.Unlock()
		return kernel.STATUS_PORT_DISCONNECTED
	}
	if len(c.senders) == 0 {
		c.gets = append(c.gets, getEntry{buf: buf, tag: tag, done: done})
		c.mu.Unlock()
		return kernel.STATUS_PENDING
	}
	op := c.senders[0]
	need := driverapi.FilterMessageHeaderSize + len(op.msg)
	if len(buf) < need {
		// Too small for the oldest waiting message: that message stays queued (R-SEND-4).
		c.mu.Unlock()
		done.GetCompleted(kernel.STATUS_BUFFER_TOO_SMALL, uint32(need))
		return kernel.STATUS_PENDING
	}
	n := copy(c.senders, c.senders[1:])
	c.senders[n] = nil
	c.senders = c.senders[:n]
	op.queued = false
	op.dst = kernel.STATUS_SUCCESS
	c.registerWaiter(op)
	c.mu.Unlock()

	// The sender is blocked until it gets the token below, so its buffer is stable.
	written := writeMessage(buf, op)
	c.traceDelivered(op)
	op.ch <- struct{}{}
	done.GetCompleted(kernel.STATUS_SUCCESS, written)
	return kernel.STATUS_PENDING
}

// CancelGets completes the pending Gets whose tag match accepts (all of them when match is
// nil) with STATUS_CANCELLED (CancelIoEx) and returns how many it cancelled. match runs with
// the connection's lock held: it must only look at the tag.
func (c *Connection) CancelGets(match func(tag any) bool) int {
	c.mu.Lock()
	var cancelled []getEntry
	kept := c.gets[:0]
	for _, g := range c.gets {
		if match == nil || match(g.tag) {
			cancelled = append(cancelled, g)
		} else {
			kept = append(kept, g)
		}
	}
	for i := len(kept); i < len(c.gets); i++ {
		c.gets[i] = getEntry{}
	}
	c.gets = kept
	c.mu.Unlock()
	for _, g := range cancelled {
		g.done.GetCompleted(kernel.STATUS_CANCELLED, 0)
	}
	return len(cancelled)
}

// PendingGets returns the number of Gets waiting for a message.
func (c *Connection) PendingGets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.gets)
}

// Reply is the kernel half of FilterReplyMessage (R-USER Reply, R-SEND-8). buf holds
// FILTER_REPLY_HEADER and the payload. It returns STATUS_FLT_NO_WAITER_FOR_REPLY when no
// sender waits for that MessageId on this connection, STATUS_BUFFER_OVERFLOW when the payload
// was truncated to the sender's capacity, STATUS_PORT_DISCONNECTED once the connection ended.
// It never waits.
func (c *Connection) Reply(buf []byte) kernel.NTSTATUS {
	hdr, ok := driverapi.ParseFilterReplyHeader(buf)
	if !ok {
		return kernel.STATUS_INVALID_PARAMETER
	}
	status, id := hdr.Status, hdr.MessageId
	c.mu.Lock()
	if c.down.Load() {
		c.mu.Unlock()
		return kernel.STATUS_PORT_DISCONNECTED
	}
	op, ok := c.waiters[id]
	if !ok {
		c.mu.Unlock()
		if c.m.tracing() {
			c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageReplied, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: id,
				Detail: "no waiter"}.WithStatus(kernel.STATUS_FLT_NO_WAITER_FOR_REPLY))
		}
		return kernel.STATUS_FLT_NO_WAITER_FOR_REPLY
	}
	delete(c.waiters, id)
	op.waiting = false
	c.mu.Unlock()

	payload := driverapi.FilterReplyPayload(buf)
	op.n = uint32(copy(op.reply, payload))
	res := kernel.STATUS_SUCCESS
	if len(payload) > len(op.reply) {
		res = kernel.STATUS_BUFFER_OVERFLOW
		op.rst = kernel.STATUS_BUFFER_OVERFLOW
	} else {
		op.rst = status
	}
	if c.m.tracing() {
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageReplied, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: id}.
			WithStatus(op.rst).WithDetail(traceReplyBytes, kernel.TraceArgs{int64(op.n)}))
	}
	op.ch <- struct{}{}
	return res
}

// Send is the kernel half of FilterSendMessage (R-USER Send): MessageNotify runs on the
// calling goroutine, with ctx (the calling user thread) and the caller's own buffers. It returns STATUS_INVALID_PARAMETER for an
// empty input, STATUS_NOT_SUPPORTED when the port has no MessageNotify,
// STATUS_PORT_DISCONNECTED once the connection ended, otherwise the callback's results.
func (c *Connection) Send(ctx context.Context, in, out []byte) (uint32, kernel.NTSTATUS) {
	if len(in) == 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if c.port.messageCB == nil {
		return 0, kernel.STATUS_NOT_SUPPORTED
	}
	if c.down.Load() || !c.msgs.acquire() {
		return 0, kernel.STATUS_PORT_DISCONNECTED
	}
	n, st := c.port.messageCB(ctx, c.cookie, in, out)
	c.msgs.release() // the last call of a closing connection runs its DisconnectNotify here
	if n > uint32(len(out)) {
		c.m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: c.f.name, Object: c.String(),
			Message: fmt.Sprintf("MessageNotify reported %d output bytes for a %d-byte buffer", n, len(out)),
			Windows: "user mode reads past its buffer; the I/O manager may bugcheck"})
		n = uint32(len(out))
	}
	if c.m.tracing() {
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvUserSend, Process: c.procName, Driver: c.f.name, Conn: c.id}.
			WithStatus(st).WithDetail(traceInOut, kernel.TraceArgs{int64(len(in)), int64(n)}))
	}
	return n, st
}

// CloseUserEndpoint runs when the last user handle to the connection closes (CloseHandle in
// every process holding a duplicate, or process exit): pending Gets complete with
// STATUS_CANCELLED, blocked senders get STATUS_PORT_DISCONNECTED, and DisconnectNotify runs
// unless the filter closed the client port itself (R-CB-2). DisconnectNotify never overlaps a
// MessageNotify of the same connection, as on Windows (the port's message run-down): it runs
// on this goroutine before CloseUserEndpoint returns, or, when a MessageNotify is still
// running, on that call's goroutine right after it returns. ctx is the thread closing the last
// handle; DisconnectNotify receives it.
func (c *Connection) CloseUserEndpoint(ctx context.Context) {
	c.disconnect(kernel.STATUS_CANCELLED, "user handle closed")
	f := c.f
	f.mu.Lock()
	delete(f.users, c)
	call := !c.kernelClosed.Load() && !c.notified
	if call {
		c.notified = true
	}
	// Unregister waits for this until the connection's callbacks have settled.
	held := f.notifyRundown.acquire()
	f.mu.Unlock()
	c.msgs.close(func() {
		if call {
			c.m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Process: c.procName, Driver: f.name, Conn: c.id, Detail: "DisconnectNotify (user closed)"})
			c.port.disconnectCB(ctx, c.cookie)
		}
		if held {
			f.notifyRundown.release()
		}
	})
}

// closeKernelEndpoint is FltCloseClientPort's work: frees the slot, ends the connection.
// It returns false if the endpoint was closed already.
func (c *Connection) closeKernelEndpoint() bool {
	f := c.f
	f.mu.Lock()
	if c.kernelClosed.Load() {
		f.mu.Unlock()
		return false
	}
	c.kernelClosed.Store(true)
	delete(f.conns, c)
	c.port.used--
	f.mu.Unlock()
	c.disconnect(kernel.STATUS_PORT_DISCONNECTED, "client port closed by the filter")
	return true
}

// disconnect ends the connection once: pending Gets complete with getStatus, waiting senders
// and reply waiters with STATUS_PORT_DISCONNECTED.
func (c *Connection) disconnect(getStatus kernel.NTSTATUS, cause string) {
	c.mu.Lock()
	if c.down.Load() {
		c.mu.Unlock()
		return
	}
	c.down.Store(true)
	c.cause = cause
	gets, senders, waiters := c.gets, c.senders, c.waiters
	c.gets, c.senders, c.waiters = nil, nil, nil
	for _, op := range senders {
		op.queued = false
		op.dst = kernel.STATUS_PORT_DISCONNECTED
	}
	for _, op := range waiters {
		op.waiting = false
		op.rst = kernel.STATUS_PORT_DISCONNECTED
	}
	c.mu.Unlock()
	c.m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Process: c.procName, Driver: c.f.name, Conn: c.id, Detail: cause})
	for _, op := range senders {
		op.ch <- struct{}{}
	}
	for _, op := range waiters {
		op.ch <- struct{}{}
	}
	for _, g := range gets {
		g.done.GetCompleted(getStatus, 0)
	}
}

func (c *Connection) traceDelivered(op *sendOp) {
	if c.m.tracing() {
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageDelivered, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: op.id}.
			WithDetail(traceBytes, kernel.TraceArgs{int64(len(op.msg))}))
	}
}

func (c *Connection) pendingLeftovers() []kernel.Leftover {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []kernel.Leftover
	conn := fmt.Sprintf("connection %d", c.id)
	if n := len(c.gets); n > 0 {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverPendingGets, Process: c.procName, Object: conn, Count: n})
	}
	if n := len(c.senders); n > 0 {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverBlockedSenders, Driver: c.f.name, Process: c.procName, Object: conn, Count: n})
	}
	if n := len(c.waiters); n > 0 {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverReplyWaiters, Driver: c.f.name, Process: c.procName, Object: conn, Count: n})
	}
	return out
}
