// Package scanner is the Go port of Microsoft's scanner minifilter sample
// (filesys/miniFilter/scanner). It shows the protocol style "the kernel pushes a request and
// waits for a verdict": after a file with a listed extension is opened, the filter reads the
// head of the file and sends it to the connected user-mode service through the
// communication port `\ScannerPort`, with no timeout; the service answers with a one-byte
// verdict, and a file that contains the word `foul` is not opened (STATUS_ACCESS_DENIED).
//
// What it does, callback by callback:
//   - ConnectNotify remembers the connecting process as the trusted scanner process and keeps
//     the client port; DisconnectNotify closes the client port (FltCloseClientPort) and
//     forgets the process. The port has the default descriptor (SYSTEM and administrators
//     only), MaxConnections 1 and no MessageNotify, so FilterSendMessage to it fails
//     (HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED)).
//   - PreCreate: the scanner process's own opens get no post-create (they are never scanned:
//     the service may open foul files).
//   - PostCreate: failed opens, directories and files whose extension is not listed
//     (case-insensitively; Config.Extensions) are left alone. Otherwise the first
//     max(1024, sector size) bytes are read non-cached at offset 0 and at most 1024 of them
//     are sent (scannerproto.Notification). Only a reply with exactly STATUS_SUCCESS and a
//     SafeToOpen byte is a verdict; a foul file's open is cancelled (FltCancelFileOpen) with
//     STATUS_ACCESS_DENIED. A safe open with write access gets a stream-handle context
//     "rescan required".
//   - PreWrite on such a handle: the first ≤1024 bytes of the write buffer are sent; a foul
//     write is completed with STATUS_ACCESS_DENIED unless it is paging I/O (a mapped write
//     passes: the sample only blocks ordinary writes).
//   - PreCleanup on such a handle: the file is scanned again; a foul result is only logged.
//   - PreFileSystemControl: FSCTL_OFFLOAD_WRITE on such a handle is denied (the filter cannot
//     see offloaded data).
//   - With no scanner connected everything is allowed.
//   - Unload: close the server port, unregister the filter, then free the configuration.
//
// Bugs of the C sample fixed here (each has a test that names it):
//   - BytesToScan was the number of bytes read, up to the sector size (4096 on a 4K-sector
//     volume), although only 1024 were copied: the service then scanned past Contents. It is
//     clamped to 1024.
//   - The unload callback freed the extension list before closing the port and unregistering,
//     while callbacks could still read it. It is freed last, when no callback can run.
//   - The reply was received into the notification buffer, so a reply without a payload left
//     the low byte of BytesToScan as the verdict (a 1024-byte file read as "foul"). A reply
//     without a SafeToOpen byte is no verdict here: the file is allowed, as for any failed scan.
//
// The filter's altitude is the INF's 265000 (FSFilter Anti-Virus); it does not attach to
// network volumes and allows manual detaches. The user-mode service is package
// [github.com/fltemu/fltemu/sampledrivers/scanner/scanuser]; the layouts are in
// [github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto].
package scanner

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
)

// Altitude is the scanner's altitude (scanner.inf).
const Altitude = "265000"

// DefaultExtension is scanned when the configuration lists no extension (the sample's
// fallback when the registry has none).
const DefaultExtension = "doc"

// InstallerExtensions returns the extensions the sample's installer writes to the registry
// (the Extensions value): exe doc txt bat cmd inf.
func InstallerExtensions() []string {
	return []string{"exe", "doc", "txt", "bat", "cmd", "inf"}
}

// statusReparse is STATUS_REPARSE: a create that must be reissued on another name. The
// emulator never returns it; the check is kept from the sample.
const statusReparse kernel.NTSTATUS = 0x00000104

// streamHandleContextSize is sizeof(SCANNER_STREAM_HANDLE_CONTEXT): one BOOLEAN.
const streamHandleContextSize = 1

// Config is the driver's configuration (the sample reads it from the registry).
type Config struct {
	// Extensions lists the file name extensions to scan, without the dot ("txt"; a leading
	// dot is ignored), compared case-insensitively. Empty: DefaultExtension only.
	Extensions []string
	// DbgPrint receives the driver's debug output (where the sample calls DbgPrint); nil
	// discards it. It is called from the callbacks, on any goroutine, several at once.
	DbgPrint func(format string, args ...any)
}

// Stats counts what the filter did. All counts are since the driver loaded.
type Stats struct {
	Scans         int64 // scan requests sent to the service (opens, writes, cleanups)
	SendFailures  int64 // sends that did not return STATUS_SUCCESS (no verdict: allowed)
	NoVerdict     int64 // STATUS_SUCCESS replies without a SafeToOpen byte (allowed)
	OpensDenied   int64 // opens cancelled because the file is foul
	WritesDenied  int64 // non-paging writes completed with STATUS_ACCESS_DENIED
	PagingFoul    int64 // foul paging writes let through
	CleanupFoul   int64 // foul files found at cleanup (only logged)
	OffloadDenied int64 // FSCTL_OFFLOAD_WRITE requests denied
}

