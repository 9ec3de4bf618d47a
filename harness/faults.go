package harness

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/kernel"
)

// Names of the user-side fltlib routines fault injection can fail, besides the kernel-side
// ones of [fltmgr.Routines].
const (
	RoutineFilterGetMessage   = "FilterGetMessage"
	RoutineFilterReplyMessage = "FilterReplyMessage"
	RoutineFilterSendMessage  = "FilterSendMessage"
)

// KilledExitCode is the exit code of a process killed by [Faults.KillAt] (TerminateProcess
// with 1).
const KilledExitCode uint32 = 1

// FaultRoutines lists every routine name fault injection accepts: FltRegisterFilter,
// FltStartFiltering, FltCreateCommunicationPort, FltSendMessage,
// FilterConnectCommunicationPort, FilterGetMessage, FilterReplyMessage, FilterSendMessage.
func FaultRoutines() []string {
	return append(fltmgr.Routines(), RoutineFilterGetMessage, RoutineFilterReplyMessage, RoutineFilterSendMessage)
}

// FaultCall describes one call of a routine as fault injection sees it.
type FaultCall struct {
	Routine string
	Driver  string // the driver making the call (kernel routines); "" for a connect and for user calls
	Process string // the calling process, for the user-side routines
	N       int    // the rank of the call among the calls of Routine since the rule was added: 1, 2, ...
	Status  kernel.NTSTATUS
	Rule    string // "FailNth", "FailRandom" or "FailIf"
}

// String describes the failed call on one line.
func (c FaultCall) String() string {
	who := c.Driver
	if c.Process != "" {
		who = c.Process
	}
	if who != "" {
		who = " by " + who
	}
	return fmt.Sprintf("%s call %d%s failed with %v (%s)", c.Routine, c.N, who, c.Status, c.Rule)
}

// Faults injects failures into one world: the Nth call of a routine, a seeded random share of
// its calls, or the calls a predicate picks fail with a chosen status instead of doing their
// work; and a user process can be killed at a chosen trace event. Every injected failure is
// recorded in the trace (EvFaultInjected).
//
// Random failures are reproducible: whether the k-th call of a routine fails depends only on
// the seed, the routine, the rule and k, not on how goroutines interleave. A test that injects
// faults prints its seed when it fails; FLTEMU_SEED=<seed> re-runs it with that seed.
//
// A kernel-side routine (FltSendMessage, ...) fails before it does anything, with the status
// returned to the driver; a user-side one (FilterGetMessage, ...) returns HRESULT(status) to
// the caller, after the argument and handle checks. STATUS_TIMEOUT is allowed: FltSendMessage
// then returns that success code without sending.
type Faults struct {
	w    *World
	seed int64

	mu       sync.Mutex
	rules    []*faultRule
	hooked   bool
	injected []FaultCall
	unsubs   []func()

	active atomic.Bool // some rule exists: the user-side calls consult decide
	used   atomic.Bool // a rule or a kill was ever configured
}

type faultRule struct {
	routine string
	status  kernel.NTSTATUS
	kind    string
	nth     int
	share   float64
	pred    func(FaultCall) bool
	idx     int
	count   int // calls of routine seen since the rule was added, guarded by Faults.mu
}

// Seed returns the seed of the random failures.
func (f *Faults) Seed() int64 { return f.seed }

// Used reports whether the test configured any fault or kill.
func (f *Faults) Used() bool { return f.used.Load() }

// Injected returns the calls made to fail so far, in order.
func (f *Faults) Injected() []FaultCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FaultCall(nil), f.injected...)
}

// FailNth makes the nth call (1 for the next one) of routine, counted from now, fail with
// status. It returns an error for an unknown routine (listing the valid ones), n < 1 or
// STATUS_SUCCESS.
func (f *Faults) FailNth(routine string, n int, status kernel.NTSTATUS) error {
	if n < 1 {
		return fmt.Errorf("harness: FailNth(%q, %d): n counts from 1", routine, n)
	}
	return f.add(&faultRule{routine: routine, status: status, kind: "FailNth", nth: n})
}

