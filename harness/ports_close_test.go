package harness_test

// Tests of the ways a port or a connection ends: FltCloseCommunicationPort (R-CLOSESRV),
// FltCloseClientPort (R-CLOSECLI), DisconnectNotify (R-CB-2), CloseHandle / DuplicateHandle /
// process exit (R-USER Handles), and unload (R-UNLOAD-5, R-UNLOAD-6, R-MODEL-4).

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// violationsOf returns the verifier reports of rule.
func violationsOf(w *harness.World, rule kernel.RuleID) []kernel.Violation {
	var out []kernel.Violation
	for _, v := range w.Violations() {
		if v.Rule == rule {
			out = append(out, v)
		}
	}
	return out
}

// ---- R-CLOSESRV ----

func TestCloseServerPortRemovesName(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSESRV-1: the name goes at once: later connects get 0x80070002, and the name can
		// be created again.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		d.FM.CloseCommunicationPort(d.Server)
		require.Empty(t, w.Kernel().Namespace().Names())
		h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)
		require.Equal(t, kernel.InvalidHandle, h)
		require.Equal(t, int32(0), d.ConnectCalls.Load())

		cn, dn, mn := d.Callbacks()
		sd := kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
		sp, st := d.FM.CreateCommunicationPort(d.Filter, kernelAttrs(`\testport`, sd), nil, cn, dn, mn, 1)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		d.Server = sp // closed by the unload
		// The new port has the name it was created with; a connect looks it up exactly (R-MODEL-1).
		_, hr = p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)
		h, hr = p.FilterConnectCommunicationPort(`\testport`, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(1), d.Connects.Load())
	})
}

func TestCloseServerPortKeepsConnections(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSESRV-2, R-MODEL-4: closing the server port stops new connections only: the
		// existing one keeps working in both directions until it is closed.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		d.FM.CloseCommunicationPort(d.Server)
		d.Server = nil // so that the unload does not close it again
		_, hr := adminProc(w, "late.exe").FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)

		r := sendAsync(context.Background(), d, d.Conn(0), []byte("kernel to user"), make([]byte, 8), nil)
		hdr, payload := getMessage(t, p, h, 64)
		require.Equal(t, "kernel to user", string(payload[:14]))
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("reply")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 5}, <-r)
		out := make([]byte, 16)
		var n uint32
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("user to kernel"), out, &n))
		require.Equal(t, "user to kernel", string(out[:n]))

		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.True(t, d.Conn(0).Port.IsNil())
	})
}

func TestCloseServerPortTwice(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSESRV-3: closing a closed server port is a driver bug: the verifier reports it
		// (R-VERIFY-4) instead of crashing.
		d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			d.FM.CloseCommunicationPort(d.Server)
			d.FM.CloseCommunicationPort(d.Server)
			d.FM.UnregisterFilter(d.Filter)
			return kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		w.ExpectViolation(kernel.RuleVerify4)
		require.NoError(t, w.Unload("test"))
		vs := violationsOf(w, kernel.RuleVerify4)
		require.Len(t, vs, 1)
		require.Equal(t, "test", vs[0].Driver)
		require.Contains(t, vs[0].Object, testPort)
		require.Len(t, w.Violations(), 1)
	})
}

// ---- R-CLOSECLI ----

func TestCloseClientPortNilVariable(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSECLI-1: a nil variable is a no-op, so closing the same variable twice is too.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		var empty driverapi.ClientPort
		d.FM.CloseClientPort(d.Filter, &empty)
		c := d.Conn(0)
		d.FM.CloseClientPort(d.Filter, &c.Port)
		d.FM.CloseClientPort(d.Filter, &c.Port)
		require.True(t, c.Port.IsNil())
		require.Empty(t, w.Violations())
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(0), d.Disconnects.Load())
	})
}

