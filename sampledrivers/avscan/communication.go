package avscan

import (
	"context"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
)

// connect is ConnectNotify (AvConnectNotifyCallback), shared by the three ports; the server
// port cookie is the port's connection type. The context must hold a known type, and (a fix)
// the type of the port it arrived on.
func (d *Driver) connect(ctx context.Context, port driverapi.Port, serverPortCookie any, connectionContext []byte) (any, kernel.NTSTATUS) {
	cc, err := avscanproto.DecodeConnectionContext(connectionContext)
	if err != nil {
		d.dbgPrint("AvConnectNotifyCallback: no connection context from process %d", driverapi.CurrentProcessId(ctx))
		return nil, kernel.STATUS_INVALID_PARAMETER_3
	}
	switch cc.Type {
	case avscanproto.ForScan, avscanproto.ForAbort, avscanproto.ForQuery:
	default:
		d.dbgPrint("AvConnectNotifyCallback: no such connection type %d", cc.Type)
		return nil, kernel.STATUS_INVALID_PARAMETER_3
	}
	if portType, _ := serverPortCookie.(avscanproto.ConnectionType); portType != cc.Type {
		d.dbgPrint("AvConnectNotifyCallback: connection type %d on the port of type %d", cc.Type, portType)
		return nil, kernel.STATUS_INVALID_PARAMETER_3
	}
	d.clients[cc.Type].Store(port)
	return &connCookie{typ: cc.Type}, kernel.STATUS_SUCCESS
}

// disconnect is DisconnectNotify: close the client port of the connection's role.
func (d *Driver) disconnect(_ context.Context, cookie any) {
	cc, ok := cookie.(*connCookie)
	if !ok {
		return
	}
	d.fm.CloseClientPort(d.filter, &d.clients[cc.typ])
}

