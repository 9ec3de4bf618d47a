package fltmgr

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The pending-Get queue against a plain slice: every sequence of pushes, removals at any
// index and filters leaves the same Gets in the same order.
func TestGetQueueMatchesSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q getQueue
	var want []int
	next := 0
	ids := func() []int {
		var got []int
		for _, g := range q.items() {
			got = append(got, len(g.buf))
		}
		return got
	}
	for step := range 20000 {
		switch op := r.IntN(10); {
		case op < 5 || len(want) == 0:
			next++
			q.push(getEntry{buf: make([]byte, next)})
			want = append(want, next)
		case op < 8: // the oldest, the common case
			if g := q.remove(0); len(g.buf) != want[0] {
				t.Fatalf("step %d: removed %d, want %d", step, len(g.buf), want[0])
			}
			want = want[1:]
		case op < 9:
			i := r.IntN(len(want))
			if g := q.remove(i); len(g.buf) != want[i] {
				t.Fatalf("step %d: removed %d at %d, want %d", step, len(g.buf), i, want[i])
			}
			want = slices.Delete(want, i, i+1)
		default:
			odd := func(n int) bool { return n%2 == 1 }
			out := q.keep(func(g getEntry) bool { return !odd(len(g.buf)) })
			for _, g := range out {
				if !odd(len(g.buf)) {
					t.Fatalf("step %d: keep returned %d", step, len(g.buf))
				}
			}
			want = slices.DeleteFunc(want, odd)
		}
		if got := ids(); !slices.Equal(got, want) || q.len() != len(want) {
			t.Fatalf("step %d: queue %v (len %d), want %v", step, got, q.len(), want)
		}
	}
}

// A steady state of N pending Gets, one taken and one added per message, keeps the backing
// array bounded (no growth without end) and never shifts the whole queue per message.
func TestGetQueueSteadyStateIsBounded(t *testing.T) {
	var q getQueue
	const n = 1000
	for range n {
		q.push(getEntry{buf: make([]byte, 1)})
	}
	for range 100 * n {
		q.remove(0)
		q.push(getEntry{buf: make([]byte, 1)})
	}
	if q.len() != n || cap(q.s) > 4*n {
		t.Fatalf("len %d cap %d", q.len(), cap(q.s))
	}
}
