package harness_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

func loadTestDriver(t *testing.T, d *testdriver.Driver) *harness.World {
	t.Helper()
	w := harness.New(t)
	require.Equal(t, kernel.S_OK, w.Load("test", d))
	return w
}

func TestClientDialReceiveReply(t *testing.T) {
	d := &testdriver.Driver{}
	w := loadTestDriver(t, d)
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, err := harness.Dial(context.Background(), p, `\TestPort`, &harness.DialOptions{Context: []byte("ctx")})
	require.NoError(t, err)
	require.Equal(t, []byte("ctx"), d.Conn(0).Context)

	type res struct {
		st kernel.NTSTATUS
		n  uint32
	}
	done := make(chan res, 1)
	reply := make([]byte, 4)
	go func() {
		st, n := d.Send(context.Background(), d.Conn(0), []byte("question"), reply, nil)
		done <- res{st, n}
	}()
	m, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), m.ID) // R-SEND-7
	require.True(t, m.WantsReply())
	require.Equal(t, 4, m.ReplyCapacity)
	require.Equal(t, "question", string(m.Payload))
	require.NoError(t, c.Reply(m, kernel.STATUS_ACCESS_DENIED, []byte("no")))
	r := <-done
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, r.st) // R-SEND-8: the user's status, whatever it is
	require.Equal(t, "no", string(reply[:r.n]))

	// A second reply to the same message has no waiter (R-USER Reply 2).
	err = c.Reply(m, kernel.STATUS_SUCCESS, nil)
	require.ErrorIs(t, err, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY)

	out := make([]byte, 8)
	n, err := c.Send(context.Background(), []byte("echo"), out)
	require.NoError(t, err)
	require.Equal(t, "echo", string(out[:n]))
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), harness.ErrClosed)
	require.Equal(t, int32(1), d.Disconnects.Load())
}

func TestClientDialErrors(t *testing.T) {
	d := &testdriver.Driver{}
	w := loadTestDriver(t, d)
	user := w.NewProcess("user.exe", kernel.TokenStandardUser())
	_, err := harness.Dial(context.Background(), user, `\TestPort`, nil)
	require.ErrorIs(t, err, kernel.E_ACCESSDENIED) // R-MODEL-2
	require.ErrorIs(t, err, kernel.ERROR_ACCESS_DENIED)
	var oe *harness.OpError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, "dial", oe.Op)
	require.Equal(t, int32(0), d.Connects.Load())

	admin := w.NewProcess("svc.exe", kernel.TokenAdmin())
	_, err = harness.Dial(context.Background(), admin, `\NoSuchPort`, nil)
	require.ErrorIs(t, err, kernel.ERROR_FILE_NOT_FOUND)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = harness.Dial(ctx, admin, `\TestPort`, nil)
	require.ErrorIs(t, err, context.Canceled)

	_, err = harness.Dial(context.Background(), admin, `\TestPort`, &harness.DialOptions{MaxMessageSize: -1})
	require.ErrorIs(t, err, kernel.E_INVALIDARG)
	_, err = harness.Dial(context.Background(), nil, `\TestPort`, nil)
	require.ErrorIs(t, err, kernel.E_INVALIDARG)
}

func TestClientCloseUnblocksReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, syncHandle := range []bool{false, true} {
			d := &testdriver.Driver{}
			w := loadTestDriver(t, d)
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			c, err := harness.Dial(context.Background(), p, `\TestPort`, &harness.DialOptions{SyncHandle: syncHandle})
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Receive(context.Background())
				errc <- err
			}()
			synctest.Wait() // the Receive is blocked in its Get
			require.NoError(t, c.Close())
			require.ErrorIs(t, <-errc, harness.ErrClosed)
			_, err = c.Receive(context.Background())
			require.ErrorIs(t, err, harness.ErrClosed)
		}
	})
}

func TestClientReceiveContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, syncHandle := range []bool{false, true} {
			d := &testdriver.Driver{}
			w := loadTestDriver(t, d)
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			c, err := harness.Dial(context.Background(), p, `\TestPort`, &harness.DialOptions{SyncHandle: syncHandle})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := c.Receive(ctx)
				errc <- err
			}()
			synctest.Wait() // the Receive is blocked in its Get
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled)
			require.NoError(t, c.Close())
		}
	})
}

// A message larger than Receive's buffer is not lost: Receive grows and asks again (R-SEND-4).
func TestClientReceiveGrows(t *testing.T) {
	d := &testdriver.Driver{}
	w := loadTestDriver(t, d)
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, err := harness.Dial(context.Background(), p, `\TestPort`, &harness.DialOptions{MaxMessageSize: 8})
	require.NoError(t, err)
	big := make([]byte, 1000)
	for i := range big {
		big[i] = byte(i)
	}
	done := make(chan kernel.NTSTATUS, 1)
	go func() {
		st, _ := d.Send(context.Background(), d.Conn(0), big, nil, nil)
		done <- st
	}()
	m, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Equal(t, big, m.Payload)
	require.False(t, m.WantsReply()) // R-SEND-6
	require.Equal(t, kernel.STATUS_SUCCESS, <-done)
	require.NoError(t, c.Close())
}

// Unload ends the connection: Receive fails with E_HANDLE, the samples' "filter unloading".
func TestClientReceiveUnload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &testdriver.Driver{}
		w := loadTestDriver(t, d)
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		c, err := harness.Dial(context.Background(), p, `\TestPort`, nil)
		require.NoError(t, err)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Receive(context.Background())
			errc <- err
		}()
		synctest.Wait() // the Receive is blocked in its Get
		require.Equal(t, kernel.S_OK, w.Unload("test"))
		require.ErrorIs(t, <-errc, kernel.E_HANDLE) // R-UNLOAD-5
		_, err = c.Send(context.Background(), []byte("x"), nil)
		require.ErrorIs(t, err, kernel.E_HANDLE)
		require.NoError(t, c.Close())
	})
}
