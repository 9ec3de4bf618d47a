package fltmgr_test

// Bad-input sweep of the filter manager: the Manager's load/unload, registration and
// communication-port routines and every Connection method, called with nil, zero, negative,
// oversized, closed and foreign (another world's, another filter's) arguments. Each call runs
// on a goroutine of its own inside a synctest bubble; the sweep fails if a call panics, if it
// blocks when it should not (or returns when it should block), if it does not return the
// documented status, or if the verifier does not report exactly the rule the case names
// (R-VERIFY-4, R-VERIFY-5 for driver bugs that would crash Windows).
//
// The I/O-model routines (contexts, file names, instances, NtCreateFile …) are not swept here.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/kernel"
)

const badPortName = `\BadPort`

// badDriver registers, creates one port and starts filtering; it keeps what it was given.
type badDriver struct {
	obj    *driverapi.DriverObject
	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	port   string
	conns  []*driverapi.ClientPort
	discs  int
}

func (d *badDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.obj, d.fm = obj, fm
	if d.port == "" {
		d.port = badPortName
	}
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		if d.server != nil {
			fm.CloseCommunicationPort(d.server)
		}
		fm.UnregisterFilter(d.filter)
		return kernel.STATUS_SUCCESS
	}})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(d.port, driverapi.OBJ_KERNEL_HANDLE, kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS))
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, d.message, 8)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

func (d *badDriver) connect(_ context.Context, p driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
	cp := &driverapi.ClientPort{}
	cp.Store(p)
	d.conns = append(d.conns, cp)
	return cp, kernel.STATUS_SUCCESS
}

func (d *badDriver) disconnect(_ context.Context, cookie any) {
	d.discs++
	d.fm.CloseClientPort(d.filter, cookie.(*driverapi.ClientPort))
}

func (d *badDriver) message(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
	return uint32(copy(out, in)), kernel.STATUS_SUCCESS
}

// badDone is a GetCompletion that records its calls.
type badDone struct {
	calls int
	st    kernel.NTSTATUS
	n     uint32
}

func (b *badDone) GetCompleted(st kernel.NTSTATUS, n uint32) { b.calls, b.st, b.n = b.calls+1, st, n }

type badBlockedT struct{}

// badBlocked is the wanted result of a call that must block.
var badBlocked any = badBlockedT{}

type badCase struct {
	name string
	call func() any
	want any
	rule kernel.RuleID // the verifier rule the call must report, "" for none
}

// badRun runs each case on a goroutine of its own and checks its result, that it did not
// panic, and the verifier reports it caused.
func badRun(t *testing.T, k *kernel.World, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		before := len(k.Verifier().Violations())
		var got, pan any
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() { pan = recover() }()
			got = c.call()
		}()
		synctest.Wait()
		select {
		case <-done:
		default:
			got = badBlocked
		}
		if pan != nil {
			t.Errorf("%s: panicked: %v", c.name, pan)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %v (%T), want %v (%T)", c.name, got, got, c.want, c.want)
		}
		vs := k.Verifier().Violations()[before:]
		switch {
		case c.rule == "" && len(vs) != 0:
			t.Errorf("%s: unexpected verifier report %v", c.name, vs)
		case c.rule != "" && (len(vs) != 1 || vs[0].Rule != c.rule):
			t.Errorf("%s: verifier reported %v, want one %s", c.name, vs, c.rule)
		}
	}
}

// badWorld makes a kernel world with the filter manager and a loaded badDriver.
func badWorld(t *testing.T, port string) (*kernel.World, *fltmgr.Manager, *badDriver) {
	k := kernel.New()
	m := fltmgr.New(k)
	d := &badDriver{port: port}
	require.Equal(t, kernel.STATUS_SUCCESS, m.LoadDriver("bad", d))
	return k, m, d
}

