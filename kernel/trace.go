package kernel

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// EventKind names a kind of trace event.
type EventKind string

// Trace event kinds. Each event carries the world's clock time, the process and the driver
// concerned (by name), the connection id and the message id where they apply, a status (with
// Err, its value) and a free-form detail (a reason, a cause, a byte count). The comments say
// which of Routine, Object, Count and Reason a kind fills in.
//
// An EvDisconnect event is one of: the connection ending (Reason: the cause; Routine
// "CloseHandle" when the user's last handle closed, "" otherwise), the filter closing its client
// port (Routine "FltCloseClientPort"), or the filter manager calling the port's
// DisconnectNotify (Routine "DisconnectNotify", Reason "user closed" or "unload").
const (
	EvProcessCreated   EventKind = "process-created"     // a user process started (Detail: the token)
	EvProcessExited    EventKind = "process-exited"      // a process exited (Detail: the exit code)
	EvDriverLoaded     EventKind = "driver-loaded"       // DriverEntry returned (Status: its status)
	EvDriverUnloaded   EventKind = "driver-unloaded"     // the last unload step: the image is gone
	EvUnloadRequest    EventKind = "unload-request"      // fltmc unload / service stop, and its outcome (Reason: which; Routine: FilterUnload when it is called)
	EvFilterRegistered EventKind = "filter-registered"   // FltRegisterFilter succeeded
	EvFilterStarted    EventKind = "filter-started"      // FltStartFiltering succeeded
	EvUnregister       EventKind = "filter-unregistered" // FltUnregisterFilter finished (an unload step)
	EvPortCreated      EventKind = "port-created"        // FltCreateCommunicationPort (Detail: name, max, SDDL; Object: the name; Count: max)
	EvPortClosed       EventKind = "port-closed"         // a server port closed (Detail and Object: its name)
	EvConnect          EventKind = "connect"             // a connect attempt with its result and reason
	EvConnectNotify    EventKind = "connect-notify"      // ConnectNotify returned (Status: its status)
	EvDisconnect       EventKind = "disconnect"          // a connection ended, or a disconnect step (Detail: the cause; see below)
	EvMessageSent      EventKind = "message-sent"        // FltSendMessage entered (Detail: sizes, timeout)
	EvMessageDelivered EventKind = "message-delivered"   // a kernel message was copied into a user Get
	EvMessageReplied   EventKind = "message-replied"     // FilterReplyMessage (Status: the reply's status or why it failed; Reason: "id never issued" for such a reply)
	EvMessageTimedOut  EventKind = "message-timed-out"   // FltSendMessage returned STATUS_TIMEOUT
	EvMessageAbandoned EventKind = "message-abandoned"   // FltSendMessage gave up: disconnect or thread terminating
	EvUserSend         EventKind = "user-send"           // FilterSendMessage → MessageNotify
	EvViolation        EventKind = "violation"           // the verifier caught a driver bug (Status: the rule; Reason: the report after "verifier ")
	EvFaultInjected    EventKind = "fault-injected"      // a test made a call fail or killed a process
	EvRoutineFailed    EventKind = "routine-failed"      // a driver's or a process's call failed a check (Detail: routine: why; Routine, Reason: the two)
	EvVolumeMounted    EventKind = "volume-mounted"      // a volume was added (Detail: name, device, kind)
	EvInstanceAttached EventKind = "instance-attached"   // an attach attempt and its result
	EvInstanceDetached EventKind = "instance-detached"   // an instance was torn down (Detail: reason)
	EvFileIO           EventKind = "file-io"             // a user file operation and its result
)

// EventKinds lists every event kind, in the order of the constants above.
func EventKinds() []EventKind {
	return []EventKind{EvProcessCreated, EvProcessExited, EvDriverLoaded, EvDriverUnloaded, EvUnloadRequest,
		EvFilterRegistered, EvFilterStarted, EvUnregister, EvPortCreated, EvPortClosed, EvConnect, EvConnectNotify,
		EvDisconnect, EvMessageSent, EvMessageDelivered, EvMessageReplied, EvMessageTimedOut, EvMessageAbandoned,
		EvUserSend, EvViolation, EvFaultInjected, EvRoutineFailed, EvVolumeMounted, EvInstanceAttached, EvInstanceDetached, EvFileIO}
}