func TestCloseClientPortRacesWithSend(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSECLI-1: FltCloseClientPort reads and clears the variable atomically with
		// respect to FltSendMessage: senders racing with the close see either a live
		// connection or PORT_DISCONNECTED, and the verifier never calls it a use after close.
		const rounds, senders = 200, 1
		w, d := load(t, &testdriver.Driver{MaxConnections: 1})
		w.Trace().SetEnabled(false) // the senders spin
		p := adminProc(w, "svc.exe")
		for range rounds {
			h := connect(t, p)
			c := d.Conns()[len(d.Conns())-1]
			var wg, looping sync.WaitGroup
			bad := make(chan kernel.NTSTATUS, senders)
			looping.Add(senders)
			for range senders {
				wg.Go(func() {
					first := true
					for {
						st, _ := d.Send(context.Background(), c, []byte("x"), nil, driverapi.NoWait())
						if first {
							first = false
							looping.Done()
						}
						switch st {
						case kernel.STATUS_TIMEOUT:
							continue
						case kernel.STATUS_PORT_DISCONNECTED:
							return
						default:
							bad <- st
							return
						}
					}
				})
			}
			looping.Wait() // every sender is in its loop: the close races with them
			d.FM.CloseClientPort(d.Filter, &c.Port)
			wg.Wait()
			close(bad)
			for st := range bad {
				t.Errorf("a send racing with FltCloseClientPort returned %v", st)
			}
			require.NoError(t, p.CloseHandle(h))
		}
		require.Empty(t, w.Violations())
		require.Equal(t, int32(0), d.Disconnects.Load())
	})
}

func TestSendOnAKeptCopyAfterClose(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSECLI-1, R-VERIFY-4: the race above is allowed, but a driver that kept a copy
		// of the client port in another variable and sends on it after FltCloseClientPort
		// uses a freed port: PORT_DISCONNECTED, and the verifier reports it.
		w, d := load(t, nil)
		w.ExpectViolation(kernel.RuleVerify4)
		p := adminProc(w, "svc.exe")
		connect(t, p)
		c := d.Conn(0)
		stale := &testdriver.Conn{}
		stale.Port.Store(c.Port.Load())
		d.FM.CloseClientPort(d.Filter, &c.Port)
		require.Empty(t, w.Violations())
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-sendAsync(context.Background(), d, stale, []byte("x"), nil, nil))
		vs := violationsOf(w, kernel.RuleVerify4)
		require.Len(t, vs, 1)
		require.Contains(t, vs[0].Object, testPort)
	})
}

func TestCloseClientPortDisconnects(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSECLI-2: the user's pending Get and its later Get and Send fail with E_HANDLE;
		// a later Reply finds no waiter (0x801F0020, FilterReplyMessage 5); the handle
		// stays valid to close.
		// R-CLOSECLI-4: DisconnectNotify is not called, not at CloseHandle, not at unload.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		g := getAsync(p, h, make([]byte, 64))
		requireBlocked(t, g)
		d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		require.Equal(t, kernel.E_HANDLE, <-g)
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(h, make([]byte, 64), nil))
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(h, make([]byte, 64), ov))
		require.Equal(t, kernel.E_HANDLE, p.FilterSendMessage(h, []byte("x"), make([]byte, 4), nil))
		require.Equal(t, kernel.HRESULT(0x801F0020), reply(p, h, kernel.STATUS_SUCCESS, 1, nil))
		require.Equal(t, int32(0), d.Messages.Load())
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(0), d.Disconnects.Load())
		require.NoError(t, w.Unload("test"))
		require.Equal(t, int32(0), d.Disconnects.Load())
	})
}

func TestCloseClientPortFreesSlot(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSECLI-3 (Decision): the MaxConnections slot is freed when the kernel endpoint
		// closes, even while the user still holds its handle.
		w, d := load(t, &testdriver.Driver{MaxConnections: 1})
		p := adminProc(w, "svc.exe")
		old := connect(t, p)
		_, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x800704D6), hr)
		d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		h := connect(t, p)
		require.NotEqual(t, old, h)
		_, hr = p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x800704D6), hr)
		// The user closing its handle frees it too, through DisconnectNotify's FltCloseClientPort.
		require.NoError(t, p.CloseHandle(h))
		connect(t, p)
		require.Equal(t, int32(3), d.Connects.Load())
	})
}

