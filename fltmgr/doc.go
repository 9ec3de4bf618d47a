// Package fltmgr is the emulated Windows Filter Manager: filter registration and unload,
// communication server ports, connections, kernel→user messages with replies and timeouts,
// and user→kernel messages. A driver sees it through the [driverapi.FilterManager] its
// DriverEntry receives (a view of the Manager that has the Flt routines only; driverview.go);
// the host drives the [Manager] and its [Connection]s: the kernel halves of the user-mode
// calls, loading and unloading, and the lab's controls.
//
// # The message path
//
// Messages are not buffered (R-MODEL-5). FltSendMessage looks at the connection's pending
// FilterGetMessage requests, oldest first; the first one large enough receives the message,
// copied by the sender straight from its buffer into the user's. With no such request the
// sender queues itself and a later Get copies from the sender's (stable, blocked) buffer.
// Reply waiters are registered under the connection lock before the receiver is completed,
// so a fast reply cannot be missed. No lock is held across a copy, a wait or a driver
// callback; a send without a timeout creates no timer; senders are pooled, so the steady
// state allocates nothing per message (with the trace turned off).
//
// # Lock order (the whole module)
//
// This is the one lock-order tree of the module: every other package points here. A lock is
// taken only while holding locks above it on its own branch; the locks listed as taken alone
// nest with nothing. No lock is ever held across a wait (a channel, a timer, a run-down), a
// driver callback, a GetCompletion or a trace observer, so driver code may call back into the
// filter manager from anywhere.
//
//	fltmgr.Manager.mu
//	└─ filter.mu                       the guard of each connection's life (conn_life.go)
//	   ├─ Connection.mu                the message path: pending Gets, waiting senders, reply waiters
//	   └─ kernel: the namespace's lock server ports are named and unnamed under filter.mu
//	fltmgr.ioState.mu                  the I/O half (see "File I/O" below)
//	└─ filterIO.mu
//	   ├─ filter.mu                    (its branch above)
//	   └─ instance.mu
//	      └─ fltContext.mu
//	         └─ fsys.Volume.mu
//	fltmgr.ioOp.mu
//	└─ instance.mu                     (its branch above)
//	kernel.Process.mu
//	└─ kernel.Object.mu
//
// Taken alone: fltmgr's rundown.mu, sectionTable.mu and Section.mu; kernel's World.mu, the
// namespace's lock (except under filter.mu, above), Trace.mu and its observer lock,
// Verifier.mu, CompletionPort.mu and KEvent.mu; fsys.Volume.mu (except under fltContext.mu);
// harness's World.mu, Faults.mu, Process.ioMu and Thread.mu; fltlib's Overlapped.mu and
// Conn.mu. CancelGets' match function runs under Connection.mu: it must take no lock (the
// harness's reads only its request's immutable fields).
//
// A driver callback (ConnectNotify, DisconnectNotify, MessageNotify, FilterUnload) always
// runs with no lock held, so it may call back into the filter manager. Each connection has a
// message run-down: DisconnectNotify waits until the connection's running MessageNotify calls
// have returned, at a user close (it then runs on the closing thread, which returns after
// it, R-CB-2) as at unload (on the unloading thread). A driver that calls FltUnregisterFilter from inside one of its own MessageNotify or
// ConnectNotify calls waits for itself, as it would hang on Windows. Run-down protection
// (like ExAcquireRundownProtection) lets FltUnregisterFilter wait for ConnectNotify and
// MessageNotify calls in flight.
//
// # File I/O: volumes, instances and the operation stack
//
// The harness mounts volumes ([Manager.AddVolume]; the file system itself is
// [fsys.Volume]). A filter that calls FltStartFiltering attaches an instance to every mounted
// volume at the altitude of its registration (Registration.Altitude stands for the INF's
// default instance), and to every volume mounted later, unless its instance flags suppress
// automatic attachment; user mode attaches and detaches with FilterAttach / FilterDetach
// ([Manager.AttachFilter], [Manager.DetachFilter]). InstanceSetup may refuse
// (STATUS_FLT_DO_NOT_ATTACH); InstanceQueryTeardown decides manual detaches.
//
// The harness plays the I/O manager: [Manager.NtCreateFile], [Manager.NtReadFile], ... build
// an operation and send it down the volume's stack on the requestor's goroutine. Pre-operation
// callbacks run from the highest altitude down; the file system runs unless a filter
// completed the operation; post-operation callbacks run lowest altitude first. Nothing starts
// a goroutine: a pended operation (FLT_PREOP_PENDING, FLT_POSTOP_MORE_PROCESSING_REQUIRED)
// blocks its requestor on a channel until FltCompletePended*Operation. The callback data
// carries the requestor's thread in its context (CallbackData.Context), which a callback
// passes to FltSendMessage: a requestor whose process exits is a terminating thread.
//
// Instance teardown (manual detach, or FltUnregisterFilter after the filter's connections
// ended): no new operation enters the instance, InstanceTeardownStart runs, callbacks in
// flight finish, post-operation callbacks still owed are called with
// FLTFL_POST_OPERATION_DRAINING, InstanceTeardownComplete runs, and the instance's contexts
// are deleted. Then the verifier reports what the filter still holds.
//
// Locks of the I/O half: see the lock-order tree above. The list of a volume's instances is
// copied on write, so dispatch reads it without a lock; an instance counts the callbacks running on it so a teardown can
// wait for them (on a channel, never holding a lock).
//
// Decisions where Windows leaves room (the rule ids are in §9 of docs/rules.md):
//   - Parameters a pre-operation changes without FltSetCallbackDataDirty are ignored, as the
//     documentation says, and reported (R-IO-VERIFY-3). Redirecting an operation to another
//     instance or file object is not emulated.
//   - Invalid callback results are reported (R-IO-VERIFY-1, -2, -4, -6): an unknown
//     pre-operation status fails the operation with STATUS_UNSUCCESSFUL; completing an open
//     with success in a pre-create, or with STATUS_PENDING, fails it with
//     STATUS_UNSUCCESSFUL; completing a cleanup or close is reported and the file system
//     still gets it, so its state stays consistent.
//   - A post-create that fails a successful open must call FltCancelFileOpen; otherwise the
//     emulator reports it (R-IO-VERIFY-5) and cancels the open itself. FltCancelFileOpen with
//     a success status left in place fails the open with STATUS_ACCESS_DENIED.
//   - An operation still pended when its instance is torn down is reported (R-IO-VERIFY-7) and
//     completed with STATUS_CANCELLED instead of hanging the teardown.
//   - Context references still held, file name information never released and
//     FltObjectReference references never dropped when the filter unregisters are reported
//     (R-IO-VERIFY-8, -9); Windows would hang in FltUnregisterFilter or leak.
//   - Stream contexts end when the stream's last file object closes (NTFS may keep them
//     longer); stream-handle contexts when their file object closes.
//   - Names: there is no name cache (every query method asks the file system); there are no
//     short names (FLT_FILE_NAME_SHORT is STATUS_NOT_SUPPORTED); names cannot be queried in
//     IRP_MJ_CLOSE.
//   - The asynchronous forms of FltReadFile / FltWriteFile (a completion routine) and
//     transactions are not emulated.
//
// # Decisions where Windows is undocumented
//
// These follow the project's rule book, docs/rules.md, and are part of the contract:
//   - A zero FltSendMessage timeout does not wait at all (the documentation contradicts
//     itself); one deadline covers delivery and reply (R-SEND-3).
//   - Delivery is first fit, as fltmgr's queue peek is (R-SEND-4): a message goes to the
//     oldest pending Get large enough for it; only when none is does the sender refuse the
//     oldest Get (STATUS_BUFFER_TOO_SMALL with the size needed), one Get per sender, and then
//     wait for a large enough one. A Get that arrives while senders wait goes to the oldest
//     sender whose message fits; if none fits it is refused for the oldest sender that has
//     not refused one yet, else it stays pending. The message is never lost or truncated.
//   - Message ids are given when a message is delivered, per connection, from 1; a message
//     that times out undelivered uses no id.
//   - A nil security descriptor gives the port the System token's default DACL (SYSTEM all
//     access, Administrators read and execute), so only SYSTEM can connect, since a connect
//     asks for FLT_PORT_ALL_ACCESS (R-CREATE-6, R-MODEL-2).
//   - The MaxConnections slot is freed when the kernel endpoint closes (FltCloseClientPort or
//     teardown at unload), not when the user closes; DisconnectNotify is not called for a
//     disconnect the filter started itself (R-CLOSECLI-3, R-CLOSECLI-4).
//   - FilterSendMessage to a port without MessageNotify is STATUS_NOT_SUPPORTED.
//   - A second FltRegisterFilter by the same driver is STATUS_INVALID_PARAMETER.
//   - FltUnregisterFilter with a server port open hangs on Windows; here the verifier reports
//     it, the port is closed, and the unload goes on (R-UNLOAD-6).
package fltmgr
