package fltmgr_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// registerOnly is a driver whose DriverEntry calls RegisterFilter with reg, keeps what it got,
// starts filtering on success, and returns RegisterFilter's status.
type registerOnly struct {
	reg    *driverapi.Registration
	fm     driverapi.FilterManager
	filter driverapi.Filter
	st     kernel.NTSTATUS
}

func (d *registerOnly) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	d.filter, d.st = fm.RegisterFilter(obj, d.reg)
	if d.st != kernel.STATUS_SUCCESS {
		return d.st
	}
	if st := fm.StartFiltering(d.filter); st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(d.filter)
		return st
	}
	return kernel.STATUS_SUCCESS
}

func unloadByUnregistering(d *registerOnly) driverapi.FilterUnloadCallback {
	return func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		d.fm.UnregisterFilter(d.filter)
		return kernel.STATUS_SUCCESS
	}
}

// R-REG-1: the three known registration versions are accepted.
func TestRegisterKnownVersions(t *testing.T) {
	for _, v := range []uint16{
		driverapi.FLT_REGISTRATION_VERSION_0200,
		driverapi.FLT_REGISTRATION_VERSION_0202,
		driverapi.FLT_REGISTRATION_VERSION_0203,
	} {
		w := harness.New(t)
		d := &registerOnly{}
		d.reg = &driverapi.Registration{Version: v, FilterUnload: unloadByUnregistering(d)}
		require.NoError(t, w.Load("flt", d), "version %#04x", v)
		require.Equal(t, kernel.STATUS_SUCCESS, d.st)
		require.NotNil(t, d.filter)
		require.Equal(t, "flt", d.filter.FilterName())
		require.True(t, w.FilterManager().Loaded("flt"))
		require.NoError(t, w.Unload("flt"))
	}
	require.Equal(t, 0x0203, driverapi.FLT_REGISTRATION_VERSION)
}

// R-REG-1: any other version is STATUS_INVALID_PARAMETER, and the driver is not loaded.
func TestRegisterUnknownVersion(t *testing.T) {
	w := harness.New(t)
	for _, v := range []uint16{0, 0x0100, 0x0201, 0x0204, 0x0300, 0x0302, 0xFFFF} {
		d := &registerOnly{reg: &driverapi.Registration{Version: v}}
		require.ErrorIs(t, w.Load("flt", d), kernel.E_INVALIDARG, "version %#04x", v)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, d.st, "version %#04x", v)
		require.Nil(t, d.filter)
		require.False(t, w.FilterManager().Loaded("flt"))
	}
	require.Empty(t, w.FilterManager().Drivers())
}

// R-REG-1: unknown registration flags are STATUS_INVALID_PARAMETER; the known ones are fine.
func TestRegisterFlags(t *testing.T) {
	w := harness.New(t)
	for _, flags := range []uint32{0x8, 0x10, 0x80000000, 0x1 | 0x8} {
		d := &registerOnly{reg: &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, Flags: flags}}
		require.ErrorIs(t, w.Load("flt", d), kernel.E_INVALIDARG, "flags %#x", flags)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, d.st, "flags %#x", flags)
	}
	d := &registerOnly{}
	d.reg = &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: unloadByUnregistering(d),
		Flags: driverapi.FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP | driverapi.FLTFL_REGISTRATION_SUPPORT_NPFS_MSFS |
			driverapi.FLTFL_REGISTRATION_SUPPORT_DAX_VOLUME}
	require.NoError(t, w.Load("flt", d))
	require.NoError(t, w.Unload("flt"))
}

// R-REG-1: bad arguments to RegisterFilter, and a second registration by the same driver.
func TestRegisterBadArguments(t *testing.T) {
	w := harness.New(t)
	reg := &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION}
	var got []kernel.NTSTATUS
	var first driverapi.Filter
	var fm driverapi.FilterManager
	drv := driverapi.DriverFunc(func(obj *driverapi.DriverObject, m driverapi.FilterManager, _ string) kernel.NTSTATUS {
		fm = m
		f, st := m.RegisterFilter(obj, nil)
		got = append(got, st)
		require.Nil(t, f)
		f, st = m.RegisterFilter(nil, reg)
		got = append(got, st)
		require.Nil(t, f)
		// A driver object the filter manager did not hand out.
		f, st = m.RegisterFilter(&driverapi.DriverObject{Name: obj.Name}, reg)
		got = append(got, st)
		require.Nil(t, f)
		first, st = m.RegisterFilter(obj, reg)
		if st != kernel.STATUS_SUCCESS {
			return st
		}
		// A driver registers one filter.
		f, st = m.RegisterFilter(obj, reg)
		got = append(got, st)
		require.Nil(t, f)
		m.UnregisterFilter(first)
		return kernel.STATUS_SUCCESS
	})
	require.NoError(t, w.Load("flt", drv))
	require.Equal(t, []kernel.NTSTATUS{kernel.STATUS_INVALID_PARAMETER, kernel.STATUS_INVALID_PARAMETER,
		kernel.STATUS_INVALID_PARAMETER, kernel.STATUS_INVALID_PARAMETER}, got)

	// The filter was unregistered in DriverEntry: an unload request finds no filter.
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	// Later calls on the unregistered filter.
	require.Equal(t, kernel.STATUS_FLT_DELETING_OBJECT, fm.StartFiltering(first))
	fm.UnregisterFilter(first) // twice: nothing happens
}