// FailRandom makes a share (0 to 1) of the calls of routine fail with status, drawn from the
// world's seed. It returns an error for an unknown routine, a share outside [0, 1] or
// STATUS_SUCCESS.
func (f *Faults) FailRandom(routine string, share float64, status kernel.NTSTATUS) error {
	if !(share >= 0 && share <= 1) {
		return fmt.Errorf("harness: FailRandom(%q, %v): the share must be between 0 and 1", routine, share)
	}
	return f.add(&faultRule{routine: routine, status: status, kind: "FailRandom", share: share})
}

// FailIf makes the calls of routine for which pred returns true fail with status. pred sees
// the call's routine, driver or process and rank (N); it runs on the caller's goroutine with
// no lock held, possibly on several goroutines at once. It returns an error for an unknown
// routine, a nil pred or STATUS_SUCCESS.
func (f *Faults) FailIf(routine string, status kernel.NTSTATUS, pred func(FaultCall) bool) error {
	if pred == nil {
		return fmt.Errorf("harness: FailIf(%q): nil predicate", routine)
	}
	return f.add(&faultRule{routine: routine, status: status, kind: "FailIf", pred: pred})
}

func (f *Faults) add(r *faultRule) error {
	if !validRoutine(r.routine) {
		return fmt.Errorf("harness: %s: unknown routine %q; valid routines: %s", r.kind, r.routine, strings.Join(FaultRoutines(), ", "))
	}
	if r.status == kernel.STATUS_SUCCESS {
		return fmt.Errorf("harness: %s(%q): STATUS_SUCCESS is not a fault", r.kind, r.routine)
	}
	if f.w.isClosed() {
		return errors.New("harness: the world is closed")
	}
	f.mu.Lock()
	r.idx = len(f.rules)
	f.rules = append(f.rules, r)
	if !f.hooked {
		f.hooked = true
		f.w.fm.SetFaultHook(func(routine, driver string) kernel.NTSTATUS { return f.decide(routine, driver, "") })
	}
	f.mu.Unlock()
	f.active.Store(true)
	f.used.Store(true)
	return nil
}

func validRoutine(name string) bool {
	for _, r := range FaultRoutines() {
		if r == name {
			return true
		}
	}
	return false
}

// Clear removes every fault rule and cancels every pending kill.
func (f *Faults) Clear() {
	f.mu.Lock()
	f.rules = nil
	unsubs := f.unsubs
	f.unsubs = nil
	f.mu.Unlock()
	f.active.Store(false)
	for _, u := range unsubs {
		u()
	}
}

// stop ends fault injection: the teardown runs without injected faults.
func (f *Faults) stop() {
	f.Clear()
	f.mu.Lock()
	hooked := f.hooked
	f.hooked = false
	f.mu.Unlock()
	if hooked {
		f.w.fm.SetFaultHook(nil)
	}
}

// userCall is consulted by the user-side fltlib calls of process p.
func (f *Faults) userCall(routine string, p *Process) kernel.NTSTATUS {
	if !f.active.Load() {
		return kernel.STATUS_SUCCESS // inlined: no rule was ever added
	}
	return f.userDecide(routine, p)
}

func (f *Faults) userDecide(routine string, p *Process) kernel.NTSTATUS {
	return f.decide(routine, "", p.String())
}

