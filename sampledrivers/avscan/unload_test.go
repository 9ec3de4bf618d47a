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

// Scenario 11: the unload waits for the abort listener's reply to FilterUnloading (here the
// listener takes 5 s, after stopping the workers); then the ports close and the filter
// unregisters. The scanner has closed everything.
func TestUnloadWaitsForTheAbortListener(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{BeforeUnloadReply: func() { time.Sleep(5 * time.Second) }})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		require.NoError(t, openClose(t, app, `C:\clean.txt`))

		start := time.Now()
		require.NoError(t, w.Unload("avscan"))
		require.Equal(t, 5*time.Second, time.Since(start), "FilterUnload waited for the reply")
		<-s.Done()
		st := stats(s)
		require.Equal(t, 1, st.Unloading)
		require.Equal(t, kernel.S_OK, st.UnloadReplyHR)
		require.Equal(t, kernel.S_OK, st.ListenerHR)
		ds := d.Stats()
		require.True(t, ds.UnloadReplySent)
		require.Equal(t, kernel.STATUS_SUCCESS, ds.UnloadReply)
		require.Empty(t, s.Backend().(*harness.Process).Kernel().Handles(), "the scanner closed its ports")
		_, hr := app.FilterConnectCommunicationPort(avscanproto.ScanPortName, 0, avscanproto.ConnectionContext{Type: avscanproto.ForScan}.Encode(), 4, nil)
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND), hr, "the ports are gone")
	})
}

// Scenario 11, the other half: with no abort listener connected FilterUnloading fails at once
// (STATUS_PORT_DISCONNECTED) and the unload goes on; the workers see E_HANDLE when the scan
// connection is torn down, and the scanner closes up.
func TestUnloadWithoutListenerProceeds(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{NoAbortListener: true})
		start := time.Now()
		require.NoError(t, w.Unload("avscan"))
		require.Zero(t, time.Since(start))
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, d.Stats().UnloadReply)
		<-s.Done()
		require.Empty(t, s.Backend().(*harness.Process).Kernel().Handles())
	})
}

// Unloading with no scanner at all.
func TestUnloadWithNoScanner(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		require.NoError(t, w.Unload("avscan"))
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, d.Stats().UnloadReply)
	})
}

// A listener that never replies: the sample waits with no timeout, so the unload waits as long
// as the listener's connection lives (on Windows, `fltmc unload` hangs). Fake time shows it: a
// day later it still waits; when the service process dies, the send fails with
// STATUS_PORT_DISCONNECTED and the unload completes.
func TestUnloadWaitsForeverForASilentListener(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{IgnoreUnloading: true})
		done := make(chan error, 1)
		go func() { done <- w.Unload("avscan") }()
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		select {
		case hr := <-done:
			t.Fatalf("the unload returned %v while the listener was silent", hr)
		default:
		}
		require.Equal(t, 1, stats(s).Unloading)
		s.Backend().(*harness.Process).Exit(1)
		require.NoError(t, <-done)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, d.Stats().UnloadReply)
		<-s.Done()
	})
}

// Config.UnloadReplyTimeout bounds that wait: the unload goes on after it (STATUS_TIMEOUT),
// tears the connections down, and the listener's next Get fails with E_HANDLE. Fix of a C bug:
// the listener stops there (the C listener retries every error but ERROR_OPERATION_ABORTED
// and spins forever; under fake time that would never let the test end).
func TestUnloadReplyTimeoutAndListenerStopsOnEHandle(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{UnloadReplyTimeout: 10 * time.Second})
		s := startScanner(t, w, avscanuser.Options{IgnoreUnloading: true})
		start := time.Now()
		require.NoError(t, w.Unload("avscan"))
		require.Equal(t, 10*time.Second, time.Since(start))
		require.Equal(t, kernel.STATUS_TIMEOUT, d.Stats().UnloadReply)
		<-s.Done()
		require.Equal(t, kernel.E_HANDLE, stats(s).ListenerHR)
		require.Empty(t, s.Backend().(*harness.Process).Kernel().Handles())
	})
}

// Scans in flight when the filter unloads: the listener stops the workers and replies, the
// ports close, and instance teardown finishes the scans nobody can answer any more: the opens
// waiting for a verdict go through at once instead of after the timeout.
func TestUnloadFinishesScansInFlight(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		s := startScanner(t, w, avscanuser.Options{HoldVerdicts: true})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		done := make(chan error, 1)
		go func() {
			h, err := open(app, `C:\virus.txt`, false)
			if err == nil {
				app.CloseHandle(h)
			}
			done <- err
		}()
		synctest.Wait()
		require.Len(t, d.ScansInFlight(), 1)
		start := time.Now()
		require.NoError(t, w.Unload("avscan"))
		require.NoError(t, <-done)
		require.Zero(t, time.Since(start))
		require.Equal(t, int64(1), d.Stats().ScansAbandoned)
		<-s.Done()
	})
}

// A scan requested while the filter unloads fails with STATUS_FLT_DELETING_OBJECT: the open is
// allowed and the scanner never hears of it.
func TestNoScanWhileUnloading(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := load(t, w, avscan.Config{})
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		var during error
		s := startScanner(t, w, avscanuser.Options{BeforeUnloadReply: func() {
			during = openClose(t, app, `C:\virus.txt`)
		}})
		require.NoError(t, w.Unload("avscan"))
		require.NoError(t, during)
		require.Empty(t, stats(s).Requests)
		require.Equal(t, int64(0), d.Stats().ScansRequested)
	})
}
