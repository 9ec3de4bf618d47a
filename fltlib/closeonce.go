package fltlib

import "sync"

// closeOnce is the lifetime of a handle that calls may be using while another goroutine
// decides it is no longer needed: a Conn's port handle, which a Receive or Send may be inside
// when Close runs, and, on Windows, the event of an overlapped request, which a waiter may be
// blocked on when the completion is seen elsewhere. Closing it under a user would leave the
// user on a handle value the system may already have given to another object. The handle is
// closed exactly once, by whichever of finish and the last release comes last.
type closeOnce struct {
	close func() error // closes the handle; nil: there is none

	mu    sync.Mutex
	users int  // guarded by mu: users between acquire and release
	done  bool // guarded by mu: finish was called; acquire fails
}

// acquire takes the handle for a use; false once finish was called.
func (c *closeOnce) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return false
	}
	c.users++
	return true
}

// release ends a use acquire allowed; the last one after finish closes the handle and returns
// what closing it returned.
func (c *closeOnce) release() error {
	c.mu.Lock()
	c.users--
	last := c.done && c.users == 0
	c.mu.Unlock()
	return c.closeIf(last)
}

// finish says the handle is no longer needed: it is closed now, or by the last user. first
// is false when finish was called before (nothing is done then); err is what closing returned
// when it closed now.
func (c *closeOnce) finish() (first bool, err error) {
	c.mu.Lock()
	first = !c.done
	c.done = true
	now := first && c.users == 0
	c.mu.Unlock()
	return first, c.closeIf(now)
}

// finished reports whether finish was called.
func (c *closeOnce) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

func (c *closeOnce) closeIf(now bool) error {
	if now && c.close != nil {
		return c.close()
	}
	return nil
}