// message is MessageNotify (AvMessageNotifyCallback): the scanner's CreateSectionForDataScan
// and CloseSectionForDataScan on the scan connection, IsFileModified on the query connection.
// ctx is the sending user's thread: the section handle goes into its process, and the file
// handle of IsFileModified is looked up there (the sample's ObReferenceObjectByHandle in the
// current process).
func (d *Driver) message(ctx context.Context, cookie any, in, out []byte) (uint32, kernel.NTSTATUS) {
	cc, _ := cookie.(*connCookie)
	cmd, err := avscanproto.DecodeCommand(in)
	if err != nil || cc == nil {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	switch cmd.Command {
	case avscanproto.CreateSectionForDataScan:
		if cc.typ != avscanproto.ForScan {
			return 0, kernel.STATUS_ACCESS_DENIED
		}
		if len(out) < avscanproto.HandleSize {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		if !driverapi.IsAligned(out, avscanproto.HandleSize) {
			return 0, kernel.STATUS_DATATYPE_MISALIGNMENT
		}
		sc := d.lookupScan(cmd.ScanId)
		if sc == nil {
			return 0, kernel.STATUS_NOT_FOUND
		}
		h, st := d.handleCreateSection(ctx, sc)
		if st != kernel.STATUS_SUCCESS {
			return 0, st
		}
		avscanproto.EncodeHandle(out, h)
		return avscanproto.HandleSize, kernel.STATUS_SUCCESS

	case avscanproto.CloseSectionForDataScan:
		if cc.typ != avscanproto.ForScan {
			return 0, kernel.STATUS_ACCESS_DENIED
		}
		sc := d.lookupScan(cmd.ScanId)
		if sc == nil {
			return 0, kernel.STATUS_NOT_FOUND
		}
		return 0, d.handleCloseSection(sc, cmd.ScanResult)

	case avscanproto.IsFileModified:
		if cc.typ != avscanproto.ForQuery {
			return 0, kernel.STATUS_ACCESS_DENIED
		}
		if len(out) < 1 {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		modified, st := d.isFileModified(driverapi.CurrentProcess(ctx), cmd.FileHandle)
		if st != kernel.STATUS_SUCCESS {
			return 0, st
		}
		out[0] = 0
		if modified {
			out[0] = 1
		}
		return 1, kernel.STATUS_SUCCESS
	}
	return 0, kernel.STATUS_INVALID_PARAMETER
}

// lookupScan finds a scan in flight by id (AvGetScanCtxSynchronized).
func (d *Driver) lookupScan(id int64) *scanContext {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.scans[id]
}

// handleCreateSection answers CreateSectionForDataScan (AvHandleCmdCreateSectionForDataScan):
// a section for the scanned file, whose handle goes to the process of the calling thread ctx
// (the worker's). On a failure the waiting I/O thread is released and the file stays
// "modified".
func (d *Driver) handleCreateSection(ctx context.Context, sc *scanContext) (kernel.Handle, kernel.NTSTATUS) {
	sctx, st := d.getStreamContext(sc.instance, sc.fileObject)
	if st != kernel.STATUS_SUCCESS {
		sc.signal()
		return kernel.InvalidHandle, st
	}
	defer d.fm.ReleaseContext(sctx.ctx)
	fail := func(st kernel.NTSTATUS) (kernel.Handle, kernel.NTSTATUS) {
		sc.signal()
		sctx.setState(stateModified)
		return kernel.InvalidHandle, st
	}
	secCtx, st := d.fm.AllocateContext(d.filter, driverapi.FLT_SECTION_CONTEXT, sectionContextSize, driverapi.PagedPool)
	if st != kernel.STATUS_SUCCESS {
		return fail(st)
	}
	secCtx.SetData(sc)
	if sc.isFinished() { // the I/O thread gave up on this scan
		d.fm.ReleaseContext(secCtx)
		return fail(kernel.STATUS_CANCELLED)
	}
	h, _, _, st := d.fm.CreateSectionForDataScan(ctx, sc.instance, sc.fileObject, secCtx,
		driverapi.SECTION_MAP_READ, nil, nil, driverapi.PAGE_READONLY, driverapi.SEC_COMMIT, 0)
	if st != kernel.STATUS_SUCCESS {
		d.dbgPrint("AvHandleCmdCreateSectionForDataScan: FltCreateSectionForDataScan: %v", st)
		d.fm.ReleaseContext(secCtx)
		return fail(st)
	}
	sctx.setState(stateScanning)
	if !sc.attachSection(secCtx) {
		// The I/O thread gave up while the section was being made: undo it, and close the
		// handle in the worker's process (the sample's NtClose).
		if proc := driverapi.CurrentProcess(ctx); proc != nil {
			proc.CloseHandle(h)
		}
		d.closeSection(secCtx)
		sctx.casState(stateScanning, stateModified)
		return kernel.InvalidHandle, kernel.STATUS_CANCELLED
	}
	return h, kernel.STATUS_SUCCESS
}

// handleCloseSection answers CloseSectionForDataScan (AvHandleCmdCloseSectionForDataScan):
// record the verdict, close the section and release the waiting I/O thread.
func (d *Driver) handleCloseSection(sc *scanContext, result avscanproto.ScanResult) kernel.NTSTATUS {
	if sctx, st := d.getStreamContext(sc.instance, sc.fileObject); st == kernel.STATUS_SUCCESS {
		switch result {
		case avscanproto.Infected:
			sctx.casState(stateScanning, stateInfected)
		case avscanproto.Clean:
			sctx.casState(stateScanning, stateNotInfected)
		default: // undetermined (the worker was aborted): scan again next time
			sctx.setState(stateModified)
		}
		d.fm.ReleaseContext(sctx.ctx)
	}
	d.stats.verdicts.Add(1)
	return d.finalizeScanAndSection(sc)
}

// closeSection closes a section and drops the scan's reference to its context
// (AvFinalizeSectionContext).
func (d *Driver) closeSection(secCtx driverapi.FltContext) kernel.NTSTATUS {
	st := d.fm.CloseSectionForDataScan(secCtx)
	if st != kernel.STATUS_SUCCESS {
		d.dbgPrint("AvFinalizeSectionContext: FltCloseSectionForDataScan: %v", st)
	}
	d.fm.ReleaseContext(secCtx)
	return st
}

// isFileModified answers IsFileModified: whether the file behind the caller's handle is in
// the "modified" state.
func (d *Driver) isFileModified(proc *kernel.Process, h kernel.Handle) (bool, kernel.NTSTATUS) {
	fo, st := driverapi.ReferenceFileObjectByHandle(proc, h)
	if st != kernel.STATUS_SUCCESS {
		return false, st
	}
	vol, st := d.fm.GetVolumeFromFileObject(d.filter, fo)
	if st != kernel.STATUS_SUCCESS {
		return false, st
	}
	name := vol.VolumeName()
	d.fm.ObjectDereference(vol)
	d.mu.Lock()
	inst := d.volumes[name]
	d.mu.Unlock()
	if inst == nil {
		return false, kernel.STATUS_NOT_FOUND
	}
	sctx, st := d.getStreamContext(inst, fo)
	if st != kernel.STATUS_SUCCESS {
		return false, st
	}
	defer d.fm.ReleaseContext(sctx.ctx)
	return sctx.state() == stateModified, kernel.STATUS_SUCCESS
}
