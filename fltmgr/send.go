package fltmgr

import (
	"context"
	"fmt"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// closeClientPort emulates FltCloseClientPort (R-CLOSECLI): it reads and clears *clientPort
// atomically, then closes the connection's kernel endpoint: the slot is freed, waiting senders
// get STATUS_PORT_DISCONNECTED, the user's Gets fail with E_HANDLE. DisconnectNotify is not
// called. A nil variable is a no-op.
func (m *Manager) closeClientPort(fi driverapi.Filter, clientPort *driverapi.ClientPort) {
	f, ok := m.asFilter(fi)
	if !ok || clientPort == nil {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: filterName(fi), Object: "FltCloseClientPort",
			Message: "called with a nil or foreign filter, or a nil client-port pointer"})
		return
	}
	m.checkIRQL("FltCloseClientPort", maxIRQLCloseClientPort, f.name)
	// Unregister waits for a close in flight before it looks for leaked client ports.
	if f.notifyRundown.acquire() {
		defer f.notifyRundown.release()
	}
	p := clientPort.Swap(nil)
	if p == nil {
		return
	}
	c, ok := p.(*Connection)
	if !ok || c.f != f {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: f.name, Object: fmt.Sprintf("%v", p),
			Message: "FltCloseClientPort was given a port that is not a client port of this filter"})
		return
	}
	if c.closeKernelEndpoint() {
		m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Driver: f.name, Conn: c.id, Detail: "FltCloseClientPort", Routine: "FltCloseClientPort"})
	}
}

func filterName(fi driverapi.Filter) string {
	if fi == nil {
		return "?"
	}
	return fi.FilterName()
}

// sendMessage emulates FltSendMessage (R-SEND-1…10). The message goes straight into a pending
// FilterGetMessage buffer of the connection, or the sender waits for one. With a reply buffer
// the sender then waits for FilterReplyMessage with the message's id. One deadline, from
// timeout (nil: forever; zero: no wait; negative: relative in 100 ns; positive: absolute
// system time), covers both phases. ctx is the calling thread: when it ends, the send returns
// STATUS_THREAD_IS_TERMINATING. A nil ctx is treated as context.Background().
//
// The status is the one the user put in the reply header, STATUS_BUFFER_OVERFLOW for a reply
// longer than the capacity, STATUS_SUCCESS for a delivered one-way message, STATUS_TIMEOUT
// (a success code!), STATUS_PORT_DISCONNECTED or STATUS_THREAD_IS_TERMINATING.
//
// When it returns a non-nil op the message was delivered and the caller waits for the reply:
// it receives one token from op.wake, then returns op.conn.replied(op, replyLength).
func (m *Manager) sendMessage(ctx context.Context, fi driverapi.Filter, clientPort *driverapi.ClientPort,
	sendBuffer []byte, replyBuffer []byte, replyLength *uint32, timeout *int64) (*sendOp, kernel.NTSTATUS) {
	var capacity uint32
	if replyLength != nil {
		capacity = *replyLength
		*replyLength = 0 // R-SEND-1
	}
	f, ok := m.asFilter(fi)
	if !ok || clientPort == nil {
		return nil, m.badSendFilter(fi)
	}
	m.checkIRQL("FltSendMessage", maxIRQLSendMessage, f.name)
	// R-SEND-6: a nil reply buffer is a one-way send whatever *ReplyLength held (read, zeroed,
	// ignored). R-SEND-7: capacity 0 with a buffer waits for a status-only reply. A buffer
	// without a length, or a length past the buffer, is written through on Windows.
	if replyBuffer != nil && (replyLength == nil || int(capacity) > len(replyBuffer)) {
		return nil, m.badSendReply(f, clientPort, replyBuffer, replyLength, capacity)
	}
	p := clientPort.Load()
	if p == nil {
		return nil, kernel.STATUS_PORT_DISCONNECTED // R-SEND-2
	}
	c, ok := p.(*Connection)
	if !ok || c.f != f {
		return nil, m.badSendPort(f, p)
	}
	if c.kernelEndpointClosed() {
		if clientPort.Load() != p {
			// FltCloseClientPort cleared this very variable after we read it: a race the
			// driver is allowed to have (R-CLOSECLI-1), not a use after close.
			return nil, kernel.STATUS_PORT_DISCONNECTED
		}
		return nil, m.sendOnClosedPort(f, c)
	}
	if st := m.fault(RoutineSendMessage, f.name); st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var reply []byte
	if replyBuffer != nil {
		reply = replyBuffer[:capacity:capacity] // never nil: capacity 0 is a status-only reply
	}
	return c.send(ctx, sendBuffer, reply, replyLength, timeout)
}

