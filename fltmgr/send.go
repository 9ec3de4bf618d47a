package fltmgr

import (
	"context"
	"fmt"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// CloseClientPort emulates FltCloseClientPort (R-CLOSECLI): it reads and clears *clientPort
// atomically, then closes the connection's kernel endpoint: the slot is freed, waiting senders
// get STATUS_PORT_DISCONNECTED, the user's Gets fail with E_HANDLE. DisconnectNotify is not
// called. A nil variable is a no-op.
func (m *Manager) CloseClientPort(fi driverapi.Filter, clientPort *driverapi.ClientPort) {
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
		m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Driver: f.name, Conn: c.id, Detail: "FltCloseClientPort"})
	}
}

func filterName(fi driverapi.Filter) string {
	if fi == nil {
		return "?"
	}
	return fi.FilterName()
}

// SendMessage emulates FltSendMessage (R-SEND-1…10). The message goes straight into a pending
// FilterGetMessage buffer of the connection, or the sender waits for one. With a reply buffer
// the sender then waits for FilterReplyMessage with the message's id. One deadline, from
// timeout (nil: forever; zero: no wait; negative: relative in 100 ns; positive: absolute
// system time), covers both phases. ctx is the calling thread: when it ends, the send returns
// STATUS_THREAD_IS_TERMINATING. A nil ctx is treated as context.Background().
//
// The status is the one the user put in the reply header, STATUS_BUFFER_OVERFLOW for a reply
// longer than the capacity, STATUS_SUCCESS for a delivered one-way message, STATUS_TIMEOUT
// (a success code!), STATUS_PORT_DISCONNECTED or STATUS_THREAD_IS_TERMINATING.
func (m *Manager) SendMessage(ctx context.Context, fi driverapi.Filter, clientPort *driverapi.ClientPort,
	sendBuffer []byte, replyBuffer []byte, replyLength *uint32, timeout *int64) kernel.NTSTATUS {
	var capacity uint32
	if replyLength != nil {
		capacity = *replyLength
		*replyLength = 0 // R-SEND-1
	}
	f, ok := m.asFilter(fi)
	if !ok || clientPort == nil {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: filterName(fi), Object: "FltSendMessage",
			Message: "called with a nil or foreign filter, or a nil client-port pointer"})
		return kernel.STATUS_INVALID_PARAMETER
	}
	m.checkIRQL("FltSendMessage", maxIRQLSendMessage, f.name)
	if replyBuffer != nil && (replyLength == nil || capacity == 0 || int(capacity) > len(replyBuffer)) ||
		replyBuffer == nil && capacity != 0 {
		obj := "FltSendMessage"
		if c, ok := clientPort.Load().(*Connection); ok {
			obj = "FltSendMessage on " + c.String()
		}
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: f.name, Object: obj,
			Message: fmt.Sprintf("reply buffer of %d bytes with reply length %s", len(replyBuffer), lengthString(replyLength, capacity)),
			Windows: "the filter manager writes the reply through a bad pointer or length: a bugcheck"})
		return kernel.STATUS_INVALID_PARAMETER
	}
	p := clientPort.Load()
	if p == nil {
		return kernel.STATUS_PORT_DISCONNECTED // R-SEND-2
	}
	c, ok := p.(*Connection)
	if !ok || c.f != f {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: f.name, Object: fmt.Sprintf("%v", p),
			Message: "FltSendMessage was given a port that is not a client port of this filter"})
		return kernel.STATUS_INVALID_PARAMETER
	}
	if c.kernelClosed.Load() {
		if clientPort.Load() != p {
			// FltCloseClientPort cleared this very variable after we read it: a race the
			// driver is allowed to have (R-CLOSECLI-1), not a use after close.
			return kernel.STATUS_PORT_DISCONNECTED
		}
		m.violation(kernel.Violation{Rule: kernel.RuleVerify4, Driver: f.name, Object: c.String(),
			Message: "FltSendMessage on a client port that was already closed (the driver kept a copy)"})
		return kernel.STATUS_PORT_DISCONNECTED
	}
	if st := m.fault(RoutineSendMessage, f.name); st != kernel.STATUS_SUCCESS {
		return st
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var reply []byte
	if replyBuffer != nil {
		reply = replyBuffer[:capacity]
	}
	return c.send(ctx, sendBuffer, reply, replyLength, timeout)
}

func lengthString(p *uint32, v uint32) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(v)
}

// maxRelativeTimeout is the longest relative timeout, in 100 ns units, a time.Duration holds.
const maxRelativeTimeout = int64(1<<63-1) / 100

// deadline turns a WDK timeout into (deadline, wait): wait false means do not wait at all.
func deadline(timeout *int64) (at time.Time, bounded, wait bool) {
	if timeout == nil {
		return time.Time{}, false, true
	}
	v := *timeout
	switch {
	case v == 0:
		return time.Time{}, true, false
	case v < 0:
		if v < -maxRelativeTimeout {
			// Longer than a time.Duration holds (292 years): -v*100 would overflow into an
			// expired deadline. Nothing can tell it from forever.
			return time.Time{}, false, true
		}
		return time.Now().Add(time.Duration(-v) * 100), true, true
	default:
		at = kernel.TimeFromSystem(v)
		return at, true, time.Until(at) > 0
	}
}