// R-REG-1: StartFiltering a second time is STATUS_INVALID_PARAMETER; bad filters are too.
func TestStartFiltering(t *testing.T) {
	w := harness.New(t)
	other := harness.New(t)
	var foreign driverapi.Filter
	require.NoError(t, other.Load("foreign", driverapi.DriverFunc(
		func(obj *driverapi.DriverObject, m driverapi.FilterManager, _ string) kernel.NTSTATUS {
			var st kernel.NTSTATUS
			foreign, st = m.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION})
			return st
		})))

	var sts []kernel.NTSTATUS
	d := &testdriver.Driver{NoPort: true}
	d.OnUnload = func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		sts = append(sts, d.FM.StartFiltering(d.Filter))     // a third time, still registered
		sts = append(sts, d.FM.StartFiltering(nil))          // nil
		sts = append(sts, d.FM.StartFiltering(foreign))      // another world's filter
		sts = append(sts, d.FM.StartFiltering(fakeFilter{})) // not a filter of the manager
		st := d.DefaultUnload()
		sts = append(sts, d.FM.StartFiltering(d.Filter)) // unregistered
		d.FM.UnregisterFilter(nil)                       // no panic
		d.FM.UnregisterFilter(fakeFilter{})              // no panic
		return st
	}
	require.NoError(t, w.Load("flt", d)) // DriverEntry called StartFiltering once
	require.NoError(t, w.Unload("flt"))
	require.Equal(t, []kernel.NTSTATUS{kernel.STATUS_INVALID_PARAMETER, kernel.STATUS_INVALID_PARAMETER,
		kernel.STATUS_INVALID_PARAMETER, kernel.STATUS_INVALID_PARAMETER, kernel.STATUS_FLT_DELETING_OBJECT}, sts)
	require.Equal(t, 1, len(w.Trace().Filter(kernel.EvFilterStarted)))
}

type fakeFilter struct{}

func (fakeFilter) FilterName() string { return "fake" }

