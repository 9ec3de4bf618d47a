package harness_test

// End-to-end scenarios, told as a service author would live them, and the bad input sweep:
// nothing a user program passes may panic, block forever or lose a message.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

func TestScenarioElevatedAdminConnects(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-1, R-MODEL-2, R-SD: an elevated administrator's service connects to a driver
		// with the default descriptor and talks both ways.
		w := harness.New(t)
		d := &minimal.Driver{}
		require.NoError(t, w.Load("minimal", d))
		p := w.NewProcess("service.exe", kernel.TokenAdmin())
		h, hr := p.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		require.True(t, d.Connected())

		out := make([]byte, 16)
		var n uint32
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("hello"), out, &n))
		require.Equal(t, "HELLO", string(out[:n]))

		type notified struct {
			reply []byte
			st    kernel.NTSTATUS
		}
		r := make(chan notified, 1)
		go func() {
			reply, st := d.Notify(context.Background(), []byte("scan?"), 8, driverapi.RelativeTimeout(time.Second))
			r <- notified{reply, st}
		}()
		hdr, payload := getMessage(t, p, h, 64)
		require.Equal(t, "scan?", string(payload[:5]))
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("clean")))
		got := <-r
		require.Equal(t, kernel.STATUS_SUCCESS, got.st)
		require.Equal(t, "clean", string(got.reply))
		require.NoError(t, p.CloseHandle(h))
		require.False(t, d.Connected())
	})
}

func TestScenarioStandardUser(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SD, R-MODEL-2: a standard user is refused by the default descriptor without
		// ConnectNotify running, and accepted by a driver whose descriptor grants BU.
		w := harness.New(t)
		user := w.NewProcess("tray.exe", kernel.TokenStandardUser())
		strict := &testdriver.Driver{PortName: `\Strict`}
		require.NoError(t, w.Load("strict", strict))
		h, hr := user.FilterConnectCommunicationPort(`\Strict`, 0, nil, 0, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		require.Equal(t, kernel.InvalidHandle, h)
		require.Equal(t, int32(0), strict.ConnectCalls.Load())

		open := &minimal.Driver{PortName: `\Open`, SDDL: "D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)(A;;0x1f0001;;;BU)"}
		require.NoError(t, w.Load("open", open))
		h, hr = user.FilterConnectCommunicationPort(`\Open`, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		require.True(t, open.Connected())
		out := make([]byte, 4)
		require.Equal(t, kernel.S_OK, user.FilterSendMessage(h, []byte("abc"), out, nil))
		require.Equal(t, "ABC", string(out[:3]))
		require.NoError(t, user.CloseHandle(h))
	})
}

func TestScenarioUnloadTerminatesEveryConnection(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-UNLOAD-5: three services are connected and busy; the unload ends all three (the
		// samples read E_HANDLE as "the filter is unloading") and DisconnectNotify runs once
		// for each.
		w, d := load(t, &testdriver.Driver{MaxConnections: 3})
		var gets []<-chan kernel.HRESULT
		for _, image := range []string{"a.exe", "b.exe", "c.exe"} {
			p := adminProc(w, image)
			gets = append(gets, getAsync(p, connect(t, p), make([]byte, 64)))
		}
		for _, g := range gets {
			requireBlocked(t, g)
		}
		require.NoError(t, w.Unload("test"))
		for _, g := range gets {
			require.Equal(t, kernel.E_HANDLE, <-g)
		}
		require.Equal(t, int32(3), d.Disconnects.Load())
		require.False(t, w.FilterManager().Loaded("test"))
	})
}

