// Package harness is the user-mode world and the test API of fltemu.
//
// [New] makes a machine bound to a test: a kernel world (object namespace, processes, trace,
// verifier) and an emulated filter manager. The test loads drivers ([World.Load]), starts
// processes with access tokens ([World.NewProcess] with kernel.TokenAdmin(),
// kernel.TokenStandardUser(), ...), and makes the calls a user-mode service makes, shaped like
// fltlib and kernel32 so that C code ports line by line: [Process.FilterConnectCommunicationPort],
// [Process.FilterGetMessage] (synchronous, or overlapped with a fltlib.Overlapped),
// [Process.FilterReplyMessage], [Process.FilterSendMessage], [Process.CloseHandle],
// [Process.DuplicateHandle], [Process.CancelIoEx], [Process.CreateIoCompletionPort] and
// [Process.GetQueuedCompletionStatus]. Buffers carry the real 16-byte FILTER_MESSAGE_HEADER
// and FILTER_REPLY_HEADER; results are the real HRESULTs and Win32 errors.
//
// A *Process is the emulator's fltlib.Backend: fltlib.Dial(ctx, p, port, opts) gives the
// idiomatic client (Receive with a context, Reply, Send, Close) that a service also uses on
// Windows.
//
// At the end of the test the world is torn down: a handle still open in a process the test
// did not exit fails the test (a leak; [World.AllowOpenHandles] and
// [Process.AllowOpenHandles] opt out), every process exits, every driver gets a mandatory
// unload, and the test fails for anything left over and for each verifier violation it did
// not declare with [World.ExpectViolation] (the rules are in docs/rules.md). A failing test
// logs the trace.
//
// File operations go through the emulated filter stack: [World.AddVolume] seeds a volume,
// and a process's [Process.CreateFile], [Process.ReadFile], [Process.WriteFile],
// [Process.MappedWrite], [Process.SetEndOfFile], [Process.DeviceIoControl] and the others reach
// the filters' callbacks in altitude order; [Process.FilterAttach] and [Process.FilterDetach]
// attach instances by hand.
//
// The lab: [World.ExpectViolation] and [World.TakeViolations] for the verifier,
// [World.Leftovers] for what is still alive, [World.Faults] for fault injection and killing a
// process at a chosen event, [Golden] and [Mermaid] for traces, and [Run] to run a test body,
// its world and the end-of-test checks in one testing/synctest bubble, where the fake clock
// makes a 30-second timeout take microseconds.
package harness
