package fltmgr

import (
	"sync"
	"sync/atomic"
	"testing"
)

// The run-down's acquirers add before they look, so a refused one passes through the count:
// the end must still be reported exactly once, only after the last real holder left, and
// nobody may get in after close.
func TestRundownRacingClose(t *testing.T) {
	for round := range 200 {
		var r rundown
		var inside, admitted atomic.Int64
		var closed atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if !r.acquire() {
						continue
					}
					if closed.Load() {
						t.Errorf("round %d: acquired after the run-down drained", round)
					}
					inside.Add(1)
					admitted.Add(1)
					inside.Add(-1)
					r.release()
				}
			}()
		}
		var ran atomic.Int32
		<-r.close(func() { ran.Add(1) })
		closed.Store(true)
		if n := inside.Load(); n != 0 {
			t.Fatalf("round %d: drained with %d holders inside", round, n)
		}
		<-r.close(func() { ran.Add(1) }) // a later close joins: its function runs at once
		// The first function runs on the last holder's goroutine, maybe an acquirer's.
		wg.Wait()
		if n := ran.Load(); n != 2 {
			t.Fatalf("round %d: the close functions ran %d times, want 2", round, n)
		}
		if r.acquire() {
			t.Fatalf("round %d: acquire after close succeeded", round)
		}
	}
}