func (c *Connection) send(ctx context.Context, msg, reply []byte, replyLength *uint32, timeout *int64) (result kernel.NTSTATUS) {
	at, bounded, wait := deadline(timeout)
	op := c.m.ops.Get().(*sendOp)
	op.msg, op.reply = msg, reply
	defer func() {
		op.msg, op.reply, op.id, op.n = nil, nil, 0, 0
		c.m.ops.Put(op)
	}()
	defer func() { // runs first: op.id is still set
		if c.m.tracing() && (result == kernel.STATUS_PORT_DISCONNECTED && c.down.Load() ||
			result == kernel.STATUS_THREAD_IS_TERMINATING && ctx.Err() != nil) {
			why := "connection ended: " + c.endCause()
			if result == kernel.STATUS_THREAD_IS_TERMINATING {
				why = "sending thread terminating"
			}
			c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageAbandoned, Process: c.procName, Driver: c.f.name, Conn: c.id,
				MsgID: op.id, Detail: why}.WithStatus(result))
		}
	}()
	need := driverapi.FilterMessageHeaderSize + len(msg)
	if c.m.tracing() {
		has, v := traceTimeoutArgs(timeout)
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvMessageSent, Process: c.procName, Driver: c.f.name, Conn: c.id}.
			WithDetail(traceSent, kernel.TraceArgs{int64(len(msg)), int64(len(reply)), has, v}))
	}

	// Delivery phase (R-SEND-4): pending Gets oldest first.
	delivered := false
	for {
		c.mu.Lock()
		if c.down.Load() {
			c.mu.Unlock()
			return kernel.STATUS_PORT_DISCONNECTED
		}
		if len(c.gets) == 0 {
			break // with the lock held
		}
		g := c.gets[0]
		n := copy(c.gets, c.gets[1:])
		c.gets[n] = getEntry{}
		c.gets = c.gets[:n]
		if len(g.buf) < need {
			c.mu.Unlock()
			g.done.GetCompleted(kernel.STATUS_BUFFER_TOO_SMALL, uint32(need))
			continue
		}
		c.registerWaiter(op)
		c.mu.Unlock()
		written := writeMessage(g.buf, op)
		c.traceDelivered(op)
		g.done.GetCompleted(kernel.STATUS_SUCCESS, written)
		delivered = true
		break
	}

	var expired <-chan time.Time
	timedOut := false
	if !delivered {
		if !wait {
			c.mu.Unlock()
			c.traceTimeout(op, "no receiver")
			return kernel.STATUS_TIMEOUT
		}
		op.queued = true
		c.senders = append(c.senders, op)
		c.mu.Unlock()
		if bounded {
			t := time.NewTimer(time.Until(at))
			defer t.Stop()
			expired = t.C
		}
		var st kernel.NTSTATUS
		if st, timedOut = c.await(ctx, op, false, expired, c.unqueue); st != kernel.STATUS_SUCCESS {
			if st == kernel.STATUS_TIMEOUT {
				c.traceTimeout(op, "no receiver") // R-SEND-5: never delivered
			}
			return st
		}
		if op.dst != kernel.STATUS_SUCCESS {
			return op.dst
		}
	} else if bounded && wait && reply != nil {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		expired = t.C
	}
	if reply == nil {
		return kernel.STATUS_SUCCESS // R-SEND-6
	}

	// Reply phase (R-SEND-8, R-SEND-9): the same deadline; when it already passed, only a
	// reply that is there now counts.
	if st, _ := c.await(ctx, op, timedOut || !wait, expired, c.unwait); st != kernel.STATUS_SUCCESS {
		if st == kernel.STATUS_TIMEOUT {
			c.traceTimeout(op, "no reply")
		}
		return st
	}
	if replyLength != nil {
		*replyLength = op.n
	}
	return op.rst
}

// await waits for op's next token. When the deadline passes (expired fires, or at once with
// poll) or the thread ends, unclaim takes op back unless a Get, a reply or a disconnect
// claimed it first: the wait then ends with STATUS_TIMEOUT or STATUS_THREAD_IS_TERMINATING.
// A claimed op's token is on its way and is waited for: await returns STATUS_SUCCESS, and
// timedOut says the deadline has passed meanwhile.
func (c *Connection) await(ctx context.Context, op *sendOp, poll bool, expired <-chan time.Time,
	unclaim func(*sendOp) bool) (st kernel.NTSTATUS, timedOut bool) {
	done := ctx.Done()
	if !poll && expired == nil && done == nil {
		<-op.ch // no deadline, no cancellation: a plain receive, no select
		return kernel.STATUS_SUCCESS, false
	}
	if poll {
		select {
		case <-op.ch:
			return kernel.STATUS_SUCCESS, false
		default:
			st, timedOut = kernel.STATUS_TIMEOUT, true
		}
	} else {
		select {
		case <-op.ch:
			return kernel.STATUS_SUCCESS, false
		case <-expired:
			st, timedOut = kernel.STATUS_TIMEOUT, true
		case <-done:
			st = kernel.STATUS_THREAD_IS_TERMINATING
		}
	}
	if unclaim(op) {
		return st, timedOut
	}
	<-op.ch
	return kernel.STATUS_SUCCESS, timedOut
}

// unqueue takes a waiting sender off the queue; false if a Get or a disconnect claimed it.
func (c *Connection) unqueue(op *sendOp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !op.queued {
		return false
	}
	for i, x := range c.senders {
		if x == op {
			n := copy(c.senders[i:], c.senders[i+1:])
			c.senders[i+n] = nil
			c.senders = c.senders[:i+n]
			break
		}
	}
	op.queued = false
	return true
}

// unwait removes a reply waiter; false if a reply or a disconnect claimed it. After it, a
// late reply gets STATUS_FLT_NO_WAITER_FOR_REPLY (R-SEND-9).
func (c *Connection) unwait(op *sendOp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !op.waiting {
		return false
	}
	delete(c.waiters, op.id)
	op.waiting = false
	return true
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
