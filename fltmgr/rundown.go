package fltmgr

import "sync/atomic"

// rundown is run-down protection (ExAcquireRundownProtection): callers acquire it around a
// callback into the driver; wait closes it to new acquirers and blocks until the running ones
// have released it. acquire and release are a single atomic operation on the fast path.
type rundown struct {
	state atomic.Int64 // count of holders, plus rundownClosing once wait started
	done  chan struct{}
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
		close(r.done)
	}
}

// wait closes the rundown and waits for the holders. Only one goroutine may call it, once.
func (r *rundown) wait() {
	r.done = make(chan struct{})
	for {
		s := r.state.Load()
		if r.state.CompareAndSwap(s, s|rundownClosing) {
			if s == 0 {
				return
			}
			<-r.done
			return
		}
	}
}

// closed reports whether wait has started.
func (r *rundown) closed() bool { return r.state.Load()&rundownClosing != 0 }
