//go:build windows

package fltlibtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fltlib/fltlibtest"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
)

// The suite against the running system: fltlib.System() and the WDK scanner sample
// (scanner.sys, filter name "scanner"), installed and loaded. See the README, "Go services",
// for the steps.

const (
	// openEnv, in the helper process, names the file it opens.
	openEnv = "FLTLIBTEST_OPEN"
	// unloadEnv set to 1 lets DisconnectAtUnload run `fltmc unload scanner` and
	// `fltmc load scanner`.
	unloadEnv = "FLTLIBTEST_ALLOW_UNLOAD"
	// filterName is the scanner's service and filter name (scanner.inf).
	filterName = "scanner"

	exitDenied = 3 // the helper's open was denied (ERROR_ACCESS_DENIED)
	exitOther  = 4 // the helper's open failed otherwise
)

// windowsEnv drives the WDK scanner with real files: the test process (the connected service,
// whose own opens the scanner never scans) writes a .doc file, and a helper process (this
// test binary again, running TestWindowsOpenHelper) opens it, which the scanner scans.
type windowsEnv struct {
	b   fltlib.Backend
	dir string // where the scanned files are written
	exe string // this test binary

	mu sync.Mutex
	n  int // files written
}

func (e *windowsEnv) Backend() fltlib.Backend { return e.b }
func (e *windowsEnv) PortName() string        { return scannerproto.PortName }

func (e *windowsEnv) Scan(ctx context.Context, data []byte) error {
	e.mu.Lock()
	e.n++
	name := filepath.Join(e.dir, fmt.Sprintf("scan-%d.doc", e.n)) // doc: in every extension list of the sample
	e.mu.Unlock()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, e.exe, "-test.run=^TestWindowsOpenHelper$")
	cmd.Env = append(os.Environ(), openEnv+"="+name)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() == exitDenied:
		return kernel.ERROR_ACCESS_DENIED
	}
	return fmt.Errorf("opening %s in a helper process: %v: %s", name, err, out)
}

