package fltmgr

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// serverPort is a communication server port.
type serverPort struct {
	f            *filter
	name         string
	sd           *kernel.SecurityDescriptor // captured copy (R-CREATE-6)
	cookie       any
	connectCB    driverapi.ConnectNotify
	disconnectCB driverapi.DisconnectNotify
	messageCB    driverapi.MessageNotify
	max          int32

	// guarded by f.mu
	closed bool
	used   int32 // MaxConnections slots held (kernel endpoints open)
}

// PortName returns the name the port was created with.
func (p *serverPort) PortName() string { return p.name }

// SecurityDescriptor returns a copy of the descriptor the port checks connects against.
func (p *serverPort) SecurityDescriptor() *kernel.SecurityDescriptor { return p.sd.Clone() }

// createCommunicationPort emulates FltCreateCommunicationPort (R-CREATE-1…7). The object
// attributes must carry OBJ_KERNEL_HANDLE; MaxConnections must be positive; ConnectNotify and
// DisconnectNotify are required. A nil security descriptor means the default one (SYSTEM and
// Administrators only), and the descriptor is copied, so the caller may change or free its own.
func (m *Manager) createCommunicationPort(fi driverapi.Filter, attrs *driverapi.ObjectAttributes, cookie any,
	connect driverapi.ConnectNotify, disconnect driverapi.DisconnectNotify, message driverapi.MessageNotify,
	maxConnections int32) (driverapi.ServerPort, kernel.NTSTATUS) {
	const routine = RoutineCreateCommunicationPort
	f, ok := m.asFilter(fi)
	bad := func(why string) (driverapi.ServerPort, kernel.NTSTATUS) {
		return nil, m.refuse(filterName(fi), routine, kernel.STATUS_INVALID_PARAMETER, why)
	}
	switch {
	case !ok:
		return bad("the filter is nil or not one this filter manager registered")
	case attrs == nil:
		return bad("the object attributes are nil")
	case attrs.Attributes&driverapi.OBJ_KERNEL_HANDLE == 0:
		return bad("the object attributes lack OBJ_KERNEL_HANDLE: InitializeObjectAttributes(name, OBJ_KERNEL_HANDLE|OBJ_CASE_INSENSITIVE, sd)")
	case maxConnections <= 0:
		return bad(fmt.Sprintf("MaxConnections is %d; it must be at least 1", maxConnections))
	case connect == nil || disconnect == nil:
		// Windows does not check: the first connect or disconnect calls through the nil
		// pointer (R-CREATE-3). The emulator refuses the port and reports it, so the bug
		// fails the test here rather than crashing a machine later.
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: f.name, Object: "server port " + kernel.Quote(attrs.ObjectName),
			Message: "FltCreateCommunicationPort without a ConnectNotify or DisconnectNotify callback",
			Windows: "no check: the first connect (or disconnect) calls a NULL pointer, a bugcheck"})
		return bad("ConnectNotify and DisconnectNotify are required")
	}
	m.checkIRQL("FltCreateCommunicationPort", maxIRQLCreateCommunicationPort, f.name)
	if st := m.fault(RoutineCreateCommunicationPort, f.name); st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	sd := attrs.SecurityDescriptor.Clone()
	if sd == nil {
		sd = kernel.SystemDefaultObjectSecurityDescriptor() // R-CREATE-6
	}
	p := &serverPort{f: f, name: attrs.ObjectName, sd: sd, cookie: cookie, connectCB: connect,
		disconnectCB: disconnect, messageCB: message, max: maxConnections}
	f.mu.Lock()
	if f.state != filterRegistered {
		f.mu.Unlock()
		return nil, m.refuse(f.name, routine, kernel.STATUS_FLT_DELETING_OBJECT, "the filter is being unregistered")
	}
	if st := m.world.Namespace().Insert(p.name, p, attrs.Attributes&driverapi.OBJ_CASE_INSENSITIVE != 0); st != kernel.STATUS_SUCCESS {
		f.mu.Unlock()
		return nil, m.refuse(f.name, routine, st, portNameProblem(p.name, st))
	}
	f.ports[p] = struct{}{}
	f.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvPortCreated, Driver: f.name, Object: p.name, Count: int(maxConnections),
		Detail: fmt.Sprintf("%s max %d SD %s", p.name, maxConnections, sd.SDDL())})
	return p, kernel.STATUS_SUCCESS
}

