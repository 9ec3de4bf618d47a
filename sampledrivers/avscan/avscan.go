// Package avscan is the Go port of Microsoft's avscan minifilter sample
// (filesys/miniFilter/avscan), without its transaction (TxF) and CSV parts. It shows the
// protocol style "several ports, a timed push, an asynchronous verdict, an abort channel and
// an unload handshake":
//
//   - Three ports, `\MicrosoftAvSampleFilterScanPort`, `…AbortPort` and `…QueryPort`, each with
//     the default descriptor (SYSTEM and administrators), MaxConnections 1 and one shared set
//     of callbacks. The connection context (avscanproto.ConnectionContext) says the role; a
//     missing or unknown one is refused with STATUS_INVALID_PARAMETER_3.
//   - A scan: the filter sends StartScanning on the scan port with a timeout (30 s for a
//     local file, 60 s for a network one; Config) and a 4-byte reply that is only the
//     acknowledging worker's thread id. A timeout or an error abandons the scan: the open is
//     allowed. Then the filter waits, with the same timeout, for the verdict, which the
//     worker delivers later through FilterSendMessage on its scan connection:
//     CreateSectionForDataScan (the filter answers with a section handle, made with
//     FltCreateSectionForDataScan in the worker's process, through which the worker reads the
//     file) and CloseSectionForDataScan with the result. An unknown ScanId is
//     STATUS_NOT_FOUND.
//   - When that wait times out, the filter sends AbortScanning (one-way, 1 s timeout) on the
//     abort port, waits at most 1 s more, and then finishes the scan itself: the section is
//     closed and a verdict that comes later gets STATUS_NOT_FOUND.
//   - Verdicts: an infected file's open is cancelled with STATUS_VIRUS_INFECTED (the user sees
//     ERROR_VIRUS_INFECTED, 225). The state of each file is kept in a stream context while
//     the file is open and in a per-volume cache, keyed by the file id
//     (FileInternalInformation), in the instance context after it closes: a clean file is not
//     scanned again until it is modified (a write, a new end of file or valid data length,
//     FSCTL_SET_ZERO_DATA, FSCTL_OFFLOAD_WRITE, FSCTL_WRITE_RAW_ENCRYPTED); a modified file is
//     scanned again at cleanup, and that verdict decides the next open. Empty files are clean
//     without a scan; directories and alternate data streams are not scanned; network volumes
//     are not attached. Only NTFS, ReFS and CSVFS volumes keep the cache (other file systems'
//     file ids are not stable).
//   - Unload: the filter marks itself unloading (new scans fail), sends FilterUnloading on the
//     abort port and waits for the reply with no timeout (with no abort client the send fails
//     at once), then closes the three ports and unregisters; instance teardown aborts the
//     scans still in flight.
//
// Bugs of the C sample fixed here (each has a test that names it):
//   - ConnectNotify trusted the type in the connection context, not the port it arrived on, so
//     a client could take another port's role (a scan-type connection on the abort port
//     received the aborts). The type must match the port.
//   - ConnectNotify read the 4-byte context without checking its size. A context shorter than
//     4 bytes is refused with STATUS_INVALID_PARAMETER_3.
//   - MessageNotify accepted every command from every connection: a query client could forge
//     verdicts. CreateSectionForDataScan and CloseSectionForDataScan are accepted on the scan
//     connection only, IsFileModified on the query connection only (else
//     STATUS_ACCESS_DENIED), and a command shorter than COMMAND_MESSAGE is
//     STATUS_INVALID_PARAMETER (the C read ScanId and the union past a 4-byte buffer).
//   - A scan abandoned after CreateSectionForDataScan (the verdict never came) left the file
//     in the "scanning" state, which counts as neither "needs a scan" nor "infected": the file
//     was never scanned again until modified. An abandoned scan leaves the file "modified".
//   - The cache was only written at cleanup when the file was clean or infected, so a file
//     modified while no verdict could be had kept its old "clean" entry and was trusted at
//     its next open. A file that is not known clean or infected at cleanup is dropped from
//     the cache.
//   - Finishing a scan released the waiting I/O thread before closing the section, so the
//     next scan of the same file could find the section still open
//     (STATUS_FLT_CONTEXT_ALREADY_DEFINED) and go unscanned. The section is closed first.
//   - Instance teardown sent the aborts (1 s timeout each) while holding the scan list's
//     lock, which every MessageNotify takes: a worker's verdict waited behind them. The list
//     is copied and the lock released first.
//
// The emulator gives avscan what it needs: FltCreateSectionForDataScan puts the section handle
// into the handle table of the process the driver names (here the worker's, remembered at
// connect), and harness.Process.MapViewOfFile reads it. The user-mode scanner is package
// [github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser]; the layouts are in
// [github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto].
package avscan

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
)

// Altitude is the filter's altitude, in the FSFilter Anti-Virus range (320000–329999).
const Altitude = "328000"

