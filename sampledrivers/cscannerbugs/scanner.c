/*++

Module Name:

    scanner.c

Abstract:

    The scanner minifilter, written as for the WDK. After a file with a listed extension is
    opened, the filter reads its head and sends it to the user-mode service connected to
    \ScannerPort; the service answers whether the file is safe, and a file that is not is not
    opened. Files opened for writing are rescanned at cleanup, and their writes are scanned
    before they reach the disk. The service's own opens are never scanned.

Environment:

    Kernel mode

--*/

#include <fltKernel.h>
#include <dontuse.h>
#include <suppress.h>
#include "scanuk.h"
#include "scanner.h"

#pragma prefast(disable:__WARNING_ENCODE_MEMBER_FUNCTION_POINTER, "Not valid for kernel mode drivers")

//
//  Structure that contains all the global data structures used throughout the scanner.
//

SCANNER_DATA ScannerData;

//
//  The bugs planted in this copy of the scanner, set by the test before loading.
//

#define BUG_NO_CLOSE_CLIENT_PORT    0x1     // DisconnectNotify forgets FltCloseClientPort
#define BUG_LEAK_NOTIFICATION       0x2     // the notification is never freed
#define BUG_UNREGISTER_OPEN_PORT    0x4     // unload unregisters with the server port open
#define BUG_SEND_IN_POST_WRITE      0x8     // a post-write callback sends to user mode
#define BUG_REGISTRATION_SIZE       0x10    // FLT_REGISTRATION.Size of an older header
#define BUG_DOUBLE_FREE             0x20    // the notification is freed twice
#define BUG_LOCK_HELD_AT_RETURN     0x40    // the pre-create returns holding a push lock
#define BUG_RELEASE_NOT_HELD        0x80    // the pre-create releases a push lock it does not hold
#define BUG_WRITE_AFTER_FREE        0x100   // the notification is written after it is freed
#define BUG_WAIT_AT_DISPATCH        0x200   // the pre-create waits, with a timeout, holding a spin lock
#define BUG_POOL_OVERRUN            0x400   // the notification is written one byte past its end
#define BUG_FREE_WRONG_TAG          0x800   // the notification is freed with another tag
#define BUG_ASSERT_IN_PRE_CREATE    0x1000  // the pre-create asserts what only holds for a write
#define BUG_LOWER_IRQL_UP           0x2000  // the pre-create "lowers" the IRQL to APC_LEVEL
#define BUG_RETURN_AT_APC           0x4000  // the pre-create raises to APC_LEVEL and returns there
#define BUG_RAISE_IRQL_DOWN         0x8000  // the post-write "raises" to APC_LEVEL from DISPATCH_LEVEL
#define BUG_NULL_REGISTRATION       0x10000 // FltRegisterFilter with a NULL Registration
#define BUG_REGISTRATION_VERSION    0x20000 // FLT_REGISTRATION.Version of a future header
#define BUG_ODD_PORT_NAME_LENGTH    0x40000 // the port name's Length cuts its last WCHAR in half

ULONG PlantedBugs;

//
//  What the lock bugs lock (the scanner itself needs no lock).
//

EX_PUSH_LOCK BugPushLock;
KSPIN_LOCK BugSpinLock;
KEVENT BugNeverSet;

FLT_POSTOP_CALLBACK_STATUS
ScannerPostWrite (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    );

//
//  The extensions to scan.
//

const UNICODE_STRING ScannerExtensionsToScan[] =
    { RTL_CONSTANT_STRING( L"exe"),
      RTL_CONSTANT_STRING( L"doc"),
      RTL_CONSTANT_STRING( L"txt"),
      RTL_CONSTANT_STRING( L"bat"),
      RTL_CONSTANT_STRING( L"cmd"),
      RTL_CONSTANT_STRING( L"inf"),
      /*RTL_CONSTANT_STRING( L"ini"),   Removed, to much usage*/
      {0, 0, NULL}
    };

//
//  Function prototypes
//

NTSTATUS
ScannerPortConnect (
    _In_ PFLT_PORT ClientPort,
    _In_opt_ PVOID ServerPortCookie,
    _In_reads_bytes_opt_(SizeOfContext) PVOID ConnectionContext,
    _In_ ULONG SizeOfContext,
    _Outptr_result_maybenull_ PVOID *ConnectionCookie
    );

