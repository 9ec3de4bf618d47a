// Package minispyuser is the user-mode half of the minispy sample (minispy.exe), written
// the way the C program is: it connects to `\MiniSpyPort`, attaches the filter to volumes
// with FilterAttach, and runs one logging goroutine that polls the driver with
// FilterSendMessage(GetMiniSpyLog) into a 4 KiB pointer-aligned buffer, sleeping 200 ms
// whenever the log is empty. HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE) (E_HANDLE) means the
// driver unloaded: the goroutine stops.
//
// The records it retrieves are decoded (package minispyproto) and kept for the caller:
// Records returns them, WaitRecords waits for a number of them (in fake time under
// harness.Run), and Options.Output receives them as the sample's log-file lines
// (FormatRecord). Stop ends the goroutine and closes the port. It uses only package fltlib, so
// the same program runs on Windows against the WDK minispy driver (fltlib.System()).
//
//	spy, err := minispyuser.Start(ctx, proc, minispyuser.Options{})
//	spy.Attach("C:")
//	... file operations ...
//	recs, err := spy.WaitRecords(4, time.Second)
//	spy.Stop()
package minispyuser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
)

// Defaults of the C program (mspyLog.h, mspyLog.c).
const (
	// BufferSize is BUFFER_SIZE, the size of the logging thread's buffer.
	BufferSize = 4096
	// PollInterval is POLL_INTERVAL: the pause when the log is empty.
	PollInterval = 200 * time.Millisecond
)

// HResultNoMoreItems is HRESULT_FROM_WIN32(ERROR_NO_MORE_ITEMS) (0x80070103): what
// GetMiniSpyLog returns when the log is empty (STATUS_NO_MORE_ENTRIES in the kernel).
var HResultNoMoreItems = kernel.HResultFromWin32(kernel.ERROR_NO_MORE_ITEMS)

// ErrDriverUnloaded is why the logging goroutine stops when GetMiniSpyLog returns E_HANDLE.
var ErrDriverUnloaded = errors.New("minispyuser: the kernel component of minispy has unloaded")

// ErrTimeout is returned by WaitRecords when the records did not come in time.
var ErrTimeout = errors.New("minispyuser: timed out waiting for log records")

// Options configure a Service. The zero value gives the C program's behaviour.
type Options struct {
	// BufferSize is the size of the GetMiniSpyLog buffer (0: BufferSize).
	BufferSize int
	// PollInterval is the pause when the log is empty or on an error (0: PollInterval).
	PollInterval time.Duration
	// Output, if not nil, receives each record as a log-file line (FormatRecord) after the
	// header, the "M:" line of an overflow record, and the program's messages.
	Output io.Writer
	// NoPolling connects without starting the logging goroutine: the caller polls with
	// GetLog, or starts the goroutine later with StartPolling.
	NoPolling bool
}

// Service is a running minispy.exe: a connection to the driver's port and, once started, the
// logging goroutine.
type Service struct {
	p    fltlib.Backend
	port kernel.Handle
	opts Options

	mu         sync.Mutex
	records    []minispyproto.LogRecord
	changed    chan struct{} // closed (and replaced) whenever records are added
	unexpected []error       // unexpected HRESULTs and malformed answers
	didHeader  bool

	startOnce sync.Once
	stopOnce  sync.Once
	stop      chan struct{}
	done      chan struct{}
	err       error // why the goroutine ended; set before done is closed
	closeOnce sync.Once
	stopCtx   func() bool
}

// Start emulates the start of minispy.exe through backend b (a *harness.Process in a test,
// fltlib.System() on Windows): FilterConnectCommunicationPort(`\MiniSpyPort`) with no
// context, then the logging goroutine (unless opts.NoPolling). When ctx ends, the service
// stops as with Stop. The error wraps the connect's HRESULT: E_ACCESSDENIED for a standard
// user, HRESULT_FROM_WIN32(ERROR_CONNECTION_COUNT_LIMIT) when another program is connected,
// HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) when the driver is not loaded.
func Start(ctx context.Context, b fltlib.Backend, opts Options) (*Service, error) {
	if b == nil {
		return nil, fmt.Errorf("minispyuser: no backend: %w", kernel.E_INVALIDARG)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("minispyuser: %w", err)
	}
	h, hr := b.FilterConnectCommunicationPort(minispyproto.PortName, 0, nil, 0, nil)
	if hr.Failed() {
		return nil, fmt.Errorf("minispyuser: connecting to %s: %w", minispyproto.PortName, hr)
	}
	s := &Service{p: b, port: h, opts: opts, changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	if s.opts.BufferSize <= 0 {
		s.opts.BufferSize = BufferSize
	}
	if s.opts.PollInterval <= 0 {
		s.opts.PollInterval = PollInterval
	}
	if !opts.NoPolling {
		s.StartPolling()
	}
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Stop() })
	return s, nil
}

// Port returns the connection's handle, for calls of the test's own.
func (s *Service) Port() kernel.Handle { return s.port }

// Backend returns the backend the program runs on.
func (s *Service) Backend() fltlib.Backend { return s.p }

// Attach attaches the filter to a volume ("C:") as its default instance, as the program's
// "/a" command does (FilterAttach), and returns the instance's name.
func (s *Service) Attach(volume string) (string, kernel.HRESULT) {
	return s.p.FilterAttach(minispyproto.FilterName, volume, "")
}

// Detach detaches the filter's instance ("" for the default one) from a volume, as the "/d"
// command does (FilterDetach).
func (s *Service) Detach(volume, instance string) kernel.HRESULT {
	return s.p.FilterDetach(minispyproto.FilterName, volume, instance)
}

