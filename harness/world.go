package harness

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/kernel"
)

// SeedEnv is the environment variable that sets the fault-injection seed of every world that
// was not given one with [WithSeed]: `FLTEMU_SEED=1234 go test -run TestX` re-runs a test with
// the seed its failure printed.
const SeedEnv = "FLTEMU_SEED"

// World is one emulated machine bound to a test: the kernel world (namespace, processes,
// trace, verifier), the filter manager, and the user-mode processes the test creates.
//
// Lock order: World.mu is taken alone; it is never held across a call into the kernel or the
// filter manager. The module's lock-order tree is in the fltmgr package comment.
type World struct {
	k      *kernel.World
	fm     *fltmgr.Manager
	faults *Faults

	mu        sync.Mutex
	procs     []*Process
	expected  []*Expectation
	closed    bool
	allowOpen bool // AllowOpenHandles: handles open at teardown are not reported

	syncGets sync.Pool // *syncGet
}

// Option configures a world made by [New], [NewWorld] or [Run].
type Option func(*options)

type options struct {
	seed     int64
	seedSet  bool
	traceCap int
	capSet   bool
}

// WithTraceCapacity sets how many of the most recent events the world's trace keeps (see
// [kernel.Trace.SetCapacity]); the default is [kernel.DefaultTraceCapacity]. n <= 0 keeps
// every event: see [WithFullTrace].
func WithTraceCapacity(n int) Option {
	return func(o *options) { o.traceCap, o.capSet = n, true }
}

// WithFullTrace makes the world's trace keep every event instead of the most recent
// [kernel.DefaultTraceCapacity]: ask for it when the whole story matters, for a [Golden] file
// of the trace or a [Mermaid] diagram of a long scenario. Memory then grows with every event.
func WithFullTrace() Option { return WithTraceCapacity(0) }

// WithSeed sets the fault-injection seed (see [Faults]). Without it the seed comes from the
// FLTEMU_SEED environment variable, or else is derived from the test's name (New, Run) or is
// 1 (NewWorld), so that a run is reproducible.
func WithSeed(seed int64) Option {
	return func(o *options) { o.seed, o.seedSet = seed, true }
}

// New makes a world for the test t and registers its teardown with t.Cleanup (see
// [World.Close]): every process exits, every loaded driver gets a mandatory unload, then the
// test fails for anything left over (listed with its owner) and for each verifier violation
// it did not expect, or each expected one that did not come. When the test failed, the trace
// is logged as a table, and the fault-injection seed if the test injected faults.
//
// With [MermaidDirEnv] set, a failed test also writes its trace as a Mermaid diagram into that
// directory. A world made outside a synctest bubble has a real clock: the first of its timed
// waits (a FltSendMessage timeout, say) that takes a second or more of real time makes it log,
// once, that the test could take no time inside a bubble, and how.
//
// A world made inside a synctest bubble must be torn down inside it: New with the bubble's t
// does that. [Run] does both in one call.
func New(t testing.TB, opts ...Option) *World {
	t.Helper()
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	seedFrom := "WithSeed"
	if !o.seedSet {
		var err error
		var ok bool
		if o.seed, ok, err = seedFromEnv(); err != nil {
			t.Fatalf("harness: %v", err)
		} else if ok {
			seedFrom = SeedEnv
		} else {
			h := fnv.New64a()
			h.Write([]byte(t.Name()))
			o.seed = int64(h.Sum64() >> 1)
			seedFrom = "the test name"
		}
		o.seedSet = true
	}
	w := newWorld(o)
	stopWatch := func() {}
	if currentBubble() == "" {
		// Real time: a test that waits out a timeout here waits for real.
		stopWatch = w.watchRealTimeWaits(t)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
		stopWatch()
		if t.Failed() {
			t.Logf("trace of the failed test:\n%s", w.k.Trace().Table())
			if w.faults.Used() {
				t.Logf("fault injection seed %d (from %s); re-run with %s=%d go test -run '^%s$'",
					w.faults.Seed(), seedFrom, SeedEnv, w.faults.Seed(), t.Name())
			}
			w.writeFailureDiagram(t)
		}
	})
	return w
}