// streamHandleContext is SCANNER_STREAM_HANDLE_CONTEXT.
type streamHandleContext struct {
	RescanRequired bool
}

// extensionList is the configuration the callbacks read; the unload callback frees it.
type extensionList struct {
	exts []string
}

// Driver is the scanner filter. Set Config before loading it; the zero value scans `.doc`
// files.
type Driver struct {
	// Config is read once, by DriverEntry.
	Config Config

	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	client driverapi.ClientPort // the scanner service's connection

	userPID atomic.Uint32                 // the trusted scanner process, 0 if none
	exts    atomic.Pointer[extensionList] // nil once freed (or before DriverEntry)

	scans, sendFailures, noVerdict, opensDenied, writesDenied atomic.Int64
	pagingFoul, cleanupFoul, offloadDenied                    atomic.Int64

	// testHookUnload, if set, is called by the unload callback after each step: "server port
	// closed", "unregistered", "configuration freed".
	testHookUnload func(step string)
}

// DriverEntry registers the filter, reads the configuration, creates `\ScannerPort` and
// starts filtering. On a failure it undoes what it did, unregistering before freeing the
// configuration.
func (d *Driver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:      driverapi.FLT_REGISTRATION_VERSION,
		FilterUnload: d.unload,
		ContextRegistration: []driverapi.ContextRegistration{
			{ContextType: driverapi.FLT_STREAMHANDLE_CONTEXT, Size: streamHandleContextSize, PoolTag: 0x63684253}, // 'chBS',
		},
		OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: d.preCreate, PostOperation: d.postCreate},
			{MajorFunction: driverapi.IRP_MJ_CLEANUP, PreOperation: d.preCleanup},
			{MajorFunction: driverapi.IRP_MJ_WRITE, PreOperation: d.preWrite},
			{MajorFunction: driverapi.IRP_MJ_FILE_SYSTEM_CONTROL, PreOperation: d.preFileSystemControl},
		},
		InstanceSetup:         d.instanceSetup,
		InstanceQueryTeardown: d.queryTeardown,
		Altitude:              Altitude,
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	d.exts.Store(newExtensionList(d.Config.Extensions))

	sd, st := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	if st == kernel.STATUS_SUCCESS {
		attrs := driverapi.InitializeObjectAttributes(scannerproto.PortName,
			driverapi.OBJ_CASE_INSENSITIVE|driverapi.OBJ_KERNEL_HANDLE, sd)
		d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, nil, 1)
		fm.FreeSecurityDescriptor(sd) // the port captured its own copy
		if st == kernel.STATUS_SUCCESS {
			if st = fm.StartFiltering(f); st == kernel.STATUS_SUCCESS {
				return kernel.STATUS_SUCCESS
			}
			fm.CloseCommunicationPort(d.server)
		}
	}
	fm.UnregisterFilter(f)
	d.exts.Store(nil)
	return st
}

// newExtensionList normalizes the configured extensions; none gives DefaultExtension.
func newExtensionList(configured []string) *extensionList {
	l := &extensionList{}
	for _, e := range configured {
		if e = strings.TrimPrefix(e, "."); e != "" {
			l.exts = append(l.exts, e)
		}
	}
	if len(l.exts) == 0 {
		l.exts = []string{DefaultExtension}
	}
	return l
}

// unload is the FilterUnload callback: close the server port, unregister (which ends the
// connection and waits for the callbacks in flight), and only then free the configuration.
// The C sample frees the extension list first, while callbacks may still be reading it.
func (d *Driver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.fm.CloseCommunicationPort(d.server)
	d.hook("server port closed")
	d.fm.UnregisterFilter(d.filter)
	d.hook("unregistered")
	d.exts.Store(nil)
	d.hook("configuration freed")
	return kernel.STATUS_SUCCESS
}

func (d *Driver) hook(step string) {
	if d.testHookUnload != nil {
		d.testHookUnload(step)
	}
}

func (d *Driver) dbgPrint(format string, args ...any) {
	if p := d.Config.DbgPrint; p != nil {
		p("scanner.sys -- "+format, args...)
	}
}

// Extensions returns the extensions the filter scans, nil once the configuration is freed.
func (d *Driver) Extensions() []string {
	if l := d.exts.Load(); l != nil {
		return append([]string(nil), l.exts...)
	}
	return nil
}

// Connected reports whether a scanner service is connected.
func (d *Driver) Connected() bool { return !d.client.IsNil() }

