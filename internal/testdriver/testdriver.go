// Package testdriver is a configurable minifilter for the emulator's own tests: one server
// port, a ClientPort variable per connection, counters for every callback, and knobs for the
// driver bugs the verifier must catch. It imports only driverapi and kernel, like a real
// driver.
package testdriver

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// Conn is the driver's state for one connection: the cookie ConnectNotify returns.
type Conn struct {
	Port driverapi.ClientPort
	// Process is the connecting process: CurrentProcess of ConnectNotify's thread.
	Process *kernel.Process
	Context []byte // a copy of the connection context
	// ServerCookie is the server-port cookie ConnectNotify received (R-CREATE-7).
	ServerCookie any
	// KeptContext is the context slice itself, kept past the call (a driver bug, R-VERIFY-6).
	KeptContext []byte
}

// Driver is the configurable test driver.
type Driver struct {
	PortName       string                     // default `\TestPort`
	SD             *kernel.SecurityDescriptor // nil: FltBuildDefaultSecurityDescriptor(FLT_PORT_ALL_ACCESS)
	NilSD          bool                       // pass a nil descriptor to CreateCommunicationPort
	MaxConnections int32                      // default 1
	Flags          uint32                     // registration flags
	Version        uint16                     // default FLT_REGISTRATION_VERSION
	NoUnload       bool                       // register without a FilterUnload callback
	NoMessage      bool                       // no MessageNotify
	NoPort         bool                       // do not create a port in DriverEntry
	Cookie         any                        // server-port cookie; nil: the driver itself

	// Hooks; nil means the default behaviour.
	// ctx is the callback's thread.
	OnConnect    func(ctx context.Context, c *Conn, connectionContext []byte) kernel.NTSTATUS // default: accept
	OnMessage    func(ctx context.Context, c *Conn, in, out []byte) (uint32, kernel.NTSTATUS) // default: echo
	OnUnload     func(d *Driver, flags driverapi.FilterUnloadFlags) kernel.NTSTATUS           // default: close port, unregister
	OnDisconnect func(ctx context.Context, c *Conn)                                           // runs before the default close

	// Bugs.
	KeepClientPort         bool            // DisconnectNotify does not call FltCloseClientPort (R-VERIFY-2)
	KeepContext            bool            // keep the ConnectNotify context slice (R-VERIFY-6)
	UnregisterOnly         bool            // FilterUnload unregisters without closing the port (R-VERIFY-1)
	FailEntryAfterRegister kernel.NTSTATUS // DriverEntry registers then fails with this (and unregisters unless LeaveRegistered)
	LeaveRegistered        bool

	FM     driverapi.FilterManager
	Filter driverapi.Filter
	Server driverapi.ServerPort

	Connects     atomic.Int32 // accepted connections
	ConnectCalls atomic.Int32 // every ConnectNotify call, refused ones included
	Disconnects  atomic.Int32
	Messages     atomic.Int32
	Unloads      atomic.Int32

	mu    sync.Mutex
	conns []*Conn
}

// DriverEntry registers the filter, creates the port and starts filtering.
func (d *Driver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.FM = fm
	reg := &driverapi.Registration{Version: d.Version, Flags: d.Flags}
	if reg.Version == 0 {
		reg.Version = driverapi.FLT_REGISTRATION_VERSION
	}
	if !d.NoUnload {
		reg.FilterUnload = d.unload
	}
	f, st := fm.RegisterFilter(obj, reg)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.Filter = f
	if d.FailEntryAfterRegister != 0 {
		if !d.LeaveRegistered {
			fm.UnregisterFilter(f)
		}
		return d.FailEntryAfterRegister
	}
	if !d.NoPort {
		if st := d.CreatePort(); st != kernel.STATUS_SUCCESS {
			fm.UnregisterFilter(f)
			return st
		}
	}
	if st := fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		if d.Server != nil {
			fm.CloseCommunicationPort(d.Server)
		}
		fm.UnregisterFilter(f)
		return st
	}
	return kernel.STATUS_SUCCESS
}

