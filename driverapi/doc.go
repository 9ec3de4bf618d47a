// Package driverapi is what a minifilter driver sees: the "WDK headers" of the emulator.
//
// A driver implements [Driver] (its DriverEntry). DriverEntry receives its [DriverObject], the
// [FilterManager] whose routines it may call (FltRegisterFilter, FltCreateCommunicationPort,
// FltSendMessage, ...), and its registry path. Everything a driver calls goes through that
// interface, so another host can stand where the emulated filter manager stands. (The
// emulator's fault injection is not a wrapper of it: the filter manager consults one hook,
// which harness.Faults drives.)
//
// Names follow the WDK without the Flt prefix; constants keep their Windows spelling
// (FLT_PORT_CONNECT, FLTFL_FILTER_UNLOAD_MANDATORY) so they can be searched for.
//
// Routines return [kernel.NTSTATUS] by value, as in C. Remember that STATUS_TIMEOUT is a
// success code: a driver that sends a message and waits for a verdict must compare with
// STATUS_SUCCESS, not use IsSuccess.
package driverapi
