// Package scanuser is the user-mode half of the scanner sample (scanUser.c): the service that
// scans what the scanner filter sends and answers with a verdict. It is written the way the C
// service is, with the faithful calls of package fltlib, so it runs unchanged on Windows against
// the WDK scanner driver (fltlib.System()) and here against the Go port (a *harness.Process):
//
//  1. FilterConnectCommunicationPort(`\ScannerPort`) with no connection context;
//  2. CreateIoCompletionPort on the connection handle;
//  3. N worker goroutines (threads, default 2, at most 64), and for each of them M overlapped
//     FilterGetMessage requests outstanding (default 5), each with its own buffer
//     (FILTER_MESSAGE_HEADER + SCANNER_NOTIFICATION) and OVERLAPPED;
//  4. each worker loops: GetQueuedCompletionStatus (a completion of any of the Gets: they
//     complete in any order), scan BytesToScan bytes of Contents for the 4 bytes `foul`,
//     FilterReplyMessage with {Status 0, MessageId, SafeToOpen} (17 bytes), and re-arm the
//     Get whose completion it took;
//  5. a failed completion ends the worker: E_HANDLE (the connection ended from the kernel
//     side) means the filter is unloading; ERROR_OPERATION_ABORTED follows Stop. When every
//     worker has ended, the port and completion handles are closed and Wait returns.
//
// Differences from the C program (decisions):
//   - A reply that no sender waits for (ERROR_FLT_NO_WAITER_FOR_REPLY: the requestor's
//     thread ended while the file was being scanned) does not end the worker; it is counted
//     and the Get re-armed. The C worker exits on it, so a few such races leave the service
//     connected but deaf, and every scanned open then waits forever.
//   - A notification whose BytesToScan exceeds 1024 (the C filter's unclamped count on a
//     large-sector volume) is not trusted: the 1024 bytes of Contents are scanned and the
//     message is counted as bad. The C program scans past its buffer.
//   - Stop closes the connection handle (the pending Gets complete with
//     ERROR_OPERATION_ABORTED and the workers end); the C program has no clean stop.
package scanuser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
)

// Defaults and limits of the command line (scanuser [requests per thread] [threads]).
const (
	DefaultRequestCount = 5
	DefaultThreadCount  = 2
	MaxThreadCount      = 64
)

// FoulString is what the service looks for.
const FoulString = "foul"

// Options configure the service. The zero value gives the defaults.
type Options struct {
	// Requests is the number of overlapped Gets each worker keeps outstanding (0: 5).
	Requests int
	// Threads is the number of worker goroutines, 1 to 64 (0: 2).
	Threads int
	// Scan is the scan engine: it reports whether data is foul. nil: ScanBuffer. It runs on
	// the worker goroutines, possibly several at once.
	Scan func(data []byte) (foul bool)
}

// ErrInvalidOptions is returned by Start for options out of range (the C program prints its
// usage).
var ErrInvalidOptions = fmt.Errorf("scanuser: usage: requests per thread > 0, threads 1-%d: %w", MaxThreadCount, kernel.E_INVALIDARG)

// Stats counts what the service did.
type Stats struct {
	Messages       int64  // notifications received and answered
	Foul           int64  // answered SafeToOpen = false
	BadMessages    int64  // malformed notifications (short, or BytesToScan > 1024)
	LateReplies    int64  // replies no sender waited for any more (ERROR_FLT_NO_WAITER_FOR_REPLY)
	MaxBytesToScan uint32 // the largest BytesToScan received
}

// message is SCANNER_MESSAGE: the Get buffer (FILTER_MESSAGE_HEADER + SCANNER_NOTIFICATION)
// and its OVERLAPPED.
type message struct {
	buf []byte
	ov  fltlib.Overlapped
}

