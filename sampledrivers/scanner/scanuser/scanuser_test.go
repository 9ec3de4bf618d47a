package scanuser_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

// The scan is the sample's: the four bytes "foul", case-sensitive, anywhere.
func TestScanBuffer(t *testing.T) {
	for in, foul := range map[string]bool{"foul": true, "xxfoulxx": true, "fou": false, "fou l": false,
		"FOUL": false, "": false, "fofoul": true} {
		require.Equal(t, foul, scanuser.ScanBuffer([]byte(in)), "%q", in)
	}
}

// Out-of-range options are refused before connecting (the C program prints its usage).
func TestOptionsValidated(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		p := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
		for _, o := range []scanuser.Options{{Threads: 65}, {Threads: -1}, {Requests: -1}} {
			_, err := scanuser.Start(context.Background(), p, o)
			require.ErrorIs(t, err, scanuser.ErrInvalidOptions, "%+v", o)
			require.ErrorIs(t, err, kernel.E_INVALIDARG)
		}
		_, err := scanuser.Start(context.Background(), p, scanuser.Options{Threads: 64})
		require.ErrorIs(t, err, kernel.HRESULT(0x80070002), "valid: it tried to connect")
	})
}

// threads × requests overlapped Gets are outstanding while the service idles (2 × 5 by
// default); Stop ends them all and closes every handle.
func TestOutstandingGets(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.NoError(t, w.Load("scanner", &scanner.Driver{}))
		p := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
		for _, c := range []struct {
			opts *scanuser.Options
			gets int
		}{{nil, 10}, {&scanuser.Options{Threads: 64, Requests: 1}, 64}, {&scanuser.Options{Threads: 1, Requests: 3}, 3}} {
			sc, err := scanuser.Start(context.Background(), p, deref(c.opts))
			require.NoError(t, err)
			require.Equal(t, c.gets, pendingGets(w), "%v", w.Leftovers())
			require.NoError(t, sc.Stop())
			require.Zero(t, pendingGets(w))
			require.Empty(t, p.Kernel().Handles(), "the service closed its handles")
		}
		require.NoError(t, w.Unload("scanner"))
	})
}

// pendingGets counts the Gets still pending in the world.
func pendingGets(w *harness.World) int {
	n := 0
	for _, l := range w.Leftovers() {
		if l.Kind == kernel.LeftoverPendingGets {
			n += l.Count
		}
	}
	return n
}

func deref(o *scanuser.Options) scanuser.Options {
	if o == nil {
		return scanuser.Options{}
	}
	return *o
}

// The service stops when its ctx ends, as with Stop; a ctx already done or no backend is an
// error before anything is opened.
func TestStartContextAndBackend(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.NoError(t, w.Load("scanner", &scanner.Driver{}))
		p := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
		_, err := scanuser.Start(context.Background(), nil, scanuser.Options{})
		require.ErrorIs(t, err, kernel.E_INVALIDARG)
		done, cancelDone := context.WithCancel(context.Background())
		cancelDone()
		_, err = scanuser.Start(done, p, scanuser.Options{})
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, p.Kernel().Handles())

		ctx, cancel := context.WithCancel(context.Background())
		sc, err := scanuser.Start(ctx, p, scanuser.Options{})
		require.NoError(t, err)
		cancel()
		<-sc.Done()
		require.NoError(t, sc.Wait())
		require.Empty(t, p.Kernel().Handles(), "the service closed its handles")
		require.NoError(t, w.Unload("scanner"))
	})
}
