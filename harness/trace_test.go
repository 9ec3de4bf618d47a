package harness_test

// Tests of the flight recorder as the harness uses it: every event kind is recorded with its
// fields, a deterministic scenario matches golden files (table and Mermaid), the golden helper
// itself, and Run (fake time with the end-of-test checks inside the bubble).

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// -update rewrites the golden files of this package (FLTEMU_UPDATE_GOLDEN=1 does it for every
// package).
var _ = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// labScenario runs, in w, one step of each kind the flight recorder knows, one goroutine
// recording at a time so that the trace is the same on every run (in a bubble).
func labScenario(t *testing.T, w *harness.World) {
	d := &testdriver.Driver{MaxConnections: 2}
	require.NoError(t, w.Load("drv", d))
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	usr := w.NewProcess("user.exe", kernel.TokenStandardUser())

	// A denied connect, an accepted one.
	_, hr := usr.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.E_ACCESSDENIED, hr)
	h := labConnect(t, svc, `\TestPort`, []byte("hello"))
	c := d.Conn(0)

	// A message with a reply.
	done := make(chan kernel.NTSTATUS, 1)
	go func() {
		st, _ := d.Send(context.Background(), c, []byte("scan me"), make([]byte, 8), driverapi.RelativeTimeout(30*time.Second))
		done <- st
	}()
	synctest.Wait()
	buf := make([]byte, 64)
	require.Equal(t, kernel.S_OK, svc.FilterGetMessage(h, buf, nil))
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	require.Equal(t, kernel.S_OK, svc.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte("clean"))))
	require.Equal(t, kernel.STATUS_SUCCESS, <-done)
	require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, svc.FilterReplyMessage(h, driverapi.NewFilterReply(0, hdr.MessageId, nil)))

	// Nobody receives: the send times out after 5 fake seconds.
	st, _ := d.Send(context.Background(), c, []byte("anyone?"), make([]byte, 8), driverapi.RelativeTimeout(5*time.Second))
	require.Equal(t, kernel.STATUS_TIMEOUT, st)

	// The sending thread terminates while it waits for the reply: the message is abandoned.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { st, _ := d.Send(ctx, c, []byte("bye"), make([]byte, 8), nil); done <- st }()
	synctest.Wait()
	require.Equal(t, kernel.S_OK, svc.FilterGetMessage(h, buf, nil))
	cancel()
	synctest.Wait()
	require.Equal(t, kernel.STATUS_THREAD_IS_TERMINATING, <-done)

	// User → kernel.
	var n uint32
	require.Equal(t, kernel.S_OK, svc.FilterSendMessage(h, []byte("ping"), make([]byte, 8), &n))

	// An injected fault and a verifier report.
	require.NoError(t, w.Faults().FailNth(fltmgr.RoutineSendMessage, 1, kernel.STATUS_INSUFFICIENT_RESOURCES))
	st, _ = d.Send(context.Background(), c, []byte("x"), nil, nil)
	require.Equal(t, kernel.STATUS_INSUFFICIENT_RESOURCES, st)
	w.ExpectViolation(kernel.RuleVerify5)
	d.FM.CloseClientPort(d.Filter, nil)

	// The server port closes early; the user process exits; the driver unloads.
	d.FM.CloseCommunicationPort(d.Server)
	d.Server = nil
	usr.Exit(0)
	require.NoError(t, w.Unload("drv"))
	require.NoError(t, svc.CloseHandle(h))
}

