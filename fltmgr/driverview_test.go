package fltmgr_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// A driver's FilterManager is a view with the Flt routines only: the host's half of the
// Manager (loading drivers, connecting users, fault injection, the world) is out of its reach,
// even through a type assertion.
func TestDriverViewHidesTheHost(t *testing.T) {
	w := kernel.New()
	m := fltmgr.New(w)
	var got driverapi.FilterManager
	drv := driverapi.DriverFunc(func(_ *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
		got = fm
		return kernel.STATUS_SUCCESS
	})
	require.Equal(t, kernel.STATUS_SUCCESS, m.LoadDriver("view", drv))
	require.NotNil(t, got)
	// got.(*fltmgr.Manager) does not even compile: a Manager is no driverapi.FilterManager.
	_, loads := got.(interface {
		LoadDriver(string, driverapi.Driver) kernel.NTSTATUS
	})
	require.False(t, loads)
	_, connects := got.(interface {
		Connect(context.Context, string, []byte) (*fltmgr.Connection, kernel.NTSTATUS)
	})
	require.False(t, connects)
	_, faults := got.(interface{ SetFaultHook(fltmgr.FaultHook) })
	require.False(t, faults)
	_, world := got.(interface{ World() *kernel.World })
	require.False(t, world)

	// A host that runs drivers itself (the C runtime) finds the world through drvhost.
	require.Same(t, w, drvhost.WorldOf(got))
	require.Nil(t, drvhost.WorldOf(struct{ driverapi.FilterManager }{got}), "a wrapper is another host")
	m.Shutdown()
}

// A host that runs drivers itself refuses through drvhost.Refuse: the refusal is in the trace
// and, inside DriverEntry, it is the failed load's explanation. Outside the emulator's view it
// only returns the status.
func TestDriverViewRefuseExplainsTheLoad(t *testing.T) {
	w := kernel.New()
	m := fltmgr.New(w)
	drv := driverapi.DriverFunc(func(_ *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
		return drvhost.Refuse(fm, "image check", kernel.STATUS_INVALID_IMAGE_FORMAT, "built for another ABI")
	})
	require.Equal(t, kernel.STATUS_INVALID_IMAGE_FORMAT, m.LoadDriver("refused", drv))
	require.Equal(t, &fltmgr.EntryFailure{Routine: "image check", Status: kernel.STATUS_INVALID_IMAGE_FORMAT,
		Reason: "built for another ABI"}, m.DriverEntryFailure("refused"))
	ev := w.Trace().Filter(kernel.EvRoutineFailed)
	require.Len(t, ev, 1)
	require.Equal(t, "image check: built for another ABI", ev[0].Detail)
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, drvhost.Refuse(struct{}{}, "x", kernel.STATUS_ACCESS_DENIED, "y"))
	m.Shutdown()
}