// Version asks the driver its version (GetMiniSpyVersion).
func (s *Service) Version() (minispyproto.Version, kernel.HRESULT) {
	out := make([]byte, minispyproto.VersionSize)
	var n uint32
	hr := s.p.FilterSendMessage(s.port, minispyproto.CommandMessage{Command: minispyproto.GetMiniSpyVersion}.Encode(), out, &n)
	if hr.Failed() {
		return minispyproto.Version{}, hr
	}
	v, err := minispyproto.DecodeVersion(out[:n])
	if err != nil {
		return minispyproto.Version{}, kernel.E_FAIL
	}
	return v, hr
}

// GetLog sends one GetMiniSpyLog into buf and decodes what came back. It returns the
// records, the byte count the driver reported, the HRESULT, and a decoding error (with the
// records before the bad one) if the answer is malformed.
func (s *Service) GetLog(buf []byte) ([]minispyproto.LogRecord, uint32, kernel.HRESULT, error) {
	var n uint32
	hr := s.p.FilterSendMessage(s.port, minispyproto.CommandMessage{Command: minispyproto.GetMiniSpyLog}.Encode(), buf, &n)
	if hr.Failed() {
		return nil, n, hr, nil
	}
	recs, err := minispyproto.DecodeRecords(buf[:n])
	return recs, n, hr, err
}

// StartPolling starts the logging goroutine (RetrieveLogRecords) of a service started with
// NoPolling. It runs until Stop or the driver unloading. Calling it again, or after Stop, does
// nothing.
func (s *Service) StartPolling() {
	s.startOnce.Do(func() { go s.retrieve() })
}

// retrieve is the logging goroutine.
func (s *Service) retrieve() {
	defer close(s.done)
	// A buffer from make of this size is 8-byte aligned, like the C program's array of PVOIDs:
	// the driver refuses a buffer that is not pointer-aligned.
	buf := make([]byte, s.opts.BufferSize)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		recs, n, hr, err := s.GetLog(buf)
		if hr.Failed() {
			if hr == kernel.E_HANDLE {
				s.printf("The kernel component of minispy has unloaded. Exiting\n")
				s.err = ErrDriverUnloaded
				return
			}
			if hr != HResultNoMoreItems {
				s.printf("UNEXPECTED ERROR received: %x\n", uint32(hr))
				s.noteUnexpected(fmt.Errorf("minispyuser: GetMiniSpyLog: %v", hr))
			}
			if !s.sleep() {
				return
			}
			continue
		}
		if err != nil {
			s.printf("UNEXPECTED LOG_RECORD: %v\n", err)
			s.noteUnexpected(err)
		}
		s.add(recs)
		if n == 0 && !s.sleep() {
			return
		}
	}
}

// sleep pauses for the poll interval; it reports false when Stop was called meanwhile.
func (s *Service) sleep() bool {
	t := time.NewTimer(s.opts.PollInterval)
	defer t.Stop()
	select {
	case <-s.stop:
		return false
	case <-t.C:
		return true
	}
}

func (s *Service) add(recs []minispyproto.LogRecord) {
	if len(recs) == 0 {
		return
	}
	s.mu.Lock()
	s.records = append(s.records, recs...)
	close(s.changed)
	s.changed = make(chan struct{})
	out := s.opts.Output
	if out != nil {
		if !s.didHeader {
			io.WriteString(out, Header)
			s.didHeader = true
		}
		for i := range recs {
			io.WriteString(out, FormatRecord(&recs[i]))
			if m := memoryLine(&recs[i]); m != "" {
				io.WriteString(out, m)
			}
		}
	}
	s.mu.Unlock()
}

func (s *Service) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Output != nil {
		fmt.Fprintf(s.opts.Output, format, args...)
	}
}

func (s *Service) noteUnexpected(err error) {
	s.mu.Lock()
	s.unexpected = append(s.unexpected, err)
	s.mu.Unlock()
}

// Records returns a copy of the records retrieved so far, in the order they came.
func (s *Service) Records() []minispyproto.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]minispyproto.LogRecord(nil), s.records...)
}

// Unexpected returns the unexpected errors the goroutine saw (HRESULTs other than "no more
// items" and E_HANDLE, malformed answers).
func (s *Service) Unexpected() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.unexpected...)
}

// WaitRecords waits until at least n records were retrieved and returns them all. It gives
// up after timeout (ErrTimeout) or when the goroutine ended (its reason, or ErrTimeout if it
// was stopped), returning what it has. Under harness.Run the timeout is fake time.
func (s *Service) WaitRecords(n int, timeout time.Duration) ([]minispyproto.LogRecord, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		if len(s.records) >= n {
			recs := append([]minispyproto.LogRecord(nil), s.records...)
			s.mu.Unlock()
			return recs, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.done:
			if recs := s.Records(); len(recs) >= n {
				return recs, nil
			}
			if s.err != nil {
				return s.Records(), s.err
			}
			return s.Records(), ErrTimeout
		case <-t.C:
			return s.Records(), ErrTimeout
		}
	}
}

// Done is closed when the logging goroutine has ended.
func (s *Service) Done() <-chan struct{} { return s.done }

// Err returns why the logging goroutine ended: ErrDriverUnloaded, or nil (Stop, or still
// running).
func (s *Service) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Stop asks the logging goroutine to end (the C program's CleaningUp flag), waits for it and
// closes the port handle. It returns Err, or the error of closing the handle. It may be called
// more than once (the port is closed once).
func (s *Service) Stop() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.startOnce.Do(func() { close(s.done) }) // never started: nothing to wait for
	<-s.done
	var err error
	s.closeOnce.Do(func() {
		if s.stopCtx != nil {
			s.stopCtx()
		}
		err = s.p.CloseHandle(s.port)
	})
	if err != nil {
		return err
	}
	return s.Err()
}
