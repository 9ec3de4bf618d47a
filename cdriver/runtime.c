/*
 * runtime.c -- the C half of fltemu's C driver runtime: the routines a driver calls, each a
 * thin wrapper that hands its arguments, with the frame of the calling thread, to the Go half
 * (the cdrv_* functions exported by this package), and the trampolines through which the Go
 * half calls driver code. String routines that need no emulator state are written here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "runtime.h"
#include "_cgo_export.h"

/* The routines themselves, not the header's converting macros. */
#undef FltAllocateContext
#undef FltGetStreamHandleContext
#undef FltGetStreamContext
#undef FltSetStreamHandleContext
#undef FltSetStreamContext

/* The headers and the WCHAR size this runtime was built with (see wdm.h): a driver file built
 * with other headers or the other size references a symbol that is not defined here. */
const int FLTEMU_ABI = sizeof(WCHAR);

/* The frame of the driver code running on this thread. A goroutine that calls into C stays on
 * its thread until the call returns, so a thread-local variable is the goroutine's. */
static __thread fltemu_frame_t fltemu_frame;

#define ENTER(f) fltemu_frame_t saved__ = fltemu_frame; fltemu_frame = (f)
#define LEAVE() fltemu_frame = saved__

NTSTATUS fltemu_call_driver_entry(fltemu_frame_t f, PDRIVER_INITIALIZE fn, PDRIVER_OBJECT d, PUNICODE_STRING r) {
    ENTER(f); NTSTATUS s = fn(d, r); LEAVE(); return s;
}
NTSTATUS fltemu_call_unload(fltemu_frame_t f, PFLT_FILTER_UNLOAD_CALLBACK fn, ULONG flags) {
    ENTER(f); NTSTATUS s = fn(flags); LEAVE(); return s;
}
NTSTATUS fltemu_call_connect(fltemu_frame_t f, PFLT_CONNECT_NOTIFY fn, PFLT_PORT client, PVOID cookie, PVOID ctx, ULONG size, PVOID *conn) {
    ENTER(f); NTSTATUS s = fn(client, cookie, ctx, size, conn); LEAVE(); return s;
}
VOID fltemu_call_disconnect(fltemu_frame_t f, PFLT_DISCONNECT_NOTIFY fn, PVOID cookie) {
    ENTER(f); fn(cookie); LEAVE();
}
NTSTATUS fltemu_call_message(fltemu_frame_t f, PFLT_MESSAGE_NOTIFY fn, PVOID cookie, PVOID in, ULONG inLen, PVOID out, ULONG outLen, PULONG ret) {
    ENTER(f); NTSTATUS s = fn(cookie, in, inLen, out, outLen, ret); LEAVE(); return s;
}
FLT_PREOP_CALLBACK_STATUS fltemu_call_pre(fltemu_frame_t f, PFLT_PRE_OPERATION_CALLBACK fn, PFLT_CALLBACK_DATA d, PCFLT_RELATED_OBJECTS o, PVOID *cc) {
    ENTER(f); FLT_PREOP_CALLBACK_STATUS s = fn(d, o, cc); LEAVE(); return s;
}
FLT_POSTOP_CALLBACK_STATUS fltemu_call_post(fltemu_frame_t f, PFLT_POST_OPERATION_CALLBACK fn, PFLT_CALLBACK_DATA d, PCFLT_RELATED_OBJECTS o, PVOID cc, ULONG flags) {
    ENTER(f); FLT_POSTOP_CALLBACK_STATUS s = fn(d, o, cc, flags); LEAVE(); return s;
}
NTSTATUS fltemu_call_instance_setup(fltemu_frame_t f, PFLT_INSTANCE_SETUP_CALLBACK fn, PCFLT_RELATED_OBJECTS o, ULONG flags, ULONG dt, ULONG ft) {
    ENTER(f); NTSTATUS s = fn(o, flags, dt, (FLT_FILESYSTEM_TYPE)ft); LEAVE(); return s;
}
NTSTATUS fltemu_call_query_teardown(fltemu_frame_t f, PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK fn, PCFLT_RELATED_OBJECTS o, ULONG flags) {
    ENTER(f); NTSTATUS s = fn(o, flags); LEAVE(); return s;
}
VOID fltemu_call_teardown(fltemu_frame_t f, PFLT_INSTANCE_TEARDOWN_CALLBACK fn, PCFLT_RELATED_OBJECTS o, ULONG reason) {
    ENTER(f); fn(o, reason); LEAVE();
}
VOID fltemu_call_context_cleanup(fltemu_frame_t f, PFLT_CONTEXT_CLEANUP_CALLBACK fn, PFLT_CONTEXT c, USHORT type) {
    ENTER(f); fn(c, type); LEAVE();
}

#define F fltemu_frame

/* ---- registration and ports ---------------------------------------------------------------- */

