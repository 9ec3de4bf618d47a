// Package minimal is the smallest useful minifilter with a communication port: copy it to
// start a driver. It creates one server port in DriverEntry, accepts one connection at a
// time, answers user requests in MessageNotify (it upper-cases ASCII), can push a message to
// the connected client and wait for a reply, and closes everything in its unload callback in
// the order Windows expects: server port, then FltUnregisterFilter.
//
// It imports only driverapi and kernel, like every driver.
package minimal

import (
	"context"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// PortName is the default name of the driver's server port.
const PortName = `\MinimalPort`

// Driver is the minimal filter. The zero value is ready to load.
type Driver struct {
	// PortName overrides the port name.
	PortName string
	// SDDL, if set, is the port's security descriptor; by default only SYSTEM and
	// Administrators may connect (FltBuildDefaultSecurityDescriptor).
	SDDL string

	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	client driverapi.ClientPort // the one connection's client port
}

// DriverEntry registers the filter, creates the port and starts filtering. On any failure it
// undoes what it did, as a driver must (R-REG-2).
func (d *Driver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:      driverapi.FLT_REGISTRATION_VERSION,
		FilterUnload: d.unload,
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f

	var sd *kernel.SecurityDescriptor
	if d.SDDL != "" {
		parsed, err := kernel.ParseSDDL(d.SDDL)
		if err != nil {
			fm.UnregisterFilter(f)
			return kernel.STATUS_INVALID_PARAMETER
		}
		sd = parsed
	} else if sd, st = fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS); st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	name := d.PortName
	if name == "" {
		name = PortName
	}
	attrs := driverapi.InitializeObjectAttributes(name, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, d.message, 1)
	fm.FreeSecurityDescriptor(sd) // the port keeps its own copy
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	if st = fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		fm.CloseCommunicationPort(d.server)
		fm.UnregisterFilter(f)
		return st
	}
	return kernel.STATUS_SUCCESS
}

func (d *Driver) connect(_ context.Context, port driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
	d.client.Store(port)
	return nil, kernel.STATUS_SUCCESS
}

func (d *Driver) disconnect(context.Context, any) {
	d.fm.CloseClientPort(d.filter, &d.client)
}

// message answers FilterSendMessage: the output receives the input upper-cased.
func (d *Driver) message(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
	if len(out) < len(in) {
		return 0, kernel.STATUS_BUFFER_TOO_SMALL
	}
	for i, b := range in {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		out[i] = b
	}
	return uint32(len(in)), kernel.STATUS_SUCCESS
}

// ServerPortClose closes the server port early: the connected client keeps working, new
// connects fail with HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND).
func (d *Driver) ServerPortClose() {
	if d.server != nil {
		d.fm.CloseCommunicationPort(d.server)
		d.server = nil
	}
}

func (d *Driver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.ServerPortClose()
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

// Connected reports whether a client is connected.
func (d *Driver) Connected() bool { return !d.client.IsNil() }

// Notify sends payload to the connected client and waits up to timeout (nil: forever) for a
// reply of at most replyCap bytes. It returns the reply and the status: STATUS_PORT_DISCONNECTED
// when no client is connected, STATUS_TIMEOUT (a success code) when nobody answered in time.
func (d *Driver) Notify(ctx context.Context, payload []byte, replyCap int, timeout *int64) ([]byte, kernel.NTSTATUS) {
	reply := make([]byte, replyCap)
	n := uint32(replyCap)
	st := d.fm.SendMessage(ctx, d.filter, &d.client, payload, reply, &n, timeout)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	return reply[:n], st
}