// Every event kind of the flight recorder is recorded, with the fake-clock time, the process
// and driver names, connection and message ids, and its status and detail.
func TestTraceRecordsEveryKind(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		labScenario(t, w)
		// The I/O model's events: a volume mounts, an instance attaches, a file operation
		// runs through it, the instance is torn down at unload.
		w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{`a.txt`: []byte("x")}})
		require.NoError(t, w.Load("nosecrets", &noSecrets{}))
		io := w.NewProcess("io.exe", kernel.TokenAdmin())
		fh, err := io.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		require.NoError(t, io.CloseHandle(fh))
		require.NoError(t, w.Unload("nosecrets"))
		// A routine that refuses its arguments says why, in the trace and in Load's error.
		err = w.Load("oldversion", &testdriver.Driver{Version: 0x0100, NoPort: true})
		require.ErrorIs(t, err, kernel.E_INVALIDARG)
		require.ErrorContains(t, err, `load "oldversion": DriverEntry returned STATUS_INVALID_PARAMETER (0xC000000D): FltRegisterFilter failed with STATUS_INVALID_PARAMETER (0xC000000D): the registration's Version 0x0100`)

		tr := w.Trace()
		for _, k := range kernel.EventKinds() {
			require.NotEmpty(t, tr.Filter(k), "no %s event", k)
		}
		one := func(kind kernel.EventKind, match func(kernel.TraceEvent) bool) kernel.TraceEvent {
			t.Helper()
			var got []kernel.TraceEvent
			for _, e := range tr.Filter(kind) {
				if match == nil || match(e) {
					got = append(got, e)
				}
			}
			require.Len(t, got, 1, "%s events: %v", kind, got)
			return got[0]
		}
		start := tr.Start()
		const svc, usr = "svc.exe (pid 8)", "user.exe (pid 12)"

		e := one(kernel.EvProcessCreated, func(e kernel.TraceEvent) bool { return e.Process == usr })
		require.Equal(t, "user", e.Detail, "the token")
		e = one(kernel.EvProcessExited, nil)
		require.Equal(t, usr, e.Process)

		// Connect attempts with result and reason; ConnectNotify's result.
		e = one(kernel.EvConnect, func(e kernel.TraceEvent) bool { return e.Process == usr })
		require.Equal(t, kernel.STATUS_ACCESS_DENIED.Error(), e.Status)
		require.Equal(t, "drv", e.Driver)
		require.Equal(t, `\TestPort: access check failed for user`, e.Detail)
		e = one(kernel.EvConnectNotify, nil)
		require.Equal(t, kernel.TraceEvent{Seq: e.Seq, Time: e.Time, Kind: kernel.EvConnectNotify, Process: svc, Driver: "drv", Conn: 1,
			Status: kernel.STATUS_SUCCESS.Error(), Err: kernel.STATUS_SUCCESS, Detail: "5 context bytes"}, e)
		e = one(kernel.EvConnect, func(e kernel.TraceEvent) bool { return e.Process == svc })
		require.Equal(t, uint64(1), e.Conn)
		require.Equal(t, kernel.STATUS_SUCCESS.Error(), e.Status)

		// Messages: ids, statuses, fake times.
		e = one(kernel.EvMessageDelivered, func(e kernel.TraceEvent) bool { return e.MsgID == 1 })
		require.Equal(t, svc, e.Process)
		require.Equal(t, uint64(1), e.Conn)
		e = one(kernel.EvMessageReplied, func(e kernel.TraceEvent) bool { return e.Status == kernel.STATUS_SUCCESS.Error() })
		require.Equal(t, uint64(1), e.MsgID)
		require.Equal(t, "5 reply bytes", e.Detail)
		e = one(kernel.EvMessageReplied, func(e kernel.TraceEvent) bool { return e.Status != kernel.STATUS_SUCCESS.Error() })
		require.Equal(t, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY.Error(), e.Status)
		require.Equal(t, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, e.Err)
		require.Empty(t, e.Reason, "a late reply to an id that was issued")
		e = one(kernel.EvMessageTimedOut, nil)
		require.Equal(t, kernel.STATUS_TIMEOUT.Error(), e.Status)
		require.Equal(t, "no receiver", e.Detail)
		require.Equal(t, 5*time.Second, e.Time.Sub(start), "fake time")
		e = one(kernel.EvMessageAbandoned, nil)
		require.Equal(t, uint64(2), e.MsgID, "the timed-out message never got an id")
		require.Equal(t, kernel.STATUS_THREAD_IS_TERMINATING.Error(), e.Status)
		require.Equal(t, "sending thread terminating", e.Detail)
		e = one(kernel.EvUserSend, nil)
		require.Equal(t, "4 bytes in, 4 out", e.Detail)

		// Fault, violation, server port closed, unload steps, disconnect causes.
		e = one(kernel.EvFaultInjected, nil)
		require.Equal(t, "drv", e.Driver)
		require.Equal(t, kernel.STATUS_INSUFFICIENT_RESOURCES.Error(), e.Status)
		require.Equal(t, "FltSendMessage call 1 failed (FailNth)", e.Detail)
		e = one(kernel.EvViolation, nil)
		require.Equal(t, string(kernel.RuleVerify5), e.Status)
		require.Nil(t, e.Err)
		require.Equal(t, "verifier "+e.Reason, e.Detail)
		e = one(kernel.EvPortCreated, nil)
		require.Equal(t, `\TestPort`, e.Object)
		require.Equal(t, 2, e.Count)
		e = one(kernel.EvPortClosed, nil)
		require.Equal(t, `\TestPort`, e.Detail)
		require.Equal(t, `\TestPort`, e.Object)
		var causes, routines, reasons []string
		for _, e := range tr.Filter(kernel.EvDisconnect) {
			causes, routines, reasons = append(causes, e.Detail), append(routines, e.Routine), append(reasons, e.Reason)
		}
		require.Equal(t, []string{"filter unregistering", "DisconnectNotify (unload)", "FltCloseClientPort"}, causes)
		require.Equal(t, []string{"", "DisconnectNotify", "FltCloseClientPort"}, routines)
		require.Equal(t, []string{"filter unregistering", "unload", ""}, reasons)
		e = one(kernel.EvUnloadRequest, func(e kernel.TraceEvent) bool { return e.Driver == "drv" })
		require.Equal(t, "FilterUnload", e.Routine)
		require.Equal(t, "unload request (fltmc unload)", e.Reason)
		var steps []kernel.EventKind
		for _, e := range tr.Events() {
			if e.Driver == "drv" && (e.Kind == kernel.EvUnloadRequest || e.Kind == kernel.EvUnregister || e.Kind == kernel.EvDriverUnloaded) {
				steps = append(steps, e.Kind)
			}
		}
		require.Equal(t, []kernel.EventKind{kernel.EvUnloadRequest, kernel.EvUnregister, kernel.EvDriverUnloaded}, steps)
	})
}

