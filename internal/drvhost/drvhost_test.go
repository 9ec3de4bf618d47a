package drvhost_test

import (
	"context"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// The thread a host puts in a context is what a driver's PsGetCurrentThread finds there.
func TestWithThreadIsWhatTheDriverSees(t *testing.T) {
	w := kernel.New()
	p, st := w.CreateProcess("svc.exe", kernel.TokenAdmin(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	th := &driverapi.Thread{Process: p, ID: 8}
	ctx := drvhost.WithThread(context.Background(), th)
	require.Same(t, th, driverapi.CurrentThread(ctx))
	require.Same(t, p, driverapi.CurrentProcess(ctx))
	require.Equal(t, p.ID(), driverapi.CurrentProcessId(ctx))
	require.Nil(t, driverapi.CurrentThread(context.Background()))
	require.Nil(t, drvhost.ThreadOf[int](ctx), "a thread of another type is no thread")
}

// driverapi installs the callback-data constructors: the data carries the thread and the
// host's owner, and a callback data the host did not make has no owner.
func TestCallbackDataHooksAreInstalled(t *testing.T) {
	th := &driverapi.Thread{ID: 12}
	ctx := drvhost.WithThread(context.Background(), th)
	owner := new(int)
	d, ok := drvhost.NewCallbackData(ctx, owner).(*driverapi.CallbackData)
	require.True(t, ok)
	require.Same(t, th, d.Thread)
	require.Same(t, ctx, d.Context())
	require.NotNil(t, d.Iopb)
	require.Equal(t, any(owner), drvhost.CallbackDataOwner(d))
	require.Nil(t, drvhost.CallbackDataOwner(&driverapi.CallbackData{}))
	require.Nil(t, drvhost.CallbackDataOwner((*driverapi.CallbackData)(nil)))
	require.Nil(t, drvhost.CallbackDataOwner("not callback data"))

	bg, _ := drvhost.NewCallbackData(nil, nil).(*driverapi.CallbackData) //nolint:staticcheck // a nil context is the background
	require.Equal(t, context.Background(), bg.Context())
	require.Nil(t, bg.Thread)
}