NTSTATUS FltRegisterFilter(PDRIVER_OBJECT Driver, const FLT_REGISTRATION *Registration, PFLT_FILTER *RetFilter) {
    return cdrv_FltRegisterFilter(F, Driver, (FLT_REGISTRATION *)Registration, RetFilter);
}
VOID FltUnregisterFilter(PFLT_FILTER Filter) { cdrv_FltUnregisterFilter(F, Filter); }
NTSTATUS FltStartFiltering(PFLT_FILTER Filter) { return cdrv_FltStartFiltering(F, Filter); }
NTSTATUS FltBuildDefaultSecurityDescriptor(PSECURITY_DESCRIPTOR *SecurityDescriptor, ACCESS_MASK DesiredAccess) {
    return cdrv_FltBuildDefaultSecurityDescriptor(F, SecurityDescriptor, DesiredAccess);
}
VOID FltFreeSecurityDescriptor(PSECURITY_DESCRIPTOR SecurityDescriptor) { cdrv_FltFreeSecurityDescriptor(F, SecurityDescriptor); }
NTSTATUS RtlSetDaclSecurityDescriptor(PSECURITY_DESCRIPTOR SecurityDescriptor, BOOLEAN DaclPresent, PACL Dacl, BOOLEAN DaclDefaulted) {
    return cdrv_RtlSetDaclSecurityDescriptor(F, SecurityDescriptor, DaclPresent, Dacl, DaclDefaulted);
}
NTSTATUS FltCreateCommunicationPort(PFLT_FILTER Filter, PFLT_PORT *ServerPort, POBJECT_ATTRIBUTES ObjectAttributes,
    PVOID ServerPortCookie, PFLT_CONNECT_NOTIFY ConnectNotifyCallback, PFLT_DISCONNECT_NOTIFY DisconnectNotifyCallback,
    PFLT_MESSAGE_NOTIFY MessageNotifyCallback, LONG MaxConnections) {
    return cdrv_FltCreateCommunicationPort(F, Filter, ServerPort, ObjectAttributes, ServerPortCookie,
        (void *)ConnectNotifyCallback, (void *)DisconnectNotifyCallback, (void *)MessageNotifyCallback, MaxConnections);
}
VOID FltCloseCommunicationPort(PFLT_PORT ServerPort) { cdrv_FltCloseCommunicationPort(F, ServerPort); }
VOID FltCloseClientPort(PFLT_FILTER Filter, PFLT_PORT *ClientPort) {
    PFLT_PORT port = NULL;
    if (ClientPort != NULL) {
        port = __atomic_exchange_n(ClientPort, (PFLT_PORT)NULL, __ATOMIC_SEQ_CST);
    }
    cdrv_FltCloseClientPort(F, Filter, ClientPort, port);
}
NTSTATUS FltSendMessage(PFLT_FILTER Filter, PFLT_PORT *ClientPort, PVOID SenderBuffer, ULONG SenderBufferLength,
    PVOID ReplyBuffer, PULONG ReplyLength, PLARGE_INTEGER Timeout) {
    PFLT_PORT port = NULL;
    if (ClientPort != NULL) {
        port = __atomic_load_n(ClientPort, __ATOMIC_SEQ_CST);
    }
    return cdrv_FltSendMessage(F, Filter, ClientPort, port, SenderBuffer, SenderBufferLength, ReplyBuffer, ReplyLength, Timeout);
}

/* ---- callback data, requestor ----------------------------------------------------------------- */

ULONG FltGetRequestorProcessId(PFLT_CALLBACK_DATA CallbackData) { return cdrv_FltGetRequestorProcessId(F, CallbackData); }
PEPROCESS FltGetRequestorProcess(PFLT_CALLBACK_DATA CallbackData) { return (PEPROCESS)cdrv_FltGetRequestorProcess(F, CallbackData); }
VOID FltSetCallbackDataDirty(PFLT_CALLBACK_DATA Data) { cdrv_FltCallbackDataDirty(F, Data, 1); }
VOID FltClearCallbackDataDirty(PFLT_CALLBACK_DATA Data) { cdrv_FltCallbackDataDirty(F, Data, 0); }
BOOLEAN FltIsCallbackDataDirty(PFLT_CALLBACK_DATA Data) { return cdrv_FltCallbackDataDirty(F, Data, 2); }

BOOLEAN FltDoCompletionProcessingWhenSafe(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID CompletionContext,
    FLT_POST_OPERATION_FLAGS Flags, PFLT_POST_OPERATION_CALLBACK SafePostCallback, PFLT_POSTOP_CALLBACK_STATUS RetPostOperationStatus) {
    if (SafePostCallback == NULL || RetPostOperationStatus == NULL) {
        cdrv_BadInput(F, (char *)"FltDoCompletionProcessingWhenSafe", (char *)"a NULL SafePostCallback or RetPostOperationStatus");
        return FALSE;
    }
    /* As on Windows: no safe processing for paging I/O, fast I/O or a draining instance. */
    if ((Flags & FLTFL_POST_OPERATION_DRAINING) || (Data->Iopb->IrpFlags & IRP_PAGING_IO) || !FLT_IS_IRP_OPERATION(Data)) {
        *RetPostOperationStatus = FLT_POSTOP_FINISHED_PROCESSING;
        return FALSE;
    }
    KIRQL old = cdrv_SetIrql(F, PASSIVE_LEVEL);
    *RetPostOperationStatus = SafePostCallback(Data, FltObjects, CompletionContext, Flags);
    cdrv_SetIrql(F, old);
    return TRUE;
}

/* ---- names ----------------------------------------------------------------------------------- */

NTSTATUS FltGetFileNameInformation(PFLT_CALLBACK_DATA CallbackData, FLT_FILE_NAME_OPTIONS NameOptions, PFLT_FILE_NAME_INFORMATION *FileNameInformation) {
    return cdrv_FltGetFileNameInformation(F, CallbackData, NULL, NULL, NameOptions, FileNameInformation);
}
NTSTATUS FltGetFileNameInformationUnsafe(PFILE_OBJECT FileObject, PFLT_INSTANCE Instance, FLT_FILE_NAME_OPTIONS NameOptions, PFLT_FILE_NAME_INFORMATION *FileNameInformation) {
    return cdrv_FltGetFileNameInformation(F, NULL, FileObject, Instance, NameOptions, FileNameInformation);
}
NTSTATUS FltParseFileNameInformation(PFLT_FILE_NAME_INFORMATION FileNameInformation) { return cdrv_FltParseFileNameInformation(F, FileNameInformation); }
VOID FltReleaseFileNameInformation(PFLT_FILE_NAME_INFORMATION FileNameInformation) { cdrv_FltNameReference(F, FileNameInformation, -1); }
VOID FltReferenceFileNameInformation(PFLT_FILE_NAME_INFORMATION FileNameInformation) { cdrv_FltNameReference(F, FileNameInformation, 1); }

/* ---- file I/O, volumes, objects ------------------------------------------------------------------ */

