package harness_test

// Tests of the communication-port model, port creation, security descriptors, ConnectNotify and
// FilterConnectCommunicationPort (docs/rules.md §2, §3 R-CREATE and R-SD, §4 R-CB-1, §5 R-USER
// Connect).

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// ---- R-MODEL ----

func TestModelPortNameIsCaseSensitiveForConnect(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-1: the port was created with OBJ_CASE_INSENSITIVE, but fltmgr opens
		// it for a user with no attributes and the port type is not case-insensitive: only the
		// exact name connects.
		w, d := load(t, nil)
		require.Equal(t, []string{testPort}, w.Kernel().Namespace().Names())
		p := adminProc(w, "svc.exe")
		for _, name := range []string{`\TESTPORT`, `\testport`, `\TestPORT`} {
			h, hr := p.FilterConnectCommunicationPort(name, 0, nil, 0, nil)
			require.Equal(t, kernel.HRESULT(0x80070002), hr, name)
			require.Equal(t, kernel.InvalidHandle, h)
		}
		require.Equal(t, int32(0), d.ConnectCalls.Load())
		h := connect(t, p)
		require.Equal(t, int32(1), d.Connects.Load())
		require.NoError(t, p.CloseHandle(h))
	})
}

func TestModelConnectPathErrors(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER connect 5: the object manager's name statuses reach the user.
		w, d := load(t, nil)
		p := adminProc(w, "svc.exe")
		for _, tc := range []struct {
			name string
			want kernel.HRESULT
		}{
			{"", 0x800700A1},                // OBJECT_PATH_SYNTAX_BAD → ERROR_BAD_PATHNAME
			{"TestPort", 0x800700A1},        // not starting with a backslash
			{`\NoSuchDir\Port`, 0x80070003}, // OBJECT_PATH_NOT_FOUND → ERROR_PATH_NOT_FOUND
			{`\RPC Control\Port`, 0x80070002},
			{`\\TestPort`, 0x8007007B},  // an empty component: OBJECT_NAME_INVALID → ERROR_INVALID_NAME
			{`\TestPort\x`, 0x80070006}, // through a port: OBJECT_TYPE_MISMATCH → ERROR_INVALID_HANDLE
			{`\Device`, 0x80070006},     // a directory is not a port
		} {
			h, hr := p.FilterConnectCommunicationPort(tc.name, 0, nil, 0, nil)
			require.Equal(t, tc.want, hr, "%q", tc.name)
			require.Equal(t, kernel.InvalidHandle, h)
		}
		// lpPortName is an LPCWSTR: it ends at the first NUL.
		h, hr := p.FilterConnectCommunicationPort(testPort+"\x00garbage", 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, p, h)
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, int32(1), d.ConnectCalls.Load())
	})
}

func TestModelConnectUnknownName(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-2: the name must exist: OBJECT_NAME_NOT_FOUND → 0x80070002, checked first
		// (even a caller the descriptor would refuse gets "not found").
		w, d := load(t, nil)
		for _, tok := range []*kernel.Token{kernel.TokenAdmin(), kernel.TokenStandardUser()} {
			p := w.NewProcess("svc.exe", tok)
			h, hr := p.FilterConnectCommunicationPort(`\NoSuchPort`, 0, nil, 0, nil)
			require.Equal(t, kernel.HRESULT(0x80070002), hr)
			require.Equal(t, kernel.InvalidHandle, h)
		}
		require.Equal(t, int32(0), d.ConnectCalls.Load())
	})
}

