package driverapi_test

// The code of docs/guide.md, beyond the first driver and test of firstdriver_test.go: each
// region between a "guide:" marker and "doc:end" is shown verbatim in the guide
// (TestGuideIsInSync), so every block there compiles and passes.

import (
	"context"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// guide:verifier
func TestHelloDriverClosesItsPortTwice(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &helloDriver{}
		require.NoError(t, w.Load("hello", d))
		// A bug: the port is closed here, and the unload closes it again (a bugcheck on
		// Windows). The test declares the report it expects; any other fails it.
		d.fm.CloseCommunicationPort(d.server)
		w.ExpectViolation(kernel.RuleVerify4).Containing("already closed").Times(1)
		require.NoError(t, w.Unload("hello"))
	})
}

// doc:end

// guide:leftovers
func TestAServiceThatForgetsToClose(t *testing.T) {
	// NewWorld is not bound to the test: Close returns what New's teardown would report.
	w := harness.NewWorld()
	require.NoError(t, w.Load("hello", &helloDriver{}))
	svc := w.NewProcess("service.exe", kernel.TokenAdmin())
	_, err := fltlib.Dial(context.Background(), svc, helloPort, nil) // never closed
	require.NoError(t, err)

	left := w.Leftovers() // what a teardown now would have to clean up
	require.Equal(t, kernel.LeftoverHandle, left[0].Kind)
	require.Equal(t, "service.exe (pid 8)", left[0].Process)

	err = w.Close()
	require.ErrorContains(t, err, "service.exe (pid 8)")
	require.ErrorContains(t, err, "AllowOpenHandles")
}

func TestAServiceThatLeavesItsHandleToItsExit(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.NoError(t, w.Load("hello", &helloDriver{}))
		svc := w.NewProcess("service.exe", kernel.TokenAdmin())
		svc.AllowOpenHandles() // the point of this test: the process exit closes the port
		_, err := fltlib.Dial(t.Context(), svc, helloPort, nil)
		require.NoError(t, err)
	})
}

// doc:end

// guide:faults
func TestHelloDriverUnderFaults(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		// DriverEntry's port creation fails: the load fails and names the routine, and the
		// teardown checks that DriverEntry unregistered what it had registered.
		f := w.Faults()
		require.NoError(t, f.FailNth("FltCreateCommunicationPort", 1, kernel.STATUS_INSUFFICIENT_RESOURCES))
		err := w.Load("hello", &helloDriver{})
		require.ErrorIs(t, err, kernel.HResultFromNtStatus(kernel.STATUS_INSUFFICIENT_RESOURCES))
		require.ErrorContains(t, err, "FltCreateCommunicationPort")

		// The service dies right after it received the question, before it could answer:
		// the driver's wait ends with STATUS_PORT_DISCONNECTED, not a hang.
		d := &helloDriver{}
		require.NoError(t, w.Load("hello", d))
		svc := w.NewProcess("service.exe", kernel.TokenAdmin())
		conn, err := fltlib.Dial(t.Context(), svc, helloPort, nil)
		require.NoError(t, err)
		require.NoError(t, f.KillAt(svc, harness.Received(svc, 1)))
		go func() { _, _ = conn.Receive(t.Context()) }()
		_, st := d.Ask(t.Context(), "is it safe?")
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, st)
		require.Len(t, f.Injected(), 1) // the FailNth; the kill is in the trace
	})
}

// doc:end

// guide:time
func TestHelloDriverWaitsFiveFakeSeconds(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &helloDriver{}
		require.NoError(t, w.Load("hello", d))
		conn, err := fltlib.Dial(t.Context(), w.NewProcess("service.exe", kernel.TokenAdmin()), helloPort, nil)
		require.NoError(t, err)

		start := time.Now() // the bubble's clock: 2000-01-01 00:00:00 UTC, fake
		_, st := d.Ask(t.Context(), "anyone there?")
		require.Equal(t, kernel.STATUS_TIMEOUT, st)
		require.Equal(t, 5*time.Second, time.Since(start)) // exactly, and in microseconds of real time

		// synctest.Wait returns once every other goroutine of the bubble is blocked: here,
		// once the service's Receive is pending in the driver's port.
		got := make(chan *fltlib.Message, 1)
		go func() {
			if m, err := conn.Receive(t.Context()); err == nil {
				got <- m
			}
		}()
		synctest.Wait()
		// RelativeTimeout(0) does not wait: the message goes to the pending Get, and the
		// send returns STATUS_TIMEOUT at once instead of waiting for the answer.
		st = d.fm.SendMessage(t.Context(), d.filter, &d.client, []byte("now"), make([]byte, 1), new(uint32),
			driverapi.RelativeTimeout(0))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)
		require.Equal(t, "now", string((<-got).Payload))
		require.Equal(t, 5*time.Second, time.Since(start))
		require.NoError(t, conn.Close())
	})
}

