package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func TestViolationError(t *testing.T) {
	v := kernel.Violation{Rule: "R-VERIFY-1", Driver: "scanner", Object: `server port "\ScannerPort"`,
		Message: "FltUnregisterFilter with the port open", Windows: "FltUnregisterFilter hangs forever"}
	require.Equal(t, `verifier R-VERIFY-1: driver "scanner", server port "\ScannerPort": FltUnregisterFilter with the port open (on Windows: FltUnregisterFilter hangs forever)`, v.Error())
	require.Equal(t, `verifier R-VERIFY-5: driver "d": bad`, kernel.Violation{Rule: "R-VERIFY-5", Driver: "d", Message: "bad"}.Error())
}

func TestVerifierReportTraceAndTake(t *testing.T) {
	w := kernel.New()
	v := w.Verifier()
	x := kernel.Violation{Rule: "R-VERIFY-4", Driver: "d", Object: `server port "\P"`, Message: "double close", Windows: "a bugcheck"}
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
