package harness_test

// Tests of the verifier (docs/rules.md §7, R-VERIFY-1…6), of violation expectations, and of the
// end-of-test leftover checks. Each R-VERIFY test loads a deliberately buggy driver and checks
// the report: rule, driver, object (port name, connection id) and what Windows would do.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// labTB is a testing.TB that records what the harness reports instead of failing the test.
type labTB struct {
	testing.TB
	name     string
	errs     []string
	logs     []string
	cleanups []func()
}

func (f *labTB) Name() string {
	if f.name != "" {
		return f.name
	}
	return f.TB.Name()
}
func (f *labTB) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }
func (f *labTB) Error(args ...any)              { f.errs = append(f.errs, fmt.Sprint(args...)) }
func (f *labTB) Errorf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *labTB) Fatalf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *labTB) Failed() bool                   { return len(f.errs) > 0 }
func (f *labTB) Helper()                        {}
func (f *labTB) Logf(format string, a ...any)   { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *labTB) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

// labOne closes w and returns its only violation, failing if there is not exactly one, or if
// the teardown reported anything else.
func labOne(t *testing.T, w *harness.World, rule kernel.RuleID) kernel.Violation {
	t.Helper()
	w.ExpectViolation(rule)
	require.NoError(t, w.Close())
	vs := w.Violations()
	require.Len(t, vs, 1, "violations: %v", vs)
	require.Equal(t, rule, vs[0].Rule)
	// The trace records it too, with the rule as status.
	ev := w.Trace().Filter(kernel.EvViolation)
	require.Len(t, ev, 1)
	require.Equal(t, string(rule), ev[0].Status)
	require.Equal(t, vs[0].Error(), ev[0].Detail)
	return vs[0]
}

// R-VERIFY-1, R-UNLOAD-6: FltUnregisterFilter with the server port still open hangs forever on
// Windows; the emulator reports it, closes the port itself and goes on.
func TestVerifyUnregisterWithOpenServerPort(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{UnregisterOnly: true}
	require.NoError(t, w.Load("buggy", d))
	require.NoError(t, w.Unload("buggy"), "the unload completes instead of hanging")
	// The emulator closed the port: the name is free again.
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND), hr)

	v := labOne(t, w, kernel.RuleVerify1)
	require.Equal(t, "buggy", v.Driver)
	require.Equal(t, `server port "\TestPort"`, v.Object)
	require.Contains(t, v.Message, "FltUnregisterFilter")
	require.Equal(t, "FltUnregisterFilter hangs forever", v.Windows)
	require.Equal(t, `verifier R-VERIFY-1: driver "buggy", server port "\TestPort": `+v.Message+
		" (on Windows: FltUnregisterFilter hangs forever; see docs/rules.md#r-verify-1)", v.Error())
}

// R-VERIFY-1 reported during teardown: a test that never unloads still learns about the bug,
// because the harness's mandatory unload runs the driver's FilterUnload.
func TestVerifyUnregisterWithOpenServerPortAtTeardown(t *testing.T) {
	ft := &labTB{TB: t}
	w := harness.New(ft)
	require.NoError(t, w.Load("buggy", &testdriver.Driver{UnregisterOnly: true}))
	ft.finish()
	require.Len(t, ft.errs, 1)
	require.Contains(t, ft.errs[0], `verifier R-VERIFY-1: driver "buggy", server port "\TestPort"`)
	require.Contains(t, ft.errs[0], "(on Windows: FltUnregisterFilter hangs forever; see docs/rules.md#r-verify-1)")
	logs := strings.Join(ft.logs, "\n")
	require.Contains(t, logs, "trace of the failed test", "a failed test shows its trace")
	require.Contains(t, logs, "violation")
	require.NotContains(t, logs, "fault injection seed", "no faults were injected")
}

