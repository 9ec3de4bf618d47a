package driverapi_test

// The behaviours the doc comments of this package promise a driver author, each checked
// where the comment states it.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// R-SD, R-MODEL-2: BuildDefaultSecurityDescriptor grants SYSTEM and administrators what it is
// asked for, and a connect asks for FLT_PORT_ALL_ACCESS: a descriptor built with
// FLT_PORT_CONNECT alone refuses even them.
func TestDefaultDescriptorNeedsAllAccess(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{NoPort: true}
		require.NoError(t, w.Load("connectonly", d))
		sd, st := d.FM.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_CONNECT)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		d.SD = sd
		require.Equal(t, kernel.STATUS_SUCCESS, d.CreatePort())
		for _, tok := range []*kernel.Token{kernel.TokenSystem(), kernel.TokenAdmin()} {
			p := w.NewProcess("svc.exe", tok)
			_, err := fltlib.Dial(t.Context(), p, `\TestPort`, nil)
			require.ErrorIs(t, err, kernel.E_ACCESSDENIED)
		}
		require.Zero(t, d.ConnectCalls.Load())
	})
}

// R-SEND-3: RelativeTimeout(0) does not wait. With no Get pending the send times out at
// once; a one-way send that finds a Get succeeds; a send that wants a reply does not wait for
// it, and the late reply finds no waiter.
func TestRelativeTimeoutZeroDoesNotWait(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("nowait", d))
		conn, err := fltlib.Dial(t.Context(), w.NewProcess("svc.exe", kernel.TokenAdmin()), `\TestPort`, nil)
		require.NoError(t, err)
		c := d.Conn(0)
		start := time.Now()

		st, _ := d.Send(t.Context(), c, []byte("nobody"), nil, driverapi.RelativeTimeout(0))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)

		received := make(chan *fltlib.Message)
		receive := func() {
			go func() {
				m, err := conn.Receive(t.Context())
				if err == nil {
					received <- m
				}
			}()
			synctest.Wait() // the Get is pending
		}
		receive()
		st, _ = d.Send(t.Context(), c, []byte("one-way"), nil, driverapi.RelativeTimeout(0))
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Equal(t, uint64(0), (<-received).ID)

		receive()
		st, n := d.Send(t.Context(), c, []byte("ask"), make([]byte, 4), driverapi.RelativeTimeout(0))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)
		require.Zero(t, n)
		m := <-received
		require.NotZero(t, m.ID)
		require.ErrorIs(t, conn.Reply(m, kernel.STATUS_SUCCESS, []byte{1}),
			kernel.HResultFromNtStatus(kernel.STATUS_FLT_NO_WAITER_FOR_REPLY))

		require.Zero(t, time.Since(start)) // no fake time passed: nothing waited
		require.NoError(t, conn.Close())
	})
}

// R-SEND-6: a nil reply buffer is a one-way send, which still blocks until a Get takes the
// message (or the timeout passes), then returns STATUS_SUCCESS without waiting for an answer;
// replyLength may be nil.
func TestOneWaySendBlocksUntilAGetTakesIt(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("oneway", d))
		conn, err := fltlib.Dial(t.Context(), w.NewProcess("svc.exe", kernel.TokenAdmin()), `\TestPort`, nil)
		require.NoError(t, err)

		sent := make(chan kernel.NTSTATUS, 1)
		go func() {
			sent <- d.FM.SendMessage(context.Background(), d.Filter, &d.Conn(0).Port, []byte("note"), nil, nil, nil)
		}()
		synctest.Wait()
		require.Empty(t, sent, "a one-way send with no Get waits")

		m, err := conn.Receive(t.Context())
		require.NoError(t, err)
		require.Equal(t, kernel.STATUS_SUCCESS, <-sent)
		require.False(t, m.WantsReply())
		require.Equal(t, "note", string(m.Payload))

		// With a timeout and no Get, it times out and the message is never delivered.
		st := d.FM.SendMessage(t.Context(), d.Filter, &d.Conn(0).Port, []byte("lost"), nil, nil,
			driverapi.RelativeTimeout(time.Second))
		require.Equal(t, kernel.STATUS_TIMEOUT, st)
		require.NoError(t, conn.Close())
	})
}

// R-VERIFY-4: CloseCommunicationPort twice is reported, as its doc comment says.
func TestSecondServerPortCloseIsReported(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{OnUnload: func(d *testdriver.Driver, _ driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			d.FM.CloseCommunicationPort(d.Server)
			d.FM.CloseCommunicationPort(d.Server)
			d.FM.UnregisterFilter(d.Filter)
			return kernel.STATUS_SUCCESS
		}}
		w.ExpectViolation(kernel.RuleVerify4).Containing("already closed").Times(1)
		require.NoError(t, w.Load("twice", d))
		require.NoError(t, w.Unload("twice"))
	})
}

// R-MODEL-2: the SDDL docs/guide.md gives for letting standard users in works, and a Low
// integrity process also needs the Low mandatory label.
func TestGuideSDDLLetsUsersIn(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		for _, tc := range []struct {
			sddl    string
			lowToo  bool
			drvName string
		}{
			{`D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;BU)`, false, "users"},
			{`D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;BU)S:(ML;;NW;;;LW)`, true, "low"},
		} {
			sd, err := kernel.ParseSDDL(tc.sddl)
			require.NoError(t, err)
			d := &testdriver.Driver{SD: sd, PortName: `\` + tc.drvName, MaxConnections: 4}
			require.NoError(t, w.Load(tc.drvName, d))
			c, err := fltlib.Dial(t.Context(), w.NewProcess("user.exe", kernel.TokenStandardUser()), `\`+tc.drvName, nil)
			require.NoError(t, err)
			require.NoError(t, c.Close())
			c, err = fltlib.Dial(t.Context(), w.NewProcess("low.exe", kernel.TokenLowIntegrity()), `\`+tc.drvName, nil)
			if !tc.lowToo {
				require.ErrorIs(t, err, kernel.E_ACCESSDENIED)
				continue
			}
			require.NoError(t, err)
			require.NoError(t, c.Close())
		}
	})
}
