// Package avscanuser is the user-mode half of the avscan sample (user/userscan.c): the scanner
// service that takes scan requests from the avscan filter, reads the files through the sections
// the filter makes, and sends the verdicts. It is written the way the C service is, with the
// faithful calls of package fltlib, so it runs unchanged on Windows against the WDK avscan
// driver (fltlib.System()) and here against the Go port (a *harness.Process):
//
//  1. FilterConnectCommunicationPort(`\MicrosoftAvSampleFilterScanPort`) with the connection
//     context {Type: ForScan}, and CreateIoCompletionPort on that handle;
//  2. 6 worker goroutines (threads) and 6 overlapped FilterGetMessage requests outstanding on
//     the scan port, one buffer and OVERLAPPED each (FILTER_MESSAGE_HEADER +
//     AV_SCANNER_NOTIFICATION);
//  3. a worker takes any completion (GetQueuedCompletionStatus), replies to StartScanning at
//     once with its thread id (the reply is only an acknowledgement), then asks the filter for
//     a section (FilterSendMessage CreateSectionForDataScan; the answer is a section handle in
//     this process), maps it (MapViewOfFile), searches it for the signature
//     (avscanproto.Pattern, "message to be found") while watching its abort flag, closes the
//     section handle and sends the verdict (FilterSendMessage CloseSectionForDataScan with
//     Infected, Clean, or Undetermined when aborted); then it re-arms the Get it took;
//  4. an abort listener goroutine connects to `\MicrosoftAvSampleFilterAbortPort` ({Type:
//     ForAbort}) and reads it synchronously. AbortScanning names a worker thread and a scan:
//     the worker's abort flag is set only if that worker is still on that scan (a late abort
//     must not cancel the worker's next scan). FilterUnloading: the workers are cancelled
//     (abort flags, CancelIoEx on the scan port) and awaited, the listener replies with its
//     thread id, and every handle is closed.
//
// Thread ids are made up (workerThreadID, listenerThreadID); the filter only echoes them.
//
// Differences from the C program (decisions and fixes; the tests are named in the README):
//   - The abort listener stops when its Get fails with anything (E_HANDLE: the filter is gone).
//     The C listener retries every error but ERROR_OPERATION_ABORTED, so once the filter has
//     torn the connection down it spins forever.
//   - A worker whose acknowledgement comes too late (ERROR_FLT_NO_WAITER_FOR_REPLY: the filter
//     timed out and abandoned the scan) skips that scan and re-arms its Get. The C worker exits
//     on any reply failure, and the service loses a worker each time.
//   - A worker checks "finalized" and re-arms its Get under the lock the cancellation holds,
//     so no Get can be armed after CancelIoEx (the C check-then-arm race could leave a Get
//     pending and the cancellation waiting forever for a worker; there is no interleaving to
//     force in a test).
//   - The search of a buffer shorter than the signature finds nothing (the C computes an end
//     pointer before the start; its view is at least a page, so it never hit it).
//   - Stop also ends the abort listener (it closes the listener's handle); the C program
//     leaves that thread to process exit.
//
// Knobs for tests (Options): HoldVerdicts keeps the verdicts instead of sending them (the
// filter then times out; ReleaseVerdict sends one late), ScanDelay makes each scan take that
// long (fake time) unless aborted, BeforeAck and BeforeUnloadReply run before those replies,
// NoAbortListener and IgnoreUnloading change the abort listener.
package avscanuser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
)

// DefaultWorkers is USER_SCAN_THREAD_COUNT.
const DefaultWorkers = 6

// Options configure the scanner. The zero value is the C program.
type Options struct {
	// Workers is the number of worker goroutines, each with one outstanding Get (0: 6).
	Workers int
	// HoldVerdicts: a worker acknowledges, fetches and scans, but keeps the verdict instead
	// of sending it (HeldVerdicts, ReleaseVerdict).
	HoldVerdicts bool
	// ScanDelay makes each scan last this long before the search (an abort ends the wait).
	ScanDelay time.Duration
	// BeforeAck, if set, runs on the worker before it acknowledges a StartScanning (a test
	// may sleep in it, in fake time, to make the acknowledgement late).
	BeforeAck func(n avscanproto.Notification)
	// BeforeUnloadReply, if set, runs on the abort listener after the workers stopped and
	// before it replies to FilterUnloading.
	BeforeUnloadReply func()
	// NoAbortListener starts no abort listener.
	NoAbortListener bool
	// IgnoreUnloading: the abort listener reads FilterUnloading and never replies (and goes on
	// listening).
	IgnoreUnloading bool
}

