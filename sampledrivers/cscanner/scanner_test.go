package cscanner_test

// The scanner sample's end-to-end scenarios (package scanner), run with the unchanged Go
// service (scanuser) against the C driver. Where the Go tests read the Go driver's counters,
// these read the trace: the messages sent and the driver's DbgPrint lines.

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/cscanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

// Scenario 1: a foul .txt opens while no scanner is connected, is denied while the scanner
// runs (the post-create cancels the open, R-IO-CREATE-5) and opens again once the scanner
// disconnected; DisconnectNotify closes the client port (R-CB-2), freeing the only slot
// (R-CLOSECLI-3) for the next scanner.
func TestCScenario1FoulTextDeniedOnlyWhileScannerRuns(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: text(3000, 700), `clean.txt`: text(3000)}})

		require.NoError(t, l.open(`C:\dirty.txt`), "no scanner: everything is allowed")
		require.Zero(t, l.sent())

		sc := l.start(nil)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\dirty.txt`))
		require.NoError(t, l.open(`C:\clean.txt`))
		require.Equal(t, 0, w.Volume("C:").TestAccess().OpenFileObjects(), "the cancelled open left nothing open")
		require.Equal(t, scanuser.Stats{Messages: 2, Foul: 1, MaxBytesToScan: 1024}, sc.Stats())
		require.Equal(t, 1, l.dbg("foul language detected in postcreate"))

		require.NoError(t, sc.Stop())
		require.NoError(t, l.open(`C:\dirty.txt`), "the scanner disconnected: allowed again")
		require.Equal(t, 2, l.sent())

		sc = l.start(nil)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\dirty.txt`), "a new scanner took the free slot")
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
	})
}

// Scenario 2: the extension test ignores case, and files with an unlisted extension are
// never sent.
func TestCScenario2ExtensionsIgnoreCaseUnlistedNeverSent(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		foul := text(100, 10)
		listed := []string{`a.TXT`, `b.Doc`, `c.tXt`, `d.EXE`, `e.bat`, `f.Cmd`, `g.INF`}
		unlisted := []string{`h.bin`, `i.txtx`, `j.tx`, `noext`, `k.txt.bak`, `l.docx`, `txt`}
		files := map[string][]byte{}
		for _, n := range append(append([]string{}, listed...), unlisted...) {
			files[n] = foul
		}
		l := newLab(t, w, fsys.VolumeConfig{Files: files})
		sc := l.start(nil)
		for _, n := range listed {
			require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\`+n), n)
		}
		for _, n := range unlisted {
			require.NoError(t, l.open(`C:\`+n), n)
		}
		require.Equal(t, len(listed), l.sent())
		require.NoError(t, sc.Stop())
		require.Equal(t, int64(len(listed)), sc.Stats().Messages)
		require.Equal(t, int64(len(listed)), sc.Stats().Foul)
	})
}

// Scenario 3: only the first 1024 bytes are sent: "foul" ending at byte 1023 is found, one
// straddling byte 1024 or later is not.
func TestCScenario3FoulAtKilobyteBoundary(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		files := map[string][]byte{}
		for _, at := range []int{1020, 1021, 1022, 1023, 1024, 3000} {
			files[name(at)] = text(4096, at)
		}
		l := newLab(t, w, fsys.VolumeConfig{Files: files})
		sc := l.start(nil)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\`+name(1020)))
		for _, at := range []int{1021, 1022, 1023, 1024, 3000} {
			require.NoError(t, l.open(`C:\`+name(at)), "foul at %d", at)
		}
		require.NoError(t, sc.Stop())
		require.Equal(t, scanuser.Stats{Messages: 6, Foul: 1, MaxBytesToScan: 1024}, sc.Stats())
	})
}

func name(at int) string { return fmt.Sprintf("at%04d.txt", at) }

// Scenario 3 on a volume with 4096-byte sectors: the C driver reads a whole sector but sends
// BytesToScan ≤ 1024, which the service accepts.
func TestCScenario3LargeSectorsBytesToScanClamped(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{SectorSize: 4096, Files: map[string][]byte{`late.txt`: text(4096, 2000)}})
		sc := l.start(nil)
		require.NoError(t, l.open(`C:\late.txt`))
		require.NoError(t, sc.Stop())
		require.Equal(t, scanuser.Stats{Messages: 1, MaxBytesToScan: 1024}, sc.Stats())
	})
}

// Scenario 4: on a handle opened for writing, a foul write is denied (R-IO-STACK-3) and never
// reaches the disk; the same data through a mapped view is paging I/O (R-IO-RW-3) and passes;
// the rescan at cleanup finds the foul file and only logs it.
func TestCScenario4FoulWriteDeniedPagingWritePasses(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		const original = "all good here, nothing to see"
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`clean.txt`: []byte(original)}})
		sc := l.start(nil)
		h := l.openRW(`C:\clean.txt`)

		_, err := l.app.WriteFileAt(h, []byte("foul"), 0)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
		require.Equal(t, original, l.data(`C:\clean.txt`), "the denied write never reached the disk")

		n, err := l.app.WriteFileAt(h, []byte("nice"), 0)
		require.NoError(t, err)
		require.Equal(t, uint32(4), n)
		require.Equal(t, "nice"+original[4:], l.data(`C:\clean.txt`))

		require.NoError(t, l.app.MappedWrite(h, 0, []byte("foul")), "a paging write passes")
		require.Equal(t, "foul"+original[4:], l.data(`C:\clean.txt`))

		require.NoError(t, l.app.CloseHandle(h), "the rescan at cleanup only logs")
		require.Equal(t, 1, l.dbg("foul language detected in precleanup"))
		require.Equal(t, 1, l.dbg("blocking the write"))
		require.Equal(t, 2, l.dbg("foul language detected in write"))

		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\clean.txt`), "the next open sees the foul file")
		require.NoError(t, sc.Stop())
		require.Equal(t, int64(6), sc.Stats().Messages) // open, 3 writes, cleanup, open
	})
}

