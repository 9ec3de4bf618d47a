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
// Locks of the I/O half: see the lock-order tree in doc.go. The list of a volume's instances is copied on write, so dispatch
// reads it without a lock; an instance counts the callbacks running on it so a teardown can
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
package fltmgr
