// Package kernel holds the NT primitives of the emulated machine: NTSTATUS, HRESULT and Win32
// errors with their mapping; SIDs, access tokens, security descriptors with SDDL, and the
// access check; the object namespace; processes with per-process handle tables; events and
// I/O completion ports; system time; the trace (flight recorder) and the verifier.
//
// [New] makes a world: everything lives in it and nothing is shared between worlds. Nothing
// here starts a goroutine; every wait blocks on a channel or a timer, so code using it runs
// inside testing/synctest bubbles with fake time.
//
// Lock order: Process.mu → Object.mu; the namespace, trace, verifier, event and
// completion-port locks are leaves (the filter manager takes the namespace's lock under one of
// its own). The module's one lock-order tree is in the package comment of
// github.com/fltemu/fltemu/fltmgr. No lock is held while a cleanup hook runs.
package kernel