NTSTATUS FltReadFile(PFLT_INSTANCE InitiatingInstance, PFILE_OBJECT FileObject, PLARGE_INTEGER ByteOffset, ULONG Length, PVOID Buffer,
    ULONG Flags, PULONG BytesRead, PFLT_COMPLETED_ASYNC_IO_CALLBACK CallbackRoutine, PVOID CallbackContext) {
    (void)CallbackContext;
    return cdrv_FltReadWriteFile(F, 0, InitiatingInstance, FileObject, ByteOffset, Length, Buffer, Flags, BytesRead, (void *)CallbackRoutine);
}
NTSTATUS FltWriteFile(PFLT_INSTANCE InitiatingInstance, PFILE_OBJECT FileObject, PLARGE_INTEGER ByteOffset, ULONG Length, PVOID Buffer,
    ULONG Flags, PULONG BytesWritten, PFLT_COMPLETED_ASYNC_IO_CALLBACK CallbackRoutine, PVOID CallbackContext) {
    (void)CallbackContext;
    return cdrv_FltReadWriteFile(F, 1, InitiatingInstance, FileObject, ByteOffset, Length, Buffer, Flags, BytesWritten, (void *)CallbackRoutine);
}
VOID FltCancelFileOpen(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject) { cdrv_FltCancelFileOpen(F, Instance, FileObject); }
NTSTATUS FltIsDirectory(PFILE_OBJECT FileObject, PFLT_INSTANCE Instance, PBOOLEAN IsDirectory) { return cdrv_FltIsDirectory(F, FileObject, Instance, IsDirectory); }
NTSTATUS FltGetVolumeFromInstance(PFLT_INSTANCE Instance, PFLT_VOLUME *RetVolume) { return cdrv_FltGetVolumeFromInstance(F, Instance, RetVolume); }
NTSTATUS FltGetVolumeProperties(PFLT_VOLUME Volume, PFLT_VOLUME_PROPERTIES VolumeProperties, ULONG VolumePropertiesLength, PULONG LengthReturned) {
    return cdrv_FltGetVolumeProperties(F, Volume, VolumeProperties, VolumePropertiesLength, LengthReturned);
}
NTSTATUS FltObjectReference(PVOID FltObject) { return cdrv_FltObjectReference(F, FltObject, 1); }
VOID FltObjectDereference(PVOID FltObject) { cdrv_FltObjectReference(F, FltObject, -1); }

/* ---- contexts --------------------------------------------------------------------------------- */

NTSTATUS FltAllocateContext(PFLT_FILTER Filter, FLT_CONTEXT_TYPE ContextType, SIZE_T ContextSize, POOL_TYPE PoolType, PFLT_CONTEXT *ReturnedContext) {
    return cdrv_FltAllocateContext(F, Filter, ContextType, ContextSize, PoolType, ReturnedContext);
}
VOID FltReferenceContext(PFLT_CONTEXT Context) { cdrv_FltContextOp(F, Context, 1); }
VOID FltReleaseContext(PFLT_CONTEXT Context) { cdrv_FltContextOp(F, Context, -1); }
VOID FltDeleteContext(PFLT_CONTEXT Context) { cdrv_FltContextOp(F, Context, 0); }
NTSTATUS FltSetStreamHandleContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, FLT_SET_CONTEXT_OPERATION Operation, PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext) {
    return cdrv_FltSetContext(F, FLT_STREAMHANDLE_CONTEXT, Instance, FileObject, Operation, NewContext, OldContext);
}
NTSTATUS FltGetStreamHandleContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, PFLT_CONTEXT *Context) {
    return cdrv_FltGetContext(F, FLT_STREAMHANDLE_CONTEXT, Instance, FileObject, Context);
}
NTSTATUS FltSetStreamContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, FLT_SET_CONTEXT_OPERATION Operation, PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext) {
    return cdrv_FltSetContext(F, FLT_STREAM_CONTEXT, Instance, FileObject, Operation, NewContext, OldContext);
}
NTSTATUS FltGetStreamContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, PFLT_CONTEXT *Context) {
    return cdrv_FltGetContext(F, FLT_STREAM_CONTEXT, Instance, FileObject, Context);
}

/* ---- pool ------------------------------------------------------------------------------------- */

#undef ExAllocatePoolWithTag
#undef ExAllocatePoolZero
#undef ExAllocatePool2
#undef FltAllocatePoolAlignedWithTag

PVOID fltemu_ExAllocatePool(ULONG64 Flags, SIZE_T NumberOfBytes, ULONG Tag, int Zero, const char *Site, int Line) {
    return cdrv_Allocate(F, Flags, NumberOfBytes, Tag, Zero, (char *)Site, Line);
}
PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
    return cdrv_Allocate(F, (ULONG64)PoolType, NumberOfBytes, Tag, 0, NULL, 0);
}
PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
    return cdrv_Allocate(F, (ULONG64)PoolType, NumberOfBytes, Tag, 1, NULL, 0);
}
PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag) {
    return cdrv_Allocate(F, Flags | 0x8000000000000000ULL, NumberOfBytes, Tag, !(Flags & POOL_FLAG_UNINITIALIZED), NULL, 0);
}
VOID ExFreePoolWithTag(PVOID P, ULONG Tag) { cdrv_Free(F, P, Tag, 1, (char *)"ExFreePoolWithTag"); }
VOID ExFreePool(PVOID P) { cdrv_Free(F, P, 0, 0, (char *)"ExFreePool"); }
PVOID fltemu_FltAllocatePoolAligned(PFLT_INSTANCE Instance, POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, const char *Site, int Line) {
    (void)Instance;
    return cdrv_Allocate(F, (ULONG64)PoolType, NumberOfBytes, Tag, 0, (char *)Site, Line);
}
PVOID FltAllocatePoolAlignedWithTag(PFLT_INSTANCE Instance, POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
    return fltemu_FltAllocatePoolAligned(Instance, PoolType, NumberOfBytes, Tag, NULL, 0);
}
VOID FltFreePoolAlignedWithTag(PFLT_INSTANCE Instance, PVOID Buffer, ULONG Tag) {
    (void)Instance;
    cdrv_Free(F, Buffer, Tag, 1, (char *)"FltFreePoolAlignedWithTag");
}

/* ---- IRQL, asserts, debug output ------------------------------------------------------------------ */