// R-VERIFY-2, R-CLOSECLI-3: DisconnectNotify returned without FltCloseClientPort; the slot
// stays taken (the next connect is refused) until unload, where the verifier reports the leak.
func TestVerifyDisconnectNotifyWithoutCloseClientPort(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{KeepClientPort: true, MaxConnections: 1}
	require.NoError(t, w.Load("leaky", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := labConnect(t, p, `\TestPort`, nil)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, int32(1), d.Disconnects.Load())
	_, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT), hr, "the leaked slot")
	require.NoError(t, w.Unload("leaky"))

	v := labOne(t, w, kernel.RuleVerify2)
	require.Equal(t, "leaky", v.Driver)
	require.Equal(t, `connection 1 on port "\TestPort" (svc.exe (pid 8))`, v.Object)
	require.Contains(t, v.Message, "without FltCloseClientPort")
	require.Contains(t, v.Windows, "slot")
	require.Contains(t, v.Windows, "leak")
}

// R-VERIFY-2 for a connection still open at unload: DisconnectNotify runs at unload, and the
// driver does not close the client port there either.
func TestVerifyClientPortLeakedAtUnload(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{KeepClientPort: true, MaxConnections: 2}
	require.NoError(t, w.Load("leaky", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	labConnect(t, p, `\TestPort`, nil)
	labConnect(t, p, `\TestPort`, nil)
	require.NoError(t, w.Stop("leaky"))
	p.Exit(0)
	w.ExpectViolation(kernel.RuleVerify2).Containing("connection 1 ").Times(1)
	w.ExpectViolation(kernel.RuleVerify2).Containing("connection 2 ").Times(1)
	require.NoError(t, w.Close())
	require.Equal(t, int32(2), d.Disconnects.Load(), "DisconnectNotify ran once per connection")
}

// R-VERIFY-3: FilterUnload returned success without calling FltUnregisterFilter.
func TestVerifyUnloadSuccessWithoutUnregister(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		d.FM.CloseCommunicationPort(d.Server)
		return kernel.STATUS_SUCCESS // forgot FltUnregisterFilter
	}}
	require.NoError(t, w.Load("forgetful", d))
	require.NoError(t, w.Unload("forgetful"))
	require.False(t, w.FilterManager().Loaded("forgetful"))

	v := labOne(t, w, kernel.RuleVerify3)
	require.Equal(t, "forgetful", v.Driver)
	require.Equal(t, "filter", v.Object)
	require.Contains(t, v.Message, "without calling FltUnregisterFilter")
	require.Contains(t, v.Windows, "bugcheck")
}

// R-VERIFY-3: FilterUnload refused (FLT_DO_NOT_DETACH) after it had unregistered.
func TestVerifyUnloadRefusedAfterUnregister(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		d.DefaultUnload()
		return kernel.STATUS_FLT_DO_NOT_DETACH
	}}
	require.NoError(t, w.Load("fickle", d))
	require.ErrorIs(t, w.Unload("fickle"), kernel.ERROR_FLT_DO_NOT_DETACH)

	v := labOne(t, w, kernel.RuleVerify3)
	require.Equal(t, "fickle", v.Driver)
	require.Contains(t, v.Message, "refused the unload with STATUS_FLT_DO_NOT_DETACH (0xC01C0010) after calling FltUnregisterFilter")
	require.Contains(t, v.Windows, "bugcheck")
}

// R-VERIFY-4: FltCloseCommunicationPort twice on the same server port.
func TestVerifyDoubleCloseServerPort(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
		d.FM.CloseCommunicationPort(d.Server)
		d.FM.CloseCommunicationPort(d.Server) // the bug
		d.FM.UnregisterFilter(d.Filter)
		return kernel.STATUS_SUCCESS
	}}
	require.NoError(t, w.Load("twice", d))
	require.NoError(t, w.Unload("twice"))

	v := labOne(t, w, kernel.RuleVerify4)
	require.Equal(t, "twice", v.Driver)
	require.Equal(t, `server port "\TestPort"`, v.Object)
	require.Contains(t, v.Message, "already closed")
	require.Contains(t, v.Windows, "bugcheck")
}

