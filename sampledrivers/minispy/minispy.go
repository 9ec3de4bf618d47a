// Package minispy is a Go port of Microsoft's minispy minifilter sample: a file-system spy
// whose user-mode program pulls a log through FilterSendMessage. It shows the "user mode
// pulls" protocol style: the kernel never sends a message; it keeps records in a queue and
// answers commands in its MessageNotify callback.
//
// The driver registers pre- and post-operation callbacks for every IRP major function. The
// pre-operation allocates a record and fills in the request (the file name, the major and
// minor codes, the flags, the requestor's process and thread, the arguments, the time); the
// post-operation fills in the result (status, information, time) and queues the record. At most
// MaxRecords records (500 by default) may be outstanding, queued or in flight; the operation
// after that gets one overflow record, flagged RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE, and
// nothing more is logged until user mode drains the queue. Sequence numbers count the records
// produced, in the order they are queued.
//
// The filter does not attach by itself (INF flag 0x1, InstanceFlagNoAutomaticAttach): nothing
// is logged until user mode attaches it to a volume with FilterAttach, and FilterDetach stops
// it (InstanceQueryTeardown allows every detach).
//
// Port `\MiniSpyPort` (default security descriptor: SYSTEM and administrators), one connection.
// Commands (an 8-byte COMMAND_MESSAGE, see package minispyproto):
//
//   - GetMiniSpyLog: copies as many whole records as fit into the output buffer, back to back.
//     STATUS_SUCCESS with the byte count if any were copied; STATUS_BUFFER_TOO_SMALL if records
//     are queued but the first does not fit (it stays queued); STATUS_NO_MORE_ENTRIES if the
//     queue is empty. No output buffer: STATUS_INVALID_PARAMETER; one that is not
//     pointer-aligned (8 bytes, see driverapi.IsAligned): STATUS_DATATYPE_MISALIGNMENT.
//   - GetMiniSpyVersion: writes MINISPYVER {2, 0}. Output shorter than 4 bytes:
//     STATUS_INVALID_PARAMETER; not 4-aligned: STATUS_DATATYPE_MISALIGNMENT.
//   - Input shorter than 4 bytes, or an unknown command: STATUS_INVALID_PARAMETER.
//
// It imports only driverapi, kernel and its protocol package, like every driver.
package minispy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
)

// Values of the sample's INF and headers.
const (
	// Altitude is the altitude of the INF's default instance.
	Altitude = "385100"
	// DefaultInstanceName is the INF's default instance.
	DefaultInstanceName = "Minispy - Top Instance"
	// DefaultMaxRecords is DEFAULT_MAX_RECORDS_TO_ALLOCATE, the MaxRecords registry value's
	// default.
	DefaultMaxRecords = 500
	// systemProcessID is PsGetCurrentProcessId on a system thread.
	systemProcessID = 4
)

// Driver is the minispy filter. The zero value is ready to load (under
// [minispyproto.FilterName]).
type Driver struct {
	// PortName overrides the port name (default minispyproto.PortName).
	PortName string
	// MaxRecords is the MaxRecords registry value: how many records may be outstanding
	// before the overflow record (0: DefaultMaxRecords).
	MaxRecords int
	// NameQueryMethod is the NameQueryMethod registry value, the FLT_FILE_NAME_QUERY_* method
	// of the name queries (0: FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP).
	NameQueryMethod uint32

	fm         driverapi.FilterManager
	filter     driverapi.Filter
	server     driverapi.ServerPort
	client     driverapi.ClientPort
	maxRecords int
	nameQuery  uint32

	mu          sync.Mutex
	allocated   int      // records allocated from the budget: in flight or queued
	staticInUse bool     // the overflow record is in flight or queued
	sequence    uint32   // the last sequence number given
	queue       []queued // records waiting for GetMiniSpyLog, oldest first
	devices     map[string]uint64
}

// queued is a finished record, encoded.
type queued struct {
	bytes  []byte
	static bool
}

// record is a record between the pre- and the post-operation: the completion context.
type record struct {
	rec    minispyproto.LogRecord
	static bool
}