// TraceEvent is one entry of the flight recorder.
//
// Hot paths record an event without formatting anything: Process and Driver point at strings
// that already exist, and the text of Status and Detail can be left to the reader with
// [TraceEvent.WithStatus] and [TraceEvent.WithDetail]. Events read back from a [Trace] (Events,
// Filter, the observers of Subscribe) have Status and Detail filled in.
type TraceEvent struct {
	Seq     int       // 1, 2, ... in recording order
	Time    time.Time // the world's clock (the fake clock inside a synctest bubble)
	Kind    EventKind
	Process string // "svc.exe (pid 8)", "" when no process is concerned
	Driver  string // the driver's name, "" when no driver is concerned
	Conn    uint64 // connection id, 0 when not about a connection
	MsgID   uint64 // message id, 0 for none (one-way messages have none)
	Status  string // an NTSTATUS as text, or a rule id for a violation
	Detail  string

	// The facts of Status and Detail as values, for a reader that draws or matches events
	// without parsing their text (harness.Mermaid draws from these). Each is zero where the
	// kind has no such fact; the comments of the EventKind constants say which kinds have them.
	Err     error  // Status as a value: an NTSTATUS, HRESULT or Win32Error; nil when there is none or Status is a rule id
	Routine string // the routine or callback the event is about: a refused call, a disconnect step, FilterUnload
	Object  string // the object the event is about: a port's name
	Count   int    // a number the event is about: a port's maximum number of connections
	Reason  string // why: a refusal's reason, a connection's end, an unload's origin, a verifier report's finding

	// Not yet formatted: the status and the detail's renderer and arguments.
	status    NTSTATUS
	hasStatus bool
	render    func(TraceArgs) string
	args      TraceArgs
	at        time.Duration // Time as the time since the trace's start: Time is made when read
}

// TraceArgs are the numbers an event's detail is made of, kept as numbers until the event is
// read.
type TraceArgs [4]int64

// WithStatus returns e whose Status will read as st's text (st.Error()) and whose Err will be
// st; both are made only when the event is read, so recording costs no allocation.
func (e TraceEvent) WithStatus(st NTSTATUS) TraceEvent {
	e.status, e.hasStatus = st, true
	return e
}

// WithDetail returns e whose Detail will read as render(args), called when the event is read
// (never while it is recorded). render must be a pure function of args, such as a top-level
// function: a closure capturing state would be called long after the event, and would cost
// an allocation where a top-level function costs none.
func (e TraceEvent) WithDetail(render func(TraceArgs) string, args TraceArgs) TraceEvent {
	e.render, e.args = render, args
	return e
}

// resolved returns e with Status and Detail formatted and nothing left to format.
func (e TraceEvent) resolved() TraceEvent {
	if e.hasStatus {
		e.Status, e.Err = e.status.Error(), e.status
	}
	if e.render != nil {
		e.Detail = e.render(e.args)
	}
	e.status, e.hasStatus, e.render, e.args = 0, false, nil, TraceArgs{}
	return e
}

// String renders the event on one line, without its time.
func (e TraceEvent) String() string {
	e = e.resolved()
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", e.Seq, e.Kind)
	if e.Process != "" {
		fmt.Fprintf(&b, " process=%s", Quote(e.Process))
	}
	if e.Driver != "" {
		fmt.Fprintf(&b, " driver=%q", e.Driver)
	}
	if e.Conn != 0 {
		fmt.Fprintf(&b, " conn=%d", e.Conn)
	}
	if e.MsgID != 0 {
		fmt.Fprintf(&b, " msg=%d", e.MsgID)
	}
	if e.Status != "" {
		fmt.Fprintf(&b, " status=%s", e.Status)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " detail=%s", Quote(e.Detail))
	}
	return b.String()
}

// DefaultTraceCapacity is how many events a trace keeps unless told otherwise
// ([Trace.SetCapacity]): the most recent ones, older ones are dropped. It is plenty for the
// story of a failing test; goldens and diagrams of long scenarios ask for every event.
const DefaultTraceCapacity = 4096