// Verdict is a CloseSectionForDataScan the scanner sent (or holds).
type Verdict struct {
	ScanId int64
	Reason avscanproto.Reason
	Result avscanproto.ScanResult
	// HR is FilterSendMessage's result (S_OK while held).
	HR kernel.HRESULT
}

// Abort is an AbortScanning the listener received.
type Abort struct {
	ScanId       int64
	ScanThreadId uint32
	// Matched: the named worker was on that scan, and its abort flag was set.
	Matched bool
}

// Stats is what the scanner did.
type Stats struct {
	// Requests are the StartScanning notifications the workers received.
	Requests []avscanproto.Notification
	// AckFailures are the acknowledgements FilterReplyMessage refused.
	AckFailures []kernel.HRESULT
	// SectionFailures are the CreateSectionForDataScan requests that failed.
	SectionFailures []kernel.HRESULT
	// Verdicts are the verdicts sent, in order.
	Verdicts []Verdict
	// Aborts are the AbortScanning messages received.
	Aborts []Abort
	// Unloading counts the FilterUnloading messages received; UnloadReplyHR is the result of
	// the reply to the last one.
	Unloading     int
	UnloadReplyHR kernel.HRESULT
	// ListenerHR is why the abort listener stopped (S_OK: it has not, or it stopped after
	// FilterUnloading or Stop).
	ListenerHR kernel.HRESULT
}

// worker is SCANNER_THREAD_CONTEXT.
type worker struct {
	tid uint32

	mu      sync.Mutex
	scanID  int64
	aborted atomic.Bool
	wake    chan struct{} // capacity 1: an abort wakes a ScanDelay
}

func (w *worker) abort() {
	w.aborted.Store(true)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// message is SCANNER_MESSAGE: a Get's buffer and its OVERLAPPED.
type message struct {
	buf []byte
	ov  *fltlib.Overlapped
}

// Service is a running scanner service.
type Service struct {
	p    fltlib.Backend
	opts Options

	scanPort   kernel.Handle
	completion kernel.Handle
	abortPort  atomic.Uint64 // kernel.Handle of the abort connection, 0 if none or closed
	stopping   atomic.Bool
	workers    []*worker
	msgs       map[*fltlib.Overlapped]*message

	mu        sync.Mutex // the cancellation lock: finalized and the re-arming of Gets
	finalized bool

	wg        sync.WaitGroup // the workers
	listener  chan struct{}  // closed when the abort listener ends
	done      chan struct{}  // closed when everything is closed
	closeOnce sync.Once

	statsMu sync.Mutex
	stats   Stats
	held    map[int64]heldVerdict
}

type heldVerdict struct {
	cmd    avscanproto.CommandMessage
	reason avscanproto.Reason
}

// Start runs UserScanInit through backend b (a *harness.Process in a test, fltlib.System() on
// Windows): it connects the scan port, makes the completion port, starts the workers and the
// abort listener and arms the Gets. When ctx ends, the service stops as with Stop. The error
// wraps the failing HRESULT (e.g. 0x80070002 when the filter is not loaded, 0x80070005 for a
// process that is not an administrator), or ctx's error if it is already done.
func Start(ctx context.Context, b fltlib.Backend, opts Options) (*Service, error) {
	if b == nil {
		return nil, fmt.Errorf("avscanuser: no backend: %w", kernel.E_INVALIDARG)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("avscanuser: %w", err)
	}
	p := b
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	s := &Service{p: p, opts: opts, msgs: make(map[*fltlib.Overlapped]*message),
		listener: make(chan struct{}), done: make(chan struct{}), held: make(map[int64]heldVerdict)}
	cc := avscanproto.ConnectionContext{Type: avscanproto.ForScan}.Encode()
	h, hr := p.FilterConnectCommunicationPort(avscanproto.ScanPortName, 0, cc, len(cc), nil)
	if hr != kernel.S_OK {
		return nil, fmt.Errorf("avscanuser: connect %s: %w", avscanproto.ScanPortName, hr)
	}
	s.scanPort = h
	cp, err := p.CreateIoCompletionPort(h, 0, 0, uint32(opts.Workers))
	if err != nil {
		p.CloseHandle(h)
		return nil, fmt.Errorf("avscanuser: CreateIoCompletionPort: %w", err)
	}
	s.completion = cp
	for i := range opts.Workers {
		s.workers = append(s.workers, &worker{tid: workerThreadID(i), wake: make(chan struct{}, 1)})
		m := &message{buf: make([]byte, avscanproto.MessageSize), ov: &fltlib.Overlapped{}}
		s.msgs[m.ov] = m
	}
	if opts.NoAbortListener {
		close(s.listener)
	} else {
		ready := make(chan struct{})
		go s.listenAbort(ready)
		<-ready // the listener is connected (or failed to) before any scan can need it
	}
	s.wg.Add(len(s.workers))
	for _, w := range s.workers {
		go s.work(w)
	}
	go func() { // when the workers and the listener have ended by themselves, close up
		s.wg.Wait()
		<-s.listener
		s.closePorts()
	}()
	// Pump the Gets into the completion port's queue.
	for _, m := range s.msgs {
		if hr := p.FilterGetMessage(h, m.buf, m.ov); hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
			s.Stop()
			return nil, fmt.Errorf("avscanuser: FilterGetMessage: %w", hr)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Stop() })
	go func() {
		<-s.done
		stop()
	}()
	return s, nil
}

