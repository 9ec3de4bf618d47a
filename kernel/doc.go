// Package kernel holds the NT primitives of the emulated machine: NTSTATUS, HRESULT and Win32
// errors with their mapping; SIDs, access tokens, security descriptors with SDDL, and the
// access check; the object namespace; processes with per-process handle tables; events and
// I/O completion ports; system time; the trace (flight recorder) and the verifier.
//
// [New] makes a world: everything lives in it and nothing is shared between worlds. Nothing
// here starts a goroutine; every wait blocks on a channel or a timer, so code using it runs
// inside testing/synctest bubbles with fake time.
//
// Lock order: Process.mu → Object.mu; the namespace, trace, verifier and completion-port
// locks are leaves. No lock is held while a cleanup hook runs.
package kernel
