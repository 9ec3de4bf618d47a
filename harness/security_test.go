package harness_test

// Security checks: handles are per process; the access check runs before
// ConnectNotify, so a denied token never reaches the driver; deny ACEs, deny-only groups and
// the integrity rule; and a handle duplicated (or inherited) into a process that could not have
// connected keeps working, because Windows checks access when the connection is opened, not
// when the handle is used (R-MODEL-2, R-SD, R-CB-1, R-USER CloseHandle/DuplicateHandle 1–2).

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

const secPortName = `\SecurityPort`

// secDriver has one port with the given descriptor (nil: the creator's default, R-CREATE-6)
// and counts its callbacks.
type secDriver struct {
	sd *kernel.SecurityDescriptor

	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort

	mu          sync.Mutex
	connects    int
	disconnects int
	callers     []string
	clients     []*driverapi.ClientPort
}

func (d *secDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		fm.CloseCommunicationPort(d.server)
		fm.UnregisterFilter(d.filter)
		return kernel.STATUS_SUCCESS
	}})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(secPortName, driverapi.OBJ_KERNEL_HANDLE, d.sd)
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil,
		func(ctx context.Context, p driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
			cp := &driverapi.ClientPort{}
			cp.Store(p)
			d.mu.Lock()
			d.connects++
			d.callers = append(d.callers, driverapi.CurrentProcess(ctx).Token().Name())
			d.clients = append(d.clients, cp)
			d.mu.Unlock()
			return cp, kernel.STATUS_SUCCESS
		},
		func(_ context.Context, cookie any) {
			d.mu.Lock()
			d.disconnects++
			d.mu.Unlock()
			fm.CloseClientPort(f, cookie.(*driverapi.ClientPort))
		},
		func(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
			return uint32(copy(out, in)), kernel.STATUS_SUCCESS
		},
		16)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

func (d *secDriver) counts() (connects, disconnects int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.connects, d.disconnects
}

func (d *secDriver) client(i int) *driverapi.ClientPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clients[i]
}

// secWorld loads a secDriver whose port has the descriptor sddl ("" for the default one).
func secWorld(t *testing.T, sddl string) (*harness.World, *secDriver) {
	t.Helper()
	w := harness.New(t)
	d := &secDriver{}
	switch sddl {
	case "": // what the samples build: FltBuildDefaultSecurityDescriptor(FLT_PORT_ALL_ACCESS)
		d.sd = kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	case "nil": // no descriptor at all (R-CREATE-6)
	default:
		d.sd = kernel.MustParseSDDL(sddl)
	}
	require.NoError(t, w.Load("sec", d))
	return w, d
}

func secConnect(p *harness.Process) (kernel.Handle, kernel.HRESULT) {
	return p.FilterConnectCommunicationPort(secPortName, 0, nil, 0, nil)
}

// secRoundTrip has the driver send a message on connection i and p answer it through h.
func secRoundTrip(t *testing.T, d *secDriver, i int, p *harness.Process, h kernel.Handle) {
	t.Helper()
	done := make(chan kernel.NTSTATUS, 1)
	go func() {
		reply := make([]byte, 2)
		n := uint32(len(reply))
		done <- d.fm.SendMessage(context.Background(), d.filter, d.client(i), []byte("hello"), reply, &n, nil)
	}()
	buf := make([]byte, 64)
	require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, buf, nil))
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	require.Equal(t, kernel.S_OK, p.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok"))))
	require.Equal(t, kernel.STATUS_SUCCESS, <-done)
	out := make([]byte, 4)
	require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("ping"), out, nil))
}

