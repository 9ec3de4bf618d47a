/* dontuse.h -- the WDK samples include it to ban deprecated routines; nothing to ban here. */
#ifndef FLTEMU_DONTUSE_H
#define FLTEMU_DONTUSE_H
#endif
