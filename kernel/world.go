package kernel

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// World is one emulated machine: its object namespace, processes, trace and verifier. Every
// test makes its own with New; nothing is shared between worlds.
type World struct {
	ns       *Namespace
	trace    *Trace
	verifier *Verifier
	irqls    IRQLs

	mu      sync.Mutex
	procs   map[uint32]*Process
	nextPID uint32

	timedWaits atomic.Pointer[TimedWaitObserver]
}

// TimedWaitObserver is told of each timed wait of the world as it ends: a wait with a timeout
// (FltSendMessage's, GetQueuedCompletionStatus's, KeWaitForSingleObject's, ...) that fake time
// would skip. routine names the call; began is when it started waiting.
type TimedWaitObserver func(routine string, began time.Time)

// ObserveTimedWaits installs f as the world's timed-wait observer (nil removes it). The
// harness installs one when a world lives outside a synctest bubble, where such waits take
// real time, to tell the test how to make them free.
func (w *World) ObserveTimedWaits(f TimedWaitObserver) {
	if f == nil {
		w.timedWaits.Store(nil)
		return
	}
	w.timedWaits.Store(&f)
}

// TimedWait is what a timed wait calls as it starts: it returns the function to call, once,
// when the wait ends (deferred, typically), or nil when nobody observes timed waits, so that
// the wait reads no clock for nothing. An observed wait allocates nothing either: a world
// outside a synctest bubble is observed, and its message round trips stay free of garbage.
func (w *World) TimedWait(routine string) (end func()) {
	f := w.timedWaits.Load()
	if f == nil {
		return nil
	}
	tw, _ := timedWaits.Get().(*timedWait)
	if tw == nil {
		tw = &timedWait{}
		tw.end = tw.ended
	}
	tw.observer, tw.routine, tw.began = f, routine, time.Now()
	return tw.end
}

// timedWait is an observed wait in progress. Records are recycled: end, bound once per
// record, tells the observer and puts the record back.
type timedWait struct {
	observer *TimedWaitObserver
	routine  string
	began    time.Time
	end      func()
}

var timedWaits sync.Pool // of *timedWait

func (tw *timedWait) ended() {
	f, routine, began := tw.observer, tw.routine, tw.began
	tw.observer = nil
	timedWaits.Put(tw)
	(*f)(routine, began)
}

// New makes an empty world: a namespace, no processes, an empty trace and verifier.
func New() *World {
	w := &World{
		ns:       newNamespace(),
		procs:    make(map[uint32]*Process),
		nextPID:  4, // pid 4 is System on Windows; user processes start after it
		verifier: &Verifier{},
	}
	w.trace = newTrace()
	w.verifier.trace = w.trace
	return w
}

// Namespace returns the world's object namespace.
func (w *World) Namespace() *Namespace { return w.ns }

// Trace returns the world's event trace.
func (w *World) Trace() *Trace { return w.trace }

// Verifier returns the world's verifier.
func (w *World) Verifier() *Verifier { return w.verifier }

// IRQLs returns the IRQL of the world's goroutines (R-IRQL).
func (w *World) IRQLs() *IRQLs { return &w.irqls }

// CreateProcess starts a process with the given image name and token. With a parent and
// inheritHandles, the parent's inheritable handles are copied into the child with the same
// values. An empty image name or a nil token is STATUS_INVALID_PARAMETER; an exited parent is
// STATUS_PROCESS_IS_TERMINATING.
func (w *World) CreateProcess(image string, tok *Token, parent *Process, inheritHandles bool) (*Process, NTSTATUS) {
	if image == "" || tok == nil {
		return nil, STATUS_INVALID_PARAMETER
	}
	if parent != nil && (parent.world != w || parent.Exited()) {
		if parent.world != w {
			return nil, STATUS_INVALID_PARAMETER
		}
		return nil, STATUS_PROCESS_IS_TERMINATING
	}
	w.mu.Lock()
	w.nextPID += 4
	id := w.nextPID
	w.mu.Unlock()
	p := &Process{
		world:   w,
		id:      id,
		image:   image,
		token:   tok,
		handles: make(map[Handle]*handleEntry),
		done:    make(chan struct{}),
	}
	p.base = Handle(p.id) << 16
	p.next = p.base
	if parent != nil {
		p.parent = parent.id
		if inheritHandles {
			parent.inheritInto(p)
		}
	}
	// Published complete: nobody can exit it while it is being built.
	w.mu.Lock()
	w.procs[p.id] = p
	w.mu.Unlock()
	w.trace.Add(TraceEvent{Kind: EvProcessCreated, Process: p.String(), Detail: tok.Name()})
	return p, STATUS_SUCCESS
}

// Process finds a live process by id.
func (w *World) Process(id uint32) (*Process, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.procs[id]
	return p, ok
}

// Processes lists the live processes by id.
func (w *World) Processes() []*Process {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*Process, 0, len(w.procs))
	for _, p := range w.procs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (w *World) processExited(p *Process) {
	w.mu.Lock()
	delete(w.procs, p.id)
	w.mu.Unlock()
	w.trace.Add(TraceEvent{Kind: EvProcessExited, Process: p.String()})
}

// OpenHandles lists every handle still open in any live process.
func (w *World) OpenHandles() []HandleInfo {
	var out []HandleInfo
	for _, p := range w.Processes() {
		out = append(out, p.Handles()...)
	}
	return out
}
