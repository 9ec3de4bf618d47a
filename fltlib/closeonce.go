package fltlib

import "sync"

// closeOnce is the lifetime of an OS handle that waiters may be using while another goroutine
// decides it is no longer needed: the event of an overlapped request on Windows, which a
// waiter may be blocked on when the completion is seen elsewhere. Closing it under a waiter
// would leave the waiter on a handle value the system may already have given to another
// object. The handle is closed exactly once, by whichever of done and the last release
// comes last.
type closeOnce struct {
	close func() // closes the handle; nil: there is none

	mu     sync.Mutex
	users  int  // guarded by mu: waiters between acquire and release
	done   bool // guarded by mu: no longer needed; acquire fails
	closed bool // guarded by mu
}

// acquire takes the handle for a wait; false once done was called (the request completed:
// there is nothing to wait for).
func (c *closeOnce) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return false
	}
	c.users++
	return true
}

// release ends a wait acquire allowed; the last one after done closes the handle.
func (c *closeOnce) release() {
	c.mu.Lock()
	c.users--
	last := c.done && c.users == 0 && !c.closed
	c.closed = c.closed || last
	c.mu.Unlock()
	if last && c.close != nil {
		c.close()
	}
}

// finish says the handle is no longer needed: it is closed now, or by the last waiter.
func (c *closeOnce) finish() {
	c.mu.Lock()
	c.done = true
	now := c.users == 0 && !c.closed
	c.closed = c.closed || now
	c.mu.Unlock()
	if now && c.close != nil {
		c.close()
	}
}