// closeCommunicationPort emulates FltCloseCommunicationPort (R-CLOSESRV): the name goes away at
// once, connections made through the port keep working. Closing a port twice is reported by
// the verifier (R-VERIFY-4).
func (m *Manager) closeCommunicationPort(sp driverapi.ServerPort) {
	p, ok := sp.(*serverPort)
	if !ok || p == nil || p.f.m != m {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: "?", Object: fmt.Sprintf("%v", sp),
			Message: "FltCloseCommunicationPort was given something that is not a server port of this world"})
		return
	}
	m.checkIRQL("FltCloseCommunicationPort", maxIRQLCloseCommunicationPort, p.f.name)
	if !p.close() {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify4, Driver: p.f.name, Object: "server port " + kernel.Quote(p.name),
			Message: "FltCloseCommunicationPort called on a port that was already closed"})
	}
}

// portNameProblem explains a status the namespace gave for a port name.
func portNameProblem(name string, st kernel.NTSTATUS) string {
	switch st {
	case kernel.STATUS_OBJECT_NAME_COLLISION:
		return fmt.Sprintf("a port named %s exists already", name)
	case kernel.STATUS_OBJECT_PATH_SYNTAX_BAD:
		return fmt.Sprintf("the name %s does not start with a backslash", kernel.Quote(name))
	case kernel.STATUS_OBJECT_PATH_NOT_FOUND:
		return fmt.Sprintf("a directory on the way to %s does not exist", name)
	case kernel.STATUS_OBJECT_NAME_INVALID:
		return fmt.Sprintf("the name %s has an empty component", kernel.Quote(name))
	case kernel.STATUS_OBJECT_TYPE_MISMATCH:
		return fmt.Sprintf("a component of %s is not a directory", name)
	}
	return "the name " + name + " cannot be inserted"
}

// close removes the port's name and stops new connections; false if it was closed already.
func (p *serverPort) close() bool {
	f := p.f
	f.mu.Lock()
	if p.closed {
		f.mu.Unlock()
		return false
	}
	p.closed = true
	delete(f.ports, p)
	f.m.world.Namespace().Remove(p.name, p)
	f.mu.Unlock()
	f.m.trace(kernel.TraceEvent{Kind: kernel.EvPortClosed, Driver: f.name, Object: p.name, Detail: p.name})
	return true
}

// scribble is what the ConnectNotify context copy is overwritten with after the callback, so
// a driver that keeps it reads garbage, as on Windows (R-VERIFY-6).
const scribble = 0xDB

