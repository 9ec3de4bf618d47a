package fltmgr

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// Manager is the emulated filter manager of one world, as its host (the harness) drives it.
// A driver never holds a Manager: its DriverEntry receives a view of its own that implements
// [driverapi.FilterManager], the Flt routines and nothing more. The Manager's methods serve
// the host in three groups:
//
//   - The kernel halves of user-mode calls, made on a user thread's behalf (ctx from
//     [ThreadContext]): Connect and the methods of [Connection] (FilterConnectCommunicationPort,
//     FilterGetMessage, FilterReplyMessage, FilterSendMessage, the last CloseHandle); the
//     NtXxxFile calls, CleanupFile and CloseFile; AttachFilter and DetachFilter (FilterAttach,
//     FilterDetach).
//   - The machine's administration: LoadDriver and UnloadFilter (fltmc load and unload, a
//     service stop), Shutdown, AddVolume and NextLocalDeviceName (mounting a volume).
//   - The lab's view and controls, which Windows has no call for: Drivers, Loaded, Instances,
//     Volumes, Volume, Leftovers, World, and SetFaultHook (fault injection).
type Manager struct {
	world *kernel.World

	mu      sync.Mutex
	drivers map[string]*loadedDriver // guarded by mu; key: upper-case name
	order   []*loadedDriver          // guarded by mu: load order

	connIDs   atomic.Uint64
	ops       sync.Pool // *sendOp
	faultHook atomic.Pointer[FaultHook]

	io ioState // volumes, instances and per-filter I/O state (io_*.go)
}

type driverState int

const (
	driverLoading driverState = iota
	driverLoaded
	driverUnloading
	driverUnloaded
)

type loadedDriver struct {
	name  string
	drv   driverapi.Driver
	obj   *driverapi.DriverObject
	state driverState // guarded by Manager.mu
	// entryFailure is the first routine that failed during DriverEntry; guarded by Manager.mu.
	entryFailure *EntryFailure
	filter       *filter // the filter it registered, nil if none; guarded by Manager.mu
	// unloadCtx is the thread running the driver's FilterUnload (nil otherwise): its
	// FltUnregisterFilter runs DisconnectNotify there. Guarded by Manager.mu.
	unloadCtx context.Context
}

// unloadingThread returns the thread unloading ld, or a system thread when ld is not being
// unloaded (a driver that unregisters in DriverEntry or on its own).
func (m *Manager) unloadingThread(ld *loadedDriver) context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ld != nil && ld.unloadCtx != nil {
		return ld.unloadCtx
	}
	return context.Background()
}

// New makes the filter manager of world w.
func New(w *kernel.World) *Manager {
	m := &Manager{world: w, drivers: make(map[string]*loadedDriver)}
	m.ops.New = func() any { return &sendOp{wake: make(chan struct{}, 2)} }
	return m
}

// World returns the world the manager belongs to.
func (m *Manager) World() *kernel.World { return m.world }

func (m *Manager) trace(e kernel.TraceEvent) { m.world.Trace().Add(e) }

func (m *Manager) tracing() bool { return m.world.Trace().Enabled() }

func (m *Manager) violation(v kernel.Violation) { m.world.Verifier().Report(v) }