// TestSecurityHandleValuesArePerProcess: a handle value means something only in the process that
// owns it (R-USER CloseHandle, DuplicateHandle, process exit 1).
func TestSecurityHandleValuesArePerProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, d := secWorld(t, "")
		owner := w.NewProcess("owner.exe", kernel.TokenAdmin())
		thief := w.NewProcess("thief.exe", kernel.TokenAdmin())
		h, hr := secConnect(owner)
		require.Equal(t, kernel.S_OK, hr)
		iocp, err := owner.CreateIoCompletionPort(h, 0, 7, 0)
		require.NoError(t, err)

		// Every call of another process with the owner's values fails as an invalid handle.
		require.Equal(t, kernel.E_HANDLE, thief.FilterGetMessage(h, make([]byte, 64), &fltlib.Overlapped{}))
		require.Equal(t, kernel.E_HANDLE, thief.FilterGetMessage(h, make([]byte, 64), nil))
		require.Equal(t, kernel.E_HANDLE, thief.FilterReplyMessage(h, driverapi.NewFilterReply(0, 1, nil)))
		require.Equal(t, kernel.E_HANDLE, thief.FilterSendMessage(h, []byte("x"), nil, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, thief.CancelIoEx(h, nil))
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, thief.CloseHandle(h))
		_, err = thief.DuplicateHandle(h, thief, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		_, _, _, err = thief.GetQueuedCompletionStatus(iocp, 0)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
		require.Equal(t, kernel.ERROR_INVALID_HANDLE, thief.PostQueuedCompletionStatus(iocp, 0, 0, nil))

		// The thief's own connection gets a value of its own, and it cannot reach the owner's.
		h2, hr := secConnect(thief)
		require.Equal(t, kernel.S_OK, hr)
		require.NotEqual(t, h, h2)
		require.Equal(t, kernel.E_HANDLE, owner.FilterSendMessage(h2, []byte("x"), nil, nil))

		// A child that does not inherit gets nothing either.
		child, err := owner.Spawn("child.exe", true) // h was not opened inheritable
		require.NoError(t, err)
		require.Equal(t, kernel.E_HANDLE, child.FilterSendMessage(h, []byte("x"), nil, nil))

		// Nothing of that disturbed the owner's connection.
		secRoundTrip(t, d, 0, owner, h)
		conns, discs := d.counts()
		require.Equal(t, 2, conns)
		require.Equal(t, 0, discs)
		require.NoError(t, owner.CloseHandle(iocp))
		require.NoError(t, owner.CloseHandle(h))
		require.NoError(t, thief.CloseHandle(h2))
	})
}

// TestSecurityDeniedTokenNeverReachesConnectNotify: the access check comes before ConnectNotify
// (R-MODEL-2, R-CB-1): a denied caller gets E_ACCESSDENIED and the driver never hears of it.
func TestSecurityDeniedTokenNeverReachesConnectNotify(t *testing.T) {
	for _, tc := range []struct {
		name string
		sddl string
		tok  *kernel.Token
	}{
		{"standard user, default SD", "", kernel.TokenStandardUser()},
		{"filtered admin, default SD", "", kernel.TokenFilteredAdmin()},
		{"low integrity, default SD", "", kernel.TokenLowIntegrity()},
		{"anonymous, default SD", "", kernel.TokenAnonymous()},
		{"anonymous, Everyone allowed", "D:(A;;GA;;;WD)", kernel.TokenAnonymous()},
		{"standard user allowed only FLT_PORT_CONNECT", "D:(A;;0x1;;;BU)", kernel.TokenStandardUser()},
		{"low integrity, no label, Everyone all access", "D:(A;;GA;;;WD)", kernel.TokenLowIntegrity()},
		{"everyone denied first", "D:(D;;0x1;;;WD)(A;;GA;;;WD)", kernel.TokenAdmin()},
		{"empty DACL", "D:", kernel.TokenSystem()},
		{"only DELETE allowed", "D:(A;;SD;;;WD)", kernel.TokenAdmin()},
		{"low integrity, no-read-up label", "D:(A;;GA;;;WD)S:(ML;;NWNR;;;ME)", kernel.TokenLowIntegrity()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := secWorld(t, tc.sddl)
				p := w.NewProcess("caller.exe", tc.tok)
				h, hr := secConnect(p)
				require.Equal(t, kernel.E_ACCESSDENIED, hr)
				require.Equal(t, kernel.InvalidHandle, h)
				conns, discs := d.counts()
				require.Equal(t, 0, conns, "ConnectNotify ran for a denied caller")
				require.Equal(t, 0, discs)
				_, err := fltlib.Dial(context.Background(), p, secPortName, nil)
				require.ErrorIs(t, err, kernel.E_ACCESSDENIED)
				conns, _ = d.counts()
				require.Equal(t, 0, conns)
				require.Empty(t, p.Kernel().Handles())
			})
		})
	}
}