// R-VERIFY-4: a client port used after FltCloseClientPort, through a copy the driver kept.
func TestVerifyClientPortUsedAfterClose(t *testing.T) {
	w := harness.NewWorld()
	var stale driverapi.ClientPort
	d := &testdriver.Driver{OnConnect: func(_ context.Context, c *testdriver.Conn, _ []byte) kernel.NTSTATUS {
		stale.Store(c.Port.Load()) // a second copy of the pointer: the bug
		return kernel.STATUS_SUCCESS
	}}
	require.NoError(t, w.Load("stale", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := labConnect(t, p, `\TestPort`, nil)
	c := d.Conn(0)
	d.FM.CloseClientPort(d.Filter, &c.Port)
	st := d.FM.SendMessage(context.Background(), d.Filter, &stale, []byte("x"), nil, nil, nil)
	require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, st)
	require.NoError(t, p.CloseHandle(h))

	v := labOne(t, w, kernel.RuleVerify4)
	require.Equal(t, "stale", v.Driver)
	require.Equal(t, `connection 1 to "\TestPort" from svc.exe (pid 8)`, v.Object)
	require.Contains(t, v.Message, "already closed")
	require.Contains(t, v.Windows, "use after free")
}

// R-VERIFY-5: argument combinations that would crash Windows.
func TestVerifyBadSendArguments(t *testing.T) {
	conn := `FltSendMessage on connection 1 to "\TestPort" from svc.exe (pid 8)`
	cases := []struct {
		name     string
		reply    []byte
		length   *uint32
		object   string
		message  string
		wantCall kernel.NTSTATUS
	}{
		{"reply buffer without a length", make([]byte, 8), nil, conn, "reply buffer of 8 bytes with reply length nil", kernel.STATUS_INVALID_PARAMETER},
		{"length larger than the buffer", make([]byte, 8), ptr(uint32(64)), conn, "reply buffer of 8 bytes with reply length 64", kernel.STATUS_INVALID_PARAMETER},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := harness.NewWorld()
			d := &testdriver.Driver{}
			require.NoError(t, w.Load("careless", d))
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			h := labConnect(t, p, `\TestPort`, nil)
			st := d.FM.SendMessage(context.Background(), d.Filter, &d.Conn(0).Port, []byte("x"), tc.reply, tc.length, nil)
			require.Equal(t, tc.wantCall, st)
			require.NoError(t, p.CloseHandle(h))
			v := labOne(t, w, kernel.RuleVerify5)
			require.Equal(t, "careless", v.Driver)
			require.Equal(t, tc.object, v.Object)
			require.Equal(t, tc.message, v.Message)
			require.Contains(t, v.Windows, "bugcheck")
		})
	}
}

func ptr[T any](v T) *T { return &v }

// R-VERIFY-5: MessageNotify claims more output bytes than the user's buffer holds; the user
// gets the count clamped to its buffer.
func TestVerifyMessageNotifyOverstatesOutput(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{OnMessage: func(_ context.Context, _ *testdriver.Conn, _, out []byte) (uint32, kernel.NTSTATUS) {
		return uint32(len(out)) + 100, kernel.STATUS_SUCCESS
	}}
	require.NoError(t, w.Load("boastful", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := labConnect(t, p, `\TestPort`, nil)
	var n uint32
	require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("q"), make([]byte, 16), &n))
	require.Equal(t, uint32(16), n)
	require.NoError(t, p.CloseHandle(h))

	v := labOne(t, w, kernel.RuleVerify5)
	require.Equal(t, "boastful", v.Driver)
	require.Equal(t, `connection 1 to "\TestPort" from svc.exe (pid 8)`, v.Object)
	require.Equal(t, "MessageNotify reported 116 output bytes for a 16-byte buffer", v.Message)
	require.Contains(t, v.Windows, "reads past its buffer")
}

// R-VERIFY-5: FltCloseClientPort with a nil pointer.
func TestVerifyCloseClientPortNilPointer(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("sloppy", d))
	d.FM.CloseClientPort(d.Filter, nil)
	v := labOne(t, w, kernel.RuleVerify5)
	require.Equal(t, "sloppy", v.Driver)
	require.Equal(t, "FltCloseClientPort", v.Object)
	require.Equal(t, "a bugcheck", v.Windows)
}

