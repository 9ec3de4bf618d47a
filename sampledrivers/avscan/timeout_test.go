package avscan_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser"
)

// Scenario 10: the worker acknowledges (and even scans) but never sends its verdict. After the
// scan timeout (30 s) the filter sends AbortScanning naming that scan and worker, waits one more
// second, finishes the scan itself and lets the open through (an infected file, here); the
// verdict sent later finds no scan: STATUS_NOT_FOUND, which the worker sees as
// HRESULT_FROM_WIN32(ERROR_NOT_FOUND), 0x80070490.
func TestScanTimeoutAbortsAndLateVerdictIsNotFound(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())

		start := time.Now()
		h, err := open(app, `C:\virus.txt`, false)
		require.NoError(t, err, "no verdict in time: the open is allowed")
		require.Equal(t, 31*time.Second, time.Since(start), "30 s for the verdict, 1 s after the abort")

		st := stats(s)
		require.Len(t, st.Requests, 1)
		id := st.Requests[0].ScanId
		require.Equal(t, []int64{id}, s.HeldVerdicts())
		require.Len(t, st.Aborts, 1)
		require.Equal(t, id, st.Aborts[0].ScanId)
		require.Contains(t, s.ThreadIDs(), st.Aborts[0].ScanThreadId, "the abort names the worker that acknowledged")
		require.True(t, st.Aborts[0].Matched)
		ds := d.Stats()
		require.Equal(t, int64(1), ds.ScanTimeouts)
		require.Equal(t, int64(1), ds.AbortsSent)
		require.Equal(t, int64(1), ds.ScansAbandoned)
		require.Empty(t, d.ScansInFlight())

		hr, err := s.ReleaseVerdict(id)
		require.NoError(t, err)
		require.Equal(t, kernel.HRESULT(0x80070490), hr)
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_NOT_FOUND), hr)

		require.NoError(t, app.CloseHandle(h)) // scanned again at cleanup: times out again (31 s)
	})
}

// Fix of a C bug: a scan abandoned after the worker took its section (the verdict never came)
// left the file "scanning", which is neither "to be scanned" nor "infected": the file was then
// opened without a scan until someone modified it. It is left "modified": IsFileModified says
// so, the cleanup scans it again, and with a scanner that answers the infected file is caught.
func TestBugFixAbandonedScanLeavesTheFileToScan(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenAdmin()) // the query port is for administrators
		h, err := open(app, `C:\virus.txt`, false)
		require.NoError(t, err, "abandoned after 31 s")
		modified, hr := avscanuser.IsFileModified(app, h)
		require.Equal(t, kernel.S_OK, hr)
		require.True(t, modified)

		s.Stop()
		s2 := startScanner(t, w, avscanuser.Options{})
		require.NoError(t, app.CloseHandle(h))
		st := stats(s2)
		require.Len(t, st.Requests, 1)
		require.Equal(t, avscanproto.OnCleanup, st.Requests[0].Reason)
		require.Equal(t, avscanproto.Infected, st.Verdicts[0].Result)
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `C:\virus.txt`))
	})
}

// The timeouts come from the configuration (the sample's registry values).
func TestScanTimeoutIsConfigurable(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{LocalScanTimeout: 5 * time.Second})
		startScanner(t, w, avscanuser.Options{HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		start := time.Now()
		h, err := open(app, `C:\virus.txt`, false)
		require.NoError(t, err)
		require.Equal(t, 6*time.Second, time.Since(start))
		require.NoError(t, app.CloseHandle(h)) // cleanup scan: 6 s more
	})
}

