// Package fltlibtest is the conformance suite of fltlib: the scenarios a service depends on,
// written once against fltlib.Backend and fltlib.Conn, so that the same checks run against the
// emulator (under go test) and against a real filter on Windows.
//
// The driver on the other side speaks the protocol of the WDK scanner sample (package
// scannerproto): when a process other than the connected service opens a scanned file, the
// driver sends the head of the file (a 1032-byte SCANNER_NOTIFICATION) and waits, with no
// timeout, for a one-byte SCANNER_REPLY; SafeToOpen 0 denies the open, and any send that does
// not return exactly STATUS_SUCCESS lets it through. On Windows that is the WDK's scanner.sys
// itself; under go test it is the Go port of the sample, or a scriptable Go model of it.
//
// What an environment cannot do is an optional capability ([Reloader], [DriverSender]); a
// scenario that needs one it lacks is skipped with the reason. Every scenario names the rules
// of SEMANTICS.md / docs/rules.md it checks and asserts exact HRESULTs, so a run on Windows
// also checks the emulator's decisions.
package fltlibtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
)

// Env is the world a run of the suite talks to.
type Env interface {
	// Backend is the backend under test. The suite connects through it as the service.
	Backend() fltlib.Backend
	// PortName is the driver's port (scannerproto.PortName for the scanner).
	PortName() string
	// Scan makes a process other than the service open a file whose first bytes are data.
	// The driver sends them to the connected service and waits for its verdict before the
	// open completes. Scan returns when the open completed: nil when it was allowed, an
	// error wrapping ERROR_ACCESS_DENIED when the verdict denied it. It is only called while
	// the suite holds a connection, and may be called from several goroutines at once.
	Scan(ctx context.Context, data []byte) error
}

// Reloader is an Env whose driver the test may unload.
type Reloader interface {
	Env
	// Reload unloads the driver as `fltmc unload` does (which ends every connection) and loads
	// it again, so later scenarios find the port. When this run may not unload the driver,
	// it returns an error wrapping errors.ErrUnsupported that says why, before touching it.
	Reload() error
}

// DriverSender is an Env whose driver the test can make call FltSendMessage at will.
type DriverSender interface {
	Env
	// DriverSend makes the driver send payload on the service's connection with a reply
	// buffer of replyCap bytes (replyCap < 0: no reply buffer, a one-way message) and a
	// relative timeout (0: none, wait forever). It returns FltSendMessage's status and the
	// reply bytes the driver got.
	DriverSend(ctx context.Context, payload []byte, replyCap int, timeout time.Duration) ([]byte, kernel.NTSTATUS)
}

// Capability is what a scenario needs of an Env beyond the core methods.
type Capability int

const (
	// Core: Backend, PortName and Scan.
	Core Capability = iota
	// CanReload: the Env is a Reloader.
	CanReload
	// CanDriverSend: the Env is a DriverSender.
	CanDriverSend
)

// Scenario is one check of the suite.
type Scenario struct {
	Name  string
	Needs Capability
	Run   func(t *testing.T, env Env)
}

// SkipReason says why env cannot play s, "" when it can. It only looks at env's type, so a
// nil pointer of the Env's type will do, for a runner that decides before building a world.
func (s Scenario) SkipReason(env Env) string {
	switch s.Needs {
	case CanReload:
		if _, ok := env.(Reloader); !ok {
			return "this environment cannot unload its driver"
		}
	case CanDriverSend:
		if _, ok := env.(DriverSender); !ok {
			return "this environment cannot make its driver call FltSendMessage at will with a timeout or " +
				"reply buffer of the test's choosing (the WDK scanner sends only when a file opens, with a " +
				"1-byte reply and no timeout): checked against the emulator's scriptable scanner model"
		}
	}
	return ""
}

// Scenarios returns the suite, in the order Run runs it.
func Scenarios() []Scenario {
	return []Scenario{
		{"HeadersAndIDs", Core, HeadersAndIDs},
		{"ReplyTruncated", Core, ReplyTruncated},
		{"BufferTooSmall", Core, BufferTooSmall},
		{"BufferGrowth", Core, BufferGrowth},
		{"Cancel", Core, Cancel},
		{"CloseWhileReceiving", Core, CloseWhileReceiving},
		{"SendWithoutMessageNotify", Core, SendWithoutMessageNotify},
		{"CompletionPortWorkers", Core, CompletionPortWorkers},
		{"SyncHandleAndCompletionPort", Core, SyncHandleAndCompletionPort},
		{"TimeoutUndelivered", CanDriverSend, TimeoutUndelivered},
		{"TimeoutAwaitingReply", CanDriverSend, TimeoutAwaitingReply},
		{"ReplyTruncatedToCapacity", CanDriverSend, ReplyTruncatedToCapacity},
		{"DisconnectAtUnload", CanReload, DisconnectAtUnload},
		{"BadInput", Core, BadInput},
	}
}