// R-VERIFY-6, R-CB-1: a driver that keeps the ConnectNotify context slice reads 0xDB garbage
// afterwards, as it would read freed pool on Windows; the emulator sees the slice in the
// connection cookie and reports it.
func TestVerifyConnectContextKeptPastTheCall(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{KeepContext: true}
	require.NoError(t, w.Load("hoarder", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	ctx := []byte("secret!!")
	h := labConnect(t, p, `\TestPort`, ctx)
	c := d.Conn(0)
	require.Equal(t, []byte("secret!!"), c.Context, "the copy made during the call is good")
	require.Equal(t, []byte{0xDB, 0xDB, 0xDB, 0xDB, 0xDB, 0xDB, 0xDB, 0xDB}, c.KeptContext, "the kept slice is garbage")
	require.Equal(t, []byte("secret!!"), ctx, "the user's buffer is untouched")
	require.NoError(t, p.CloseHandle(h))

	v := labOne(t, w, kernel.RuleVerify6)
	require.Equal(t, "hoarder", v.Driver)
	require.Equal(t, `connection 1 to "\TestPort" from svc.exe (pid 8)`, v.Object)
	require.Equal(t, "ConnectNotify kept the connection context past the call (in *testdriver.Conn.KeptContext); the emulator overwrote it with 0xDB bytes", v.Message)
	require.Contains(t, v.Windows, "freed")
}

// R-VERIFY-6: a context kept outside the connection cookie is not detected, but the driver
// reads the 0xDB scribble: a test asserting on what the driver saw fails, which is the point.
func TestVerifyConnectContextKeptElsewhereReadsGarbage(t *testing.T) {
	w := harness.NewWorld()
	var kept []byte
	d := &testdriver.Driver{OnConnect: func(_ context.Context, _ *testdriver.Conn, ctx []byte) kernel.NTSTATUS {
		kept = ctx // kept in a variable of the driver's, not in the cookie
		return kernel.STATUS_SUCCESS
	}}
	require.NoError(t, w.Load("hoarder", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h := labConnect(t, p, `\TestPort`, []byte{1, 2, 3})
	require.Equal(t, []byte{0xDB, 0xDB, 0xDB}, kept)
	require.NoError(t, p.CloseHandle(h))
	require.NoError(t, w.Close())
	require.Empty(t, w.Violations())
}

// A context copied into the cookie is correct and not reported; neither is an empty context.
func TestVerifyConnectContextCopiedIsFine(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{MaxConnections: 2}
	require.NoError(t, w.Load("good", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h1 := labConnect(t, p, `\TestPort`, []byte("ctx"))
	defer p.CloseHandle(h1)
	h2 := labConnect(t, p, `\TestPort`, nil)
	defer p.CloseHandle(h2)
	require.Equal(t, []byte("ctx"), d.Conn(0).Context)
}

// An expectation that does not happen fails the test (bad input of the verifier's API).
func TestExpectedViolationThatDoesNotHappen(t *testing.T) {
	w := harness.NewWorld()
	require.NoError(t, w.Load("good", &testdriver.Driver{}))
	w.ExpectViolation(kernel.RuleVerify1)
	err := w.Close()
	require.EqualError(t, err, "harness: world teardown:\n\texpected a verifier report of R-VERIFY-1, none came")

	// Through New: the test fails at cleanup.
	ft := &labTB{TB: t}
	w = harness.New(ft)
	w.ExpectViolation(kernel.RuleVerify2).Containing(`"\TestPort"`)
	ft.finish()
	require.Equal(t, []string{"harness: world teardown:\n\texpected a verifier report of R-VERIFY-2 containing [\"\\\"\\TestPort\\\"\"], none came"}, ft.errs)
}

// An unexpected violation fails the test; an expectation narrowed with Containing does not
// swallow reports about other objects; Times makes the count exact.
func TestExpectationMatching(t *testing.T) {
	newLeaky := func() *harness.World {
		w := harness.NewWorld()
		require.NoError(t, w.Load("leaky", &testdriver.Driver{KeepClientPort: true, MaxConnections: 2}))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		labConnect(t, p, `\TestPort`, nil)
		labConnect(t, p, `\TestPort`, nil)
		p.AllowOpenHandles() // the connections must live until the teardown's unload
		return w             // two R-VERIFY-2 reports come at teardown
	}

	w := newLeaky()
	err := w.Close()
	require.Error(t, err)
	require.Contains(t, err.Error(), `verifier R-VERIFY-2: driver "leaky", connection 1 on port`)
	require.Contains(t, err.Error(), `verifier R-VERIFY-2: driver "leaky", connection 2 on port`)

	w = newLeaky()
	w.ExpectViolation(kernel.RuleVerify2).Containing("connection 2 ")
	err = w.Close()
	require.Error(t, err)
	require.Contains(t, err.Error(), "connection 1 on port", "not covered by the expectation")
	require.NotContains(t, err.Error(), "connection 2 on port")

	w = newLeaky()
	w.ExpectViolation(kernel.RuleVerify2).Times(1)
	err = w.Close()
	require.Error(t, err)
	require.Contains(t, err.Error(), "connection 2 on port", "the second report is one too many")
	require.Contains(t, err.Error(), "one more verifier report of R-VERIFY-2 than the 1 expected (Times(1))")

	w = newLeaky()
	w.ExpectViolation(kernel.RuleVerify2).Times(3)
	err = w.Close()
	require.EqualError(t, err, "harness: world teardown:\n\texpected 3 verifier report(s) of R-VERIFY-2, got 2")

	// A broad expectation does not starve a narrow one.
	w = newLeaky()
	w.ExpectViolation(kernel.RuleVerify2)
	w.ExpectViolation(kernel.RuleVerify2).Containing("connection 1 ")
	require.NoError(t, w.Close())

	require.Panics(t, func() { harness.NewWorld().ExpectViolation("") })
	require.Panics(t, func() { harness.NewWorld().ExpectViolation(kernel.RuleVerify1).Times(0) })
}

// A test may assert on the violations itself and take them, so that the end-of-test check
// does not report them again.
func TestTakeViolations(t *testing.T) {
	w := harness.New(t)
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("sloppy", d))
	d.FM.CloseClientPort(d.Filter, nil)
	d.FM.CloseClientPort(d.Filter, nil)
	vs := w.TakeViolations()
	require.Len(t, vs, 2)
	for _, v := range vs {
		require.Equal(t, kernel.RuleVerify5, v.Rule)
		require.Equal(t, "sloppy", v.Driver)
	}
	require.Empty(t, w.Violations())
	require.Len(t, w.Trace().Filter(kernel.EvViolation), 2, "the trace keeps them")
}

// The leftovers of a live world, each with its owner: what a teardown has to clean up.
func TestLeftoversListEachKindWithOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.New(t)
		d := &testdriver.Driver{MaxConnections: 3}
		require.NoError(t, w.Load("drv", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		hGet := labConnect(t, p, `\TestPort`, nil)
		labConnect(t, p, `\TestPort`, nil)
		hWait := labConnect(t, p, `\TestPort`, nil)
		port, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		require.NoError(t, p.PostQueuedCompletionStatus(port, 1, 7, nil))

		// Connection 1: a pending Get. Connection 2: a blocked sender. Connection 3: a reply
		// waiter (its message was delivered, nobody replied).
		buf := make([]byte, 64)
		ov1 := &fltlib.Overlapped{}
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(hGet, buf, ov1))
		done := make(chan kernel.NTSTATUS, 2)
		go func() { st, _ := d.Send(context.Background(), d.Conn(1), []byte("m"), nil, nil); done <- st }()
		go func() {
			st, _ := d.Send(context.Background(), d.Conn(2), []byte("m"), make([]byte, 4), nil)
			done <- st
		}()
		synctest.Wait()
		ov3 := &fltlib.Overlapped{}
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(hWait, make([]byte, 64), ov3))
		synctest.Wait()

		var got []string
		for _, l := range w.Leftovers() {
			got = append(got, l.String())
		}
		require.ElementsMatch(t, []string{
			"svc.exe (pid 8): handle 0x80004 to FilterConnectionPort \"\\TestPort\" still open",
			"svc.exe (pid 8): handle 0x80008 to FilterConnectionPort \"\\TestPort\" still open",
			"svc.exe (pid 8): handle 0x8000c to FilterConnectionPort \"\\TestPort\" still open",
			"svc.exe (pid 8): handle 0x80010 to IoCompletion still open",
			"svc.exe (pid 8) (handle 0x80010): 1 completion packet(s) queued in an I/O completion port and never dequeued",
			`driver "drv": server port "\TestPort" still open`,
			`driver "drv": client port of connection 1 (svc.exe (pid 8)) not closed`,
			`driver "drv": client port of connection 2 (svc.exe (pid 8)) not closed`,
			`driver "drv": client port of connection 3 (svc.exe (pid 8)) not closed`,
			"svc.exe (pid 8): 1 pending Get(s) on connection 1",
			`driver "drv": 1 blocked sender(s) on connection 2`,
			`driver "drv": 1 reply waiter(s) on connection 3`,
		}, got)

		// Drain the packet; the teardown ends the rest cleanly.
		_, key, _, err := p.GetQueuedCompletionStatus(port, 0)
		require.NoError(t, err)
		require.Equal(t, uintptr(7), key)
		p.Exit(0)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, <-done)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, <-done)
	})
}