func TestLeakedClientPortKeepsSlot(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSECLI-3: a driver that never calls FltCloseClientPort keeps the slot: later
		// connects get CONNECTION_COUNT_LIMIT (0x800704D6), and the verifier reports the leak at
		// unload (R-VERIFY-2).
		w, d := load(t, &testdriver.Driver{MaxConnections: 1, KeepClientPort: true})
		w.ExpectViolation(kernel.RuleVerify2)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(1), d.Disconnects.Load())
		_, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x800704D6), hr)
		require.Equal(t, int32(1), d.ConnectCalls.Load())
		require.Empty(t, w.Violations())

		require.NoError(t, w.Unload("test"))
		require.Equal(t, int32(1), d.Disconnects.Load(), "no second DisconnectNotify at unload")
		vs := violationsOf(w, kernel.RuleVerify2)
		require.Len(t, vs, 1)
		require.Contains(t, vs[0].Object, testPort)
		require.Contains(t, vs[0].Object, "svc.exe")
	})
}

// R-VERIFY-2, R-CB-2: user closes, FltCloseClientPort calls and an unload that race end each
// connection exactly once: DisconnectNotify runs at most once per connection, and a client
// port whose FltCloseClientPort is still running when the unload looks for leaks is not
// reported as leaked (the call is about to free it). The window is narrow, so the test repeats
// the race many times.
func TestCloseClientPortRacingCloseHandleAndUnload(t *testing.T) {
	for it := 0; it < 300; it++ {
		w := harness.NewWorld()
		var mu sync.Mutex
		counts := map[*testdriver.Conn]int{}
		d := &testdriver.Driver{MaxConnections: 4, OnDisconnect: func(_ context.Context, c *testdriver.Conn) {
			mu.Lock()
			counts[c]++
			mu.Unlock()
		}}
		if w.Load("test", d) != nil {
			t.Fatal("load")
		}
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		var hs []kernel.Handle
		for i := 0; i < 4; i++ {
			h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
			if hr != kernel.S_OK {
				t.Fatal(hr)
			}
			hs = append(hs, h)
		}
		var inflight atomic.Int32
		var sawInflight atomic.Bool
		w.Trace().Subscribe(func(e kernel.TraceEvent) {
			if e.Kind == kernel.EvViolation && inflight.Load() > 0 {
				sawInflight.Store(true)
			}
		})
		var wg sync.WaitGroup
		for i, h := range hs {
			wg.Add(2)
			go func() { defer wg.Done(); p.CloseHandle(h) }()
			c := d.Conn(i)
			go func() { defer wg.Done(); inflight.Add(1); d.FM.CloseClientPort(d.Filter, &c.Port); inflight.Add(-1) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Unload("test") }()
		wg.Wait()
		mu.Lock()
		for c, n := range counts {
			if n > 1 {
				t.Fatalf("iteration %d: DisconnectNotify %d times for %p", it, n, c)
			}
		}
		mu.Unlock()
		if err := w.Close(); err != nil {
			t.Log(w.Trace().Table())
			t.Fatalf("iteration %d (violation while a FltCloseClientPort call was in flight: %v): %v", it, sawInflight.Load(), err)
		}
	}
}

// ---- R-CB-2 and R-USER Handles ----

// blockedMessageDriver is a test driver whose MessageNotify blocks until release is closed,
// and which records whether DisconnectNotify ever ran while a MessageNotify was in flight (a
// real driver would free its connection cookie there, under the running MessageNotify).
type blockedMessageDriver struct {
	*testdriver.Driver
	entered, release chan struct{}
	inFlight         atomic.Int32
	overlapped       atomic.Bool
}

func newBlockedMessageDriver() *blockedMessageDriver {
	b := &blockedMessageDriver{entered: make(chan struct{}), release: make(chan struct{})}
	b.Driver = &testdriver.Driver{
		OnMessage: func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			b.inFlight.Add(1)
			close(b.entered)
			<-b.release
			b.inFlight.Add(-1)
			return 0, kernel.STATUS_SUCCESS
		},
		OnDisconnect: func(context.Context, *testdriver.Conn) {
			if b.inFlight.Load() > 0 {
				b.overlapped.Store(true)
			}
		},
	}
	return b
}

