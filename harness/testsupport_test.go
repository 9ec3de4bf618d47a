package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// timedWaits runs, in a world made with New(ft), a FltSendMessage that times out (R-SEND-5)
// and a GetQueuedCompletionStatus that times out (R-IOCP), each with a timeout of at most a
// microsecond, and tears the world down.
func timedWaits(t *testing.T, ft *labTB, send, gqcs bool) {
	w := harness.New(ft)
	d := &testdriver.Driver{}
	require.NoError(t, w.Load("test", d))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h, hr := p.FilterConnectCommunicationPort(testPort, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	if send {
		for range 2 {
			st, _ := d.Send(context.Background(), d.Conn(0), []byte("x"), nil, driverapi.RelativeTimeout(time.Microsecond))
			require.Equal(t, kernel.STATUS_TIMEOUT, st)
		}
	}
	if gqcs {
		cp, err := p.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
		require.NoError(t, err)
		_, _, _, err = p.GetQueuedCompletionStatus(cp, time.Nanosecond)
		require.Equal(t, kernel.ERROR_WAIT_TIMEOUT, err)
		require.NoError(t, p.CloseHandle(cp))
	}
	require.NoError(t, p.CloseHandle(h))
	ft.finish()
	require.Empty(t, ft.errs)
}

// A world outside a synctest bubble whose timed wait takes real time past the threshold
// (1 s; 0 here, so that no test sleeps) says once, in the test's log, that it is outside a
// bubble and how to fix it. Inside a bubble, or under the threshold, it says nothing.
func TestRealTimeWaitOutsideABubbleIsSaidOnce(t *testing.T) {
	restore := harness.SetSlowWaitThreshold(0)
	defer restore()

	ft := &labTB{TB: t}
	timedWaits(t, ft, true, true)
	require.Len(t, ft.logs, 1, "once per world: %q", ft.logs)
	require.True(t, strings.HasPrefix(ft.logs[0], "harness: FltSendMessage waited "), ft.logs[0])
	require.Contains(t, ft.logs[0], "of real time for its timeout: this world is not inside a synctest bubble")
	require.Contains(t, ft.logs[0], "harness.Run(t, func(t *testing.T, w *harness.World) { ... })")
	require.Contains(t, ft.logs[0], "synctest.Test(t, func(t *testing.T) { w := harness.New(t); ... })")

	ft = &labTB{TB: t}
	timedWaits(t, ft, false, true)
	require.Len(t, ft.logs, 1)
	require.True(t, strings.HasPrefix(ft.logs[0], "harness: GetQueuedCompletionStatus waited "), ft.logs[0])

	synctest.Test(t, func(t *testing.T) {
		ft := &labTB{TB: t}
		timedWaits(t, ft, true, true)
		require.Empty(t, ft.logs, "inside a bubble the waits cost nothing")
	})

	harness.SetSlowWaitThreshold(time.Hour)
	ft = &labTB{TB: t}
	timedWaits(t, ft, true, true)
	require.Empty(t, ft.logs)
}

// A failing test writes its trace as a Mermaid diagram into the directory FLTEMU_MERMAID_DIR
// names, in a file named after the test, and says where; a passing test writes nothing, and
// nothing is written when the variable is not set.
func TestFailingTestWritesItsTraceDiagram(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "diagrams")
	t.Setenv(harness.MermaidDirEnv, dir)

	ft := &labTB{TB: t, name: "TestScan/big file #2"}
	w := harness.New(ft)
	require.NoError(t, w.Load("test", &testdriver.Driver{}))
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	require.Equal(t, kernel.E_INVALIDARG, p.FilterReplyMessage(kernel.InvalidHandle, nil))
	ft.Error("the test failed") // what a failed assertion does
	ft.finish()

	path := filepath.Join(dir, "TestScan_big_file__2.mmd")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(data)
	require.True(t, strings.HasPrefix(text, "sequenceDiagram\n"+
		"    %% The trace of the failed test TestScan/big file #2 (fltemu). View it at https://mermaid.live or in a ```mermaid block.\n"+
		"    participant P1 as svc.exe (pid 8)\n"), text)
	require.Contains(t, text, "    D1->>FM: FltRegisterFilter\n")
	require.Contains(t, text, "    P1-xFM: FilterReplyMessage: E_INVALIDARG, the 0-byte buffer is shorter than FILTER_REPLY_HEADER")
	require.Contains(t, text, "    Note over D1: driver unloaded\n", "the whole teardown is in it")
	require.Contains(t, ft.logs, "harness: trace diagram written to "+path)

	// A trace that dropped events says so.
	ft = &labTB{TB: t, name: "TestShortTrace"}
	w = harness.New(ft, harness.WithTraceCapacity(3))
	require.NoError(t, w.Load("test", &testdriver.Driver{}))
	ft.Error("the test failed")
	ft.finish()
	data, err = os.ReadFile(filepath.Join(dir, "TestShortTrace.mmd"))
	require.NoError(t, err)
	require.Contains(t, string(data), "earlier events were dropped: the trace keeps the most recent ones (harness.WithFullTrace keeps all)")

	// A passing test writes nothing.
	ft = &labTB{TB: t, name: "TestPassing"}
	harness.New(ft)
	ft.finish()
	_, err = os.Stat(filepath.Join(dir, "TestPassing.mmd"))
	require.True(t, os.IsNotExist(err))

	// Without the variable, a failing test writes nothing either.
	t.Setenv(harness.MermaidDirEnv, "")
	ft = &labTB{TB: t, name: "TestUnset"}
	harness.New(ft)
	ft.Error("the test failed")
	ft.finish()
	_, err = os.Stat(filepath.Join(dir, "TestUnset.mmd"))
	require.True(t, os.IsNotExist(err))
}
