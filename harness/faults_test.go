package harness_test

// Tests of fault injection: the Nth call or a seeded share of calls of a routine fails with a
// chosen status; a process is killed at a chosen trace event; the seed makes runs
// reproducible and is printed when a test fails.

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// Each kernel-side routine can be failed; the driver sees the status and DriverEntry's
// failure reaches the loader as an HRESULT.
func TestFaultKernelRoutines(t *testing.T) {
	hrNoResources := kernel.HResultFromNtStatus(kernel.STATUS_INSUFFICIENT_RESOURCES)
	require.Equal(t, kernel.HRESULT(0x800705AA), hrNoResources)
	for _, routine := range []string{fltmgr.RoutineRegisterFilter, fltmgr.RoutineCreateCommunicationPort, fltmgr.RoutineStartFiltering} {
		t.Run(routine, func(t *testing.T) {
			w := harness.New(t)
			require.NoError(t, w.Faults().FailNth(routine, 1, kernel.STATUS_INSUFFICIENT_RESOURCES))
			require.ErrorIs(t, w.Load("drv", &testdriver.Driver{}), hrNoResources)
			require.False(t, w.FilterManager().Loaded("drv"))
			// Only the first call failed: a second load works.
			require.NoError(t, w.Load("drv", &testdriver.Driver{}))
			inj := w.Faults().Injected()
			require.Len(t, inj, 1)
			require.Equal(t, harness.FaultCall{Routine: routine, Driver: "drv", N: 1, Status: kernel.STATUS_INSUFFICIENT_RESOURCES, Rule: "FailNth"}, inj[0])
			ev := w.Trace().Filter(kernel.EvFaultInjected)
			require.Len(t, ev, 1)
			require.Equal(t, routine+" call 1 failed (FailNth)", ev[0].Detail)
		})
	}
}

// FltSendMessage and FilterConnectCommunicationPort: the third call fails, the others work.
func TestFaultSendAndConnect(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{MaxConnections: 4}
	require.NoError(t, w.Load("drv", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	require.NoError(t, w.Faults().FailNth(fltmgr.RoutineConnect, 3, kernel.STATUS_INSUFFICIENT_RESOURCES))
	require.NoError(t, w.Faults().FailNth(fltmgr.RoutineSendMessage, 3, kernel.STATUS_PORT_DISCONNECTED))
	var hrs []kernel.HRESULT
	for i := 0; i < 4; i++ {
		h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
		hrs = append(hrs, hr)
		if hr == kernel.S_OK {
			defer p.CloseHandle(h)
		}
	}
	require.Equal(t, []kernel.HRESULT{kernel.S_OK, kernel.S_OK, kernel.HRESULT(0x800705AA), kernel.S_OK}, hrs)
	require.Equal(t, int32(3), d.ConnectCalls.Load(), "the failed connect never reached ConnectNotify")

	var sts []kernel.NTSTATUS
	for i := 0; i < 4; i++ {
		st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), nil, driverapi.NoWait())
		sts = append(sts, st)
	}
	require.Equal(t, []kernel.NTSTATUS{kernel.STATUS_TIMEOUT, kernel.STATUS_TIMEOUT, kernel.STATUS_PORT_DISCONNECTED, kernel.STATUS_TIMEOUT}, sts)
}

// The user-side fltlib calls can fail too: FilterGetMessage, FilterReplyMessage,
// FilterSendMessage return HRESULT(status) after their argument and handle checks.
func TestFaultUserRoutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.New(t)
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("drv", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := labConnect(t, p, `\TestPort`, nil)
		f := w.Faults()
		require.NoError(t, f.FailNth(harness.RoutineFilterGetMessage, 1, kernel.STATUS_INSUFFICIENT_RESOURCES))
		require.NoError(t, f.FailNth(harness.RoutineFilterReplyMessage, 1, kernel.STATUS_ACCESS_DENIED))
		require.NoError(t, f.FailNth(harness.RoutineFilterSendMessage, 1, kernel.STATUS_NOT_SUPPORTED))

		var n uint32
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_NOT_SUPPORTED), p.FilterSendMessage(h, []byte("q"), make([]byte, 4), &n))
		require.Equal(t, int32(0), d.Messages.Load(), "MessageNotify was not called")
		require.Equal(t, kernel.E_INVALIDARG, p.FilterSendMessage(h, nil, nil, nil), "argument checks come first and are not counted")
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("q"), make([]byte, 4), &n))

		done := make(chan kernel.NTSTATUS, 1)
		go func() {
			st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), make([]byte, 4), nil)
			done <- st
		}()
		synctest.Wait()
		buf := make([]byte, 64)
		require.Equal(t, kernel.HRESULT(0x800705AA), p.FilterGetMessage(h, buf, nil))
		require.Equal(t, kernel.S_OK, p.FilterGetMessage(h, buf, nil))
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		require.Equal(t, kernel.E_ACCESSDENIED, p.FilterReplyMessage(h, driverapi.NewFilterReply(0, hdr.MessageId, nil)))
		require.Equal(t, kernel.S_OK, p.FilterReplyMessage(h, driverapi.NewFilterReply(0, hdr.MessageId, []byte("ok"))))
		require.Equal(t, kernel.STATUS_SUCCESS, <-done)

		var procs []string
		for _, c := range f.Injected() {
			procs = append(procs, c.Routine+" by "+c.Process)
		}
		require.Equal(t, []string{"FilterSendMessage by svc.exe (pid 8)", "FilterGetMessage by svc.exe (pid 8)",
			"FilterReplyMessage by svc.exe (pid 8)"}, procs)
		require.Equal(t, "FilterSendMessage call 1 by svc.exe (pid 8) failed with STATUS_NOT_SUPPORTED (0xC00000BB) (FailNth)",
			f.Injected()[0].String())
		require.NoError(t, p.CloseHandle(h))
	})
}