// Run runs every scenario as a subtest against one env (on Windows: the running system). The
// driver accepts one connection at a time (the scanner's MaxConnections is 1): each scenario
// closes what it opened. An emulated env in fake time runs each of Scenarios in a world of
// its own instead, since a subtest cannot start inside a synctest bubble.
func Run(t *testing.T, env Env) {
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			if r := s.SkipReason(env); r != "" {
				t.Skip(r)
			}
			s.Run(t, env)
		})
	}
}

// HRESULTs the scenarios expect (R-HR).
var (
	hrInvalidArg     = kernel.E_INVALIDARG                                               // 0x80070057
	hrHandle         = kernel.E_HANDLE                                                   // 0x80070006
	hrMoreData       = kernel.HResultFromWin32(kernel.ERROR_MORE_DATA)                   // 0x800700EA
	hrNotSupported   = kernel.HResultFromWin32(kernel.ERROR_NOT_SUPPORTED)               // 0x80070032
	hrPending        = kernel.HResultFromWin32(kernel.ERROR_IO_PENDING)                  // 0x800703E5
	hrNoWaiter       = kernel.ERROR_FLT_NO_WAITER_FOR_REPLY                              // 0x801F0020
	hrAborted        = kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED)           // 0x800703E3
	statusOverflow   = kernel.STATUS_BUFFER_OVERFLOW                                     // 0x80000005
	statusTimeout    = kernel.STATUS_TIMEOUT                                             // 0x102, a success code
	notificationSize = driverapi.FilterMessageHeaderSize + scannerproto.NotificationSize // 1048
)

// tokens makes each scan's data unique, so that a message can be told from the scans of files
// the suite did not make (on Windows an antivirus or indexer opening the suite's files is
// scanned too).
var (
	tokenMu sync.Mutex
	tokenN  int
)

func newToken(tag string) string {
	tokenMu.Lock()
	defer tokenMu.Unlock()
	tokenN++
	return fmt.Sprintf("fltlibtest %s #%d;", tag, tokenN)
}

// scanData returns the scanned content of a message's payload, "" if it is no notification.
func scanData(payload []byte) []byte {
	n, err := scannerproto.DecodeNotification(payload)
	if err != nil && !errors.Is(err, scannerproto.ErrBytesToScan) {
		return nil
	}
	return n.Data()
}

func carries(payload []byte, token string) bool {
	return bytes.Contains(scanData(payload), []byte(token))
}

// scan starts env.Scan(data) and returns where its result arrives.
func scan(env Env, data string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- env.Scan(context.Background(), []byte(data)) }()
	return done
}

func dial(t *testing.T, env Env, opts *fltlib.DialOptions) *fltlib.Conn {
	t.Helper()
	c, err := fltlib.Dial(context.Background(), env.Backend(), env.PortName(), opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", env.PortName(), err)
	}
	return c
}

func closeConn(t *testing.T, c *fltlib.Conn) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

var safe = scannerproto.EncodeReply(true)

// receive returns the next message that carries token, answering any other with "safe".
func receive(t *testing.T, c *fltlib.Conn, token string) *fltlib.Message {
	t.Helper()
	for {
		m, err := c.Receive(context.Background())
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if carries(m.Payload, token) {
			return m
		}
		if m.WantsReply() {
			_ = c.Reply(m, kernel.STATUS_SUCCESS, safe)
		}
	}
}

// HeadersAndIDs: a scan arrives with a non-zero MessageId, ids grow per connection (R-SEND-7),
// the header announces the sender's reply capacity (ReplyLength = 1 + 16: SCANNER_REPLY), the
// payload is the 1032-byte notification, the verdict reaches the driver (R-SEND-8), and a
// second reply to the same message finds no waiter (R-USER FilterReplyMessage 2: 0x801F0020).
func HeadersAndIDs(t *testing.T, env Env) {
	c := dial(t, env, nil)
	defer closeConn(t, c)

	foul := newToken("foul")
	done := scan(env, foul)
	m := receive(t, c, foul)
	if m.ID == 0 || !m.WantsReply() || m.ReplyCapacity != scannerproto.ReplySize || len(m.Payload) != scannerproto.NotificationSize {
		t.Fatalf("message id %d, reply capacity %d, %d payload bytes: want a non-zero id, capacity %d, %d bytes (R-SEND-7)",
			m.ID, m.ReplyCapacity, len(m.Payload), scannerproto.ReplySize, scannerproto.NotificationSize)
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, scannerproto.EncodeReply(false)); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if err := <-done; !errors.Is(err, kernel.ERROR_ACCESS_DENIED) {
		t.Fatalf("open of a file the service called foul: %v, want ERROR_ACCESS_DENIED (R-SEND-8)", err)
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, safe); !errors.Is(err, hrNoWaiter) {
		t.Fatalf("second Reply: %v, want ERROR_FLT_NO_WAITER_FOR_REPLY 0x801F0020 (R-USER FilterReplyMessage 2)", err)
	}

	fine := newToken("fine")
	done = scan(env, fine)
	m2 := receive(t, c, fine)
	if m2.ID <= m.ID {
		t.Errorf("second message id %d after %d: want a larger one (R-SEND-7)", m2.ID, m.ID)
	}
	if err := c.Reply(m2, kernel.STATUS_SUCCESS, safe); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("open of a safe file: %v", err)
	}
}

