package avscan_test

import (
	"context"
	"testing"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser"
)

// Scenario 9: an infected file is refused with ERROR_VIRUS_INFECTED (STATUS_VIRUS_INFECTED in
// the kernel); a clean one opens, and is not scanned again until it is modified; the
// modification is scanned at cleanup (reason OnCleanup) and the result serves the next opens.
func TestInfectedRefusedCleanNotRescanned(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("notepad.exe", kernel.TokenStandardUser())

		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `C:\virus.txt`))
		require.Equal(t, kernel.Win32Error(225), kernel.ERROR_VIRUS_INFECTED)
		require.NoError(t, openClose(t, app, `C:\clean.txt`))
		require.Equal(t, 2, requests(s))
		for range 3 {
			require.NoError(t, openClose(t, app, `C:\clean.txt`))
		}
		require.Equal(t, 2, requests(s), "a clean file is not scanned again while unmodified")

		// Modify it: scanned again at cleanup, not at the open.
		h, err := open(app, `C:\clean.txt`, true)
		require.NoError(t, err)
		require.Equal(t, 2, requests(s))
		_, err = app.WriteFileAt(h, []byte(" and more"), 19)
		require.NoError(t, err)
		require.NoError(t, app.CloseHandle(h))
		st := stats(s)
		require.Len(t, st.Requests, 3)
		require.Equal(t, avscanproto.OnCleanup, st.Requests[2].Reason)
		require.Equal(t, avscanproto.OnOpen, st.Requests[0].Reason)
		require.NoError(t, openClose(t, app, `C:\clean.txt`))
		require.Equal(t, 3, requests(s), "the cleanup's verdict serves the next open")

		require.Equal(t, []avscanuser.Verdict{
			{ScanId: 1, Reason: avscanproto.OnOpen, Result: avscanproto.Infected, HR: kernel.S_OK},
			{ScanId: 2, Reason: avscanproto.OnOpen, Result: avscanproto.Clean, HR: kernel.S_OK},
			{ScanId: 3, Reason: avscanproto.OnCleanup, Result: avscanproto.Clean, HR: kernel.S_OK},
		}, st.Verdicts)
		ds := d.Stats()
		require.Equal(t, int64(1), ds.OpensDenied)
		require.Equal(t, int64(3), ds.Verdicts)
		require.Equal(t, kernel.STATUS_SUCCESS, kernel.STATUS_SUCCESS)
	})
}

// The signature anywhere in the file is found (the section maps the whole file); a file
// holding only part of it is clean.
func TestWholeFileIsScanned(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `C:\large.bin`))
		require.NoError(t, openClose(t, app, `C:\partial.txt`))
		require.NoError(t, openClose(t, app, `C:\docs\b.txt`))
		require.Equal(t, 3, requests(s))
	})
}

// A clean file modified to hold the signature is caught when the modifying handle closes
// (reason OnCleanup), and the next open is refused from the cache, without a scan. Every
// operation that may change the data counts: a write, a mapped (paging) write, a new end of
// file, FSCTL_SET_ZERO_DATA.
func TestRescanAfterModification(t *testing.T) {
	for _, c := range []struct {
		name   string
		modify func(p *harness.Process, h kernel.Handle) error
		dirty  bool // the change puts the signature in
	}{
		{"WriteFile", func(p *harness.Process, h kernel.Handle) error {
			_, err := p.WriteFileAt(h, infected, 0)
			return err
		}, true},
		{"MappedWrite", func(p *harness.Process, h kernel.Handle) error {
			return p.MappedWrite(h, 0, []byte("message to be found"))
		}, true},
		{"SetEndOfFile", func(p *harness.Process, h kernel.Handle) error {
			return p.SetFileInformationByHandle(h, harness.FileEndOfFileInfo, &fsys.FILE_END_OF_FILE_INFORMATION{EndOfFile: 4})
		}, false},
		{"FSCTL_SET_ZERO_DATA", func(p *harness.Process, h kernel.Handle) error {
			_, err := p.DeviceIoControl(h, fsys.FSCTL_SET_ZERO_DATA, harness.ZeroDataInformation(0, 4), nil)
			return err
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			harness.Run(t, func(t *testing.T, w *harness.World) {
				load(t, w, avscan.Config{})
				s := startScanner(t, w, avscanuser.Options{})
				app := w.NewProcess("app.exe", kernel.TokenStandardUser())
				require.NoError(t, openClose(t, app, `C:\clean.txt`))
				h, err := open(app, `C:\clean.txt`, true)
				require.NoError(t, err)
				require.NoError(t, c.modify(app, h))
				require.NoError(t, app.CloseHandle(h))
				st := stats(s)
				require.Len(t, st.Requests, 2)
				require.Equal(t, avscanproto.OnCleanup, st.Requests[1].Reason)
				want := avscanproto.Clean
				if c.dirty {
					want = avscanproto.Infected
				}
				require.Equal(t, want, st.Verdicts[1].Result)
				err = openClose(t, app, `C:\clean.txt`)
				if c.dirty {
					require.Equal(t, kernel.ERROR_VIRUS_INFECTED, err)
				} else {
					require.NoError(t, err)
				}
				require.Equal(t, 2, requests(s), "the next open uses the cleanup's verdict")
			})
		})
	}
}