// A seeded random share of calls fails; the same seed fails the same calls, whatever the
// interleaving of other routines.
func TestFaultRandomIsReproducible(t *testing.T) {
	pattern := func(seed int64, interleave bool) []bool {
		w := harness.NewWorld(harness.WithSeed(seed))
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("drv", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := labConnect(t, p, `\TestPort`, nil)
		require.Equal(t, seed, w.Faults().Seed())
		require.NoError(t, w.Faults().FailRandom(fltmgr.RoutineSendMessage, 0.3, kernel.STATUS_INSUFFICIENT_RESOURCES))
		require.NoError(t, w.Faults().FailRandom(harness.RoutineFilterSendMessage, 0.5, kernel.STATUS_INSUFFICIENT_RESOURCES))
		var out []bool
		for i := 0; i < 200; i++ {
			if interleave {
				p.FilterSendMessage(h, []byte("q"), nil, nil)
			}
			st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), nil, driverapi.NoWait())
			out = append(out, st == kernel.STATUS_INSUFFICIENT_RESOURCES)
		}
		require.NoError(t, p.CloseHandle(h))
		require.NoError(t, w.Close())
		return out
	}
	a := pattern(42, false)
	require.Equal(t, a, pattern(42, true), "same seed, same failures, other routines notwithstanding")
	require.NotEqual(t, a, pattern(43, false))
	failed := 0
	for _, f := range a {
		if f {
			failed++
		}
	}
	require.InDelta(t, 60, failed, 25, "about 30%% of 200")

	// Share 0 never fails, share 1 always does.
	w := harness.NewWorld()
	d := &testdriver.Driver{}
	require.NoError(t, w.Faults().FailRandom(fltmgr.RoutineRegisterFilter, 0, kernel.STATUS_INSUFFICIENT_RESOURCES))
	require.NoError(t, w.Load("a", d))
	require.NoError(t, w.Faults().FailRandom(fltmgr.RoutineStartFiltering, 1, kernel.STATUS_INSUFFICIENT_RESOURCES))
	require.ErrorIs(t, w.Load("b", &testdriver.Driver{PortName: `\B`}), kernel.HRESULT(0x800705AA))
	require.NoError(t, w.Close())
}

// FailIf picks calls with a predicate: here only one driver's port creation fails.
func TestFaultIf(t *testing.T) {
	w := harness.New(t)
	require.NoError(t, w.Faults().FailIf(fltmgr.RoutineCreateCommunicationPort, kernel.STATUS_INSUFFICIENT_RESOURCES,
		func(c harness.FaultCall) bool { return c.Driver == "victim" }))
	require.NoError(t, w.Load("bystander", &testdriver.Driver{PortName: `\A`}))
	require.ErrorIs(t, w.Load("victim", &testdriver.Driver{PortName: `\B`}), kernel.HRESULT(0x800705AA))
	require.Equal(t, "victim", w.Faults().Injected()[0].Driver)
	require.Equal(t, 2, w.Faults().Injected()[0].N, "the second call of the routine since the rule")

	// Clear removes the rules.
	w.Faults().Clear()
	require.NoError(t, w.Load("victim", &testdriver.Driver{PortName: `\B`}))
}

