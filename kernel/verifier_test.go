package kernel_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func TestViolationError(t *testing.T) {
	v := kernel.Violation{Rule: kernel.RuleVerify1, Driver: "scanner", Object: `server port "\ScannerPort"`,
		Message: "FltUnregisterFilter with the port open", Windows: "FltUnregisterFilter hangs forever"}
	require.Equal(t, `verifier R-VERIFY-1: driver "scanner", server port "\ScannerPort": FltUnregisterFilter with the port open (on Windows: FltUnregisterFilter hangs forever; see docs/rules.md#r-verify-1)`, v.Error())
	// Without its own Windows text a violation takes its rule's from the table.
	require.Equal(t, `verifier R-VERIFY-5: driver "d", process svc.exe (pid 8): bad (on Windows: a bugcheck; see docs/rules.md#r-verify-5)`,
		kernel.Violation{Rule: kernel.RuleVerify5, Driver: "d", Process: "svc.exe (pid 8)", Message: "bad"}.Error())
	// A rule the table does not know still points at the rule book.
	require.Equal(t, `verifier R-X-1: driver "d": bad (see docs/rules.md#r-x-1)`, kernel.Violation{Rule: "R-X-1", Driver: "d", Message: "bad"}.Error())
}

// Every verifier rule has one table entry, with what Windows does, and a rule-book anchor
// that the rule book defines.
func TestRuleTable(t *testing.T) {
	seen := map[kernel.RuleID]bool{}
	for _, r := range kernel.Rules() {
		require.False(t, seen[r.ID], "rule %s twice", r.ID)
		seen[r.ID] = true
		require.NotEmpty(t, r.Breach, r.ID)
		require.NotEmpty(t, r.Windows, r.ID)
		got, ok := r.ID.Rule()
		require.True(t, ok)
		require.Equal(t, r, got)
		require.Equal(t, r.Windows, r.ID.Windows())
	}
	for _, id := range []kernel.RuleID{kernel.RuleVerify1, kernel.RuleVerify10, kernel.RuleReg2, kernel.RuleIOVerify1, kernel.RuleIOVerify10} {
		require.True(t, seen[id], id)
	}
	require.Equal(t, "docs/rules.md#r-io-verify-10", kernel.RuleIOVerify10.Doc())
	_, ok := kernel.RuleID("R-NOPE-1").Rule()
	require.False(t, ok)
	require.Empty(t, kernel.RuleID("R-NOPE-1").Windows())
}

// The verifier fills in the table's text for a report that does not give its own.
func TestReportFillsWindowsFromTable(t *testing.T) {
	w := kernel.New()
	w.Verifier().Report(kernel.Violation{Rule: kernel.RuleVerify1, Driver: "d", Message: "m"})
	require.Equal(t, "FltUnregisterFilter hangs forever", w.Verifier().Take()[0].Windows)
	w.Verifier().Report(kernel.Violation{Rule: kernel.RuleVerify1, Driver: "d", Message: "m", Windows: "own"})
	require.Equal(t, "own", w.Verifier().Take()[0].Windows)
}

func TestLeftoverString(t *testing.T) {
	for _, c := range []struct {
		l    kernel.Leftover
		want string
	}{
		{kernel.Leftover{Kind: kernel.LeftoverHandle, Process: "svc.exe (pid 8)", Object: `FilterConnectionPort "\P"`, Handle: 0x80004},
			`svc.exe (pid 8): handle 0x80004 to FilterConnectionPort "\P" still open`},
		{kernel.Leftover{Kind: kernel.LeftoverCompletionPackets, Process: "svc.exe (pid 8) (handle 0x8)", Count: 2},
			"svc.exe (pid 8) (handle 0x8): 2 completion packet(s) queued in an I/O completion port and never dequeued"},
		{kernel.Leftover{Kind: kernel.LeftoverServerPort, Driver: "d", Object: `\P`}, `driver "d": server port "\P" still open`},
		{kernel.Leftover{Kind: kernel.LeftoverClientPort, Driver: "d", Process: "svc.exe (pid 8)", Object: "connection 1"},
			`driver "d": client port of connection 1 (svc.exe (pid 8)) not closed`},
		{kernel.Leftover{Kind: kernel.LeftoverPendingGets, Process: "svc.exe (pid 8)", Object: "connection 1", Count: 3}, "svc.exe (pid 8): 3 pending Get(s) on connection 1"},
		{kernel.Leftover{Kind: kernel.LeftoverBlockedSenders, Driver: "d", Process: "svc.exe (pid 8)", Object: "connection 2", Count: 1}, `driver "d": 1 blocked sender(s) on connection 2`},
		{kernel.Leftover{Kind: kernel.LeftoverReplyWaiters, Driver: "d", Object: "connection 3", Count: 1}, `driver "d": 1 reply waiter(s) on connection 3`},
		{kernel.Leftover{Kind: kernel.LeftoverName, Object: `\X`}, `object namespace: name "\X" still present`},
	} {
		require.Equal(t, c.want, c.l.String())
	}
	require.Equal(t, "pending Gets", kernel.LeftoverPendingGets.String())
	require.Equal(t, "LeftoverKind(99)", kernel.LeftoverKind(99).String())
}

