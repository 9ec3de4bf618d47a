// Package cscanner is the scanner minifilter written in C, as for the WDK (scanner.c,
// scanner.h, scanuk.h, scanner.inf). driver_gen.go, written by cdrivergen, names its
// DriverEntry and the default instance of its INF.
package cscanner