// Bad input: unknown routine names are rejected with the list of valid ones; so are n < 1, a
// share outside [0, 1], STATUS_SUCCESS and nil predicates or processes.
func TestFaultBadInput(t *testing.T) {
	w := harness.New(t)
	f := w.Faults()
	err := f.FailNth("FltSendMesage", 1, kernel.STATUS_INSUFFICIENT_RESOURCES)
	require.EqualError(t, err, `harness: FailNth: unknown routine "FltSendMesage"; valid routines: FltRegisterFilter, `+
		`FltStartFiltering, FltCreateCommunicationPort, FltSendMessage, FilterConnectCommunicationPort, `+
		`FilterGetMessage, FilterReplyMessage, FilterSendMessage`)
	require.ErrorContains(t, f.FailRandom("nope", 0.5, kernel.STATUS_INSUFFICIENT_RESOURCES), `FailRandom: unknown routine "nope"; valid routines: FltRegisterFilter`)
	require.ErrorContains(t, f.FailIf("", kernel.STATUS_INSUFFICIENT_RESOURCES, func(harness.FaultCall) bool { return true }), `unknown routine ""`)
	require.ErrorContains(t, f.FailNth(fltmgr.RoutineSendMessage, 0, kernel.STATUS_INSUFFICIENT_RESOURCES), "n counts from 1")
	require.ErrorContains(t, f.FailRandom(fltmgr.RoutineSendMessage, 1.5, kernel.STATUS_INSUFFICIENT_RESOURCES), "between 0 and 1")
	require.ErrorContains(t, f.FailRandom(fltmgr.RoutineSendMessage, -0.1, kernel.STATUS_INSUFFICIENT_RESOURCES), "between 0 and 1")
	require.ErrorContains(t, f.FailNth(fltmgr.RoutineSendMessage, 1, kernel.STATUS_SUCCESS), "STATUS_SUCCESS is not a fault")
	require.ErrorContains(t, f.FailIf(fltmgr.RoutineSendMessage, kernel.STATUS_INSUFFICIENT_RESOURCES, nil), "nil predicate")
	require.ErrorContains(t, f.KillAt(nil, func(kernel.TraceEvent) bool { return true }), "nil")
	require.ErrorContains(t, f.KillAt(harness.NewWorld().NewProcess("x.exe", kernel.TokenAdmin()), func(kernel.TraceEvent) bool { return true }), "another world")
	require.ErrorContains(t, f.KillAt(w.NewProcess("x.exe", kernel.TokenAdmin()), nil), "nil predicate")
	require.False(t, f.Used(), "nothing was configured")
	require.Equal(t, harness.FaultRoutines()[:5], fltmgr.Routines())
}

// KillAt: the service is killed right after it receives message 2. The driver's send of
// message 2 ends with PORT_DISCONNECTED, DisconnectNotify runs, and the trace shows the kill.
func TestFaultKillAfterReceivingMessageK(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("drv", d))
		svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := labConnect(t, svc, `\TestPort`, nil)
		require.NoError(t, w.Faults().KillAt(svc, harness.Received(svc, 2)))

		// The service: receive, reply, until its handle is gone.
		go func() {
			buf := make([]byte, 64)
			for svc.FilterGetMessage(h, buf, nil) == kernel.S_OK {
				hdr, _ := driverapi.ParseFilterMessageHeader(buf)
				svc.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte("ok")))
			}
		}()
		var sts []kernel.NTSTATUS
		for i := 0; i < 3; i++ {
			st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), make([]byte, 4), nil)
			sts = append(sts, st)
		}
		require.Equal(t, []kernel.NTSTATUS{kernel.STATUS_SUCCESS, kernel.STATUS_PORT_DISCONNECTED, kernel.STATUS_PORT_DISCONNECTED}, sts)
		require.True(t, svc.Kernel().Exited())
		require.Equal(t, harness.KilledExitCode, svc.Kernel().ExitCode())
		require.Equal(t, int32(1), d.Disconnects.Load())

		ev := w.Trace().Filter(kernel.EvFaultInjected)
		require.Len(t, ev, 1)
		require.Equal(t, "svc.exe (pid 8)", ev[0].Process)
		require.Equal(t, uint64(2), ev[0].MsgID)
		require.Contains(t, ev[0].Detail, "killing the process at event")
		require.Contains(t, ev[0].Detail, "(message-delivered)")
		// In order: message 2 delivered, the kill, the disconnect, the process exit, the
		// abandoned send.
		var kinds []kernel.EventKind
		for _, e := range w.Trace().Events() {
			if e.Seq > ev[0].Seq-2 && e.Kind != kernel.EvMessageSent {
				kinds = append(kinds, e.Kind)
			}
		}
		require.Equal(t, kernel.EvMessageDelivered, kinds[0])
		require.Equal(t, kernel.EvFaultInjected, kinds[1])
		require.Contains(t, kinds, kernel.EvProcessExited)
		require.Contains(t, kinds, kernel.EvMessageAbandoned)
		require.True(t, w.Faults().Used())
	})
}