KIRQL KeGetCurrentIrql(VOID) { return cdrv_GetIrql(F); }
VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql) {
    KIRQL old = cdrv_RaiseIrql(F, NewIrql);
    if (OldIrql != NULL) *OldIrql = old;
}
KIRQL KeRaiseIrqlToDpcLevel(VOID) { return cdrv_RaiseIrql(F, DISPATCH_LEVEL); }
VOID KeLowerIrql(KIRQL NewIrql) { cdrv_LowerIrql(F, NewIrql); }
VOID fltemu_PagedCode(const char *File, int Line) { cdrv_PagedCode(F, (char *)File, Line); }
VOID fltemu_AssertFailed(const char *Expression, const char *File, int Line) { cdrv_AssertFailed(F, (char *)Expression, (char *)File, Line); }

/* dbg_vprint formats as the kernel's DbgPrint: printf conversions one at a time through
 * vsnprintf's sibling snprintf, plus %wZ, %Z, %ws/%ls/%S and the I64 size prefix. The Windows
 * l prefix is 32 bits (LLP64), so "l" integers are read as int. */
static void put_wide(char *buf, size_t cap, size_t *n, const WCHAR *s, size_t units) {
    for (size_t i = 0; i < units && s[i] != 0; i++) {
        unsigned c = (unsigned)s[i];
        char tmp[5];
        size_t k;
        if (c < 0x80) { tmp[0] = (char)c; k = 1; }
        else if (c < 0x800) { tmp[0] = (char)(0xC0 | (c >> 6)); tmp[1] = (char)(0x80 | (c & 0x3F)); k = 2; }
        else { tmp[0] = (char)(0xE0 | ((c >> 12) & 0x0F)); tmp[1] = (char)(0x80 | ((c >> 6) & 0x3F)); tmp[2] = (char)(0x80 | (c & 0x3F)); k = 3; }
        for (size_t j = 0; j < k && *n + 1 < cap; j++) buf[(*n)++] = tmp[j];
    }
    buf[*n < cap ? *n : cap - 1] = 0;
}

static ULONG dbg_vprint(const char *Format, va_list ap) {
    char buf[512];
    size_t n = 0, cap = sizeof buf;
    const char *p = Format;
    buf[0] = 0;
    if (Format == NULL) {
        cdrv_BadInput(F, (char *)"DbgPrint", (char *)"a NULL Format");
        return (ULONG)STATUS_INVALID_PARAMETER;
    }
    while (*p && n + 1 < cap) {
        if (*p != '%') { buf[n++] = *p++; continue; }
        if (p[1] == '%') { buf[n++] = '%'; p += 2; continue; }
        /* one conversion: %[flags][width][.precision][size]type */
        char spec[32];
        size_t k = 0;
        spec[k++] = *p++;
        while (*p && strchr("-+ #0", *p) && k < 20) spec[k++] = *p++;
        int star_w = 0, star_p = 0, wv = 0, pv = 0;
        if (*p == '*') { star_w = 1; wv = va_arg(ap, int); spec[k++] = *p++; }
        while (*p >= '0' && *p <= '9' && k < 20) spec[k++] = *p++;
        if (*p == '.') {
            spec[k++] = *p++;
            if (*p == '*') { star_p = 1; pv = va_arg(ap, int); spec[k++] = *p++; }
            while (*p >= '0' && *p <= '9' && k < 24) spec[k++] = *p++;
        }
        int size = 0; /* 0 int, 1 64-bit, 2 short, 3 char, 4 wide, 5 size_t */
        if (p[0] == 'I' && p[1] == '6' && p[2] == '4') { size = 1; p += 3; }
        else if (p[0] == 'I' && p[1] == '3' && p[2] == '2') { p += 3; }
        else if (p[0] == 'I') { size = 5; p++; }
        else if (p[0] == 'l' && p[1] == 'l') { size = 1; p += 2; }
        else if (p[0] == 'l') { size = 4; p++; }
        else if (p[0] == 'w') { size = 4; p++; }
        else if (p[0] == 'h' && p[1] == 'h') { size = 3; p += 2; }
        else if (p[0] == 'h') { size = 2; p++; }
        else if (p[0] == 'z' || p[0] == 'j' || p[0] == 't') { size = 5; p++; }
        char type = *p ? *p++ : 0;
        int left = (int)(cap - n);
        int w = 0;
        switch (type) {
        case 'Z': {
            if (size == 4) {
                PCUNICODE_STRING u = va_arg(ap, PCUNICODE_STRING);
                if (u == NULL || u->Buffer == NULL) put_wide(buf, cap, &n, L"(null)", 6);
                else put_wide(buf, cap, &n, u->Buffer, u->Length / sizeof(WCHAR));
            } else {
                PCANSI_STRING a = va_arg(ap, PCANSI_STRING);
                w = snprintf(buf + n, left, "%.*s", a && a->Buffer ? a->Length : 6, a && a->Buffer ? a->Buffer : "(null)");
            }
            break;
        }
        case 'S':
            size = 4;
            /* fall through */
        case 's':
            if (size == 4) {
                const WCHAR *ws = va_arg(ap, const WCHAR *);
                put_wide(buf, cap, &n, ws ? ws : L"(null)", (size_t)-1);
            } else {
                const char *s = va_arg(ap, const char *);
                spec[k++] = 's'; spec[k] = 0;
                w = star_w && star_p ? snprintf(buf + n, left, spec, wv, pv, s ? s : "(null)") :
                    star_w ? snprintf(buf + n, left, spec, wv, s ? s : "(null)") :
                    star_p ? snprintf(buf + n, left, spec, pv, s ? s : "(null)") : snprintf(buf + n, left, spec, s ? s : "(null)");
            }
            break;
        case 'c': case 'C':
            w = snprintf(buf + n, left, "%c", (char)va_arg(ap, int));
            break;
        case 'p':
            w = snprintf(buf + n, left, "%016llX", (unsigned long long)(uintptr_t)va_arg(ap, void *));
            break;
        case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
            long long v;
            if (size == 1 || size == 5) v = (long long)va_arg(ap, long long);
            else if (type == 'd' || type == 'i') v = (long long)va_arg(ap, int);
            else v = (long long)va_arg(ap, unsigned int);
            if (size == 2) v = (type == 'd' || type == 'i') ? (long long)(short)v : (long long)(unsigned short)v;
            if (size == 3) v = (type == 'd' || type == 'i') ? (long long)(signed char)v : (long long)(unsigned char)v;
            spec[k++] = 'l'; spec[k++] = 'l'; spec[k++] = type; spec[k] = 0;
            w = star_w && star_p ? snprintf(buf + n, left, spec, wv, pv, v) :
                star_w ? snprintf(buf + n, left, spec, wv, v) :
                star_p ? snprintf(buf + n, left, spec, pv, v) : snprintf(buf + n, left, spec, v);
            break;
        }
        case 'e': case 'E': case 'f': case 'g': case 'G': {
            double v = va_arg(ap, double);
            spec[k++] = type; spec[k] = 0;
            w = snprintf(buf + n, left, spec, v);
            break;
        }
        default:
            w = snprintf(buf + n, left, "%%%c", type ? type : '?');
        }
        if (w > 0) n += (size_t)w < (size_t)left ? (size_t)w : (size_t)left - 1;
    }
    int truncated = n + 1 >= cap;
    if (n >= cap) n = cap - 1;
    buf[n] = 0;
    cdrv_DbgPrint(F, buf, truncated);
    return (ULONG)STATUS_SUCCESS;
}
ULONG DbgPrint(PCSTR Format, ...) {
    va_list ap;
    va_start(ap, Format);
    ULONG r = dbg_vprint(Format, ap);
    va_end(ap);
    return r;
}
ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
    (void)ComponentId; (void)Level;
    va_list ap;
    va_start(ap, Format);
    ULONG r = dbg_vprint(Format, ap);
    va_end(ap);
    return r;
}

