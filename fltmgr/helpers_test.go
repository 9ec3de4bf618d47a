package fltmgr_test

// Helpers shared by the test files of this package (mostly the I/O tests); a helper used by
// one file only stays in that file.

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// ioDriver is a configurable minifilter for the I/O tests: its registration is Reg (version
// and unload filled in), it starts filtering unless NoStart, and its unload callback
// unregisters.
type ioDriver struct {
	Reg     driverapi.Registration
	NoStart bool

	FM     driverapi.FilterManager
	Filter driverapi.Filter
}

func (d *ioDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.FM = fm
	reg := d.Reg
	reg.Version = driverapi.FLT_REGISTRATION_VERSION
	reg.FilterUnload = func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		fm.UnregisterFilter(d.Filter)
		return kernel.STATUS_SUCCESS
	}
	f, st := fm.RegisterFilter(obj, &reg)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.Filter = f
	if d.NoStart {
		return kernel.STATUS_SUCCESS
	}
	if st := fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return kernel.STATUS_SUCCESS
}

// recorder collects "who:what" events from callbacks running on any goroutine.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// only returns the events with the given prefix.
func (r *recorder) only(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// logOps returns operation registrations for the given major functions whose callbacks log
// "<name>:pre <IRP_MJ_...>" and "<name>:post <IRP_MJ_...>" and pass the operation on.
func logOps(r *recorder, name string, majors ...driverapi.MajorFunction) []driverapi.OperationRegistration {
	var ops []driverapi.OperationRegistration
	for _, m := range majors {
		ops = append(ops, driverapi.OperationRegistration{
			MajorFunction: m,
			PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				r.add("%s:pre %v", name, data.Iopb.MajorFunction)
				return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
			},
			PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				r.add("%s:post %v", name, data.Iopb.MajorFunction)
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			},
		})
	}
	return ops
}

// hexst prints a status as its number only, so that expectations do not depend on which
// statuses package kernel knows by name.
func hexst(st kernel.NTSTATUS) string { return fmt.Sprintf("0x%08X", uint32(st)) }

// ioWorld makes a world with a volume C: holding seed, and an administrator process.
func ioWorld(t *testing.T, seed map[string][]byte) (*harness.World, *harness.Process) {
	t.Helper()
	w := harness.New(t)
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: seed})
	return w, w.NewProcess("app.exe", kernel.TokenAdmin())
}

func mustLoad(t *testing.T, w *harness.World, name string, d driverapi.Driver) {
	t.Helper()
	require.NoError(t, w.Load(name, d))
}

// openRW opens path for read and write, sharing everything.
func openRW(t *testing.T, p *harness.Process, path string, disposition uint32) kernel.Handle {
	t.Helper()
	h, err := p.CreateFile(path, kernel.GENERIC_READ|kernel.GENERIC_WRITE,
		fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE|fsys.FILE_SHARE_DELETE, nil, disposition, 0)
	require.NoError(t, err)
	return h
}

// preOnly registers one pre-operation callback for major.
func preOnly(altitude string, major driverapi.MajorFunction, pre driverapi.PreOperationCallback) driverapi.Registration {
	return driverapi.Registration{Altitude: altitude, OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: major, PreOperation: pre}}}
}

// postCreateOnly registers one post-create callback.
func postCreateOnly(altitude string, post driverapi.PostOperationCallback) driverapi.Registration {
	return driverapi.Registration{Altitude: altitude, OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE, PostOperation: post}}}
}
