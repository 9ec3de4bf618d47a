package driverapi

import (
	"context"

	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// Thread is the emulated thread a callback runs on (FLT_CALLBACK_DATA.Thread, and what
// PsGetCurrentThread/PsGetCurrentProcess return in a callback). Process is nil for a system
// thread (the System process).
//
// A driver never makes one: every callback that runs on a thread receives it in a
// context.Context (the ctx of ConnectNotify, DisconnectNotify and MessageNotify,
// CallbackData.Context() for I/O), and the driver passes that context on to the routines
// that need the calling thread (SendMessage, ReadFile, CreateSectionForDataScan, ...).
type Thread struct {
	Process *kernel.Process
	ID      uint32
}

// CurrentThread emulates PsGetCurrentThread for a goroutine whose context is ctx: the thread
// the context carries, or nil for a system thread.
func CurrentThread(ctx context.Context) *Thread {
	return drvhost.ThreadOf[Thread](ctx)
}

// CurrentProcess emulates PsGetCurrentProcess: the process of CurrentThread(ctx), nil for the
// System process. In ConnectNotify it is the connecting process; its Token, ImageName and ID
// are what a driver checks to decide whom it trusts.
func CurrentProcess(ctx context.Context) *kernel.Process {
	if t := CurrentThread(ctx); t != nil {
		return t.Process
	}
	return nil
}

// SystemProcessId is the id of the System process, what PsGetCurrentProcessId returns on a
// system thread.
const SystemProcessId uint32 = 4

// CurrentProcessId emulates PsGetCurrentProcessId: the id of CurrentProcess(ctx), or
// SystemProcessId on a system thread.
func CurrentProcessId(ctx context.Context) uint32 {
	if p := CurrentProcess(ctx); p != nil {
		return p.ID()
	}
	return SystemProcessId
}
