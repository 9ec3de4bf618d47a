/* suppress.h -- the WDK samples include it for code-analysis suppressions; none here. */
#ifndef FLTEMU_SUPPRESS_H
#define FLTEMU_SUPPRESS_H
#endif