// A message abandoned because the connection ended while the driver waited for the reply.
func TestTraceMessageAbandonedOnDisconnect(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("drv", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := labConnect(t, p, `\TestPort`, nil)
		done := make(chan kernel.NTSTATUS, 1)
		go func() {
			st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), make([]byte, 4), nil)
			done <- st
		}()
		synctest.Wait()
		require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, make([]byte, 32), nil))
		require.NoError(t, p.CloseHandle(h))
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, <-done)
		ev := w.Trace().Filter(kernel.EvMessageAbandoned)
		require.Len(t, ev, 1)
		require.Equal(t, uint64(1), ev[0].MsgID)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED.Error(), ev[0].Status)
		require.Equal(t, "connection ended: user handle closed", ev[0].Detail)
	})
}

// The scenario's trace, as a table and as a Mermaid diagram, matches the golden files: inside
// Run the times are fake, so the table is the same on every run.
func TestTraceGolden(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		labScenario(t, w)
		harness.Golden(t, "lab-scenario-table", w.Trace().Table())
		harness.Golden(t, "lab-scenario-mermaid", harness.Mermaid(w.Trace().Events()))
	}, harness.WithFullTrace())
}

func TestMermaidRendering(t *testing.T) {
	ev := []kernel.TraceEvent{
		{Kind: kernel.EvProcessCreated, Process: "a.exe (pid 8)", Detail: "admin"},
		{Kind: kernel.EvConnectNotify, Process: "a.exe (pid 8)", Driver: "d", Conn: 1, Err: kernel.STATUS_SUCCESS},
		{Kind: kernel.EvConnect, Process: "a.exe (pid 8)", Driver: "d", Conn: 1, Err: kernel.STATUS_SUCCESS, Detail: `\P: ok`},
		{Kind: kernel.EvDisconnect, Driver: "d", Conn: 1, Routine: "FltCloseClientPort"},
		{Kind: kernel.EvDisconnect, Driver: "d", Conn: 1, Reason: "client port closed by the filter"},
		{Kind: kernel.EvViolation, Driver: "d", Status: string(kernel.RuleVerify4), Reason: "x; y #1 <b>"},
	}
	require.Equal(t, `sequenceDiagram
    participant P1 as a.exe (pid 8)
    participant FM as Filter Manager
    participant D1 as driver d
    Note over P1: process started, admin
    P1->>FM: FilterConnectCommunicationPort
    FM->>D1: ConnectNotify conn 1
    D1-->>FM: STATUS_SUCCESS
    FM-->>P1: STATUS_SUCCESS conn 1, \P: ok
    D1->>FM: FltCloseClientPort conn 1
    FM-xP1: disconnected conn 1, client port closed by the filter
    Note over D1: VERIFIER x#59; y #35;1 #lt;b#gt;
`, harness.Mermaid(ev))
}