VOID
ScannerPortDisconnect (
    _In_opt_ PVOID ConnectionCookie
    );

NTSTATUS
ScannerpScanFileInUserMode (
    _In_ PFLT_INSTANCE Instance,
    _In_ PFILE_OBJECT FileObject,
    _Out_ PBOOLEAN SafeToOpen
    );

NTSTATUS
ScannerpAskUser (
    _In_reads_bytes_(Length) PUCHAR Data,
    _In_ ULONG Length,
    _Out_ PBOOLEAN SafeToOpen
    );

BOOLEAN
ScannerpCheckExtension (
    _In_ PUNICODE_STRING Extension
    );

//
//  Assign text sections for each routine.
//

#ifdef ALLOC_PRAGMA
    #pragma alloc_text(INIT, DriverEntry)
    #pragma alloc_text(PAGE, ScannerInstanceSetup)
    #pragma alloc_text(PAGE, ScannerPreCreate)
    #pragma alloc_text(PAGE, ScannerPortConnect)
    #pragma alloc_text(PAGE, ScannerPortDisconnect)
#endif

//
//  Constant FLT_REGISTRATION structure for our filter.  This initializes the callback
//  routines our filter wants to register for.
//

const FLT_OPERATION_REGISTRATION Callbacks[] = {

    { IRP_MJ_CREATE,
      0,
      ScannerPreCreate,
      ScannerPostCreate},

    { IRP_MJ_CLEANUP,
      0,
      ScannerPreCleanup,
      NULL},

    { IRP_MJ_WRITE,
      0,
      ScannerPreWrite,
      ScannerPostWrite},

    { IRP_MJ_FILE_SYSTEM_CONTROL,
      0,
      ScannerPreFileSystemControl,
      NULL
    },

    { IRP_MJ_OPERATION_END}
};

const FLT_CONTEXT_REGISTRATION ContextRegistration[] = {

    { FLT_STREAMHANDLE_CONTEXT,
      0,
      NULL,
      sizeof(SCANNER_STREAM_HANDLE_CONTEXT),
      SCANNER_STREAM_HANDLE_CONTEXT_TAG },

    { FLT_CONTEXT_END }
};

const FLT_REGISTRATION FilterRegistration = {

    sizeof( FLT_REGISTRATION ),         //  Size
    FLT_REGISTRATION_VERSION,           //  Version
    0,                                  //  Flags
    ContextRegistration,                //  Context Registration.
    Callbacks,                          //  Operation callbacks
    ScannerUnload,                      //  FilterUnload
    ScannerInstanceSetup,               //  InstanceSetup
    ScannerQueryTeardown,               //  InstanceQueryTeardown
    NULL,                               //  InstanceTeardownStart
    NULL,                               //  InstanceTeardownComplete
    NULL,                               //  GenerateFileName
    NULL,                               //  GenerateDestinationFileName
    NULL                                //  NormalizeNameComponent
};

////////////////////////////////////////////////////////////////////////////
//
//    Filter initialization and unload routines.
//
////////////////////////////////////////////////////////////////////////////

NTSTATUS
DriverEntry (
    _In_ PDRIVER_OBJECT DriverObject,
    _In_ PUNICODE_STRING RegistryPath
    )