// ReplyTruncated: a reply longer than the sender's buffer (here 1 byte) is cut to it; the
// user's FilterReplyMessage returns HRESULT_FROM_WIN32(ERROR_MORE_DATA) 0x800700EA and the
// driver's FltSendMessage returns STATUS_BUFFER_OVERFLOW, which the scanner does not take for
// a verdict: the open is allowed although the first byte said foul (R-SEND-8, R-USER
// FilterReplyMessage 3).
func ReplyTruncated(t *testing.T, env Env) {
	c := dial(t, env, nil)
	defer closeConn(t, c)
	tok := newToken("truncated")
	done := scan(env, tok)
	m := receive(t, c, tok)
	if err := c.Reply(m, kernel.STATUS_SUCCESS, []byte{0, 0xAA, 0xBB, 0xCC}); !errors.Is(err, hrMoreData) {
		t.Fatalf("Reply of 4 bytes to a 1-byte buffer: %v, want 0x800700EA (R-USER FilterReplyMessage 3)", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("open after a truncated reply: %v, want allowed (the send returned STATUS_BUFFER_OVERFLOW, R-SEND-8)", err)
	}
}

// BufferTooSmall: a Get whose buffer cannot hold the message completes with
// HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) and reports the size needed (16 + 1032); the
// message is not lost: a large enough Get receives it intact (R-SEND-4).
func BufferTooSmall(t *testing.T, env Env) {
	b := env.Backend()
	h, hr := b.FilterConnectCommunicationPort(env.PortName(), 0, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	defer closeHandle(t, b, h)

	tok := newToken("small buffer")
	done := scan(env, tok)
	for {
		small := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		if hr := b.FilterGetMessage(h, make([]byte, driverapi.FilterMessageHeaderSize+8), small); hr != hrPending {
			t.Fatalf("overlapped Get: %v, want 0x800703E5 (R-USER FilterGetMessage 3)", hr)
		}
		n, err := b.GetOverlappedResult(h, small, true)
		if !errors.Is(err, kernel.ERROR_INSUFFICIENT_BUFFER) || n != uint32(notificationSize) {
			t.Fatalf("24-byte Get: %d bytes, %v; want ERROR_INSUFFICIENT_BUFFER and the %d bytes needed (R-SEND-4)", n, err, notificationSize)
		}
		buf := make([]byte, notificationSize)
		big := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		if hr := b.FilterGetMessage(h, buf, big); hr != hrPending && hr != kernel.S_OK {
			t.Fatalf("second Get: %v", hr)
		}
		n, err = b.GetOverlappedResult(h, big, true)
		if err != nil || n != uint32(notificationSize) {
			t.Fatalf("second Get: %d bytes, %v; want the message, %d bytes (R-SEND-4d)", n, err, notificationSize)
		}
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		if hdr.MessageId == 0 || hdr.ReplyLength != driverapi.MessageReplyLength(scannerproto.ReplySize) {
			t.Fatalf("header %+v: want a non-zero id and ReplyLength 17 (R-SEND-7)", hdr)
		}
		if hr := b.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, safe)); hr != kernel.S_OK {
			t.Fatalf("Reply: %v", hr)
		}
		if carries(driverapi.FilterMessagePayload(buf, n), tok) {
			break // else a scan of someone else's open was the refused one: go again
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("open: %v", err)
	}
}

// BufferGrowth: Conn.Receive with a buffer smaller than the message gets the refusal of
// R-SEND-4, grows its buffer and receives the message whole.
func BufferGrowth(t *testing.T, env Env) {
	c := dial(t, env, &fltlib.DialOptions{MaxMessageSize: 8})
	defer closeConn(t, c)
	tok := newToken("growth")
	done := scan(env, tok)
	m := receive(t, c, tok)
	if len(m.Payload) != scannerproto.NotificationSize {
		t.Fatalf("payload %d bytes, want %d", len(m.Payload), scannerproto.NotificationSize)
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, safe); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("open: %v", err)
	}
}