VOID ProbeForRead(const volatile VOID *Address, SIZE_T Length, ULONG Alignment) {
    cdrv_Probe(F, (void *)Address, Length, Alignment, 0);
}
VOID ProbeForWrite(volatile VOID *Address, SIZE_T Length, ULONG Alignment) {
    cdrv_Probe(F, (void *)Address, Length, Alignment, 1);
}
VOID ExRaiseStatus(NTSTATUS Status) { cdrv_RaiseStatus(F, Status); }

/* ---- processes, time ------------------------------------------------------------------------- */

HANDLE PsGetCurrentProcessId(VOID) { return (HANDLE)(ULONG_PTR)cdrv_CurrentProcessId(F); }
HANDLE PsGetCurrentThreadId(VOID) { return (HANDLE)(ULONG_PTR)cdrv_CurrentThreadId(F); }
PEPROCESS PsGetCurrentProcess(VOID) { return (PEPROCESS)cdrv_CurrentProcess(F); }
PETHREAD PsGetCurrentThread(VOID) { return (PETHREAD)cdrv_CurrentThread(F); }
HANDLE PsGetProcessId(PEPROCESS Process) { return (HANDLE)(ULONG_PTR)cdrv_ProcessId(F, Process); }
VOID ObReferenceObject(PVOID Object) { (void)Object; }
VOID ObDereferenceObject(PVOID Object) { (void)Object; }

VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime) { CurrentTime->QuadPart = cdrv_SystemTime(F, 0); }
ULONGLONG KeQueryInterruptTime(VOID) { return (ULONGLONG)cdrv_SystemTime(F, 1); }

/* ---- events, waits --------------------------------------------------------------------------- */

VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State) { cdrv_EventOp(F, Event, 0, Type, State); }
LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait) { (void)Increment; (void)Wait; return cdrv_EventOp(F, Event, 1, 0, 0); }
VOID KeClearEvent(PRKEVENT Event) { cdrv_EventOp(F, Event, 2, 0, 0); }
LONG KeResetEvent(PRKEVENT Event) { return cdrv_EventOp(F, Event, 2, 0, 0); }
LONG KeReadStateEvent(PRKEVENT Event) { return cdrv_EventOp(F, Event, 3, 0, 0); }
NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Timeout) {
    (void)WaitReason; (void)WaitMode; (void)Alertable;
    return cdrv_Wait(F, Object, Timeout);
}
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval) {
    (void)WaitMode; (void)Alertable;
    return cdrv_Delay(F, Interval);
}

/* ---- locks --------------------------------------------------------------------------------------- */