// The refusals of FltSendMessage, out of line so that the checks cost the valid call little.

func (m *Manager) badSendFilter(fi driverapi.Filter) kernel.NTSTATUS {
	m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: filterName(fi), Object: "FltSendMessage",
		Message: "called with a nil or foreign filter, or a nil client-port pointer"})
	return kernel.STATUS_INVALID_PARAMETER
}

func (m *Manager) badSendReply(f *filter, clientPort *driverapi.ClientPort, replyBuffer []byte, replyLength *uint32, capacity uint32) kernel.NTSTATUS {
	obj := "FltSendMessage"
	if c, ok := clientPort.Load().(*Connection); ok {
		obj = "FltSendMessage on " + c.String()
	}
	m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: f.name, Object: obj,
		Message: fmt.Sprintf("reply buffer of %d bytes with reply length %s", len(replyBuffer), lengthString(replyLength, capacity)),
		Windows: "the filter manager writes the reply length through a NULL pointer, or the reply past the buffer: a bugcheck or corrupted pool"})
	return kernel.STATUS_INVALID_PARAMETER
}

func (m *Manager) badSendPort(f *filter, p driverapi.Port) kernel.NTSTATUS {
	m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: f.name, Object: fmt.Sprintf("%v", p),
		Message: "FltSendMessage was given a port that is not a client port of this filter"})
	return kernel.STATUS_INVALID_PARAMETER
}

func (m *Manager) sendOnClosedPort(f *filter, c *Connection) kernel.NTSTATUS {
	m.violation(kernel.Violation{Rule: kernel.RuleVerify4, Driver: f.name, Object: c.String(),
		Message: "FltSendMessage on a client port that was already closed (the driver kept a copy)"})
	return kernel.STATUS_PORT_DISCONNECTED
}

func lengthString(p *uint32, v uint32) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(v)
}

// maxRelativeTimeout is the longest relative timeout, in 100 ns units, a time.Duration holds.
const maxRelativeTimeout = int64(1<<63-1) / 100

// sendDeadline is the one deadline of a FltSendMessage, for both phases (R-SEND-3). Its timer
// is made only when a wait needs it, so a send without a timeout makes none.
type sendDeadline struct {
	at     time.Time // zero: no deadline
	noWait bool      // the deadline is now or past: do not wait at all
	passed bool      // a wait saw the deadline pass
	timer  *time.Timer
}

// newDeadline turns a WDK timeout into a deadline: nil waits forever; zero does not wait;
// negative is relative, in 100 ns units; positive is an absolute system time.
func newDeadline(timeout *int64) sendDeadline {
	if timeout == nil {
		return sendDeadline{}
	}
	now := time.Now()
	switch v := *timeout; {
	case v == 0:
		return sendDeadline{at: now, noWait: true}
	case v < 0:
		if v < -maxRelativeTimeout {
			// Longer than a time.Duration holds (292 years): -v*100 would overflow into an
			// expired deadline. Nothing can tell it from forever.
			return sendDeadline{}
		}
		return sendDeadline{at: now.Add(time.Duration(-v) * 100)}
	default:
		at := kernel.TimeFromSystem(v)
		return sendDeadline{at: at, noWait: !at.After(now)}
	}
}

// expiry returns the channel that fires at the deadline (nil for none), starting the timer.
func (d *sendDeadline) expiry() <-chan time.Time {
	if d.at.IsZero() {
		return nil
	}
	if d.timer == nil {
		d.timer = time.NewTimer(time.Until(d.at))
	}
	return d.timer.C
}

func (d *sendDeadline) stop() {
	if d.timer != nil {
		d.timer.Stop()
	}
}

// send is FltSendMessage on connection c, in three steps that each return with no lock held:
// deliver the message to a pending Get or queue it; wait until a Get takes it; wait for the
// reply. reply is the reply buffer cut to its capacity (nil: one-way). In the common case
// (delivered at once, a reply expected, no deadline, a ctx that cannot end) it returns op
// and the caller waits for the reply itself (see Manager.sendMessage); otherwise it returns
// nil and the call's status.
func (c *Connection) send(ctx context.Context, msg, reply []byte, replyLength *uint32, timeout *int64) (*sendOp, kernel.NTSTATUS) {
	var dl sendDeadline
	if timeout != nil {
		dl = newDeadline(timeout)
	}
	op := c.m.ops.Get().(*sendOp)
	op.message, op.replyBuf, op.deadline, op.conn = msg, reply, dl.at, c
	if c.m.tracing() {
		c.traceSent(op, timeout)
	}
	st := c.deliver(op, !dl.noWait)
	if st == kernel.STATUS_SUCCESS && reply != nil && dl.at.IsZero() && ctx.Done() == nil {
		return op, st
	}
	// No defers: no driver code runs here, and the common case above returns without them.
	st = c.sendRest(ctx, op, &dl, st, replyLength)
	dl.stop()
	c.m.putOp(op)
	return nil, st
}

