// Package drvhost holds what only a filter-manager host does to the objects a driver sees:
// give a context its calling thread, make the FLT_CALLBACK_DATA of an operation and find the
// host's state behind it, and recognise the body of a file handle. A driver imports driverapi,
// which cannot offer these without showing them to every driver; an internal package keeps them
// importable by fltmgr and the harness only.
//
// driverapi imports this package, so this package cannot name driverapi's types: the thread is
// a type parameter, and driverapi installs the callback-data constructors when it is
// initialized (it alone can set CallbackData's unexported fields). Those two function values
// are written once, by driverapi's init, and only read afterwards.
package drvhost

import (
	"context"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

type threadKey struct{}

// WithThread returns a context that carries t as the calling thread (a *driverapi.Thread):
// what driverapi.CurrentThread finds in it.
func WithThread[T any](ctx context.Context, t *T) context.Context {
	return context.WithValue(ctx, threadKey{}, t)
}

// ThreadOf returns the thread ctx carries, nil for none (a system thread).
func ThreadOf[T any](ctx context.Context) *T {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Value(threadKey{}).(*T)
	return t
}

// NewCallbackData makes the *driverapi.CallbackData of an operation that runs on the thread
// of ctx (nil: context.Background()); owner is the host's state of the operation, returned
// by CallbackDataOwner. Installed by driverapi.
var NewCallbackData func(ctx context.Context, owner any) any

// CallbackDataOwner returns the owner a *driverapi.CallbackData was made with, nil for a
// callback data the host did not make. Installed by driverapi.
var CallbackDataOwner func(data any) any

// FileObjectBody is implemented by the body of a file handle's object (the host's): what
// driverapi.ReferenceFileObjectByHandle reads.
type FileObjectBody interface {
	FileObject() *fsys.FileObject
}

// WorldOf returns the world of the filter manager whose driver view fm is (the value a
// driver's DriverEntry receives), nil for a filter manager that is not the emulator's. A
// runtime that hosts drivers written in another language (package cdriver) reports to that
// world's trace and verifier and keeps the driver's IRQL there. Installed by fltmgr.
var WorldOf func(fm any) *kernel.World

// Refuse records that routine failed with st for reason in the driver whose view fm is: a
// trace event, and, while that driver's DriverEntry runs, the explanation of its failed load
// (what harness.World.Load reports). It returns st. The C runtime calls it for what it
// checks itself, e.g. an image built for another WCHAR size. Installed by fltmgr.
var Refuse func(fm any, routine string, st kernel.NTSTATUS, reason string) kernel.NTSTATUS
