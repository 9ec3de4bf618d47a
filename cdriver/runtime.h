/* runtime.h -- declarations shared by the runtime's C file and its Go files (not for drivers). */
#ifndef FLTEMU_RUNTIME_H
#define FLTEMU_RUNTIME_H
#include <fltKernel.h>
#include <fltUserStructures.h>

/* The frame of the C code running on this thread: a runtime/cgo.Handle of the Go frame, set by
 * each trampoline around a call into driver code and restored after it. */
typedef uintptr_t fltemu_frame_t;

NTSTATUS fltemu_call_driver_entry(fltemu_frame_t f, PDRIVER_INITIALIZE fn, PDRIVER_OBJECT d, PUNICODE_STRING r);
NTSTATUS fltemu_call_unload(fltemu_frame_t f, PFLT_FILTER_UNLOAD_CALLBACK fn, ULONG flags);
NTSTATUS fltemu_call_connect(fltemu_frame_t f, PFLT_CONNECT_NOTIFY fn, PFLT_PORT client, PVOID cookie, PVOID ctx, ULONG size, PVOID *conn);
VOID fltemu_call_disconnect(fltemu_frame_t f, PFLT_DISCONNECT_NOTIFY fn, PVOID cookie);
NTSTATUS fltemu_call_message(fltemu_frame_t f, PFLT_MESSAGE_NOTIFY fn, PVOID cookie, PVOID in, ULONG inLen, PVOID out, ULONG outLen, PULONG ret);
FLT_PREOP_CALLBACK_STATUS fltemu_call_pre(fltemu_frame_t f, PFLT_PRE_OPERATION_CALLBACK fn, PFLT_CALLBACK_DATA d, PCFLT_RELATED_OBJECTS o, PVOID *cc);
FLT_POSTOP_CALLBACK_STATUS fltemu_call_post(fltemu_frame_t f, PFLT_POST_OPERATION_CALLBACK fn, PFLT_CALLBACK_DATA d, PCFLT_RELATED_OBJECTS o, PVOID cc, ULONG flags);
NTSTATUS fltemu_call_instance_setup(fltemu_frame_t f, PFLT_INSTANCE_SETUP_CALLBACK fn, PCFLT_RELATED_OBJECTS o, ULONG flags, ULONG dt, ULONG ft);
NTSTATUS fltemu_call_query_teardown(fltemu_frame_t f, PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK fn, PCFLT_RELATED_OBJECTS o, ULONG flags);
VOID fltemu_call_teardown(fltemu_frame_t f, PFLT_INSTANCE_TEARDOWN_CALLBACK fn, PCFLT_RELATED_OBJECTS o, ULONG reason);
VOID fltemu_call_context_cleanup(fltemu_frame_t f, PFLT_CONTEXT_CLEANUP_CALLBACK fn, PFLT_CONTEXT c, USHORT type);

/* The members of FLT_PARAMETERS the runtime converts, flattened (cgo cannot name union members). */
typedef struct {
    ULONG a1, a2, a3;
    USHORT s1, s2;
    LONGLONG off;
    PVOID buf;
    PVOID secctx;
    ULONG infoClass;
} fltemu_params;
void fltemu_params_set(PFLT_IO_PARAMETER_BLOCK p, const fltemu_params *v);
void fltemu_params_get(PFLT_IO_PARAMETER_BLOCK p, fltemu_params *v);
void fltemu_iostatus_set(PFLT_CALLBACK_DATA d, NTSTATUS s, ULONG_PTR info);
NTSTATUS fltemu_iostatus_get(PFLT_CALLBACK_DATA d, ULONG_PTR *info);

/* Elements of the driver's registration arrays (indexed in C: they are the driver's static
 * data, which Go's pointer checks cannot size). */
const FLT_CONTEXT_REGISTRATION *fltemu_context_registration_at(const FLT_CONTEXT_REGISTRATION *a, int i);
const FLT_OPERATION_REGISTRATION *fltemu_operation_registration_at(const FLT_OPERATION_REGISTRATION *a, int i);

/* The layouts the tests check. */
typedef struct { size_t size, offset1, offset2; } fltemu_layout;
fltemu_layout fltemu_layout_of(int which);

#endif
