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
//
// # Files
//
// The file half of the user-mode world: volumes ([World.AddVolume]), the kernel32 file API of
// a process (CreateFile, ReadFile, WriteFile, SetFileInformationByHandle,
// MoveFileEx, DeleteFile, DeviceIoControl, ...) and fltlib's FilterAttach / FilterDetach.
// Every call runs the operation through the volume's minifilter stack on the caller's
// goroutine and returns the Win32 error kernel32 would (nil for success).
//
// Decisions:
//   - Paths are absolute: `C:\dir\a.txt` (`/` accepted), `\\?\C:\...` (taken literally) or
//     `\\server\share\...` for a network volume with that share. `.` and `..` are resolved and
//     trailing dots and spaces dropped from each component, as Win32 does. A relative path is
//     ERROR_INVALID_NAME (there is no current directory); an unknown drive ERROR_PATH_NOT_FOUND.
//   - Each process's calls run on its main thread, id = process id + 2; the thread's context
//     is done when the process exits. Cleanup and close of a file object run with the thread
//     of the process that opened it, whoever closes the last handle.
//   - CREATE_ALWAYS and OPEN_ALWAYS on an existing file succeed with a nil error: the
//     "ERROR_ALREADY_EXISTS as last error" detail is not reported.
//   - FILE_FLAG_OVERLAPPED makes an asynchronous file object (no file pointer: reads and writes
//     need an offset), but the calls still complete before they return.
//   - MoveFile does not copy across volumes: ERROR_NOT_SAME_DEVICE.
package harness
