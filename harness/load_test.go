package harness_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// failingEntry is a driver whose DriverEntry returns st without registering.
func failingEntry(st kernel.NTSTATUS) driverapi.Driver {
	return driverapi.DriverFunc(func(*driverapi.DriverObject, driverapi.FilterManager, string) kernel.NTSTATUS { return st })
}

// R-HR: Load, Unload and Stop return the HRESULT a user of fltmc / the service manager gets.
func TestWorldLoadReturnsHRESULT(t *testing.T) {
	w := harness.New(t)
	for _, tc := range []struct {
		st kernel.NTSTATUS
		hr kernel.HRESULT
	}{
		{kernel.STATUS_ACCESS_DENIED, kernel.E_ACCESSDENIED},
		{kernel.STATUS_INSUFFICIENT_RESOURCES, 0x800705AA},
		{kernel.STATUS_OBJECT_NAME_COLLISION, 0x800700B7},
		{kernel.STATUS_FLT_DO_NOT_ATTACH, 0x801F000F},
		{kernel.STATUS_FLT_BUFFER_TOO_SMALL, 0x8007007A},
		{kernel.NTSTATUS(0xC0DE0001), 0x8007013D},
	} {
		require.ErrorIs(t, w.Load("flt", failingEntry(tc.st)), tc.hr, "%v", tc.st)
		require.False(t, w.FilterManager().Loaded("flt"), "%v", tc.st)
	}
	require.NoError(t, w.Load("flt", &testdriver.Driver{}))
	require.ErrorIs(t, w.Load("flt", &testdriver.Driver{}), kernel.HRESULT(0x80070420), "already loaded")
	require.ErrorIs(t, w.Load("", &testdriver.Driver{}), kernel.E_INVALIDARG)
	require.ErrorIs(t, w.Load("x", nil), kernel.E_INVALIDARG)
	require.ErrorIs(t, w.Unload("nosuch"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.ErrorIs(t, w.Stop("nosuch"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.NoError(t, w.Stop("flt"))
	require.ErrorIs(t, w.Stop("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)
	require.NoError(t, w.Load("flt", &testdriver.Driver{}))
	require.NoError(t, w.Unload("flt"))
	require.ErrorIs(t, w.Unload("flt"), kernel.ERROR_FLT_FILTER_NOT_FOUND)

	refusing := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, f driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		if f&driverapi.FLTFL_FILTER_UNLOAD_MANDATORY == 0 {
			return kernel.STATUS_FLT_DO_NOT_DETACH
		}
		return d.DefaultUnload()
	}}
	require.NoError(t, w.Load("flt", refusing))
	require.ErrorIs(t, w.Unload("flt"), kernel.HRESULT(0x801F0010))
	require.NoError(t, w.Stop("flt"))
}

func TestWorldCloseClean(t *testing.T) {
	w := harness.NewWorld()
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "second Close")

	w = harness.NewWorld()
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("flt", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	// Close exits the process (the connection ends) and stops the driver: nothing is left.
	// Leaving the connection to the process exit is what this test checks.
	p.AllowOpenHandles()
	require.NoError(t, w.Close())
	require.Equal(t, int32(1), d.Disconnects.Load())
	require.Equal(t, int32(1), d.Unloads.Load())
	require.True(t, p.Kernel().Exited())
	require.Empty(t, w.Kernel().Processes())
}

// An expected violation that does not happen makes Close fail.
func TestWorldCloseExpectedViolationMissing(t *testing.T) {
	w := harness.NewWorld()
	w.ExpectViolation(kernel.RuleVerify1)
	require.NoError(t, w.Load("flt", &testdriver.Driver{}))
	err := w.Close()
	require.Error(t, err)
	require.Contains(t, err.Error(), "expected a verifier report of R-VERIFY-1, none came")
	require.NoError(t, w.Close(), "the second Close reports nothing")
}

// An expected violation that happens is not an error; an unexpected one is, with its text.
func TestWorldCloseViolations(t *testing.T) {
	w := harness.NewWorld()
	w.ExpectViolation(kernel.RuleVerify1)
	require.NoError(t, w.Load("flt", &testdriver.Driver{UnregisterOnly: true}))
	require.NoError(t, w.Unload("flt"))
	require.NoError(t, w.Close())

	w = harness.NewWorld()
	require.NoError(t, w.Load("flt", &testdriver.Driver{UnregisterOnly: true}))
	require.NoError(t, w.Unload("flt"))
	err := w.Close()
	require.Error(t, err)
	require.Contains(t, err.Error(), kernel.RuleVerify1)
	require.Contains(t, err.Error(), `driver "flt"`)
	require.Contains(t, err.Error(), `\TestPort`)
}

// Close lists what was left over: a handle in a process the harness did not start, and an
// object name no port accounts for.
func TestWorldCloseListsLeftovers(t *testing.T) {
	w := harness.NewWorld()
	kp, st := w.Kernel().CreateProcess("stray.exe", kernel.TokenStandardUser(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	cleaned := 0
	_, st = kp.InsertHandle(kernel.NewObject("Thing", `\Thing`, nil, func() { cleaned++ }), 1, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, kernel.STATUS_SUCCESS, w.Kernel().Namespace().Insert(`\Orphan`, &struct{ int }{}, false))

	err := w.Close()
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "leftover")
	require.Contains(t, msg, "stray.exe")
	require.Contains(t, msg, `Thing "\Thing"`)
	require.Contains(t, msg, `\Orphan`)
	require.Equal(t, 2, strings.Count(msg, "leftover"), msg)
}

// fakeTB records what New's cleanup does with the test.
type fakeTB struct {
	testing.TB
	cleanups []func()
	errs     []string
	logs     []string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Error(args ...any)              { f.errs = append(f.errs, fmt.Sprint(args...)) }
func (f *fakeTB) Errorf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Failed() bool                   { return len(f.errs) > 0 }
func (f *fakeTB) Logf(format string, a ...any)   { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Log(args ...any)                { f.logs = append(f.logs, fmt.Sprint(args...)) }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// New binds the teardown to the test: a missing expected violation fails it, and the trace
// of a failed test is logged.
func TestNewFailsTestAtCleanup(t *testing.T) {
	ft := &fakeTB{TB: t}
	w := harness.New(ft)
	w.ExpectViolation(kernel.RuleVerify2)
	require.NoError(t, w.Load("flt", &testdriver.Driver{}))
	require.Empty(t, ft.errs, "nothing is checked before the cleanup")
	ft.runCleanups()
	require.Len(t, ft.errs, 1)
	require.Contains(t, ft.errs[0], "expected a verifier report of R-VERIFY-2, none came")
	require.NotEmpty(t, ft.logs)
	require.Contains(t, strings.Join(ft.logs, "\n"), "trace of the failed test")
	require.Contains(t, strings.Join(ft.logs, "\n"), string(kernel.EvDriverLoaded))

	// A clean world passes and logs nothing.
	ft = &fakeTB{TB: t}
	w = harness.New(ft)
	require.NoError(t, w.Load("flt", &testdriver.Driver{}))
	ft.runCleanups()
	require.Empty(t, ft.errs)
	require.Empty(t, ft.logs)
}

// R-REG-2: a DriverEntry that returns a success code other than STATUS_SUCCESS has loaded the
// driver, and the user sees S_OK.
func TestLoadSuccessCodeIsLoaded(t *testing.T) {
	w := harness.New(t)
	d := driverapi.DriverFunc(func(*driverapi.DriverObject, driverapi.FilterManager, string) kernel.NTSTATUS {
		return kernel.STATUS_PENDING
	})
	require.NoError(t, w.Load("pending", d))
	require.True(t, w.FilterManager().Loaded("pending"))
}
