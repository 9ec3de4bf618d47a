package fltmgr_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// unloadFlags records the flags each FilterUnload call got.
type unloadFlags struct {
	mu    sync.Mutex
	flags []driverapi.FilterUnloadFlags
}

func (u *unloadFlags) add(f driverapi.FilterUnloadFlags) {
	u.mu.Lock()
	u.flags = append(u.flags, f)
	u.mu.Unlock()
}

func (u *unloadFlags) get() []driverapi.FilterUnloadFlags {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]driverapi.FilterUnloadFlags(nil), u.flags...)
}

// refusingDriver refuses non-mandatory unloads with STATUS_FLT_DO_NOT_DETACH and unloads
// properly on a mandatory one, as a well-behaved driver that wants to stay does.
func refusingDriver(rec *unloadFlags) *testdriver.Driver {
	return &testdriver.Driver{MaxConnections: 4,
		OnUnload: func(d *testdriver.Driver, flags driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			rec.add(flags)
			if flags&driverapi.FLTFL_FILTER_UNLOAD_MANDATORY == 0 {
				return kernel.STATUS_FLT_DO_NOT_DETACH
			}
			return d.DefaultUnload()
		}}
}

// connect connects p to \TestPort; the handle is closed at the end of the test, before the
// world's teardown checks, unless the test closed it or p exited (handle values are never
// reused in a process).
func connect(t *testing.T, p *harness.Process) kernel.Handle {
	t.Helper()
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	t.Cleanup(func() {
		if !p.Kernel().Exited() {
			p.CloseHandle(h)
		}
	})
	return h
}

// echo sends msg with FilterSendMessage and returns the HRESULT; on S_OK it checks the echo.
func echo(t *testing.T, p *harness.Process, h kernel.Handle, msg string) kernel.HRESULT {
	t.Helper()
	out := make([]byte, 64)
	var n uint32
	hr := p.FilterSendMessage(h, []byte(msg), out, &n)
	if hr == kernel.S_OK {
		require.Equal(t, msg, string(out[:n]))
	}
	return hr
}

