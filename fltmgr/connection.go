package fltmgr

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	cookie   any // ConnectNotify's result; written once, before the user gets its handle

	// life is the connection's state (conn_life.go): lifeBits, written under filter.mu (and
	// Connection.mu for lifeDown), read without a lock.
	life atomic.Uint32
	msgs rundown // MessageNotify calls in flight on this connection

	mu      sync.Mutex // guards the message path below; taken after filter.mu
	gets    getQueue   // guarded by mu: pending FilterGetMessage requests, oldest first
	senders []*sendOp  // guarded by mu: senders waiting for a Get, oldest first
	waiters waiterSet  // guarded by mu: senders waiting for a reply, by MessageId
	nextID  uint64     // guarded by mu: the last MessageId given
	cause   string     // guarded by mu: why the connection ended
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

// sendOp is one FltSendMessage call in flight. It is pooled (Manager.ops): a sender consumes
// every token sent on wake before it returns, so a recycled op starts with an empty channel.
//
// Whoever takes the op off a queue (a Get, a reply, the disconnect) does so under
// Connection.mu, writes the outcome fields, and then sends one token on wake; the sender reads
// the outcome only after receiving that token.
type sendOp struct {
	conn     *Connection // the connection it is sent on
	message  []byte      // the sender's buffer: stable, the sender is blocked while others read it
	replyBuf []byte      // the reply buffer cut to its capacity; nil for a one-way message
	id       uint64      // the MessageId, given at delivery (0 for a one-way message)
	deadline time.Time   // when the send times out; zero: never
	sentAt   time.Time   // the time of its "sent" trace event (zero when the trace is off)

	inSenders bool // guarded by Connection.mu: queued in senders, waiting for a Get
	refused   bool // guarded by Connection.mu: it failed a Get too small for it (R-SEND-4b), once
	inWaiters bool // guarded by Connection.mu: in waiters, waiting for a reply

	deliveryStatus kernel.NTSTATUS // set by the claimer: SUCCESS (a Get took it) or PORT_DISCONNECTED
	replyStatus    kernel.NTSTATUS // set by the claimer: the reply's status, BUFFER_OVERFLOW or PORT_DISCONNECTED
	replyBytes     uint32          // set by the claimer: reply payload bytes copied into replyBuf

	wake chan struct{} // capacity 2: one token per claim (delivery, then reply)
}

// need is the Get buffer size that holds the message: FILTER_MESSAGE_HEADER and the payload.
func (op *sendOp) need() int { return driverapi.FilterMessageHeaderSize + len(op.message) }

// expired reports whether op's deadline has come: a reply (or a Get) arriving at that very
// instant is too late, the deadline wins the tie (R-SEND-11).
func (op *sendOp) expired() bool {
	return !op.deadline.IsZero() && op.pastDeadline() // inlined: most sends have no deadline
}

func (op *sendOp) pastDeadline() bool { return !time.Now().Before(op.deadline) }

func newConnection(m *Manager, p *serverPort, proc *kernel.Process) *Connection {
	return &Connection{
		m: m, f: p.f, port: p, proc: proc, procName: proc.String(),
		id: m.connIDs.Add(1),
	}
}

// ConnectionID identifies the connection in traces and verifier messages (unique per world).
func (c *Connection) ConnectionID() uint64 { return c.id }

// PortName returns the name of the server port the connection was made through.
func (c *Connection) PortName() string { return c.port.name }

// Process returns the process that connected.
func (c *Connection) Process() *kernel.Process { return c.proc }

func (c *Connection) String() string {
	return fmt.Sprintf("connection %d to %s from %s", c.id, kernel.Quote(c.port.name), c.procName)
}

// writeMessage lays FILTER_MESSAGE_HEADER and the payload into buf and returns the length.
func writeMessage(buf []byte, op *sendOp) uint32 {
	hdr := driverapi.FilterMessageHeader{MessageId: op.id}
	if op.replyBuf != nil {
		hdr.ReplyLength = driverapi.MessageReplyLength(len(op.replyBuf))
	}
	hdr.Put(buf)
	return uint32(driverapi.FilterMessageHeaderSize + copy(buf[driverapi.FilterMessageHeaderSize:], op.message))
}

