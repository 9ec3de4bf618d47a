package avscan

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
)

// scanContext is AV_SCAN_CONTEXT: one scan handed to the user scanner.
type scanContext struct {
	id         int64
	instance   driverapi.Instance
	fileObject *fsys.FileObject
	major      driverapi.MajorFunction

	done     chan struct{} // ScanCompleteNotification: closed once
	doneOnce sync.Once

	mu       sync.Mutex
	threadID uint32
	section  driverapi.FltContext // the section context, once the worker asked for the section
	finished bool                 // finalized: no section may be attached any more
}

// signal sets ScanCompleteNotification: the waiting I/O thread goes on.
func (sc *scanContext) signal() { sc.doneOnce.Do(func() { close(sc.done) }) }

func (sc *scanContext) isFinished() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.finished
}

// attachSection records the scan's section unless the scan was finalized meanwhile.
func (sc *scanContext) attachSection(c driverapi.FltContext) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.finished {
		return false
	}
	sc.section = c
	return true
}

func (sc *scanContext) setThreadID(id uint32) {
	sc.mu.Lock()
	sc.threadID = id
	sc.mu.Unlock()
}

func (sc *scanContext) getThreadID() uint32 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.threadID
}

// finalizeScanAndSection ends a scan (AvFinalizeScanAndSection): whoever gets there first takes
// the section and closes it; then the waiting I/O thread is released. (The C sample released
// the thread first: the next scan of the same file could then find the section still open,
// and FltCreateSectionForDataScan failed with STATUS_FLT_CONTEXT_ALREADY_DEFINED.)
func (d *Driver) finalizeScanAndSection(sc *scanContext) kernel.NTSTATUS {
	sc.mu.Lock()
	sc.finished = true
	sec := sc.section
	sc.section = nil
	sc.mu.Unlock()
	st := kernel.STATUS_SUCCESS
	if sec != nil {
		st = d.closeSection(sec)
	}
	sc.signal()
	if d.testHookReleased != nil {
		d.testHookReleased()
	}
	return st
}

// waitEvent is FltCancellableWaitForSingleObject on a notification event: STATUS_SUCCESS once
// ev is closed, STATUS_TIMEOUT after timeout (negative: no timeout), and
// STATUS_THREAD_IS_TERMINATING when the waiting thread (ctx) ends.
func waitEvent(ctx context.Context, ev <-chan struct{}, timeout time.Duration) kernel.NTSTATUS {
	if ctx == nil {
		ctx = context.Background()
	}
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-ev:
		return kernel.STATUS_SUCCESS
	case <-expired:
		return kernel.STATUS_TIMEOUT
	case <-ctx.Done():
		return kernel.STATUS_THREAD_IS_TERMINATING
	}
}

// scan scans the file of a create or a cleanup if it needs it (AvScan): an empty file is clean
// at once; otherwise scans of the same stream are serialized, and the user scanner is asked.
func (d *Driver) scan(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, major driverapi.MajorFunction,
	sctx *streamContext) kernel.NTSTATUS {
	if info, st := d.fm.QueryInformationFile(data.Context(), objs.Instance, objs.FileObject,
		fsys.FileStandardInformation); st == kernel.STATUS_SUCCESS && info.(*fsys.FILE_STANDARD_INFORMATION).EndOfFile == 0 {
		sctx.setState(stateNotInfected) // as if the empty file had been scanned
		d.stats.empty.Add(1)
		return kernel.STATUS_SUCCESS
	}
	// Wait for a scan of the same stream to end (ScanSynchronizationEvent), with no timeout:
	// scans time out by themselves.
	select {
	case sctx.sem <- struct{}{}:
	case <-data.Context().Done():
		if major == driverapi.IRP_MJ_CREATE {
			d.cancelFileOpen(data, objs, kernel.STATUS_THREAD_IS_TERMINATING)
		}
		return kernel.STATUS_THREAD_IS_TERMINATING
	}
	defer func() { <-sctx.sem }()
	if !sctx.needsScan() { // scanned meanwhile
		return kernel.STATUS_SUCCESS
	}
	deviceType := fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM
	if props, st := d.fm.GetVolumeProperties(objs.Volume); st == kernel.STATUS_SUCCESS {
		deviceType = props.DeviceType
	}
	st := d.scanInUser(data, objs, major, deviceType, sctx)
	if st != kernel.STATUS_SUCCESS {
		d.dbgPrint("AvScan: no verdict for %v: %v", objs.FileObject, st)
	}
	return st
}

