// Package harness is the user-mode world and the test API of fltemu.
//
// [New] makes a machine bound to a test: a kernel world (object namespace, processes, trace,
// verifier) and an emulated filter manager. The test loads drivers ([World.Load]), starts
// processes with access tokens ([World.NewProcess] with kernel.TokenAdmin(),
// kernel.TokenStandardUser(), ...), and makes the calls a user-mode service makes, shaped like
// fltlib and kernel32 so that C code ports line by line: [Process.FilterConnectCommunicationPort],
// [Process.FilterGetMessage] (synchronous, or overlapped with an [Overlapped]),
// [Process.FilterReplyMessage], [Process.FilterSendMessage], [Process.CloseHandle],
// [Process.DuplicateHandle], [Process.CancelIoEx], [Process.CreateIoCompletionPort] and
// [Process.GetQueuedCompletionStatus]. Buffers carry the real 16-byte FILTER_MESSAGE_HEADER
// and FILTER_REPLY_HEADER; results are the real HRESULTs and Win32 errors.
//
// [Dial] and [Conn] are an idiomatic client built on those calls: Receive with a context,
// Reply, Send, Close; errors wrap HRESULTs so errors.Is(err, kernel.E_HANDLE) works.
//
// At the end of the test the world is torn down: every process exits, every driver gets a
// mandatory unload, and the test fails for anything left over and for each verifier
// violation it did not declare with [World.ExpectViolation]. A failing test logs the trace.
//
// Tests with timeouts run inside testing/synctest bubbles: create the world inside the
// bubble, and its fake clock makes a 30-second timeout take microseconds.
package harness