// Scenario 4 without a scanner: writes are not scanned at all.
func TestCScenario4NoScannerWritesPass(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`clean.txt`: text(100)}})
		h := l.openRW(`C:\clean.txt`)
		_, err := l.app.WriteFileAt(h, []byte("foul"), 0)
		require.NoError(t, err)
		require.NoError(t, l.app.CloseHandle(h))
		require.Equal(t, "foul", l.data(`C:\clean.txt`)[:4])
		require.Zero(t, l.sent())
	})
}

// Scenario 5: no port before the driver loads (HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)); a
// standard user is refused by the default descriptor (E_ACCESSDENIED, R-SD); a second
// scanner gets HRESULT_FROM_WIN32(ERROR_CONNECTION_COUNT_LIMIT) (R-MODEL-2); the port has no
// MessageNotify: FilterSendMessage gets HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED).
func TestCScenario5ConnectRefusals(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		w.MustAddVolume(fsys.VolumeConfig{Name: "C:"})
		svc := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
		_, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.Equal(t, kernel.HRESULT(0x80070002), hresultOf(err), "%v", err)

		require.NoError(t, w.Load("scanner", cscanner.New()))
		user := w.NewProcess("scanuser.exe", kernel.TokenStandardUser())
		_, err = scanuser.Start(context.Background(), user, scanuser.Options{})
		require.Equal(t, kernel.E_ACCESSDENIED, hresultOf(err), "%v", err)

		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		other := w.NewProcess("scanuser2.exe", kernel.TokenAdmin())
		_, err = scanuser.Start(context.Background(), other, scanuser.Options{})
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT), hresultOf(err), "%v", err)

		require.Equal(t, kernel.HRESULT(0x80070032), svc.FilterSendMessage(sc.Port(), []byte{0}, nil, nil))

		require.NoError(t, sc.Stop())
		sc, err = scanuser.Start(context.Background(), other, scanuser.Options{})
		require.NoError(t, err, "the slot is free once the first scanner stopped")
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
		require.Empty(t, w.Leftovers())
	})
}