// decide counts the call for every rule of routine and returns the status of the first rule
// that fires, or STATUS_SUCCESS. It is called on the caller's goroutine with no lock held.
func (f *Faults) decide(routine, driver, process string) kernel.NTSTATUS {
	type cand struct {
		r *faultRule
		n int
	}
	var cands []cand
	f.mu.Lock()
	for _, r := range f.rules {
		if r.routine == routine {
			r.count++
			cands = append(cands, cand{r, r.count})
		}
	}
	f.mu.Unlock()
	for _, c := range cands {
		call := FaultCall{Routine: routine, Driver: driver, Process: process, N: c.n, Status: c.r.status, Rule: c.r.kind}
		var fire bool
		switch c.r.kind {
		case "FailNth":
			fire = c.n == c.r.nth
		case "FailRandom":
			fire = draw(f.seed, routine, c.r.idx, c.n) < c.r.share
		case "FailIf":
			fire = c.r.pred(call)
		}
		if fire {
			f.mu.Lock()
			f.injected = append(f.injected, call)
			f.mu.Unlock()
			f.w.Trace().Add(kernel.TraceEvent{Kind: kernel.EvFaultInjected, Process: process, Driver: driver, Routine: routine,
				Detail: fmt.Sprintf("%s call %d failed (%s)", routine, c.n, c.r.kind)}.WithStatus(c.r.status))
			return c.r.status
		}
	}
	return kernel.STATUS_SUCCESS
}

// draw returns a number in [0, 1) that depends only on its arguments.
func draw(seed int64, routine string, rule, n int) float64 {
	h := fnv.New64a()
	h.Write([]byte(routine))
	x := splitmix64(uint64(seed) ^ h.Sum64())
	x = splitmix64(x ^ uint64(rule)<<32 ^ uint64(n))
	return float64(x>>11) / (1 << 53)
}

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// KillAt kills process p (as TerminateProcess with exit code 1 would) at the first trace
// event for which when returns true: synchronously, on the goroutine that recorded the event,
// right after it was recorded, so "right after it received message k" means before the
// process could reply (use [Received]). What a killed process's goroutines do afterwards no
// longer matters: a Get that completes after the kill returns its result to a dead process.
// The kill is recorded in the trace (EvFaultInjected), then the process exits: its handles
// close, its connections end and DisconnectNotify runs, all before the event's recorder goes
// on. when sees every event, possibly from several goroutines at once. It returns an error
// for a nil or foreign process or a nil predicate.
func (f *Faults) KillAt(p *Process, when func(kernel.TraceEvent) bool) error {
	if p == nil || p.w != f.w {
		return errors.New("harness: KillAt: the process is nil or belongs to another world")
	}
	if when == nil {
		return errors.New("harness: KillAt: nil predicate")
	}
	if f.w.isClosed() {
		return errors.New("harness: the world is closed")
	}
	var fired atomic.Bool
	tr := f.w.Trace()
	unsub := tr.Subscribe(func(e kernel.TraceEvent) {
		if fired.Load() || !when(e) || !fired.CompareAndSwap(false, true) {
			return
		}
		tr.Add(kernel.TraceEvent{Kind: kernel.EvFaultInjected, Process: p.String(), Driver: e.Driver, Conn: e.Conn, MsgID: e.MsgID,
			Detail: fmt.Sprintf("killing the process at event #%d (%s)", e.Seq, e.Kind)})
		p.Exit(KilledExitCode)
	})
	f.mu.Lock()
	f.unsubs = append(f.unsubs, unsub)
	f.mu.Unlock()
	f.used.Store(true)
	return nil
}

// At returns a predicate for KillAt that is true at the k-th event (from 1) of the given kind
// concerning process p (any process when p is nil).
func At(kind kernel.EventKind, p *Process, k int) func(kernel.TraceEvent) bool {
	name := ""
	if p != nil {
		name = p.String()
	}
	var n atomic.Int64
	return func(e kernel.TraceEvent) bool {
		return e.Kind == kind && (name == "" || e.Process == name) && n.Add(1) == int64(k)
	}
}

// Received returns a predicate for KillAt that is true when the k-th kernel message (from 1)
// is delivered to process p, over all its connections: the message is in the process's
// buffer, and the process has not replied yet. Messages are counted by the process that made
// the connection, also when a duplicate handle in another process receives them.
func Received(p *Process, k int) func(kernel.TraceEvent) bool {
	return At(kernel.EvMessageDelivered, p, k)
}