// Cancel: CancelIoEx completes a pending overlapped Get with ERROR_OPERATION_ABORTED
// 0x800703E3 and a second cancel finds nothing (R-USER FilterGetMessage 4); a Receive whose ctx
// is already done or ends returns ctx's error, and the connection stays usable.
func Cancel(t *testing.T, env Env) {
	c := dial(t, env, nil)
	defer closeConn(t, c)
	b, h := c.Backend(), c.Handle()

	ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
	if hr := b.FilterGetMessage(h, make([]byte, notificationSize), ov); hr != hrPending {
		t.Fatalf("overlapped Get: %v, want 0x800703E5", hr)
	}
	if err := b.CancelIoEx(h, ov); err != nil {
		t.Fatalf("CancelIoEx: %v", err)
	}
	if _, err := b.GetOverlappedResult(h, ov, true); !errors.Is(err, kernel.ERROR_OPERATION_ABORTED) {
		t.Fatalf("cancelled Get: %v, want ERROR_OPERATION_ABORTED (R-USER FilterGetMessage 4)", err)
	}
	if st, _ := ov.Result(); kernel.HResultFromNtStatus(st) != hrAborted {
		t.Fatalf("cancelled Get's status %v: want STATUS_CANCELLED (0x800703E3)", st)
	}
	if err := b.CancelIoEx(h, ov); !errors.Is(err, kernel.ERROR_NOT_FOUND) {
		t.Fatalf("second CancelIoEx: %v, want ERROR_NOT_FOUND", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive with a done ctx: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Receive(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive whose ctx ended: %v", err)
	}

	tok := newToken("after cancel")
	done := scan(env, tok)
	m := receive(t, c, tok)
	if err := c.Reply(m, kernel.STATUS_SUCCESS, safe); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("open: %v", err)
	}
}

// CloseWhileReceiving: Close ends a blocked Receive with net.ErrClosed (its Get completes with
// ERROR_OPERATION_ABORTED, R-USER FilterGetMessage 4); every later call says closed.
func CloseWhileReceiving(t *testing.T, env Env) {
	for _, syncHandle := range []bool{false, true} {
		c := dial(t, env, &fltlib.DialOptions{SyncHandle: syncHandle})
		errc := make(chan error, 1)
		go func() {
			_, err := c.Receive(context.Background())
			errc <- err
		}()
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("sync handle %v: Receive interrupted by Close: %v", syncHandle, err)
		}
		if _, err := c.Send(context.Background(), []byte("x"), nil); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Send after Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	}
}

