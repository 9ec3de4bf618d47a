package fltmgr

// getQueue is a connection's pending Gets, oldest first. The oldest is the one a message
// usually takes: it is skipped by advancing head, not by moving the others down, so a
// service keeping many Gets pending pays the same per message as one keeping a single Get.
type getQueue struct {
	s    []getEntry // s[head:] are the pending Gets
	head int
}

func (q *getQueue) len() int { return len(q.s) - q.head }

// items returns the pending Gets, oldest first; valid until the queue next changes.
func (q *getQueue) items() []getEntry { return q.s[q.head:] }

func (q *getQueue) push(g getEntry) {
	if len(q.s) == cap(q.s) && q.head >= len(q.s)/2 {
		// Reuse the consumed front rather than grow: at most once per len/2 pushes, so the
		// copy costs O(1) per Get.
		n := copy(q.s, q.s[q.head:])
		clear(q.s[n:])
		q.s, q.head = q.s[:n], 0
	}
	q.s = append(q.s, g)
}

// remove takes out the i-th oldest pending Get.
func (q *getQueue) remove(i int) getEntry {
	j := q.head + i
	g := q.s[j]
	if i == 0 {
		q.s[j] = getEntry{}
		q.head++
		if q.head == len(q.s) {
			q.s, q.head = q.s[:0], 0
		}
		return g
	}
	n := copy(q.s[j:], q.s[j+1:])
	q.s[j+n] = getEntry{}
	q.s = q.s[:j+n]
	return g
}

// keep keeps the pending Gets f accepts, in order, and returns the others.
func (q *getQueue) keep(f func(getEntry) bool) []getEntry {
	var out []getEntry
	kept := q.s[:0]
	for _, g := range q.items() {
		if f(g) {
			kept = append(kept, g)
		} else {
			out = append(out, g)
		}
	}
	clear(q.s[len(kept):])
	q.s, q.head = kept, 0
	return out
}