// R-CB-2, R-CB-3: DisconnectNotify after a user close never overlaps a MessageNotify of
// the same connection: the closing thread waits for the port's message run-down, then runs
// DisconnectNotify itself, and CloseHandle returns after it.
func TestCloseHandleWaitsForMessageNotifyThenDisconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newBlockedMessageDriver()
		w, _ := load(t, d.Driver)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		done := make(chan kernel.HRESULT, 1)
		go func() { done <- p.FilterSendMessage(h, []byte("x"), make([]byte, 4), nil) }()
		<-d.entered
		var closer string
		d.Driver.OnDisconnect = func(context.Context, *testdriver.Conn) {
			closer = goid()
			if d.inFlight.Load() > 0 {
				d.overlapped.Store(true)
			}
		}
		closed := make(chan error, 1)
		var closing string
		go func() {
			closing = goid()
			closed <- p.CloseHandle(h)
		}()
		requireBlocked(t, closed) // CloseHandle waits for the running MessageNotify
		require.Equal(t, int32(0), d.Disconnects.Load(), "DisconnectNotify must wait for the running MessageNotify")
		close(d.release)
		require.Equal(t, kernel.S_OK, <-done)
		require.NoError(t, <-closed)
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.Equal(t, closing, closer, "DisconnectNotify runs on the closing thread")
		require.False(t, d.overlapped.Load(), "DisconnectNotify ran while MessageNotify of the same connection was in flight")
	})
}

func TestDisconnectNotifyOnceWithDuplicates(t *testing.T) {
	// R-CB-2, R-USER Handles 2: with the handle duplicated into a second process, the
	// connection lasts until the last handle closes, in whichever process, and DisconnectNotify
	// runs once, then.
	for _, order := range []string{"owner first", "duplicate first"} {
		t.Run(order, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				w, d := load(t, nil)
				p1, p2 := adminProc(w, "svc.exe"), w.NewProcess("worker.exe", kernel.TokenStandardUser())
				h1 := connect(t, p1)
				h2, err := p1.DuplicateHandle(h1, p2, 0, false, kernel.DUPLICATE_SAME_ACCESS)
				require.NoError(t, err)
				first, firstH, last, lastH := p1, h1, p2, h2
				if order == "duplicate first" {
					first, firstH, last, lastH = p2, h2, p1, h1
				}
				require.NoError(t, first.CloseHandle(firstH))
				require.Equal(t, int32(0), d.Disconnects.Load())
				// The other handle still carries the connection, both ways.
				r := sendAsync(context.Background(), d, d.Conn(0), []byte("still"), make([]byte, 2), nil)
				hdr, _ := getMessage(t, last, lastH, 64)
				require.Equal(t, kernel.S_OK, reply(last, lastH, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("up")))
				require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 2}, <-r)
				require.Equal(t, kernel.S_OK, last.FilterSendMessage(lastH, []byte("x"), make([]byte, 1), nil))

				require.NoError(t, last.CloseHandle(lastH))
				require.Equal(t, int32(1), d.Disconnects.Load())
				require.True(t, d.Conn(0).Port.IsNil())
				require.NoError(t, w.Unload("test"))
				require.Equal(t, int32(1), d.Disconnects.Load())
			})
		})
	}
}

func TestProcessExitDisconnects(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Handles 3, R-CB-2: a process that exits closes its handles: its connections
		// end (a waiting sender gets PORT_DISCONNECTED) and DisconnectNotify runs once each.
		w, d := load(t, &testdriver.Driver{MaxConnections: 3})
		p := adminProc(w, "svc.exe")
		connect(t, p)
		connect(t, p)
		survivor := adminProc(w, "other.exe")
		hs := connect(t, survivor)
		r := sendAsync(context.Background(), d, d.Conn(1), []byte("x"), make([]byte, 4), nil)
		requireBlocked(t, r)
		p.Exit(0)
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-r)
		require.Equal(t, int32(2), d.Disconnects.Load())
		require.True(t, d.Conn(0).Port.IsNil())
		require.True(t, d.Conn(1).Port.IsNil())
		require.False(t, d.Conn(2).Port.IsNil())
		require.Empty(t, p.Kernel().Handles())
		// Exiting again changes nothing.
		p.Exit(0)
		require.Equal(t, int32(2), d.Disconnects.Load())
		require.Equal(t, kernel.S_OK, survivor.FilterSendMessage(hs, []byte("x"), nil, nil))
	})
}