// A completion packet still queued when the test ends is a completion the program never saw:
// reported with the process holding the port. Decision: checked before teardown, since
// process exit closes the port and drops its packets.
func TestTeardownReportsQueuedCompletionPackets(t *testing.T) {
	w := harness.NewWorld()
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	port, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
	require.NoError(t, err)
	child, err := p.Spawn("worker.exe", false)
	require.NoError(t, err)
	dup, err := p.DuplicateHandle(port, child, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.NoError(t, err)
	require.NoError(t, p.PostQueuedCompletionStatus(port, 0, 1, nil))
	require.NoError(t, p.PostQueuedCompletionStatus(port, 0, 2, nil))
	// The port is left to the teardown on purpose: its packets are what the check reports.
	p.AllowOpenHandles()
	child.AllowOpenHandles()
	err = w.Close()
	require.EqualError(t, err, fmt.Sprintf("harness: world teardown:\n\tleftover at teardown: svc.exe (pid 8) (handle %#x), "+
		"worker.exe (pid 12) (handle %#x): 2 completion packet(s) queued in an I/O completion port and never dequeued", uintptr(port), uintptr(dup)))
	require.Empty(t, w.Leftovers(), "the process exits closed the port")
}

// What survives the teardown is reported with its owner: here a driver whose unload callback
// loads another driver, which a process started during the teardown uses. Every kind of
// leftover the end-of-test check knows is present: user handles, a server port, connections
// (client ports), a pending Get, a blocked sender and a reply waiter.
func TestTeardownReportsWhatSurvivesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.NewWorld()
		late := &testdriver.Driver{PortName: `\LatePort`, MaxConnections: 3}
		done := make(chan kernel.NTSTATUS, 2)
		first := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			require.NoError(t, w.Load("late", late))
			p := w.NewProcess("late.exe", kernel.TokenAdmin())
			h1 := labConnect(t, p, `\LatePort`, nil)
			labConnect(t, p, `\LatePort`, nil)
			h3 := labConnect(t, p, `\LatePort`, nil)
			require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(h1, make([]byte, 64), &fltlib.Overlapped{}))
			go func() { st, _ := late.Send(context.Background(), late.Conn(1), []byte("m"), nil, nil); done <- st }()
			go func() {
				st, _ := late.Send(context.Background(), late.Conn(2), []byte("m"), make([]byte, 4), nil)
				done <- st
			}()
			synctest.Wait()
			require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), p.FilterGetMessage(h3, make([]byte, 64), &fltlib.Overlapped{}))
			synctest.Wait()
			return d.DefaultUnload()
		}}
		require.NoError(t, w.Load("first", first))

		err := w.Close()
		require.Error(t, err)
		lines := strings.Split(err.Error(), "\n\t")
		require.Equal(t, "harness: world teardown:", lines[0])
		require.ElementsMatch(t, []string{
			`leftover after teardown: late.exe (pid 8): handle 0x80004 to FilterConnectionPort "\LatePort" still open`,
			`leftover after teardown: late.exe (pid 8): handle 0x80008 to FilterConnectionPort "\LatePort" still open`,
			`leftover after teardown: late.exe (pid 8): handle 0x8000c to FilterConnectionPort "\LatePort" still open`,
			`leftover after teardown: driver "late": server port "\LatePort" still open`,
			`leftover after teardown: driver "late": client port of connection 1 (late.exe (pid 8)) not closed`,
			`leftover after teardown: driver "late": client port of connection 2 (late.exe (pid 8)) not closed`,
			`leftover after teardown: driver "late": client port of connection 3 (late.exe (pid 8)) not closed`,
			`leftover after teardown: late.exe (pid 8): 1 pending Get(s) on connection 1`,
			`leftover after teardown: driver "late": 1 blocked sender(s) on connection 2`,
			`leftover after teardown: driver "late": 1 reply waiter(s) on connection 3`,
		}, lines[1:])

		// Close made the stray process exit: its connections ended and the senders returned.
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, <-done)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, <-done)
		w.FilterManager().Shutdown()
		require.Empty(t, w.Leftovers())
	})
}