func TestModelConnectCheckOrder(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-2: access is checked before the slot: a standard user at a full port gets
		// ACCESS_DENIED, an admin CONNECTION_COUNT_LIMIT; ConnectNotify runs for neither.
		w, d := load(t, &testdriver.Driver{MaxConnections: 1})
		connect(t, adminProc(w, "first.exe"))
		require.Equal(t, int32(1), d.ConnectCalls.Load())

		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		h, hr := user.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		require.Equal(t, kernel.InvalidHandle, h)

		second := adminProc(w, "second.exe")
		h, hr = second.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x800704D6), hr)
		require.Equal(t, kernel.InvalidHandle, h)
		require.Empty(t, second.Kernel().Handles())
		require.Equal(t, int32(1), d.ConnectCalls.Load())

		// Last in the order: ConnectNotify's own status goes back to the caller.
		d2 := &testdriver.Driver{PortName: `\Refusing`, OnConnect: func(context.Context, *testdriver.Conn, []byte) kernel.NTSTATUS {
			return kernel.STATUS_INSUFFICIENT_RESOURCES
		}}
		require.NoError(t, w.Load("refusing", d2))
		h, hr = second.FilterConnectCommunicationPort(`\Refusing`, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x800705AA), hr)
		require.Equal(t, kernel.InvalidHandle, h)
		require.Equal(t, int32(1), d2.ConnectCalls.Load())
	})
}

func TestModelConnectionsAreIndependent(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-MODEL-3: each connection has its kernel endpoint (the client port given to
		// ConnectNotify), its user handle, its own queue and its own message ids.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		pa, pb := adminProc(w, "a.exe"), adminProc(w, "b.exe")
		ha, hb := connect(t, pa), connect(t, pb)
		ca, cb := d.Conn(0), d.Conn(1)
		require.NotNil(t, ca.Port.Load())
		require.NotNil(t, cb.Port.Load())
		require.NotEqual(t, ca.Port.Load().ConnectionID(), cb.Port.Load().ConnectionID())

		// A Get on b does not receive a's message.
		bufB := make([]byte, 64)
		gb := getAsync(pb, hb, bufB)
		ra := sendAsync(context.Background(), d, ca, []byte("for a"), make([]byte, 4), nil)
		requireBlocked(t, gb)
		requireBlocked(t, ra)

		hdr, payload := getMessage(t, pa, ha, 64)
		require.Equal(t, uint64(1), hdr.MessageId)
		require.Equal(t, "for a", string(payload[:5]))
		// b numbers its own messages from 1 as well.
		rb := sendAsync(context.Background(), d, cb, []byte("for b"), make([]byte, 4), nil)
		require.Equal(t, kernel.S_OK, <-gb)
		hdrB, _ := driverapi.ParseFilterMessageHeader(bufB)
		require.Equal(t, uint64(1), hdrB.MessageId)
		require.Equal(t, "for b", string(bufB[driverapi.FilterMessageHeaderSize:21]))
		// Each reply reaches its own connection's sender.
		require.Equal(t, kernel.S_OK, reply(pb, hb, kernel.STATUS_SUCCESS, 1, []byte("B")))
		require.Equal(t, kernel.S_OK, reply(pa, ha, kernel.STATUS_SUCCESS, 1, []byte("AA")))
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 2}, <-ra)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 1}, <-rb)
	})
}

// ---- R-CREATE ----

func noConnect(context.Context, driverapi.Port, any, []byte) (any, kernel.NTSTATUS) {
	return nil, kernel.STATUS_SUCCESS
}

func noDisconnect(context.Context, any) {}

func TestCreateRequiresKernelHandle(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-1: OBJ_KERNEL_HANDLE is required; without it no name is created.
		w, d := load(t, &testdriver.Driver{NoPort: true})
		fm := d.FM
		for _, attrs := range []uint32{0, driverapi.OBJ_CASE_INSENSITIVE, driverapi.OBJ_INHERIT | driverapi.OBJ_CASE_INSENSITIVE} {
			a := driverapi.InitializeObjectAttributes(testPort, attrs, nil)
			sp, st := fm.CreateCommunicationPort(d.Filter, &a, nil, noConnect, noDisconnect, nil, 1)
			require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st, "attributes %#x", attrs)
			require.Nil(t, sp)
		}
		sp, st := fm.CreateCommunicationPort(d.Filter, nil, nil, noConnect, noDisconnect, nil, 1)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
		require.Nil(t, sp)
		require.Empty(t, w.Kernel().Namespace().Names())
		_, hr := adminProc(w, "svc.exe").FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.HRESULT(0x80070002), hr)
	})
}