// Trace is the flight recorder of one world: the last events, in order, with the world's
// time. It keeps the most recent [DefaultTraceCapacity] events unless [Trace.SetCapacity] says
// otherwise (0 keeps every event), so that a long stress test or a fuzzed driver runs in
// bounded memory. Recording can be turned off for benchmarks. Observers (Subscribe) see each
// event as it is recorded, whatever the capacity.
//
// Recording copies the event into a ring of values: it formats nothing and, once the ring
// has grown to its capacity, allocates nothing. The text of an event is made when it is read.
//
// Lock order: Trace.mu is a leaf lock; observers run with no lock of the trace held.
type Trace struct {
	mu      sync.Mutex
	ring    []TraceEvent // in recording order from head, wrapping; grows up to max
	head    int          // index of the oldest event once the ring is full
	max     int          // capacity; 0 keeps every event
	dropped int          // events overwritten
	seq     int
	last    time.Duration // the time of the last event stamped, since start
	off     atomic.Bool
	start   time.Time

	obsMu sync.Mutex                  // serialises changes of obs
	obs   atomic.Pointer[[]*observer] // copy on write
}

type observer struct {
	fn     func(TraceEvent)
	active atomic.Bool
}

func newTrace() *Trace { return &Trace{start: time.Now(), max: DefaultTraceCapacity} }

// Start returns the time the trace (and its world) started: the origin of the relative times
// of Table. Inside a synctest bubble it is the bubble's fake clock at world creation
// (2000-01-01 00:00:00 UTC for a world made at the start of the bubble).
func (t *Trace) Start() time.Time { return t.start }

// SetEnabled turns recording on or off (it is on by default). Observers keep receiving events
// while recording is off.
func (t *Trace) SetEnabled(on bool) { t.off.Store(!on) }

// SetCapacity sets how many of the most recent events the trace keeps: n > 0 keeps the last n
// (the default is [DefaultTraceCapacity]), n <= 0 keeps every event (what a golden file or a
// Mermaid diagram of a long scenario needs). Lowering the capacity drops the oldest events
// beyond it at once.
func (t *Trace) SetCapacity(n int) {
	if n < 0 {
		n = 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ev := t.inOrderLocked()
	if n > 0 && len(ev) > n {
		t.dropped += len(ev) - n
		ev = ev[len(ev)-n:]
	}
	t.max = n
	t.ring = append(make([]TraceEvent, 0, min(len(ev), max(n, len(ev)))), ev...)
	t.head = 0
}

// Capacity returns how many events the trace keeps (0: every event).
func (t *Trace) Capacity() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.max
}

// Dropped returns how many events were recorded and then dropped to keep the trace within
// its capacity.
func (t *Trace) Dropped() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// Enabled reports whether an event would be used: recording is on or an observer is
// subscribed. Callers on hot paths test it before building an event.
func (t *Trace) Enabled() bool {
	if !t.off.Load() {
		return true
	}
	obs := t.obs.Load()
	return obs != nil && len(*obs) > 0
}

// Now returns the trace's clock now: the time Add stamps an event with. A caller recording
// several events of one step reads it once and gives them all that Time (a clock read costs
// as much as recording an event).
func (t *Trace) Now() time.Time { return t.start.Add(time.Since(t.start)) }

// Add records e, stamping its sequence number and (if zero) its time, then calls the
// observers synchronously on the calling goroutine, with no lock of the trace held. Callers
// must not hold locks an observer may need: an observer may call back into the world (kill a
// process, for instance). Times never go backwards in recording order: an event's time is
// raised to the time of the event recorded before it.
func (t *Trace) Add(e TraceEvent) {
	rec := !t.off.Load()
	obs := t.obs.Load()
	if !rec && (obs == nil || len(*obs) == 0) {
		return
	}
	var since time.Duration
	if e.Time.IsZero() {
		// The start plus the monotonic time since: one clock read where time.Now makes two,
		// and outside the lock. Inside a synctest bubble time.Since reads the fake clock.
		since = time.Since(t.start)
	} else {
		since = e.Time.Sub(t.start)
	}
	t.mu.Lock()
	t.seq++
	e.Seq = t.seq
	// Another goroutine may have read the clock later but locked first.
	since = max(since, t.last)
	t.last = since
	e.at = since
	if rec {
		t.recordLocked(&e)
	}
	t.mu.Unlock()
	if obs != nil && len(*obs) > 0 {
		e = t.read(e)
		for _, o := range *obs {
			if o.active.Load() {
				o.fn(e)
			}
		}
	}
}