// R-USER Handles 3: a message sent while a process exits (here from the DisconnectNotify its
// exit causes) never lands in that process's Gets, even on a connection a duplicate in another
// process keeps open: the exit cancels the process's Gets before closing its handles runs any
// driver code.
func TestProcessExitNeverDeliversToItsGets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d *testdriver.Driver
		var sent atomic.Int32
		var sendSt kernel.NTSTATUS
		d = &testdriver.Driver{MaxConnections: 2, OnDisconnect: func(_ context.Context, c *testdriver.Conn) {
			if c == d.Conn(0) && sent.CompareAndSwap(0, 1) {
				sendSt, _ = d.Send(context.Background(), d.Conn(1), []byte("hello"), nil, driverapi.NoWait())
			}
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		q := adminProc(w, "other.exe")
		hA := connect(t, p)
		hB := connect(t, p)
		require.Less(t, hA, hB)
		hQ, err := p.DuplicateHandle(hB, q, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.NoError(t, err)
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, hrPending, p.FilterGetMessage(hB, make([]byte, 64), ov))
		p.Exit(0)
		st, n := ov.Result()
		t.Logf("send status %v; dead process's Get: %v, %d bytes", sendSt, st, n)
		require.NotEqual(t, kernel.STATUS_SUCCESS, st, "a message was delivered into the Get of an exited process")
		_ = q.CloseHandle(hQ)
	})
}

func TestHandlesBelongToOneProcess(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Handles 1: a handle value means nothing in another process.
		w, d := load(t, nil)
		p1, p2 := adminProc(w, "svc.exe"), adminProc(w, "other.exe")
		h := connect(t, p1)
		buf := make([]byte, 64)
		require.Equal(t, kernel.E_HANDLE, p2.FilterGetMessage(h, buf, nil))
		require.Equal(t, kernel.E_HANDLE, p2.FilterGetMessage(h, buf, &fltlib.Overlapped{}))
		require.Equal(t, kernel.E_HANDLE, reply(p2, h, kernel.STATUS_SUCCESS, 1, nil))
		require.Equal(t, kernel.E_HANDLE, p2.FilterSendMessage(h, []byte("x"), nil, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p2.CancelIoEx(h, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p2.CloseHandle(h))
		_, err := p2.CreateIoCompletionPort(h, 0, 1, 0)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		_, err = p2.DuplicateHandle(h, p1, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		require.Equal(t, int32(0), d.Messages.Load())
		// p1's connection is untouched.
		require.Equal(t, kernel.S_OK, p1.FilterSendMessage(h, []byte("x"), nil, nil))
		require.Equal(t, int32(0), d.Disconnects.Load())
	})
}

func TestClosedHandle(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Handles 1: a closed handle is invalid for every call; closing it again is
		// ERROR_INVALID_HANDLE.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(h, make([]byte, 64), nil))
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(h, make([]byte, 64), &fltlib.Overlapped{}))
		require.Equal(t, kernel.E_HANDLE, reply(p, h, kernel.STATUS_SUCCESS, 1, nil))
		require.Equal(t, kernel.E_HANDLE, p.FilterSendMessage(h, []byte("x"), nil, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p.CancelIoEx(h, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p.CloseHandle(h))
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}

func TestWrongHandleType(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Handles 1: a completion-port handle given to FilterGetMessage, Reply or Send is
		// E_HANDLE; a connection handle given to GetQueuedCompletionStatus is
		// ERROR_INVALID_HANDLE; neither disturbs the objects.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		port, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(port, make([]byte, 64), nil))
		require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(port, make([]byte, 64), &fltlib.Overlapped{}))
		require.Equal(t, kernel.E_HANDLE, reply(p, port, kernel.STATUS_SUCCESS, 1, nil))
		require.Equal(t, kernel.E_HANDLE, p.FilterSendMessage(port, []byte("x"), nil, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, p.CancelIoEx(port, nil))
		_, _, _, err = p.GetQueuedCompletionStatus(h, 0)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		_, err = p.CreateIoCompletionPort(port, 0, 0, 0)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		_, err = p.CreateIoCompletionPort(h, h, 0, 0)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("x"), nil, nil))
		require.Equal(t, int32(1), d.Messages.Load())
		require.NoError(t, p.CloseHandle(port))
	})
}

