package fltmgr

// waiterSet is a connection's senders waiting for a reply, by MessageId. A synchronous service
// has one message out at a time, which then lives in a single slot: no hashing on the round
// trip. More waiters go to a small open-addressing table keyed by the id's low bits (ids are
// given in sequence, so they spread evenly), which the connection's lock holds for less time
// than a map: a set of waiters is looked up and changed under that lock for every message.
type waiterSet struct {
	last  *sendOp   // the waiter registered last, if it has not been removed
	table []*sendOp // the others: linear probing from id & (len-1); nil is empty
	n     int       // waiters in table
}

func (w *waiterSet) add(op *sendOp) {
	if w.last != nil {
		w.insert(w.last)
	}
	w.last = op
}

func (w *waiterSet) insert(op *sendOp) {
	if 2*(w.n+1) > len(w.table) {
		w.grow()
	}
	mask := uint64(len(w.table) - 1)
	i := op.id & mask
	for w.table[i] != nil {
		i = (i + 1) & mask
	}
	w.table[i] = op
	w.n++
}

// grow doubles the table (at least 8 slots), keeping it at most half full.
func (w *waiterSet) grow() {
	old := w.table
	w.table, w.n = make([]*sendOp, max(8, 2*len(old))), 0
	for _, op := range old {
		if op != nil {
			w.insert(op)
		}
	}
}

// find returns the table index of the waiter for id, or -1.
func (w *waiterSet) find(id uint64) int {
	if w.n == 0 {
		return -1
	}
	mask := uint64(len(w.table) - 1)
	for i := id & mask; w.table[i] != nil; i = (i + 1) & mask {
		if w.table[i].id == id {
			return int(i)
		}
	}
	return -1
}

func (w *waiterSet) get(id uint64) (*sendOp, bool) {
	if w.last != nil && w.last.id == id {
		return w.last, true
	}
	if i := w.find(id); i >= 0 {
		return w.table[i], true
	}
	return nil, false
}

func (w *waiterSet) remove(id uint64) {
	if w.last != nil && w.last.id == id {
		w.last = nil
		return
	}
	i := w.find(id)
	if i < 0 {
		return
	}
	// Backward-shift deletion: move up every later entry of the probe run that the hole
	// would otherwise cut off from its home slot, so that no tombstones are needed.
	mask := len(w.table) - 1
	w.table[i] = nil
	w.n--
	for j := (i + 1) & mask; w.table[j] != nil; j = (j + 1) & mask {
		home := int(w.table[j].id) & mask
		// The entry at j may stay unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			w.table[i], w.table[j] = w.table[j], nil
			i = j
		}
	}
}

func (w *waiterSet) len() int {
	n := w.n
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
	for _, op := range w.table {
		if op != nil {
			f(op)
		}
	}
}
