package harness

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/kernel"
)

// World is one emulated machine bound to a test: the kernel world (namespace, processes,
// trace, verifier), the filter manager, and the user-mode processes the test creates.
type World struct {
	k  *kernel.World
	fm *fltmgr.Manager

	mu       sync.Mutex
	procs    []*Process
	expected map[string]int // rule → times expected (0 means "at least once")
	closed   bool

	syncGets sync.Pool // *syncGet
}

// New makes a world for the test t and registers its teardown with t.Cleanup: every process
// exits, every loaded driver gets a mandatory unload (a driver that refuses is torn down as at
// shutdown), then the test fails for anything left over (handles, ports, connections, pending
// messages) and for each verifier violation it did not expect. When the test failed, the
// trace is logged as a table.
func New(t testing.TB) *World {
	t.Helper()
	w := NewWorld()
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("trace of the failed test:\n%s", w.k.Trace().Table())
		}
	})
	return w
}

// NewWorld makes a world that is not bound to a test (for programs such as the demo). Call
// Close when done.
func NewWorld() *World {
	k := kernel.New()
	w := &World{k: k, fm: fltmgr.New(k), expected: make(map[string]int)}
	w.syncGets.New = func() any { return &syncGet{ch: make(chan getResult, 1)} }
	return w
}

// Kernel returns the kernel world (namespace, trace, verifier).
func (w *World) Kernel() *kernel.World { return w.k }

// FilterManager returns the emulated filter manager.
func (w *World) FilterManager() *fltmgr.Manager { return w.fm }

// Trace returns the world's flight recorder.
func (w *World) Trace() *kernel.Trace { return w.k.Trace() }

// Violations returns the verifier's reports so far.
func (w *World) Violations() []kernel.Violation { return w.k.Verifier().Violations() }

// ExpectViolation declares that the test expects the verifier to report rule (e.g.
// "R-VERIFY-1") at least once. At teardown an expected rule that was not reported fails the
// test, and reports of it do not.
func (w *World) ExpectViolation(rule string) {
	w.mu.Lock()
	w.expected[rule] = 0
	w.mu.Unlock()
}

// Load loads a driver, as `fltmc load` or a service start: DriverEntry runs on the calling
// goroutine. It returns the HRESULT a user would get: S_OK, or HRESULT(DriverEntry's status).
func (w *World) Load(name string, d driverapi.Driver) kernel.HRESULT {
	return kernel.HResultFromNtStatus(w.fm.LoadDriver(name, d))
}

// Unload asks the filter to unload as `fltmc unload` does (FilterUnload, non-mandatory): the
// driver may refuse, and the result is ERROR_FLT_DO_NOT_DETACH (0x801F0010) then.
func (w *World) Unload(name string) kernel.HRESULT {
	return kernel.HResultFromNtStatus(w.fm.UnloadFilter(name, false))
}

// Stop unloads the filter as a service stop does (mandatory): the unload callback cannot
// refuse; a filter registered with FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP or without an
// unload callback gives ERROR_FLT_DO_NOT_DETACH.
func (w *World) Stop(name string) kernel.HRESULT {
	return kernel.HResultFromNtStatus(w.fm.UnloadFilter(name, true))
}

// NewProcess starts a user process with the given image name and token (see the token
// presets in package kernel: TokenSystem, TokenAdmin, TokenStandardUser, ...). It panics on a
// nil token or empty image name, which are test bugs.
func (w *World) NewProcess(image string, tok *kernel.Token) *Process {
	p, err := w.StartProcess(image, tok, nil, false)
	if err != nil {
		panic(err)
	}
	return p
}

// StartProcess starts a process, optionally as the child of parent inheriting its
// inheritable handles. It returns an error for a nil token, an empty image name or an exited
// parent.
func (w *World) StartProcess(image string, tok *kernel.Token, parent *Process, inheritHandles bool) (*Process, error) {
	var kp *kernel.Process
	if parent != nil {
		kp = parent.k
	}
	k, st := w.k.CreateProcess(image, tok, kp, inheritHandles)
	if st != kernel.STATUS_SUCCESS {
		return nil, fmt.Errorf("harness: cannot start %q: %w", image, st)
	}
	p := &Process{w: w, k: k}
	w.mu.Lock()
	w.procs = append(w.procs, p)
	w.mu.Unlock()
	return p, nil
}

// Close tears the world down (process exit, mandatory unload of every driver) and returns an
// error listing what was left over and the unexpected verifier violations, or the expected
// ones that did not happen. Calling it twice returns nil the second time.
func (w *World) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	procs := append([]*Process(nil), w.procs...)
	expected := make(map[string]int, len(w.expected))
	for k, v := range w.expected {
		expected[k] = v
	}
	w.mu.Unlock()

	for _, p := range procs {
		p.Exit(0)
	}
	w.fm.Shutdown()

	var problems []string
	for _, h := range w.k.OpenHandles() {
		problems = append(problems, "leftover: "+h.String())
	}
	for _, l := range w.fm.Leftovers() {
		problems = append(problems, "leftover: "+l.String())
	}
	for _, n := range w.k.Namespace().Names() {
		problems = append(problems, fmt.Sprintf("leftover: object name %q still in the namespace", n))
	}
	for _, v := range w.k.Verifier().Violations() {
		if _, ok := expected[v.Rule]; ok {
			expected[v.Rule]++
			continue
		}
		problems = append(problems, v.Error())
	}
	for rule, n := range expected {
		if n == 0 {
			problems = append(problems, fmt.Sprintf("expected a verifier report of %s, none came", rule))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("harness: world teardown:\n\t" + strings.Join(problems, "\n\t"))
}