// Connect is the kernel half of FilterConnectCommunicationPort (R-MODEL-2): it looks the name
// up (case-sensitively), checks that the caller's token is granted FLT_PORT_ALL_ACCESS (the
// access fltmgr asks for, in the caller's user mode, even for SYSTEM), checks that the filter
// is not being torn down and that a connection slot is free, and runs ConnectNotify on the
// calling goroutine. It returns the new connection, or the status that refused it: the
// namespace's (STATUS_OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_PATH_NOT_FOUND,
// STATUS_OBJECT_PATH_SYNTAX_BAD, STATUS_OBJECT_NAME_INVALID, STATUS_OBJECT_TYPE_MISMATCH),
// STATUS_ACCESS_DENIED, STATUS_FLT_DELETING_OBJECT, STATUS_CONNECTION_COUNT_LIMIT, or
// ConnectNotify's own status. ctx is the connecting user thread (its process is the caller
// ConnectNotify sees); a context without a user thread of this world, or a connection context
// longer than 65511 bytes, is STATUS_INVALID_PARAMETER.
func (m *Manager) Connect(ctx context.Context, name string, connectionContext []byte) (*Connection, kernel.NTSTATUS) {
	proc := driverapi.CurrentProcess(ctx)
	if proc == nil || proc.World() != m.world || len(connectionContext) > driverapi.MaxConnectionContext {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	if st := m.fault(RoutineConnect, ""); st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	st := m.connect1(ctx, proc, name, connectionContext)
	return st.conn, st.status
}

type connectResult struct {
	conn   *Connection
	status kernel.NTSTATUS
}

func (m *Manager) connect1(ctx context.Context, proc *kernel.Process, name string, connectionContext []byte) connectResult {
	fail := func(st kernel.NTSTATUS, driver, why string) connectResult {
		m.trace(kernel.TraceEvent{Kind: kernel.EvConnect, Process: proc.String(), Driver: driver, Detail: name + ": " + why}.
			WithStatus(st))
		return connectResult{status: st}
	}
	// fltmgr opens the port with no attributes, so the lookup is case-sensitive (R-MODEL-1).
	obj, st := m.world.Namespace().Lookup(name, false)
	if st != kernel.STATUS_SUCCESS {
		return fail(st, "", "no such port")
	}
	p, ok := obj.(*serverPort)
	if !ok {
		return fail(kernel.STATUS_OBJECT_TYPE_MISMATCH, "", "not a communication port")
	}
	f := p.f
	if _, st := kernel.AccessCheck(p.sd, proc.Token(), kernel.FLT_PORT_ALL_ACCESS, kernel.PortGenericMapping()); st != kernel.STATUS_SUCCESS {
		return fail(kernel.STATUS_ACCESS_DENIED, f.name, "access check failed for "+proc.Token().Name())
	}
	f.mu.Lock()
	if f.state != filterRegistered || !f.connectRundown.acquire() {
		f.mu.Unlock()
		return fail(kernel.STATUS_FLT_DELETING_OBJECT, f.name, "filter is being unloaded")
	}
	if p.closed {
		f.mu.Unlock()
		f.connectRundown.release()
		return fail(kernel.STATUS_OBJECT_NAME_NOT_FOUND, f.name, "port closed")
	}
	if p.used >= p.max {
		f.mu.Unlock()
		f.connectRundown.release()
		return fail(kernel.STATUS_CONNECTION_COUNT_LIMIT, f.name, fmt.Sprintf("all %d connections in use", p.max))
	}
	p.used++
	c := newConnection(m, p, proc)
	f.conns[c] = struct{}{}
	f.users[c] = struct{}{}
	f.mu.Unlock()

	ctxCopy := append([]byte(nil), connectionContext...)
	cookie, st := p.connectCB(ctx, c, p.cookie, ctxCopy)
	for i := range ctxCopy {
		ctxCopy[i] = scribble
	}
	notifyEv := kernel.TraceEvent{Kind: kernel.EvConnectNotify, Process: proc.String(), Driver: f.name, Conn: c.id,
		Detail: fmt.Sprintf("%d context bytes", len(ctxCopy))}.WithStatus(st)
	if !st.IsSuccess() {
		if !c.refuse() { // a refused connection never gets DisconnectNotify (R-CB-1)
			m.violation(kernel.Violation{Rule: kernel.RuleVerify7, Driver: f.name, Object: c.String(),
				Message: fmt.Sprintf("ConnectNotify closed the client port and then failed with %v; the filter manager closes it again", st)})
		}
		f.connectRundown.release()
		m.trace(notifyEv)
		m.trace(kernel.TraceEvent{Kind: kernel.EvConnect, Process: proc.String(), Driver: f.name, Conn: c.id,
			Detail: name + ": ConnectNotify refused"}.WithStatus(st))
		return connectResult{status: st}
	}
	c.cookie = cookie
	f.connectRundown.release()
	m.trace(notifyEv)
	if path, kept := kernel.RetainedSlice(cookie, ctxCopy); kept { // R-VERIFY-6
		m.violation(kernel.Violation{Rule: kernel.RuleVerify6, Driver: f.name, Object: c.String(),
			Message: fmt.Sprintf("ConnectNotify kept the connection context past the call (in %s); the emulator overwrote it with 0x%X bytes", path, scribble)})
	}
	m.trace(kernel.TraceEvent{Kind: kernel.EvConnect, Process: proc.String(), Driver: f.name, Conn: c.id,
		Detail: name + ": connected as " + proc.Token().Name()}.WithStatus(kernel.STATUS_SUCCESS))
	return connectResult{conn: c, status: kernel.STATUS_SUCCESS}
}