func TestCreateMaxConnectionsMustBePositive(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-2: MaxConnections 0 and negative are INVALID_PARAMETER.
		w, d := load(t, &testdriver.Driver{NoPort: true})
		fm := d.FM
		for _, max := range []int32{0, -1, -2147483648} {
			sp, st := fm.CreateCommunicationPort(d.Filter, kernelAttrs(testPort, nil), nil, noConnect, noDisconnect, nil, max)
			require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st, "MaxConnections %d", max)
			require.Nil(t, sp)
		}
		require.Empty(t, w.Kernel().Namespace().Names())
		sp, st := fm.CreateCommunicationPort(d.Filter, kernelAttrs(testPort, nil), nil, noConnect, noDisconnect, nil, 1)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		fm.CloseCommunicationPort(sp)
	})
}

func TestCreateCallbacks(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-3: ConnectNotify and DisconnectNotify are required, MessageNotify is
		// not. Windows does not check and crashes at the first connect; the emulator refuses
		// the port and reports R-VERIFY-5, once per bad call.
		w, d := load(t, &testdriver.Driver{NoPort: true})
		w.ExpectViolation(kernel.RuleVerify5).Containing("without a ConnectNotify or DisconnectNotify").Times(2)
		fm := d.FM
		cn, dn, mn := d.Callbacks()
		sp, st := fm.CreateCommunicationPort(d.Filter, kernelAttrs(testPort, nil), nil, nil, dn, mn, 1)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
		require.Nil(t, sp)
		sp, st = fm.CreateCommunicationPort(d.Filter, kernelAttrs(testPort, nil), nil, cn, nil, mn, 1)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
		require.Nil(t, sp)
		require.Empty(t, w.Kernel().Namespace().Names())

		sp, st = fm.CreateCommunicationPort(d.Filter, kernelAttrs(testPort, nil), nil, cn, dn, nil, 1)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.NotNil(t, sp)
		require.Equal(t, testPort, sp.PortName())
		// The port works without MessageNotify; FilterSendMessage is not supported on it. It has
		// no descriptor, so only SYSTEM may connect (R-CREATE-6).
		p := w.NewProcess("svc.exe", kernel.TokenSystem())
		h := connect(t, p)
		var n uint32 = 99
		require.Equal(t, kernel.HRESULT(0x80070032), p.FilterSendMessage(h, []byte("x"), make([]byte, 4), &n))
		require.Equal(t, uint32(0), n)
		require.Equal(t, int32(0), d.Messages.Load())
		fm.CloseCommunicationPort(sp)
	})
}

func TestCreateNameCollision(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-4: a live port of the same name, in any case, is OBJECT_NAME_COLLISION, for
		// the same filter and for another one.
		w, d := load(t, nil)
		fm := d.FM
		cn, dn, mn := d.Callbacks()
		for _, name := range []string{testPort, `\testport`, `\TESTPORT`} {
			sp, st := fm.CreateCommunicationPort(d.Filter, kernelAttrs(name, nil), nil, cn, dn, mn, 1)
			require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, st, name)
			require.Nil(t, sp)
		}
		// Another driver's DriverEntry fails with the collision (ERROR_ALREADY_EXISTS).
		require.ErrorIs(t, w.Load("other", &testdriver.Driver{PortName: `\testPORT`}), kernel.HRESULT(0x800700B7))
		// The original port still works.
		connect(t, adminProc(w, "svc.exe"))
		require.Equal(t, int32(1), d.Connects.Load())
	})
}