// SendWithoutMessageNotify: the scanner registers no MessageNotify, so FilterSendMessage fails
// with HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED) 0x80070032 and reports 0 bytes (R-USER
// FilterSendMessage 2: the emulator's decision, which a run on Windows checks); Send's ctx is
// checked before the call.
func SendWithoutMessageNotify(t *testing.T, env Env) {
	c := dial(t, env, nil)
	defer closeConn(t, c)
	out := make([]byte, 8)
	n, err := c.Send(context.Background(), []byte("query"), out)
	if !errors.Is(err, hrNotSupported) || n != 0 {
		t.Fatalf("Send: %d bytes, %v; want 0 bytes, 0x80070032 (R-USER FilterSendMessage 2)", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Send(ctx, []byte("query"), out); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a done ctx: %v", err)
	}
}

func closeHandle(t *testing.T, b fltlib.Backend, h kernel.Handle) {
	t.Helper()
	if err := b.CloseHandle(h); err != nil {
		t.Errorf("CloseHandle: %v", err)
	}
}

// CompletionPortWorkers: the scanner service's design. Several overlapped Gets are outstanding
// on a handle associated with a completion port and several workers drain it; each message is
// delivered to exactly one Get (ids never repeat), each verdict reaches its own open, and
// a cancel of the handle's Gets completes each of them once, through the port (R-IOCP,
// R-USER FilterGetMessage 3 and 4). An empty port times out with WAIT_TIMEOUT.
func CompletionPortWorkers(t *testing.T, env Env) {
	const workers, getsPerWorker, scans = 3, 4, 24
	const quitKey uintptr = 0xDEAD
	b := env.Backend()
	h, hr := b.FilterConnectCommunicationPort(env.PortName(), 0, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	defer closeHandle(t, b, h)
	port, err := b.CreateIoCompletionPort(h, 0, 1, workers)
	if err != nil {
		t.Fatalf("CreateIoCompletionPort: %v", err)
	}
	defer closeHandle(t, b, port)
	if _, _, ov, err := b.GetQueuedCompletionStatus(port, 0); ov != nil || !errors.Is(err, kernel.ERROR_WAIT_TIMEOUT) {
		t.Fatalf("GetQueuedCompletionStatus on an empty port: %v, %v; want WAIT_TIMEOUT (R-IOCP)", ov, err)
	}

	bufs := map[*fltlib.Overlapped][]byte{}
	for range workers * getsPerWorker {
		ov := &fltlib.Overlapped{}
		bufs[ov] = make([]byte, notificationSize)
	}
	var (
		mu   sync.Mutex
		ids  = map[uint64]int{} // id → deliveries
		seen = map[string]int{} // token → deliveries
		gets sync.WaitGroup     // one per Get until it ends: aborted, failed, or not re-armed
		errs []string

		armMu    sync.Mutex
		stopping bool // guarded by armMu: no more Gets
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	gets.Add(len(bufs))
	for ov, buf := range bufs {
		if hr := b.FilterGetMessage(h, buf, ov); hr != hrPending {
			t.Fatalf("overlapped Get: %v, want 0x800703E5", hr)
		}
	}
	tokens := make([]string, scans)
	for i := range tokens {
		tokens[i] = newToken(fmt.Sprintf("iocp %d", i))
		if i%3 == 0 {
			tokens[i] += " foul"
		}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				n, key, ov, err := b.GetQueuedCompletionStatus(port, fltlib.INFINITE)
				switch {
				case key == quitKey:
					return
				case ov == nil:
					fail("GetQueuedCompletionStatus: %v", err)
					return
				case errors.Is(err, kernel.ERROR_OPERATION_ABORTED):
					gets.Done()
					continue
				case err != nil:
					fail("completion: %v", err)
					gets.Done()
					continue
				}
				buf := bufs[ov]
				hdr, _ := driverapi.ParseFilterMessageHeader(buf)
				data := scanData(driverapi.FilterMessagePayload(buf, n))
				verdict := safe
				mu.Lock()
				ids[hdr.MessageId]++
				for _, tok := range tokens {
					if bytes.Contains(data, []byte(tok)) {
						seen[tok]++
					}
				}
				mu.Unlock()
				if bytes.Contains(data, []byte("foul")) {
					verdict = scannerproto.EncodeReply(false)
				}
				if hr := b.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, verdict)); hr != kernel.S_OK {
					fail("Reply to %d: %v", hdr.MessageId, hr)
				}
				armMu.Lock()
				if stopping {
					gets.Done()
				} else if hr := b.FilterGetMessage(h, buf, ov); hr != hrPending && hr != kernel.S_OK {
					fail("re-armed Get: %v", hr)
					gets.Done()
				}
				armMu.Unlock()
			}
		})
	}
	results := make([]<-chan error, scans)
	for i, tok := range tokens {
		results[i] = scan(env, tok)
	}
	for i := range tokens {
		err := <-results[i]
		if foul := i%3 == 0; foul != errors.Is(err, kernel.ERROR_ACCESS_DENIED) || (!foul && err != nil) {
			t.Errorf("open %d (foul %v): %v", i, foul, err)
		}
	}
	// Every Get still pending completes once, with ERROR_OPERATION_ABORTED, through the port.
	// A worker re-arms only under armMu and not once stopping is set, so no Get is issued
	// after the cancel.
	armMu.Lock()
	stopping = true
	if err := b.CancelIoEx(h, nil); err != nil {
		t.Errorf("CancelIoEx: %v", err)
	}
	armMu.Unlock()
	gets.Wait()
	for range workers {
		if err := b.PostQueuedCompletionStatus(port, 0, quitKey, nil); err != nil {
			t.Fatalf("PostQueuedCompletionStatus: %v", err)
		}
	}
	wg.Wait()

	for _, e := range errs {
		t.Error(e)
	}
	for id, k := range ids {
		if id == 0 || k != 1 {
			t.Errorf("message id %d delivered %d times: want non-zero ids, each once (R-SEND-7)", id, k)
		}
	}
	for _, tok := range tokens {
		if seen[tok] == 0 {
			t.Errorf("scan %q never delivered", tok)
		}
	}
}

