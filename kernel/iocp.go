package kernel

import (
	"context"
	"sync"
	"time"
)

// CompletionPacket is one entry of an I/O completion port queue.
type CompletionPacket struct {
	Key        uintptr  // the completion key given when the file handle was associated
	Bytes      uint32   // bytes transferred
	Overlapped any      // the request's OVERLAPPED (the user layer's own type)
	Status     NTSTATUS // the I/O status of the request
}

// CompletionPort is an I/O completion port. Packets are dequeued in the order they were
// queued; blocked waiters are released last-in first-out, as on Windows. Nothing here starts a
// goroutine: waiters block on channels, so a synctest bubble can advance time around them.
type CompletionPort struct {
	mu      sync.Mutex
	queue   []CompletionPacket
	head    int
	waiters []*iocpWaiter // LIFO
	free    []*iocpWaiter // reusable waiters
	closed  bool
}

type iocpWaiter struct {
	ch chan iocpResult // capacity 1: exactly one result per wait
}

type iocpResult struct {
	pkt CompletionPacket
	st  NTSTATUS
}

// NewCompletionPort makes an empty completion port.
func NewCompletionPort() *CompletionPort { return &CompletionPort{} }

// Post queues a packet (PostQueuedCompletionStatus, and the I/O manager completing a request).
// A closed port returns STATUS_INVALID_HANDLE and drops the packet.
func (c *CompletionPort) Post(p CompletionPacket) NTSTATUS {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return STATUS_INVALID_HANDLE
	}
	if n := len(c.waiters); n > 0 {
		w := c.waiters[n-1]
		c.waiters = c.waiters[:n-1]
		c.mu.Unlock()
		w.ch <- iocpResult{pkt: p, st: STATUS_SUCCESS}
		return STATUS_SUCCESS
	}
	c.queue = append(c.queue, p)
	c.mu.Unlock()
	return STATUS_SUCCESS
}

// Len returns the number of queued packets.
func (c *CompletionPort) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) - c.head
}

// Remove dequeues the next packet, waiting up to timeout (negative: forever; zero: no wait).
// It returns STATUS_TIMEOUT when the time runs out, STATUS_ABANDONED_WAIT_0 when the port is
// closed (now or while waiting), and STATUS_CANCELLED when ctx ends. A nil ctx is
// STATUS_INVALID_PARAMETER.
func (c *CompletionPort) Remove(ctx context.Context, timeout time.Duration) (CompletionPacket, NTSTATUS) {
	if ctx == nil {
		return CompletionPacket{}, STATUS_INVALID_PARAMETER
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return CompletionPacket{}, STATUS_ABANDONED_WAIT_0
	}
	if c.head < len(c.queue) {
		p := c.queue[c.head]
		c.queue[c.head] = CompletionPacket{}
		c.head++
		if c.head == len(c.queue) {
			c.queue, c.head = c.queue[:0], 0
		}
		c.mu.Unlock()
		return p, STATUS_SUCCESS
	}
	if timeout == 0 {
		c.mu.Unlock()
		return CompletionPacket{}, STATUS_TIMEOUT
	}
	var w *iocpWaiter
	if n := len(c.free); n > 0 {
		w = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		w = &iocpWaiter{ch: make(chan iocpResult, 1)}
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	var r iocpResult
	if done := ctx.Done(); expired == nil && done == nil {
		r = <-w.ch // INFINITE with no cancellation: a plain receive
	} else {
		select {
		case r = <-w.ch:
		case <-expired:
			r = c.abandonWait(w, STATUS_TIMEOUT)
		case <-done:
			r = c.abandonWait(w, STATUS_CANCELLED)
		}
	}
	c.mu.Lock()
	c.free = append(c.free, w)
	c.mu.Unlock()
	return r.pkt, r.st
}

// abandonWait takes w off the waiter list; if a packet was already handed to it, that packet
// is the result (it must not be lost).
func (c *CompletionPort) abandonWait(w *iocpWaiter, st NTSTATUS) iocpResult {
	c.mu.Lock()
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			c.mu.Unlock()
			return iocpResult{st: st}
		}
	}
	c.mu.Unlock()
	return <-w.ch // claimed by Post or Close: the result is on its way
}

// Close closes the port: waiters wake with STATUS_ABANDONED_WAIT_0 and queued packets are
// dropped. It returns the number of packets dropped. Closing twice does nothing.
func (c *CompletionPort) Close() int {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0
	}
	c.closed = true
	ws := c.waiters
	c.waiters = nil
	dropped := len(c.queue) - c.head
	c.queue, c.head = nil, 0
	c.mu.Unlock()
	for _, w := range ws {
		w.ch <- iocpResult{st: STATUS_ABANDONED_WAIT_0}
	}
	return dropped
}

// Closed reports whether Close was called.
func (c *CompletionPort) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