// NewWorld makes a world that is not bound to a test (for programs such as the demo, and for
// tests that want to look at the teardown's error themselves). Call Close when done. It
// panics if FLTEMU_SEED is set to something that is not an integer.
func NewWorld(opts ...Option) *World {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.seedSet {
		seed, ok, err := seedFromEnv()
		if err != nil {
			panic("harness: " + err.Error())
		}
		o.seed = 1
		if ok {
			o.seed = seed
		}
	}
	return newWorld(o)
}

func newWorld(o options) *World {
	k := kernel.New()
	if o.capSet {
		k.Trace().SetCapacity(o.traceCap)
	}
	w := &World{k: k, fm: fltmgr.New(k)}
	w.faults = &Faults{w: w, seed: o.seed}
	w.syncGets.New = func() any { return &syncGet{ch: make(chan getResult, 1)} }
	return w
}

func seedFromEnv() (int64, bool, error) {
	s := os.Getenv(SeedEnv)
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s=%q is not an integer", SeedEnv, s)
	}
	return v, true, nil
}

func (w *World) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// Kernel returns the kernel world (namespace, trace, verifier).
func (w *World) Kernel() *kernel.World { return w.k }

// FilterManager returns the emulated filter manager.
func (w *World) FilterManager() *fltmgr.Manager { return w.fm }

// Trace returns the world's flight recorder.
func (w *World) Trace() *kernel.Trace { return w.k.Trace() }

// Faults returns the world's fault injector.
func (w *World) Faults() *Faults { return w.faults }

// Violations returns the verifier's reports so far (the ones taken with TakeViolations
// excepted).
func (w *World) Violations() []kernel.Violation { return w.k.Verifier().Violations() }

// TakeViolations returns the verifier's reports so far and marks them handled: a test that
// asserts on the violations itself takes them, and the end-of-test check does not report them
// again. Violations reported later (during teardown, for instance) are not affected.
func (w *World) TakeViolations() []kernel.Violation { return w.k.Verifier().Take() }

// Expectation is a verifier report a test declared it expects (see [World.ExpectViolation]).
type Expectation struct {
	w        *World
	rule     kernel.RuleID
	contains []string
	times    int // 0: at least once
	matched  int // guarded by w.mu
}

// ExpectViolation declares that the test expects the verifier to report rule (e.g.
// [kernel.RuleVerify1]) at least once. At teardown an expected rule that was not reported
// fails the test, and reports of it do not. Refine it with Containing and Times.
func (w *World) ExpectViolation(rule kernel.RuleID) *Expectation {
	if rule == "" {
		panic("harness: ExpectViolation needs a rule id such as kernel.RuleVerify1")
	}
	e := &Expectation{w: w, rule: rule}
	w.mu.Lock()
	w.expected = append(w.expected, e)
	w.mu.Unlock()
	return e
}

// Containing restricts the expectation to reports whose text (Violation.Error) contains every
// one of parts: a driver name, a port name, "connection 2", ... It returns e.
func (e *Expectation) Containing(parts ...string) *Expectation {
	e.w.mu.Lock()
	e.contains = append(e.contains, parts...)
	e.w.mu.Unlock()
	return e
}

// Times makes the expectation exact: exactly n matching reports (n ≥ 1). Further reports are
// unexpected violations. It returns e.
func (e *Expectation) Times(n int) *Expectation {
	if n < 1 {
		panic("harness: Expectation.Times needs n >= 1")
	}
	e.w.mu.Lock()
	e.times = n
	e.w.mu.Unlock()
	return e
}

// String is the rule, with the parts the report must contain.
func (e *Expectation) String() string {
	s := string(e.rule)
	if len(e.contains) > 0 {
		q := make([]string, len(e.contains))
		for i, c := range e.contains {
			q[i] = kernel.Quote(c)
		}
		s += " containing [" + strings.Join(q, " ") + "]"
	}
	return s
}

// full says the expectation took all the reports its Times allows (w.mu held).
func (e *Expectation) full() bool { return e.times > 0 && e.matched >= e.times }

// describes says v is a report of the expected rule containing every expected part.
func (e *Expectation) describes(v kernel.Violation) bool {
	if v.Rule != e.rule {
		return false
	}
	text := v.Error()
	for _, p := range e.contains {
		if !strings.Contains(text, p) {
			return false
		}
	}
	return true
}