/*++

Routine Description:

    Registers the filter, creates the communication port and starts filtering.

Return Value:

    STATUS_SUCCESS, or the status of the step that failed (the steps before it are undone).

--*/
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING uniString;
    PSECURITY_DESCRIPTOR sd;
    NTSTATUS status;

    UNREFERENCED_PARAMETER( RegistryPath );

    RtlZeroMemory( &ScannerData, sizeof( ScannerData ) );
    ScannerData.DriverObject = DriverObject;
    FltInitializePushLock( &BugPushLock );
    KeInitializeSpinLock( &BugSpinLock );
    KeInitializeEvent( &BugNeverSet, NotificationEvent, FALSE );

    //
    //  Register with filter manager.
    //

    if (FlagOn( PlantedBugs, BUG_REGISTRATION_SIZE )) {

        FLT_REGISTRATION shortRegistration = FilterRegistration;

        shortRegistration.Size = FIELD_OFFSET( FLT_REGISTRATION, GenerateFileNameCallback );
        status = FltRegisterFilter( DriverObject, &shortRegistration, &ScannerData.Filter );

    } else if (FlagOn( PlantedBugs, BUG_NULL_REGISTRATION )) {

        status = FltRegisterFilter( DriverObject, NULL, &ScannerData.Filter );

    } else if (FlagOn( PlantedBugs, BUG_REGISTRATION_VERSION )) {

        FLT_REGISTRATION futureRegistration = FilterRegistration;

        futureRegistration.Version = 0x0300;
        status = FltRegisterFilter( DriverObject, &futureRegistration, &ScannerData.Filter );

    } else {

        status = FltRegisterFilter( DriverObject,
                                    &FilterRegistration,
                                    &ScannerData.Filter );
    }

    if (!NT_SUCCESS( status )) {

        return status;
    }

    //
    //  Create a communication port.
    //

    RtlInitUnicodeString( &uniString, ScannerPortName );

    if (FlagOn( PlantedBugs, BUG_ODD_PORT_NAME_LENGTH )) {

        uniString.Length -= 1;
    }

    //
    //  We secure the port so only ADMINs & SYSTEM can acecss it.
    //

    status = FltBuildDefaultSecurityDescriptor( &sd, FLT_PORT_ALL_ACCESS );

    if (NT_SUCCESS( status )) {

        InitializeObjectAttributes( &oa,
                                    &uniString,
                                    OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
                                    NULL,
                                    sd );

        status = FltCreateCommunicationPort( ScannerData.Filter,
                                             &ScannerData.ServerPort,
                                             &oa,
                                             NULL,
                                             ScannerPortConnect,
                                             ScannerPortDisconnect,
                                             NULL,
                                             1 );
        //
        //  Free the security descriptor in all cases. It is not needed once
        //  the call to FltCreateCommunicationPort() is made.
        //

        FltFreeSecurityDescriptor( sd );

        if (NT_SUCCESS( status )) {

            //
            //  Start filtering I/O.
            //

            status = FltStartFiltering( ScannerData.Filter );

            if (NT_SUCCESS( status )) {

                return STATUS_SUCCESS;
            }

            FltCloseCommunicationPort( ScannerData.ServerPort );
        }
    }

    FltUnregisterFilter( ScannerData.Filter );

    return status;
}


NTSTATUS
ScannerPortConnect (
    _In_ PFLT_PORT ClientPort,
    _In_opt_ PVOID ServerPortCookie,
    _In_reads_bytes_opt_(SizeOfContext) PVOID ConnectionContext,
    _In_ ULONG SizeOfContext,
    _Outptr_result_maybenull_ PVOID *ConnectionCookie
    )
/*++

Routine Description

    Called when user-mode connects to the server port: the connecting process becomes the
    trusted scanner process. MaxConnections is 1, so there is no other connection.

--*/
{
    PAGED_CODE();

    UNREFERENCED_PARAMETER( ServerPortCookie );
    UNREFERENCED_PARAMETER( ConnectionContext );
    UNREFERENCED_PARAMETER( SizeOfContext);
    UNREFERENCED_PARAMETER( ConnectionCookie );

    FLT_ASSERT( ScannerData.ClientPort == NULL );
    FLT_ASSERT( ScannerData.UserProcess == NULL );

    //
    //  Set the user process and port. In a production filter it may
    //  be necessary to synchronize access to such fields with port
    //  lifetime. For instance, while filter manager will synchronize
    //  FltCloseClientPort with FltSendMessage's reading of the port
    //  handle, synchronizing access to the UserProcess would be up to
    //  the filter.
    //

    ScannerData.UserProcess = PsGetCurrentProcess();
    ScannerData.ClientPort = ClientPort;

    DbgPrint( "!!! scanner.sys --- connected, port=0x%p\n", ClientPort );

    return STATUS_SUCCESS;
}


VOID
ScannerPortDisconnect(
     _In_opt_ PVOID ConnectionCookie
     )
/*++

Routine Description

    Called when the connection is torn down: close our handle to the connection, then forget
    the process.

--*/
{
    UNREFERENCED_PARAMETER( ConnectionCookie );

    PAGED_CODE();

    DbgPrint( "!!! scanner.sys --- disconnected, port=0x%p\n", ScannerData.ClientPort );

    //
    //  Close our handle to the connection: note, since we limited max connections to 1,
    //  another connect will not be allowed until we return from the disconnect routine.
    //

    if (!FlagOn( PlantedBugs, BUG_NO_CLOSE_CLIENT_PORT )) {

        FltCloseClientPort( ScannerData.Filter, &ScannerData.ClientPort );
    }

    //
    //  Reset the user-process field.
    //

    ScannerData.UserProcess = NULL;
}