// DriverEntry reads the configuration, registers the filter, creates the port and starts
// filtering; on a failure it undoes what it did.
func (d *Driver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	d.maxRecords = d.MaxRecords
	if d.maxRecords <= 0 {
		d.maxRecords = DefaultMaxRecords
	}
	d.nameQuery = d.NameQueryMethod
	if d.nameQuery == 0 {
		d.nameQuery = driverapi.FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP
	}
	d.devices = map[string]uint64{}

	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:               driverapi.FLT_REGISTRATION_VERSION,
		Flags:                 driverapi.FLTFL_REGISTRATION_SUPPORT_NPFS_MSFS,
		FilterUnload:          d.unload,
		InstanceQueryTeardown: d.queryTeardown,
		OperationRegistration: d.operations(),
		Altitude:              Altitude,
		DefaultInstanceName:   DefaultInstanceName,
		InstanceFlags:         driverapi.InstanceFlagNoAutomaticAttach,
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f

	sd, st := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	name := d.PortName
	if name == "" {
		name = minispyproto.PortName
	}
	attrs := driverapi.InitializeObjectAttributes(name, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, d.message, 1)
	fm.FreeSecurityDescriptor(sd)
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

// operations registers the spy for every IRP major function the emulator knows. IRP_MJ_SHUTDOWN
// has no post-operation (the filter manager does not support one); the pre-operation does the
// post-operation's work itself. The FsFilter callbacks of the C sample (negative major codes:
// IRP_MJ_ACQUIRE_FOR_SECTION_SYNCHRONIZATION, ...) are not emulated.
func (d *Driver) operations() []driverapi.OperationRegistration {
	ops := make([]driverapi.OperationRegistration, 0, int(driverapi.IRP_MJ_MAXIMUM_FUNCTION)+1)
	for m := driverapi.IRP_MJ_CREATE; m <= driverapi.IRP_MJ_MAXIMUM_FUNCTION; m++ {
		switch m {
		case driverapi.IRP_MJ_POWER, driverapi.IRP_MJ_SYSTEM_CONTROL, driverapi.IRP_MJ_DEVICE_CHANGE:
			continue // not in the sample's list
		}
		op := driverapi.OperationRegistration{MajorFunction: m, PreOperation: d.preOperation, PostOperation: d.postOperation}
		if m == driverapi.IRP_MJ_SHUTDOWN {
			op.PostOperation = nil
		}
		ops = append(ops, op)
	}
	return ops
}

func (d *Driver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.fm.CloseCommunicationPort(d.server)
	d.fm.UnregisterFilter(d.filter)
	d.mu.Lock()
	for _, q := range d.queue {
		d.releaseLocked(q.static)
	}
	d.queue = nil
	d.mu.Unlock()
	return kernel.STATUS_SUCCESS
}

// queryTeardown allows every manual detach (FilterDetach).
func (d *Driver) queryTeardown(*driverapi.RelatedObjects, driverapi.InstanceQueryTeardownFlags) kernel.NTSTATUS {
	return kernel.STATUS_SUCCESS
}

func (d *Driver) connect(_ context.Context, port driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
	d.client.Store(port)
	return nil, kernel.STATUS_SUCCESS
}

func (d *Driver) disconnect(context.Context, any) {
	d.fm.CloseClientPort(d.filter, &d.client)
}

// ---- commands ----

// message answers FilterSendMessage.
func (d *Driver) message(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
	cmd, ok := minispyproto.CommandOf(in)
	if !ok {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	switch cmd {
	case minispyproto.GetMiniSpyLog:
		if len(out) == 0 {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		// The sample checks the buffer is pointer-aligned (its records hold 64-bit fields).
		if !driverapi.IsAligned(out, 8) {
			return 0, kernel.STATUS_DATATYPE_MISALIGNMENT
		}
		return d.getLog(out)
	case minispyproto.GetMiniSpyVersion:
		if len(out) < minispyproto.VersionSize {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		if !driverapi.IsAligned(out, 4) {
			return 0, kernel.STATUS_DATATYPE_MISALIGNMENT
		}
		minispyproto.Version{Major: minispyproto.MajorVersion, Minor: minispyproto.MinorVersion}.Put(out)
		return minispyproto.VersionSize, kernel.STATUS_SUCCESS
	}
	return 0, kernel.STATUS_INVALID_PARAMETER
}

// getLog moves as many whole records as fit from the queue into out.
func (d *Driver) getLog(out []byte) (uint32, kernel.NTSTATUS) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 {
		return 0, kernel.STATUS_NO_MORE_ENTRIES
	}
	n := 0
	for len(d.queue) > 0 {
		q := d.queue[0]
		if len(q.bytes) > len(out)-n {
			break // it stays queued
		}
		n += copy(out[n:], q.bytes)
		d.queue[0] = queued{}
		d.queue = d.queue[1:]
		d.releaseLocked(q.static)
	}
	if n == 0 {
		return 0, kernel.STATUS_BUFFER_TOO_SMALL
	}
	return uint32(n), kernel.STATUS_SUCCESS
}

// ---- records ----

// newRecord takes a record from the budget, or the overflow record when the budget is spent,
// or nothing when that one is in use too. The test and the count change under one lock, so
// the budget is never exceeded (the C sample tests and increments separately and may go
// over under concurrency).
func (d *Driver) newRecord() *record {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.allocated < d.maxRecords:
		d.allocated++
		return &record{rec: minispyproto.LogRecord{RecordType: minispyproto.RECORD_TYPE_NORMAL}}
	case !d.staticInUse:
		d.staticInUse = true
		return &record{static: true, rec: minispyproto.LogRecord{
			RecordType: minispyproto.RECORD_TYPE_FLAG_STATIC | minispyproto.RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE}}
	}
	return nil
}

// releaseLocked gives a record back to the budget. d.mu is held.
func (d *Driver) releaseLocked(static bool) {
	if static {
		d.staticInUse = false
	} else {
		d.allocated--
	}
}

// log queues a finished record and gives it the next sequence number.
func (d *Driver) log(r *record) {
	d.mu.Lock()
	d.sequence++
	r.rec.SequenceNumber = d.sequence
	d.queue = append(d.queue, queued{bytes: r.rec.Encode(), static: r.static})
	d.mu.Unlock()
}

// deviceID stands for the volume's device object: a number per volume, in the order the
// driver first saw them (1, 2, ...).
func (d *Driver) deviceID(v driverapi.FltVolume) uint64 {
	if v == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	name := v.VolumeName()
	id, ok := d.devices[name]
	if !ok {
		id = uint64(len(d.devices) + 1)
		d.devices[name] = id
	}
	return id
}

// recordName is the name the record shows: the normalized name; failing that the opened name
// after the normalized query's status; failing that both statuses; "<NO NAME>" without a
// file object.
func (d *Driver) recordName(data *driverapi.CallbackData, objs *driverapi.RelatedObjects) string {
	if objs.FileObject == nil {
		return "<NO NAME>"
	}
	info, st := d.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED|d.nameQuery)
	if st.IsSuccess() {
		name := info.Name
		d.fm.ReleaseFileNameInformation(info)
		return name
	}
	opened, ost := d.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_OPENED|driverapi.FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP)
	if ost.IsSuccess() {
		name := fmt.Sprintf("<%08x> %s", uint32(st), opened.Name)
		d.fm.ReleaseFileNameInformation(opened)
		return name
	}
	return fmt.Sprintf("<NO NAME: NormalizeStatus=%08x OpenedStatus=%08x>", uint32(st), uint32(ost))
}