// Default timeouts (the sample's LocalScanTimeout and NetworkScanTimeout registry values).
const (
	DefaultLocalScanTimeout   = 30 * time.Second
	DefaultNetworkScanTimeout = 60 * time.Second
	// AbortTimeout bounds the AbortScanning send and the wait for the scan to end after it.
	AbortTimeout = time.Second
)

// Codes the filter recognizes that package kernel does not name.
const (
	// FSCTL_TXFS_SAVEPOINT_INFORMATION is refused with STATUS_NOT_SUPPORTED (the sample does
	// not support save points).
	FSCTL_TXFS_SAVEPOINT_INFORMATION uint32 = 0x00090228
)

// Config is the driver's configuration (the sample reads the timeouts from the registry).
type Config struct {
	// LocalScanTimeout and NetworkScanTimeout bound each of the two waits of a scan; zero
	// means the defaults (30 s, 60 s).
	LocalScanTimeout   time.Duration
	NetworkScanTimeout time.Duration
	// UnloadReplyTimeout bounds the wait for the abort listener's reply to FilterUnloading.
	// Zero waits forever, as the sample does: a listener that never replies keeps the unload
	// waiting until its connection ends (see the package README).
	UnloadReplyTimeout time.Duration
	// DbgPrint receives the driver's debug output; nil discards it.
	DbgPrint func(format string, args ...any)
}

// Stats counts what the filter did since it loaded.
type Stats struct {
	ScansRequested  int64           // StartScanning messages sent (or attempted)
	ScansAcked      int64           // StartScanning messages a worker acknowledged
	Verdicts        int64           // CloseSectionForDataScan commands that finished a scan
	ScanTimeouts    int64           // scans whose wait for the verdict ended without it (timeout, or the requestor ended)
	AbortsSent      int64           // AbortScanning messages delivered
	ScansAbandoned  int64           // scans the filter finished itself (no verdict)
	EmptyFiles      int64           // empty files marked clean without a scan
	OpensDenied     int64           // opens refused with STATUS_VIRUS_INFECTED
	UnloadReply     kernel.NTSTATUS // the status of the FilterUnloading send (STATUS_SUCCESS: replied)
	UnloadReplySent bool            // FilterUnloading was attempted
}

// fileState is AV_FILE_INFECTED_STATE.
type fileState int32

const (
	stateUnknown fileState = iota
	stateInfected
	stateNotInfected
	stateModified
	stateScanning
)

// Context sizes (the sizeof of the sample's context structures; any fixed value will do).
const (
	streamContextSize   = 64
	sectionContextSize  = 48
	instanceContextSize = 128
)

// Driver is the avscan filter. Set Config before loading it; the zero value uses the
// sample's defaults.
type Driver struct {
	// Config is read by DriverEntry.
	Config Config

	fm      driverapi.FilterManager
	filter  driverapi.Filter
	servers [4]driverapi.ServerPort // by avscanproto.ConnectionType
	clients [4]driverapi.ClientPort // by avscanproto.ConnectionType

	mu        sync.Mutex
	scans     map[int64]*scanContext // the scans in flight (Globals.ScanCtxListHead)
	lastID    int64
	unloading bool
	volumes   map[string]driverapi.Instance // device name → instance, for IsFileModified

	testHookReleased func() // runs after a scan's I/O thread is released (tests)

	stats struct {
		requested, acked, verdicts, timeouts, aborts, abandoned, empty, denied atomic.Int64
		unloadReply                                                            atomic.Int64
	}
}

// connCookie is the connection cookie: the connection's role. (The process a message comes
// from is the current process of MessageNotify's thread, not remembered here.)
type connCookie struct {
	typ avscanproto.ConnectionType
}

// DriverEntry registers the filter, creates the three ports and starts filtering; on a failure
// it undoes what it did.
func (d *Driver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	d.scans = make(map[int64]*scanContext)
	d.volumes = make(map[string]driverapi.Instance)
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:      driverapi.FLT_REGISTRATION_VERSION,
		FilterUnload: d.unload,
		ContextRegistration: []driverapi.ContextRegistration{
			{ContextType: driverapi.FLT_STREAM_CONTEXT, Size: streamContextSize},
			{ContextType: driverapi.FLT_SECTION_CONTEXT, Size: sectionContextSize},
			{ContextType: driverapi.FLT_INSTANCE_CONTEXT, Size: instanceContextSize},
			{ContextType: driverapi.FLT_CONTEXT_END},
		},
		OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: d.preCreate, PostOperation: d.postCreate},
			{MajorFunction: driverapi.IRP_MJ_CLEANUP, PreOperation: d.preCleanup},
			{MajorFunction: driverapi.IRP_MJ_WRITE, PreOperation: d.preModify},
			{MajorFunction: driverapi.IRP_MJ_SET_INFORMATION, PreOperation: d.preModify},
			{MajorFunction: driverapi.IRP_MJ_FILE_SYSTEM_CONTROL, PreOperation: d.preFsControl},
			{MajorFunction: driverapi.IRP_MJ_OPERATION_END},
		},
		InstanceSetup: d.instanceSetup,
		InstanceQueryTeardown: func(*driverapi.RelatedObjects, driverapi.InstanceQueryTeardownFlags) kernel.NTSTATUS {
			return kernel.STATUS_SUCCESS
		},
		InstanceTeardownStart: d.instanceTeardownStart,
		InstanceTeardownComplete: func(objs *driverapi.RelatedObjects, _ driverapi.InstanceTeardownFlags) {
			d.mu.Lock()
			delete(d.volumes, objs.Volume.VolumeName())
			d.mu.Unlock()
		},
		Altitude: Altitude,
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	sd, st := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	if st == kernel.STATUS_SUCCESS {
		for _, t := range []avscanproto.ConnectionType{avscanproto.ForScan, avscanproto.ForAbort, avscanproto.ForQuery} {
			if st = d.preparePort(sd, t); st != kernel.STATUS_SUCCESS {
				break
			}
		}
		fm.FreeSecurityDescriptor(sd) // each port captured its own copy
	}
	if st == kernel.STATUS_SUCCESS {
		if st = fm.StartFiltering(f); st == kernel.STATUS_SUCCESS {
			return kernel.STATUS_SUCCESS
		}
	}
	d.closePorts()
	fm.UnregisterFilter(f)
	return st
}

