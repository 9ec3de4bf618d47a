package scanner_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannertest"
)

// The scanner sample's end-to-end scenarios (package scannertest), which the C scanner runs
// too, against the Go driver.
func TestScenarios(t *testing.T) {
	scannertest.Run(t, scannertest.Driver{Load: func(t *testing.T, w *harness.World) func(string) int {
		log := &dbgLog{}
		d := &scanner.Driver{Config: scanner.Config{Extensions: scanner.InstallerExtensions(), DbgPrint: log.printf}}
		require.NoError(t, w.Load("scanner", d))
		return log.count
	}})
}

// Scenario 2 with no configured extension: only .doc is scanned (the sample's fallback), in
// any case; a configured leading dot is ignored.
func TestScenario2DefaultExtensionIsDoc(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		foul := scannertest.Text(100, 10)
		l := newLab(t, w, nil, fsys.VolumeConfig{Files: map[string][]byte{`a.txt`: foul, `b.DOC`: foul, `c.exe`: foul}})
		require.Equal(t, []string{scanner.DefaultExtension}, l.d.Extensions())
		sc := l.Start(nil)
		require.NoError(t, l.Open(`C:\a.txt`))
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\b.DOC`))
		require.NoError(t, l.Open(`C:\c.exe`))
		require.Equal(t, 1, l.Sent())
		require.NoError(t, sc.Stop())

		d := &scanner.Driver{Config: scanner.Config{Extensions: []string{".TXT", "", "log"}}}
		require.NoError(t, w.Unload("scanner"))
		require.NoError(t, w.Load("scanner", d))
		require.Equal(t, []string{"TXT", "log"}, d.Extensions())
		require.NoError(t, w.Unload("scanner"))
		require.Nil(t, d.Extensions(), "the configuration is freed at unload")
	})
}

// The Go driver's own state follows the scenarios: Connected and ScannerProcessID track the
// service (ConnectNotify sees its process, R-CB-1), and Stats counts what the filter did.
func TestDriverStateAndStats(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		const original = "all good here, nothing to see"
		l := newLab(t, w, scanner.InstallerExtensions(), fsys.VolumeConfig{Files: map[string][]byte{
			`dirty.txt`: scannertest.Text(50, 0), `clean.txt`: []byte(original), `v.txt`: scannertest.Text(100)}})
		require.False(t, l.d.Connected())
		sc := l.Start(nil)
		require.True(t, l.d.Connected())
		require.Equal(t, l.Svc.ID(), l.d.ScannerProcessID())

		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\dirty.txt`))
		h := l.OpenRW(`C:\clean.txt`)
		_, err := l.App.WriteFileAt(h, []byte("foul"), 0)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
		require.NoError(t, l.App.MappedWrite(h, 0, []byte("foul")))
		_, err = l.App.DeviceIoControl(h, fsys.FSCTL_OFFLOAD_WRITE, make([]byte, 32), make([]byte, 16))
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
		require.NoError(t, l.App.CloseHandle(h))
		require.Equal(t, scanner.Stats{Scans: 5, OpensDenied: 1, WritesDenied: 1, PagingFoul: 1, CleanupFoul: 1, OffloadDenied: 1},
			l.d.Stats())
		require.NoError(t, sc.Stop())
		require.False(t, l.d.Connected())
		require.Zero(t, l.d.ScannerProcessID())

		// A reply without a verdict and a reply with STATUS_TIMEOUT: counted, not denied.
		replies := []kernel.NTSTATUS{kernel.STATUS_SUCCESS, kernel.STATUS_TIMEOUT}
		conn, done := scannertest.RawService(t, l.Svc, func(scannerproto.Notification, int) (kernel.NTSTATUS, []byte) {
			st := replies[0]
			replies = replies[1:]
			return st, nil
		})
		require.NoError(t, l.Open(`C:\v.txt`))
		require.NoError(t, l.Open(`C:\v.txt`))
		require.NoError(t, conn.Close())
		<-done
		st := l.d.Stats()
		require.Equal(t, int64(1), st.NoVerdict)
		require.Equal(t, int64(1), st.SendFailures)

		require.NoError(t, w.Unload("scanner"))
		require.Nil(t, l.d.Extensions(), "the configuration is freed at unload")
	})
}

// Bug of the C sample (configuration freed first): the unload callback must free the
// extension list only after FltUnregisterFilter, when no callback can run. A create that
// comes in while the unload is under way (after the server port closed, before the filter
// unregistered; the connection still works, R-CLOSESRV-2) is still scanned with the
// configured extensions. With the C order the list would already be gone.
func TestBugConfigurationFreedAfterUnregister(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		l := newLab(t, w, scanner.InstallerExtensions(), fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: scannertest.Text(50, 0)}})
		sc := l.Start(nil)
		var steps []string
		var extensions []int
		var openDuringUnload error
		scanner.SetUnloadHook(l.d, func(step string) {
			steps = append(steps, step)
			extensions = append(extensions, len(l.d.Extensions()))
			if step == "server port closed" {
				openDuringUnload = l.Open(`C:\dirty.txt`)
			}
		})
		require.NoError(t, w.Unload("scanner"))
		require.Equal(t, []string{"server port closed", "unregistered", "configuration freed"}, steps)
		require.Equal(t, []int{6, 6, 0}, extensions)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, openDuringUnload, "scanned with the configuration intact")
		require.Equal(t, kernel.E_HANDLE, harness.HRESULTOf(sc.Wait()))
	})
}

// lab is scannertest's Lab with the Go scanner itself, for the tests of what only the Go
// driver has.
type lab struct {
	*scannertest.Lab
	d *scanner.Driver
}

// newLab mounts vol (C: unless named) and loads the Go scanner with the given extensions.
func newLab(t *testing.T, w *harness.World, extensions []string, vol fsys.VolumeConfig) *lab {
	t.Helper()
	d := &scanner.Driver{Config: scanner.Config{Extensions: extensions}}
	return &lab{d: d, Lab: scannertest.NewLab(t, w, scannertest.Driver{Load: func(t *testing.T, w *harness.World) func(string) int {
		require.NoError(t, w.Load("scanner", d))
		return nil // these tests do not read the debug output
	}}, vol)}
}

// dbgLog collects the driver's DbgPrint output.
type dbgLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *dbgLog) printf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// count returns the number of lines containing s.
func (l *dbgLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