// R-REG-2: DriverEntry registers, then fails and unregisters as it must: the load returns its
// status, the unload callback is never called, and the driver can be loaded again.
func TestDriverEntryFailsAfterUnregistering(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{FailEntryAfterRegister: kernel.STATUS_INSUFFICIENT_RESOURCES}
	require.ErrorIs(t, w.Load("flt", d), kernel.HRESULT(0x800705AA))
	require.Equal(t, kernel.STATUS_INSUFFICIENT_RESOURCES,
		w.FilterManager().LoadDriver("flt", &testdriver.Driver{FailEntryAfterRegister: kernel.STATUS_INSUFFICIENT_RESOURCES}))
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Empty(t, w.FilterManager().Drivers())
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.ErrorIs(t, w.Stop("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.Empty(t, w.Violations())

	// Loaded again, this time successfully.
	good := &testdriver.Driver{}
	require.NoError(t, w.Load("flt", good))
	require.True(t, w.FilterManager().Loaded("flt"))
	require.NoError(t, w.Stop("flt"))
	require.NoError(t, w.Close())
	require.Equal(t, int32(0), d.Unloads.Load(), "the failed driver's unload callback is never called")
	require.Equal(t, int32(1), good.Unloads.Load())
}

// R-REG-2: DriverEntry fails and leaves its filter registered (with a port open): the
// verifier reports R-REG-2, the filter is torn down (its port name goes away), the unload
// callback is not called, and the driver can be loaded again.
func TestDriverEntryFailsWithoutUnregistering(t *testing.T) {
	w := harness.New(t)
	w.ExpectViolation(kernel.RuleReg2)
	d := &testdriver.Driver{}
	bad := driverapi.DriverFunc(func(obj *driverapi.DriverObject, fm driverapi.FilterManager, path string) kernel.NTSTATUS {
		if st := d.DriverEntry(obj, fm, path); st != kernel.STATUS_SUCCESS {
			return st
		}
		return kernel.STATUS_OBJECT_NAME_INVALID // fails after the port exists, without cleaning up
	})
	require.ErrorIs(t, w.Load("flt", bad), kernel.HRESULT(0x8007007B))
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Equal(t, int32(0), d.Unloads.Load())

	vs := w.Violations()
	require.Len(t, vs, 1)
	require.Equal(t, kernel.RuleReg2, vs[0].Rule)
	require.Equal(t, "flt", vs[0].Driver)
	require.Empty(t, w.Kernel().Namespace().Names(), "the port was closed by the teardown")
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.HRESULT(0x80070002), hr)

	// The testdriver's own knob does the same without a port.
	w2 := harness.New(t)
	w2.ExpectViolation(kernel.RuleReg2)
	d2 := &testdriver.Driver{FailEntryAfterRegister: kernel.STATUS_ACCESS_DENIED, LeaveRegistered: true}
	require.ErrorIs(t, w2.Load("flt", d2), kernel.E_ACCESSDENIED)
	require.Equal(t, int32(0), d2.Unloads.Load())

	// Loaded again.
	good := &testdriver.Driver{}
	require.NoError(t, w.Load("flt", good))
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	require.NoError(t, p.CloseHandle(h))
	require.NoError(t, w.Unload("flt"))
}

// A DriverEntry that fails before registering: its status, no report.
func TestDriverEntryFailsBeforeRegistering(t *testing.T) {
	w := harness.New(t)
	drv := driverapi.DriverFunc(func(*driverapi.DriverObject, driverapi.FilterManager, string) kernel.NTSTATUS {
		return kernel.STATUS_NOT_SUPPORTED
	})
	require.ErrorIs(t, w.Load("flt", drv), kernel.HRESULT(0x80070032))
	require.False(t, w.FilterManager().Loaded("flt"))
	require.Empty(t, w.Violations())
	// The registry path handed to DriverEntry is the service key.
	var path string
	require.NoError(t, w.Load("flt", driverapi.DriverFunc(func(_ *driverapi.DriverObject, _ driverapi.FilterManager, p string) kernel.NTSTATUS {
		path = p
		return kernel.STATUS_SUCCESS
	})))
	require.Equal(t, fltmgr.RegistryPath("flt"), path)
	require.Equal(t, `\Registry\Machine\System\CurrentControlSet\Services\flt`, path)
	// A driver without a filter cannot be unloaded by filter name; teardown unloads it.
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.Equal(t, []string{"flt"}, w.FilterManager().Drivers())
}

// R-SD: FltBuildDefaultSecurityDescriptor with no access is STATUS_INVALID_PARAMETER;
// freeing nil is harmless.
func TestBuildDefaultSecurityDescriptorBadInput(t *testing.T) {
	m := fltmgr.New(kernel.New())
	sd, st := fltmgr.DriverView(m).BuildDefaultSecurityDescriptor(0)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	require.Nil(t, sd)
	fltmgr.DriverView(m).FreeSecurityDescriptor(nil)
	sd, st = fltmgr.DriverView(m).BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.NotNil(t, sd)
	fltmgr.DriverView(m).FreeSecurityDescriptor(sd)
}

// A manager on its own (no harness): queries with unknown names, and Shutdown twice.
func TestManagerQueriesAndShutdown(t *testing.T) {
	w := kernel.New()
	m := fltmgr.New(w)
	require.Same(t, w, m.World())
	require.False(t, m.Loaded(""))
	require.False(t, m.Loaded("nosuch"))
	require.Empty(t, m.Drivers())
	require.Empty(t, m.Leftovers())
	m.Shutdown() // nothing loaded

	d := &testdriver.Driver{}
	require.Equal(t, kernel.STATUS_SUCCESS, m.LoadDriver("flt", d))
	require.Equal(t, []string{"flt"}, m.Drivers())
	require.NotEmpty(t, m.Leftovers(), "the open server port")
	m.Shutdown()
	require.Equal(t, int32(1), d.Unloads.Load())
	require.Empty(t, m.Drivers())
	require.Empty(t, m.Leftovers())
	m.Shutdown() // twice: nothing more happens
	require.Equal(t, int32(1), d.Unloads.Load())
	require.Equal(t, kernel.STATUS_FLT_FILTER_NOT_FOUND, m.UnloadFilter(context.Background(), "flt", true))
	require.Empty(t, w.Verifier().Violations())
}
