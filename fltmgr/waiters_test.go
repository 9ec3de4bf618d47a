package fltmgr

import (
	"math/rand/v2"
	"testing"
)

// The waiter set against a map: every sequence of adds (ids in sequence, as connections give
// them) and removals, in any order and of ids present or not, leaves the same waiters findable
// by id, and all visits each exactly once.
func TestWaiterSetMatchesMap(t *testing.T) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		var w waiterSet
		want := map[uint64]*sendOp{}
		next := uint64(0)
		for step := range 4000 {
			switch op := r.IntN(10); {
			case op < 5 && len(want) < 100: // up to 100 waiters: tables of 8 to 256 slots
				next++
				o := &sendOp{id: next}
				w.add(o)
				want[next] = o
			case op < 9 && len(want) > 0:
				// remove a present id: the oldest, the newest or any
				var id uint64
				for k := range want {
					id = k
					break
				}
				if r.IntN(3) == 0 {
					id = next
				}
				w.remove(id)
				delete(want, id)
			default:
				id := uint64(r.IntN(int(next) + 2)) // present or not
				w.remove(id)
				delete(want, id)
			}
			if w.len() != len(want) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, w.len(), len(want))
			}
			for id, o := range want {
				if got, ok := w.get(id); !ok || got != o {
					t.Fatalf("seed %d step %d: get(%d) = %v, %v", seed, step, id, got, ok)
				}
			}
			if _, ok := w.get(next + 1); ok {
				t.Fatalf("seed %d step %d: found an id never added", seed, step)
			}
			seen := map[uint64]int{}
			w.all(func(o *sendOp) { seen[o.id]++ })
			if len(seen) != len(want) {
				t.Fatalf("seed %d step %d: all visited %d, want %d", seed, step, len(seen), len(want))
			}
			for id, n := range seen {
				if n != 1 || want[id] == nil {
					t.Fatalf("seed %d step %d: all visited %d %d times", seed, step, id, n)
				}
			}
		}
	}
}
