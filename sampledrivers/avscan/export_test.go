package avscan

// SetReleasedHook installs a function that runs on the finalizing goroutine right after a
// scan's waiting I/O thread is released.
func SetReleasedHook(d *Driver, f func()) { d.testHookReleased = f }