// registerWaiter gives op its message id and makes it a reply waiter (R-SEND-7). The waiter
// exists before the receiver is completed, so a fast reply cannot be missed. mu is held.
func (c *Connection) registerWaiter(op *sendOp) {
	if op.replyBuf == nil {
		op.id = 0
		return
	}
	c.nextID++
	op.id = c.nextID
	op.inWaiters = true
	c.waiters.add(op)
}

// popGet removes the pending Get at index i. mu is held.
func (c *Connection) popGet(i int) getEntry { return c.gets.remove(i) }

// popSender removes the waiting sender at index i. mu is held.
func (c *Connection) popSender(i int) *sendOp {
	op := c.senders[i]
	n := copy(c.senders[i:], c.senders[i+1:])
	c.senders[i+n] = nil
	c.senders = c.senders[:i+n]
	op.inSenders = false
	return op
}

// Get is the kernel half of FilterGetMessage. buf must hold at least FILTER_MESSAGE_HEADER. It
// returns STATUS_PENDING when the request was accepted: done is then called exactly once, maybe
// before Get returns. Any other status means the request was refused and done is never called:
// STATUS_PORT_DISCONNECTED once the connection has ended, STATUS_INVALID_PARAMETER for a short
// buffer or a nil completion.
func (c *Connection) Get(buf []byte, tag any, done GetCompletion) kernel.NTSTATUS {
	if len(buf) < driverapi.FilterMessageHeaderSize || done == nil {
		return kernel.STATUS_INVALID_PARAMETER
	}
	c.mu.Lock()
	if c.Disconnected() {
		c.mu.Unlock()
		return kernel.STATUS_PORT_DISCONNECTED
	}
	// R-SEND-4c: the oldest waiting sender whose message fits takes this Get. Senders whose
	// deadline has come are about to time out: the deadline wins (R-SEND-11).
	for i, op := range c.senders {
		if len(buf) >= op.need() && !op.expired() {
			c.popSender(i)
			op.deliveryStatus = kernel.STATUS_SUCCESS
			c.registerWaiter(op)
			c.mu.Unlock()
			c.copyMessage(getEntry{buf: buf, tag: tag, done: done}, op, false)
			op.wake <- struct{}{}
			return kernel.STATUS_PENDING
		}
	}
	// None fits: the Get is refused for the oldest sender that has not refused one yet; when
	// every waiting sender has, it stays pending for a message it can hold.
	for _, op := range c.senders {
		if !op.refused && !op.expired() {
			op.refused = true
			need := op.need()
			c.mu.Unlock()
			done.GetCompleted(kernel.STATUS_BUFFER_TOO_SMALL, uint32(need))
			return kernel.STATUS_PENDING
		}
	}
	c.gets.push(getEntry{buf: buf, tag: tag, done: done})
	c.mu.Unlock()
	return kernel.STATUS_PENDING
}

// copyMessage copies op's message into g's buffer and completes g. op was taken off the
// queues under mu; its sender is blocked until its token, so its buffer is stable. inSend
// says the sender's own call delivers it (its "delivered" event shares the "sent" event's
// time: one clock read less per message).
func (c *Connection) copyMessage(g getEntry, op *sendOp, inSend bool) {
	written := writeMessage(g.buf, op)
	c.traceDelivered(op, inSend)
	g.done.GetCompleted(kernel.STATUS_SUCCESS, written)
}

// CancelGets completes the pending Gets whose tag match accepts (all of them when match is
// nil) with STATUS_CANCELLED (CancelIoEx) and returns how many it cancelled. match runs with
// the connection's lock held: it must only look at the tag.
func (c *Connection) CancelGets(match func(tag any) bool) int {
	c.mu.Lock()
	cancelled := c.gets.keep(func(g getEntry) bool { return match != nil && !match(g.tag) })
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
	return c.gets.len()
}

