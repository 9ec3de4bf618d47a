package minimal_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

func TestMain(m *testing.M) { testmain.Main(m) }

func TestMinimalTemplate(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &minimal.Driver{}
		require.NoError(t, w.Load("minimal", d))
		require.False(t, d.Connected())

		// No client: the push fails at once (R-SEND-2).
		_, st := d.Notify(context.Background(), []byte("x"), 1, nil)
		require.Equal(t, kernel.STATUS_PORT_DISCONNECTED, st)

		// The default descriptor refuses a standard user (R-SD).
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		_, err := fltlib.Dial(context.Background(), user, minimal.PortName, nil)
		require.ErrorIs(t, err, kernel.E_ACCESSDENIED)

		svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
		c, err := fltlib.Dial(context.Background(), svc, minimal.PortName, nil)
		require.NoError(t, err)
		require.True(t, d.Connected())

		// MessageNotify: upper-case, and STATUS_BUFFER_TOO_SMALL for a short output (R-CB-3).
		out := make([]byte, 8)
		n, err := c.Send(context.Background(), []byte("abc"), out)
		require.NoError(t, err)
		require.Equal(t, "ABC", string(out[:n]))
		_, err = c.Send(context.Background(), []byte("too long for it"), out)
		require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER))

		// MaxConnections 1: a second client waits for the slot (R-MODEL-2).
		_, err = fltlib.Dial(context.Background(), svc, minimal.PortName, nil)
		require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT))

		// The server port closes early: the connection keeps working (R-CLOSESRV-2).
		d.ServerPortClose()
		n, err = c.Send(context.Background(), []byte("still"), out)
		require.NoError(t, err)
		require.Equal(t, "STILL", string(out[:n]))

		// Nobody reads: the push times out after 5 fake seconds (R-SEND-9).
		_, st = d.Notify(context.Background(), []byte("hello"), 4, driverapi.RelativeTimeout(5e9))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)

		// Closing the handle disconnects: DisconnectNotify closes the client port (R-CB-2).
		require.NoError(t, c.Close())
		require.False(t, d.Connected())
		require.NoError(t, w.Unload("minimal"))
	})
}

// A driver built from the template with its own descriptor lets standard users in.
func TestMinimalTemplateSDDL(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &minimal.Driver{PortName: `\Custom`, SDDL: "D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)(A;;GA;;;BU)"}
		require.NoError(t, w.Load("custom", d))
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		c, err := fltlib.Dial(context.Background(), user, `\Custom`, nil)
		require.NoError(t, err)
		require.NoError(t, c.Close())

		bad := &minimal.Driver{PortName: `\Bad`, SDDL: "D:(X;;;;;)"}
		require.ErrorIs(t, w.Load("bad", bad), kernel.E_INVALIDARG) // malformed SDDL: DriverEntry fails and unregisters
		require.False(t, w.FilterManager().Loaded("bad"))
	})
}

// Load the template, connect a service, and answer the driver's question.
func Example() {
	w := harness.NewWorld()
	d := &minimal.Driver{}
	w.Load("minimal", d)
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, _ := fltlib.Dial(context.Background(), svc, minimal.PortName, nil)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if m, err := c.Receive(context.Background()); err == nil {
			c.Reply(m, kernel.STATUS_SUCCESS, []byte("yes"))
		}
	}()
	reply, st := d.Notify(context.Background(), []byte("ready?"), 8, nil)
	fmt.Printf("%s %v\n", reply, st)
	<-served // the Reply has returned: no call of the Conn still holds the handle, so Close closes it
	c.Close()
	fmt.Println(w.Close())
	// Output:
	// yes STATUS_SUCCESS (0x00000000)
	// <nil>
}