// A passing test logs nothing; a failing one logs the trace table.
func TestTraceLoggedOnlyOnFailure(t *testing.T) {
	ft := &labTB{TB: t}
	w := harness.New(ft)
	require.NoError(t, w.Load("drv", &testdriver.Driver{}))
	ft.finish()
	require.Empty(t, ft.errs)
	require.Empty(t, ft.logs)

	ft = &labTB{TB: t}
	w = harness.New(ft)
	require.NoError(t, w.Load("drv", &testdriver.Driver{}))
	ft.Errorf("the test failed")
	ft.finish()
	require.Len(t, ft.logs, 1)
	require.True(t, strings.HasPrefix(ft.logs[0], "trace of the failed test:\n#  TIME"), ft.logs[0])
	require.Contains(t, ft.logs[0], "driver-loaded")
}

// Run: fake time, and the end-of-test checks inside the bubble.
func TestRunFakeTime(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.Equal(t, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().UTC())
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("drv", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := labConnect(t, p, `\TestPort`, nil)
		defer p.CloseHandle(h)
		start := time.Now()
		st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), make([]byte, 1), driverapi.RelativeTimeout(time.Hour))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)
		require.Equal(t, time.Hour, time.Since(start), "an hour of fake time")
	})

	// The teardown runs inside the bubble too: an unload callback that waits an hour of fake
	// time costs nothing, and its work is checked.
	var unloadedAt time.Duration
	harness.Run(t, func(t *testing.T, w *harness.World) {
		start := time.Now()
		d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			time.Sleep(time.Hour)
			unloadedAt = time.Since(start)
			return d.DefaultUnload()
		}}
		require.NoError(t, w.Load("slow", d))
	})
	require.Equal(t, time.Hour, unloadedAt)
}

func TestGoldenHelper(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n"), 0o644))
	sub := filepath.Join(dir, "pkg", "sub")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	t.Chdir(sub)

	// Missing file: a clear failure.
	t.Setenv(harness.UpdateGoldenEnv, "")
	ft := &labTB{TB: t}
	harness.Golden(ft, "trace/a", "one\ntwo\n")
	require.Len(t, ft.errs, 1)
	require.Contains(t, ft.errs[0], "does not exist; run with FLTEMU_UPDATE_GOLDEN=1 to create it")

	// Update writes it under <module>/testdata/golden.
	t.Setenv(harness.UpdateGoldenEnv, "1")
	ft = &labTB{TB: t}
	harness.Golden(ft, "trace/a", "one\ntwo\nthree\nfour\nfive\nsix\n")
	require.Empty(t, ft.errs)
	b, err := os.ReadFile(filepath.Join(dir, "testdata", "golden", "trace", "a.golden"))
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\nthree\nfour\nfive\nsix\n", string(b))

	// Compare: equal passes, different fails with a diff.
	t.Setenv(harness.UpdateGoldenEnv, "")
	ft = &labTB{TB: t}
	harness.Golden(ft, "trace/a", "one\ntwo\nthree\nfour\nfive\nsix\n")
	require.Empty(t, ft.errs)
	harness.Golden(ft, "trace/a", "one\nTWO\nthree\nfour\nfive\nsix\n")
	require.Len(t, ft.errs, 1)
	require.Contains(t, ft.errs[0], "  one\n- two\n+ TWO\n  three\n  ... (4 common lines)\n")

	// Bad names.
	for _, name := range []string{"", "../x", "/abs", `a\b`} {
		ft = &labTB{TB: t}
		harness.Golden(ft, name, "x")
		require.Len(t, ft.errs, 1, "name %q", name)
		require.Contains(t, ft.errs[0], "bad golden name")
	}
}

func TestLineDiff(t *testing.T) {
	require.Equal(t, "  a\n- b\n+ c\n", harness.LineDiff("a\nb", "a\nc"))
	require.Equal(t, "  a\n+ x\n  b\n", harness.LineDiff("a\nb", "a\nx\nb"))
	require.Equal(t, "  ... (4 common lines)\n  e\n- f\n", harness.LineDiff("a\nb\nc\nd\ne\nf", "a\nb\nc\nd\ne"))
}

func TestTraceCapacityOptions(t *testing.T) {
	require.Equal(t, kernel.DefaultTraceCapacity, harness.New(t).Trace().Capacity())
	require.Equal(t, 0, harness.New(t, harness.WithFullTrace()).Trace().Capacity())
	w := harness.New(t, harness.WithTraceCapacity(2))
	require.Equal(t, 2, w.Trace().Capacity())
	w.NewProcess("a.exe", kernel.TokenAdmin())
	w.NewProcess("b.exe", kernel.TokenAdmin())
	w.NewProcess("c.exe", kernel.TokenAdmin())
	ev := w.Trace().Events()
	require.Len(t, ev, 2)
	require.Contains(t, ev[0].Process, "b.exe")
	require.Equal(t, 1, w.Trace().Dropped())
}