// ScannerProcessID returns the process id of the connected scanner service, 0 if none.
func (d *Driver) ScannerProcessID() uint32 { return d.userPID.Load() }

// Stats returns the filter's counters.
func (d *Driver) Stats() Stats {
	return Stats{
		Scans: d.scans.Load(), SendFailures: d.sendFailures.Load(), NoVerdict: d.noVerdict.Load(),
		OpensDenied: d.opensDenied.Load(), WritesDenied: d.writesDenied.Load(), PagingFoul: d.pagingFoul.Load(),
		CleanupFoul: d.cleanupFoul.Load(), OffloadDenied: d.offloadDenied.Load(),
	}
}

// ---- port callbacks ----

// connect is ConnectNotify: the connecting process (PsGetCurrentProcess on the connecting
// thread) becomes the trusted scanner process. With MaxConnections 1 there is no other
// connection to replace.
func (d *Driver) connect(ctx context.Context, port driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
	pid := driverapi.CurrentProcessId(ctx)
	d.userPID.Store(pid)
	d.client.Store(port)
	name := "System"
	if p := driverapi.CurrentProcess(ctx); p != nil {
		name = p.ImageName()
	}
	d.dbgPrint("connected, process %d (%s)", pid, name)
	return nil, kernel.STATUS_SUCCESS
}

// disconnect is DisconnectNotify: close the client port, then forget the process.
func (d *Driver) disconnect(context.Context, any) {
	d.dbgPrint("disconnected")
	d.fm.CloseClientPort(d.filter, &d.client)
	d.userPID.Store(0)
}

// ---- instances ----

