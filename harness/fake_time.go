package harness

import (
	"testing"
	"testing/synctest"
)

// Run runs body with a new world inside a synctest bubble (fake time): a 30-second
// FltSendMessage timeout takes microseconds and every run sees the same times. The world is
// made with [New] inside the bubble, so its teardown and end-of-test checks (leftovers,
// verifier violations, expectations) also run inside it, after body returns and after every
// goroutine of the bubble has blocked or ended (synctest.Wait).
//
//	harness.Run(t, func(t *testing.T, w *harness.World) {
//		require.NoError(t, w.Load("scanner", &scanner.Driver{}))
//		...
//	})
//
// The limits are synctest's:
//   - Time is fake: the clock starts at 2000-01-01 00:00:00 UTC and advances only when every
//     goroutine of the bubble is durably blocked (on a channel, a timer, a sync.Cond, a
//     select; not on a mutex, not on I/O). Traces show times relative to the world's start,
//     so they are stable from run to run and fit for golden files.
//   - No real I/O inside the bubble: a goroutine blocked on a network connection, a pipe or
//     a system call is not "durably blocked", so fake time cannot advance around it and the
//     test may hang. Reading or writing a file (a golden file) is fine.
//   - Goroutines started inside must end inside: the bubble waits for all of them when body
//     returns, and reports a deadlock if they stay blocked forever. Channels, timers and
//     worlds made inside the bubble must not be used from outside it, and vice versa.
//   - t.Parallel may not be called inside the bubble; call it before Run.
//
// A deadlock — every goroutine of the bubble blocked and no timer pending, such as a
// MessageNotify that waits for its own connection's close, FltUnregisterFilter called from a
// callback of the same filter, or a reader and a replier on one synchronous handle — fails the
// test with R-VERIFY-10, the blocked goroutines and the trace, instead of synctest's bare
// panic. (A world made with [New] inside your own synctest.Test gets synctest's panic only: use
// Run.) The blocked goroutines cannot be freed; the package's goleak check reports them too.
func Run(t *testing.T, body func(t *testing.T, w *World), opts ...Option) {
	t.Helper()
	var (
		w      *World
		bubble string
	)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if !isBubbleDeadlock(r) {
			panic(r)
		}
		// The bubble's goroutines stay blocked: report them while they can still be seen.
		t.Error(deadlockReport(r, bubbleGoroutines(bubble), w))
	}()
	synctest.Test(t, func(t *testing.T) {
		bubble = currentBubble()
		w = New(t, opts...)
		// Cleanups run last-in first-out: this one runs before the world's teardown, so that
		// the goroutines the body started settle first and the checks see a stable state.
		t.Cleanup(synctest.Wait)
		body(t, w)
	})
}