NTSTATUS
ScannerUnload (
    _In_ FLT_FILTER_UNLOAD_FLAGS Flags
    )
/*++

Routine Description:

    The unload routine: close the server port, then unregister (which ends the connection
    and waits for the callbacks in flight).

--*/
{
    UNREFERENCED_PARAMETER( Flags );

    //
    //  Close the server port.
    //

    if (!FlagOn( PlantedBugs, BUG_UNREGISTER_OPEN_PORT )) {

        FltCloseCommunicationPort( ScannerData.ServerPort );
    }

    //
    //  Unregister the filter
    //

    FltUnregisterFilter( ScannerData.Filter );

    return STATUS_SUCCESS;
}

NTSTATUS
ScannerInstanceSetup (
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ FLT_INSTANCE_SETUP_FLAGS Flags,
    _In_ DEVICE_TYPE VolumeDeviceType,
    _In_ FLT_FILESYSTEM_TYPE VolumeFilesystemType
    )
/*++

Routine Description:

    Don't attach to network volumes.

--*/
{
    UNREFERENCED_PARAMETER( FltObjects );
    UNREFERENCED_PARAMETER( Flags );
    UNREFERENCED_PARAMETER( VolumeFilesystemType );

    PAGED_CODE();

    FLT_ASSERT( FltObjects->Filter == ScannerData.Filter );

    if (VolumeDeviceType == FILE_DEVICE_NETWORK_FILE_SYSTEM) {

       return STATUS_FLT_DO_NOT_ATTACH;
    }

    return STATUS_SUCCESS;
}

NTSTATUS
ScannerQueryTeardown (
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ FLT_INSTANCE_QUERY_TEARDOWN_FLAGS Flags
    )
/*++

Routine Description:

    Allow manual detaches.

--*/
{
    UNREFERENCED_PARAMETER( FltObjects );
    UNREFERENCED_PARAMETER( Flags );

    return STATUS_SUCCESS;
}