// Load loads a driver, as `fltmc load` or a service start: DriverEntry runs on the calling
// goroutine. It returns nil when DriverEntry succeeded (any NT_SUCCESS status: the driver is
// loaded), else a *DriverError wrapping the HRESULT a user would get (HRESULT(DriverEntry's
// status), so errors.Is(err, kernel.E_INVALIDARG) works) and naming the routine that failed
// inside DriverEntry and why:
//
//	require.NoError(t, w.Load("scanner", &scanner.Driver{}))
func (w *World) Load(name string, d driverapi.Driver) error {
	st := w.fm.LoadDriver(name, d)
	if st.IsSuccess() {
		return nil
	}
	e := &DriverError{Op: "load", Driver: name, HRESULT: kernel.HResultFromNtStatus(st), Status: st}
	switch {
	case name == "" || strings.ContainsAny(name, `\/`) || d == nil:
		e.Reason = "the driver name must be a plain non-empty name and the driver not nil; DriverEntry did not run"
	case st != kernel.STATUS_IMAGE_ALREADY_LOADED || !w.loadedHere(name):
		// STATUS_IMAGE_ALREADY_LOADED from DriverEntry itself: the image is loaded in another
		// world (a C driver, whose globals are one per process), and its runtime said so.
		e.Failed = w.fm.DriverEntryFailure(name)
	}
	return e
}