// ---- R-UNLOAD ----

func TestUnloadEndsEveryConnection(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-UNLOAD-5, R-MODEL-4: unloading ends every connection: pending Gets fail with
		// E_HANDLE, blocked senders (both phases) get PORT_DISCONNECTED, DisconnectNotify runs
		// once per connection the filter had not closed itself, and every later user call is
		// E_HANDLE while the handles stay closable.
		w, d := load(t, &testdriver.Driver{MaxConnections: 4})
		p1, p2 := adminProc(w, "svc.exe"), adminProc(w, "other.exe")
		h0, h1, h2, h3 := connect(t, p1), connect(t, p1), connect(t, p2), connect(t, p2)

		// Connection 0: a sender waiting for its reply and a sync Get pending.
		r0 := sendAsync(context.Background(), d, d.Conn(0), []byte("m"), make([]byte, 4), nil)
		getMessage(t, p1, h0, 64)
		g0 := getAsync(p1, h0, make([]byte, 64))
		// Connection 1: an overlapped Get pending.
		ov1 := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, hrPending, p1.FilterGetMessage(h1, make([]byte, 64), ov1))
		// Connection 2: a sender waiting for a receiver.
		r2 := sendAsync(context.Background(), d, d.Conn(2), []byte("m"), nil, nil)
		// Connection 3: closed by the filter itself before the unload.
		d.FM.CloseClientPort(d.Filter, &d.Conn(3).Port)
		requireBlocked(t, r0)
		requireBlocked(t, g0)
		requireBlocked(t, r2)

		require.NoError(t, w.Unload("test"))
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-r0)
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-r2)
		require.Equal(t, kernel.E_HANDLE, <-g0)
		_, err := p1.GetOverlappedResult(h1, ov1, true)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		require.Equal(t, int32(3), d.Disconnects.Load())
		for i := range 4 {
			require.True(t, d.Conn(i).Port.IsNil())
		}

		for _, x := range []struct {
			p *harness.Process
			h kernel.Handle
		}{{p1, h0}, {p1, h1}, {p2, h2}, {p2, h3}} {
			require.Equal(t, kernel.E_HANDLE, x.p.FilterGetMessage(x.h, make([]byte, 64), nil))
			require.Equal(t, kernel.E_HANDLE, x.p.FilterSendMessage(x.h, []byte("x"), nil, nil))
			// FilterReplyMessage 5: no waiter survives the unload.
			require.Equal(t, kernel.HRESULT(0x801F0020), reply(x.p, x.h, kernel.STATUS_SUCCESS, 1, nil))
			require.NoError(t, x.p.CloseHandle(x.h))
		}
		require.Equal(t, int32(3), d.Disconnects.Load())
		require.Equal(t, int32(0), d.Messages.Load())
		// A new connect finds no port.
		_, hr := p1.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)
	})
}

