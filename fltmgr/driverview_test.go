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