func TestCreateOnUnregisteringFilterFromUnload(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-5: creating a port after FltUnregisterFilter, inside FilterUnload, is
		// FLT_DELETING_OBJECT.
		var st kernel.NTSTATUS
		d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			d.DefaultUnload()
			var sp driverapi.ServerPort
			cn, dn, mn := d.Callbacks()
			sp, st = d.FM.CreateCommunicationPort(d.Filter, kernelAttrs(`\Late`, nil), nil, cn, dn, mn, 1)
			if sp != nil {
				d.FM.CloseCommunicationPort(sp)
			}
			return kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		require.NoError(t, w.Unload("test"))
		require.Equal(t, kernel.STATUS_FLT_DELETING_OBJECT, st)
		require.Empty(t, w.Kernel().Namespace().Names())
	})
}

func TestCreateOnUnregisteringFilterFromDisconnectNotify(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-5: DisconnectNotify runs during FltUnregisterFilter at unload; a port created
		// there is FLT_DELETING_OBJECT (the filter is being torn down).
		var st kernel.NTSTATUS = 0xFFFFFFFF
		d := &testdriver.Driver{}
		d.OnDisconnect = func(context.Context, *testdriver.Conn) {
			cn, dn, mn := d.Callbacks()
			var sp driverapi.ServerPort
			sp, st = d.FM.CreateCommunicationPort(d.Filter, kernelAttrs(`\Late`, nil), nil, cn, dn, mn, 1)
			if sp != nil {
				d.FM.CloseCommunicationPort(sp)
			}
		}
		w, _ := load(t, d)
		connect(t, adminProc(w, "svc.exe"))
		require.NoError(t, w.Unload("test"))
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.Equal(t, kernel.STATUS_FLT_DELETING_OBJECT, st)
		require.Empty(t, w.Kernel().Namespace().Names())
	})
}

func TestCreateCapturesSecurityDescriptor(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-6: the descriptor is copied at creation. Granting BU in the driver's own copy
		// afterwards lets no standard user in; a port created with BU keeps granting it after
		// the driver's copy loses the ACE.
		strict := kernel.MustParseSDDL("D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)")
		d := &testdriver.Driver{SD: strict, MaxConnections: 4}
		w, _ := load(t, d)
		require.NoError(t, strict.AddAccessAllowed(kernel.SIDUsers(), kernel.FLT_PORT_ALL_ACCESS))
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		_, hr := user.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		require.Equal(t, int32(0), d.ConnectCalls.Load())

		open := kernel.MustParseSDDL("D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)(A;;0x1f0001;;;BU)")
		d2 := &testdriver.Driver{SD: open, PortName: `\OpenPort`}
		require.NoError(t, w.Load("open", d2))
		open.DACL.ACEs = open.DACL.ACEs[:2]
		open.DACL.ACEs[1].Mask = 0
		h, hr := user.FilterConnectCommunicationPort(`\OpenPort`, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, user, h)
		require.NotEqual(t, kernel.InvalidHandle, h)
		require.Equal(t, int32(1), d2.Connects.Load())
		// The admin is still granted by the captured copy.
		connect(t, adminProc(w, "svc.exe"))
	})
}

func TestCreateNilSecurityDescriptorIsDefault(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-6 (Decision): a nil descriptor gives the port the default DACL of the
		// creating token (the System process): SYSTEM all access, Administrators read and
		// execute. Connect asks for all access (R-MODEL-2), so only SYSTEM gets in.
		d := &testdriver.Driver{NilSD: true, MaxConnections: 8}
		w, _ := load(t, d)
		type sdPort interface {
			SecurityDescriptor() *kernel.SecurityDescriptor
		}
		sp, ok := d.Server.(sdPort)
		require.True(t, ok)
		require.Equal(t, "D:(A;;0x1f0001;;;SY)(A;;RCCC;;;BA)", sp.SecurityDescriptor().SDDL())
		require.Equal(t, kernel.SystemDefaultObjectSecurityDescriptor().SDDL(), sp.SecurityDescriptor().SDDL())
		h := connect(t, w.NewProcess("system.exe", kernel.TokenSystem()))
		for _, tok := range []*kernel.Token{kernel.TokenAdmin(), kernel.TokenStandardUser()} {
			_, hr := w.NewProcess("user.exe", tok).FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
			require.Equal(t, kernel.E_ACCESSDENIED, hr, tok.Name())
		}
		require.Equal(t, int32(1), d.ConnectCalls.Load())
		_ = h
	})
}