// sendRest is send after the delivery step, whose status is st.
func (c *Connection) sendRest(ctx context.Context, op *sendOp, dl *sendDeadline, st kernel.NTSTATUS, replyLength *uint32) kernel.NTSTATUS {
	if st == kernel.STATUS_PENDING {
		st = c.waitForDelivery(ctx, op, dl)
	}
	if st != kernel.STATUS_SUCCESS {
		c.traceEnd(ctx, op, st, "no receiver")
		return st
	}
	if op.replyBuf == nil {
		return kernel.STATUS_SUCCESS // R-SEND-6
	}
	if st = c.waitForReply(ctx, op, dl); st != kernel.STATUS_SUCCESS {
		c.traceEnd(ctx, op, st, "no reply")
		return st
	}
	return c.replyOutcome(op, replyLength)
}

// replyOutcome is the end of a send whose reply (or the disconnect) claimed op: the reply's
// length and status.
func (c *Connection) replyOutcome(op *sendOp, replyLength *uint32) kernel.NTSTATUS {
	*replyLength = op.replyBytes
	if op.replyStatus == kernel.STATUS_PORT_DISCONNECTED {
		c.traceEnd(context.Background(), op, op.replyStatus, "no reply")
	}
	return op.replyStatus
}

// replied ends the common case of send once the caller received op's reply token.
func (c *Connection) replied(op *sendOp, replyLength *uint32) kernel.NTSTATUS {
	st := c.replyOutcome(op, replyLength)
	c.m.putOp(op)
	return st
}

//go:noinline
func (c *Connection) traceSent(op *sendOp, timeout *int64) {
	has, v := traceTimeoutArgs(timeout)
	op.sentAt = c.m.world.Trace().Now()
	c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageSent, Process: c.procName, Driver: c.f.name, Conn: c.id, Time: op.sentAt}.
		WithDetail(traceSent, kernel.TraceArgs{int64(len(op.message)), int64(len(op.replyBuf)), has, v}))
}

// putOp returns a finished op to the pool.
func (m *Manager) putOp(op *sendOp) {
	op.message, op.replyBuf, op.id, op.replyBytes, op.deadline, op.sentAt, op.refused, op.conn = nil, nil, 0, 0, time.Time{}, time.Time{}, false, nil
	m.ops.Put(op)
}

// deliver is the delivery step (R-SEND-4, first fit): op goes to the oldest pending Get that
// is large enough. When Gets are pending and none is, the oldest is refused with
// STATUS_BUFFER_TOO_SMALL and the size needed (one Get per send), and op waits for a Get at
// least that large. It returns STATUS_SUCCESS when a Get took the message, STATUS_PENDING when
// op is queued (wait for it with waitForDelivery), STATUS_TIMEOUT when no Get took it and wait
// is false, STATUS_PORT_DISCONNECTED once the connection ended.
func (c *Connection) deliver(op *sendOp, wait bool) kernel.NTSTATUS {
	need := op.need()
	c.mu.Lock()
	if c.Disconnected() {
		c.mu.Unlock()
		return kernel.STATUS_PORT_DISCONNECTED
	}
	gets := c.gets.items()
	for i := range gets {
		if len(gets[i].buf) >= need {
			g := c.popGet(i)
			c.registerWaiter(op)
			c.mu.Unlock()
			c.copyMessage(g, op, true)
			return kernel.STATUS_SUCCESS
		}
	}
	var refused getEntry
	if c.gets.len() > 0 {
		refused = c.popGet(0)
		op.refused = true
	}
	st := kernel.STATUS_TIMEOUT
	if wait {
		// Queued before the refusal completes, so the user's retry with a larger buffer
		// finds this message (R-SEND-4d).
		op.inSenders = true
		c.senders = append(c.senders, op)
		st = kernel.STATUS_PENDING
	}
	c.mu.Unlock()
	if refused.done != nil {
		refused.done.GetCompleted(kernel.STATUS_BUFFER_TOO_SMALL, uint32(need))
	}
	return st
}

