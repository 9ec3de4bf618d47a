package scanner

// SetUnloadHook installs a function the unload callback calls after each of its steps
// ("server port closed", "unregistered", "configuration freed"), for the test of the unload
// order.
func SetUnloadHook(d *Driver, hook func(step string)) { d.testHookUnload = hook }
