package avscan

import (
	"sync"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// streamContext is AV_STREAM_CONTEXT (without its transaction state): the file's state while
// it is open, and the lock that serializes its scans.
type streamContext struct {
	ctx    driverapi.FltContext // the filter-manager context this is the data of
	sem    chan struct{}        // ScanSynchronizationEvent: capacity 1, held while scanning
	fileID int64
	hasID  bool

	mu sync.Mutex
	st fileState
}

func (s *streamContext) state() fileState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *streamContext) setState(st fileState) {
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
}

// casState sets the state to to if it is from (InterlockedCompareExchange).
func (s *streamContext) casState(from, to fileState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != from {
		return false
	}
	s.st = to
	return true
}

// needsScan is IS_FILE_NEED_SCAN.
func (s *streamContext) needsScan() bool { return s.state() == stateModified }

// instanceContext is AV_INSTANCE_CONTEXT: the instance, its volume, and the file-state cache
// of volumes whose file ids are stable.
type instanceContext struct {
	instance driverapi.Instance
	volume   driverapi.FltVolume
	fsType   driverapi.FilesystemType

	mu    sync.Mutex
	cache map[int64]fileState // nil: no cache on this file system
}

// supportsCache is FS_SUPPORTS_FILE_STATE_CACHE.
func supportsCache(t driverapi.FilesystemType) bool {
	return t == driverapi.FLT_FSTYPE_NTFS || t == driverapi.FLT_FSTYPE_REFS || t == driverapi.FLT_FSTYPE_CSVFS
}