func TestScenarioCloseServerPortEarly(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CLOSESRV-1, R-CLOSESRV-2: the driver closes its server port while a service is
		// connected: the connection keeps working both ways, a newcomer gets 0x80070002, and
		// the driver can create the name again.
		w := harness.New(t)
		d := &minimal.Driver{}
		require.NoError(t, w.Load("minimal", d))
		p := adminProc(w, "svc.exe")
		h, hr := p.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, p, h)
		d.ServerPortClose()

		_, hr = adminProc(w, "late.exe").FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)
		out := make([]byte, 8)
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("still"), out, nil))
		require.Equal(t, "STILL", string(out[:5]))
		r := make(chan kernel.NTSTATUS, 1)
		go func() {
			_, st := d.Notify(context.Background(), []byte("ping"), 4, nil)
			r <- st
		}()
		hdr, _ := getMessage(t, p, h, 64)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("pong")))
		require.Equal(t, kernel.STATUS_SUCCESS, <-r)

		// The name is free: another driver takes it.
		other := &testdriver.Driver{PortName: minimal.PortName}
		require.NoError(t, w.Load("other", other))
		newcomer := adminProc(w, "new.exe")
		connect2, hr := newcomer.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		require.NotEqual(t, kernel.InvalidHandle, connect2)
		closeAtEnd(t, newcomer, connect2)
		require.Equal(t, int32(1), other.Connects.Load())
		require.True(t, d.Connected())
	})
}

func TestScenarioMaxConnections(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-2, R-CLOSECLI-3: MaxConnections is enforced (0x800704D6) and the slot comes
		// back when the driver closes the client port.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		connect(t, p)
		connect(t, p)
		for range 2 {
			h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
			require.Equal(t, kernel.HRESULT(0x800704D6), hr)
			require.Equal(t, kernel.InvalidHandle, h)
		}
		require.Equal(t, int32(2), d.ConnectCalls.Load())
		d.FM.CloseClientPort(d.Filter, &d.Conn(0).Port)
		connect(t, p)
		_, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x800704D6), hr)
		require.Equal(t, int32(3), d.Connects.Load())
	})
}

func TestScenarioDuplicatedHandle(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Handles 2, R-CB-2: the broker connects and hands the handle to a worker
		// (DUPLICATE_CLOSE_SOURCE); the worker, which could not connect itself, keeps the
		// connection; it ends when the worker's handle closes.
		w, d := load(t, nil)
		broker := adminProc(w, "broker.exe")
		worker := w.NewProcess("worker.exe", kernel.TokenStandardUser())
		_, hr := worker.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		h := connect(t, broker)
		wh, err := broker.DuplicateHandle(h, worker, 0, false, kernel.DUPLICATE_SAME_ACCESS|kernel.DUPLICATE_CLOSE_SOURCE)
		require.NoError(t, err)
		require.Empty(t, broker.Kernel().Handles())
		require.Equal(t, int32(0), d.Disconnects.Load())
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("job"), make([]byte, 4), nil)
		hdr, _ := getMessage(t, worker, wh, 64)
		require.Equal(t, kernel.S_OK, reply(worker, wh, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("done")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 4}, <-r)
		broker.Exit(0)
		require.Equal(t, int32(0), d.Disconnects.Load())
		require.NoError(t, worker.CloseHandle(wh))
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}

func TestScenarioProcessExit(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Handles 3, R-CB-2: the service crashes in the middle of a scan: the driver's
		// send ends with PORT_DISCONNECTED, DisconnectNotify runs once, the slot is free for the
		// restarted service.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		r := sendAsync(context.Background(), d, d.Conn(0), []byte("scan"), make([]byte, 1), nil)
		getMessage(t, p, h, 64)
		p.Exit(0xC0000005)
		require.Equal(t, sendResult{kernel.STATUS_PORT_DISCONNECTED, 0}, <-r)
		require.Equal(t, int32(1), d.Disconnects.Load())
		connect(t, adminProc(w, "svc.exe"))
	})
}

func TestScenarioIdsPerConnection(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-3, R-SEND-7: each connection numbers its messages from 1, independently, and
		// a reply on the wrong connection is 0x801F0020 (R-USER Reply 2).
		w, d := load(t, &testdriver.Driver{MaxConnections: 3})
		type client struct {
			p *harness.Process
			h kernel.Handle
		}
		var cs []client
		for _, image := range []string{"a.exe", "b.exe", "c.exe"} {
			p := adminProc(w, image)
			cs = append(cs, client{p, connect(t, p)})
		}
		for round := 1; round <= 3; round++ {
			for i := range cs {
				// Connection i gets i+1 messages per round, so the counters drift apart.
				for range i + 1 {
					r := sendAsync(context.Background(), d, d.Conn(i), []byte("m"), make([]byte, 1), nil)
					hdr, _ := getMessage(t, cs[i].p, cs[i].h, 64)
					other := cs[(i+1)%len(cs)]
					require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, reply(other.p, other.h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte{1}))
					requireBlocked(t, r)
					require.Equal(t, kernel.S_OK, reply(cs[i].p, cs[i].h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte{1}))
					require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 1}, <-r)
				}
			}
		}
		// After 3 rounds connection i has used ids 1…3(i+1).
		for i := range cs {
			r := sendAsync(context.Background(), d, d.Conn(i), []byte("m"), make([]byte, 1), nil)
			hdr, _ := getMessage(t, cs[i].p, cs[i].h, 64)
			require.Equal(t, uint64(3*(i+1)+1), hdr.MessageId)
			require.Equal(t, kernel.S_OK, reply(cs[i].p, cs[i].h, kernel.STATUS_SUCCESS, hdr.MessageId, nil))
			require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-r)
		}
	})
}