// SyncHandleAndCompletionPort: a handle opened with FLT_PORT_FLAG_SYNC_HANDLE cannot be
// associated with a completion port: ERROR_INVALID_PARAMETER (R-IOCP, R-USER connect 3;
// evidence medium, which a run on Windows checks).
func SyncHandleAndCompletionPort(t *testing.T, env Env) {
	b := env.Backend()
	h, hr := b.FilterConnectCommunicationPort(env.PortName(), driverapi.FLT_PORT_FLAG_SYNC_HANDLE, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	defer closeHandle(t, b, h)
	port, err := b.CreateIoCompletionPort(h, 0, 1, 1)
	if err == nil {
		closeHandle(t, b, port)
	}
	if !errors.Is(err, kernel.ERROR_INVALID_PARAMETER) {
		t.Fatalf("associating a synchronous handle: %v, want ERROR_INVALID_PARAMETER", err)
	}
}

// need returns env as the capability a scenario needs, skipping when it lacks it.
func need[E Env](t *testing.T, env Env, c Capability) E {
	t.Helper()
	e, ok := env.(E)
	if !ok {
		t.Skip(Scenario{Needs: c}.SkipReason(env))
	}
	return e
}

// TimeoutUndelivered: a driver's FltSendMessage with a timeout and no Get pending returns
// STATUS_TIMEOUT (R-SEND-5) and the message is never delivered: the service sees nothing of it
// (a Get issued afterwards stays pending), and the next message gets id 1, since an undelivered
// message takes no id (R-SEND-7).
func TimeoutUndelivered(t *testing.T, env Env) {
	ds := need[DriverSender](t, env, CanDriverSend)
	b := env.Backend()
	h, hr := b.FilterConnectCommunicationPort(env.PortName(), 0, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	defer closeHandle(t, b, h)
	if reply, st := ds.DriverSend(context.Background(), []byte("nobody listens"), 8, time.Second); st != statusTimeout || len(reply) != 0 {
		t.Fatalf("FltSendMessage with no Get: %v, %d reply bytes; want STATUS_TIMEOUT, 0 (R-SEND-5)", st, len(reply))
	}
	buf := make([]byte, notificationSize)
	ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
	if hr := b.FilterGetMessage(h, buf, ov); hr != hrPending {
		t.Fatalf("Get after the timeout: %v, want pending: the timed-out message must not be delivered (R-SEND-5)", hr)
	}
	if _, err := b.GetOverlappedResult(h, ov, false); !errors.Is(err, kernel.ERROR_IO_INCOMPLETE) {
		t.Fatalf("Get after the timeout: %v, want still pending (ERROR_IO_INCOMPLETE)", err)
	}
	tok := newToken("after timeout")
	done := scan(env, tok)
	n, err := b.GetOverlappedResult(h, ov, true)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	if !carries(driverapi.FilterMessagePayload(buf, n), tok) || hdr.MessageId != 1 {
		t.Fatalf("first delivered message: id %d; want the scan, with id 1 (R-SEND-7: a timed-out undelivered message takes no id)", hdr.MessageId)
	}
	if hr := b.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, safe)); hr != kernel.S_OK {
		t.Fatalf("Reply: %v", hr)
	}
	if err := <-done; err != nil {
		t.Fatalf("open: %v", err)
	}
}

// TimeoutAwaitingReply: the service received a message but did not reply within the driver's
// timeout: the driver's FltSendMessage returns STATUS_TIMEOUT with no reply bytes (R-SEND-9),
// and the service's late FilterReplyMessage gets ERROR_FLT_NO_WAITER_FOR_REPLY 0x801F0020
// (R-SEND-9, R-USER FilterReplyMessage 2).
func TimeoutAwaitingReply(t *testing.T, env Env) {
	ds := need[DriverSender](t, env, CanDriverSend)
	c := dial(t, env, nil)
	defer closeConn(t, c)
	type result struct {
		reply []byte
		st    kernel.NTSTATUS
	}
	sent := make(chan result, 1)
	go func() {
		r, st := ds.DriverSend(context.Background(), []byte("answer quickly"), 8, time.Second)
		sent <- result{r, st}
	}()
	m, err := c.Receive(context.Background())
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if string(m.Payload) != "answer quickly" || m.ReplyCapacity != 8 {
		t.Fatalf("message %q, capacity %d", m.Payload, m.ReplyCapacity)
	}
	if r := <-sent; r.st != statusTimeout || len(r.reply) != 0 {
		t.Fatalf("FltSendMessage without a reply: %v, %d bytes; want STATUS_TIMEOUT, 0 (R-SEND-9)", r.st, len(r.reply))
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, []byte("late")); !errors.Is(err, hrNoWaiter) {
		t.Fatalf("late Reply: %v, want 0x801F0020 (R-SEND-9)", err)
	}
}