func TestUnloadWaitsForMessageNotify(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-UNLOAD-5: FltUnregisterFilter waits for a running MessageNotify to return.
		entered := make(chan struct{})
		release := make(chan struct{})
		d := &testdriver.Driver{OnMessage: func(_ context.Context, _ *testdriver.Conn, in, out []byte) (uint32, kernel.NTSTATUS) {
			close(entered)
			<-release
			return uint32(copy(out, "bye")), kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		sent := make(chan kernel.HRESULT, 1)
		out := make([]byte, 8)
		go func() { sent <- p.FilterSendMessage(h, []byte("x"), out, nil) }()
		<-entered
		unloaded := make(chan error, 1)
		go func() { unloaded <- w.Unload("test") }()
		requireBlocked(t, unloaded)
		requireBlocked(t, sent)
		// Meanwhile the connection is already ended for new calls.
		require.Equal(t, kernel.E_HANDLE, p.FilterSendMessage(h, []byte("y"), nil, nil))

		close(release)
		require.Equal(t, kernel.S_OK, <-sent)
		require.Equal(t, "bye", string(out[:3]))
		require.NoError(t, <-unloaded)
		require.Equal(t, int32(1), d.Messages.Load())
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}

// R-UNLOAD-5, R-CB-2: at unload too, a connection's running MessageNotify returns before its
// DisconnectNotify is called, and the unload waits for both.
func TestUnloadDisconnectsAfterMessageNotifyReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newBlockedMessageDriver()
		w, _ := load(t, d.Driver)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		go func() { _ = p.FilterSendMessage(h, []byte("x"), make([]byte, 4), nil) }()
		<-d.entered
		unloaded := make(chan error, 1)
		go func() { unloaded <- w.Unload("test") }()
		synctest.Wait()
		require.Equal(t, int32(0), d.Disconnects.Load(), "the unload must wait for the running MessageNotify")
		close(d.release)
		require.NoError(t, <-unloaded)
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.False(t, d.overlapped.Load(), "unload: DisconnectNotify ran while MessageNotify was in flight")
		_ = p.CloseHandle(h)
	})
}

func TestUnloadWaitsForConnectNotify(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-UNLOAD-5, R-CB-2: an unload that starts while ConnectNotify runs waits for it; the
		// connection it accepted is then ended like the others: DisconnectNotify once, the
		// user's calls E_HANDLE.
		entered := make(chan struct{})
		release := make(chan struct{})
		d := &testdriver.Driver{OnConnect: func(context.Context, *testdriver.Conn, []byte) kernel.NTSTATUS {
			close(entered)
			<-release
			return kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		type connected struct {
			h  kernel.Handle
			hr kernel.HRESULT
		}
		cr := make(chan connected, 1)
		go func() {
			h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
			cr <- connected{h, hr}
		}()
		<-entered
		unloaded := make(chan error, 1)
		go func() { unloaded <- w.Unload("test") }()
		requireBlocked(t, unloaded)
		close(release)
		c := <-cr
		require.NoError(t, <-unloaded)
		require.Equal(t, int32(1), d.Disconnects.Load())
		if c.hr == kernel.S_OK {
			require.Equal(t, kernel.E_HANDLE, p.FilterGetMessage(c.h, make([]byte, 64), nil))
			require.NoError(t, p.CloseHandle(c.h))
		} else {
			t.Fatalf("connect returned %v", c.hr)
		}
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}

func TestUnregisterWithServerPortOpen(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-UNLOAD-6 (Decision): FltUnregisterFilter with the server port open would hang on
		// Windows; the emulator reports R-VERIFY-1 naming the port, closes it, and goes on.
		w, d := load(t, &testdriver.Driver{UnregisterOnly: true})
		w.ExpectViolation(kernel.RuleVerify1)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		g := getAsync(p, h, make([]byte, 64))
		requireBlocked(t, g)
		done := make(chan error, 1)
		go func() { done <- w.Unload("test") }()
		synctest.Wait()
		require.NoError(t, <-done)
		require.Equal(t, kernel.E_HANDLE, <-g)
		vs := violationsOf(w, kernel.RuleVerify1)
		require.Len(t, vs, 1)
		require.Equal(t, "test", vs[0].Driver)
		require.Contains(t, vs[0].Object, testPort)
		require.Empty(t, w.Kernel().Namespace().Names())
		require.Equal(t, int32(1), d.Disconnects.Load())
		_, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)
		require.True(t, strings.Contains(vs[0].Error(), string(kernel.RuleVerify1)))
	})
}

func TestUnloadCancelsSenderContextIndependently(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-UNLOAD-5: a sender that waits forever is released by the unload; its thread need
		// not be cancelled for the unload to finish.
		w, d := load(t, nil)
		connect(t, adminProc(w, "svc.exe"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := sendAsync(ctx, d, d.Conn(0), []byte("m"), make([]byte, 4), nil)
		requireBlocked(t, r)
		require.NoError(t, w.Unload("test"))
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-r)
	})
}