// doc:end

// guide:trace
func TestHelloDriverTrace(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &helloDriver{}
		require.NoError(t, w.Load("hello", d))
		svc := w.NewProcess("service.exe", kernel.TokenAdmin())
		conn, err := fltlib.Dial(t.Context(), svc, helloPort, nil)
		require.NoError(t, err)
		go func() {
			if m, err := conn.Receive(t.Context()); err == nil {
				_ = conn.Reply(m, kernel.STATUS_SUCCESS, []byte{42})
			}
		}()
		_, st := d.Ask(t.Context(), "is it safe?")
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		synctest.Wait()
		require.NoError(t, conn.Close())
		require.NoError(t, w.Unload("hello"))

		// Query the trace...
		replied := w.Trace().Filter(kernel.EvMessageReplied)
		require.Len(t, replied, 1)
		require.Equal(t, uint64(1), replied[0].MsgID)
		// ...or compare all of it with testdata/golden/guide-hello-*.golden
		// (FLTEMU_UPDATE_GOLDEN=1 go test ./... writes them; review the diff).
		harness.Golden(t, "guide-hello-table", w.Trace().Table())
		harness.Golden(t, "guide-hello-mermaid", harness.Mermaid(w.Trace().Events()))
	}, harness.WithFullTrace()) // keep every event, not only the most recent ones
}

// doc:end

// guide:service
// serve answers every question of the driver with answer, using the fltlib calls a C
// service makes, through any fltlib.Backend: a *harness.Process in a test, fltlib.System()
// on Windows. It returns when the connection ends (E_HANDLE: the driver unloaded).
func serve(b fltlib.Backend, port string, answer byte) error {
	h, hr := b.FilterConnectCommunicationPort(port, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		return hr
	}
	defer func() { _ = b.CloseHandle(h) }()
	buf := make([]byte, driverapi.FilterMessageHeaderSize+64)
	for {
		if hr := b.FilterGetMessage(h, buf, nil); hr != kernel.S_OK {
			return hr
		}
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		reply := driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte{answer})
		if hr := b.FilterReplyMessage(h, reply); hr != kernel.S_OK {
			return hr
		}
	}
}

func TestHelloDriverWithAService(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &helloDriver{}
		require.NoError(t, w.Load("hello", d))
		done := make(chan error)
		go func() { done <- serve(w.NewProcess("service.exe", kernel.TokenAdmin()), helloPort, 7) }()
		synctest.Wait() // the service is connected and waits in FilterGetMessage

		answer, st := d.Ask(t.Context(), "is it safe?")
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, byte(7), answer)

		require.NoError(t, w.Unload("hello"))
		require.ErrorIs(t, <-done, kernel.E_HANDLE)
	})
}

// doc:end

// docs/guide.md shows every "guide:" region of this file, the first driver and test, and
// the golden Mermaid diagram verbatim.
func TestGuideIsInSync(t *testing.T) {
	guide := readFile(t, "../docs/guide.md")
	src := readFile(t, "guide_test.go")
	parts := strings.Split(src, "\n// guide:")[1:]
	require.Len(t, parts, 6, "the guide's regions of guide_test.go")
	for _, part := range parts {
		name, _, _ := strings.Cut(part, "\n")
		code := region(t, src, "// guide:"+name+"\n")
		require.Contains(t, guide, "```go\n"+code+"```\n", "docs/guide.md: copy region %q of driverapi/guide_test.go", name)
	}
	first := readFile(t, "firstdriver_test.go")
	for _, marker := range []string{"// doc:driver\n", "// doc:test\n"} {
		require.Contains(t, guide, "```go\n"+region(t, first, marker)+"```\n", "docs/guide.md: copy %q of firstdriver_test.go", marker)
	}
	diagram, err := os.ReadFile("../testdata/golden/guide-hello-mermaid.golden")
	require.NoError(t, err)
	require.Contains(t, guide, "```mermaid\n"+string(diagram), "docs/guide.md: copy testdata/golden/guide-hello-mermaid.golden")
}