// KillAt on a generic event: the process dies when the driver's server port closes.
func TestFaultKillAtEventOfKind(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("drv", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	labConnect(t, p, `\TestPort`, nil)
	require.NoError(t, w.Faults().KillAt(p, harness.At(kernel.EvPortClosed, nil, 1)))
	d.FM.CloseCommunicationPort(d.Server)
	d.Server = nil
	require.True(t, p.Kernel().Exited())
	require.Equal(t, int32(1), d.Disconnects.Load())
}

// The seed: WithSeed, else FLTEMU_SEED, else derived from the test name (New) or 1
// (NewWorld). A failing test that injected faults prints it.
func TestFaultSeed(t *testing.T) {
	t.Setenv(harness.SeedEnv, "")
	require.Equal(t, int64(1), harness.NewWorld().Faults().Seed())
	require.Equal(t, int64(7), harness.NewWorld(harness.WithSeed(7)).Faults().Seed())

	ft := &labTB{TB: t, name: "TestSomething"}
	derived := harness.New(ft).Faults().Seed()
	ft.finish()
	ft = &labTB{TB: t, name: "TestSomething"}
	require.Equal(t, derived, harness.New(ft).Faults().Seed(), "the same test gets the same seed")
	ft.finish()
	ft = &labTB{TB: t, name: "TestOther"}
	require.NotEqual(t, derived, harness.New(ft).Faults().Seed())
	ft.finish()

	t.Setenv(harness.SeedEnv, "1234")
	require.Equal(t, int64(1234), harness.NewWorld().Faults().Seed())
	require.Equal(t, int64(7), harness.NewWorld(harness.WithSeed(7)).Faults().Seed(), "an explicit seed wins")

	// Printed when the test fails, with how to re-run it.
	ft = &labTB{TB: t, name: "TestSomething"}
	w := harness.New(ft)
	require.NoError(t, w.Faults().FailRandom(fltmgr.RoutineSendMessage, 0.5, kernel.STATUS_INSUFFICIENT_RESOURCES))
	ft.Errorf("boom")
	ft.finish()
	logs := strings.Join(ft.logs, "\n")
	require.Contains(t, logs, "fault injection seed 1234 (from FLTEMU_SEED); re-run with FLTEMU_SEED=1234 go test -run '^TestSomething$'")

	t.Setenv(harness.SeedEnv, "twelve")
	require.PanicsWithValue(t, `harness: FLTEMU_SEED="twelve" is not an integer`, func() { harness.NewWorld() })
	ft = &labTB{TB: t}
	harness.New(ft)
	require.Equal(t, []string{`harness: FLTEMU_SEED="twelve" is not an integer`}, ft.errs)
	ft.finish()
}

// KillAt from inside FilterGetMessage: the sender waits first, the process's Get takes the
// message and the process dies on that goroutine, before it can reply.
func TestFaultKillInsideGet(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("drv", d))
		svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h := labConnect(t, svc, `\TestPort`, nil)
		require.NoError(t, w.Faults().KillAt(svc, harness.Received(svc, 1)))
		done := make(chan kernel.NTSTATUS, 1)
		go func() {
			st, _ := d.Send(context.Background(), d.Conn(0), []byte("m"), make([]byte, 4), nil)
			done <- st
		}()
		synctest.Wait()
		buf := make([]byte, 64)
		// The message was copied, then the process was killed: the call returns to a dead
		// process, which can no longer reply.
		require.Equal(t, kernel.S_OK, svc.FilterGetMessage(h, buf, nil))
		require.True(t, svc.Kernel().Exited())
		require.Equal(t, kernel.E_HANDLE, svc.FilterReplyMessage(h, driverapi.NewFilterReply(0, 1, nil)), "the handle is gone")
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, <-done)
		require.Equal(t, int32(1), d.Disconnects.Load())
	})
}

// A FilterGetMessage issued through a Thread with an OVERLAPPED is one call: it is counted
// once by the fault plan (the second call is the one that fails), and a fault fails it with
// the status's HRESULT before anything is queued.
func TestFaultThreadOverlappedGetCountsOnce(t *testing.T) {
	w, _ := load(t, nil)
	p := adminProc(w, "svc.exe")
	h := connect(t, p)
	require.NoError(t, w.Faults().FailNth(harness.RoutineFilterGetMessage, 2, kernel.STATUS_INSUFFICIENT_RESOURCES))
	th := p.NewThread()
	first := &fltlib.Overlapped{}
	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), th.FilterGetMessage(h, make([]byte, 64), first))
	require.Equal(t, kernel.HRESULT(0x800705AA), th.FilterGetMessage(h, make([]byte, 64), &fltlib.Overlapped{}))
	require.NoError(t, p.CancelIoEx(h, nil))
	_, err := p.GetOverlappedResult(h, first, true)
	require.ErrorIs(t, err, kernel.ERROR_OPERATION_ABORTED)
	require.NoError(t, p.CloseHandle(h))
}