// A worker still scanning at the timeout is aborted: the abort listener finds the worker on
// that scan and sets its flag, the search stops with Undetermined and the worker sends that
// verdict within the filter's extra second: the scan ends there (not abandoned) and the file
// stays to be scanned again.
func TestAbortStopsAWorkerMidScan(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{ScanDelay: time.Minute})
		app := w.NewProcess("app.exe", kernel.TokenAdmin())
		start := time.Now()
		h, err := open(app, `C:\virus.txt`, false)
		require.NoError(t, err)
		require.Equal(t, 30*time.Second, time.Since(start), "the verdict came right after the abort")
		st := stats(s)
		require.Equal(t, []avscanuser.Abort{{ScanId: 1, ScanThreadId: st.Aborts[0].ScanThreadId, Matched: true}}, st.Aborts)
		require.Equal(t, []avscanuser.Verdict{{ScanId: 1, Reason: avscanproto.OnOpen, Result: avscanproto.Undetermined, HR: kernel.S_OK}}, st.Verdicts)
		ds := d.Stats()
		require.Equal(t, int64(1), ds.AbortsSent)
		require.Equal(t, int64(0), ds.ScansAbandoned)
		modified, hr := avscanuser.IsFileModified(app, h)
		require.Equal(t, kernel.S_OK, hr)
		require.True(t, modified, "Undetermined: scan again")
		s.Stop()
		require.NoError(t, app.CloseHandle(h))
	})
}

// An abort for a scan the worker has left is not applied to the worker's next scan: the
// listener compares the ScanId. Here the only worker holds the verdicts of scans 1 and 2
// (it is on scan 2) when a detach tears the instance down and aborts both.
func TestStaleAbortDoesNotCancelTheNextScan(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{Workers: 1, HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		done := make(chan error, 2)
		go func() { done <- openClose(t, app, `C:\clean.txt`) }()
		synctest.Wait() // scan 1 taken, its verdict held
		go func() { done <- openClose(t, app, `C:\virus.txt`) }()
		synctest.Wait() // scan 2 taken by the same worker
		require.Len(t, stats(s).Requests, 2)

		admin := w.NewProcess("fltmc.exe", kernel.TokenAdmin())
		require.Equal(t, kernel.S_OK, admin.FilterDetach("avscan", "C:", ""))
		require.NoError(t, <-done)
		require.NoError(t, <-done)
		st := stats(s)
		tid := s.ThreadIDs()[0]
		require.GreaterOrEqual(t, len(st.Aborts), 2)
		require.Equal(t, avscanuser.Abort{ScanId: 1, ScanThreadId: tid, Matched: false}, st.Aborts[0], "stale: the worker is on scan 2")
		require.Equal(t, avscanuser.Abort{ScanId: 2, ScanThreadId: tid, Matched: true}, st.Aborts[1])
	})
}

// A late acknowledgement: the filter gave up on StartScanning after the timeout (the open is
// allowed at once, and nothing is aborted: no worker had taken the scan). The worker's reply
// then gets ERROR_FLT_NO_WAITER_FOR_REPLY; fix of a C bug: the worker goes on (the C worker
// exits, and the service loses it).
func TestLateAcknowledgementKeepsTheWorker(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		first := true
		s := startScanner(t, w, avscanuser.Options{Workers: 1, BeforeAck: func(avscanproto.Notification) {
			if first {
				first = false
				time.Sleep(40 * time.Second)
			}
		}})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		start := time.Now()
		h, err := open(app, `C:\virus.txt`, false)
		require.NoError(t, err, "not acknowledged in time: allowed")
		require.Equal(t, 30*time.Second, time.Since(start))
		require.Equal(t, int64(0), d.Stats().AbortsSent)
		time.Sleep(10 * time.Second) // the late acknowledgement
		synctest.Wait()
		require.Equal(t, []kernel.HRESULT{kernel.ERROR_FLT_NO_WAITER_FOR_REPLY}, stats(s).AckFailures)
		require.NoError(t, app.CloseHandle(h)) // scanned at cleanup by the same worker: infected
		require.Equal(t, kernel.ERROR_VIRUS_INFECTED, openClose(t, app, `C:\virus.txt`), "the only worker still works")
		require.Len(t, stats(s).Verdicts, 1)
	})
}

// A requestor whose process exits while its open waits for the verdict: the wait ends with
// STATUS_THREAD_IS_TERMINATING, the worker is told to abort, and the open fails.
func TestRequestorExitAbortsTheScan(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		done := make(chan error, 1)
		go func() {
			_, err := open(app, `C:\virus.txt`, false)
			done <- err
		}()
		synctest.Wait()
		app.Exit(1)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, <-done)
		require.Equal(t, int64(1), d.Stats().AbortsSent)
		require.Len(t, stats(s).Aborts, 1)
		require.Equal(t, 0, w.Volume("C:").TestAccess().OpenFileObjects())
	})
}
