/* minimal.h -- shared with the user-mode program. */
#ifndef MINIMAL_H
#define MINIMAL_H

#define MINIMAL_PORT_NAME L"\\MinimalPort"

#endif