func badProc(t *testing.T, k *kernel.World, image string) *kernel.Process {
	p, st := k.CreateProcess(image, kernel.TokenAdmin(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	return p
}

// TestBadInputManager sweeps the Manager's routines (R-REG, R-UNLOAD, R-CREATE, R-SD,
// R-CLOSESRV, R-CLOSECLI, R-SEND, R-MODEL-2, R-VERIFY-4, R-VERIFY-5).
func TestBadInputManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, m, d := badWorld(t, "")
		fk, fm, fd := badWorld(t, "")                   // a foreign world
		_, _, other := k, m, &badDriver{port: `\Other`} // another filter of the same world
		require.Equal(t, kernel.STATUS_SUCCESS, m.LoadDriver("other", other))
		p := badProc(t, k, "svc.exe")
		fp := badProc(t, fk, "foreign.exe")

		conn, st := m.Connect(fltmgr.ThreadContext(p), badPortName, nil)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		_, st = fm.Connect(fltmgr.ThreadContext(fp), badPortName, nil)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		_, st = m.Connect(fltmgr.ThreadContext(p), `\Other`, nil)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		live, foreignCP, otherCP := d.conns[0], fd.conns[0], other.conns[0]
		var empty driverapi.ClientPort

		reg := &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION}
		goodAttrs := driverapi.InitializeObjectAttributes(`\Fresh`, driverapi.OBJ_KERNEL_HANDLE, nil)
		attrs := func(name string, flags uint32) *driverapi.ObjectAttributes {
			a := driverapi.InitializeObjectAttributes(name, flags, nil)
			return &a
		}
		cn, dn := d.connect, d.disconnect
		create := func(fi driverapi.Filter, a *driverapi.ObjectAttributes, c driverapi.ConnectNotify, dc driverapi.DisconnectNotify, max int32) any {
			sp, st := fltmgr.DriverView(m).CreateCommunicationPort(fi, a, nil, c, dc, nil, max)
			if st == kernel.STATUS_SUCCESS {
				fltmgr.DriverView(m).CloseCommunicationPort(sp)
			}
			return st
		}
		send := func(ctx context.Context, fi driverapi.Filter, cp *driverapi.ClientPort, msg, reply []byte, n *uint32, timeout *int64) any {
			return fltmgr.DriverView(m).SendMessage(ctx, fi, cp, msg, reply, n, timeout)
		}
		u32 := func(v uint32) *uint32 { return &v }
		i64 := func(v int64) *int64 { return &v }
		big := make([]byte, driverapi.MaxConnectionContext+1)

		badRun(t, k, []badCase{
			// Loading and unloading.
			{"load empty name", func() any { return m.LoadDriver("", &badDriver{}) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"load nil driver", func() any { return m.LoadDriver("x", nil) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"load a path", func() any { return m.LoadDriver(`a\b`, &badDriver{}) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"load twice", func() any { return m.LoadDriver("BAD", &badDriver{}) }, kernel.STATUS_IMAGE_ALREADY_LOADED, ""},
			{"loaded empty", func() any { return m.Loaded("") }, false, ""},
			{"unload unknown", func() any { return m.UnloadFilter(context.Background(), "", false) }, kernel.STATUS_FLT_FILTER_NOT_FOUND, ""},
			{"stop unknown", func() any { return m.UnloadFilter(context.Background(), "nope", true) }, kernel.STATUS_FLT_FILTER_NOT_FOUND, ""},
			{"registry path of nothing", func() any { return fltmgr.RegistryPath("") != "" }, true, ""},
			{"routines", func() any { return len(fltmgr.Routines()) > 0 }, true, ""},
			{"no fault hook", func() any { m.SetFaultHook(nil); return true }, true, ""},

			// FltRegisterFilter, FltStartFiltering, FltUnregisterFilter (R-REG-1).
			{"register nil driver", func() any { _, st := fltmgr.DriverView(m).RegisterFilter(nil, reg); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"register nil registration", func() any { _, st := fltmgr.DriverView(m).RegisterFilter(d.obj, nil); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"register unknown version", func() any {
				_, st := fltmgr.DriverView(m).RegisterFilter(d.obj, &driverapi.Registration{Version: 0x0100})
				return st
			}, kernel.STATUS_INVALID_PARAMETER, ""},
			{"register unknown flags", func() any {
				_, st := fltmgr.DriverView(m).RegisterFilter(d.obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, Flags: 0x80})
				return st
			}, kernel.STATUS_INVALID_PARAMETER, ""},
			{"register twice", func() any { _, st := fltmgr.DriverView(m).RegisterFilter(d.obj, reg); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"register a driver object of no loaded driver", func() any {
				_, st := fltmgr.DriverView(m).RegisterFilter(&driverapi.DriverObject{Name: "bad"}, reg)
				return st
			}, kernel.STATUS_INVALID_PARAMETER, ""},
			{"register another world's driver", func() any { _, st := fltmgr.DriverView(m).RegisterFilter(fd.obj, reg); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"start nil", func() any { return fltmgr.DriverView(m).StartFiltering(nil) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"start foreign", func() any { return fltmgr.DriverView(m).StartFiltering(fd.filter) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"start twice", func() any { return fltmgr.DriverView(m).StartFiltering(d.filter) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"unregister nil", func() any { fltmgr.DriverView(m).UnregisterFilter(nil); return m.Loaded("bad") }, true, ""},
			{"unregister foreign", func() any {
				fltmgr.DriverView(m).UnregisterFilter(fd.filter)
				return fm.Loaded("bad") && !conn.Disconnected()
			}, true, ""},

			// FltBuildDefaultSecurityDescriptor (R-SD).
			{"default SD for nothing", func() any {
				sd, st := fltmgr.DriverView(m).BuildDefaultSecurityDescriptor(0)
				return [2]any{sd == nil, st}
			},
				[2]any{true, kernel.STATUS_INVALID_PARAMETER}, ""},
			{"default SD for everything", func() any { _, st := fltmgr.DriverView(m).BuildDefaultSecurityDescriptor(math.MaxUint32); return st }, kernel.STATUS_SUCCESS, ""},
			{"free nil SD", func() any { fltmgr.DriverView(m).FreeSecurityDescriptor(nil); return true }, true, ""},

			// FltCreateCommunicationPort (R-CREATE-1…5).
			{"create on nil filter", func() any { return create(nil, &goodAttrs, cn, dn, 1) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"create on a foreign filter", func() any { return create(fd.filter, &goodAttrs, cn, dn, 1) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"create nil attributes", func() any { return create(d.filter, nil, cn, dn, 1) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"create without OBJ_KERNEL_HANDLE", func() any { return create(d.filter, attrs(`\Fresh`, driverapi.OBJ_CASE_INSENSITIVE), cn, dn, 1) },
				kernel.STATUS_INVALID_PARAMETER, ""},
			{"create max 0", func() any { return create(d.filter, &goodAttrs, cn, dn, 0) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"create max -1", func() any { return create(d.filter, &goodAttrs, cn, dn, -1) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"create max MinInt32", func() any { return create(d.filter, &goodAttrs, cn, dn, math.MinInt32) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"create max MaxInt32", func() any { return create(d.filter, &goodAttrs, cn, dn, math.MaxInt32) }, kernel.STATUS_SUCCESS, ""},
			// R-CREATE-3: Windows does not check and crashes at the first connect; the
			// emulator refuses the port and reports it.
			{"create nil ConnectNotify", func() any { return create(d.filter, &goodAttrs, nil, dn, 1) }, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			{"create nil DisconnectNotify", func() any { return create(d.filter, &goodAttrs, cn, nil, 1) }, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			// R-USER connect 5: a driver's malformed name gets the object manager's statuses.
			{"create empty name", func() any { return create(d.filter, attrs("", driverapi.OBJ_KERNEL_HANDLE), cn, dn, 1) }, kernel.STATUS_OBJECT_PATH_SYNTAX_BAD, ""},
			{"create name without backslash", func() any { return create(d.filter, attrs("Port", driverapi.OBJ_KERNEL_HANDLE), cn, dn, 1) },
				kernel.STATUS_OBJECT_PATH_SYNTAX_BAD, ""},
			{"create in a missing directory", func() any { return create(d.filter, attrs(`\NoSuchDir\Port`, driverapi.OBJ_KERNEL_HANDLE), cn, dn, 1) },
				kernel.STATUS_OBJECT_PATH_NOT_FOUND, ""},
			{"create with an empty component", func() any { return create(d.filter, attrs(`\\Port`, driverapi.OBJ_KERNEL_HANDLE), cn, dn, 1) },
				kernel.STATUS_OBJECT_NAME_INVALID, ""},
			{"create in an existing directory", func() any {
				return create(d.filter, attrs(`\RPC Control\Port`, driverapi.OBJ_KERNEL_HANDLE), cn, dn, 1)
			},
				kernel.STATUS_SUCCESS, ""},
			// R-CREATE-4: the collision check ignores case only with OBJ_CASE_INSENSITIVE.
			{"create a taken name in other case, case-insensitive", func() any {
				return create(d.filter, attrs(`\BADPORT`, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE), cn, dn, 1)
			}, kernel.STATUS_OBJECT_NAME_COLLISION, ""},
			{"create a taken name in other case, case-sensitive", func() any { return create(d.filter, attrs(`\BADPORT`, driverapi.OBJ_KERNEL_HANDLE), cn, dn, 1) },
				kernel.STATUS_SUCCESS, ""},

			// FltCloseCommunicationPort (R-CLOSESRV-3, R-VERIFY-4, R-VERIFY-5).
			{"close nil server port", func() any { fltmgr.DriverView(m).CloseCommunicationPort(nil); return true }, true, kernel.RuleVerify5},
			{"close a foreign server port", func() any { fltmgr.DriverView(m).CloseCommunicationPort(fd.server); return fm.Loaded("bad") }, true, kernel.RuleVerify5},

			// FltCloseClientPort (R-CLOSECLI-1, R-VERIFY-5).
			{"close client port, nil filter", func() any { fltmgr.DriverView(m).CloseClientPort(nil, &empty); return true }, true, kernel.RuleVerify5},
			{"close client port, nil variable", func() any { fltmgr.DriverView(m).CloseClientPort(d.filter, nil); return true }, true, kernel.RuleVerify5},
			{"close client port, empty variable", func() any { fltmgr.DriverView(m).CloseClientPort(d.filter, &empty); return true }, true, ""},
			{"close a foreign client port", func() any {
				cp := &driverapi.ClientPort{}
				cp.Store(foreignCP.Load())
				fltmgr.DriverView(m).CloseClientPort(d.filter, cp)
				return foreignCP.Load() != nil
			}, true, kernel.RuleVerify5},
			{"close another filter's client port", func() any {
				cp := &driverapi.ClientPort{}
				cp.Store(otherCP.Load())
				fltmgr.DriverView(m).CloseClientPort(d.filter, cp)
				return true
			}, true, kernel.RuleVerify5},

			// FltSendMessage (R-SEND-1…3, R-VERIFY-5).
			{"send nil filter", func() any { return send(context.Background(), nil, live, []byte("x"), nil, nil, nil) }, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			{"send foreign filter", func() any { return send(context.Background(), fd.filter, live, []byte("x"), nil, nil, nil) }, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			{"send nil variable", func() any { return send(context.Background(), d.filter, nil, []byte("x"), nil, nil, nil) }, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			{"send empty variable", func() any { return send(context.Background(), d.filter, &empty, []byte("x"), nil, nil, nil) }, kernel.STATUS_PORT_DISCONNECTED, ""},
			{"send reply buffer without length", func() any { return send(context.Background(), d.filter, live, []byte("x"), make([]byte, 4), nil, nil) },
				kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			// R-SEND-7: capacity 0 with a buffer is a status-only reply, not a bug.
			{"send reply capacity 0", func() any {
				n := u32(0)
				return [2]any{send(context.Background(), d.filter, live, []byte("x"), make([]byte, 4), n, driverapi.NoWait()), *n}
			}, [2]any{kernel.STATUS_TIMEOUT, uint32(0)}, ""},
			{"send reply capacity past the buffer", func() any {
				n := u32(5)
				return [2]any{send(context.Background(), d.filter, live, []byte("x"), make([]byte, 4), n, nil), *n}
			}, [2]any{kernel.STATUS_INVALID_PARAMETER, uint32(0)}, kernel.RuleVerify5},
			// R-SEND-6: no reply buffer is a one-way send whatever *ReplyLength held.
			{"send capacity without reply buffer", func() any {
				return send(context.Background(), d.filter, live, []byte("x"), nil, u32(8), driverapi.NoWait())
			}, kernel.STATUS_TIMEOUT, ""},
			{"send on another filter's port", func() any {
				return send(context.Background(), d.filter, otherCP, []byte("x"), nil, nil, driverapi.NoWait())
			}, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			{"send on a foreign port", func() any {
				return send(context.Background(), d.filter, foreignCP, []byte("x"), nil, nil, driverapi.NoWait())
			}, kernel.STATUS_INVALID_PARAMETER, kernel.RuleVerify5},
			{"send nil ctx, nil message, no wait", func() any {
				//nolint:staticcheck // a nil context is the bad input under test
				return send(nil, d.filter, live, nil, nil, nil, driverapi.NoWait())
			}, kernel.STATUS_TIMEOUT, ""},
			{"send absolute time 0 (1601)", func() any { return send(context.Background(), d.filter, live, []byte("x"), nil, nil, i64(1)) }, kernel.STATUS_TIMEOUT, ""},
			{"send with a cancelled context", func() any {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return send(ctx, d.filter, live, []byte("x"), nil, nil, nil)
			}, kernel.STATUS_THREAD_IS_TERMINATING, ""},
			// Huge timeouts must wait, not overflow into "already expired" (R-SEND-3).
			{"send relative MinInt64", func() any {
				return send(context.Background(), d.filter, live, []byte("x"), nil, nil, i64(math.MinInt64))
			}, badBlocked, ""},
			{"send relative -2^62", func() any { return send(context.Background(), d.filter, live, []byte("x"), nil, nil, i64(-1<<62)) }, badBlocked, ""},
			{"send absolute MaxInt64", func() any {
				return send(context.Background(), d.filter, live, []byte("x"), nil, nil, i64(math.MaxInt64))
			}, badBlocked, ""},

			// FilterConnectCommunicationPort's kernel half (R-MODEL-2).
			{"connect nil process", func() any { _, st := m.Connect(context.Background(), badPortName, nil); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"connect a foreign process", func() any { _, st := m.Connect(fltmgr.ThreadContext(fp), badPortName, nil); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"connect oversized context", func() any { _, st := m.Connect(fltmgr.ThreadContext(p), badPortName, big); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"connect empty name", func() any { _, st := m.Connect(fltmgr.ThreadContext(p), "", nil); return st }, kernel.STATUS_OBJECT_PATH_SYNTAX_BAD, ""},
			{"connect in another case", func() any { _, st := m.Connect(fltmgr.ThreadContext(p), strings.ToLower(badPortName), nil); return st }, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ""},
			{"connect in a missing directory", func() any { _, st := m.Connect(fltmgr.ThreadContext(p), `\NoSuchDir\Port`, nil); return st }, kernel.STATUS_OBJECT_PATH_NOT_FOUND, ""},
			{"connect to a directory", func() any { _, st := m.Connect(fltmgr.ThreadContext(p), `\Device`, nil); return st }, kernel.STATUS_OBJECT_TYPE_MISMATCH, ""},
			{"connect unknown name", func() any { _, st := m.Connect(fltmgr.ThreadContext(p), `\Nope`, nil); return st }, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ""},
		})

		// The blocked sends above end when the connection does.
		conn.CloseUserEndpoint(context.Background())
		synctest.Wait()

		// The double close of a server port (R-VERIFY-4).
		badRun(t, k, []badCase{
			{"close the server port", func() any { fltmgr.DriverView(m).CloseCommunicationPort(other.server); return true }, true, ""},
			{"close it again", func() any { fltmgr.DriverView(m).CloseCommunicationPort(other.server); return true }, true, kernel.RuleVerify4},
		})
		other.server = nil
		m.Shutdown()
		m.Shutdown()
		fm.Shutdown()
		require.Empty(t, m.Leftovers())
		require.Empty(t, fm.Leftovers())
		for _, pr := range []*kernel.Process{p, fp} {
			pr.Exit(0)
		}
	})
}

// TestBadInputConnection sweeps the Connection methods (R-USER Get 1, Reply 1–2, Send 1–3,
// R-CB-2).
func TestBadInputConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, m, d := badWorld(t, "")
		p := badProc(t, k, "svc.exe")
		c, st := m.Connect(fltmgr.ThreadContext(p), badPortName, nil)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		done := &badDone{}
		info := func() any {
			return fmt.Sprintf("%v %v %v %v", c.ConnectionID() != 0, c.PortName(), c.Process() == p, c.String() != "")
		}

		badRun(t, k, []badCase{
			{"get nil buffer", func() any { return c.Get(nil, nil, done) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"get 15 bytes", func() any { return c.Get(make([]byte, 15), nil, done) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"get nil completion", func() any { return c.Get(make([]byte, 64), nil, nil) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"refused gets never complete", func() any { return done.calls }, 0, ""},
			{"cancel none", func() any { return c.CancelGets(nil) }, 0, ""},
			{"pending none", func() any { return c.PendingGets() }, 0, ""},
			{"reply nil", func() any { return c.Reply(nil) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"reply 15 bytes", func() any { return c.Reply(make([]byte, 15)) }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"reply unknown id", func() any { return c.Reply(make([]byte, driverapi.FilterReplyHeaderSize)) }, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, ""},
			{"send nil", func() any { _, st := c.Send(context.Background(), nil, nil); return st }, kernel.STATUS_INVALID_PARAMETER, ""},
			{"send nil output", func() any { n, st := c.Send(context.Background(), []byte("x"), nil); return [2]any{n, st} }, [2]any{uint32(0), kernel.STATUS_SUCCESS}, ""},
			{"info", info, "true \\BadPort true true", ""},
			{"a pending get", func() any { return c.Get(make([]byte, 64), "tag", done) }, kernel.STATUS_PENDING, ""},
			{"cancel by a tag that does not match", func() any { return c.CancelGets(func(tag any) bool { return tag == "other" }) }, 0, ""},
			{"cancel it", func() any { return [3]any{c.CancelGets(nil), done.calls, done.st} }, [3]any{1, 1, kernel.STATUS_CANCELLED}, ""},
			{"close the user endpoint", func() any { c.CloseUserEndpoint(context.Background()); return d.discs }, 1, ""},
			{"close it again: DisconnectNotify at most once", func() any { c.CloseUserEndpoint(context.Background()); return d.discs }, 1, ""},
			{"disconnected", func() any { return c.Disconnected() }, true, ""},
			{"get after close", func() any { return c.Get(make([]byte, 64), nil, done) }, kernel.STATUS_PORT_DISCONNECTED, ""},
			{"reply after close", func() any { return c.Reply(make([]byte, driverapi.FilterReplyHeaderSize)) }, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, ""}, // FilterReplyMessage 5
			{"send after close", func() any { _, st := c.Send(context.Background(), []byte("x"), nil); return st }, kernel.STATUS_PORT_DISCONNECTED, ""},
			{"info after close", info, "true \\BadPort true true", ""},
			{"send on the closed client port variable", func() any {
				return fltmgr.DriverView(m).SendMessage(context.Background(), d.filter, d.conns[0], []byte("x"), nil, nil, nil)
			}, kernel.STATUS_PORT_DISCONNECTED, ""},
		})
		m.Shutdown()
		require.Empty(t, m.Leftovers())
		p.Exit(0)
	})
}