// instanceSetup refuses network volumes, as the sample does.
func (d *Driver) instanceSetup(_ *driverapi.RelatedObjects, _ driverapi.InstanceSetupFlags,
	deviceType fsys.DeviceType, _ driverapi.FilesystemType) kernel.NTSTATUS {
	if deviceType == fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM {
		return kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	return kernel.STATUS_SUCCESS
}

// queryTeardown allows manual detaches.
func (d *Driver) queryTeardown(*driverapi.RelatedObjects, driverapi.InstanceQueryTeardownFlags) kernel.NTSTATUS {
	return kernel.STATUS_SUCCESS
}

// ---- operations ----

// preCreate lets the scanner service's own opens through without a post-create.
func (d *Driver) preCreate(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	if pid := d.userPID.Load(); pid != 0 && d.fm.GetRequestorProcessId(data) == pid {
		d.dbgPrint("allowing create for trusted process %d", pid)
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
}

// postCreate scans a newly opened file with a listed extension and cancels the open of a foul
// one; a safe open with write access is marked for a rescan at cleanup.
func (d *Driver) postCreate(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any,
	flags driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
	// Decision (the sample does not check): a post-create drained at instance teardown does
	// nothing, since the open may not have completed and the instance is going away.
	if flags&driverapi.FLTFL_POST_OPERATION_DRAINING != 0 {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if st := data.IoStatus.Status; !st.IsSuccess() || st == statusReparse {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if dir, st := d.fm.IsDirectory(objs.FileObject, objs.Instance); st != kernel.STATUS_SUCCESS || dir {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	info, st := d.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED|driverapi.FLT_FILE_NAME_QUERY_DEFAULT)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	d.fm.ParseFileNameInformation(info)
	scan := d.checkExtension(info.Extension)
	d.fm.ReleaseFileNameInformation(info)
	if !scan {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}

	if safe, _ := d.scanFileInUserMode(data.Context(), objs.Instance, objs.FileObject); !safe {
		d.dbgPrint("foul language detected in postcreate, undoing create")
		d.opensDenied.Add(1)
		d.fm.CancelFileOpen(objs.Instance, objs.FileObject)
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if objs.FileObject.WriteAccess {
		c, st := d.fm.AllocateContext(d.filter, driverapi.FLT_STREAMHANDLE_CONTEXT, streamHandleContextSize, driverapi.PagedPool)
		if st == kernel.STATUS_SUCCESS {
			c.SetData(&streamHandleContext{RescanRequired: true})
			// The only failure would say contexts are not supported: releasing our reference
			// frees the context then, as the sample notes.
			_ = d.fm.SetStreamHandleContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_REPLACE_IF_EXISTS, c, nil)
			d.fm.ReleaseContext(c)
		}
	}
	return driverapi.FLT_POSTOP_FINISHED_PROCESSING
}

// checkExtension reports whether files with this extension are scanned.
func (d *Driver) checkExtension(ext string) bool {
	if ext == "" {
		return false
	}
	l := d.exts.Load()
	if l == nil {
		return false // freed: only possible if a callback outlived the unload
	}
	for _, e := range l.exts {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// preCleanup rescans a file that was opened for writing; a foul result is only logged.
func (d *Driver) preCleanup(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	c, st := d.fm.GetStreamHandleContext(objs.Instance, objs.FileObject)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	defer d.fm.ReleaseContext(c)
	if sc, _ := c.Data().(*streamHandleContext); sc != nil && sc.RescanRequired {
		if safe, _ := d.scanFileInUserMode(data.Context(), objs.Instance, objs.FileObject); !safe {
			d.cleanupFoul.Add(1)
			d.dbgPrint("foul language detected in precleanup")
		}
	}
	return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
}

// preWrite scans the data of a write on a handle marked for rescan; a foul write is denied
// unless it is paging I/O.
func (d *Driver) preWrite(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	if d.client.IsNil() {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	c, st := d.fm.GetStreamHandleContext(objs.Instance, objs.FileObject)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK // not a file we are interested in
	}
	defer d.fm.ReleaseContext(c)

	wp := &data.Iopb.Parameters.Write
	safe := true
	if wp.Length != 0 {
		n := min(int(wp.Length), len(wp.WriteBuffer), scannerproto.ReadBufferSize)
		safe, _ = d.askUser(data.Context(), scannerproto.EncodeNotification(wp.WriteBuffer[:n]))
	}
	if safe {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	d.dbgPrint("foul language detected in write")
	if data.Iopb.IrpFlags&driverapi.IRP_PAGING_IO != 0 {
		// A mapped write: the sample lets it through (it only blocks ordinary writes).
		d.pagingFoul.Add(1)
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	d.dbgPrint("blocking the write")
	d.writesDenied.Add(1)
	data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
	return driverapi.FLT_PREOP_COMPLETE
}

// preFileSystemControl denies FSCTL_OFFLOAD_WRITE on a handle marked for rescan: the filter
// cannot see the data of an offloaded write.
func (d *Driver) preFileSystemControl(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	if d.client.IsNil() {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	c, st := d.fm.GetStreamHandleContext(objs.Instance, objs.FileObject)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	defer d.fm.ReleaseContext(c)
	if data.Iopb.Parameters.FileSystemControl.Common.FsControlCode == fsys.FSCTL_OFFLOAD_WRITE {
		d.dbgPrint("blocking the offload write")
		d.offloadDenied.Add(1)
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		return driverapi.FLT_PREOP_COMPLETE
	}
	return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
}

// ---- scanning ----

// scanFileInUserMode reads the head of the file and asks the service whether it is safe. It
// says safe whenever it could not get a verdict: no service connected, the read failed, an
// empty file, the send failed (failing opens while the service is not running would keep the
// service's own executable from loading).
func (d *Driver) scanFileInUserMode(ctx context.Context, inst driverapi.Instance, fo *fsys.FileObject) (safe bool, st kernel.NTSTATUS) {
	if d.client.IsNil() {
		return true, kernel.STATUS_SUCCESS
	}
	vol, st := d.fm.GetVolumeFromInstance(inst)
	if st != kernel.STATUS_SUCCESS {
		return true, st
	}
	props, st := d.fm.GetVolumeProperties(vol)
	d.fm.ObjectDereference(vol)
	if st.IsError() {
		return true, st
	}
	// Non-cached I/O is done in whole sectors.
	length := max(uint32(scannerproto.ReadBufferSize), uint32(props.SectorSize))
	buf := make([]byte, length)
	var offset int64
	n, st := d.fm.ReadFile(ctx, inst, fo, &offset, length, buf,
		driverapi.FLTFL_IO_OPERATION_NON_CACHED|driverapi.FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET)
	if !st.IsSuccess() || n == 0 {
		return true, st
	}
	// The fix of the C sample's bug: BytesToScan counts what Contents holds (≤ 1024), not what
	// was read (up to a whole sector).
	return d.askUser(ctx, scannerproto.EncodeNotification(buf[:n]))
}

// askUser sends a notification with no timeout and returns the verdict. Only an exact
// STATUS_SUCCESS with a SafeToOpen byte is a verdict; anything else is safe.
func (d *Driver) askUser(ctx context.Context, notification []byte) (safe bool, st kernel.NTSTATUS) {
	d.scans.Add(1)
	reply := make([]byte, scannerproto.ReplySize)
	replyLength := uint32(len(reply))
	st = d.fm.SendMessage(ctx, d.filter, &d.client, notification, reply, &replyLength, nil)
	if st != kernel.STATUS_SUCCESS {
		d.sendFailures.Add(1)
		d.dbgPrint("couldn't send message to user-mode to scan file, status 0x%08X", uint32(st))
		return true, st
	}
	safe, ok := scannerproto.DecodeReply(reply[:replyLength])
	if !ok {
		d.noVerdict.Add(1)
		d.dbgPrint("the service replied without a verdict")
		return true, st
	}
	return safe, st
}
