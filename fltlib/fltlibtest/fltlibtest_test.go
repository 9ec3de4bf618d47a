package fltlibtest_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/fltemu/fltemu/fltlib/fltlibtest"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The suite against the emulator, with the test driver pushing the messages.
func TestConformanceEmulator(t *testing.T) {
	{
		w := harness.New(t)
		d := &testdriver.Driver{MaxConnections: 4}
		if err := w.Load("test", d); err != nil {
			t.Fatalf("Load: %v", err)
		}
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		fltlibtest.Run(t, fltlibtest.Env{
			Backend: p,
			Port:    `\TestPort`,
			Push: func(ctx context.Context, payload []byte, replyCap int) ([]byte, error) {
				conns := d.Conns()
				var reply []byte
				if replyCap > 0 {
					reply = make([]byte, replyCap)
				}
				st, n := d.Send(ctx, conns[len(conns)-1], payload, reply, nil)
				if st != kernel.STATUS_SUCCESS {
					return nil, st
				}
				return reply[:n], nil
			},
		})
	}
}