// Reads, and writes that fail before the filters see them, do not make the file "modified".
func TestReadDoesNotModify(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		h, err := open(app, `C:\clean.txt`, false)
		require.NoError(t, err)
		buf := make([]byte, 64)
		_, err = app.ReadFile(h, buf)
		require.NoError(t, err)
		_, err = app.WriteFile(h, []byte("x"))
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, err, "no write access: refused before the filters")
		require.NoError(t, app.CloseHandle(h))
		require.Equal(t, 1, requests(s))
	})
}

// Empty files are clean without a message; directories and alternate data streams are not
// scanned.
func TestEmptyFilesDirectoriesAndStreamsAreNotScanned(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenAdmin())
		require.NoError(t, openClose(t, app, `C:\empty.txt`))
		require.NoError(t, openClose(t, app, `C:\empty.txt`))
		require.Equal(t, int64(1), d.Stats().EmptyFiles, "clean after the first open, from then on")

		h, err := app.CreateFile(`C:\docs`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_BACKUP_SEMANTICS)
		require.NoError(t, err)
		require.NoError(t, app.CloseHandle(h))

		h, err = app.CreateFile(`C:\clean.txt:ads`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.CREATE_NEW, 0)
		require.NoError(t, err)
		_, err = app.WriteFile(h, infected)
		require.NoError(t, err)
		require.NoError(t, app.CloseHandle(h))
		require.NoError(t, openClose(t, app, `C:\clean.txt:ads`), "alternate streams are skipped")

		require.Equal(t, 0, requests(s))
	})
}

// Network volumes are not attached: their files are never scanned.
func TestNetworkVolumeNotAttached(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		w.MustAddVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork, Files: map[string][]byte{`virus.txt`: infected}})
		s := startScanner(t, w, avscanuser.Options{})
		require.Equal(t, []string{"avscan/avscan Instance@" + avscan.Altitude}, w.Instances("C:"))
		require.Empty(t, w.Instances("Z:"))
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		require.NoError(t, openClose(t, app, `Z:\virus.txt`))
		require.NoError(t, openClose(t, app, `\\server\z\virus.txt`))
		require.Equal(t, 0, requests(s))
	})
}

// Only NTFS, ReFS and CSVFS keep the file-state cache: on FAT a clean file is scanned at each
// first open.
func TestNoCacheOnFAT(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		w.MustAddVolume(fsys.VolumeConfig{Name: "F:", FileSystem: "FAT", Files: map[string][]byte{`a.txt`: []byte("clean")}})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		for range 3 {
			require.NoError(t, openClose(t, app, `F:\a.txt`))
		}
		require.Equal(t, 3, requests(s))
		h, err := open(app, `F:\a.txt`, false)
		require.NoError(t, err)
		require.NoError(t, openClose(t, app, `F:\a.txt`), "while a handle is open the stream context remembers")
		require.NoError(t, app.CloseHandle(h))
		require.Equal(t, 4, requests(s))
	})
}

// With no scanner connected everything opens: the scan cannot be delivered
// (STATUS_PORT_DISCONNECTED) and is abandoned.
func TestNoScannerAllowsEverything(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		require.NoError(t, openClose(t, app, `C:\virus.txt`))
		require.NoError(t, openClose(t, app, `C:\virus.txt`))
		ds := d.Stats()
		require.Equal(t, int64(4), ds.ScansRequested, "tried at each open and again at each cleanup: no verdict was had")
		require.Equal(t, int64(0), ds.ScansAcked)
	})
}