// Backend returns the backend the service runs on.
func (s *Service) Backend() fltlib.Backend { return s.p }

// ThreadIDs returns the workers' thread ids.
func (s *Service) ThreadIDs() []uint32 {
	ids := make([]uint32, len(s.workers))
	for i, w := range s.workers {
		ids[i] = w.tid
	}
	return ids
}

// Done is closed when the scanner has stopped and closed its handles: after FilterUnloading
// (the filter is unloading), after Stop, or when its connections end.
func (s *Service) Done() <-chan struct{} { return s.done }

// Stats returns a copy of what the scanner did so far.
func (s *Service) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats
	st.Requests = append([]avscanproto.Notification(nil), st.Requests...)
	st.AckFailures = append([]kernel.HRESULT(nil), st.AckFailures...)
	st.SectionFailures = append([]kernel.HRESULT(nil), st.SectionFailures...)
	st.Verdicts = append([]Verdict(nil), st.Verdicts...)
	st.Aborts = append([]Abort(nil), st.Aborts...)
	return st
}

func (s *Service) record(f func(st *Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	s.statsMu.Unlock()
}

// HeldVerdicts returns the ids of the scans whose verdicts are held (Options.HoldVerdicts).
func (s *Service) HeldVerdicts() []int64 {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	ids := make([]int64, 0, len(s.held))
	for id := range s.held {
		ids = append(ids, id)
	}
	return ids
}

// ErrNotHeld is ReleaseVerdict's error for a scan whose verdict is not held.
var ErrNotHeld = errors.New("avscanuser: no verdict held for that scan")

// ReleaseVerdict sends a held verdict now (CloseSectionForDataScan) and returns
// FilterSendMessage's HRESULT: HRESULT_FROM_WIN32(ERROR_NOT_FOUND) (0x80070490) once the
// filter has given up on the scan.
func (s *Service) ReleaseVerdict(scanID int64) (kernel.HRESULT, error) {
	s.statsMu.Lock()
	hv, ok := s.held[scanID]
	delete(s.held, scanID)
	s.statsMu.Unlock()
	if !ok {
		return 0, ErrNotHeld
	}
	return s.sendVerdict(hv.cmd, hv.reason), nil
}

func (s *Service) sendVerdict(cmd avscanproto.CommandMessage, reason avscanproto.Reason) kernel.HRESULT {
	var n uint32
	hr := s.p.FilterSendMessage(s.scanPort, cmd.Encode(), nil, &n)
	s.record(func(st *Stats) {
		st.Verdicts = append(st.Verdicts, Verdict{ScanId: cmd.ScanId, Reason: reason, Result: cmd.ScanResult, HR: hr})
	})
	return hr
}

// work is UserScanWorker.
func (s *Service) work(w *worker) {
	defer s.wg.Done()
	for {
		_, _, ov, err := s.p.GetQueuedCompletionStatus(s.completion, fltlib.INFINITE)
		if err != nil {
			return // E_HANDLE: the filter is unloading; aborted: we are stopping; abandoned: the port closed
		}
		m := s.msgs[ov]
		if m == nil {
			return
		}
		hdr, _ := driverapi.ParseFilterMessageHeader(m.buf)
		n, err := avscanproto.DecodeNotification(m.buf[driverapi.FilterMessageHeaderSize:])
		if err == nil && n.Message == avscanproto.StartScanning {
			w.mu.Lock()
			w.aborted.Store(false)
			select { // a stale abort wake-up
			case <-w.wake:
			default:
			}
			w.scanID = n.ScanId
			w.mu.Unlock()
			s.record(func(st *Stats) { st.Requests = append(st.Requests, n) })
			if s.opts.BeforeAck != nil {
				s.opts.BeforeAck(n)
			}
			hr := s.p.FilterReplyMessage(s.scanPort, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, avscanproto.EncodeReply(w.tid)))
			if hr == kernel.S_OK {
				s.handleStartScan(n, w)
			} else {
				s.record(func(st *Stats) { st.AckFailures = append(st.AckFailures, hr) })
				if hr != kernel.ERROR_FLT_NO_WAITER_FOR_REPLY {
					return
				}
			}
		}
		// Re-arm the Get, unless we are being cancelled (under the cancellation lock).
		s.mu.Lock()
		if s.finalized {
			s.mu.Unlock()
			return
		}
		hr := s.p.FilterGetMessage(s.scanPort, m.buf, m.ov)
		s.mu.Unlock()
		if hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
			return
		}
	}
}