// loadedHere reports whether a driver of that name is loaded (or loading) in this world.
func (w *World) loadedHere(name string) bool {
	for _, n := range w.fm.Drivers() {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// DriverError is the error of Load, Unload and Stop: the operation, the driver, the HRESULT
// fltmc or the service control manager would report (Unwrap returns it) and the NTSTATUS
// behind it; for a failed load, the routine that failed inside DriverEntry when the emulator
// saw one.
type DriverError struct {
	Op      string          // "load", "unload" or "stop"
	Driver  string          // the driver's name
	HRESULT kernel.HRESULT  // what a user of fltmc would see
	Status  kernel.NTSTATUS // DriverEntry's status, or the unload's
	Failed  *fltmgr.EntryFailure
	Reason  string // why the call was refused before DriverEntry ran, if it was
}

// Error says which call failed and why, e.g. `harness: load "scanner": DriverEntry returned
// STATUS_INVALID_PARAMETER (0xC000000D): FltRegisterFilter failed with STATUS_INVALID_PARAMETER
// (0xC000000D): the registration's Version 0x0100 is not one the filter manager knows ...`.
func (e *DriverError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "harness: %s %q: ", e.Op, e.Driver)
	switch e.Op {
	case "load":
		if e.Status == kernel.STATUS_IMAGE_ALREADY_LOADED && e.Failed == nil {
			fmt.Fprintf(&b, "the driver is loaded already (%v)", e.HRESULT)
			break
		}
		if e.Reason != "" {
			fmt.Fprintf(&b, "%v: %s", e.HRESULT, e.Reason)
			break
		}
		fmt.Fprintf(&b, "DriverEntry returned %v", e.Status)
		if e.Failed != nil {
			fmt.Fprintf(&b, ": %v", e.Failed)
		}
	default:
		fmt.Fprintf(&b, "%v", e.HRESULT)
		switch e.Status {
		case kernel.STATUS_FLT_DO_NOT_DETACH:
			b.WriteString(" (the driver refused, has no FilterUnload, or registered FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP)")
		case kernel.STATUS_FLT_FILTER_NOT_FOUND:
			b.WriteString(" (no such driver is loaded)")
		}
	}
	return b.String()
}

// Unwrap returns the HRESULT.
func (e *DriverError) Unwrap() error { return e.HRESULT }

// unloadError is nil for a successful unload, else a *DriverError.
func unloadError(op, name string, st kernel.NTSTATUS) error {
	if st.IsSuccess() {
		return nil
	}
	return &DriverError{Op: op, Driver: name, HRESULT: kernel.HResultFromNtStatus(st), Status: st}
}

// Unload asks the filter to unload as `fltmc unload` does (FilterUnload, non-mandatory): the
// driver may refuse, and the result is a *DriverError wrapping ERROR_FLT_DO_NOT_DETACH
// (0x801F0010) then; nil when the driver unloaded. FilterUnload,
// and the DisconnectNotify calls its FltUnregisterFilter makes, run on a system thread
// (driverapi.CurrentProcess is nil there).
func (w *World) Unload(name string) error {
	return unloadError("unload", name, w.fm.UnloadFilter(context.Background(), name, false))
}

// Stop unloads the filter as a service stop does (mandatory): the unload callback cannot
// refuse; a filter registered with FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP or without an
// unload callback gives a *DriverError wrapping ERROR_FLT_DO_NOT_DETACH; nil when it unloaded.
func (w *World) Stop(name string) error {
	return unloadError("stop", name, w.fm.UnloadFilter(context.Background(), name, true))
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
	p := &Process{w: w, k: k, thread: fltmgr.ThreadContext(k)}
	w.mu.Lock()
	w.procs = append(w.procs, p)
	w.mu.Unlock()
	return p, nil
}

// Leftovers lists what is alive now, each as a [kernel.Leftover] with its owner: user
// handles, completion packets queued in a completion port, server ports, connections whose
// client port is open, pending Gets, blocked senders, reply waiters, and object names no
// server port accounts for. Mid-test it shows what a teardown would have to clean up; after
// Close it is what the end-of-test check reports.
func (w *World) Leftovers() []kernel.Leftover {
	var out []kernel.Leftover
	for _, h := range w.k.OpenHandles() {
		out = append(out, handleLeftover(h))
	}
	out = append(out, w.queuedPackets()...)
	fm := w.fm.Leftovers()
	ports := map[string]bool{}
	for _, l := range fm {
		if l.Kind == kernel.LeftoverServerPort {
			ports[l.Object] = true
		}
	}
	out = append(out, fm...)
	for _, n := range w.k.Namespace().Names() {
		if !ports[n] {
			out = append(out, kernel.Leftover{Kind: kernel.LeftoverName, Object: n})
		}
	}
	return out
}

func handleLeftover(h kernel.HandleInfo) kernel.Leftover {
	return kernel.Leftover{Kind: kernel.LeftoverHandle, Process: h.Process.String(), Object: h.Object.String(), Handle: h.Handle}
}

// queuedPackets lists the completion ports with packets nobody dequeued, once per port, owned
// by the processes holding a handle to it.
func (w *World) queuedPackets() []kernel.Leftover {
	type portInfo struct {
		owners []string
		n      int
	}
	var order []*kernel.CompletionPort
	ports := map[*kernel.CompletionPort]*portInfo{}
	for _, h := range w.k.OpenHandles() {
		cp, ok := h.Object.Body().(*kernel.CompletionPort)
		if !ok || h.Object.Type() != TypeIoCompletion {
			continue
		}
		pi := ports[cp]
		if pi == nil {
			pi = &portInfo{n: cp.Len()}
			ports[cp] = pi
			order = append(order, cp)
		}
		pi.owners = append(pi.owners, fmt.Sprintf("%s (handle %#x)", h.Process, uintptr(h.Handle)))
	}
	var out []kernel.Leftover
	for _, cp := range order {
		pi := ports[cp]
		if pi.n == 0 {
			continue
		}
		out = append(out, kernel.Leftover{Kind: kernel.LeftoverCompletionPackets, Process: strings.Join(pi.owners, ", "), Count: pi.n})
	}
	return out
}

// AllowOpenHandles lets the test end with user handles still open in its processes: the
// teardown's process exits close them without a report. Use it where leaving the handles to
// the process exit is the point of the test; [Process.AllowOpenHandles] allows it for one
// process only.
func (w *World) AllowOpenHandles() {
	w.mu.Lock()
	w.allowOpen = true
	w.mu.Unlock()
}

// leakedHandles lists the user handles still open in the processes the harness started and
// the test neither exited nor allowed to keep them.
func (w *World) leakedHandles(procs []*Process) (out []kernel.Leftover, ports bool) {
	w.mu.Lock()
	allowed := w.allowOpen
	w.mu.Unlock()
	if allowed {
		return nil, false
	}
	for _, p := range procs {
		if p.allowOpen.Load() || p.k.Exited() {
			continue
		}
		for _, h := range p.k.Handles() {
			out = append(out, handleLeftover(h))
			ports = ports || h.Object.Type() == TypeFilterConnectionPort
		}
	}
	return out, ports
}

// Close tears the world down and checks that nothing is left. In order:
//
//  0. Fault injection stops: the teardown itself runs without injected faults or kills.
//  1. Completion packets still queued in a completion port whose handle is open are
//     reported (a completion the program never processed: a message never answered, an
//     error never seen). Decision: this check runs before teardown, since process exit
//     closes the ports and drops their packets. So is every user handle still open in a
//     process the test did not Exit (a handle the program leaked), unless the test allowed
//     it with [World.AllowOpenHandles] or [Process.AllowOpenHandles].
//  2. Every process the harness started exits (closing its handles: connections end,
//     DisconnectNotify runs).
//  3. Every loaded driver gets a mandatory unload (a driver that cannot be unloaded is torn
//     down as at shutdown).
//  4. Whatever is still alive is reported with its owner: user handles (of processes the
//     harness did not start, which are then made to exit), server ports, connections,
//     pending Gets, blocked senders, reply waiters, object names.
//  5. Each verifier violation not declared with ExpectViolation (or taken with
//     TakeViolations) is reported, and each expectation that was not met.
//
// It returns an error listing every problem, or nil. Calling it twice returns nil the second
// time.
func (w *World) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	procs := append([]*Process(nil), w.procs...)
	w.mu.Unlock()

	w.faults.stop()
	var problems []string
	for _, l := range w.queuedPackets() {
		problems = append(problems, "leftover at teardown: "+l.String())
	}
	if leaked, ports := w.leakedHandles(procs); len(leaked) > 0 {
		for _, l := range leaked {
			problems = append(problems, "leftover at teardown: "+l.String())
		}
		problems = append(problems, "(close the handles, or Exit the process; a test that means to leave them open says so with World.AllowOpenHandles or Process.AllowOpenHandles)")
		if ports {
			// The one way a closed connection handle can still be open: fltlib.Conn.Close
			// leaves the CloseHandle to a call of the Conn still inside the kernel.
			problems = append(problems, "(if a fltlib.Conn you closed owns a connection handle here: the Conn closes it when its last call still inside the kernel returns; wait for the goroutine making that call before the teardown)")
		}
	}
	for _, p := range procs {
		p.Exit(0)
	}
	w.fm.Shutdown()

	for _, l := range w.Leftovers() {
		problems = append(problems, "leftover after teardown: "+l.String())
	}
	// Processes started behind the harness's back (kernel.World.CreateProcess) were reported
	// with their handles above; end them so that nothing outlives the world.
	for _, kp := range w.k.Processes() {
		kp.Exit(0)
	}
	problems = append(problems, w.checkViolations()...)
	if len(problems) == 0 {
		return nil
	}
	return errors.New("harness: world teardown:\n\t" + strings.Join(problems, "\n\t"))
}