// The connection context names the role: missing, short or unknown is refused with
// STATUS_INVALID_PARAMETER_3 (the user sees E_INVALIDARG, 0x80070057); each port takes one
// connection; only administrators may connect (default descriptor, R-SD). Fix of a C bug: the
// C read the 4-byte type out of a context of any size; a 2-byte one is refused.
// R-CB-1 (a refused ConnectNotify's status reaches the caller), R-MODEL-2.
func TestConnectionContextValidated(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		p := w.NewProcess("client.exe", kernel.TokenAdmin())
		connect := func(port string, ctx []byte) (kernel.Handle, kernel.HRESULT) {
			return p.FilterConnectCommunicationPort(port, 0, ctx, len(ctx), nil)
		}
		for _, port := range []string{avscanproto.ScanPortName, avscanproto.AbortPortName, avscanproto.QueryPortName} {
			_, hr := connect(port, nil)
			require.Equal(t, kernel.HRESULT(0x80070057), hr, "no context on %s", port)
			_, hr = connect(port, []byte{1, 0})
			require.Equal(t, kernel.E_INVALIDARG, hr, "a 2-byte context on %s", port)
			_, hr = connect(port, avscanproto.ConnectionContext{Type: 7}.Encode())
			require.Equal(t, kernel.E_INVALIDARG, hr, "unknown type on %s", port)
			_, hr = connect(port, avscanproto.ConnectionContext{Type: 0}.Encode())
			require.Equal(t, kernel.E_INVALIDARG, hr, "type 0 on %s", port)
		}
		var handles []kernel.Handle
		for _, typ := range []avscanproto.ConnectionType{avscanproto.ForScan, avscanproto.ForAbort, avscanproto.ForQuery} {
			h, hr := connect(typ.PortName(), avscanproto.ConnectionContext{Type: typ}.Encode())
			require.Equal(t, kernel.S_OK, hr)
			handles = append(handles, h)
			_, hr = connect(typ.PortName(), avscanproto.ConnectionContext{Type: typ}.Encode())
			require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT), hr, "MaxConnections 1")
		}
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		_, hr := user.FilterConnectCommunicationPort(avscanproto.QueryPortName, 0, avscanproto.ConnectionContext{Type: avscanproto.ForQuery}.Encode(), 4, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		for _, h := range handles {
			require.NoError(t, p.CloseHandle(h))
		}
	})
}

// Fix of a C bug: ConnectNotify trusted the type in the context, not the port, so a
// scan-type connection could take the abort port (and receive the aborts). The type must
// match the port's.
func TestBugFixConnectionTypeMustMatchPort(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		p := w.NewProcess("client.exe", kernel.TokenAdmin())
		for _, c := range []struct {
			port string
			typ  avscanproto.ConnectionType
		}{
			{avscanproto.AbortPortName, avscanproto.ForScan},
			{avscanproto.ScanPortName, avscanproto.ForAbort},
			{avscanproto.ScanPortName, avscanproto.ForQuery},
			{avscanproto.QueryPortName, avscanproto.ForScan},
		} {
			_, hr := p.FilterConnectCommunicationPort(c.port, 0, avscanproto.ConnectionContext{Type: c.typ}.Encode(), 4, nil)
			require.Equal(t, kernel.HRESULT(0x80070057), hr, "type %d on %s", c.typ, c.port)
		}
		require.False(t, d.Connected(avscanproto.ForScan))
		require.False(t, d.Connected(avscanproto.ForAbort))
	})
}

// The query port answers IsFileModified for a handle of the caller: true from a write until
// the file is scanned again.
func TestIsFileModified(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenAdmin())
		h, err := open(app, `C:\clean.txt`, true)
		require.NoError(t, err)
		modified, hr := avscanuser.IsFileModified(app, h)
		require.Equal(t, kernel.S_OK, hr)
		require.False(t, modified, "scanned clean at the open")
		_, err = app.WriteFileAt(h, []byte("x"), 0)
		require.NoError(t, err)
		modified, hr = avscanuser.IsFileModified(app, h)
		require.Equal(t, kernel.S_OK, hr)
		require.True(t, modified)
		_, hr = avscanuser.IsFileModified(app, kernel.Handle(0x7ff0))
		require.Equal(t, kernel.E_HANDLE, hr, "not a handle of the caller")
		require.NoError(t, app.CloseHandle(h))
	})
}

// The scanner's start fails as FilterConnectCommunicationPort does: no filter loaded is
// HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND), a standard user E_ACCESSDENIED (R-MODEL-2).
func TestScannerStartErrors(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, err := avscanuser.Start(context.Background(), w.NewProcess("avscan.exe", kernel.TokenAdmin()), avscanuser.Options{})
		require.ErrorIs(t, err, kernel.HRESULT(0x80070002))
		load(t, w, avscan.Config{})
		_, err = avscanuser.Start(context.Background(), w.NewProcess("avscan.exe", kernel.TokenStandardUser()), avscanuser.Options{})
		require.ErrorIs(t, err, kernel.E_ACCESSDENIED)
	})
}