// ReplyTruncatedToCapacity: the driver's reply buffer decides what it gets. A 10-byte reply to
// a 4-byte buffer: the driver gets the first 4 bytes and STATUS_BUFFER_OVERFLOW, the service
// 0x800700EA (R-SEND-8). A reply buffer of 0 bytes waits for a status-only reply: the service
// sees ReplyCapacity 0 but a message id; any payload is cut to nothing (R-SEND-7). A one-way
// message has id 0 and no capacity (R-SEND-6), and a reply to it finds no waiter.
func ReplyTruncatedToCapacity(t *testing.T, env Env) {
	ds := need[DriverSender](t, env, CanDriverSend)
	c := dial(t, env, nil)
	defer closeConn(t, c)
	type result struct {
		reply []byte
		st    kernel.NTSTATUS
	}
	for _, tc := range []struct {
		replyCap int
		payload  string
		wantHR   kernel.HRESULT
		wantSt   kernel.NTSTATUS
		wantGot  string
	}{
		{4, "0123456789", hrMoreData, statusOverflow, "0123"},
		{4, "01", kernel.S_OK, kernel.STATUS_SUCCESS, "01"},
		{0, "x", hrMoreData, statusOverflow, ""},
		{0, "", kernel.S_OK, kernel.STATUS_SUCCESS, ""},
	} {
		sent := make(chan result, 1)
		go func() {
			r, st := ds.DriverSend(context.Background(), []byte("q"), tc.replyCap, 0)
			sent <- result{r, st}
		}()
		m, err := c.Receive(context.Background())
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if m.ID == 0 || m.ReplyCapacity != tc.replyCap {
			t.Fatalf("capacity %d: message id %d, capacity %d (R-SEND-7)", tc.replyCap, m.ID, m.ReplyCapacity)
		}
		err = c.Reply(m, kernel.STATUS_SUCCESS, []byte(tc.payload))
		if tc.wantHR == kernel.S_OK && err != nil || tc.wantHR != kernel.S_OK && !errors.Is(err, tc.wantHR) {
			t.Errorf("capacity %d, reply %q: %v, want %v (R-USER FilterReplyMessage 3)", tc.replyCap, tc.payload, err, tc.wantHR)
		}
		if r := <-sent; r.st != tc.wantSt || string(r.reply) != tc.wantGot {
			t.Errorf("capacity %d, reply %q: driver got %q, %v; want %q, %v (R-SEND-8)", tc.replyCap, tc.payload, r.reply, r.st, tc.wantGot, tc.wantSt)
		}
	}
	sent := make(chan result, 1)
	go func() {
		r, st := ds.DriverSend(context.Background(), []byte("one way"), -1, 0)
		sent <- result{r, st}
	}()
	m, err := c.Receive(context.Background())
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if m.ID != 0 || m.WantsReply() || m.ReplyCapacity != 0 || string(m.Payload) != "one way" {
		t.Fatalf("one-way message: id %d, capacity %d, %q (R-SEND-6)", m.ID, m.ReplyCapacity, m.Payload)
	}
	if r := <-sent; r.st != kernel.STATUS_SUCCESS {
		t.Fatalf("one-way FltSendMessage: %v", r.st)
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, nil); !errors.Is(err, hrNoWaiter) {
		t.Fatalf("Reply to a one-way message: %v, want 0x801F0020 (R-USER FilterReplyMessage 2)", err)
	}
}

// DisconnectAtUnload: the driver unloads while the service holds an unanswered message and
// waits in Receive. The Receive fails with E_HANDLE 0x80070006, which services read as "the
// filter is unloading" (R-UNLOAD-5, R-USER FilterGetMessage 4); the driver's waiting send ends
// (PORT_DISCONNECTED: the scanner lets the open through); a late reply finds no waiter,
// 0x801F0020 (R-USER FilterReplyMessage 5); a later Receive gets E_HANDLE too (R-CLOSECLI-2);
// the handle is still closed normally, and the reloaded driver accepts a new connection.
func DisconnectAtUnload(t *testing.T, env Env) {
	rl := need[Reloader](t, env, CanReload)
	c := dial(t, env, nil)
	tok := newToken("unload")
	done := scan(env, tok)
	m := receive(t, c, tok)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Receive(context.Background())
		errc <- err
	}()
	if err := rl.Reload(); err != nil {
		// Let the open go on, and the Receive end, before reporting.
		_ = c.Reply(m, kernel.STATUS_SUCCESS, safe)
		<-done
		_ = c.Close()
		<-errc
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatalf("Reload: %v", err)
	}
	if err := <-errc; !errors.Is(err, hrHandle) {
		t.Errorf("Receive across the unload: %v, want E_HANDLE 0x80070006 (R-UNLOAD-5)", err)
	}
	if err := <-done; err != nil {
		t.Errorf("open whose scan the unload ended: %v, want allowed", err)
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, safe); !errors.Is(err, hrNoWaiter) {
		t.Errorf("Reply after the unload: %v, want 0x801F0020 (R-USER FilterReplyMessage 5)", err)
	}
	// The scanner has no MessageNotify: that check comes before the disconnect's E_HANDLE
	// (R-USER FilterSendMessage 2 before 3, the emulator's order; Windows documents neither).
	if _, err := c.Send(context.Background(), []byte("x"), make([]byte, 4)); !errors.Is(err, hrNotSupported) {
		t.Errorf("Send after the unload: %v, want 0x80070032 (R-USER FilterSendMessage 2, then 3)", err)
	}
	if _, err := c.Receive(context.Background()); !errors.Is(err, hrHandle) {
		t.Errorf("Receive after the unload: %v, want E_HANDLE (R-CLOSECLI-2)", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the unload: %v (R-CLOSECLI-2: the handle stays valid to close)", err)
	}
	c2 := dial(t, env, nil)
	closeConn(t, c2)
}

