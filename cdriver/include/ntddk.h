/* ntddk.h -- fltemu's stand-in: everything a minifilter uses is in wdm.h. */
#ifndef FLTEMU_NTDDK_H
#define FLTEMU_NTDDK_H
#include "wdm.h"
#endif