// Reload unloads and reloads the scanner with fltmc (a non-mandatory unload, the one
// R-UNLOAD-3 describes). The test only does it when told to: it changes the machine's state,
// and needs an elevated prompt.
func (e *windowsEnv) Reload() error {
	if os.Getenv(unloadEnv) != "1" {
		return fmt.Errorf("unloading the scanner from the test runs `fltmc unload %s` and `fltmc load %s` "+
			"(administrator); set %s=1 to allow it: %w", filterName, filterName, unloadEnv, errors.ErrUnsupported)
	}
	// A bound, so that an unload that waits for the scan the test holds fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, args := range [][]string{{"unload", filterName}, {"load", filterName}} {
		if out, err := exec.CommandContext(ctx, "fltmc", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("fltmc %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func TestConformanceWindows(t *testing.T) {
	b := fltlib.System()
	h, hr := b.FilterConnectCommunicationPort(scannerproto.PortName, 0, nil, 0, nil)
	switch hr {
	case kernel.S_OK:
		if err := b.CloseHandle(h); err != nil {
			t.Fatalf("CloseHandle: %v", err)
		}
	case kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND):
		t.Skipf("%s does not exist (%v): the WDK scanner sample is not loaded. Build and install it, "+
			"then `fltmc load %s` (README: Go services)", scannerproto.PortName, hr, filterName)
	case kernel.E_ACCESSDENIED:
		t.Fatalf("%s refused the connection (%v): its descriptor admits only SYSTEM and Administrators; "+
			"run the test binary from an elevated prompt", scannerproto.PortName, hr)
	case kernel.E_NOTIMPL:
		t.Skipf("fltlib.dll answers %v: a stub (Wine), no filter manager to talk to", hr)
	case kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT):
		t.Fatalf("%s already has its one connection (%v): stop scanuser.exe, or any other client, first",
			scannerproto.PortName, hr)
	default:
		t.Fatalf("connect %s: %v", scannerproto.PortName, hr)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	fltlibtest.Run(t, &windowsEnv{b: b, dir: t.TempDir(), exe: exe})
}

// TestWindowsOpenHelper is the process that opens a scanned file for TestConformanceWindows;
// its exit code is the result.
func TestWindowsOpenHelper(t *testing.T) {
	name := os.Getenv(openEnv)
	if name == "" {
		t.Skip("only run by TestConformanceWindows, as the process that opens a scanned file")
	}
	f, err := os.Open(name)
	switch {
	case err == nil:
		_ = f.Close()
		os.Exit(0)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		os.Exit(exitDenied)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(exitOther)
}

// TestSystemWithoutDriver needs no driver: fltlib.dll loads, its procedures resolve, and their
// HRESULTs come back as errors (a port that does not exist; under Wine, whose fltlib is a stub,
// E_NOTIMPL); bad input is refused before any call; the completion-port calls of kernel32 work
// and give back the very Overlapped that was posted.
func TestSystemWithoutDriver(t *testing.T) {
	b := fltlib.System()
	const missing = `\FltlibtestNoSuchPort`
	h, hr := b.FilterConnectCommunicationPort(missing, 0, nil, 0, nil)
	if hr == kernel.E_NOTIMPL {
		t.Logf("fltlib.dll answers E_NOTIMPL: a stub (Wine); the call and its HRESULT work")
	} else if hr != kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND) || h != kernel.InvalidHandle {
		t.Fatalf("connect %s: %v, handle %#x; want 0x80070002 and no handle (R-USER connect 5)", missing, hr, h)
	}
	if _, err := fltlib.Dial(context.Background(), b, missing, nil); !errors.Is(err, hr) {
		t.Fatalf("Dial %s: %v, want an error wrapping %v", missing, err, hr)
	}

	if hr := b.FilterGetMessage(0, nil, nil); hr != kernel.E_INVALIDARG {
		t.Errorf("FilterGetMessage nil buffer: %v", hr)
	}
	if hr := b.FilterReplyMessage(0, make([]byte, 15)); hr != kernel.E_INVALIDARG {
		t.Errorf("FilterReplyMessage 15 bytes: %v", hr)
	}
	if hr := b.FilterSendMessage(0, nil, nil, nil); hr != kernel.E_INVALIDARG {
		t.Errorf("FilterSendMessage nil input: %v", hr)
	}
	if _, hr := b.FilterConnectCommunicationPort(missing, 0, nil, 4, nil); hr != kernel.E_INVALIDARG {
		t.Errorf("connect with a nil context of 4 bytes: %v", hr)
	}
	if _, err := b.GetOverlappedResult(0, nil, false); !errors.Is(err, kernel.ERROR_INVALID_PARAMETER) {
		t.Errorf("GetOverlappedResult without an OVERLAPPED: %v", err)
	}

	port, err := b.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 1)
	if err != nil {
		t.Fatalf("CreateIoCompletionPort: %v", err)
	}
	if _, _, ov, err := b.GetQueuedCompletionStatus(port, 0); ov != nil || !errors.Is(err, kernel.ERROR_WAIT_TIMEOUT) {
		t.Errorf("empty completion port: %v, %v; want WAIT_TIMEOUT (R-IOCP)", ov, err)
	}
	posted := &fltlib.Overlapped{}
	if err := b.PostQueuedCompletionStatus(port, 42, 7, posted); err != nil {
		t.Fatalf("PostQueuedCompletionStatus: %v", err)
	}
	if n, key, ov, err := b.GetQueuedCompletionStatus(port, fltlib.INFINITE); n != 42 || key != 7 || ov != posted || err != nil {
		t.Errorf("posted packet: %d, %d, %p, %v; want 42, 7, %p, nil", n, key, ov, err, posted)
	}
	if err := b.PostQueuedCompletionStatus(port, 1, 9, nil); err != nil {
		t.Fatalf("PostQueuedCompletionStatus: %v", err)
	}
	if n, key, ov, err := b.GetQueuedCompletionStatus(port, fltlib.INFINITE); n != 1 || key != 9 || ov != nil || err != nil {
		t.Errorf("posted packet without an OVERLAPPED: %d, %d, %p, %v; want 1, 9, nil, nil", n, key, ov, err)
	}
	if err := b.CloseHandle(port); err != nil {
		t.Fatalf("CloseHandle: %v", err)
	}
	if err := b.CloseHandle(port); !errors.Is(err, kernel.ERROR_INVALID_HANDLE) {
		t.Errorf("second CloseHandle: %v, want ERROR_INVALID_HANDLE", err)
	}
}