enum { LOCK_SPIN = 1, LOCK_FAST_MUTEX, LOCK_MUTEX, LOCK_RESOURCE, LOCK_PUSH };

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock) { cdrv_LockInit(F, SpinLock, LOCK_SPIN); }
VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql) {
    KIRQL old = cdrv_RaiseIrql(F, DISPATCH_LEVEL);
    cdrv_LockAcquire(F, SpinLock, LOCK_SPIN, 0, 1, (char *)"KeAcquireSpinLock");
    if (OldIrql != NULL) *OldIrql = old;
}
VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql) {
    cdrv_LockRelease(F, SpinLock, LOCK_SPIN, (char *)"KeReleaseSpinLock");
    cdrv_LowerIrql(F, NewIrql);
}
VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) { cdrv_LockAcquire(F, SpinLock, LOCK_SPIN, 0, 1, (char *)"KeAcquireSpinLockAtDpcLevel"); }
VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock) { cdrv_LockRelease(F, SpinLock, LOCK_SPIN, (char *)"KeReleaseSpinLockFromDpcLevel"); }
VOID KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle) {
    KIRQL old = cdrv_RaiseIrql(F, DISPATCH_LEVEL);
    cdrv_LockAcquire(F, SpinLock, LOCK_SPIN, 0, 1, (char *)"KeAcquireInStackQueuedSpinLock");
    LockHandle->LockQueue.Lock = SpinLock;
    LockHandle->LockQueue.Next = NULL;
    LockHandle->OldIrql = old;
}
VOID KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle) {
    cdrv_LockRelease(F, LockHandle->LockQueue.Lock, LOCK_SPIN, (char *)"KeReleaseInStackQueuedSpinLock");
    cdrv_LowerIrql(F, LockHandle->OldIrql);
}
VOID KeInitializeMutex(PRKMUTEX Mutex, ULONG Level) { (void)Level; cdrv_LockInit(F, Mutex, LOCK_MUTEX); }
LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait) { (void)Wait; cdrv_LockRelease(F, Mutex, LOCK_MUTEX, (char *)"KeReleaseMutex"); return 0; }
VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex) { cdrv_LockInit(F, FastMutex, LOCK_FAST_MUTEX); }
VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex) {
    cdrv_LockAcquire(F, FastMutex, LOCK_FAST_MUTEX, 0, 1, (char *)"ExAcquireFastMutex");
    FastMutex->OldIrql = cdrv_RaiseIrql(F, APC_LEVEL);
}
BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex) {
    if (!cdrv_LockAcquire(F, FastMutex, LOCK_FAST_MUTEX, 0, 0, (char *)"ExTryToAcquireFastMutex")) return FALSE;
    FastMutex->OldIrql = cdrv_RaiseIrql(F, APC_LEVEL);
    return TRUE;
}
VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex) {
    KIRQL old = (KIRQL)FastMutex->OldIrql;
    cdrv_LockRelease(F, FastMutex, LOCK_FAST_MUTEX, (char *)"ExReleaseFastMutex");
    cdrv_LowerIrql(F, old);
}
VOID KeEnterCriticalRegion(VOID) {}
VOID KeLeaveCriticalRegion(VOID) {}
NTSTATUS ExInitializeResourceLite(PERESOURCE Resource) { cdrv_LockInit(F, Resource, LOCK_RESOURCE); return STATUS_SUCCESS; }
NTSTATUS ExDeleteResourceLite(PERESOURCE Resource) { cdrv_LockDelete(F, Resource, (char *)"ExDeleteResourceLite"); return STATUS_SUCCESS; }
BOOLEAN ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait) {
    return cdrv_LockAcquire(F, Resource, LOCK_RESOURCE, 0, Wait, (char *)"ExAcquireResourceExclusiveLite");
}
BOOLEAN ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait) {
    return cdrv_LockAcquire(F, Resource, LOCK_RESOURCE, 1, Wait, (char *)"ExAcquireResourceSharedLite");
}
VOID ExReleaseResourceLite(PERESOURCE Resource) { cdrv_LockRelease(F, Resource, LOCK_RESOURCE, (char *)"ExReleaseResourceLite"); }
VOID FltInitializePushLock(PEX_PUSH_LOCK PushLock) { cdrv_LockInit(F, PushLock, LOCK_PUSH); }
VOID FltDeletePushLock(PEX_PUSH_LOCK PushLock) { cdrv_LockDelete(F, PushLock, (char *)"FltDeletePushLock"); }
VOID FltAcquirePushLockExclusive(PEX_PUSH_LOCK PushLock) { cdrv_LockAcquire(F, PushLock, LOCK_PUSH, 0, 1, (char *)"FltAcquirePushLockExclusive"); }
VOID FltAcquirePushLockShared(PEX_PUSH_LOCK PushLock) { cdrv_LockAcquire(F, PushLock, LOCK_PUSH, 1, 1, (char *)"FltAcquirePushLockShared"); }
VOID FltReleasePushLock(PEX_PUSH_LOCK PushLock) { cdrv_LockRelease(F, PushLock, LOCK_PUSH, (char *)"FltReleasePushLock"); }

/* ---- strings --------------------------------------------------------------------------------- */

SIZE_T fltemu_RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length) {
    const UCHAR *a = Source1, *b = Source2;
    SIZE_T i = 0;
    while (i < Length && a[i] == b[i]) i++;
    return i;
}

/* A UNICODE_STRING the driver hands in is checked before it is read: Length even and at most
 * MaximumLength, a buffer when Length is not 0. A bad one is reported (R-VERIFY-5) and read as
 * empty, where Windows would read past the buffer. */
static int us_ok(const char *routine, PCUNICODE_STRING s) {
    if (s == NULL) {
        cdrv_BadInput(F, (char *)routine, (char *)"a NULL UNICODE_STRING");
        return 0;
    }
    if ((s->Length % sizeof(WCHAR)) || s->Length > s->MaximumLength || (s->Length != 0 && s->Buffer == NULL)) {
        char msg[160];
        snprintf(msg, sizeof msg, "a malformed UNICODE_STRING (Length %u, MaximumLength %u, Buffer %s)",
            s->Length, s->MaximumLength, s->Buffer ? "set" : "NULL");
        cdrv_BadInput(F, (char *)routine, msg);
        return 0;
    }
    return 1;
}

/* The longest string a UNICODE_STRING holds with room for a NUL: MAXUSHORT rounded down to a
 * whole character, less one. */
#define MAX_US_BYTES ((0xFFFF / sizeof(WCHAR) - 1) * sizeof(WCHAR))

static size_t wlen(PCWSTR s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString) {
    if (DestinationString == NULL) {
        cdrv_BadInput(F, (char *)"RtlInitUnicodeString", (char *)"a NULL DestinationString");
        return;
    }
    DestinationString->Buffer = (PWCH)SourceString;
    DestinationString->Length = DestinationString->MaximumLength = 0;
    if (SourceString != NULL) {
        size_t n = wlen(SourceString) * sizeof(WCHAR);
        if (n > MAX_US_BYTES) n = MAX_US_BYTES;
        DestinationString->Length = (USHORT)n;
        DestinationString->MaximumLength = (USHORT)(n + sizeof(WCHAR));
    }
}
NTSTATUS RtlInitUnicodeStringEx(PUNICODE_STRING DestinationString, PCWSTR SourceString) {
    if (SourceString != NULL && wlen(SourceString) * sizeof(WCHAR) > MAX_US_BYTES) return (NTSTATUS)0xC0000106L; /* STATUS_NAME_TOO_LONG */
    RtlInitUnicodeString(DestinationString, SourceString);
    return STATUS_SUCCESS;
}
VOID RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString) {
    DestinationString->Buffer = (PCHAR)SourceString;
    DestinationString->Length = DestinationString->MaximumLength = 0;
    if (SourceString != NULL) {
        size_t n = strlen(SourceString);
        if (n > 0xFFFE) n = 0xFFFE;
        DestinationString->Length = (USHORT)n;
        DestinationString->MaximumLength = (USHORT)(n + 1);
    }
}
VOID RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString) {
    if (SourceString == NULL) {
        DestinationString->Length = 0;
        return;
    }
    if (!us_ok("RtlCopyUnicodeString", SourceString)) return;
    USHORT n = min(SourceString->Length, DestinationString->MaximumLength);
    memmove(DestinationString->Buffer, SourceString->Buffer, n);
    DestinationString->Length = n;
    if (n + sizeof(WCHAR) <= DestinationString->MaximumLength) DestinationString->Buffer[n / sizeof(WCHAR)] = 0;
}
NTSTATUS RtlAppendUnicodeStringToString(PUNICODE_STRING Destination, PCUNICODE_STRING Source) {
    if (!us_ok("RtlAppendUnicodeStringToString", Destination) || !us_ok("RtlAppendUnicodeStringToString", Source)) return STATUS_INVALID_PARAMETER;
    if ((ULONG)Destination->Length + Source->Length > Destination->MaximumLength) return STATUS_BUFFER_TOO_SMALL;
    memmove((char *)Destination->Buffer + Destination->Length, Source->Buffer, Source->Length);
    Destination->Length += Source->Length;
    if (Destination->Length + sizeof(WCHAR) <= Destination->MaximumLength) Destination->Buffer[Destination->Length / sizeof(WCHAR)] = 0;
    return STATUS_SUCCESS;
}
NTSTATUS RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source) {
    UNICODE_STRING s;
    RtlInitUnicodeString(&s, Source);
    return RtlAppendUnicodeStringToString(Destination, &s);
}

