package fltmgr

import (
	"context"

	"github.com/fltemu/fltemu/kernel"
)

// The life of a connection is decided here and nowhere else. A connection has two endpoints:
// the user's (the handles in user processes; it closes with the last of them) and the
// kernel's (the client port; FltCloseClientPort or the teardown at unload closes it):
//
//	                user's last handle closes
//	   open ──────────────────────────────────▶ user closed ───┐
//	    │  └── unload: disconnected ──┐                        │ client port closed
//	    │ client port closed          ▼ (either close)         ▼
//	    └─────────────────────────▶ kernel closed ─────────▶ ended
//	                                       user's last handle closes
//
// Leaving "open" (by either close, or by the unload's teardown) disconnects: the message path
// stops for good (pending Gets complete, senders and reply waiters get
// STATUS_PORT_DISCONNECTED). The invariants kept by the transitions below, each decided under
// filter.mu (the one guard of a connection's life):
//   - the MaxConnections slot is freed exactly once, when the kernel endpoint closes
//     (R-CLOSECLI-3);
//   - DisconnectNotify is owed at most once: at the user's close or at unload, whichever comes
//     first, and never once the filter closed the client port itself or refused the connection
//     (R-CB-1, R-CB-2, R-CLOSECLI-4);
//   - DisconnectNotify never overlaps a MessageNotify of the connection: the caller that owes
//     it shuts the connection's message run-down first.
//
// The state is one word of lifeBits. It is written under filter.mu, and, when the disconnected
// bit is set, under Connection.mu too (so the message path, which holds only Connection.mu,
// sees the queues end atomically with it); it is read without a lock anywhere.

// lifeBits are the bits of Connection.life.
const (
	lifeUserClosed   uint32 = 1 << iota // the user's last handle closed
	lifeKernelClosed                    // the client port closed; the slot is free
	lifeDown                            // disconnected: the message path has ended
	lifeNotifyDone                      // DisconnectNotify was given to a caller, or must never run
)

// lifeEvent is what happened to a connection.
type lifeEvent int

const (
	evUserClosed   lifeEvent = iota // the user's last handle closed (CloseHandle, process exit)
	evKernelClosed                  // FltCloseClientPort, or the teardown of a leaked client port
	evUnload                        // FltUnregisterFilter ends the connection
	evRefused                       // ConnectNotify failed: the connection is undone
)

// lifeStep is what a transition tells its caller to do, with no lock held.
type lifeStep struct {
	c          *Connection
	kernelDone bool // this event closed the kernel endpoint (and freed the slot)
	again      bool // the endpoint this event closes was closed already
	notify     bool // the caller owes DisconnectNotify
	held       bool // evUserClosed: the filter's notify run-down was acquired for the caller

	// The disconnect, when this event caused it: the queues to complete.
	getStatus kernel.NTSTATUS
	cause     string
	endedBy   string // the user routine that ended the connection ("CloseHandle"), for the trace
	gets      []getEntry
	senders   []*sendOp
	waiters   waiterSet
	down      bool
}

// transition applies ev under filter.mu and returns what is left to do outside the locks.
// Call finish on the result.
func (c *Connection) transition(ev lifeEvent) lifeStep {
	f := c.f
	s := lifeStep{c: c, getStatus: kernel.STATUS_PORT_DISCONNECTED}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := c.life.Load()
	next := old
	switch ev {
	case evUserClosed:
		if old&lifeUserClosed != 0 {
			s.again = true
			return s
		}
		next |= lifeUserClosed
		delete(f.users, c)
		s.getStatus, s.cause, s.endedBy = kernel.STATUS_CANCELLED, "user handle closed", "CloseHandle"
		// Taken with the decision, so that an unload that comes next waits for this close's
		// callbacks before it looks for leaked client ports.
		s.held = f.notifyRundown.acquire()
	case evKernelClosed:
		if old&lifeKernelClosed != 0 {
			s.again = true
			return s
		}
		s.cause = "client port closed by the filter"
	case evUnload:
		s.cause = "filter unregistering"
	case evRefused:
		s.again = old&lifeKernelClosed != 0 // ConnectNotify closed it already (R-VERIFY-7)
		next |= lifeUserClosed | lifeNotifyDone
		delete(f.users, c)
		s.cause = "client port closed by the filter"
	}
	if ev == evKernelClosed || ev == evRefused && !s.again {
		// The slot is freed here and only here, once (R-CLOSECLI-3); DisconnectNotify is
		// never called after the filter closed the port itself (R-CLOSECLI-4).
		next |= lifeKernelClosed | lifeNotifyDone
		delete(f.conns, c)
		c.port.used--
		s.kernelDone = true
	}
	if (ev == evUserClosed || ev == evUnload) && old&lifeNotifyDone == 0 {
		next |= lifeNotifyDone
		s.notify = true
	}
	if old&lifeDown == 0 {
		next |= lifeDown
		s.down = true
		c.mu.Lock()
		c.life.Store(next)
		c.cause = s.cause
		s.gets, s.senders, s.waiters = c.gets.items(), c.senders, c.waiters
		c.gets, c.senders, c.waiters = getQueue{}, nil, waiterSet{}
		for _, op := range s.senders {
			op.inSenders = false
			op.deliveryStatus = kernel.STATUS_PORT_DISCONNECTED
		}
		s.waiters.all(func(op *sendOp) {
			op.inWaiters = false
			op.replyStatus = kernel.STATUS_PORT_DISCONNECTED
		})
		c.mu.Unlock()
		return s
	}
	c.life.Store(next)
	return s
}