// Reply is the kernel half of FilterReplyMessage (R-USER Reply, R-SEND-8). buf holds
// FILTER_REPLY_HEADER and the payload. It returns STATUS_FLT_NO_WAITER_FOR_REPLY when no sender
// waits for that MessageId on this connection (also once the connection ended: the waiters are
// gone with it, FilterReplyMessage 5), STATUS_BUFFER_OVERFLOW when the payload was truncated
// to the sender's capacity. It never waits.
func (c *Connection) Reply(buf []byte) kernel.NTSTATUS {
	hdr, ok := driverapi.ParseFilterReplyHeader(buf)
	if !ok {
		return kernel.STATUS_INVALID_PARAMETER
	}
	status, id := hdr.Status, hdr.MessageId
	c.mu.Lock()
	op, ok := c.waiters.get(id)
	if !ok || op.expired() {
		// An expired waiter stays for its sender to remove: the deadline wins (R-SEND-11).
		last := c.nextID
		c.mu.Unlock()
		if c.m.tracing() {
			c.traceNoWaiter(id, last)
		}
		return kernel.STATUS_FLT_NO_WAITER_FOR_REPLY
	}
	c.waiters.remove(id)
	op.inWaiters = false
	c.mu.Unlock()

	payload := driverapi.FilterReplyPayload(buf)
	op.replyBytes = uint32(copy(op.replyBuf, payload))
	res := kernel.STATUS_SUCCESS
	if len(payload) > len(op.replyBuf) {
		res = kernel.STATUS_BUFFER_OVERFLOW
		op.replyStatus = kernel.STATUS_BUFFER_OVERFLOW
	} else {
		op.replyStatus = status
	}
	if c.m.tracing() {
		c.traceReplied(id, op)
	}
	op.wake <- struct{}{}
	return res
}

// The trace records of the message path are built out of line, so that its frames stay small
// when the trace is off.

//go:noinline
func (c *Connection) traceNoWaiter(id, last uint64) {
	detail, reason := noWaiterReason(id, last)
	c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageReplied, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: id,
		Detail: detail, Reason: reason}.WithStatus(kernel.STATUS_FLT_NO_WAITER_FOR_REPLY))
}

//go:noinline
func (c *Connection) traceReplied(id uint64, op *sendOp) {
	c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageReplied, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: id}.
		WithStatus(op.replyStatus).WithDetail(traceReplyBytes, kernel.TraceArgs{int64(op.replyBytes)}))
}

// noWaiterReason explains a reply to id that found no waiter, last being the connection's
// last MessageId. An id the connection never gave is most often not an id at all: the service
// sent its payload without the FILTER_REPLY_HEADER in front, so the first bytes of the payload
// were read as the id. A late reply to a real id is a timing matter and says only "no waiter".
// reason is the trace event's Reason: "id never issued" for such an id, "" for a late reply.
func noWaiterReason(id, last uint64) (detail, reason string) {
	const fix = "does the buffer start with FILTER_REPLY_HEADER (Status, MessageId)? driverapi.NewFilterReply builds it"
	switch {
	case id == 0:
		return "no waiter: MessageId 0 was never issued (0 marks a one-way message, which takes no reply); " + fix, "id never issued"
	case id > last:
		return fmt.Sprintf("no waiter: MessageId %d was never issued on this connection (the last was %d); %s", id, last, fix), "id never issued"
	}
	return "no waiter", ""
}

