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
// concerned (by name), the connection id and the message id where they apply, a status and a
// free-form detail (a reason, a cause, a byte count).
const (
	EvProcessCreated   EventKind = "process-created"     // a user process started (Detail: the token)
	EvProcessExited    EventKind = "process-exited"      // a process exited (Detail: the exit code)
	EvDriverLoaded     EventKind = "driver-loaded"       // DriverEntry returned (Status: its status)
	EvDriverUnloaded   EventKind = "driver-unloaded"     // the last unload step: the image is gone
	EvUnloadRequest    EventKind = "unload-request"      // fltmc unload / service stop, and its outcome
	EvFilterRegistered EventKind = "filter-registered"   // FltRegisterFilter succeeded
	EvFilterStarted    EventKind = "filter-started"      // FltStartFiltering succeeded
	EvUnregister       EventKind = "filter-unregistered" // FltUnregisterFilter finished (an unload step)
	EvPortCreated      EventKind = "port-created"        // FltCreateCommunicationPort (Detail: name, max, SDDL)
	EvPortClosed       EventKind = "port-closed"         // a server port closed (Detail: its name)
	EvConnect          EventKind = "connect"             // a connect attempt with its result and reason
	EvConnectNotify    EventKind = "connect-notify"      // ConnectNotify returned (Status: its status)
	EvDisconnect       EventKind = "disconnect"          // a connection ended, or a disconnect step (Detail: the cause)
	EvMessageSent      EventKind = "message-sent"        // FltSendMessage entered (Detail: sizes, timeout)
	EvMessageDelivered EventKind = "message-delivered"   // a kernel message was copied into a user Get
	EvMessageReplied   EventKind = "message-replied"     // FilterReplyMessage (Status: the reply's status or why it failed)
	EvMessageTimedOut  EventKind = "message-timed-out"   // FltSendMessage returned STATUS_TIMEOUT
	EvMessageAbandoned EventKind = "message-abandoned"   // FltSendMessage gave up: disconnect or thread terminating
	EvUserSend         EventKind = "user-send"           // FilterSendMessage → MessageNotify
	EvViolation        EventKind = "violation"           // the verifier caught a driver bug (Status: the rule)
	EvFaultInjected    EventKind = "fault-injected"      // a test made a call fail or killed a process
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
		EvUserSend, EvViolation, EvFaultInjected, EvVolumeMounted, EvInstanceAttached, EvInstanceDetached, EvFileIO}
}

// TraceEvent is one entry of the flight recorder.
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
}

// String renders the event on one line, without its time.
func (e TraceEvent) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", e.Seq, e.Kind)
	if e.Process != "" {
		fmt.Fprintf(&b, " process=%q", e.Process)
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
		fmt.Fprintf(&b, " detail=%q", e.Detail)
	}
	return b.String()
}

// Trace is the flight recorder of one world: every event, in order, with the world's time.
// Recording can be turned off for benchmarks. Observers (Subscribe) see each event as it is
// recorded.
//
// Lock order: Trace.mu is a leaf lock; observers run with no lock of the trace held.
type Trace struct {
	mu     sync.Mutex
	events []TraceEvent
	seq    int
	off    atomic.Bool
	start  time.Time

	obsMu sync.Mutex                  // serialises changes of obs
	obs   atomic.Pointer[[]*observer] // copy on write
}

type observer struct {
	fn     func(TraceEvent)
	active atomic.Bool
}

func newTrace() *Trace { return &Trace{start: time.Now()} }

// Start returns the time the trace (and its world) started: the origin of the relative times
// of Table. Inside a synctest bubble it is the bubble's fake clock at world creation
// (2000-01-01 00:00:00 UTC for a world made at the start of the bubble).
func (t *Trace) Start() time.Time { return t.start }

// SetEnabled turns recording on or off (it is on by default). Observers keep receiving events
// while recording is off.
func (t *Trace) SetEnabled(on bool) { t.off.Store(!on) }

// Enabled reports whether an event would be used: recording is on or an observer is
// subscribed. Callers on hot paths test it before building an event.
func (t *Trace) Enabled() bool {
	if !t.off.Load() {
		return true
	}
	obs := t.obs.Load()
	return obs != nil && len(*obs) > 0
}

// Add records e, stamping its sequence number and (if zero) its time, then calls the
// observers synchronously on the calling goroutine, with no lock of the trace held. Callers
// must not hold locks an observer may need: an observer may call back into the world (kill a
// process, for instance).
func (t *Trace) Add(e TraceEvent) {
	rec := !t.off.Load()
	obs := t.obs.Load()
	if !rec && (obs == nil || len(*obs) == 0) {
		return
	}
	t.mu.Lock()
	t.seq++
	e.Seq = t.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if rec {
		t.events = append(t.events, e)
	}
	t.mu.Unlock()
	if obs != nil {
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

// Events returns a copy of the events, in order.
func (t *Trace) Events() []TraceEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]TraceEvent(nil), t.events...)
}

// Len returns the number of recorded events.
func (t *Trace) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.events)
}

// Filter returns the events of the given kinds, in order.
func (t *Trace) Filter(kinds ...EventKind) []TraceEvent {
	var out []TraceEvent
	for _, e := range t.Events() {
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Table renders every event as a readable table, times relative to the world's start.
func (t *Trace) Table() string { return FormatTable(t.Events(), t.start) }

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