func TestCreateCookieHandedToConnectNotify(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CREATE-7: the server-port cookie is opaque and handed to every ConnectNotify.
		type portCookie struct{ name string }
		cookie := &portCookie{"scan"}
		d := &testdriver.Driver{Cookie: cookie, MaxConnections: 2}
		w, _ := load(t, d)
		connect(t, adminProc(w, "a.exe"))
		connect(t, adminProc(w, "b.exe"))
		require.Same(t, cookie, d.Conn(0).ServerCookie)
		require.Same(t, cookie, d.Conn(1).ServerCookie)
	})
}

// ---- R-SD ----

func TestDefaultSecurityDescriptor(t *testing.T) {
	// R-SD: FltBuildDefaultSecurityDescriptor allows only SY and BA.
	_, d := load(t, nil)
	sd, st := d.FM.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, "D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)", sd.SDDL())

	cases := []struct {
		name string
		tok  *kernel.Token
		want kernel.HRESULT
	}{
		{"elevated admin", kernel.TokenAdmin(), kernel.S_OK},
		{"system", kernel.TokenSystem(), kernel.S_OK},
		{"standard user", kernel.TokenStandardUser(), kernel.E_ACCESSDENIED},
		{"filtered admin", kernel.TokenFilteredAdmin(), kernel.E_ACCESSDENIED},
		{"low integrity", kernel.TokenLowIntegrity(), kernel.E_ACCESSDENIED},
		{"anonymous", kernel.TokenAnonymous(), kernel.E_ACCESSDENIED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				w, d := load(t, nil)
				p := w.NewProcess("svc.exe", tc.tok)
				h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
				require.Equal(t, tc.want, hr)
				if tc.want == kernel.S_OK {
					require.NotEqual(t, kernel.InvalidHandle, h)
					require.Equal(t, int32(1), d.ConnectCalls.Load())
					require.NoError(t, p.CloseHandle(h))
					return
				}
				require.Equal(t, kernel.InvalidHandle, h)
				require.Empty(t, p.Kernel().Handles())
				require.Equal(t, int32(0), d.ConnectCalls.Load(), "ConnectNotify must not run for a refused caller")
			})
		})
	}
}

func TestSecurityDescriptorGrantingUsers(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-SD: a driver descriptor with an ACE for BU accepts the standard user.
		d := &testdriver.Driver{SD: kernel.MustParseSDDL("D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)(A;;0x1f0001;;;BU)"), MaxConnections: 4}
		w, _ := load(t, d)
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		h, hr := user.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, user, h)
		require.NotEqual(t, kernel.InvalidHandle, h)
		require.Equal(t, int32(1), d.Connects.Load())
		require.Equal(t, kernel.TokenStandardUser().User(), d.Conn(0).Process.Token().User())
		// Anonymous is not in BU.
		_, hr = w.NewProcess("anon.exe", kernel.TokenAnonymous()).FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		require.Equal(t, int32(1), d.ConnectCalls.Load())
	})
}

// ---- R-CB-1 ----

