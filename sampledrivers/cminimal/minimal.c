/*++

Module Name:

    minimal.c

Abstract:

    The smallest useful minifilter with a communication port, written as for the WDK: one
    server port, one connection at a time, a MessageNotify that answers user requests, and an
    unload routine that closes the port before unregistering.

    Requests (the input buffer, ASCII):
      "sleep"  wait 30 seconds on an event nobody sets, then answer "woke"
      anything else: the input upper-cased

Environment:

    Kernel mode

--*/

#include <fltKernel.h>
#include <dontuse.h>
#include "minimal.h"

#define MINIMAL_TAG 'niMm'

typedef struct _MINIMAL_DATA {
    PDRIVER_OBJECT DriverObject;
    PFLT_FILTER Filter;
    PFLT_PORT ServerPort;
    PFLT_PORT ClientPort;
    PEPROCESS UserProcess;
    KEVENT NeverSet;
} MINIMAL_DATA;

MINIMAL_DATA MinimalData;

/* What each connection keeps: allocated in ConnectNotify, freed in DisconnectNotify. */
typedef struct _MINIMAL_CONNECTION {
    ULONG ProcessId;
    ULONG Requests;
} MINIMAL_CONNECTION, *PMINIMAL_CONNECTION;

DRIVER_INITIALIZE DriverEntry;
NTSTATUS MinimalUnload(_In_ FLT_FILTER_UNLOAD_FLAGS Flags);
NTSTATUS MinimalConnect(_In_ PFLT_PORT ClientPort, _In_opt_ PVOID ServerPortCookie,
    _In_reads_bytes_opt_(SizeOfContext) PVOID ConnectionContext, _In_ ULONG SizeOfContext,
    _Outptr_result_maybenull_ PVOID *ConnectionCookie);
VOID MinimalDisconnect(_In_opt_ PVOID ConnectionCookie);
NTSTATUS MinimalMessage(_In_opt_ PVOID PortCookie, _In_reads_bytes_opt_(InputBufferLength) PVOID InputBuffer,
    _In_ ULONG InputBufferLength, _Out_writes_bytes_to_opt_(OutputBufferLength, *ReturnOutputBufferLength) PVOID OutputBuffer,
    _In_ ULONG OutputBufferLength, _Out_ PULONG ReturnOutputBufferLength);

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, MinimalUnload)
#pragma alloc_text(PAGE, MinimalConnect)
#pragma alloc_text(PAGE, MinimalDisconnect)
#pragma alloc_text(PAGE, MinimalMessage)
#endif

CONST FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION),   //  Size
    FLT_REGISTRATION_VERSION,   //  Version
    0,                          //  Flags
    NULL,                       //  Context
    NULL,                       //  Operation callbacks
    MinimalUnload,              //  FilterUnload
    NULL,                       //  InstanceSetup
    NULL,                       //  InstanceQueryTeardown
    NULL,                       //  InstanceTeardownStart
    NULL,                       //  InstanceTeardownComplete
    NULL,                       //  GenerateFileName
    NULL,                       //  NormalizeNameComponent
    NULL,                       //  NormalizeContextCleanup
    NULL,                       //  TransactionNotification
    NULL,                       //  NormalizeNameComponentEx
    NULL                        //  SectionNotification
};

NTSTATUS
DriverEntry(
    _In_ PDRIVER_OBJECT DriverObject,
    _In_ PUNICODE_STRING RegistryPath
    )
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING uniString;
    PSECURITY_DESCRIPTOR sd;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);

    RtlZeroMemory(&MinimalData, sizeof(MinimalData));
    MinimalData.DriverObject = DriverObject;
    KeInitializeEvent(&MinimalData.NeverSet, NotificationEvent, FALSE);

    status = FltRegisterFilter(DriverObject, &FilterRegistration, &MinimalData.Filter);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    RtlInitUnicodeString(&uniString, MINIMAL_PORT_NAME);

    //
    //  Only SYSTEM and administrators may connect.
    //
    status = FltBuildDefaultSecurityDescriptor(&sd, FLT_PORT_ALL_ACCESS);
    if (NT_SUCCESS(status)) {
        InitializeObjectAttributes(&oa, &uniString, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, sd);
        status = FltCreateCommunicationPort(MinimalData.Filter, &MinimalData.ServerPort, &oa, NULL,
            MinimalConnect, MinimalDisconnect, MinimalMessage, 1);
        FltFreeSecurityDescriptor(sd);
        if (NT_SUCCESS(status)) {
            status = FltStartFiltering(MinimalData.Filter);
            if (NT_SUCCESS(status)) {
                DbgPrint("minimal!DriverEntry: filtering, port %wZ\n", &uniString);
                return STATUS_SUCCESS;
            }
            FltCloseCommunicationPort(MinimalData.ServerPort);
        }
    }
    FltUnregisterFilter(MinimalData.Filter);
    return status;
}