/* Upper-casing covers ASCII, Latin-1 and the Latin Extended-A pairs; other characters are left
 * as they are (Windows uses the NLS upcase table of the system). */
WCHAR RtlUpcaseUnicodeChar(WCHAR c) {
    if (c >= 'a' && c <= 'z') return c - ('a' - 'A');
    if (c < 0x80) return c;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
    if (c == 0xFF) return 0x178;
    if (c >= 0x100 && c <= 0x17F && (c & 1) && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c; /* odd entries are upper case there */
        return c - 1;
    }
    if ((c >= 0x13A && c <= 0x148 && !(c & 1)) || (c >= 0x17A && c <= 0x17E && !(c & 1))) return c - 1;
    return c;
}
LONG RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive) {
    if (!us_ok("RtlCompareUnicodeString", String1) || !us_ok("RtlCompareUnicodeString", String2)) return 0;
    USHORT n1 = String1->Length / sizeof(WCHAR), n2 = String2->Length / sizeof(WCHAR), n = min(n1, n2);
    for (USHORT i = 0; i < n; i++) {
        WCHAR a = String1->Buffer[i], b = String2->Buffer[i];
        if (CaseInSensitive) {
            a = RtlUpcaseUnicodeChar(a);
            b = RtlUpcaseUnicodeChar(b);
        }
        if (a != b) return (LONG)a - (LONG)b;
    }
    return (LONG)n1 - (LONG)n2;
}
BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive) {
    if (!us_ok("RtlEqualUnicodeString", String1) || !us_ok("RtlEqualUnicodeString", String2)) return FALSE;
    if (String1->Length != String2->Length) return FALSE;
    return RtlCompareUnicodeString(String1, String2, CaseInSensitive) == 0;
}
BOOLEAN RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive) {
    if (!us_ok("RtlPrefixUnicodeString", String1) || !us_ok("RtlPrefixUnicodeString", String2)) return FALSE;
    if (String1->Length > String2->Length) return FALSE;
    UNICODE_STRING head = *String2;
    head.Length = String1->Length;
    return RtlCompareUnicodeString(String1, &head, CaseInSensitive) == 0;
}
NTSTATUS RtlUpcaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString, BOOLEAN AllocateDestinationString) {
    if (!us_ok("RtlUpcaseUnicodeString", SourceString)) return STATUS_INVALID_PARAMETER;
    if (AllocateDestinationString) {
        DestinationString->Buffer = cdrv_Allocate(F, PagedPool, SourceString->Length + sizeof(WCHAR), 0x72745355 /* 'UStr' */, 1,
            (char *)"RtlUpcaseUnicodeString", 0);
        if (DestinationString->Buffer == NULL) return STATUS_NO_MEMORY;
        DestinationString->MaximumLength = SourceString->Length + sizeof(WCHAR);
    } else if (DestinationString->MaximumLength < SourceString->Length) {
        return STATUS_BUFFER_OVERFLOW;
    }
    for (USHORT i = 0; i < SourceString->Length / sizeof(WCHAR); i++) DestinationString->Buffer[i] = RtlUpcaseUnicodeChar(SourceString->Buffer[i]);
    DestinationString->Length = SourceString->Length;
    return STATUS_SUCCESS;
}
VOID RtlFreeUnicodeString(PUNICODE_STRING UnicodeString) {
    if (UnicodeString->Buffer != NULL) cdrv_Free(F, UnicodeString->Buffer, 0, 0, (char *)"RtlFreeUnicodeString");
    UnicodeString->Buffer = NULL;
    UnicodeString->Length = UnicodeString->MaximumLength = 0;
}
NTSTATUS RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base, PULONG Value) {
    if (!us_ok("RtlUnicodeStringToInteger", String)) return STATUS_INVALID_PARAMETER;
    USHORT i = 0, n = String->Length / sizeof(WCHAR);
    while (i < n && String->Buffer[i] == ' ') i++;
    int neg = 0;
    if (i < n && (String->Buffer[i] == '-' || String->Buffer[i] == '+')) neg = String->Buffer[i++] == '-';
    if (Base == 0) {
        Base = 10;
        if (i + 1 < n && String->Buffer[i] == '0') {
            WCHAR p = String->Buffer[i + 1];
            if (p == 'x') Base = 16, i += 2;
            else if (p == 'o') Base = 8, i += 2;
            else if (p == 'b') Base = 2, i += 2;
        }
    } else if (Base != 2 && Base != 8 && Base != 10 && Base != 16) {
        return STATUS_INVALID_PARAMETER;
    }
    ULONG v = 0;
    for (; i < n; i++) {
        WCHAR c = RtlUpcaseUnicodeChar(String->Buffer[i]);
        ULONG d = c >= '0' && c <= '9' ? (ULONG)(c - '0') : c >= 'A' && c <= 'F' ? (ULONG)(c - 'A' + 10) : 99;
        if (d >= Base) break;
        v = v * Base + d;
    }
    *Value = neg ? (ULONG)(-(LONG)v) : v;
    return STATUS_SUCCESS;
}

