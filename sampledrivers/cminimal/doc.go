// Package cminimal is the minimal template (package minimal) written in C, as for the WDK:
// minimal.c and minimal.h are the driver. driver_gen.go, written by cdrivergen, names its
// DriverEntry.
package cminimal
