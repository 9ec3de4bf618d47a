package driverapi_test

// This file is the driver and the first test that the README ("Your first driver test"),
// the package documentation (go doc ./driverapi) and docs/guide.md show. The lines between
// the "doc:" markers are the shown code: TestFirstDriverDocsAreInSync (and, for the guide,
// TestGuideIsInSync) fails when a copy differs, so the code a newcomer copies is code that
// compiles and passes.

import (
	"bytes"
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

// doc:driver
const helloPort = `\HelloPort`

// helloDriver has one communication port: a service connects, sends requests that
// MessageNotify answers, and answers the questions the driver asks with Ask.
type helloDriver struct {
	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	client driverapi.ClientPort // the connected service's client port (one at a time)
}

func (d *helloDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{ // FLT_REGISTRATION
		Version:      driverapi.FLT_REGISTRATION_VERSION,
		FilterUnload: d.unload,
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	// SYSTEM and Administrators get FLT_PORT_ALL_ACCESS, the access a connect asks for.
	sd, st := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f) // a DriverEntry that fails undoes what it did
		return st
	}
	attrs := driverapi.InitializeObjectAttributes(helloPort, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, d.message, 1)
	fm.FreeSecurityDescriptor(sd) // the port keeps its own copy
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	if st = fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		fm.CloseCommunicationPort(d.server)
		fm.UnregisterFilter(f)
	}
	return st
}

// connect is the ConnectNotify: keep the client port. The cookie it returns comes back to
// disconnect and message.
func (d *helloDriver) connect(ctx context.Context, client driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
	d.client.Store(client)
	return nil, kernel.STATUS_SUCCESS
}

// disconnect is the DisconnectNotify: the service closed its handle, or the filter unloads.
func (d *helloDriver) disconnect(ctx context.Context, _ any) {
	d.fm.CloseClientPort(d.filter, &d.client)
}

// message is the MessageNotify: it answers FilterSendMessage, "hello" → "HELLO".
func (d *helloDriver) message(ctx context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
	if len(out) < len(in) {
		return 0, kernel.STATUS_BUFFER_TOO_SMALL // the service gets 0x8007007A
	}
	return uint32(copy(out, bytes.ToUpper(in))), kernel.STATUS_SUCCESS
}

// unload closes the server port, then unregisters: the order Windows expects.
func (d *helloDriver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.fm.CloseCommunicationPort(d.server)
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

// Ask sends a question to the service and waits up to 5 s for its one-byte answer.
func (d *helloDriver) Ask(ctx context.Context, question string) (byte, kernel.NTSTATUS) {
	answer := make([]byte, 1)
	n := uint32(len(answer))
	st := d.fm.SendMessage(ctx, d.filter, &d.client, []byte(question), answer, &n,
		driverapi.RelativeTimeout(5*time.Second))
	if st != kernel.STATUS_SUCCESS { // STATUS_TIMEOUT is a success code: compare exactly
		return 0, st
	}
	return answer[0], st
}

// doc:end

// doc:test
func TestHelloDriver(t *testing.T) {
	// Run makes a fresh machine inside a synctest bubble (fake time: the 5 s timeout
	// below takes microseconds) and checks for leftovers and driver bugs at the end.
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &helloDriver{}
		require.NoError(t, w.Load("hello", d))

		// The default descriptor lets only SYSTEM and administrators connect.
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		_, err := fltlib.Dial(t.Context(), user, helloPort, nil)
		require.ErrorIs(t, err, kernel.E_ACCESSDENIED)

		svc := w.NewProcess("service.exe", kernel.TokenAdmin())
		conn, err := fltlib.Dial(t.Context(), svc, helloPort, nil)
		require.NoError(t, err)

		// User → driver: FilterSendMessage runs MessageNotify on this goroutine.
		out := make([]byte, 16)
		n, err := conn.Send(t.Context(), []byte("hello"), out)
		require.NoError(t, err)
		require.Equal(t, "HELLO", string(out[:n]))
		_, err = conn.Send(t.Context(), []byte("hello"), make([]byte, 2))
		require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER))

		// Driver → user: nobody reads yet, so the question times out after 5 (fake) seconds.
		_, st := d.Ask(t.Context(), "anyone there?")
		require.Equal(t, kernel.STATUS_TIMEOUT, st)

		// The service answers.
		go func() {
			m, err := conn.Receive(t.Context())
			if err == nil {
				_ = conn.Reply(m, kernel.STATUS_SUCCESS, []byte{42})
			}
		}()
		answer, st := d.Ask(t.Context(), "is it safe?")
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, byte(42), answer)
		synctest.Wait() // the service goroutine has returned from Reply

		// Unloading ends the connection: the service's next Receive fails with E_HANDLE.
		require.NoError(t, w.Unload("hello"))
		_, err = conn.Receive(t.Context())
		require.ErrorIs(t, err, kernel.E_HANDLE)
		require.NoError(t, conn.Close()) // a handle left open would fail the test
	})
}

// doc:end

// The README and the package documentation show the two regions above verbatim (docs/guide.md
// too: TestGuideIsInSync); a copy that drifted from this file is a doc that no longer compiles.
func TestFirstDriverDocsAreInSync(t *testing.T) {
	src := readFile(t, "firstdriver_test.go")
	driver, test := region(t, src, "// doc:driver\n"), region(t, src, "// doc:test\n")
	readme := readFile(t, "../README.md")
	require.Contains(t, readme, "```go\n"+driver+"```\n", "README.md: copy the driver of driverapi/firstdriver_test.go")
	require.Contains(t, readme, "```go\n"+test+"```\n", "README.md: copy the test of driverapi/firstdriver_test.go")
	// A code block of a doc comment: each line indented by a tab, blank lines bare.
	comment := func(code string) string {
		var b strings.Builder
		for _, line := range strings.SplitAfter(code, "\n") {
			switch line {
			case "":
			case "\n":
				b.WriteString("//\n")
			default:
				b.WriteString("//\t" + line)
			}
		}
		return b.String()
	}
	pkgdoc := readFile(t, "doc.go")
	require.Contains(t, pkgdoc, comment(driver), "doc.go: copy the driver of firstdriver_test.go")
	require.Contains(t, pkgdoc, comment(test), "doc.go: copy the test of firstdriver_test.go")
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// region returns the lines after the marker line up to the next "// doc:end", without the
// blank lines at either end.
func region(t *testing.T, src, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(src, marker)
	require.True(t, ok, "marker %q", marker)
	body, _, ok := strings.Cut(rest, "// doc:end\n")
	require.True(t, ok, "no doc:end after %q", marker)
	return strings.Trim(body, "\n") + "\n"
}