func (w *World) checkViolations() []string {
	vs := w.k.Verifier().Violations()
	w.mu.Lock()
	defer w.mu.Unlock()
	var problems []string
	for _, v := range vs {
		// The narrowest matching expectation takes the report (so that a broad one does not
		// starve a narrower one), one not met yet first. full is one that describes the report
		// but took all its Times already: the report is one too many, and the failure says so.
		var hit, full *Expectation
		for _, e := range w.expected {
			switch {
			case !e.describes(v):
			case e.full():
				if full == nil {
					full = e
				}
			case hit == nil || len(e.contains) > len(hit.contains) ||
				len(e.contains) == len(hit.contains) && hit.matched > 0 && e.matched == 0:
				hit = e
			}
		}
		switch {
		case hit != nil:
			hit.matched++
		case full != nil:
			problems = append(problems, fmt.Sprintf("one more verifier report of %s than the %d expected (Times(%d)): %s",
				full, full.times, full.times, v.Error()))
		default:
			problems = append(problems, v.Error())
		}
	}
	exp := append([]*Expectation(nil), w.expected...)
	sort.SliceStable(exp, func(i, j int) bool { return exp[i].rule < exp[j].rule })
	for _, e := range exp {
		switch {
		case e.times == 0 && e.matched == 0:
			problems = append(problems, fmt.Sprintf("expected a verifier report of %s, none came", e))
		case e.times > 0 && e.matched != e.times:
			problems = append(problems, fmt.Sprintf("expected %d verifier report(s) of %s, got %d", e.times, e, e.matched))
		}
	}
	return problems
}

// HRESULTOf returns the HRESULT an error of Load, Unload or Stop carries, S_OK for nil: for a
// table-driven test or a program that prints what fltmc would. It serves any error that wraps
// an HRESULT (fltlib's, say); one that wraps none is E_FAIL.
func HRESULTOf(err error) kernel.HRESULT {
	if err == nil {
		return kernel.S_OK
	}
	var hr kernel.HRESULT
	if errors.As(err, &hr) {
		return hr
	}
	return kernel.E_FAIL
}