// R-UNLOAD-3: a non-mandatory unload refused with STATUS_FLT_DO_NOT_DETACH leaves the filter
// loaded and its connections working; a mandatory one then unloads it.
func TestUnloadRefusedThenStop(t *testing.T) {
	w := harness.New(t)
	rec := &unloadFlags{}
	d := refusingDriver(rec)
	require.NoError(t, w.Load("flt", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := connect(t, p)

	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_DO_NOT_DETACH)
	require.ErrorIs(t, w.Unload("flt"), kernel.HRESULT(0x801F0010))
	require.Equal(t, kernel.STATUS_FLT_DO_NOT_DETACH, w.FilterManager().UnloadFilter(context.Background(), "flt", false))
	require.Equal(t, []driverapi.FilterUnloadFlags{0, 0, 0}, rec.get())
	require.True(t, w.FilterManager().Loaded("flt"))
	require.Equal(t, []string{"flt"}, w.FilterManager().Drivers())

	// The connection still works both ways, and new connections are accepted.
	require.Equal(t, kernel.S_OK, echo(t, p, h, "still here"))
	h2 := connect(t, p)
	require.Equal(t, kernel.S_OK, echo(t, p, h2, "new"))
	require.NoError(t, p.CloseHandle(h2))
	require.Equal(t, int32(1), d.Disconnects.Load(), "h2's disconnect only")

	// A service stop is mandatory: the driver unloads.
	require.NoError(t, w.Stop("flt"))
	require.Equal(t, []driverapi.FilterUnloadFlags{0, 0, 0, driverapi.FLTFL_FILTER_UNLOAD_MANDATORY}, rec.get())
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Empty(t, w.FilterManager().Drivers())
	// R-UNLOAD-5: the connection ended; DisconnectNotify ran for it; the user sees E_HANDLE.
	require.Equal(t, int32(2), d.Disconnects.Load())
	require.Equal(t, kernel.E_HANDLE, echo(t, p, h, "gone"))
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, int32(2), d.Disconnects.Load(), "DisconnectNotify at most once per connection")

	// Unloaded: further requests find no filter.
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.ErrorIs(t, w.Stop("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.Len(t, rec.get(), 4)
}

// R-UNLOAD-3: a mandatory unload ignores the callback's return value.
func TestStopIgnoresReturnValue(t *testing.T) {
	w := harness.New(t)
	var calls int
	d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		calls++
		d.DefaultUnload()
		return kernel.STATUS_FLT_DO_NOT_DETACH
	}}
	require.NoError(t, w.Load("flt", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := connect(t, p)
	require.NoError(t, w.Stop("flt"))
	require.Equal(t, kernel.STATUS_FLT_FILTER_NOT_FOUND, w.FilterManager().UnloadFilter(context.Background(), "flt", true))
	require.Equal(t, 1, calls)
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Equal(t, kernel.E_HANDLE, echo(t, p, h, "x"))
	require.Empty(t, w.Violations(), "it unregistered: returning a failure on a mandatory unload is no bug")
}

// R-UNLOAD-3: with FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP a mandatory unload fails
// without calling the callback, while a non-mandatory one calls it.
func TestDoNotSupportServiceStop(t *testing.T) {
	w := harness.New(t)
	rec := &unloadFlags{}
	d := &testdriver.Driver{Flags: driverapi.FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP,
		OnUnload: func(d *testdriver.Driver, flags driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			rec.add(flags)
			return d.DefaultUnload()
		}}
	require.NoError(t, w.Load("flt", d))
	require.ErrorIs(t, w.Stop("flt"), kernel.ERROR_FLT_DO_NOT_DETACH)
	require.Equal(t, kernel.STATUS_FLT_DO_NOT_DETACH, w.FilterManager().UnloadFilter(context.Background(), "flt", true))
	require.Empty(t, rec.get(), "the callback is not called for a mandatory unload")
	require.True(t, w.FilterManager().Loaded("flt"))

	require.NoError(t, w.Unload("flt"))
	require.Equal(t, []driverapi.FilterUnloadFlags{0}, rec.get())
	require.False(t, w.FilterManager().Loaded("flt"))
}

// R-UNLOAD-3: a filter with no unload callback cannot be unloaded, mandatory or not.
func TestNoUnloadCallback(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{NoUnload: true}
	require.NoError(t, w.Load("flt", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := connect(t, p)
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_DO_NOT_DETACH)
	require.ErrorIs(t, w.Stop("flt"), kernel.ERROR_FLT_DO_NOT_DETACH)
	require.Equal(t, kernel.STATUS_FLT_DO_NOT_DETACH, w.FilterManager().UnloadFilter(context.Background(), "flt", false))
	require.Equal(t, kernel.STATUS_FLT_DO_NOT_DETACH, w.FilterManager().UnloadFilter(context.Background(), "flt", true))
	require.True(t, w.FilterManager().Loaded("flt"))
	require.Equal(t, kernel.S_OK, echo(t, p, h, "ok"))
	// The refusals are in the trace.
	var refused int
	for _, e := range w.Trace().Filter(kernel.EvUnloadRequest) {
		if e.Status == kernel.STATUS_FLT_DO_NOT_DETACH.Error() {
			refused++
		}
	}
	require.Equal(t, 4, refused)
}

// R-UNLOAD-4: the expected order inside FilterUnload is: close the server ports, then
// FltUnregisterFilter. Done so, nothing is reported.
func TestUnloadExpectedOrder(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("flt", d))
	require.NoError(t, w.Unload("flt"))
	require.Empty(t, w.Violations())
	require.Empty(t, w.Kernel().Namespace().Names())

	var order []kernel.EventKind
	for _, e := range w.Trace().Filter(kernel.EvUnloadRequest, kernel.EvPortClosed, kernel.EvUnregister, kernel.EvDriverUnloaded) {
		order = append(order, e.Kind)
	}
	require.Equal(t, []kernel.EventKind{kernel.EvUnloadRequest, kernel.EvPortClosed, kernel.EvUnregister, kernel.EvDriverUnloaded}, order)
}

// R-UNLOAD-4, R-VERIFY-1: the reverse order (unregister with the port still open) is reported,
// and the emulator closes the port itself instead of hanging.
func TestUnloadWrongOrder(t *testing.T) {
	w := harness.New(t)
	w.ExpectViolation(kernel.RuleVerify1)
	d := &testdriver.Driver{UnregisterOnly: true}
	require.NoError(t, w.Load("flt", d))
	require.NoError(t, w.Unload("flt"))
	vs := w.Violations()
	require.Len(t, vs, 1)
	require.Equal(t, kernel.RuleVerify1, vs[0].Rule)
	require.Contains(t, vs[0].Object, `\TestPort`)
	require.Empty(t, w.Kernel().Namespace().Names())
}

// R-VERIFY-3: FilterUnload returned success without unregistering: reported, and the filter
// is torn down anyway (its connections end, its port goes away).
func TestUnloadSuccessWithoutUnregistering(t *testing.T) {
	for _, closePort := range []bool{true, false} {
		w := harness.New(t)
		w.ExpectViolation(kernel.RuleVerify3)
		d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			if closePort {
				d.FM.CloseCommunicationPort(d.Server)
			}
			return kernel.STATUS_SUCCESS // forgot FltUnregisterFilter
		}}
		require.NoError(t, w.Load("flt", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := connect(t, p)

		require.NoError(t, w.Unload("flt"))
		require.False(t, w.FilterManager().Loaded("flt"))
		vs := w.Violations()
		require.Len(t, vs, 1, "closePort=%v: only R-VERIFY-3, the open port is part of it", closePort)
		require.Equal(t, kernel.RuleVerify3, vs[0].Rule)
		require.Equal(t, "flt", vs[0].Driver)
		require.Empty(t, w.Kernel().Namespace().Names())
		require.Equal(t, kernel.E_HANDLE, echo(t, p, h, "x"))
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	}
}

// R-VERIFY-3: refusing (FLT_DO_NOT_DETACH) after having unregistered is reported; the filter is
// gone and the request reports the refusal.
func TestUnloadRefusedAfterUnregistering(t *testing.T) {
	w := harness.New(t)
	w.ExpectViolation(kernel.RuleVerify3)
	d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		d.DefaultUnload()
		return kernel.STATUS_FLT_DO_NOT_DETACH
	}}
	require.NoError(t, w.Load("flt", d))
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_DO_NOT_DETACH)
	vs := w.Violations()
	require.Len(t, vs, 1)
	require.Equal(t, kernel.RuleVerify3, vs[0].Rule)
	require.Contains(t, vs[0].Message, "STATUS_FLT_DO_NOT_DETACH")
	require.False(t, w.FilterManager().Loaded("flt"))
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.Equal(t, int32(1), d.Unloads.Load())
}

