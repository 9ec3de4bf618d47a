package harness_test

// A first test of the ready-made sampledrivers/minimal, written with synctest.Test and
// harness.New rather than harness.Run. The README's first test, with a driver of its own, is
// driverapi/firstdriver_test.go.

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

func TestMinimalDriverAsksTheService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // fake time: the 30 s timeout below costs nothing
		w := harness.New(t) // a fresh machine; torn down and leak-checked at the end
		drv := &minimal.Driver{}
		require.NoError(t, w.Load("minimal", drv))

		// Only SYSTEM and administrators may connect to the default descriptor.
		user := w.NewProcess("user.exe", kernel.TokenStandardUser())
		_, err := fltlib.Dial(context.Background(), user, minimal.PortName, nil)
		require.ErrorIs(t, err, kernel.E_ACCESSDENIED)

		svc := w.NewProcess("service.exe", kernel.TokenAdmin())
		conn, err := fltlib.Dial(context.Background(), svc, minimal.PortName, nil)
		require.NoError(t, err)

		// Nobody answers: after 30 (fake) seconds the driver gets STATUS_TIMEOUT, a success code.
		_, st := drv.Notify(context.Background(), []byte("anyone?"), 1, driverapi.RelativeTimeout(30e9))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)

		// The service answers.
		go func() {
			m, err := conn.Receive(context.Background())
			if err == nil {
				conn.Reply(m, kernel.STATUS_SUCCESS, []byte{1})
			}
		}()
		reply, st := drv.Notify(context.Background(), []byte("scan me"), 1, driverapi.RelativeTimeout(30e9))
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, []byte{1}, reply)

		// Unloading ends the connection: the service sees E_HANDLE.
		require.NoError(t, w.Unload("minimal"))
		_, err = conn.Receive(context.Background())
		require.ErrorIs(t, err, kernel.E_HANDLE)
		require.NoError(t, conn.Close())
	})
}