// TestPortCallbacksRunOnTheCallersThread checks the thread each port callback receives in its
// ctx: MessageNotify the sender's (R-CB-3), DisconnectNotify at a user close the closing
// thread, in the process that closed the last handle (R-CB-2), so a driver can call the
// routines that need the current process (FltCreateSectionForDataScan, handle lookups).
func TestPortCallbacksRunOnTheCallersThread(t *testing.T) {
	bubble(t, func(t *testing.T) {
		var msgProcs []*kernel.Process
		var discProc *kernel.Process
		var discCtx context.Context
		d := &testdriver.Driver{
			OnMessage: func(ctx context.Context, _ *testdriver.Conn, in, out []byte) (uint32, kernel.NTSTATUS) {
				msgProcs = append(msgProcs, driverapi.CurrentProcess(ctx))
				return uint32(copy(out, in)), kernel.STATUS_SUCCESS
			},
			OnDisconnect: func(ctx context.Context, _ *testdriver.Conn) {
				discProc, discCtx = driverapi.CurrentProcess(ctx), ctx
			},
		}
		w, _ := load(t, d)
		owner := adminProc(w, "scanuser.exe")
		other := w.NewProcess("helper.exe", kernel.TokenStandardUser())
		h := connect(t, owner)
		dup, err := owner.DuplicateHandle(h, other, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.NoError(t, err)

		require.Equal(t, kernel.S_OK, owner.FilterSendMessage(h, []byte("a"), make([]byte, 1), nil))
		require.Equal(t, kernel.S_OK, other.FilterSendMessage(dup, []byte("b"), make([]byte, 1), nil))
		require.Equal(t, []*kernel.Process{owner.Kernel(), other.Kernel()}, msgProcs)

		require.NoError(t, owner.CloseHandle(h))
		require.Equal(t, int32(0), d.Disconnects.Load())
		require.NoError(t, other.CloseHandle(dup)) // the last handle: DisconnectNotify on this thread
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.Same(t, other.Kernel(), discProc)
		require.Equal(t, other.ID(), driverapi.CurrentProcessId(discCtx))
	})
}

// TestDisconnectNotifyAtUnloadRunsOnTheUnloadingThread checks R-CB-2 at unload: the
// DisconnectNotify calls FltUnregisterFilter makes run on the thread unloading the filter, a
// system thread for a service stop (no current process; PsGetCurrentProcessId is 4).
func TestDisconnectNotifyAtUnloadRunsOnTheUnloadingThread(t *testing.T) {
	bubble(t, func(t *testing.T) {
		var discCtx context.Context
		d := &testdriver.Driver{OnDisconnect: func(ctx context.Context, _ *testdriver.Conn) { discCtx = ctx }}
		w, _ := load(t, d)
		connect(t, adminProc(w, "scanuser.exe"))
		require.NoError(t, w.Stop("test"))
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.NotNil(t, discCtx)
		require.Nil(t, driverapi.CurrentProcess(discCtx))
		require.Equal(t, driverapi.SystemProcessId, driverapi.CurrentProcessId(discCtx))
	})
}

func TestConnectNotifySeesCaller(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CB-1: ConnectNotify runs on the connecting goroutine, on the connecting thread:
		// PsGetCurrentProcess (driverapi.CurrentProcess of its ctx) gives the process id,
		// image name and token. R-USER Connect 4: when S_OK returns it has run and accepted.
		var g string
		d := &testdriver.Driver{OnConnect: func(context.Context, *testdriver.Conn, []byte) kernel.NTSTATUS {
			g = goid()
			return kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		p := adminProc(w, "scanuser.exe")
		connect(t, p)
		require.Equal(t, int32(1), d.Connects.Load())
		require.Equal(t, goid(), g)
		c := d.Conn(0)
		require.Same(t, p.Kernel(), c.Process)
		require.Equal(t, p.ID(), c.Process.ID())
		require.Equal(t, "scanuser.exe", c.Process.ImageName())
		require.Same(t, p.Kernel().Token(), c.Process.Token())
	})
}

func TestConnectNotifyContextIsATemporaryCopy(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CB-1, R-VERIFY-6: the context is a copy valid during the call only; a driver that
		// keeps the slice reads 0xDB afterwards. The user's buffer is untouched.
		var during []byte
		d := &testdriver.Driver{KeepContext: true, OnConnect: func(_ context.Context, _ *testdriver.Conn, ctx []byte) kernel.NTSTATUS {
			during = append([]byte(nil), ctx...)
			return kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		w.ExpectViolation(kernel.RuleVerify6)
		ctx := []byte{1, 2, 3, 4, 5, 6, 7, 8}
		p := adminProc(w, "svc.exe")
		h, hr := p.FilterConnectCommunicationPort(testPort, 0, ctx, len(ctx), nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, p, h)
		require.NotEqual(t, kernel.InvalidHandle, h)
		c := d.Conn(0)
		require.Equal(t, ctx, during)
		require.Equal(t, ctx, c.Context)
		require.Equal(t, bytes.Repeat([]byte{0xDB}, len(ctx)), c.KeptContext)
		require.Equal(t, []byte{1, 2, 3, 4, 5, 6, 7, 8}, ctx)
	})
}

func TestConnectNotifyRefusal(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-CB-1, R-USER Connect 1: a refused connection gives the caller HRESULT(status) and
		// an invalid handle, DisconnectNotify is never called, and the slot is given back.
		refuse := true
		d := &testdriver.Driver{MaxConnections: 1, OnConnect: func(context.Context, *testdriver.Conn, []byte) kernel.NTSTATUS {
			if refuse {
				return kernel.STATUS_INVALID_PARAMETER_3
			}
			return kernel.STATUS_SUCCESS
		}}
		w, _ := load(t, d)
		p := adminProc(w, "svc.exe")
		for range 3 {
			h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
			require.Equal(t, kernel.E_INVALIDARG, hr)
			require.Equal(t, kernel.InvalidHandle, h)
		}
		require.Empty(t, p.Kernel().Handles())
		require.Equal(t, int32(3), d.ConnectCalls.Load())
		require.Equal(t, int32(0), d.Connects.Load())
		require.Equal(t, int32(0), d.Disconnects.Load())
		refuse = false
		connect(t, p)
		p.Exit(0)
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}

// ---- R-USER Connect ----

func TestConnectContextRules(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Connect 2: context nil with a size, a context with size 0, a size beyond the
		// context or beyond 65511 are E_INVALIDARG, and ConnectNotify does not run.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		big := make([]byte, driverapi.MaxConnectionContext+1)
		for i, tc := range []struct {
			ctx  []byte
			size int
		}{
			{nil, 4},
			{[]byte{1, 2, 3, 4}, 0},
			{[]byte{}, 0},
			{[]byte{1, 2}, 3},
			{[]byte{1, 2}, -1},
			{big, len(big)},
			{big, 65535},
			{big, 65536},
		} {
			h, hr := p.FilterConnectCommunicationPort(testPort, 0, tc.ctx, tc.size, nil)
			require.Equal(t, kernel.E_INVALIDARG, hr, "case %d", i)
			require.Equal(t, kernel.InvalidHandle, h, "case %d", i)
		}
		require.Equal(t, int32(0), d.ConnectCalls.Load())

		// 65511 bytes is the largest accepted, and the driver sees them all.
		for i := range big {
			big[i] = byte(i * 7)
		}
		h, hr := p.FilterConnectCommunicationPort(testPort, 0, big, 65511, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, p, h)
		require.NotEqual(t, kernel.InvalidHandle, h)
		require.Equal(t, big[:65511], d.Conn(0).Context)
		// A size shorter than the slice sends only that many bytes.
		h, hr = p.FilterConnectCommunicationPort(testPort, 0, []byte("abcdef"), 3, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, p, h)
		require.Equal(t, []byte("abc"), d.Conn(1).Context)
	})
}