// handleStartScan is UserScanHandleStartScanMsg: section, map, search, verdict.
func (s *Service) handleStartScan(n avscanproto.Notification, w *worker) {
	cmd := avscanproto.CommandMessage{Command: avscanproto.CreateSectionForDataScan, ScanId: n.ScanId, ScanThreadId: w.tid}
	out := make([]byte, avscanproto.HandleSize)
	var got uint32
	hr := s.p.FilterSendMessage(s.scanPort, cmd.Encode(), out, &got)
	if hr != kernel.S_OK {
		s.record(func(st *Stats) { st.SectionFailures = append(st.SectionFailures, hr) })
		return
	}
	section, _ := avscanproto.DecodeHandle(out[:got])
	cmd.ScanResult = avscanproto.Undetermined
	if view, err := s.p.MapViewOfFile(section, fltlib.FILE_MAP_READ, 0, 0, 0); err == nil {
		defer s.p.UnmapViewOfFile(view)
		if s.opts.ScanDelay > 0 {
			t := time.NewTimer(s.opts.ScanDelay)
			select {
			case <-t.C:
			case <-w.wake:
			}
			t.Stop()
		}
		cmd.ScanResult = ScanMemory(view, &w.aborted)
	}
	s.p.CloseHandle(section)
	cmd.Command = avscanproto.CloseSectionForDataScan
	if s.opts.HoldVerdicts {
		s.statsMu.Lock()
		s.held[n.ScanId] = heldVerdict{cmd: cmd, reason: n.Reason}
		s.statsMu.Unlock()
		return
	}
	s.sendVerdict(cmd, n.Reason)
}

// ScanMemory is UserScanMemoryStream: it searches data for avscanproto.Pattern, checking
// *abort before each position. Aborted, it clears the flag and returns Undetermined.
func ScanMemory(data []byte, abort *atomic.Bool) avscanproto.ScanResult {
	pattern := avscanproto.Pattern()
	for i := 0; i+len(pattern) <= len(data); i++ {
		if abort != nil && abort.Load() {
			abort.Store(false)
			return avscanproto.Undetermined
		}
		if bytes.Equal(data[i:i+len(pattern)], pattern) {
			return avscanproto.Infected
		}
	}
	if abort != nil && abort.Load() {
		abort.Store(false)
		return avscanproto.Undetermined
	}
	return avscanproto.Clean
}