// R-VERIFY-3 on a mandatory unload: the callback refused and did not unregister; the return
// value is ignored, the filter is torn down and the bug reported.
func TestStopRefusedWithoutUnregistering(t *testing.T) {
	w := harness.New(t)
	w.ExpectViolation(kernel.RuleVerify3)
	d := &testdriver.Driver{OnUnload: func(*testdriver.Driver, driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		return kernel.STATUS_FLT_DO_NOT_DETACH
	}}
	require.NoError(t, w.Load("flt", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := connect(t, p)
	require.NoError(t, w.Stop("flt"))
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Equal(t, kernel.E_HANDLE, echo(t, p, h, "x"))
	require.Empty(t, w.Kernel().Namespace().Names())
	require.Len(t, w.Violations(), 1)
}

// Unload requests for a name that is not loaded: STATUS_FLT_FILTER_NOT_FOUND (0x801F0013).
func TestUnloadUnknownFilter(t *testing.T) {
	w := harness.New(t)
	for _, name := range []string{"nosuch", "", `\`, "FLT"} {
		require.ErrorIs(t, w.Unload(name), kernel.ERROR_FLT_FILTER_NOT_FOUND, "%q", name)
		require.ErrorIs(t, w.Stop(name), kernel.HRESULT(0x801F0013), "%q", name)
		require.Equal(t, kernel.STATUS_FLT_FILTER_NOT_FOUND, w.FilterManager().UnloadFilter(context.Background(), name, false), "%q", name)
	}
	// Names are case-insensitive, as service names are.
	require.NoError(t, w.Load("Flt", &testdriver.Driver{}))
	require.True(t, w.FilterManager().Loaded("fLT"))
	require.NoError(t, w.Unload("FLT"))
}

// Loading a name twice is STATUS_IMAGE_ALREADY_LOADED (users see
// HRESULT_FROM_WIN32(ERROR_SERVICE_ALREADY_RUNNING)); once unloaded it can load again.
func TestLoadTwice(t *testing.T) {
	w := harness.New(t)
	first := &testdriver.Driver{}
	require.NoError(t, w.Load("flt", first))
	second := &testdriver.Driver{PortName: `\Other`}
	require.ErrorIs(t, w.Load("flt", second), kernel.HRESULT(0x80070420))
	require.Equal(t, kernel.STATUS_IMAGE_ALREADY_LOADED, w.FilterManager().LoadDriver("FLT", second))
	require.Equal(t, kernel.STATUS_IMAGE_ALREADY_LOADED, w.FilterManager().LoadDriver("flt", first))
	require.Nil(t, second.FM, "DriverEntry of the second driver never ran")
	require.Equal(t, []string{"flt"}, w.FilterManager().Drivers())

	require.NoError(t, w.Unload("flt"))
	require.NoError(t, w.Load("flt", second))
	require.Equal(t, []string{`\Other`}, w.Kernel().Namespace().Names())
	require.NoError(t, w.Unload("flt"))
	require.Equal(t, int32(1), first.Unloads.Load())
	require.Equal(t, int32(1), second.Unloads.Load())
}

// Bad input to LoadDriver is STATUS_INVALID_PARAMETER, never a panic.
func TestLoadBadInput(t *testing.T) {
	w := harness.New(t)
	var nilDriver *testdriver.Driver
	var nilFunc driverapi.DriverFunc
	good := &testdriver.Driver{}
	for _, tc := range []struct {
		name string
		drv  driverapi.Driver
	}{
		{"", good},
		{"flt", nil},
		{"flt", nilDriver},
		{"flt", nilFunc},
		{`a\b`, good},
		{"a/b", good},
	} {
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, w.FilterManager().LoadDriver(tc.name, tc.drv), "%q %T", tc.name, tc.drv)
		require.ErrorIs(t, w.Load(tc.name, tc.drv), kernel.E_INVALIDARG, "%q %T", tc.name, tc.drv)
	}
	require.Empty(t, w.FilterManager().Drivers())
	require.Nil(t, good.FM)
}

// Teardown (a mandatory unload of everything) unloads a driver that refuses non-mandatory
// unloads.
func TestShutdownUnloadsRefusingDriver(t *testing.T) {
	w := harness.NewWorld()
	rec := &unloadFlags{}
	d := refusingDriver(rec)
	require.NoError(t, w.Load("flt", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	connect(t, p)
	p.AllowOpenHandles() // the teardown, not the test, ends the connection
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_DO_NOT_DETACH)
	require.NoError(t, w.Close())
	require.Equal(t, []driverapi.FilterUnloadFlags{0, driverapi.FLTFL_FILTER_UNLOAD_MANDATORY}, rec.get())
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Empty(t, w.Violations())
}

// Teardown tears down, without verifier reports, a driver with no unload callback and one
// that does not support service stop, connections and ports included.
func TestShutdownTearsDownUnstoppableDrivers(t *testing.T) {
	w := harness.NewWorld()
	noUnload := &testdriver.Driver{NoUnload: true, PortName: `\A`}
	noStop := &testdriver.Driver{Flags: driverapi.FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP, PortName: `\B`}
	require.NoError(t, w.Load("a", noUnload))
	require.NoError(t, w.Load("b", noStop))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	for _, name := range []string{`\A`, `\B`} {
		_, hr := p.FilterConnectCommunicationPort(name, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
	}
	p.AllowOpenHandles() // the connections are left to the teardown on purpose
	require.NoError(t, w.Close())
	require.Equal(t, int32(0), noUnload.Unloads.Load())
	require.Equal(t, int32(0), noStop.Unloads.Load())
	require.Empty(t, w.FilterManager().Drivers())
	require.Empty(t, w.Kernel().Namespace().Names())
	require.Empty(t, w.FilterManager().Leftovers())
	require.Empty(t, w.Violations())
	unloaded := w.Trace().Filter(kernel.EvDriverUnloaded)
	require.Len(t, unloaded, 2)
	for _, e := range unloaded {
		require.True(t, strings.Contains(e.Detail, "shutdown"), e.Detail)
	}
}
