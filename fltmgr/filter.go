package fltmgr

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

type filterState int

const (
	filterRegistered filterState = iota
	filterUnregistering
	filterUnregistered
)

// filter is the emulated FLT_FILTER.
type filter struct {
	m      *Manager
	driver *loadedDriver
	name   string
	reg    driverapi.Registration

	// mu is never held across a wait or a driver callback; see the package comment for the
	// lock order. It is also the guard of each connection's life (conn_life.go).
	mu      sync.Mutex
	state   filterState              // guarded by mu
	started bool                     // guarded by mu: FltStartFiltering ran
	ports   map[*serverPort]struct{} // guarded by mu: open server ports
	conns   map[*Connection]struct{} // guarded by mu: connections whose kernel endpoint is open
	users   map[*Connection]struct{} // guarded by mu: connections whose user endpoint is open

	connectRundown rundown // ConnectNotify calls in flight
	notifyRundown  rundown // MessageNotify and user-started DisconnectNotify calls in flight
}

// FilterName returns the name of the driver that registered the filter.
func (f *filter) FilterName() string { return f.name }

func (f *filter) String() string { return fmt.Sprintf("filter %q", f.name) }

func (f *filter) isUnregistered() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state != filterRegistered
}

// asFilter checks that a driverapi.Filter is one of this manager's live filters.
func (m *Manager) asFilter(fi driverapi.Filter) (*filter, bool) {
	f, ok := fi.(*filter)
	if !ok || f == nil || f.m != m {
		return nil, false
	}
	return f, true
}

// registerFilter emulates FltRegisterFilter (R-REG-1). The version must be one of
// FLT_REGISTRATION_VERSION_0200, _0202 or _0203 and the flags known, else
// STATUS_INVALID_PARAMETER. A driver registers at most one filter; a second registration is
// STATUS_INVALID_PARAMETER.
func (m *Manager) registerFilter(driver *driverapi.DriverObject, reg *driverapi.Registration) (driverapi.Filter, kernel.NTSTATUS) {
	const routine = "FltRegisterFilter"
	name := "?"
	if driver != nil {
		name = driver.Name
	}
	if driver == nil || reg == nil {
		return nil, m.refuse(name, routine, kernel.STATUS_INVALID_PARAMETER, "the DRIVER_OBJECT or the FLT_REGISTRATION is nil")
	}
	switch reg.Version {
	case driverapi.FLT_REGISTRATION_VERSION_0200, driverapi.FLT_REGISTRATION_VERSION_0202, driverapi.FLT_REGISTRATION_VERSION_0203:
	default:
		return nil, m.refuse(name, routine, kernel.STATUS_INVALID_PARAMETER, fmt.Sprintf(
			"the registration's Version 0x%04X is not one the filter manager knows (0x0200, 0x0202, 0x0203): use driverapi.FLT_REGISTRATION_VERSION",
			reg.Version))
	}
	const knownFlags = driverapi.FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP |
		driverapi.FLTFL_REGISTRATION_SUPPORT_NPFS_MSFS | driverapi.FLTFL_REGISTRATION_SUPPORT_DAX_VOLUME
	if reg.Flags&^knownFlags != 0 {
		return nil, m.refuse(name, routine, kernel.STATUS_INVALID_PARAMETER, fmt.Sprintf("unknown registration flags 0x%X", reg.Flags&^knownFlags))
	}
	if st := validateIORegistration(reg); st != kernel.STATUS_SUCCESS {
		return nil, m.refuse(name, routine, st, "the operation or context registration is malformed (see docs/io-support.md)")
	}
	// The fault hook and the trace run with no lock held: trace observers may call back
	// into the world.
	m.mu.Lock()
	var ld *loadedDriver
	for _, d := range m.order {
		if d.obj == driver {
			ld = d
		}
	}
	if ld == nil || ld.state == driverUnloaded || ld.filter != nil {
		m.mu.Unlock()
		return nil, m.refuse(name, routine, kernel.STATUS_INVALID_PARAMETER,
			"the driver object is not the one DriverEntry was given, or the driver registered a filter already")
	}
	m.mu.Unlock()
	if st := m.fault(RoutineRegisterFilter, ld.name); st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	m.mu.Lock()
	if ld.state == driverUnloaded || ld.filter != nil {
		m.mu.Unlock()
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	f := &filter{
		m: m, driver: ld, name: ld.name, reg: *reg,
		ports: make(map[*serverPort]struct{}),
		conns: make(map[*Connection]struct{}),
		users: make(map[*Connection]struct{}),
	}
	ld.filter = f
	m.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvFilterRegistered, Driver: f.name, Detail: fmt.Sprintf("version %#04x flags %#x", reg.Version, reg.Flags)})
	return f, kernel.STATUS_SUCCESS
}

// startFiltering emulates FltStartFiltering. A second call is STATUS_INVALID_PARAMETER
// (R-REG-1); a filter being unregistered is STATUS_FLT_DELETING_OBJECT.
func (m *Manager) startFiltering(fi driverapi.Filter) kernel.NTSTATUS {
	f, ok := m.asFilter(fi)
	if !ok {
		return kernel.STATUS_INVALID_PARAMETER
	}
	if st := m.fault(RoutineStartFiltering, f.name); st != kernel.STATUS_SUCCESS {
		return st
	}
	f.mu.Lock()
	if f.state != filterRegistered {
		f.mu.Unlock()
		return m.refuse(f.name, "FltStartFiltering", kernel.STATUS_FLT_DELETING_OBJECT, "the filter is being unregistered")
	}
	if f.started {
		f.mu.Unlock()
		return m.refuse(f.name, "FltStartFiltering", kernel.STATUS_INVALID_PARAMETER, "the filter was started already")
	}
	f.started = true
	f.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvFilterStarted, Driver: f.name})
	m.attachAtStart(f) // automatic attachment to the mounted volumes (io_instance.go)
	return kernel.STATUS_SUCCESS
}