// scanInUser asks the user scanner (AvScanInUser): StartScanning with a timeout, whose reply is
// the worker's thread id; then the wait for the verdict, as long again; on a timeout an
// AbortScanning to the worker, one more second, and the filter finishes the scan itself.
func (d *Driver) scanInUser(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, major driverapi.MajorFunction,
	deviceType fsys.DeviceType, sctx *streamContext) kernel.NTSTATUS {
	sc := &scanContext{instance: objs.Instance, fileObject: objs.FileObject, major: major, done: make(chan struct{})}
	d.mu.Lock()
	if d.unloading {
		d.mu.Unlock()
		return kernel.STATUS_FLT_DELETING_OBJECT
	}
	d.lastID++
	sc.id = d.lastID
	d.scans[sc.id] = sc
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.scans, sc.id)
		d.mu.Unlock()
		// A scan that ended without a verdict leaves the file to be scanned again (the C
		// sample left it "scanning": neither to be scanned nor infected).
		sctx.casState(stateScanning, stateModified)
	}()

	reason := avscanproto.OnOpen
	if major == driverapi.IRP_MJ_CLEANUP {
		reason = avscanproto.OnCleanup
	}
	timeout := d.scanTimeout(deviceType)
	msg := avscanproto.Notification{Message: avscanproto.StartScanning, Reason: reason, ScanId: sc.id}.Encode()
	reply := make([]byte, avscanproto.ReplySize)
	n := uint32(len(reply))
	d.stats.requested.Add(1)
	st := d.fm.SendMessage(data.Context(), d.filter, &d.clients[avscanproto.ForScan], msg, reply, &n,
		driverapi.RelativeTimeout(timeout))
	if st != kernel.STATUS_SUCCESS { // STATUS_TIMEOUT included: nobody took the scan
		if st != kernel.STATUS_PORT_DISCONNECTED && st != kernel.STATUS_TIMEOUT {
			d.dbgPrint("AvScanInUser: FltSendMessage: %v", st)
		}
		return st
	}
	d.stats.acked.Add(1)
	tid, _ := avscanproto.DecodeReply(reply[:n])
	sc.setThreadID(tid)

	st = waitEvent(data.Context(), sc.done, timeout)
	if st != kernel.STATUS_SUCCESS {
		// The thread is terminating, or the verdict did not come in time: tell the worker,
		// give it a second, then finish the scan here.
		d.stats.timeouts.Add(1)
		stAbort := d.sendAbortToUser(tid, sc.id)
		if stAbort == kernel.STATUS_SUCCESS {
			// A non-alertable wait: it runs even when the thread is terminating.
			stAbort = waitEvent(context.Background(), sc.done, AbortTimeout)
		}
		if stAbort != kernel.STATUS_SUCCESS {
			d.stats.abandoned.Add(1)
			d.finalizeScanAndSection(sc)
		}
	}
	if !st.IsSuccess() && major == driverapi.IRP_MJ_CREATE {
		d.cancelFileOpen(data, objs, st)
	}
	return st
}

// sendAbortToUser sends AbortScanning for a scan to the abort listener (AvSendAbortToUser):
// one-way, with a 1 s timeout.
func (d *Driver) sendAbortToUser(threadID uint32, scanID int64) kernel.NTSTATUS {
	msg := avscanproto.Notification{Message: avscanproto.AbortScanning, ScanId: scanID, ScanThreadId: threadID}.Encode()
	st := d.fm.SendMessage(context.Background(), d.filter, &d.clients[avscanproto.ForAbort], msg, nil, nil,
		driverapi.RelativeTimeout(AbortTimeout))
	if st == kernel.STATUS_SUCCESS {
		d.stats.aborts.Add(1)
	} else if st != kernel.STATUS_PORT_DISCONNECTED && st != kernel.STATUS_TIMEOUT {
		d.dbgPrint("AvSendAbortToUser: FltSendMessage: %v", st)
	}
	return st
}

// abortScansOf aborts the scans in flight on an instance that is being torn down: each
// worker is told; a scan nobody could be told about is finished here. The list is copied
// first: no lock is held while sending (the C sample held the list's lock, which
// MessageNotify needs, for up to a second per scan).
func (d *Driver) abortScansOf(inst driverapi.Instance) {
	d.mu.Lock()
	var mine []*scanContext
	for _, sc := range d.scans {
		if sc.instance == inst {
			mine = append(mine, sc)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(mine, func(a, b *scanContext) int { return cmp.Compare(a.id, b.id) })
	for _, sc := range mine {
		if st := d.sendAbortToUser(sc.getThreadID(), sc.id); st != kernel.STATUS_SUCCESS {
			d.stats.abandoned.Add(1)
			d.finalizeScanAndSection(sc)
		}
	}
}