// Service is a running scanner service.
type Service struct {
	b          fltlib.Backend
	port       kernel.Handle
	completion kernel.Handle
	scan       func([]byte) bool
	// messages maps an OVERLAPPED back to its message (CONTAINING_RECORD in C). Written
	// before the workers start, read-only afterwards.
	messages map[*fltlib.Overlapped]*message

	closePort sync.Once
	stopping  atomic.Bool
	done      chan struct{}

	mu     sync.Mutex
	result error // the first worker's reason to stop, nil for Stop

	messagesN, foul, bad, late atomic.Int64
	maxBytes                   atomic.Uint32
}

// Start connects to the scanner filter through backend b (a *harness.Process in a test,
// fltlib.System() on Windows) and starts the workers; when ctx ends, the service stops as with
// Stop. Errors: ctx's error if it is already done; options out of range (ErrInvalidOptions,
// wrapping E_INVALIDARG); the connect's HRESULT, wrapped:
// HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) when the filter is not loaded, E_ACCESSDENIED for a
// process that is not SYSTEM or an administrator, HRESULT_FROM_WIN32(ERROR_CONNECTION_COUNT_LIMIT)
// when another scanner is connected.
func Start(ctx context.Context, b fltlib.Backend, opts Options) (*Service, error) {
	if b == nil {
		return nil, fmt.Errorf("scanuser: no backend: %w", kernel.E_INVALIDARG)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scanuser: %w", err)
	}
	p := b
	o := opts
	if o.Requests == 0 {
		o.Requests = DefaultRequestCount
	}
	if o.Threads == 0 {
		o.Threads = DefaultThreadCount
	}
	if o.Requests < 0 || o.Threads < 0 || o.Threads > MaxThreadCount {
		return nil, ErrInvalidOptions
	}
	if o.Scan == nil {
		o.Scan = ScanBuffer
	}

	port, hr := p.FilterConnectCommunicationPort(scannerproto.PortName, 0, nil, 0, nil)
	if hr.Failed() {
		return nil, fmt.Errorf("scanuser: connecting to %s: %w", scannerproto.PortName, hr)
	}
	completion, err := p.CreateIoCompletionPort(port, 0, 0, uint32(o.Threads))
	if err != nil {
		_ = p.CloseHandle(port)
		return nil, fmt.Errorf("scanuser: creating the completion port: %w", err)
	}
	s := &Service{b: b, port: port, completion: completion, scan: o.Scan,
		messages: make(map[*fltlib.Overlapped]*message, o.Threads*o.Requests), done: make(chan struct{})}
	msgs := make([]*message, o.Threads*o.Requests)
	for i := range msgs {
		m := &message{buf: make([]byte, scannerproto.MessageSize)}
		msgs[i] = m
		s.messages[&m.ov] = m
	}

	var workers sync.WaitGroup
	for i := range o.Threads {
		workers.Go(s.worker)
		for _, m := range msgs[i*o.Requests : (i+1)*o.Requests] {
			if hr := p.FilterGetMessage(port, m.buf, &m.ov); hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
				// Closing the completion port wakes the workers with ERROR_ABANDONED_WAIT_0;
				// closing the connection completes the Gets already issued.
				s.stopping.Store(true)
				s.closeConnection()
				_ = p.CloseHandle(completion)
				workers.Wait()
				close(s.done)
				return nil, fmt.Errorf("scanuser: FilterGetMessage: %w", hr)
			}
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Stop() })
	go func() {
		workers.Wait()
		stop()
		s.closeConnection()
		_ = p.CloseHandle(s.completion)
		close(s.done)
	}()
	return s, nil
}