// secExpect connects a process with tok and checks the result; on success it closes again.
func secExpect(t *testing.T, w *harness.World, d *secDriver, tok *kernel.Token, want kernel.HRESULT) {
	t.Helper()
	before, _ := d.counts()
	p := w.NewProcess("caller.exe", tok)
	h, hr := secConnect(p)
	require.Equal(t, want, hr, "%s", tok.Name())
	after, _ := d.counts()
	if want != kernel.S_OK {
		require.Equal(t, before, after, "ConnectNotify ran for a denied %s", tok.Name())
		return
	}
	require.Equal(t, before+1, after)
	require.NoError(t, p.CloseHandle(h))
}

// TestSecurityDenyBeatsAllow: a deny ACE that matches the caller wins over the allow ACEs after
// it (R-MODEL-2; MS-DTYP 2.5.3.2). The DACL is read in order, as Windows does: in canonical
// order (what SetSecurityInfo and SDDL tools write) deny ACEs come first.
func TestSecurityDenyBeatsAllow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sddl  string
		wants map[*kernel.Token]kernel.HRESULT
	}{
		{"deny BU before allow BU and BA", "D:(D;;0x1;;;BU)(A;;GA;;;BU)(A;;GA;;;BA)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED,
			kernel.TokenAdmin():        kernel.E_ACCESSDENIED, // the elevated admin is in BU too
			kernel.TokenSystem():       kernel.S_OK,           // SYSTEM is not
		}},
		{"deny one user before allow Everyone", "D:(D;;0x1;;;S-1-5-21-1000-1000-1000-1001)(A;;GA;;;WD)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser():  kernel.E_ACCESSDENIED,
			kernel.TokenLowIntegrity():  kernel.E_ACCESSDENIED, // the same user (and no-write-up)
			kernel.TokenFilteredAdmin(): kernel.S_OK,
		}},
		{"deny GENERIC_ALL covers connect", "D:(D;;GA;;;BU)(A;;GA;;;WD)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED,
			kernel.TokenSystem():       kernel.S_OK,
		}},
		{"a deny of any right in FLT_PORT_ALL_ACCESS stops connect", "D:(D;;WO;;;BU)(A;;GA;;;WD)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED, // WRITE_OWNER is part of FLT_PORT_ALL_ACCESS
		}},
		{"non-canonical: an earlier allow has already granted", "D:(A;;GA;;;WD)(D;;0x1;;;BU)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.S_OK,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := secWorld(t, tc.sddl)
				for tok, want := range tc.wants {
					secExpect(t, w, d, tok, want)
				}
			})
		})
	}
}

// TestSecurityDenyOnlyGroupNeverGrants: the UAC-filtered administrator's BUILTIN\Administrators
// group is deny-only: it never grants, but deny ACEs for it still match (R-SD).
func TestSecurityDenyOnlyGroupNeverGrants(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sddl     string
		filtered kernel.HRESULT
		user     kernel.HRESULT
	}{
		{"default SD (SY and BA only)", "", kernel.E_ACCESSDENIED, kernel.E_ACCESSDENIED},
		{"BA only", "D:(A;;GA;;;BA)", kernel.E_ACCESSDENIED, kernel.E_ACCESSDENIED},
		{"BA with only FLT_PORT_CONNECT", "D:(A;;0x1;;;BA)", kernel.E_ACCESSDENIED, kernel.E_ACCESSDENIED},
		{"deny BA, allow Everyone", "D:(D;;0x1;;;BA)(A;;GA;;;WD)", kernel.E_ACCESSDENIED, kernel.S_OK},
		{"BU allowed", "D:(A;;GA;;;BU)", kernel.S_OK, kernel.S_OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := secWorld(t, tc.sddl)
				secExpect(t, w, d, kernel.TokenFilteredAdmin(), tc.filtered)
				secExpect(t, w, d, kernel.TokenStandardUser(), tc.user)
				if tc.sddl == "" || tc.sddl == "D:(A;;GA;;;BA)" {
					secExpect(t, w, d, kernel.TokenAdmin(), kernel.S_OK) // the same user, elevated
				}
			})
		})
	}
}

