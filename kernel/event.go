package kernel

import (
	"context"
	"sync"
)

// KEvent is an event object, as CreateEvent makes it: manual-reset (stays signalled until
// Reset) or auto-reset (one waiter consumes the signal). It is what an OVERLAPPED carries. The
// zero value is a non-signalled auto-reset event.
type KEvent struct {
	mu       sync.Mutex
	manual   bool
	signaled bool
	ch       chan struct{} // closed when signalled; replaced when reset; nil until first needed
}

// chLocked returns the current signal channel, making it for a zero-value event.
func (e *KEvent) chLocked() chan struct{} {
	if e.ch == nil {
		e.ch = make(chan struct{})
	}
	return e.ch
}

// NewEvent makes an event, initially signalled or not.
func NewEvent(manualReset, initialState bool) *KEvent {
	e := &KEvent{manual: manualReset, ch: make(chan struct{})}
	if initialState {
		e.signaled = true
		close(e.ch)
	}
	return e
}

// Set signals the event.
func (e *KEvent) Set() {
	e.mu.Lock()
	if !e.signaled {
		e.signaled = true
		close(e.chLocked())
	}
	e.mu.Unlock()
}

// Reset clears the event.
func (e *KEvent) Reset() {
	e.mu.Lock()
	if e.signaled {
		e.signaled = false
		e.ch = make(chan struct{})
	}
	e.mu.Unlock()
}

// Signaled reports whether the event is set, without consuming an auto-reset signal.
func (e *KEvent) Signaled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.signaled
}

// Wait blocks until the event is signalled (consuming it if auto-reset) or ctx ends, in which
// case it returns ctx.Err(). A nil ctx is STATUS_INVALID_PARAMETER.
func (e *KEvent) Wait(ctx context.Context) error {
	if ctx == nil {
		return STATUS_INVALID_PARAMETER
	}
	for {
		e.mu.Lock()
		if e.signaled {
			if !e.manual {
				e.signaled = false
				e.ch = make(chan struct{})
			}
			e.mu.Unlock()
			return nil
		}
		ch := e.chLocked()
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