// worker is ScannerWorker: take a completion, scan, reply, re-arm the Get.
func (s *Service) worker() {
	p := s.b
	for {
		n, _, ov, err := p.GetQueuedCompletionStatus(s.completion, fltlib.INFINITE)
		if err != nil {
			s.stopped(err)
			return
		}
		m := s.messages[ov]
		if m == nil {
			s.stopped(fmt.Errorf("scanuser: a completion of an unknown request: %w", kernel.E_FAIL))
			return
		}
		hdr, _ := driverapi.ParseFilterMessageHeader(m.buf)
		safe := s.scanMessage(driverapi.FilterMessagePayload(m.buf, n))

		reply := make([]byte, scannerproto.ReplyMessageSize)
		driverapi.FilterReplyHeader{Status: kernel.STATUS_SUCCESS, MessageId: hdr.MessageId}.Put(reply)
		copy(driverapi.FilterReplyPayload(reply), scannerproto.EncodeReply(safe))
		switch hr := p.FilterReplyMessage(s.port, reply); hr {
		case kernel.S_OK:
		case kernel.ERROR_FLT_NO_WAITER_FOR_REPLY:
			s.late.Add(1) // the sender gave up (its thread ended): keep serving
		default:
			s.stopped(hr)
			return
		}
		if hr := p.FilterGetMessage(s.port, m.buf, &m.ov); hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
			s.stopped(hr)
			return
		}
	}
}

// scanMessage decodes a notification, scans it and returns SafeToOpen.
func (s *Service) scanMessage(payload []byte) bool {
	s.messagesN.Add(1)
	n, err := scannerproto.DecodeNotification(payload)
	if err != nil {
		s.bad.Add(1)
		if errors.Is(err, scannerproto.ErrShortNotification) {
			return true // nothing to scan
		}
	}
	for { // record the largest BytesToScan
		old := s.maxBytes.Load()
		if n.BytesToScan <= old || s.maxBytes.CompareAndSwap(old, n.BytesToScan) {
			break
		}
	}
	if s.scan(n.Data()) {
		s.foul.Add(1)
		return false
	}
	return true
}

// stopped records why a worker ended: E_HANDLE is the filter unloading; anything after Stop
// is the stop itself.
func (s *Service) stopped(err error) {
	if s.stopping.Load() {
		return
	}
	var hr kernel.HRESULT
	if we, ok := err.(kernel.Win32Error); ok {
		hr = kernel.HResultFromWin32(we)
	} else if h, ok := err.(kernel.HRESULT); ok {
		hr = h
	}
	if hr != 0 {
		err = hr
	}
	s.setResult(err)
}

func (s *Service) setResult(err error) {
	s.mu.Lock()
	if s.result == nil {
		s.result = err
	}
	s.mu.Unlock()
}

func (s *Service) closeConnection() {
	s.closePort.Do(func() { _ = s.b.CloseHandle(s.port) })
}

// Stop stops the service: it closes the connection handle (the pending Gets complete with
// ERROR_OPERATION_ABORTED, the filter's DisconnectNotify runs) and waits for the workers. It
// returns what Wait returns. Close the files the service may still be asked to scan before
// (their cleanup sends with no timeout): after Stop the filter allows everything.
func (s *Service) Stop() error {
	s.stopping.Store(true)
	s.closeConnection()
	return s.Wait()
}

// Wait waits until every worker has ended and the handles are closed. It returns E_HANDLE
// when the filter ended the connection (it is unloading), nil when the service was stopped
// with Stop, or the HRESULT of another failure.
func (s *Service) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.result
}

// Done is closed when the service has stopped.
func (s *Service) Done() <-chan struct{} { return s.done }

// Port returns the connection handle (in the service's process).
func (s *Service) Port() kernel.Handle { return s.port }

// Backend returns the backend the service runs on.
func (s *Service) Backend() fltlib.Backend { return s.b }

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	return Stats{Messages: s.messagesN.Load(), Foul: s.foul.Load(), BadMessages: s.bad.Load(),
		LateReplies: s.late.Load(), MaxBytesToScan: s.maxBytes.Load()}
}

// ScanBuffer is the sample's scan: it reports whether data contains FoulString.
func ScanBuffer(data []byte) bool {
	return bytes.Contains(data, []byte(FoulString))
}