// waitForDelivery waits until a Get takes the queued op (STATUS_SUCCESS), the connection ends
// (STATUS_PORT_DISCONNECTED), the deadline passes (STATUS_TIMEOUT: the message is never
// delivered, R-SEND-5) or the thread ends (STATUS_THREAD_IS_TERMINATING).
func (c *Connection) waitForDelivery(ctx context.Context, op *sendOp, dl *sendDeadline) kernel.NTSTATUS {
	if st := c.await(ctx, op, dl, false, c.unqueue); st != kernel.STATUS_SUCCESS {
		return st
	}
	return op.deliveryStatus
}

// waitForReply waits for the reply to a delivered op (R-SEND-8, R-SEND-9) until the same
// deadline; when it passed already, only a reply that is there now counts. It returns
// STATUS_SUCCESS when a reply or the disconnect claimed op (the outcome is op.replyStatus),
// else STATUS_TIMEOUT or STATUS_THREAD_IS_TERMINATING.
func (c *Connection) waitForReply(ctx context.Context, op *sendOp, dl *sendDeadline) kernel.NTSTATUS {
	return c.await(ctx, op, dl, dl.noWait || dl.passed, c.unwait)
}

// await waits for op's next token. When the deadline passes (or at once with poll) or the
// thread ends, unclaim takes op back unless a Get, a reply or the disconnect claimed it first:
// the wait then ends with STATUS_TIMEOUT or STATUS_THREAD_IS_TERMINATING. A claimed op's token
// is on its way and is waited for: await returns STATUS_SUCCESS.
func (c *Connection) await(ctx context.Context, op *sendOp, dl *sendDeadline, poll bool, unclaim func(*sendOp) bool) kernel.NTSTATUS {
	done := ctx.Done()
	var st kernel.NTSTATUS
	switch {
	case poll:
		select {
		case <-op.wake:
			return kernel.STATUS_SUCCESS
		default:
			st = kernel.STATUS_TIMEOUT
		}
	case dl.at.IsZero() && done == nil:
		<-op.wake // no deadline, no cancellation: a plain receive
		return kernel.STATUS_SUCCESS
	default:
		if !dl.at.IsZero() {
			if end := c.m.world.TimedWait("FltSendMessage"); end != nil {
				defer end()
			}
		}
		select {
		case <-op.wake:
			return kernel.STATUS_SUCCESS
		case <-dl.expiry():
			dl.passed = true
			st = kernel.STATUS_TIMEOUT
		case <-done:
			st = kernel.STATUS_THREAD_IS_TERMINATING
		}
	}
	if unclaim(op) {
		return st
	}
	<-op.wake
	return kernel.STATUS_SUCCESS
}

// unqueue takes a waiting sender off the queue; false if a Get or the disconnect claimed it.
func (c *Connection) unqueue(op *sendOp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !op.inSenders {
		return false
	}
	for i, x := range c.senders {
		if x == op {
			c.popSender(i)
			break
		}
	}
	return true
}

// unwait removes a reply waiter; false if a reply or the disconnect claimed it. After it, a
// late reply gets STATUS_FLT_NO_WAITER_FOR_REPLY (R-SEND-9).
func (c *Connection) unwait(op *sendOp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !op.inWaiters {
		return false
	}
	c.waiters.remove(op.id)
	op.inWaiters = false
	return true
}

// traceEnd records why a send ended without a delivery or a reply.
func (c *Connection) traceEnd(ctx context.Context, op *sendOp, st kernel.NTSTATUS, phase string) {
	if !c.m.tracing() {
		return
	}
	switch {
	case st == kernel.STATUS_TIMEOUT:
		c.traceTimeout(op, phase)
	case st == kernel.STATUS_PORT_DISCONNECTED && c.Disconnected():
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageAbandoned, Process: c.procName, Driver: c.f.name, Conn: c.id,
			MsgID: op.id, Detail: "connection ended: " + c.endCause()}.WithStatus(st))
	case st == kernel.STATUS_THREAD_IS_TERMINATING && ctx.Err() != nil:
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageAbandoned, Process: c.procName, Driver: c.f.name, Conn: c.id,
			MsgID: op.id, Detail: "sending thread terminating"}.WithStatus(st))
	}
}

func (c *Connection) traceTimeout(op *sendOp, why string) {
	if c.m.tracing() {
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageTimedOut, Process: c.procName, Driver: c.f.name, Conn: c.id, MsgID: op.id,
			Detail: why}.WithStatus(kernel.STATUS_TIMEOUT))
	}
}

// endCause returns why the connection ended ("" while it is up).
func (c *Connection) endCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

func timeoutString(t *int64) string {
	switch {
	case t == nil:
		return "none"
	case *t == 0:
		return "zero"
	case *t < 0:
		return (time.Duration(-*t) * 100).String()
	default:
		return "absolute " + kernel.TimeFromSystem(*t).UTC().Format(time.RFC3339Nano)
	}
}