func TestScenarioMessageTooBigIsNotLost(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SEND-4: the service's Get buffer is too small for a message: the Get says so
		// (0x8007007A, and the overlapped form tells the size needed), the service grows its
		// buffer, and receives the same message intact.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		msg := make([]byte, 3000)
		for i := range msg {
			msg[i] = byte(i % 251)
		}
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		require.Equal(t, hrPending, p.FilterGetMessage(h, make([]byte, 1024), ov))
		r := sendAsync(context.Background(), d, d.Conn(0), msg, make([]byte, 8), driverapi.RelativeTimeout(time.Minute))
		need, err := p.GetOverlappedResult(h, ov, true)
		require.Equal(t, kernel.ERROR_INSUFFICIENT_BUFFER, err)
		require.Equal(t, uint32(driverapi.FilterMessageHeaderSize+3000), need)
		requireBlocked(t, r)

		buf := make([]byte, need)
		require.Equal(t, hrPending, p.FilterGetMessage(h, buf, ov))
		n, err := p.GetOverlappedResult(h, ov, true)
		require.NoError(t, err)
		require.Equal(t, need, n)
		require.Equal(t, msg, buf[driverapi.FilterMessageHeaderSize:])
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 2}, <-r)
	})
}

// TestBadInput throws malformed calls at a live connection while a message waits to be
// delivered: none may panic or block, and the waiting message must still arrive intact.
func TestBadInput(t *testing.T) {
	bubble(t, func(t *testing.T) {
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		h := connect(t, p)
		other := adminProc(w, "other.exe")
		port, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		closeAtEnd(t, p, port)
		closed := connectAndClose(t, w, p)

		msg := []byte("the message that must not be lost")
		r := sendAsync(context.Background(), d, d.Conn(0), msg, make([]byte, 4), nil)
		requireBlocked(t, r)

		big := make([]byte, driverapi.MaxConnectionContext+1)
		calls := []struct {
			name string
			call func() any
			want any
		}{
			// Connect (R-USER Connect 2, 3).
			{"connect empty name", func() any { return second(p.FilterConnectCommunicationPort("", 0, nil, 0, nil)) }, kernel.HRESULT(0x800700A1)},
			{"connect malformed name", func() any { return second(p.FilterConnectCommunicationPort("TestPort", 0, nil, 0, nil)) }, kernel.HRESULT(0x800700A1)},
			{"connect context too big", func() any { return second(p.FilterConnectCommunicationPort(testPort, 0, big, len(big), nil)) }, kernel.E_INVALIDARG},
			{"connect nil context with size", func() any { return second(p.FilterConnectCommunicationPort(testPort, 0, nil, 8, nil)) }, kernel.E_INVALIDARG},
			{"connect unknown options", func() any { return second(p.FilterConnectCommunicationPort(testPort, 0xFFFFFFFE, nil, 0, nil)) }, kernel.E_INVALIDARG},
			// Get (R-USER Get 1) and handles (R-USER Handles 1).
			{"get nil buffer", func() any { return p.FilterGetMessage(h, nil, nil) }, kernel.E_INVALIDARG},
			{"get short buffer", func() any { return p.FilterGetMessage(h, make([]byte, 8), &fltlib.Overlapped{}) }, kernel.E_INVALIDARG},
			{"get invalid handle", func() any { return p.FilterGetMessage(kernel.InvalidHandle, make([]byte, 64), nil) }, kernel.E_HANDLE},
			{"get zero handle", func() any { return p.FilterGetMessage(0, make([]byte, 64), nil) }, kernel.E_HANDLE},
			{"get closed handle", func() any { return p.FilterGetMessage(closed, make([]byte, 64), nil) }, kernel.E_HANDLE},
			{"get other process's handle", func() any { return other.FilterGetMessage(h, make([]byte, 64), nil) }, kernel.E_HANDLE},
			{"get completion port", func() any { return p.FilterGetMessage(port, make([]byte, 64), nil) }, kernel.E_HANDLE},
			// Reply (R-USER Reply 1, 2).
			{"reply nil buffer", func() any { return p.FilterReplyMessage(h, nil) }, kernel.E_INVALIDARG},
			{"reply short buffer", func() any { return p.FilterReplyMessage(h, make([]byte, 15)) }, kernel.E_INVALIDARG},
			{"reply id 0", func() any { return reply(p, h, kernel.STATUS_SUCCESS, 0, nil) }, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY},
			{"reply unknown id", func() any { return reply(p, h, kernel.STATUS_SUCCESS, ^uint64(0), nil) }, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY},
			{"reply closed handle", func() any { return reply(p, closed, kernel.STATUS_SUCCESS, 1, nil) }, kernel.E_HANDLE},
			{"reply completion port", func() any { return reply(p, port, kernel.STATUS_SUCCESS, 1, nil) }, kernel.E_HANDLE},
			// Send (R-USER Send 1).
			{"send nil input", func() any { return p.FilterSendMessage(h, nil, nil, nil) }, kernel.E_INVALIDARG},
			{"send invalid handle", func() any { return p.FilterSendMessage(kernel.InvalidHandle, []byte("x"), nil, nil) }, kernel.E_HANDLE},
			// Handle routines.
			{"close invalid handle", func() any { return p.CloseHandle(kernel.InvalidHandle) }, kernel.ERROR_INVALID_HANDLE},
			{"close closed handle", func() any { return p.CloseHandle(closed) }, kernel.ERROR_INVALID_HANDLE},
			{"cancel with nothing pending", func() any { return p.CancelIoEx(h, &fltlib.Overlapped{}) }, kernel.ERROR_NOT_FOUND},
			{"GetOverlappedResult nil", func() any { return second(p.GetOverlappedResult(h, nil, true)) }, kernel.ERROR_INVALID_PARAMETER},
			{"GQCS invalid handle", func() any { return fourth(p.GetQueuedCompletionStatus(kernel.InvalidHandle, 0)) }, kernel.ERROR_INVALID_HANDLE},
			{"associate closed handle", func() any { return second(p.CreateIoCompletionPort(closed, port, 0, 0)) }, kernel.ERROR_INVALID_HANDLE},
			{"duplicate bad options", func() any { return second(p.DuplicateHandle(h, other, 0, false, 0x80)) }, kernel.ERROR_INVALID_PARAMETER},
			{"duplicate into nil", func() any { return second(p.DuplicateHandle(h, nil, 0, false, kernel.DUPLICATE_SAME_ACCESS)) }, kernel.ERROR_INVALID_HANDLE},
		}
		for _, c := range calls {
			done := make(chan any, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						done <- v
					}
				}()
				done <- c.call()
			}()
			synctest.Wait()
			select {
			case got := <-done:
				require.Equal(t, c.want, got, c.name)
			default:
				t.Fatalf("%s: the call blocked", c.name)
			}
			requireBlocked(t, r)
		}
		require.Equal(t, int32(0), d.Messages.Load())
		require.Equal(t, int32(1), d.Connects.Load())

		hdr, payload := getMessage(t, p, h, 128)
		require.Equal(t, msg, payload[:len(msg)])
		require.Equal(t, kernel.S_OK, reply(p, h, kernel.STATUS_SUCCESS, hdr.MessageId, []byte("fine")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 4}, <-r)
	})
}

// connectAndClose returns a handle value of p that was a connection and is closed now.
func connectAndClose(t *testing.T, w *harness.World, p *harness.Process) kernel.Handle {
	t.Helper()
	d := &testdriver.Driver{PortName: `\Scratch`}
	require.NoError(t, w.Load("scratch", d))
	h, hr := p.FilterConnectCommunicationPort(`\Scratch`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	require.NoError(t, p.CloseHandle(h))
	return h
}