// unregisterFilter emulates FltUnregisterFilter (R-UNLOAD-5, R-UNLOAD-6). It ends every
// connection of the filter, calls DisconnectNotify once per connection the filter had not
// closed itself (after the connection's running MessageNotify calls returned), and waits for
// the callbacks still running on connections the user closed. A server port still open is a
// driver bug (on Windows the call hangs forever): the verifier reports it and the emulator
// closes the port itself. Unregistering twice does nothing.
func (m *Manager) unregisterFilter(fi driverapi.Filter) {
	f, ok := m.asFilter(fi)
	if !ok {
		return
	}
	f.unregister(m.unloadingThread(f.driver), true)
}

// unregister tears the filter down; report says whether open server ports are driver bugs.
// ctx is the thread doing it, on which DisconnectNotify runs.
func (f *filter) unregister(ctx context.Context, report bool) {
	m := f.m
	f.mu.Lock()
	if f.state != filterRegistered {
		f.mu.Unlock()
		return
	}
	f.state = filterUnregistering
	open := make([]*serverPort, 0, len(f.ports))
	for p := range f.ports {
		open = append(open, p)
	}
	f.mu.Unlock()
	sort.Slice(open, func(i, j int) bool { return open[i].name < open[j].name })
	for _, p := range open {
		if report {
			m.violation(kernel.Violation{Rule: kernel.RuleVerify1, Driver: f.name, Object: "server port " + kernel.Quote(p.name),
				Message: "FltUnregisterFilter was called while the server port was still open; the emulator closed it"})
		}
		p.close()
	}

	// Connections being accepted finish first, so that every connection below has its cookie.
	f.connectRundown.wait()

	f.mu.Lock()
	ending := make([]*Connection, 0, len(f.conns)+len(f.users))
	for c := range f.conns {
		ending = append(ending, c)
	}
	for c := range f.users {
		if _, ok := f.conns[c]; !ok { // closed by the filter, still open in user mode
			ending = append(ending, c)
		}
	}
	f.mu.Unlock()
	sort.Slice(ending, func(i, j int) bool { return ending[i].id < ending[j].id })
	notify := make([]bool, len(ending))
	for i, c := range ending {
		notify[i] = c.endByUnload()
	}
	for i, c := range ending {
		// R-UNLOAD-5: the connection's running MessageNotify calls return first, so that
		// DisconnectNotify never overlaps them.
		c.settleForUnload(ctx, notify[i])
	}
	// DisconnectNotify calls started by user closes, MessageNotify calls still running on
	// connections the user closed, and FltCloseClientPort calls in flight.
	f.notifyRundown.wait()

	f.mu.Lock()
	leaked := make([]*Connection, 0, len(f.conns))
	for c := range f.conns {
		leaked = append(leaked, c)
	}
	f.mu.Unlock()
	sort.Slice(leaked, func(i, j int) bool { return leaked[i].id < leaked[j].id })
	for _, c := range leaked {
		if c.closeKernelEndpoint() && report {
			m.violation(kernel.Violation{Rule: kernel.RuleVerify2, Driver: f.name,
				Object:  fmt.Sprintf("connection %d on port %s (%s)", c.id, kernel.Quote(c.port.name), c.procName),
				Message: "DisconnectNotify returned without FltCloseClientPort; the client port was still open at unload"})
		}
	}
	m.unregisterIO(f, report) // instance teardown, context and reference checks (io_instance.go)
	f.mu.Lock()
	f.state = filterUnregistered
	f.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvUnregister, Driver: f.name})
}

// buildDefaultSecurityDescriptor emulates FltBuildDefaultSecurityDescriptor (R-SD): a DACL
// that grants desiredAccess to LocalSystem and Administrators only. Zero access is
// STATUS_INVALID_PARAMETER.
func (m *Manager) buildDefaultSecurityDescriptor(desired kernel.AccessMask) (*kernel.SecurityDescriptor, kernel.NTSTATUS) {
	if desired == 0 {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	return kernel.DefaultPortSecurityDescriptor(desired), kernel.STATUS_SUCCESS
}

// freeSecurityDescriptor emulates FltFreeSecurityDescriptor. Ports capture a copy of their
// descriptor, so freeing it after CreateCommunicationPort is correct and changes nothing.
func (m *Manager) freeSecurityDescriptor(*kernel.SecurityDescriptor) {}

func (f *filter) leftovers() []kernel.Leftover {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []kernel.Leftover
	for p := range f.ports {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverServerPort, Driver: f.name, Object: p.name})
	}
	for c := range f.conns {
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverClientPort, Driver: f.name, Process: c.procName, Object: fmt.Sprintf("connection %d", c.id)})
	}
	for c := range f.conns {
		out = append(out, c.pendingLeftovers()...)
	}
	return out
}