// Send is the kernel half of FilterSendMessage (R-USER Send): MessageNotify runs on the
// calling goroutine, with ctx (the calling user thread) and the caller's own buffers. It
// returns STATUS_INVALID_PARAMETER for an empty input, STATUS_NOT_SUPPORTED when the port has
// no MessageNotify, STATUS_PORT_DISCONNECTED once the connection ended, otherwise the
// callback's results as the user sees them (FilterSendMessage 4): the byte count is 0 for an
// error status, and STATUS_BUFFER_TOO_SMALL becomes the warning STATUS_FLT_BUFFER_TOO_SMALL so
// that its count (the size needed) is kept. A callback returning STATUS_PENDING is reported
// (R-VERIFY-8).
func (c *Connection) Send(ctx context.Context, in, out []byte) (uint32, kernel.NTSTATUS) {
	if len(in) == 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if c.port.messageCB == nil {
		return 0, kernel.STATUS_NOT_SUPPORTED
	}
	if c.Disconnected() || !c.msgs.acquire() {
		return 0, kernel.STATUS_PORT_DISCONNECTED
	}
	n, st := c.port.messageCB(ctx, c.cookie, in, out)
	c.msgs.release() // the last call lets a waiting close or unload run DisconnectNotify
	// With STATUS_BUFFER_TOO_SMALL the count is the size needed, larger than the buffer by
	// definition: it is reported to the user, nothing is copied, so it is no violation.
	if n > uint32(len(out)) && st != kernel.STATUS_BUFFER_TOO_SMALL {
		c.reportOutputCount(n, len(out))
		n = uint32(len(out))
	}
	switch {
	case st == kernel.STATUS_PENDING:
		// Windows leaves the request uncompleted: FilterSendMessage never returns. The
		// emulator reports it and returns STATUS_PENDING (0x800703E5) instead of hanging.
		c.reportPendingNotify()
		n = 0
	case st == kernel.STATUS_BUFFER_TOO_SMALL:
		// fltmgr turns it into the warning FLT_BUFFER_TOO_SMALL, so that the byte count (the
		// size needed) reaches the user, with 0x8007007A (FilterSendMessage 4).
		st = kernel.STATUS_FLT_BUFFER_TOO_SMALL
	case st.IsError():
		n = 0 // the I/O status block of a failed request is not copied back
	}
	if c.m.tracing() {
		c.traceUserSend(st, len(in), n)
	}
	return n, st
}

// The verifier reports of Send, out of line like the trace records.

//go:noinline
func (c *Connection) reportOutputCount(n uint32, out int) {
	c.m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: c.f.name, Object: c.String(),
		Message: fmt.Sprintf("MessageNotify reported %d output bytes for a %d-byte buffer", n, out),
		Windows: "the byte count reaches user mode unchecked: the service reads past its buffer"})
}

//go:noinline
func (c *Connection) reportPendingNotify() {
	c.m.violation(kernel.Violation{Rule: kernel.RuleVerify8, Driver: c.f.name, Object: c.String(),
		Message: "MessageNotify returned STATUS_PENDING; the emulator completed the FilterSendMessage with it"})
}

//go:noinline
func (c *Connection) traceUserSend(st kernel.NTSTATUS, in int, n uint32) {
	c.m.trace(kernel.TraceEvent{Kind: kernel.EvUserSend, Process: c.procName, Driver: c.f.name, Conn: c.id}.
		WithStatus(st).WithDetail(traceInOut, kernel.TraceArgs{int64(in), int64(n)}))
}

func (c *Connection) traceDelivered(op *sendOp, inSend bool) {
	if c.m.tracing() {
		c.traceDeliveredEvent(op, inSend)
	}
}

//go:noinline
func (c *Connection) traceDeliveredEvent(op *sendOp, inSend bool) {
	e := kernel.TraceEvent{Kind: kernel.EvMessageDelivered, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: op.id}
	if inSend {
		e.Time = op.sentAt
	}
	c.m.trace(e.WithDetail(traceBytes, kernel.TraceArgs{int64(len(op.message))}))
}

func (c *Connection) pendingLeftovers() []kernel.Leftover {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []kernel.Leftover
	conn := fmt.Sprintf("connection %d", c.id)
	if n := c.gets.len(); n > 0 {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverPendingGets, Process: c.procName, Object: conn, Count: n})
	}
	if n := len(c.senders); n > 0 {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverBlockedSenders, Driver: c.f.name, Process: c.procName, Object: conn, Count: n})
	}
	if n := c.waiters.len(); n > 0 {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverReplyWaiters, Driver: c.f.name, Process: c.procName, Object: conn, Count: n})
	}
	return out
}
