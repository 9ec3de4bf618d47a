/*++

Module Name:

    scanuk.h

Abstract:

    The layouts the scanner filter and its user-mode service share: the notification the
    filter sends for each scan and the verdict the service replies with.

Environment:

    Kernel and user mode

--*/

#ifndef __SCANUK_H__
#define __SCANUK_H__

//
//  Name of the port the filter and the service communicate through.
//

#define ScannerPortName L"\\ScannerPort"

//
//  The filter sends at most this many bytes of a file or a write.
//

#define SCANNER_READ_BUFFER_SIZE   1024

typedef struct _SCANNER_NOTIFICATION {

    ULONG BytesToScan;
    ULONG Reserved;             // for quad-word alignment of the Contents structure
    UCHAR Contents[SCANNER_READ_BUFFER_SIZE];

} SCANNER_NOTIFICATION, *PSCANNER_NOTIFICATION;

typedef struct _SCANNER_REPLY {

    BOOLEAN SafeToOpen;

} SCANNER_REPLY, *PSCANNER_REPLY;

#endif //  __SCANUK_H__
