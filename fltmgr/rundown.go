package fltmgr

import (
	"sync"
	"sync/atomic"
)

// rundown is run-down protection (ExAcquireRundownProtection): callers acquire it around a
// callback into the driver; close shuts it to new acquirers and reports, through a channel and
// optional functions, the moment the last holder has left. acquire and release are one or two
// atomic operations on the fast path.
type rundown struct {
	state atomic.Int64 // count of holders, plus rundownClosing once closed

	mu   sync.Mutex
	done chan struct{} // guarded by mu: made by the first close; closed when drained
	then []func()      // guarded by mu: run once when drained
}

const rundownClosing = int64(1) << 62

func (r *rundown) acquire() bool {
	for {
		s := r.state.Load()
		if s&rundownClosing != 0 {
			return false
		}
		if r.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

func (r *rundown) release() {
	if r.state.Add(-1) == rundownClosing {
		r.drained()
	}
}

// close shuts the rundown (the first call; later calls join it) and returns a channel closed
// when the last holder has left. then, if not nil, runs at that moment with no lock held: on
// the goroutine of the last holder, or on this one when none is left (or it drained already).
// No callback is ever waited for here, so a holder may call close itself.
func (r *rundown) close(then func()) <-chan struct{} {
	r.mu.Lock()
	if r.done == nil {
		r.done = make(chan struct{})
		if then != nil {
			r.then = append(r.then, then)
		}
		idle := r.state.Or(rundownClosing) == 0
		done := r.done
		r.mu.Unlock()
		if idle {
			r.drained()
		}
		return done
	}
	done := r.done
	select {
	case <-done:
	default:
		if then != nil {
			r.then = append(r.then, then)
		}
		r.mu.Unlock()
		return done
	}
	r.mu.Unlock()
	if then != nil {
		then()
	}
	return done
}

// wait closes the rundown and waits for the holders.
func (r *rundown) wait() { <-r.close(nil) }

// drained runs once, when the count reaches zero after close.
func (r *rundown) drained() {
	r.mu.Lock()
	fs := r.then
	r.then = nil
	close(r.done)
	r.mu.Unlock()
	for _, f := range fs {
		f()
	}
}
