/*
 * fltUserStructures.h -- fltemu's stand-in: the message headers that user mode (fltUser.h)
 * and the filter agree on. Sizes are checked by fltemu's tests: 16 bytes each.
 */
#ifndef FLTEMU_FLTUSERSTRUCTURES_H
#define FLTEMU_FLTUSERSTRUCTURES_H
#include "wdm.h"

typedef struct _FILTER_MESSAGE_HEADER {
    ULONG ReplyLength;
    ULONGLONG MessageId;
} FILTER_MESSAGE_HEADER, *PFILTER_MESSAGE_HEADER;

typedef struct _FILTER_REPLY_HEADER {
    NTSTATUS Status;
    ULONGLONG MessageId;
} FILTER_REPLY_HEADER, *PFILTER_REPLY_HEADER;

#endif