NTSTATUS
MinimalUnload(
    _In_ FLT_FILTER_UNLOAD_FLAGS Flags
    )
{
    UNREFERENCED_PARAMETER(Flags);
    PAGED_CODE();

    FltCloseCommunicationPort(MinimalData.ServerPort);
    FltUnregisterFilter(MinimalData.Filter);
    DbgPrint("minimal!MinimalUnload: unloaded\n");
    return STATUS_SUCCESS;
}

NTSTATUS
MinimalConnect(
    _In_ PFLT_PORT ClientPort,
    _In_opt_ PVOID ServerPortCookie,
    _In_reads_bytes_opt_(SizeOfContext) PVOID ConnectionContext,
    _In_ ULONG SizeOfContext,
    _Outptr_result_maybenull_ PVOID *ConnectionCookie
    )
{
    PMINIMAL_CONNECTION conn;

    UNREFERENCED_PARAMETER(ServerPortCookie);
    UNREFERENCED_PARAMETER(ConnectionContext);
    UNREFERENCED_PARAMETER(SizeOfContext);
    PAGED_CODE();

    conn = ExAllocatePoolZero(PagedPool, sizeof(MINIMAL_CONNECTION), MINIMAL_TAG);
    if (conn == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    conn->ProcessId = HandleToUlong(PsGetCurrentProcessId());

    MinimalData.UserProcess = PsGetCurrentProcess();
    MinimalData.ClientPort = ClientPort;
    *ConnectionCookie = conn;
    DbgPrint("minimal!MinimalConnect: process %lu connected\n", conn->ProcessId);
    return STATUS_SUCCESS;
}

VOID
MinimalDisconnect(
    _In_opt_ PVOID ConnectionCookie
    )
{
    PMINIMAL_CONNECTION conn = ConnectionCookie;

    PAGED_CODE();

    DbgPrint("minimal!MinimalDisconnect: process %lu, %lu requests\n", conn->ProcessId, conn->Requests);
    FltCloseClientPort(MinimalData.Filter, &MinimalData.ClientPort);
    MinimalData.UserProcess = NULL;
    ExFreePoolWithTag(conn, MINIMAL_TAG);
}

NTSTATUS
MinimalMessage(
    _In_opt_ PVOID PortCookie,
    _In_reads_bytes_opt_(InputBufferLength) PVOID InputBuffer,
    _In_ ULONG InputBufferLength,
    _Out_writes_bytes_to_opt_(OutputBufferLength, *ReturnOutputBufferLength) PVOID OutputBuffer,
    _In_ ULONG OutputBufferLength,
    _Out_ PULONG ReturnOutputBufferLength
    )
{
    PMINIMAL_CONNECTION conn = PortCookie;
    PUCHAR in = InputBuffer, out = OutputBuffer;
    ULONG i;

    PAGED_CODE();

    *ReturnOutputBufferLength = 0;
    conn->Requests++;

    if (InputBuffer == NULL || OutputBuffer == NULL) {
        return STATUS_INVALID_PARAMETER;
    }

    __try {
        ProbeForRead(InputBuffer, InputBufferLength, sizeof(UCHAR));
        ProbeForWrite(OutputBuffer, OutputBufferLength, sizeof(UCHAR));

        if (InputBufferLength == 5 && RtlEqualMemory(in, "sleep", 5)) {
            LARGE_INTEGER timeout;
            NTSTATUS status;

            timeout.QuadPart = -30LL * 1000 * 1000 * 10;     // 30 s, relative
            status = KeWaitForSingleObject(&MinimalData.NeverSet, Executive, KernelMode, FALSE, &timeout);
            if (status != STATUS_TIMEOUT || OutputBufferLength < 4) {
                return STATUS_UNSUCCESSFUL;
            }
            RtlCopyMemory(out, "woke", 4);
            *ReturnOutputBufferLength = 4;
            return STATUS_SUCCESS;
        }

        if (OutputBufferLength < InputBufferLength) {
            return STATUS_BUFFER_TOO_SMALL;
        }
        for (i = 0; i < InputBufferLength; i++) {
            out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (UCHAR)(in[i] - ('a' - 'A')) : in[i];
        }
        *ReturnOutputBufferLength = InputBufferLength;

    } __except (EXCEPTION_EXECUTE_HANDLER) {
        return GetExceptionCode();
    }

    return STATUS_SUCCESS;
}