const FLT_CONTEXT_REGISTRATION *fltemu_context_registration_at(const FLT_CONTEXT_REGISTRATION *a, int i) { return &a[i]; }
const FLT_OPERATION_REGISTRATION *fltemu_operation_registration_at(const FLT_OPERATION_REGISTRATION *a, int i) { return &a[i]; }

/* ---- parameters -------------------------------------------------------------------------------- */

void fltemu_iostatus_set(PFLT_CALLBACK_DATA d, NTSTATUS s, ULONG_PTR info) { d->IoStatus.Status = s; d->IoStatus.Information = info; }
NTSTATUS fltemu_iostatus_get(PFLT_CALLBACK_DATA d, ULONG_PTR *info) { *info = d->IoStatus.Information; return d->IoStatus.Status; }

void fltemu_params_set(PFLT_IO_PARAMETER_BLOCK p, const fltemu_params *v) {
    FLT_PARAMETERS *q = &p->Parameters;
    switch (p->MajorFunction) {
    case IRP_MJ_CREATE:
        q->Create.SecurityContext = v->secctx; q->Create.Options = v->a1; q->Create.FileAttributes = v->s1;
        q->Create.ShareAccess = v->s2; q->Create.EaLength = v->a2; q->Create.AllocationSize.QuadPart = v->off; break;
    case IRP_MJ_READ:
        q->Read.Length = v->a1; q->Read.Key = v->a2; q->Read.ByteOffset.QuadPart = v->off; q->Read.ReadBuffer = v->buf; break;
    case IRP_MJ_WRITE:
        q->Write.Length = v->a1; q->Write.Key = v->a2; q->Write.ByteOffset.QuadPart = v->off; q->Write.WriteBuffer = v->buf; break;
    case IRP_MJ_QUERY_INFORMATION:
        q->QueryFileInformation.Length = v->a1; q->QueryFileInformation.FileInformationClass = v->infoClass; break;
    case IRP_MJ_SET_INFORMATION:
        q->SetFileInformation.Length = v->a1; q->SetFileInformation.FileInformationClass = v->infoClass;
        q->SetFileInformation.ReplaceIfExists = (BOOLEAN)v->s1; break;
    case IRP_MJ_FILE_SYSTEM_CONTROL:
        q->FileSystemControl.Common.OutputBufferLength = v->a1; q->FileSystemControl.Common.InputBufferLength = v->a2;
        q->FileSystemControl.Common.FsControlCode = v->a3; break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        q->DeviceIoControl.Common.OutputBufferLength = v->a1; q->DeviceIoControl.Common.InputBufferLength = v->a2;
        q->DeviceIoControl.Common.IoControlCode = v->a3; break;
    }
}

void fltemu_params_get(PFLT_IO_PARAMETER_BLOCK p, fltemu_params *v) {
    FLT_PARAMETERS *q = &p->Parameters;
    memset(v, 0, sizeof *v);
    switch (p->MajorFunction) {
    case IRP_MJ_CREATE:
        v->a1 = q->Create.Options; v->s1 = q->Create.FileAttributes; v->s2 = q->Create.ShareAccess; break;
    case IRP_MJ_READ:
        v->a1 = q->Read.Length; v->off = q->Read.ByteOffset.QuadPart; v->buf = q->Read.ReadBuffer; break;
    case IRP_MJ_WRITE:
        v->a1 = q->Write.Length; v->off = q->Write.ByteOffset.QuadPart; v->buf = q->Write.WriteBuffer; break;
    }
}

/* ---- layouts the tests check ----------------------------------------------------------------- */

fltemu_layout fltemu_layout_of(int which) {
    fltemu_layout l = {0, 0, 0};
    switch (which) {
    case 0: l.size = sizeof(UNICODE_STRING); l.offset1 = offsetof(UNICODE_STRING, MaximumLength); l.offset2 = offsetof(UNICODE_STRING, Buffer); break;
    case 1: l.size = sizeof(FILTER_MESSAGE_HEADER); l.offset1 = offsetof(FILTER_MESSAGE_HEADER, ReplyLength); l.offset2 = offsetof(FILTER_MESSAGE_HEADER, MessageId); break;
    case 2: l.size = sizeof(FILTER_REPLY_HEADER); l.offset1 = offsetof(FILTER_REPLY_HEADER, Status); l.offset2 = offsetof(FILTER_REPLY_HEADER, MessageId); break;
    case 3: l.size = sizeof(FLT_REGISTRATION); l.offset1 = offsetof(FLT_REGISTRATION, Flags); l.offset2 = offsetof(FLT_REGISTRATION, SectionNotificationCallback); break;
    case 4: l.size = sizeof(FLT_OPERATION_REGISTRATION); l.offset1 = offsetof(FLT_OPERATION_REGISTRATION, Flags); l.offset2 = offsetof(FLT_OPERATION_REGISTRATION, PreOperation); break;
    case 5: l.size = sizeof(LARGE_INTEGER); l.offset1 = offsetof(LARGE_INTEGER, HighPart); l.offset2 = 0; break;
    case 6: l.size = sizeof(OBJECT_ATTRIBUTES); l.offset1 = offsetof(OBJECT_ATTRIBUTES, ObjectName); l.offset2 = offsetof(OBJECT_ATTRIBUTES, SecurityDescriptor); break;
    case 7: l.size = sizeof(FLT_RELATED_OBJECTS); l.offset1 = offsetof(FLT_RELATED_OBJECTS, Filter); l.offset2 = offsetof(FLT_RELATED_OBJECTS, FileObject); break;
    case 8: l.size = sizeof(FLT_CONTEXT_REGISTRATION); l.offset1 = offsetof(FLT_CONTEXT_REGISTRATION, Size); l.offset2 = offsetof(FLT_CONTEXT_REGISTRATION, PoolTag); break;
    case 9: l.size = sizeof(WCHAR); l.offset1 = sizeof(ULONG); l.offset2 = sizeof(LONG_PTR); break;
    }
    return l;
}