// TestSecurityIntegrity: connect asks for FLT_PORT_ALL_ACCESS (R-MODEL-2), which holds
// write-class rights (DELETE, WRITE_DAC, WRITE_OWNER) of the FilterConnectionPort type
// (kernel.PortGenericMapping). So a lower-integrity caller is refused by any label with
// NO_WRITE_UP — including the default one a port without a label gets (Medium, NO_WRITE_UP) —
// and gets in only through a label at or below its own level.
func TestSecurityIntegrity(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sddl  string
		wants map[*kernel.Token]kernel.HRESULT
	}{
		{"no label (Medium, no-write-up)", "D:(A;;GA;;;WD)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenLowIntegrity(): kernel.E_ACCESSDENIED,
			kernel.TokenStandardUser(): kernel.S_OK,
		}},
		{"Medium, no-write-up", "D:(A;;GA;;;WD)S:(ML;;NW;;;ME)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenLowIntegrity(): kernel.E_ACCESSDENIED,
			kernel.TokenStandardUser(): kernel.S_OK,
		}},
		{"Medium, no-read-up only", "D:(A;;GA;;;WD)S:(ML;;NR;;;ME)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenLowIntegrity(): kernel.E_ACCESSDENIED, // READ_CONTROL and connect are read-class
		}},
		{"High, no-write-up", "D:(A;;GA;;;WD)S:(ML;;NW;;;HI)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED,
			kernel.TokenAdmin():        kernel.S_OK, // High
			kernel.TokenSystem():       kernel.S_OK,
		}},
		{"Low label lets Low in", "D:(A;;GA;;;WD)S:(ML;;NWNR;;;LW)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenLowIntegrity(): kernel.S_OK,
			kernel.TokenStandardUser(): kernel.S_OK,
		}},
		{"integrity does not lift the DACL", "D:(A;;GA;;;BA)S:(ML;;NW;;;LW)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenLowIntegrity(): kernel.E_ACCESSDENIED,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := secWorld(t, tc.sddl)
				for tok, want := range tc.wants {
					secExpect(t, w, d, tok, want)
				}
			})
		})
	}
	// The reason, at the access-check level: FLT_PORT_CONNECT alone would pass the default
	// label, FLT_PORT_ALL_ACCESS does not.
	sd := kernel.MustParseSDDL("D:(A;;GA;;;WD)")
	_, st := kernel.AccessCheck(sd, kernel.TokenLowIntegrity(), kernel.FLT_PORT_ALL_ACCESS, kernel.PortGenericMapping())
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)
	_, st = kernel.AccessCheck(sd, kernel.TokenLowIntegrity(), kernel.FLT_PORT_CONNECT, kernel.PortGenericMapping())
	require.Equal(t, kernel.STATUS_SUCCESS, st)
}

