package driverapi

import (
	"github.com/fltemu/fltemu/kernel"
)

// Driver is a kernel driver: the emulator calls DriverEntry when the driver is loaded.
type Driver interface {
	// DriverEntry emulates a minifilter's DriverEntry. It typically registers the filter,
	// creates its communication ports and starts filtering. If it fails after registering,
	// it must unregister the filter itself (R-REG-2); its unload callback is never called.
	DriverEntry(driver *DriverObject, fm FilterManager, registryPath string) kernel.NTSTATUS
}

// DriverFunc adapts a function to the Driver interface.
type DriverFunc func(driver *DriverObject, fm FilterManager, registryPath string) kernel.NTSTATUS

// DriverEntry calls f.
func (f DriverFunc) DriverEntry(driver *DriverObject, fm FilterManager, registryPath string) kernel.NTSTATUS {
	return f(driver, fm, registryPath)
}

// DriverObject is the DRIVER_OBJECT the emulator hands to DriverEntry.
type DriverObject struct {
	// Name is the driver's service name, e.g. "scanner".
	Name string
}

// Registration versions (FLT_REGISTRATION.Version).
const (
	FLT_REGISTRATION_VERSION_0200 = 0x0200
	FLT_REGISTRATION_VERSION_0202 = 0x0202
	FLT_REGISTRATION_VERSION_0203 = 0x0203
	FLT_REGISTRATION_VERSION      = FLT_REGISTRATION_VERSION_0203
)

// Registration flags (FLT_REGISTRATION.Flags).
const (
	FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP = 0x1
	FLTFL_REGISTRATION_SUPPORT_NPFS_MSFS           = 0x2
	FLTFL_REGISTRATION_SUPPORT_DAX_VOLUME          = 0x4
)

// FilterUnloadFlags are the flags of a FilterUnloadCallback.
type FilterUnloadFlags uint32

// FLTFL_FILTER_UNLOAD_MANDATORY says the unload cannot be refused (a service stop).
const FLTFL_FILTER_UNLOAD_MANDATORY FilterUnloadFlags = 0x1

// FilterUnloadCallback is PFLT_FILTER_UNLOAD_CALLBACK. For a non-mandatory unload it may
// refuse with STATUS_FLT_DO_NOT_DETACH (and must then not have unregistered); otherwise it
// closes its server ports and calls UnregisterFilter (R-UNLOAD-3, R-UNLOAD-4).
type FilterUnloadCallback func(flags FilterUnloadFlags) kernel.NTSTATUS

// Registration is FLT_REGISTRATION: the version, the flags and the callbacks of a filter.
type Registration struct {
	Version      uint16
	Flags        uint32
	FilterUnload FilterUnloadCallback

	// File I/O (see io.go). ContextRegistration and OperationRegistration may end with an
	// FLT_CONTEXT_END / IRP_MJ_OPERATION_END entry, as in C, or simply end.
	ContextRegistration      []ContextRegistration
	OperationRegistration    []OperationRegistration
	InstanceSetup            InstanceSetupCallback
	InstanceQueryTeardown    InstanceQueryTeardownCallback
	InstanceTeardownStart    InstanceTeardownCallback
	InstanceTeardownComplete InstanceTeardownCallback

	// The default instance, which on Windows the INF writes to the registry
	// (Instances\DefaultInstance, Altitude, Flags); the emulator takes it from here so a driver
	// package carries its INF values. Altitude is a decimal string such as "385100" (a
	// fraction is allowed: "370030.5"); "" means the INF defines no instance: the filter
	// attaches only where it is given an altitude explicitly (FilterAttachAtAltitude).
	// DefaultInstanceName "" means "<driver name> Instance". InstanceFlags holds
	// InstanceFlagNoAutomaticAttach and InstanceFlagNoManualAttach.
	Altitude            string
	DefaultInstanceName string
	InstanceFlags       uint32
}

// Filter is an opaque filter object (PFLT_FILTER), returned by RegisterFilter.
type Filter interface {
	// FilterName returns the name of the driver that registered the filter.
	FilterName() string
}

// ServerPort is an opaque communication server port (the PFLT_PORT that
// CreateCommunicationPort returns).
type ServerPort interface {
	// PortName returns the name the port was created with.
	PortName() string
}

// Port is an opaque client port: the kernel endpoint of one connection, handed to
// ConnectNotify. A driver keeps it in a [ClientPort] variable.
type Port interface {
	// ConnectionID identifies the connection in traces and verifier messages.
	ConnectionID() uint64
}