// CreatePort creates the server port with the driver's settings.
func (d *Driver) CreatePort() kernel.NTSTATUS {
	name := d.PortName
	if name == "" {
		name = `\TestPort`
	}
	sd := d.SD
	if sd == nil && !d.NilSD {
		var st kernel.NTSTATUS
		if sd, st = d.FM.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS); st != kernel.STATUS_SUCCESS {
			return st
		}
	}
	max := d.MaxConnections
	if max == 0 {
		max = 1
	}
	attrs := driverapi.InitializeObjectAttributes(name, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	var msg driverapi.MessageNotify
	if !d.NoMessage {
		msg = d.message
	}
	var cookie any = d
	if d.Cookie != nil {
		cookie = d.Cookie
	}
	p, st := d.FM.CreateCommunicationPort(d.Filter, &attrs, cookie, d.connect, d.disconnect, msg, max)
	d.FM.FreeSecurityDescriptor(sd)
	if st == kernel.STATUS_SUCCESS {
		d.Server = p
	}
	return st
}

// Callbacks returns the driver's ConnectNotify, DisconnectNotify and MessageNotify, for a test
// that creates more ports for the driver itself.
func (d *Driver) Callbacks() (driverapi.ConnectNotify, driverapi.DisconnectNotify, driverapi.MessageNotify) {
	return d.connect, d.disconnect, d.message
}

func (d *Driver) connect(ctx context.Context, port driverapi.Port, cookie any, connCtx []byte) (any, kernel.NTSTATUS) {
	d.ConnectCalls.Add(1)
	c := &Conn{Process: driverapi.CurrentProcess(ctx), Context: append([]byte(nil), connCtx...), ServerCookie: cookie}
	if d.KeepContext {
		c.KeptContext = connCtx
	}
	c.Port.Store(port)
	if d.OnConnect != nil {
		if st := d.OnConnect(ctx, c, connCtx); !st.IsSuccess() {
			return nil, st
		}
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	d.Connects.Add(1)
	return c, kernel.STATUS_SUCCESS
}

func (d *Driver) disconnect(ctx context.Context, cookie any) {
	c := cookie.(*Conn)
	d.Disconnects.Add(1)
	if d.OnDisconnect != nil {
		d.OnDisconnect(ctx, c)
	}
	if !d.KeepClientPort {
		d.FM.CloseClientPort(d.Filter, &c.Port)
	}
}

func (d *Driver) message(ctx context.Context, cookie any, in, out []byte) (uint32, kernel.NTSTATUS) {
	d.Messages.Add(1)
	c := cookie.(*Conn)
	if d.OnMessage != nil {
		return d.OnMessage(ctx, c, in, out)
	}
	return uint32(copy(out, in)), kernel.STATUS_SUCCESS
}

func (d *Driver) unload(flags driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.Unloads.Add(1)
	if d.OnUnload != nil {
		return d.OnUnload(d, flags)
	}
	return d.DefaultUnload()
}

// DefaultUnload is the expected FilterUnload: close the server port, then unregister.
func (d *Driver) DefaultUnload() kernel.NTSTATUS {
	if d.Server != nil && !d.UnregisterOnly {
		d.FM.CloseCommunicationPort(d.Server)
	}
	d.FM.UnregisterFilter(d.Filter)
	return kernel.STATUS_SUCCESS
}

// Conns returns the accepted connections, in order.
func (d *Driver) Conns() []*Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Conn(nil), d.conns...)
}

// Conn returns the i-th accepted connection.
func (d *Driver) Conn(i int) *Conn { return d.Conns()[i] }

// Send sends msg on connection c with FltSendMessage. reply nil is a one-way message; the
// reply capacity is len(reply). It returns the status and the reply length.
func (d *Driver) Send(ctx context.Context, c *Conn, msg, reply []byte, timeout *int64) (kernel.NTSTATUS, uint32) {
	var n uint32
	var np *uint32
	if reply != nil {
		n = uint32(len(reply))
		np = &n
	}
	st := d.FM.SendMessage(ctx, d.Filter, &c.Port, msg, reply, np, timeout)
	return st, n
}
