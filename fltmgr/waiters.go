package fltmgr

// waiterSet is a connection's senders waiting for a reply, by MessageId. A synchronous service
// has one message out at a time, which then lives in a single slot: no hashing, no map
// traffic on the round trip. More waiters go to a map, made when first needed.
type waiterSet struct {
	last *sendOp            // the waiter registered last, if it has not been removed
	more map[uint64]*sendOp // the others
}

func (w *waiterSet) add(op *sendOp) {
	if w.last != nil {
		if w.more == nil {
			w.more = make(map[uint64]*sendOp)
		}
		w.more[w.last.id] = w.last
	}
	w.last = op
}

func (w *waiterSet) get(id uint64) (*sendOp, bool) {
	if w.last != nil && w.last.id == id {
		return w.last, true
	}
	op, ok := w.more[id]
	return op, ok
}

func (w *waiterSet) remove(id uint64) {
	if w.last != nil && w.last.id == id {
		w.last = nil
		return
	}
	delete(w.more, id)
}

func (w *waiterSet) len() int {
	n := len(w.more)
	if w.last != nil {
		n++
	}
	return n
}

// all calls f for every waiter.
func (w *waiterSet) all(f func(*sendOp)) {
	if w.last != nil {
		f(w.last)
	}
	for _, op := range w.more {
		f(op)
	}
}