// instanceSetup (AvInstanceSetup): no network volumes; an instance context with the cache;
// registration for data scans.
func (d *Driver) instanceSetup(objs *driverapi.RelatedObjects, _ driverapi.InstanceSetupFlags,
	deviceType fsys.DeviceType, fsType driverapi.FilesystemType) kernel.NTSTATUS {
	if deviceType == fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM {
		return kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	c, st := d.fm.AllocateContext(d.filter, driverapi.FLT_INSTANCE_CONTEXT, instanceContextSize, driverapi.NonPagedPoolNx)
	if st != kernel.STATUS_SUCCESS {
		return kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	ic := &instanceContext{instance: objs.Instance, volume: objs.Volume, fsType: fsType}
	if supportsCache(fsType) {
		ic.cache = make(map[int64]fileState)
	}
	c.SetData(ic)
	st = d.fm.SetInstanceContext(objs.Instance, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, c, nil)
	d.fm.ReleaseContext(c)
	if st != kernel.STATUS_SUCCESS {
		return kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	if st := d.fm.RegisterForDataScan(objs.Instance); st != kernel.STATUS_SUCCESS {
		return kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	d.mu.Lock()
	d.volumes[objs.Volume.VolumeName()] = objs.Instance
	d.mu.Unlock()
	return kernel.STATUS_SUCCESS
}

// instanceTeardownStart (AvInstanceTeardownStart): abort the instance's scans, empty the cache,
// delete the instance context.
func (d *Driver) instanceTeardownStart(objs *driverapi.RelatedObjects, _ driverapi.InstanceTeardownFlags) {
	d.abortScansOf(objs.Instance)
	if c, st := d.fm.GetInstanceContext(objs.Instance); st == kernel.STATUS_SUCCESS {
		if ic, ok := c.Data().(*instanceContext); ok && ic.cache != nil {
			ic.mu.Lock()
			clear(ic.cache)
			ic.mu.Unlock()
		}
		d.fm.ReleaseContext(c)
	}
	d.fm.DeleteInstanceContext(objs.Instance, nil)
}

// withCache runs f on the instance's cache, if the file system has one.
func (d *Driver) withCache(inst driverapi.Instance, f func(cache map[int64]fileState)) {
	c, st := d.fm.GetInstanceContext(inst)
	if st != kernel.STATUS_SUCCESS {
		return
	}
	defer d.fm.ReleaseContext(c)
	ic, ok := c.Data().(*instanceContext)
	if !ok || ic.cache == nil {
		return
	}
	ic.mu.Lock()
	f(ic.cache)
	ic.mu.Unlock()
}

// syncCache writes the stream's state to the cache at cleanup (AvSyncCache). Only "clean" and
// "infected" are worth keeping; any other state removes the entry, so that the next open
// scans the file (the C sample skipped the write, leaving an older "clean" entry in place).
func (d *Driver) syncCache(inst driverapi.Instance, sctx *streamContext) {
	if !sctx.hasID {
		return
	}
	st := sctx.state()
	d.withCache(inst, func(cache map[int64]fileState) {
		if st == stateInfected || st == stateNotInfected {
			cache[sctx.fileID] = st
		} else {
			delete(cache, sctx.fileID)
		}
	})
}

// getStreamContext returns the stream's context, referenced (release sctx.ctx).
func (d *Driver) getStreamContext(inst driverapi.Instance, fo *fsys.FileObject) (*streamContext, kernel.NTSTATUS) {
	c, st := d.fm.GetStreamContext(inst, fo)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	sctx, ok := c.Data().(*streamContext)
	if !ok {
		d.fm.ReleaseContext(c)
		return nil, kernel.STATUS_NOT_FOUND
	}
	return sctx, kernel.STATUS_SUCCESS
}

// findOrCreateStreamContext finds the stream's context or makes one: "modified" (to be
// scanned) unless the cache knows the file by its id.
func (d *Driver) findOrCreateStreamContext(data *driverapi.CallbackData, objs *driverapi.RelatedObjects) (*streamContext, kernel.NTSTATUS) {
	sctx, st := d.getStreamContext(objs.Instance, objs.FileObject)
	if st != kernel.STATUS_NOT_FOUND {
		return sctx, st
	}
	c, st := d.fm.AllocateContext(d.filter, driverapi.FLT_STREAM_CONTEXT, streamContextSize, driverapi.PagedPool)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	sctx = &streamContext{ctx: c, sem: make(chan struct{}, 1), st: stateModified}
	if info, st := d.fm.QueryInformationFile(data.Context(), objs.Instance, objs.FileObject,
		fsys.FileInternalInformation); st == kernel.STATUS_SUCCESS {
		sctx.fileID, sctx.hasID = info.(*fsys.FILE_INTERNAL_INFORMATION).IndexNumber, true
		d.withCache(objs.Instance, func(cache map[int64]fileState) {
			if cached, ok := cache[sctx.fileID]; ok {
				sctx.st = cached
			}
		})
	}
	c.SetData(sctx)
	var old driverapi.FltContext
	st = d.fm.SetStreamContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, c, &old)
	if st == kernel.STATUS_FLT_CONTEXT_ALREADY_DEFINED && old != nil {
		d.fm.ReleaseContext(c) // another open set one first: use it
		if o, ok := old.Data().(*streamContext); ok {
			return o, kernel.STATUS_SUCCESS
		}
		d.fm.ReleaseContext(old)
		return nil, kernel.STATUS_NOT_FOUND
	}
	if st != kernel.STATUS_SUCCESS {
		d.fm.ReleaseContext(c)
		return nil, st
	}
	return sctx, kernel.STATUS_SUCCESS
}

// cancelFileOpen fails a create in its post-create (AvCancelFileOpen).
func (d *Driver) cancelFileOpen(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, st kernel.NTSTATUS) {
	d.fm.CancelFileOpen(objs.Instance, objs.FileObject)
	data.IoStatus = driverapi.IoStatusBlock{Status: st}
}

// preCreate (AvPreCreate): directory opens and the opens of a rename's target directory are
// not scanned; the others get their post-create on this thread.
func (d *Driver) preCreate(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	if data.Iopb.Parameters.Create.Options&fsys.FILE_DIRECTORY_FILE != 0 ||
		data.Iopb.OperationFlags&driverapi.SL_OPEN_TARGET_DIRECTORY != 0 {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	return driverapi.FLT_PREOP_SYNCHRONIZE
}

// postCreate (AvPostCreate): find or make the stream context, scan the file if it needs it,
// and refuse an infected file.
func (d *Driver) postCreate(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, flags driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
	if flags&driverapi.FLTFL_POST_OPERATION_DRAINING != 0 || !data.IoStatus.Status.IsSuccess() {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if isDir, st := d.fm.IsDirectory(objs.FileObject, objs.Instance); st == kernel.STATUS_SUCCESS && isDir {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if d.isStreamAlternate(data) {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	sctx, st := d.findOrCreateStreamContext(data, objs)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	defer d.fm.ReleaseContext(sctx.ctx)
	if sctx.needsScan() {
		if st := d.scan(data, objs, driverapi.IRP_MJ_CREATE, sctx); st != kernel.STATUS_SUCCESS {
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING // no verdict: the open is allowed
		}
	}
	if sctx.state() == stateInfected {
		d.stats.denied.Add(1)
		d.cancelFileOpen(data, objs, kernel.STATUS_VIRUS_INFECTED)
	}
	return driverapi.FLT_POSTOP_FINISHED_PROCESSING
}

// isStreamAlternate reports whether the open names an alternate data stream (AvIsStreamAlternate).
func (d *Driver) isStreamAlternate(data *driverapi.CallbackData) bool {
	info, st := d.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_OPENED|driverapi.FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP)
	if st != kernel.STATUS_SUCCESS {
		return false
	}
	defer d.fm.ReleaseFileNameInformation(info)
	if d.fm.ParseFileNameInformation(info) != kernel.STATUS_SUCCESS {
		return false
	}
	return info.Stream != ""
}

// preCleanup (AvPreCleanup): a modified file is scanned again, and its state goes to the cache.
func (d *Driver) preCleanup(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	sctx, st := d.getStreamContext(objs.Instance, objs.FileObject)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	defer d.fm.ReleaseContext(sctx.ctx)
	if sctx.state() == stateModified {
		d.scan(data, objs, driverapi.IRP_MJ_CLEANUP, sctx)
	}
	d.syncCache(objs.Instance, sctx)
	return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
}

// modifiesFile is AvOperationsModifyingFile.
func modifiesFile(data *driverapi.CallbackData) bool {
	iopb := data.Iopb
	switch iopb.MajorFunction {
	case driverapi.IRP_MJ_WRITE:
		return true
	case driverapi.IRP_MJ_FILE_SYSTEM_CONTROL:
		switch iopb.Parameters.FileSystemControl.Common.FsControlCode {
		case fsys.FSCTL_OFFLOAD_WRITE, fsys.FSCTL_WRITE_RAW_ENCRYPTED, fsys.FSCTL_SET_ZERO_DATA:
			return true
		}
	case driverapi.IRP_MJ_SET_INFORMATION:
		switch iopb.Parameters.SetFileInformation.FileInformationClass {
		case fsys.FileEndOfFileInformation, fsys.FileValidDataLengthInformation:
			return true
		}
	}
	return false
}

// preModify (AvPreOperationCallback): an operation that may change the data marks the file
// "modified". Paging writes count too.
func (d *Driver) preModify(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	if !modifiesFile(data) {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	if sctx, st := d.getStreamContext(objs.Instance, objs.FileObject); st == kernel.STATUS_SUCCESS {
		sctx.setState(stateModified)
		d.fm.ReleaseContext(sctx.ctx)
	}
	return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
}

// preFsControl (AvPreFsControl): save points are not supported; other FSCTLs as preModify.
func (d *Driver) preFsControl(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, cctx *any) driverapi.PreopCallbackStatus {
	if data.Iopb.Parameters.FileSystemControl.Common.FsControlCode == FSCTL_TXFS_SAVEPOINT_INFORMATION {
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_NOT_SUPPORTED}
		return driverapi.FLT_PREOP_COMPLETE
	}
	return d.preModify(data, objs, cctx)
}