// finish completes what the disconnect took off the queues: waiting senders and reply waiters
// wake with STATUS_PORT_DISCONNECTED, pending Gets complete with the event's status
// (STATUS_CANCELLED at a user close, STATUS_PORT_DISCONNECTED otherwise: E_HANDLE).
func (s *lifeStep) finish() {
	if !s.down {
		return
	}
	c := s.c
	c.m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Process: c.procName, Driver: c.f.name, Conn: c.id, Detail: s.cause,
		Routine: s.endedBy, Reason: s.cause})
	for _, op := range s.senders {
		op.wake <- struct{}{}
	}
	s.waiters.all(func(op *sendOp) { op.wake <- struct{}{} })
	for _, g := range s.gets {
		g.done.GetCompleted(s.getStatus, 0)
	}
}

// Disconnected reports whether the connection has ended.
func (c *Connection) Disconnected() bool { return c.life.Load()&lifeDown != 0 }

// kernelEndpointClosed reports whether the client port was closed (FltCloseClientPort).
func (c *Connection) kernelEndpointClosed() bool { return c.life.Load()&lifeKernelClosed != 0 }

// CloseUserEndpoint runs when the last user handle to the connection closes (CloseHandle in
// every process holding a duplicate, or process exit): pending Gets complete with
// STATUS_CANCELLED, blocked senders get STATUS_PORT_DISCONNECTED, and DisconnectNotify runs
// unless the filter closed the client port itself or the unload already owes it (R-CB-2).
// DisconnectNotify never overlaps a MessageNotify of the same connection, as on Windows (the
// port's message run-down): CloseUserEndpoint first waits for the running MessageNotify calls
// to return, then runs DisconnectNotify on this goroutine, and returns after it. ctx is the
// thread closing the last handle; DisconnectNotify receives it. A second call does nothing.
func (c *Connection) CloseUserEndpoint(ctx context.Context) {
	s := c.transition(evUserClosed)
	if s.again {
		return
	}
	s.finish()
	// The closing thread waits for the connection's running MessageNotify calls (the port's
	// run-down), then runs DisconnectNotify itself (R-CB-2). A MessageNotify that waits for
	// this close deadlocks, as on Windows; the harness reports it (R-VERIFY-10).
	<-c.msgs.close(nil)
	if s.notify {
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Process: c.procName, Driver: c.f.name, Conn: c.id,
			Detail: "DisconnectNotify (user closed)", Routine: "DisconnectNotify", Reason: "user closed"})
		c.port.disconnectCB(ctx, c.cookie)
	}
	if s.held {
		c.f.notifyRundown.release()
	}
}

// closeKernelEndpoint is FltCloseClientPort's work (and the teardown's for a leaked client
// port): frees the slot, ends the connection. It returns false if the endpoint was closed
// already.
func (c *Connection) closeKernelEndpoint() bool {
	s := c.transition(evKernelClosed)
	s.finish()
	return s.kernelDone
}

// refuse undoes a connection whose ConnectNotify failed: no DisconnectNotify (R-CB-1), the
// slot is freed. It returns false when the driver had already closed the client port inside
// ConnectNotify, which Windows follows with a second close of its own (R-VERIFY-7).
func (c *Connection) refuse() bool {
	s := c.transition(evRefused)
	s.finish()
	return !s.again
}

// endByUnload disconnects the connection for FltUnregisterFilter and says whether the unload
// owes its DisconnectNotify (the user did not close first, the filter did not close the
// client port).
func (c *Connection) endByUnload() (notify bool) {
	s := c.transition(evUnload)
	s.finish()
	return s.notify
}

// settleForUnload shuts the connection's message run-down and waits for its running
// MessageNotify calls to return; then, when the unload owes it, calls DisconnectNotify on this
// goroutine, the unloading thread (R-UNLOAD-5). (A driver that unregisters from inside a
// MessageNotify waits for itself here, as it would hang on Windows.)
func (c *Connection) settleForUnload(ctx context.Context, notify bool) {
	<-c.msgs.close(nil)
	if notify {
		c.m.trace(kernel.TraceEvent{Kind: kernel.EvDisconnect, Driver: c.f.name, Conn: c.id,
			Detail: "DisconnectNotify (unload)", Routine: "DisconnectNotify", Reason: "unload"})
		c.port.disconnectCB(ctx, c.cookie)
	}
}