// BadInput: nil and short buffers, bad connect arguments, closed handles, a missing
// OVERLAPPED and a ctx already done are errors with the exact HRESULT or Win32 error, never
// a panic or a hang (R-USER FilterGetMessage 1, FilterReplyMessage 1, FilterSendMessage 1,
// connect 2 and 3).
func BadInput(t *testing.T, env Env) {
	b := env.Backend()
	port := env.PortName()
	for name, hr := range map[string]kernel.HRESULT{
		"connect nil context of size 4":   second(b.FilterConnectCommunicationPort(port, 0, nil, 4, nil)),
		"connect context of size 0":       second(b.FilterConnectCommunicationPort(port, 0, []byte{1}, 0, nil)),
		"connect unknown option 2":        second(b.FilterConnectCommunicationPort(port, 2, nil, 0, nil)),
		"connect context of 65512 bytes":  second(b.FilterConnectCommunicationPort(port, 0, make([]byte, 65512), 65512, nil)),
		"Get nil buffer":                  b.FilterGetMessage(0, nil, nil),
		"Get 15-byte buffer":              b.FilterGetMessage(0, make([]byte, 15), nil),
		"overlapped Get nil buffer":       b.FilterGetMessage(0, nil, &fltlib.Overlapped{}),
		"Reply nil buffer":                b.FilterReplyMessage(0, nil),
		"Reply 15-byte buffer":            b.FilterReplyMessage(0, make([]byte, 15)),
		"Send nil input":                  b.FilterSendMessage(0, nil, nil, nil),
		"Send empty input with an output": b.FilterSendMessage(0, []byte{}, make([]byte, 4), nil),
	} {
		if hr != hrInvalidArg {
			t.Errorf("%s: %v, want E_INVALIDARG 0x80070057", name, hr)
		}
	}

	h, hr := b.FilterConnectCommunicationPort(port, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	if _, err := b.GetOverlappedResult(h, nil, false); !errors.Is(err, kernel.ERROR_INVALID_PARAMETER) {
		t.Errorf("GetOverlappedResult without an OVERLAPPED: %v, want ERROR_INVALID_PARAMETER", err)
	}
	if err := b.CancelIoEx(h, &fltlib.Overlapped{}); !errors.Is(err, kernel.ERROR_NOT_FOUND) {
		t.Errorf("CancelIoEx of an OVERLAPPED never used: %v, want ERROR_NOT_FOUND", err)
	}
	if err := b.CancelIoEx(h, nil); !errors.Is(err, kernel.ERROR_NOT_FOUND) {
		t.Errorf("CancelIoEx with nothing pending: %v, want ERROR_NOT_FOUND", err)
	}
	if err := b.CloseHandle(h); err != nil {
		t.Fatalf("CloseHandle: %v", err)
	}
	// Right after the close, before anything else could be given the same handle value.
	if err := b.CloseHandle(h); !errors.Is(err, kernel.ERROR_INVALID_HANDLE) {
		t.Errorf("second CloseHandle: %v, want ERROR_INVALID_HANDLE", err)
	}
	if hr := b.FilterGetMessage(h, make([]byte, 64), &fltlib.Overlapped{}); hr != hrHandle {
		t.Errorf("Get on a closed handle: %v, want E_HANDLE", hr)
	}
	if hr := b.FilterReplyMessage(h, driverapi.NewFilterReply(0, 1, safe)); hr != hrHandle {
		t.Errorf("Reply on a closed handle: %v, want E_HANDLE", hr)
	}
	var n uint32 = 7
	if hr := b.FilterSendMessage(h, []byte("x"), make([]byte, 4), &n); hr != hrHandle || n != 0 {
		t.Errorf("Send on a closed handle: %v, %d bytes; want E_HANDLE, 0", hr, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fltlib.Dial(ctx, b, port, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a done ctx: %v", err)
	}
	if _, err := fltlib.Dial(context.Background(), nil, port, nil); !errors.Is(err, hrInvalidArg) {
		t.Errorf("Dial without a backend: %v", err)
	}
	c := dial(t, env, nil)
	defer closeConn(t, c)
	if err := c.Reply(nil, kernel.STATUS_SUCCESS, nil); !errors.Is(err, hrInvalidArg) {
		t.Errorf("Reply to a nil message: %v", err)
	}
	if _, err := c.Send(context.Background(), nil, nil); !errors.Is(err, hrInvalidArg) {
		t.Errorf("Send of nothing: %v", err)
	}
}

func second[T any](_ T, hr kernel.HRESULT) kernel.HRESULT { return hr }