// preparePort creates the server port of connection type t (AvPrepareServerPort). The port's
// cookie is its type, which ConnectNotify checks.
func (d *Driver) preparePort(sd *kernel.SecurityDescriptor, t avscanproto.ConnectionType) kernel.NTSTATUS {
	attrs := driverapi.InitializeObjectAttributes(t.PortName(), driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	p, st := d.fm.CreateCommunicationPort(d.filter, &attrs, t, d.connect, d.disconnect, d.message, 1)
	if st == kernel.STATUS_SUCCESS {
		d.servers[t] = p
	}
	return st
}

func (d *Driver) closePorts() {
	for i := range d.servers {
		if d.servers[i] != nil {
			d.fm.CloseCommunicationPort(d.servers[i])
			d.servers[i] = nil
		}
	}
}

// unload is the FilterUnload callback (AvUnload): no new scan starts, the user scanner is told
// and its reply awaited, then the ports close and the filter unregisters (which tears the
// instances down and aborts the scans still in flight).
func (d *Driver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.mu.Lock()
	d.unloading = true
	d.mu.Unlock()
	d.sendUnloadingToUser()
	d.closePorts()
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

// sendUnloadingToUser sends FilterUnloading on the abort port and waits for the listener's
// 4-byte reply (its thread id), with no timeout unless Config.UnloadReplyTimeout says one.
func (d *Driver) sendUnloadingToUser() {
	msg := avscanproto.Notification{Message: avscanproto.FilterUnloading}.Encode()
	reply := make([]byte, avscanproto.ReplySize)
	n := uint32(len(reply))
	var timeout *int64
	if d.Config.UnloadReplyTimeout > 0 {
		timeout = driverapi.RelativeTimeout(d.Config.UnloadReplyTimeout)
	}
	st := d.fm.SendMessage(context.Background(), d.filter, &d.clients[avscanproto.ForAbort], msg, reply, &n, timeout)
	d.stats.unloadReply.Store(int64(st) | 1<<32)
	if st != kernel.STATUS_SUCCESS {
		d.dbgPrint("AvSendUnloadingToUser: FltSendMessage: %v", st)
	}
}

func (d *Driver) dbgPrint(format string, args ...any) {
	if p := d.Config.DbgPrint; p != nil {
		p("[AV] "+format, args...)
	}
}

func (d *Driver) scanTimeout(deviceType fsys.DeviceType) time.Duration {
	if deviceType == fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM {
		if d.Config.NetworkScanTimeout > 0 {
			return d.Config.NetworkScanTimeout
		}
		return DefaultNetworkScanTimeout
	}
	if d.Config.LocalScanTimeout > 0 {
		return d.Config.LocalScanTimeout
	}
	return DefaultLocalScanTimeout
}

// Stats returns the filter's counters.
func (d *Driver) Stats() Stats {
	u := d.stats.unloadReply.Load()
	return Stats{
		ScansRequested: d.stats.requested.Load(), ScansAcked: d.stats.acked.Load(), Verdicts: d.stats.verdicts.Load(),
		ScanTimeouts: d.stats.timeouts.Load(), AbortsSent: d.stats.aborts.Load(), ScansAbandoned: d.stats.abandoned.Load(),
		EmptyFiles: d.stats.empty.Load(), OpensDenied: d.stats.denied.Load(),
		UnloadReply: kernel.NTSTATUS(uint32(u)), UnloadReplySent: u>>32 != 0,
	}
}

// ScansInFlight returns the ids of the scans the filter is waiting for.
func (d *Driver) ScansInFlight() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]int64, 0, len(d.scans))
	for id := range d.scans {
		ids = append(ids, id)
	}
	return ids
}

// Connected reports whether a client of connection type t is connected.
func (d *Driver) Connected(t avscanproto.ConnectionType) bool {
	if t < avscanproto.ForScan || t > avscanproto.ForQuery {
		return false
	}
	return !d.clients[t].IsNil()
}
