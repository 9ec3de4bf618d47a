package avscan_test

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser"
)

func connectAs(t *testing.T, p *harness.Process, typ avscanproto.ConnectionType) kernel.Handle {
	t.Helper()
	h, hr := p.FilterConnectCommunicationPort(typ.PortName(), 0, avscanproto.ConnectionContext{Type: typ}.Encode(), avscanproto.ConnectionContextSize, nil)
	require.Equal(t, kernel.S_OK, hr)
	return h
}

// The commands' errors as the user sees them: an unknown ScanId is STATUS_NOT_FOUND
// (0x80070490); CreateSectionForDataScan needs an 8-byte, 8-aligned output (E_INVALIDARG;
// STATUS_DATATYPE_MISALIGNMENT, 0x800703E6); an unknown command is E_INVALIDARG.
func TestCommandErrors(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		p := w.NewProcess("client.exe", kernel.TokenAdmin())
		h := connectAs(t, p, avscanproto.ForScan)
		send := func(c avscanproto.CommandMessage, out []byte) kernel.HRESULT {
			var n uint32
			return p.FilterSendMessage(h, c.Encode(), out, &n)
		}
		create := avscanproto.CommandMessage{Command: avscanproto.CreateSectionForDataScan, ScanId: 42}
		require.Equal(t, kernel.HRESULT(0x80070490), send(create, make([]byte, 8)))
		require.Equal(t, kernel.HRESULT(0x80070490), send(avscanproto.CommandMessage{Command: avscanproto.CloseSectionForDataScan, ScanId: 42}, nil))
		require.Equal(t, kernel.E_INVALIDARG, send(create, make([]byte, 4)))
		require.Equal(t, kernel.HRESULT(0x800703E6), send(create, make([]byte, 16)[1:9]))
		require.Equal(t, kernel.E_INVALIDARG, send(avscanproto.CommandMessage{Command: 9}, make([]byte, 8)))
		require.Equal(t, kernel.E_ACCESSDENIED, send(avscanproto.CommandMessage{Command: avscanproto.IsFileModified, FileHandle: 4}, make([]byte, 8)),
			"IsFileModified is for the query connection")
		require.NoError(t, p.CloseHandle(h))
	})
}

// Fix of a C bug: MessageNotify took every command from every connection, and read ScanId and
// the union of COMMAND_MESSAGE past a 4-byte input. Verdicts and sections are for the scan
// connection, IsFileModified for the query connection (else STATUS_ACCESS_DENIED, the user sees
// E_ACCESSDENIED); a command shorter than 32 bytes is E_INVALIDARG.
func TestBugFixCommandsCheckedAgainstConnection(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		done := make(chan error, 1)
		go func() { done <- openClose(t, app, `C:\virus.txt`) }()
		synctest.Wait() // the scan waits for its verdict
		id := stats(s).Requests[0].ScanId

		forger := w.NewProcess("forger.exe", kernel.TokenAdmin())
		q := connectAs(t, forger, avscanproto.ForQuery)
		var n uint32
		hr := forger.FilterSendMessage(q, avscanproto.CommandMessage{Command: avscanproto.CloseSectionForDataScan, ScanId: id, ScanResult: avscanproto.Clean}.Encode(), nil, &n)
		require.Equal(t, kernel.E_ACCESSDENIED, hr, "a query client cannot deliver a verdict")
		hr = forger.FilterSendMessage(q, avscanproto.CommandMessage{Command: avscanproto.CreateSectionForDataScan, ScanId: id}.Encode(), make([]byte, 8), &n)
		require.Equal(t, kernel.E_ACCESSDENIED, hr, "nor get the section")
		hr = forger.FilterSendMessage(q, []byte{byte(avscanproto.IsFileModified), 0, 0, 0}, make([]byte, 8), &n)
		require.Equal(t, kernel.E_INVALIDARG, hr, "a 4-byte command")

		hr, err := s.ReleaseVerdict(id)
		require.NoError(t, err)
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, <-done, "the scanner's verdict stands")
		require.NoError(t, forger.CloseHandle(q))
	})
}

// Fix of a C bug: the cache kept a file's old "clean" entry when, at cleanup, the file was
// modified but no verdict could be had (here no scanner was running): once closed, the file was
// trusted at its next open. The entry is dropped: the next open scans it, and it is refused.
func TestBugFixModifiedFileNotTrustedFromStaleCache(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		require.NoError(t, openClose(t, app, `C:\clean.txt`)) // clean, cached
		s.Stop()

		h, err := open(app, `C:\clean.txt`, true)
		require.NoError(t, err)
		_, err = app.WriteFileAt(h, infected, 0)
		require.NoError(t, err)
		require.NoError(t, app.CloseHandle(h)) // no scanner: no verdict at cleanup

		s2 := startScanner(t, w, avscanuser.Options{})
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `C:\clean.txt`))
		require.Len(t, stats(s2).Requests, 1)
	})
}

// Fix of a C bug: instance teardown sent its aborts (1 s timeout each) holding the scan list's
// lock, which MessageNotify needs: a worker's verdict waited behind them. Here the abort
// connection exists but nobody reads it, so the teardown's abort waits its full second; the
// verdict sent meanwhile is taken at once.
func TestBugFixVerdictNotBlockedByTeardownAborts(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{HoldVerdicts: true, NoAbortListener: true})
		deaf := w.NewProcess("deaf.exe", kernel.TokenAdmin())
		abort := connectAs(t, deaf, avscanproto.ForAbort) // connected, never reads
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		opened := make(chan error, 1)
		go func() { opened <- openClose(t, app, `C:\clean.txt`) }()
		synctest.Wait()
		id := stats(s).Requests[0].ScanId

		admin := w.NewProcess("fltmc.exe", kernel.TokenAdmin())
		detached := make(chan kernel.HRESULT, 1)
		go func() { detached <- admin.FilterDetach("avscan", "C:", "") }()
		synctest.Wait() // the teardown is sending the abort, which nobody reads
		start := time.Now()
		hr, err := s.ReleaseVerdict(id)
		require.NoError(t, err)
		require.Equal(t, kernel.S_OK, hr)
		require.Zero(t, time.Since(start), "the verdict did not wait for the abort")
		require.NoError(t, <-opened)
		require.Equal(t, kernel.S_OK, <-detached)
		require.NoError(t, deaf.CloseHandle(abort))
	})
}

// Fix of a C bug: finishing a scan released the waiting I/O thread before closing the section.
// The next scan of the same file (the open right after, here on FAT, which keeps no cache)
// could then ask for a section while the old one was still open: FltCreateSectionForDataScan
// failed with STATUS_FLT_CONTEXT_ALREADY_DEFINED and the file went unscanned. The worker that
// delivered the first verdict is held for a second right after the I/O thread is released.
func TestBugFixSectionClosedBeforeTheIOThreadGoesOn(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		w.MustAddVolume(fsys.VolumeConfig{Name: "F:", FileSystem: "FAT", Files: map[string][]byte{`a.txt`: infected}})
		var held atomic.Bool
		avscan.SetReleasedHook(d, func() {
			if held.CompareAndSwap(false, true) {
				time.Sleep(time.Second)
			}
		})
		s := startScanner(t, w, avscanuser.Options{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `F:\a.txt`))
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `F:\a.txt`), "scanned again, and refused")
		time.Sleep(time.Second) // the first worker's hook ends
		st := stats(s)
		require.Empty(t, st.SectionFailures)
		require.Len(t, st.Verdicts, 2)
	})
}