func TestConnectOptions(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Connect 3: FLT_PORT_FLAG_SYNC_HANDLE makes a synchronous handle (an
		// overlapped Get completes synchronously); unknown option bits are E_INVALIDARG.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		p := adminProc(w, "svc.exe")
		for _, opt := range []uint32{0x2, 0x4, 0x80000000, driverapi.FLT_PORT_FLAG_SYNC_HANDLE | 0x10} {
			h, hr := p.FilterConnectCommunicationPort(testPort, opt, nil, 0, nil)
			require.Equal(t, kernel.E_INVALIDARG, hr, "options %#x", opt)
			require.Equal(t, kernel.InvalidHandle, h)
		}
		require.Equal(t, int32(0), d.ConnectCalls.Load())

		h, hr := p.FilterConnectCommunicationPort(testPort, driverapi.FLT_PORT_FLAG_SYNC_HANDLE, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, p, h)
		// The synchronous form works on it.
		buf := make([]byte, 64)
		g := getAsync(p, h, buf)
		requireBlocked(t, g)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("sync"), nil, nil))
		require.Equal(t, kernel.S_OK, <-g)
		require.Equal(t, "sync", string(buf[driverapi.FilterMessageHeaderSize:20]))
		// An OVERLAPPED on it is not an error: the call waits, and ov gets the status and the
		// byte count the plain synchronous form does not report.
		ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
		ovDone := make(chan kernel.HRESULT, 1)
		go func() { ovDone <- p.FilterGetMessage(h, buf, ov) }()
		synctest.Wait()
		require.Empty(t, ovDone, "an overlapped Get on a synchronous handle returned before its message")
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("over"), nil, nil))
		require.Equal(t, kernel.S_OK, <-ovDone)
		require.True(t, ov.Event.Signaled())
		st, n := ov.Result()
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, uint32(20), n)
		require.Equal(t, "over", string(buf[driverapi.FilterMessageHeaderSize:20]))
	})
}