// TestSecurityDuplicatedHandleKeepsWorking: access is checked when the connection is opened. A
// handle duplicated into — or inherited by — a process whose token could not connect works
// there, as on Windows (DuplicateHandle and handle inheritance copy the granted access; the
// port's descriptor is not consulted again). The connection ends with its last handle, in
// whichever process (R-USER CloseHandle/DuplicateHandle 2).
func TestSecurityDuplicatedHandleKeepsWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, d := secWorld(t, "") // SY and BA only
		admin := w.NewProcess("admin.exe", kernel.TokenAdmin())
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		low := w.NewProcess("low.exe", kernel.TokenLowIntegrity())
		_, hr := secConnect(user)
		require.Equal(t, kernel.E_ACCESSDENIED, hr) // it could not connect itself
		_, hr = secConnect(low)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)

		h, hr := secConnect(admin)
		require.Equal(t, kernel.S_OK, hr)
		hu, err := admin.DuplicateHandle(h, user, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.NoError(t, err)
		secRoundTrip(t, d, 0, user, hu)

		// Closing the admin's handle leaves the connection to the duplicate.
		require.NoError(t, admin.CloseHandle(h))
		_, discs := d.counts()
		require.Equal(t, 0, discs)
		secRoundTrip(t, d, 0, user, hu)

		// Passed on again, with DUPLICATE_CLOSE_SOURCE, to a Low-integrity process.
		hl, err := user.DuplicateHandle(hu, low, 0, false, kernel.DUPLICATE_SAME_ACCESS|kernel.DUPLICATE_CLOSE_SOURCE)
		require.NoError(t, err)
		require.Equal(t, kernel.E_HANDLE, user.FilterSendMessage(hu, []byte("x"), nil, nil))
		secRoundTrip(t, d, 0, low, hl)

		// The last handle closes: DisconnectNotify, once.
		require.NoError(t, low.CloseHandle(hl))
		conns, discs := d.counts()
		require.Equal(t, 1, conns)
		require.Equal(t, 1, discs)

		// Inheritance: an inheritable handle reaches a child running as the standard user.
		h, hr = admin.FilterConnectCommunicationPort(secPortName, 0, nil, 0, &fltlib.SecurityAttributes{InheritHandle: true})
		require.Equal(t, kernel.S_OK, hr)
		child, err := w.StartProcess("child.exe", kernel.TokenStandardUser(), admin, true)
		require.NoError(t, err)
		require.NoError(t, admin.CloseHandle(h))
		secRoundTrip(t, d, 1, child, h) // the same value in the child
		child.Exit(0)
		conns, discs = d.counts()
		require.Equal(t, 2, conns)
		require.Equal(t, 2, discs)
	})
}

// TestSecurityConnectAsksAllAccess: connect asks for FLT_PORT_ALL_ACCESS (0x1F0001) in the
// caller's user mode, even for SYSTEM (R-MODEL-2, R-SD): a DACL that grants a user only
// FLT_PORT_CONNECT refuses that user; GA, 0x1F0001 or a NULL DACL grant; a port created with
// no descriptor lets only SYSTEM in (R-CREATE-6).
func TestSecurityConnectAsksAllAccess(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sddl  string
		wants map[*kernel.Token]kernel.HRESULT
	}{
		{"FLT_PORT_CONNECT only", "D:(A;;0x1;;;BU)(A;;0x1;;;SY)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED,
			kernel.TokenAdmin():        kernel.E_ACCESSDENIED,
			kernel.TokenSystem():       kernel.E_ACCESSDENIED, // no privilege lifts the user-mode check
		}},
		{"generic read and write", "D:(A;;GRGW;;;BU)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED, // no WRITE_DAC, WRITE_OWNER
		}},
		{"GA", "D:(A;;GA;;;BU)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.S_OK,
		}},
		{"0x1F0001", "D:(A;;0x1f0001;;;BU)", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.S_OK,
		}},
		{"NULL DACL", "D:NO_ACCESS_CONTROL", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenStandardUser(): kernel.S_OK,
			kernel.TokenAnonymous():    kernel.E_ACCESSDENIED, // Untrusted: the default label still says no-write-up
			kernel.TokenLowIntegrity(): kernel.E_ACCESSDENIED,
		}},
		{"FltBuildDefaultSecurityDescriptor(FLT_PORT_ALL_ACCESS)", "", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenSystem():        kernel.S_OK,
			kernel.TokenAdmin():         kernel.S_OK,
			kernel.TokenFilteredAdmin(): kernel.E_ACCESSDENIED,
			kernel.TokenStandardUser():  kernel.E_ACCESSDENIED,
		}},
		{"no descriptor (R-CREATE-6)", "nil", map[*kernel.Token]kernel.HRESULT{
			kernel.TokenSystem():       kernel.S_OK,
			kernel.TokenAdmin():        kernel.E_ACCESSDENIED, // Administrators get read and execute only
			kernel.TokenStandardUser(): kernel.E_ACCESSDENIED,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, d := secWorld(t, tc.sddl)
				for tok, want := range tc.wants {
					secExpect(t, w, d, tok, want)
				}
			})
		})
	}
}