// A process started behind the harness's back (directly in the kernel world) is not made to
// exit by the teardown: its handles are reported, then it is ended.
func TestTeardownReportsHandlesOfForeignProcesses(t *testing.T) {
	w := harness.NewWorld()
	kp, st := w.Kernel().CreateProcess("rogue.exe", kernel.TokenAdmin(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	h, st := kp.InsertHandle(kernel.NewObject(harness.TypeIoCompletion, "", kernel.NewCompletionPort(), nil), 0x1F0003, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	err := w.Close()
	require.EqualError(t, err, fmt.Sprintf("harness: world teardown:\n\tleftover after teardown: rogue.exe (pid 8): handle %#x to IoCompletion still open", uintptr(h)))
	require.True(t, kp.Exited())
	require.Empty(t, w.Leftovers())
}

// A clean world closes without error, and twice is harmless.
func TestCloseCleanWorld(t *testing.T) {
	w := harness.NewWorld()
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("good", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	labConnect(t, p, `\TestPort`, nil) // closed by the process exit at teardown
	p.AllowOpenHandles()
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	require.Equal(t, int32(1), d.Disconnects.Load())
	require.Empty(t, w.Leftovers())
}

// A handle the test leaves open in a process it did not exit fails the test, with the
// handle, its process and its object; the process exit at teardown does not hide it. A test
// that means it says so: per process, or for the whole world. A process the test exited, or
// a handle it closed, is not reported.
func TestLeakedUserHandleFailsTheTest(t *testing.T) {
	hint := "(close the handles, or Exit the process; a test that means to leave them open says so with World.AllowOpenHandles or Process.AllowOpenHandles)"
	// With a connection handle among them, the one way a closed one can still be open.
	connHint := "(if a fltlib.Conn you closed owns a connection handle here: the Conn closes it when its last call still inside the kernel returns; wait for the goroutine making that call before the teardown)"
	run := func(body func(w *harness.World, svc, tray *harness.Process)) []string {
		ft := &labTB{TB: t}
		w := harness.New(ft)
		d := &testdriver.Driver{MaxConnections: 4}
		require.NoError(t, w.Load("drv", d))
		svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
		tray := w.NewProcess("tray.exe", kernel.TokenAdmin())
		body(w, svc, tray)
		ft.finish()
		return ft.errs
	}

	errs := run(func(w *harness.World, svc, tray *harness.Process) {
		labConnect(t, svc, `\TestPort`, nil)
		port, err := tray.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		require.Equal(t, kernel.Handle(0xc0004), port)
	})
	require.Equal(t, []string{"harness: world teardown:\n" +
		"\tleftover at teardown: svc.exe (pid 8): handle 0x80004 to FilterConnectionPort \"\\TestPort\" still open\n" +
		"\tleftover at teardown: tray.exe (pid 12): handle 0xc0004 to IoCompletion still open\n" +
		"\t" + hint + "\n\t" + connHint}, errs)

	// Closed, exited, or allowed: nothing to report.
	require.Empty(t, run(func(w *harness.World, svc, tray *harness.Process) {
		require.NoError(t, svc.CloseHandle(labConnect(t, svc, `\TestPort`, nil)))
		labConnect(t, tray, `\TestPort`, nil)
		tray.Exit(0)
	}))
	require.Empty(t, run(func(w *harness.World, svc, tray *harness.Process) {
		labConnect(t, svc, `\TestPort`, nil)
		svc.AllowOpenHandles()
		h := labConnect(t, tray, `\TestPort`, nil)
		require.NoError(t, tray.CloseHandle(h))
	}))
	require.Empty(t, run(func(w *harness.World, svc, tray *harness.Process) {
		labConnect(t, svc, `\TestPort`, nil)
		labConnect(t, tray, `\TestPort`, nil)
		w.AllowOpenHandles()
	}))

	// Allowing one process does not allow the others.
	errs = run(func(w *harness.World, svc, tray *harness.Process) {
		labConnect(t, svc, `\TestPort`, nil)
		svc.AllowOpenHandles()
		labConnect(t, tray, `\TestPort`, nil)
	})
	require.Len(t, errs, 1)
	require.NotContains(t, errs[0], "svc.exe")
	require.Contains(t, errs[0], `tray.exe (pid 12): handle 0xc0004 to FilterConnectionPort "\TestPort" still open`)

	// The leaked handle is reported before the teardown closes it: the teardown still ran (the
	// connection ended, the driver unloaded) and nothing survived it.
	ft := &labTB{TB: t}
	w := harness.New(ft)
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("drv", d))
	labConnect(t, w.NewProcess("svc.exe", kernel.TokenAdmin()), `\TestPort`, nil)
	ft.finish()
	require.Len(t, ft.errs, 1)
	require.Equal(t, int32(1), d.Disconnects.Load())
	require.Empty(t, w.Leftovers())
}

// R-VERIFY-7: a ConnectNotify that closes its new client port and then fails: the
// filter manager closes the port again on Windows (a double close). The user gets the
// callback's status; the slot is freed once; DisconnectNotify is not called.
func TestVerifyCloseClientPortInFailingConnectNotify(t *testing.T) {
	var d *testdriver.Driver
	d = &testdriver.Driver{MaxConnections: 1, OnConnect: func(_ context.Context, c *testdriver.Conn, _ []byte) kernel.NTSTATUS {
		d.FM.CloseClientPort(d.Filter, &c.Port)
		return kernel.STATUS_ACCESS_DENIED
	}}
	w := harness.NewWorld()
	require.NoError(t, w.Load("twice", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.E_ACCESSDENIED, hr)
	// The one slot was freed once: a well-behaved connect now succeeds.
	d.OnConnect = nil
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, int32(1), d.Disconnects.Load())
	v := labOne(t, w, kernel.RuleVerify7)
	require.Equal(t, "twice", v.Driver)
	require.Equal(t, `connection 1 to "\TestPort" from svc.exe (pid 8)`, v.Object)
	require.Contains(t, v.Message, "ConnectNotify closed the client port and then failed with STATUS_ACCESS_DENIED")
	require.Contains(t, v.Windows, "double close")
}