// now is KeQuerySystemTime.
func now() int64 { return kernel.SystemTime(time.Now()) }

func (d *Driver) preOperation(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, completionContext *any) driverapi.PreopCallbackStatus {
	r := d.newRecord()
	if r == nil {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	r.rec.Name = d.recordName(data, objs)

	rd := &r.rec.Data
	iopb := data.Iopb
	rd.CallbackMajorId = uint8(iopb.MajorFunction)
	rd.CallbackMinorId = iopb.MinorFunction
	rd.IrpFlags = iopb.IrpFlags
	rd.Flags = data.Flags
	rd.DeviceObject = d.deviceID(objs.Volume)
	if objs.FileObject != nil {
		rd.FileObject = objs.FileObject.ID()
	}
	rd.ProcessId = systemProcessID
	if t := driverapi.CurrentThread(data.Context()); t != nil {
		if t.Process != nil {
			rd.ProcessId = uint64(t.Process.ID())
		}
		rd.ThreadId = uint64(t.ID)
	}
	args := iopb.Arguments()
	rd.Arg1, rd.Arg2, rd.Arg3, rd.Arg4, rd.Arg5 = args[0], args[1], args[2], args[3], args[4]
	rd.Arg6 = int64(args[5])
	rd.OriginatingTime = now()

	if iopb.MajorFunction == driverapi.IRP_MJ_SHUTDOWN {
		d.postOperation(data, objs, r, 0)
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	*completionContext = r
	return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
}

func (d *Driver) postOperation(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, completionContext any, flags driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
	r := completionContext.(*record)
	if flags&driverapi.FLTFL_POST_OPERATION_DRAINING != 0 {
		// The instance is going away: the record is dropped and takes no sequence number.
		d.mu.Lock()
		d.releaseLocked(r.static)
		d.mu.Unlock()
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	r.rec.Data.Status = data.IoStatus.Status
	r.rec.Data.Information = data.IoStatus.Information
	r.rec.Data.CompletionTime = now()
	d.log(r)
	return driverapi.FLT_POSTOP_FINISHED_PROCESSING
}

// Outstanding reports how many records are queued and how many are allocated from the budget
// (queued or in flight, the overflow record not counted), for tests.
func (d *Driver) Outstanding() (queued, allocated int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue), d.allocated
}
