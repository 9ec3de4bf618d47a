package cminimal_test

import (
	"context"
	"testing"
	"time"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/cdriver"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/cminimal"
)

func TestMain(m *testing.M) { testmain.Main(m) }

const portName = `\MinimalPort`

// The C template behaves as the Go one: the default descriptor refuses a standard user
// (R-SD), MessageNotify upper-cases (R-CB-3), one connection at a time (R-MODEL-2), closing
// the handle runs DisconnectNotify, which closes the client port (R-CB-2), and the unload
// closes the port before unregistering.
func TestCMinimalTemplate(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.NoError(t, w.Load("minimal", cminimal.New()))

		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		_, err := fltlib.Dial(context.Background(), user, portName, nil)
		require.ErrorIs(t, err, kernel.E_ACCESSDENIED)

		svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
		c, err := fltlib.Dial(context.Background(), svc, portName, nil)
		require.NoError(t, err)

		out := make([]byte, 8)
		n, err := c.Send(context.Background(), []byte("abc"), out)
		require.NoError(t, err)
		require.Equal(t, "ABC", string(out[:n]))
		_, err = c.Send(context.Background(), []byte("too long for it"), out)
		require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER))

		_, err = fltlib.Dial(context.Background(), svc, portName, nil)
		require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT))

		require.NoError(t, c.Close())
		require.NoError(t, w.Unload("minimal"))

		var lines []string
		for _, e := range w.Trace().Filter(cdriver.EvDbgPrint) {
			require.Equal(t, "minimal", e.Driver)
			lines = append(lines, e.Detail)
		}
		require.Equal(t, []string{
			`minimal!DriverEntry: filtering, port \MinimalPort`,
			"minimal!MinimalConnect: process " + itoa(svc.ID()) + " connected",
			"minimal!MinimalDisconnect: process " + itoa(svc.ID()) + ", 2 requests",
			"minimal!MinimalUnload: unloaded",
		}, lines)
	})
}

// A 30-second KeWaitForSingleObject in C code runs on the bubble's fake clock: the runtime
// blocks the goroutine on a channel and a timer, so synctest advances time. The wait is a
// timed wait of the world, which a world outside a bubble would report as real time spent.
func TestCMinimalWaitRunsOnFakeTime(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.NoError(t, w.Load("minimal", cminimal.New()))
		svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
		c, err := fltlib.Dial(context.Background(), svc, portName, nil)
		require.NoError(t, err)
		var waits []string
		w.Kernel().ObserveTimedWaits(func(routine string, began time.Time) {
			waits = append(waits, routine+" "+time.Since(began).String())
		})
		start := time.Now()
		out := make([]byte, 8)
		n, err := c.Send(context.Background(), []byte("sleep"), out)
		require.NoError(t, err)
		require.Equal(t, "woke", string(out[:n]))
		require.Equal(t, 30*time.Second, time.Since(start))
		w.Kernel().ObserveTimedWaits(nil)
		require.Equal(t, []string{"KeWaitForSingleObject 30s"}, waits)
		require.NoError(t, c.Close())
	})
}

// Loading the image while it is loaded in another world fails, and the error says why: its
// globals are one per process.
func TestCMinimalOneImagePerProcess(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := cminimal.New()
		require.NoError(t, w.Load("minimal", d))
		other := harness.NewWorld()
		err := other.Load("minimal2", cminimal.New())
		require.ErrorIs(t, err, kernel.HResultFromNtStatus(kernel.STATUS_IMAGE_ALREADY_LOADED))
		require.ErrorContains(t, err, `minimal.sys is loaded in another world of this test binary as "minimal"; `+
			"a C driver's globals exist once per process")
		require.Empty(t, other.Trace().Filter(cdriver.EvDbgPrint), "DriverEntry did not run")
		require.NoError(t, other.Close())
		require.NoError(t, w.Unload("minimal"))
		require.NoError(t, w.Load("minimal", d), "loaded again after the unload")
	})
}

// Built without -fshort-wchar, a C driver's WCHAR is 32 bits and its structures are not
// Windows': it loads only if its Go file allows it (the samples do, they share no WCHAR
// layout), and otherwise fails with STATUS_INVALID_IMAGE_FORMAT and the flag to build with.
// CI runs this test both ways.
func TestCMinimalWCHARSize(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		err := w.Load("minimal", cminimal.New().AllowWCHAR32(false))
		if cdriver.WCHARSize() == 2 {
			require.NoError(t, err, "built with -fshort-wchar")
			require.NoError(t, w.Unload("minimal"))
			return
		}
		require.Equal(t, 4, cdriver.WCHARSize())
		require.ErrorIs(t, err, kernel.HResultFromNtStatus(kernel.STATUS_INVALID_IMAGE_FORMAT))
		require.ErrorContains(t, err, `minimal.sys was compiled with a 32-bit WCHAR`)
		require.ErrorContains(t, err, `CGO_CFLAGS="-O2 -g -fshort-wchar" go test ./...`)
		require.Empty(t, w.Trace().Filter(cdriver.EvDbgPrint), "DriverEntry did not run")
		require.NoError(t, w.Load("minimal", cminimal.New()), "the sample allows a 32-bit WCHAR")
	})
}

func itoa(v uint32) string { return strconvItoa(int(v)) }