// listenAbort is UserScanListenAbortProc.
func (s *Service) listenAbort(ready chan<- struct{}) {
	defer close(s.listener)
	ctx := avscanproto.ConnectionContext{Type: avscanproto.ForAbort}.Encode()
	h, hr := s.p.FilterConnectCommunicationPort(avscanproto.AbortPortName, 0, ctx, len(ctx), nil)
	if hr != kernel.S_OK {
		s.record(func(st *Stats) { st.ListenerHR = hr })
		close(ready)
		return
	}
	s.abortPort.Store(uint64(h)) // before Start returns: Stop must find it
	close(ready)
	tid := listenerThreadID
	buf := make([]byte, avscanproto.MessageSize)
	for {
		hr := s.p.FilterGetMessage(h, buf, nil)
		if hr != kernel.S_OK {
			if hr != kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED) && !s.stopping.Load() {
				s.record(func(st *Stats) { st.ListenerHR = hr })
			}
			break // the C listener retries every error but "aborted", forever
		}
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		n, err := avscanproto.DecodeNotification(buf[driverapi.FilterMessageHeaderSize:])
		if err != nil {
			continue
		}
		switch n.Message {
		case avscanproto.AbortScanning:
			matched := false
			for _, w := range s.workers {
				if w.tid != n.ScanThreadId {
					continue
				}
				w.mu.Lock() // so that the worker cannot move to its next scan meanwhile
				if w.scanID == n.ScanId {
					w.abort()
					matched = true
				}
				w.mu.Unlock()
			}
			s.record(func(st *Stats) {
				st.Aborts = append(st.Aborts, Abort{ScanId: n.ScanId, ScanThreadId: n.ScanThreadId, Matched: matched})
			})
		case avscanproto.FilterUnloading:
			s.record(func(st *Stats) { st.Unloading++ })
			if s.opts.IgnoreUnloading {
				continue
			}
			s.synchronizedCancel()
			if s.opts.BeforeUnloadReply != nil {
				s.opts.BeforeUnloadReply()
			}
			hr := s.p.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, avscanproto.EncodeReply(tid)))
			s.record(func(st *Stats) { st.UnloadReplyHR = hr })
			s.closeAbortPort()
			s.closePorts()
			return
		}
	}
	s.closeAbortPort()
}

// closeAbortPort closes the abort listener's handle once (the listener when it ends, or
// Stop to end it: its pending Get completes as aborted).
func (s *Service) closeAbortPort() {
	if h := s.abortPort.Swap(0); h != 0 {
		s.p.CloseHandle(kernel.Handle(h))
	}
}

// synchronizedCancel is UserScanSynchronizedCancel: every worker is told to stop (abort
// flags, CancelIoEx on the scan port: the pending Gets complete as aborted) and awaited.
func (s *Service) synchronizedCancel() {
	s.mu.Lock()
	s.finalized = true
	for _, w := range s.workers {
		w.abort()
	}
	s.p.CancelIoEx(s.scanPort, nil)
	s.mu.Unlock()
	s.wg.Wait()
}

// closePorts is UserScanClosePorts: the scan port and the completion port.
// A second caller waits until the first has closed them.
func (s *Service) closePorts() {
	s.closeOnce.Do(func() {
		s.p.CloseHandle(s.scanPort)
		s.p.CloseHandle(s.completion)
		close(s.done)
	})
}

// Stop is UserScanFinalize: it cancels and awaits the workers, ends the abort listener and
// closes every handle. It returns when everything has stopped; its error is always nil (the
// reasons the service ended are in Stats).
func (s *Service) Stop() error {
	s.stopping.Store(true)
	s.synchronizedCancel()
	s.closeAbortPort()
	<-s.listener
	s.closePorts()
	return nil
}

// workerThreadID and listenerThreadID are the made-up thread ids the service gives the filter.
func workerThreadID(i int) uint32 { return 0x1000 | uint32(4*(i+1)) }

const listenerThreadID uint32 = 0x1800

// IsFileModified asks the filter, through the query port, whether the file behind the handle
// file (of the process b stands for) is modified (not scanned since its last change). It
// connects ({Type: ForQuery}), sends IsFileModified and disconnects.
func IsFileModified(p fltlib.Backend, file kernel.Handle) (bool, kernel.HRESULT) {
	ctx := avscanproto.ConnectionContext{Type: avscanproto.ForQuery}.Encode()
	h, hr := p.FilterConnectCommunicationPort(avscanproto.QueryPortName, 0, ctx, len(ctx), nil)
	if hr != kernel.S_OK {
		return false, hr
	}
	defer p.CloseHandle(h)
	out := make([]byte, 8)
	var n uint32
	hr = p.FilterSendMessage(h, avscanproto.CommandMessage{Command: avscanproto.IsFileModified, FileHandle: file}.Encode(), out, &n)
	if hr != kernel.S_OK {
		return false, hr
	}
	return n >= 1 && out[0] != 0, kernel.S_OK
}