FLT_PREOP_CALLBACK_STATUS
ScannerPreCreate (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
/*++

Routine Description:

    The scanner service's own opens get no post-create: they are never scanned (the service
    may open foul files).

--*/
{
    UNREFERENCED_PARAMETER( FltObjects );
    UNREFERENCED_PARAMETER( CompletionContext );

    PAGED_CODE();

    if (FlagOn( PlantedBugs, BUG_LOCK_HELD_AT_RETURN )) {

        KeEnterCriticalRegion();
        FltAcquirePushLockExclusive( &BugPushLock );
        KeLeaveCriticalRegion();
    }

    if (FlagOn( PlantedBugs, BUG_RELEASE_NOT_HELD )) {

        FltReleasePushLock( &BugPushLock );
    }

    if (FlagOn( PlantedBugs, BUG_WAIT_AT_DISPATCH )) {

        KIRQL oldIrql;
        LARGE_INTEGER timeout;

        timeout.QuadPart = -10 * 1000 * 10;     // 10 ms
        KeAcquireSpinLock( &BugSpinLock, &oldIrql );
        KeWaitForSingleObject( &BugNeverSet, Executive, KernelMode, FALSE, &timeout );
        KeReleaseSpinLock( &BugSpinLock, oldIrql );
    }

    if (FlagOn( PlantedBugs, BUG_ASSERT_IN_PRE_CREATE )) {

        NT_ASSERT( Data->Iopb->MajorFunction == IRP_MJ_WRITE );
    }

    if (FlagOn( PlantedBugs, BUG_LOWER_IRQL_UP )) {

        KeLowerIrql( APC_LEVEL );
    }

    if (FlagOn( PlantedBugs, BUG_RETURN_AT_APC )) {

        KIRQL oldIrql;

        KeRaiseIrql( APC_LEVEL, &oldIrql );
        UNREFERENCED_PARAMETER( oldIrql );
    }

    if (ScannerData.UserProcess != NULL &&
        FltGetRequestorProcess( Data ) == ScannerData.UserProcess) {

        DbgPrint( "!!! scanner.sys -- allowing create for trusted process \n" );

        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

BOOLEAN
ScannerpCheckExtension (
    _In_ PUNICODE_STRING Extension
    )
/*++

Routine Description:

    Whether files with this extension are scanned (compared case-insensitively).

--*/
{
    const UNICODE_STRING *ext;

    if (Extension->Length == 0) {

        return FALSE;
    }

    //
    //  Check if it matches any one of our static extension list
    //

    ext = ScannerExtensionsToScan;

    while (ext->Buffer != NULL) {

        if (RtlCompareUnicodeString( Extension, ext, TRUE ) == 0) {

            //
            //  A match. We are interested in this file
            //

            return TRUE;
        }
        ext++;
    }

    return FALSE;
}


FLT_POSTOP_CALLBACK_STATUS
ScannerPostCreate (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
/*++

Routine Description:

    Scans a newly opened file with a listed extension in user mode and cancels the open of a
    foul one. A safe open with write access gets a stream handle context that asks for a
    rescan at cleanup.

--*/
{
    PSCANNER_STREAM_HANDLE_CONTEXT scannerContext;
    FLT_POSTOP_CALLBACK_STATUS returnStatus = FLT_POSTOP_FINISHED_PROCESSING;
    PFLT_FILE_NAME_INFORMATION nameInfo;
    NTSTATUS status;
    BOOLEAN safeToOpen, scanFile, isDirectory;

    UNREFERENCED_PARAMETER( CompletionContext );

    //
    //  If this create was failing anyway, don't bother scanning now; nor when the instance
    //  is draining.
    //

    if (!NT_SUCCESS( Data->IoStatus.Status ) ||
        (STATUS_REPARSE == Data->IoStatus.Status) ||
        FlagOn( Flags, FLTFL_POST_OPERATION_DRAINING )) {

        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    status = FltIsDirectory( FltObjects->FileObject, FltObjects->Instance, &isDirectory );

    if (!NT_SUCCESS( status ) || isDirectory) {

        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    //
    //  Check if we are interested in this file.
    //

    status = FltGetFileNameInformation( Data,
                                        FLT_FILE_NAME_NORMALIZED |
                                            FLT_FILE_NAME_QUERY_DEFAULT,
                                        &nameInfo );

    if (!NT_SUCCESS( status )) {

        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    FltParseFileNameInformation( nameInfo );

    //
    //  Check if the extension matches the list of extensions we are interested in
    //

    scanFile = ScannerpCheckExtension( &nameInfo->Extension );

    //
    //  Release file name info, we're done with it
    //

    FltReleaseFileNameInformation( nameInfo );

    if (!scanFile) {

        //
        //  Not an extension we are interested in
        //

        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    (VOID) ScannerpScanFileInUserMode( FltObjects->Instance,
                                       FltObjects->FileObject,
                                       &safeToOpen );

    if (!safeToOpen) {

        //
        //  Ask the filter manager to undo the create.
        //

        DbgPrint( "!!! scanner.sys -- foul language detected in postcreate !!!\n" );

        DbgPrint( "!!! scanner.sys -- undoing create \n" );

        FltCancelFileOpen( FltObjects->Instance, FltObjects->FileObject );

        Data->IoStatus.Status = STATUS_ACCESS_DENIED;
        Data->IoStatus.Information = 0;

        returnStatus = FLT_POSTOP_FINISHED_PROCESSING;

    } else if (FltObjects->FileObject->WriteAccess) {

        //
        //  The create has requested write access, mark to rescan the file.
        //  Allocate the context.
        //

        status = FltAllocateContext( ScannerData.Filter,
                                     FLT_STREAMHANDLE_CONTEXT,
                                     sizeof(SCANNER_STREAM_HANDLE_CONTEXT),
                                     PagedPool,
                                     &scannerContext );

        if (NT_SUCCESS(status)) {

            //
            //  Set the handle context.
            //

            scannerContext->RescanRequired = TRUE;

            (VOID) FltSetStreamHandleContext( FltObjects->Instance,
                                              FltObjects->FileObject,
                                              FLT_SET_CONTEXT_REPLACE_IF_EXISTS,
                                              scannerContext,
                                              NULL );

            //
            //  Normally we would check the results of FltSetStreamHandleContext
            //  for a variety of error cases. However, The only error status
            //  that could be returned, in this case, would tell us that
            //  contexts are not supported.  Even if we got this error,
            //  we just want to release the context now and that will free
            //  this memory if it was not successfully set.
            //

            //
            //  Release our reference on the context (the set adds a reference)
            //

            FltReleaseContext( scannerContext );
        }
    }

    return returnStatus;
}


FLT_PREOP_CALLBACK_STATUS
ScannerPreCleanup (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
/*++

Routine Description:

    Rescans a file that was opened for writing; a foul result is only logged.

--*/
{
    NTSTATUS status;
    PSCANNER_STREAM_HANDLE_CONTEXT context;
    BOOLEAN safe;

    UNREFERENCED_PARAMETER( Data );
    UNREFERENCED_PARAMETER( CompletionContext );

    status = FltGetStreamHandleContext( FltObjects->Instance,
                                        FltObjects->FileObject,
                                        &context );

    if (NT_SUCCESS( status )) {

        if (context->RescanRequired) {

            (VOID) ScannerpScanFileInUserMode( FltObjects->Instance,
                                               FltObjects->FileObject,
                                               &safe );

            if (!safe) {

                DbgPrint( "!!! scanner.sys -- foul language detected in precleanup !!!\n" );
            }
        }

        FltReleaseContext( context );
    }


    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FLT_PREOP_CALLBACK_STATUS
ScannerPreWrite (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
/*++

Routine Description:

    Scans the data of a write on a handle marked for rescan; a foul write is denied unless it
    is paging I/O (the sample only blocks ordinary writes).

--*/
{
    FLT_PREOP_CALLBACK_STATUS returnStatus = FlagOn( PlantedBugs, BUG_SEND_IN_POST_WRITE | BUG_RAISE_IRQL_DOWN ) ?
        FLT_PREOP_SUCCESS_WITH_CALLBACK : FLT_PREOP_SUCCESS_NO_CALLBACK;
    NTSTATUS status;
    PSCANNER_STREAM_HANDLE_CONTEXT context;
    BOOLEAN safe = TRUE;
    PUCHAR buffer;

    UNREFERENCED_PARAMETER( CompletionContext );

    //
    //  If not client port just ignore this write.
    //

    if (ScannerData.ClientPort == NULL) {

        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    status = FltGetStreamHandleContext( FltObjects->Instance,
                                        FltObjects->FileObject,
                                        &context );

    if (!NT_SUCCESS( status )) {

        //
        //  We are not interested in this file
        //

        return FLT_PREOP_SUCCESS_NO_CALLBACK;

    }

    //
    //  Use try-finally to cleanup
    //

    try {

        //
        //  Pass the contents of the buffer to user mode.
        //

        if (Data->Iopb->Parameters.Write.Length != 0) {

            buffer = Data->Iopb->Parameters.Write.WriteBuffer;

            //
            //  In a production-level filter, we would actually let user mode scan the entire
            //  file. Here only the first SCANNER_READ_BUFFER_SIZE bytes are sent.
            //

            status = ScannerpAskUser( buffer,
                                      min( Data->Iopb->Parameters.Write.Length, SCANNER_READ_BUFFER_SIZE ),
                                      &safe );

            if (!safe) {

                //
                //  Block this write if not paging i/o (as a result of course, this scanner
                //  will not prevent memory mapped writes of contaminated strings to the
                //  file, but only regular writes).
                //

                DbgPrint( "!!! scanner.sys -- foul language detected in write !!!\n" );

                if (!FlagOn( Data->Iopb->IrpFlags, IRP_PAGING_IO )) {

                    DbgPrint( "!!! scanner.sys -- blocking the write !!!\n" );

                    Data->IoStatus.Status = STATUS_ACCESS_DENIED;
                    Data->IoStatus.Information = 0;
                    returnStatus = FLT_PREOP_COMPLETE;
                }
            }
        }

    } finally {

        FltReleaseContext( context );
    }

    return returnStatus;
}

FLT_PREOP_CALLBACK_STATUS
ScannerPreFileSystemControl (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
/*++

Routine Description:

    Denies FSCTL_OFFLOAD_WRITE on a handle marked for rescan: the filter cannot see the data
    of an offloaded write.

--*/
{
    FLT_PREOP_CALLBACK_STATUS returnStatus = FLT_PREOP_SUCCESS_NO_CALLBACK;
    NTSTATUS status;
    ULONG fsControlCode;
    PSCANNER_STREAM_HANDLE_CONTEXT context = NULL;

    UNREFERENCED_PARAMETER( CompletionContext );

    if (ScannerData.ClientPort == NULL) {

        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    fsControlCode = Data->Iopb->Parameters.FileSystemControl.Common.FsControlCode;

    if (fsControlCode == FSCTL_OFFLOAD_WRITE) {

        status = FltGetStreamHandleContext( FltObjects->Instance,
                                            FltObjects->FileObject,
                                            &context );

        if (NT_SUCCESS( status )) {

            DbgPrint( "!!! scanner.sys -- blocking the offload write !!!\n" );

            Data->IoStatus.Status = STATUS_ACCESS_DENIED;
            Data->IoStatus.Information = 0;
            returnStatus = FLT_PREOP_COMPLETE;

            FltReleaseContext( context );
        }
    }

    return returnStatus;
}

//////////////////////////////////////////////////////////////////////////
//  Local support routines.
//
/////////////////////////////////////////////////////////////////////////

NTSTATUS
ScannerpAskUser (
    _In_reads_bytes_(Length) PUCHAR Data,
    _In_ ULONG Length,
    _Out_ PBOOLEAN SafeToOpen
    )
/*++

Routine Description:

    Sends at most SCANNER_READ_BUFFER_SIZE bytes to the service and waits for its verdict,
    with no timeout. Only STATUS_SUCCESS with a whole SCANNER_REPLY is a verdict; anything
    else is taken as safe.

--*/
{
    PSCANNER_NOTIFICATION notification;
    SCANNER_REPLY reply;
    ULONG replyLength;
    NTSTATUS status;

    *SafeToOpen = TRUE;

    notification = ExAllocatePoolZero( NonPagedPool,
                                       sizeof( SCANNER_NOTIFICATION ),
                                       SCANNER_NOTIFICATION_TAG );

    if (notification == NULL) {

        return STATUS_INSUFFICIENT_RESOURCES;
    }

    notification->BytesToScan = min( Length, SCANNER_READ_BUFFER_SIZE );

    __try  {

        RtlCopyMemory( &notification->Contents, Data, notification->BytesToScan );

    } __except( EXCEPTION_EXECUTE_HANDLER ) {

        ExFreePoolWithTag( notification, SCANNER_NOTIFICATION_TAG );
        return GetExceptionCode();
    }

    //
    //  The reply goes to its own buffer: a reply without a payload then leaves no verdict
    //  behind, rather than whatever the notification held.
    //

    RtlZeroMemory( &reply, sizeof( reply ) );
    replyLength = sizeof( SCANNER_REPLY );

    status = FltSendMessage( ScannerData.Filter,
                             &ScannerData.ClientPort,
                             notification,
                             sizeof( SCANNER_NOTIFICATION ),
                             &reply,
                             &replyLength,
                             NULL );

    if (STATUS_SUCCESS == status) {

        if (replyLength >= sizeof( SCANNER_REPLY )) {

            *SafeToOpen = reply.SafeToOpen;

        } else {

            DbgPrint( "!!! scanner.sys --- the service replied without a verdict\n" );
        }

    } else {

        //
        //  Couldn't send message
        //

        DbgPrint( "!!! scanner.sys --- couldn't send message to user-mode to scan file, status 0x%X\n", status );
    }

    if (FlagOn( PlantedBugs, BUG_POOL_OVERRUN )) {

        ((PUCHAR)notification)[sizeof( SCANNER_NOTIFICATION )] = 0;
    }

    if (FlagOn( PlantedBugs, BUG_FREE_WRONG_TAG )) {

        ExFreePoolWithTag( notification, 'xcsW' );

    } else if (!FlagOn( PlantedBugs, BUG_LEAK_NOTIFICATION )) {

        ExFreePoolWithTag( notification, SCANNER_NOTIFICATION_TAG );
    }

    if (FlagOn( PlantedBugs, BUG_DOUBLE_FREE )) {

        ExFreePoolWithTag( notification, SCANNER_NOTIFICATION_TAG );
    }

    if (FlagOn( PlantedBugs, BUG_WRITE_AFTER_FREE )) {

        notification->BytesToScan = 0;
    }

    return status;
}

NTSTATUS
ScannerpScanFileInUserMode (
    _In_ PFLT_INSTANCE Instance,
    _In_ PFILE_OBJECT FileObject,
    _Out_ PBOOLEAN SafeToOpen
    )
/*++

Routine Description:

    Reads the head of the file and asks the service whether it is safe. Says safe whenever
    it could not get a verdict: no service, a failed read, an empty file, a failed send.

--*/
{
    NTSTATUS status = STATUS_SUCCESS;
    PVOID buffer = NULL;
    ULONG bytesRead;
    LARGE_INTEGER offset;
    ULONG length;
    PFLT_VOLUME volume = NULL;
    FLT_VOLUME_PROPERTIES volumeProps;

    //
    //  If not found we will default to safe to open
    //

    *SafeToOpen = TRUE;

    //
    //  If not client port just return.
    //

    if (ScannerData.ClientPort == NULL) {

        return STATUS_SUCCESS;
    }

    try {

        //
        //  Obtain the volume object.
        //

        status = FltGetVolumeFromInstance( Instance, &volume );

        if (!NT_SUCCESS( status )) {

            leave;
        }

        //
        //  Determine sector size. Noncached I/O can only be done at sector size offsets,
        //  and in lengths which are multiples of sector size. A more efficient way is to
        //  make this call once and remember the sector size in the instance setup routine.
        //

        status = FltGetVolumeProperties( volume,
                                         &volumeProps,
                                         sizeof( volumeProps ),
                                         &length );
        //
        //  STATUS_BUFFER_OVERFLOW can be returned - however we only need the properties,
        //  not the names, hence we only check for error status.
        //

        if (NT_ERROR( status )) {

            leave;
        }

        length = max( SCANNER_READ_BUFFER_SIZE, volumeProps.SectorSize );

        //
        //  Use non-buffered i/o, so allocate aligned pool
        //

        buffer = FltAllocatePoolAlignedWithTag( Instance,
                                                NonPagedPool,
                                                length,
                                                SCANNER_READ_BUFFER_TAG );

        if (NULL == buffer) {

            status = STATUS_INSUFFICIENT_RESOURCES;
            leave;
        }

        //
        //  Read the beginning of the file and pass the contents to user mode.
        //

        offset.QuadPart = bytesRead = 0;
        status = FltReadFile( Instance,
                              FileObject,
                              &offset,
                              length,
                              buffer,
                              FLTFL_IO_OPERATION_NON_CACHED |
                               FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET,
                              &bytesRead,
                              NULL,
                              NULL );

        if (NT_SUCCESS( status ) && (0 != bytesRead)) {

            //
            //  Only SCANNER_READ_BUFFER_SIZE bytes are sent, whatever the sector size.
            //

            status = ScannerpAskUser( buffer, bytesRead, SafeToOpen );
        }

    } finally {

        if (NULL != buffer) {

            FltFreePoolAlignedWithTag( Instance, buffer, SCANNER_READ_BUFFER_TAG );
        }

        if (NULL != volume) {

            FltObjectDereference( volume );
        }
    }

    return status;
}

FLT_POSTOP_CALLBACK_STATUS
ScannerPostWrite (
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
/*++

Routine Description:

    The planted bug: rescan after the write completed, from the post-write callback, which
    may run at DISPATCH_LEVEL, where FltReadFile and FltSendMessage must not be called.

--*/
{
    BOOLEAN safe;

    UNREFERENCED_PARAMETER( Data );
    UNREFERENCED_PARAMETER( CompletionContext );
    UNREFERENCED_PARAMETER( Flags );

    if (FlagOn( PlantedBugs, BUG_RAISE_IRQL_DOWN )) {

        KIRQL oldIrql;

        KeRaiseIrql( APC_LEVEL, &oldIrql );
        KeLowerIrql( oldIrql );
    }

    if (FlagOn( PlantedBugs, BUG_SEND_IN_POST_WRITE ) && ScannerData.ClientPort != NULL) {

        (VOID) ScannerpAskUser( (PUCHAR)"written", 7, &safe );
    }

    return FLT_POSTOP_FINISHED_PROCESSING;
}
