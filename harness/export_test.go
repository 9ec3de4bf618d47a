package harness

import "time"

// SetSlowWaitThreshold sets how much real time a timed wait of a world outside a synctest
// bubble takes before the world says so, and returns the function that restores the default.
// A test sets it to 0 so that a wait of microseconds counts: no test sleeps for a second.
func SetSlowWaitThreshold(d time.Duration) (restore func()) {
	old := slowWaitThreshold.Swap(int64(d))
	return func() { slowWaitThreshold.Store(old) }
}