// Scenario 6: unloading while the service is connected ends the connection (R-UNLOAD-5): the
// outstanding Gets complete with E_HANDLE, the service stops, the unload completes, and the
// files open unfiltered.
func TestCScenario6UnloadWhileConnected(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: text(50, 0)}})
		sc := l.start(nil)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\dirty.txt`))

		require.NoError(t, w.Unload("scanner"))
		require.Equal(t, kernel.E_HANDLE, hresultOf(sc.Wait()))
		require.Empty(t, w.Leftovers(), "the service closed its handles")
		require.NoError(t, l.open(`C:\dirty.txt`), "no filter any more")
	})
}

// Scenario 6 with a scan in flight: the post-create waits for a verdict (no timeout) while
// the filter unloads; the send returns STATUS_PORT_DISCONNECTED (R-UNLOAD-5), the open is
// allowed, the unload completes, and the worker's late reply fails with E_HANDLE.
func TestCUnloadWithScanInFlight(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: text(50, 0)}})
		release := make(chan struct{})
		sc := l.start(&scanuser.Options{Threads: 1, Requests: 1, Scan: func(b []byte) bool {
			<-release
			return scanuser.ScanBuffer(b)
		}})
		opened := make(chan error, 1)
		go func() {
			h, err := l.app.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
			if err == nil {
				err = l.app.CloseHandle(h)
			}
			opened <- err
		}()
		synctest.Wait()

		require.NoError(t, w.Unload("scanner"))
		require.NoError(t, <-opened)
		require.Equal(t, 1, l.dbg("couldn't send message to user-mode to scan file, status 0xC0000037"))

		close(release)
		require.Equal(t, kernel.E_HANDLE, hresultOf(sc.Wait()))
		require.Empty(t, w.Leftovers())
	})
}

// FSCTL_OFFLOAD_WRITE on a handle marked for rescan is denied while a scanner is connected.
func TestCOffloadWriteDeniedOnWriteHandle(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`a.txt`: text(100), `b.bin`: text(100)}})
		sc := l.start(nil)
		in, out := make([]byte, 32), make([]byte, 16)
		txt := l.openRW(`C:\a.txt`)
		bin := l.openRW(`C:\b.bin`)
		_, err := l.app.DeviceIoControl(txt, fsys.FSCTL_OFFLOAD_WRITE, in, out)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
		_, err = l.app.DeviceIoControl(bin, fsys.FSCTL_OFFLOAD_WRITE, in, out)
		require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err)
		require.Equal(t, 1, l.dbg("blocking the offload write"))
		require.NoError(t, l.app.CloseHandle(txt))
		require.NoError(t, l.app.CloseHandle(bin))
		require.NoError(t, sc.Stop())
	})
}

// The service's own opens are never scanned: it may open a foul file, write foul data to it
// and close it without a single message.
func TestCScannerOwnOpensNeverScanned(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: text(50, 0)}})
		sc := l.start(nil)
		h, err := l.svc.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		_, err = l.svc.WriteFileAt(h, []byte("foul"), 10)
		require.NoError(t, err)
		require.NoError(t, l.svc.CloseHandle(h))
		require.Zero(t, l.sent())
		require.Equal(t, 1, l.dbg("allowing create for trusted process"))
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.open(`C:\dirty.txt`), "another process's open is scanned")
		require.NoError(t, sc.Stop())
	})
}

// Directories, empty files and failed opens are not sent; the filter does not attach to
// network volumes (R-IO-INST-1).
func TestCNotSent(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, fsys.VolumeConfig{Files: map[string][]byte{`folder.txt\`: nil, `empty.txt`: {}}})
		w.MustAddVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork, Share: `\server\docs`,
			Files: map[string][]byte{`dirty.txt`: text(50, 0)}})
		require.Empty(t, w.Instances("Z:"))
		require.Len(t, w.Instances("C:"), 1)
		sc := l.start(nil)
		h, err := l.app.CreateFile(`C:\folder.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_BACKUP_SEMANTICS)
		require.NoError(t, err)
		require.NoError(t, l.app.CloseHandle(h))
		require.NoError(t, l.open(`C:\empty.txt`))
		require.Equal(t, kernel.ERROR_FILE_NOT_FOUND, l.open(`C:\missing.txt`))
		require.NoError(t, l.open(`\\server\docs\dirty.txt`))
		require.Zero(t, l.sent())
		require.NoError(t, sc.Stop())
	})
}