func TestConnectInheritableHandle(t *testing.T) {
	bubble(t, func(t *testing.T) {
		// R-USER Connect 3: the security attributes decide whether the handle is inheritable;
		// a child started with handle inheritance gets it under the same value, and the
		// connection lasts until the last of the two handles closes.
		w, d := load(t, &testdriver.Driver{MaxConnections: 2})
		parent := adminProc(w, "parent.exe")
		hi, hr := parent.FilterConnectCommunicationPort(testPort, 0, nil, 0, &fltlib.SecurityAttributes{InheritHandle: true})
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, parent, hi)
		hn, hr := parent.FilterConnectCommunicationPort(testPort, 0, nil, 0, &fltlib.SecurityAttributes{InheritHandle: false})
		require.Equal(t, kernel.S_OK, hr)
		closeAtEnd(t, parent, hn)

		noInherit, err := parent.Spawn("child1.exe", false)
		require.NoError(t, err)
		require.Equal(t, kernel.E_HANDLE, noInherit.FilterGetMessage(hi, make([]byte, 64), nil))
		require.Empty(t, noInherit.Kernel().Handles())

		child, err := parent.Spawn("child2.exe", true)
		require.NoError(t, err)
		require.Len(t, child.Kernel().Handles(), 1)
		require.Equal(t, hi, child.Kernel().Handles()[0].Handle)
		require.Equal(t, kernel.E_HANDLE, child.FilterGetMessage(hn, make([]byte, 64), nil))

		// The child's copy works: it receives a message sent on the inherited connection.
		require.NoError(t, parent.CloseHandle(hi))
		require.Equal(t, int32(0), d.Disconnects.Load())
		g := getAsync(child, hi, make([]byte, 64))
		requireBlocked(t, g)
		require.Equal(t, sendResult{kernel.STATUS_SUCCESS, 0}, <-sendAsync(context.Background(), d, d.Conn(0), []byte("hi"), nil, nil))
		require.Equal(t, kernel.S_OK, <-g)
		require.NoError(t, child.CloseHandle(hi))
		require.Equal(t, int32(1), d.Disconnects.Load())
		require.True(t, d.Conn(0).Port.IsNil())
	})
}