func TestVerifierReportTraceAndTake(t *testing.T) {
	w := kernel.New()
	v := w.Verifier()
	x := kernel.Violation{Rule: kernel.RuleVerify4, Driver: "d", Object: `server port "\P"`, Message: "double close", Windows: "a bugcheck"}
	var observed []kernel.TraceEvent
	w.Trace().Subscribe(func(e kernel.TraceEvent) { observed = append(observed, e) })
	v.Report(x)
	require.Equal(t, []kernel.Violation{x}, v.Violations())
	ev := w.Trace().Filter(kernel.EvViolation)
	require.Len(t, ev, 1)
	require.Equal(t, "R-VERIFY-4", ev[0].Status)
	require.Equal(t, "d", ev[0].Driver)
	require.Equal(t, x.Error(), ev[0].Detail)
	require.Len(t, observed, 1, "observers see violations as they happen")

	require.Equal(t, []kernel.Violation{x}, v.Take())
	require.Empty(t, v.Violations())
	require.Empty(t, v.Take())
	require.Len(t, w.Trace().Filter(kernel.EvViolation), 1, "the trace keeps the event")
}

// R-VERIFY-6: the detection of a connection cookie that keeps the context slice.
func TestRetainedSlice(t *testing.T) {
	type inner struct{ Buf []byte }
	type cookie struct {
		Name  string
		Copy  []byte
		Inner inner
		kept  []byte
		Ptr   *inner // not followed
	}
	ctx := make([]byte, 8)
	cp := append([]byte(nil), ctx...)

	_, found := kernel.RetainedSlice(&cookie{Copy: cp}, ctx)
	require.False(t, found, "a copy is fine")

	path, found := kernel.RetainedSlice(&cookie{kept: ctx[2:4]}, ctx)
	require.True(t, found, "a sub-slice shares the memory")
	require.Equal(t, "*kernel_test.cookie.kept", path)

	path, found = kernel.RetainedSlice(cookie{Inner: inner{Buf: ctx}}, ctx)
	require.True(t, found)
	require.Equal(t, "kernel_test.cookie.Inner.Buf", path)

	path, found = kernel.RetainedSlice(ctx, ctx)
	require.True(t, found, "the cookie is the context itself")
	require.Equal(t, "[]uint8", path)

	_, found = kernel.RetainedSlice(&cookie{Ptr: &inner{Buf: ctx}}, ctx)
	require.False(t, found, "pointers other than the root are not followed")

	_, found = kernel.RetainedSlice(nil, ctx)
	require.False(t, found)
	_, found = kernel.RetainedSlice((*cookie)(nil), ctx)
	require.False(t, found)
	_, found = kernel.RetainedSlice(&cookie{kept: ctx}, nil)
	require.False(t, found, "no context, nothing to keep")
	_, found = kernel.RetainedSlice(42, ctx)
	require.False(t, found)

	arr := [2]inner{{}, {Buf: ctx[7:]}}
	path, found = kernel.RetainedSlice(&arr, ctx)
	require.True(t, found)
	require.Equal(t, "*[2]kernel_test.inner[1].Buf", path)
}

// Every verifier message points at docs/rules.md#<rule>: the rule book must define that
// anchor for each rule of the table.
func TestRuleBookHasEveryRule(t *testing.T) {
	book, err := os.ReadFile("../" + kernel.RuleBook)
	require.NoError(t, err)
	for _, r := range kernel.Rules() {
		_, anchor, _ := strings.Cut(r.ID.Doc(), "#")
		require.Contains(t, string(book), `<a id="`+anchor+`"></a>`, "%s has no anchor in %s", r.ID, kernel.RuleBook)
	}
}
