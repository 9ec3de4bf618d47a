package fltlibtest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fltemu/fltemu/internal/testmain"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fltlib/fltlibtest"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// scannerEnv is the Go port of the WDK scanner on an emulated C: volume: the same driver
// logic the suite meets on Windows, driven by real (emulated) file opens. The service process
// writes the files (the scanner never scans its own service's opens, on Windows either) and
// another process opens them.
type scannerEnv struct {
	w   *harness.World
	svc *harness.Process
	app *harness.Process

	mu sync.Mutex
	n  int // files written
}

func (e *scannerEnv) Backend() fltlib.Backend { return e.svc }
func (e *scannerEnv) PortName() string        { return scannerproto.PortName }

func (e *scannerEnv) Scan(_ context.Context, data []byte) error {
	e.mu.Lock()
	e.n++
	name := fmt.Sprintf(`C:\fltlibtest-%d.doc`, e.n)
	e.mu.Unlock()
	h, err := e.svc.CreateFile(name, kernel.GENERIC_WRITE, 0, nil, harness.CREATE_NEW, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, werr := e.svc.WriteFile(h, data)
	if err := e.svc.CloseHandle(h); err != nil || werr != nil {
		return fmt.Errorf("writing %s: %v, %v", name, werr, err)
	}
	h, err = e.app.CreateFile(name, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	if err != nil {
		return err
	}
	return e.app.CloseHandle(h)
}

// Reload unloads the scanner (a non-mandatory unload, as fltmc does) and loads a new one.
func (e *scannerEnv) Reload() error {
	if err := e.w.Unload("scanner"); err != nil {
		return err
	}
	return e.w.Load("scanner", newScanner())
}

func newScanner() *scanner.Driver {
	return &scanner.Driver{Config: scanner.Config{Extensions: scanner.InstallerExtensions()}}
}

// runEmulated runs each scenario in a world of its own, inside a synctest bubble (fake time:
// the driver-side timeouts take no real time), with the world's end-of-test checks (leaked
// handles, verifier violations) after each.
// kind is a nil value of the Env's type, for the capability check made outside the bubble (a
// skip inside it would show as a pass).
func runEmulated(t *testing.T, kind fltlibtest.Env, setup func(t *testing.T, w *harness.World) fltlibtest.Env) {
	for _, s := range fltlibtest.Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			if r := s.SkipReason(kind); r != "" {
				t.Skip(r)
			}
			harness.Run(t, func(t *testing.T, w *harness.World) { s.Run(t, setup(t, w)) })
		})
	}
}

// The suite against the Go port of the WDK scanner, the driver it meets on Windows.
func TestConformanceScanner(t *testing.T) {
	runEmulated(t, (*scannerEnv)(nil), func(t *testing.T, w *harness.World) fltlibtest.Env {
		w.MustAddVolume(fsys.VolumeConfig{Name: "C:"})
		if err := w.Load("scanner", newScanner()); err != nil {
			t.Fatalf("Load: %v", err)
		}
		return &scannerEnv{w: w,
			svc: w.NewProcess("svc.exe", kernel.TokenAdmin()),
			app: w.NewProcess("app.exe", kernel.TokenStandardUser())}
	})
}

// scriptedEnv is a scriptable model of the scanner: the port, its single connection and no
// MessageNotify, as the scanner has them, but the test says when the driver sends, with which
// reply buffer and timeout. It covers the scenarios the WDK driver cannot be made to play.
type scriptedEnv struct {
	w   *harness.World
	svc *harness.Process

	mu sync.Mutex
	d  *testdriver.Driver // the loaded driver; replaced by Reload
}

func newScripted() *testdriver.Driver {
	return &testdriver.Driver{PortName: scannerproto.PortName, MaxConnections: 1, NoMessage: true}
}

func (e *scriptedEnv) Backend() fltlib.Backend { return e.svc }
func (e *scriptedEnv) PortName() string        { return scannerproto.PortName }

func (e *scriptedEnv) driver() *testdriver.Driver {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.d
}

// Scan sends the notification as the scanner does (a 1-byte reply buffer, no timeout) and
// applies its rule: only STATUS_SUCCESS with SafeToOpen 0 denies.
func (e *scriptedEnv) Scan(ctx context.Context, data []byte) error {
	reply, st := e.DriverSend(ctx, scannerproto.EncodeNotification(data), scannerproto.ReplySize, 0)
	if safe, ok := scannerproto.DecodeReply(reply); st == kernel.STATUS_SUCCESS && ok && !safe {
		return kernel.ERROR_ACCESS_DENIED
	}
	return nil
}

func (e *scriptedEnv) DriverSend(ctx context.Context, payload []byte, replyCap int, timeout time.Duration) ([]byte, kernel.NTSTATUS) {
	d := e.driver()
	conns := d.Conns()
	if len(conns) == 0 {
		return nil, kernel.STATUS_PORT_DISCONNECTED
	}
	var reply []byte
	if replyCap >= 0 {
		reply = make([]byte, replyCap)
	}
	var to *int64
	if timeout > 0 {
		rel := -int64(timeout / 100) // relative, in 100 ns units
		to = &rel
	}
	st, n := d.Send(ctx, conns[len(conns)-1], payload, reply, to)
	if reply == nil {
		return nil, st
	}
	return reply[:n], st
}

func (e *scriptedEnv) Reload() error {
	if err := e.w.Unload("scanlike"); err != nil {
		return err
	}
	d := newScripted()
	if err := e.w.Load("scanlike", d); err != nil {
		return err
	}
	e.mu.Lock()
	e.d = d
	e.mu.Unlock()
	return nil
}

// The suite against the scriptable model: every scenario, the driver-side ones included.
func TestConformanceScripted(t *testing.T) {
	runEmulated(t, (*scriptedEnv)(nil), func(t *testing.T, w *harness.World) fltlibtest.Env {
		d := newScripted()
		if err := w.Load("scanlike", d); err != nil {
			t.Fatalf("Load: %v", err)
		}
		return &scriptedEnv{w: w, svc: w.NewProcess("svc.exe", kernel.TokenAdmin()), d: d}
	})
}