// RegistryPath is the registry path handed to DriverEntry for a driver name.
func RegistryPath(name string) string {
	return `\Registry\Machine\System\CurrentControlSet\Services\` + name
}

// LoadDriver loads a driver: it calls DriverEntry on the calling goroutine and returns its
// status. An empty name, a name with a path separator or a nil driver (including a nil pointer
// or nil DriverFunc in the interface) is STATUS_INVALID_PARAMETER; a name already loaded is
// STATUS_IMAGE_ALREADY_LOADED (a user loading it sees
// HRESULT_FROM_WIN32(ERROR_SERVICE_ALREADY_RUNNING), 0x80070420). When DriverEntry fails, the
// driver is not loaded; a filter it registered and did not unregister is reported (R-REG-2)
// and torn down without calling its unload callback.
func (m *Manager) LoadDriver(name string, d driverapi.Driver) kernel.NTSTATUS {
	if name == "" || isNilDriver(d) || strings.ContainsAny(name, `\/`) {
		return kernel.STATUS_INVALID_PARAMETER
	}
	key := strings.ToUpper(name)
	ld := &loadedDriver{name: name, drv: d, obj: &driverapi.DriverObject{Name: name}}
	m.mu.Lock()
	if old, ok := m.drivers[key]; ok && old.state != driverUnloaded {
		m.mu.Unlock()
		return kernel.STATUS_IMAGE_ALREADY_LOADED
	}
	m.drivers[key] = ld
	m.order = append(m.order, ld)
	m.mu.Unlock()

	st := d.DriverEntry(ld.obj, &driverView{m: m, driver: name}, RegistryPath(name))
	if !st.IsSuccess() {
		m.mu.Lock()
		f := ld.filter
		ld.state = driverUnloaded
		m.mu.Unlock()
		if f != nil && !f.isUnregistered() {
			m.violation(kernel.Violation{Rule: kernel.RuleReg2, Driver: name, Object: "filter",
				Message: fmt.Sprintf("DriverEntry failed with %v but left its filter registered", st)})
			f.unregister(context.Background(), false)
		}
		m.trace(kernel.TraceEvent{Kind: kernel.EvDriverLoaded, Driver: name, Detail: "DriverEntry failed"}.WithStatus(st))
		return st
	}
	m.mu.Lock()
	ld.state = driverLoaded
	m.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvDriverLoaded, Driver: name}.WithStatus(st))
	return st
}

// isNilDriver reports whether d is nil or an interface holding a nil pointer, func, map...,
// whose DriverEntry would panic.
func isNilDriver(d driverapi.Driver) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	switch v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// Drivers lists the names of the loaded drivers, in load order.
func (m *Manager) Drivers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, d := range m.order {
		if d.state == driverLoaded || d.state == driverLoading {
			out = append(out, d.name)
		}
	}
	return out
}

// Loaded reports whether the named driver is loaded.
func (m *Manager) Loaded(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drivers[strings.ToUpper(name)]
	return ok && d.state == driverLoaded
}

// UnloadFilter handles an unload request for the named filter (R-UNLOAD-3): non-mandatory is
// `fltmc unload` (FilterUnload), mandatory is a service stop. ctx is the unloading thread
// (context.Background() for a system thread): FilterUnload runs on it, and so does each
// DisconnectNotify its FltUnregisterFilter causes. It returns
// STATUS_FLT_FILTER_NOT_FOUND for an unknown, unloaded or unregistered filter and
// STATUS_FLT_DO_NOT_DETACH when the unload is refused: by the callback, for lack of a callback,
// or (mandatory) because the filter registered FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP.
func (m *Manager) UnloadFilter(ctx context.Context, name string, mandatory bool) kernel.NTSTATUS {
	if ctx == nil {
		ctx = context.Background()
	}
	m.mu.Lock()
	ld, ok := m.drivers[strings.ToUpper(name)]
	// A filter the driver already unregistered (in DriverEntry, say) is not found either.
	// Manager.mu before filter.mu (the lock-order tree is in doc.go).
	if !ok || ld.state != driverLoaded || ld.filter == nil || ld.filter.isUnregistered() {
		m.mu.Unlock()
		return kernel.STATUS_FLT_FILTER_NOT_FOUND
	}
	f := ld.filter
	reg := f.reg
	if reg.FilterUnload == nil ||
		(mandatory && reg.Flags&driverapi.FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP != 0) {
		m.mu.Unlock()
		m.trace(kernel.TraceEvent{Kind: kernel.EvUnloadRequest, Driver: ld.name, Detail: unloadDetail(mandatory) + ": refused without calling FilterUnload",
			Reason: unloadDetail(mandatory)}.WithStatus(kernel.STATUS_FLT_DO_NOT_DETACH))
		return kernel.STATUS_FLT_DO_NOT_DETACH
	}
	ld.state = driverUnloading
	ld.unloadCtx = ctx
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		ld.unloadCtx = nil
		m.mu.Unlock()
	}()

	var flags driverapi.FilterUnloadFlags
	if mandatory {
		flags = driverapi.FLTFL_FILTER_UNLOAD_MANDATORY
	}
	m.trace(kernel.TraceEvent{Kind: kernel.EvUnloadRequest, Driver: ld.name, Detail: unloadDetail(mandatory) + ": calling FilterUnload",
		Routine: "FilterUnload", Reason: unloadDetail(mandatory)})
	st := reg.FilterUnload(flags)
	unregistered := f.isUnregistered()

	if !mandatory && !st.IsSuccess() {
		if !unregistered {
			m.mu.Lock()
			ld.state = driverLoaded
			m.mu.Unlock()
			m.trace(kernel.TraceEvent{Kind: kernel.EvUnloadRequest, Driver: ld.name, Detail: "FilterUnload refused; the filter stays",
				Routine: "FilterUnload", Reason: unloadDetail(mandatory)}.WithStatus(st))
			return st
		}
		m.violation(kernel.Violation{Rule: kernel.RuleVerify3, Driver: ld.name, Object: "filter",
			Message: fmt.Sprintf("FilterUnload refused the unload with %v after calling FltUnregisterFilter", st),
			Windows: "the driver stays loaded with no filter: its callbacks and ports are gone, later use bugchecks"})
	} else if !unregistered {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify3, Driver: ld.name, Object: "filter",
			Message: fmt.Sprintf("FilterUnload returned %v without calling FltUnregisterFilter", st),
			Windows: "the driver image is unloaded under a live filter: a bugcheck at its next callback"})
		// The driver never called FltUnregisterFilter: its open ports are part of this
		// violation, not R-VERIFY-1 reports of their own.
		f.unregister(ctx, false)
	}
	m.mu.Lock()
	ld.state = driverUnloaded
	m.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvDriverUnloaded, Driver: ld.name})
	if !mandatory && !st.IsSuccess() {
		return st
	}
	return kernel.STATUS_SUCCESS
}

func unloadDetail(mandatory bool) string {
	if mandatory {
		return "mandatory unload (service stop)"
	}
	return "unload request (fltmc unload)"
}

// Shutdown tears the machine down: each loaded driver gets a mandatory unload; a driver that
// cannot be unloaded (no unload callback, or DO_NOT_SUPPORT_SERVICE_STOP) has its filter torn
// down as at system shutdown, without verifier reports for the ports it still holds.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	order := append([]*loadedDriver(nil), m.order...)
	m.mu.Unlock()
	for i := len(order) - 1; i >= 0; i-- {
		ld := order[i]
		m.mu.Lock()
		state, f := ld.state, ld.filter
		m.mu.Unlock()
		if state != driverLoaded {
			continue
		}
		if f != nil && m.UnloadFilter(context.Background(), ld.name, true) == kernel.STATUS_SUCCESS {
			continue
		}
		if f != nil {
			f.unregister(context.Background(), false)
		}
		m.mu.Lock()
		ld.state = driverUnloaded
		m.mu.Unlock()
		m.trace(kernel.TraceEvent{Kind: kernel.EvDriverUnloaded, Driver: ld.name, Detail: "shutdown"})
	}
}

// Leftovers lists the server ports, connections, pending Gets, blocked senders and reply
// waiters still alive.
func (m *Manager) Leftovers() []kernel.Leftover {
	m.mu.Lock()
	order := append([]*loadedDriver(nil), m.order...)
	m.mu.Unlock()
	var out []kernel.Leftover
	for _, ld := range order {
		m.mu.Lock()
		f := ld.filter
		m.mu.Unlock()
		if f == nil {
			continue
		}
		out = append(out, f.leftovers()...)
	}
	owner := func(l kernel.Leftover) string {
		if l.Driver != "" {
			return "driver " + l.Driver
		}
		return l.Process
	}
	sort.SliceStable(out, func(i, j int) bool { return owner(out[i]) < owner(out[j]) })
	return out
}