// Subscribe registers fn to be called with every event recorded from now on, synchronously,
// on the goroutine that records it, after it is recorded and with no lock of the trace held.
// fn may record events itself (they are delivered to the observers, fn included, before the
// call that triggered them returns), and may be called from several goroutines at once, so it
// must be safe for concurrent use. The returned function unsubscribes; after it returns, fn is
// not called again except by a delivery already in progress.
func (t *Trace) Subscribe(fn func(TraceEvent)) (unsubscribe func()) {
	o := &observer{fn: fn}
	o.active.Store(true)
	t.obsMu.Lock()
	var list []*observer
	if old := t.obs.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, o)
	t.obs.Store(&list)
	t.obsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			o.active.Store(false)
			t.obsMu.Lock()
			defer t.obsMu.Unlock()
			old := t.obs.Load()
			list := make([]*observer, 0, len(*old))
			for _, x := range *old {
				if x != o {
					list = append(list, x)
				}
			}
			t.obs.Store(&list)
		})
	}
}

func (t *Trace) recordLocked(e *TraceEvent) {
	switch {
	case t.max == 0 || len(t.ring) < t.max && len(t.ring) < cap(t.ring):
		t.ring = append(t.ring, *e)
	case len(t.ring) < t.max:
		// Grow by doubling but never past the capacity, so that a full ring holds no slack.
		grown := make([]TraceEvent, len(t.ring), min(t.max, max(64, 2*cap(t.ring))))
		copy(grown, t.ring)
		t.ring = append(grown, *e)
	default:
		t.ring[t.head] = *e
		t.head++
		if t.head == len(t.ring) {
			t.head = 0
		}
		t.dropped++
	}
}

// read returns a recorded event as readers see it: its time set, Status and Detail formatted.
func (t *Trace) read(e TraceEvent) TraceEvent {
	e = e.resolved()
	e.Time, e.at = t.start.Add(e.at), 0
	return e
}

// inOrderLocked returns the kept events, oldest first, unformatted (sharing no memory with
// the ring).
func (t *Trace) inOrderLocked() []TraceEvent {
	out := make([]TraceEvent, 0, len(t.ring))
	out = append(out, t.ring[t.head:]...)
	return append(out, t.ring[:t.head]...)
}

// Events returns a copy of the kept events, oldest first, formatted.
func (t *Trace) Events() []TraceEvent {
	t.mu.Lock()
	out := t.inOrderLocked()
	t.mu.Unlock()
	for i := range out {
		out[i] = t.read(out[i])
	}
	return out
}

// Len returns the number of kept events (at most the capacity).
func (t *Trace) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ring)
}

// Filter returns the kept events of the given kinds, oldest first.
func (t *Trace) Filter(kinds ...EventKind) []TraceEvent {
	var out []TraceEvent
	t.mu.Lock()
	for _, part := range [2][]TraceEvent{t.ring[t.head:], t.ring[:t.head]} {
		for i := range part {
			for _, k := range kinds {
				if part[i].Kind == k {
					out = append(out, part[i])
					break
				}
			}
		}
	}
	t.mu.Unlock()
	for i := range out {
		out[i] = t.read(out[i])
	}
	return out
}

// Table renders the kept events as a readable table, times relative to the world's start.
// When events were dropped (see [Trace.SetCapacity]) a first line says how many.
func (t *Trace) Table() string {
	t.mu.Lock()
	ev, dropped := t.inOrderLocked(), t.dropped
	t.mu.Unlock()
	for i := range ev {
		ev[i] = t.read(ev[i])
	}
	table := FormatTable(ev, t.start)
	if dropped > 0 {
		table = fmt.Sprintf("(%d earlier events dropped: the trace keeps the last %d)\n", dropped, len(ev)) + table
	}
	return table
}

// FormatTable renders events as a table with one row per event: sequence number, time since
// start, kind, process, driver, connection id, message id, status and detail. Inside a
// synctest bubble the times are fake and so the table is deterministic (fit for a golden
// file).
func FormatTable(events []TraceEvent, start time.Time) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIME\tKIND\tPROCESS\tDRIVER\tCONN\tMSG\tSTATUS\tDETAIL")
	for _, e := range events {
		conn, msg := "", ""
		if e.Conn != 0 {
			conn = fmt.Sprint(e.Conn)
		}
		if e.MsgID != 0 {
			msg = fmt.Sprint(e.MsgID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Sub(start), e.Kind,
			e.Process, e.Driver, conn, msg, e.Status, e.Detail)
	}
	tw.Flush()
	// tabwriter pads the last column too when a cell is empty; trim for stable goldens.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
