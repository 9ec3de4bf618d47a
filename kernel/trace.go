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

// Trace event kinds.
const (
	EvProcessCreated   EventKind = "process-created"
	EvProcessExited    EventKind = "process-exited"
	EvDriverLoaded     EventKind = "driver-loaded"
	EvDriverUnloaded   EventKind = "driver-unloaded"
	EvUnloadRequest    EventKind = "unload-request"
	EvFilterRegistered EventKind = "filter-registered"
	EvFilterStarted    EventKind = "filter-started"
	EvUnregister       EventKind = "filter-unregistered"
	EvPortCreated      EventKind = "port-created"
	EvPortClosed       EventKind = "port-closed"
	EvConnect          EventKind = "connect"
	EvDisconnect       EventKind = "disconnect"
	EvMessageSent      EventKind = "message-sent"
	EvMessageDelivered EventKind = "message-delivered"
	EvMessageReplied   EventKind = "message-replied"
	EvMessageTimedOut  EventKind = "message-timed-out"
	EvUserSend         EventKind = "user-send"
	EvViolation        EventKind = "violation"
)

// Event is one entry of the flight recorder.
type Event struct {
	Seq     int
	Time    time.Time // the world's clock (the fake clock inside a synctest bubble)
	Kind    EventKind
	Process string
	Driver  string
	Conn    uint64 // connection id, 0 when not about a connection
	MsgID   uint64
	Status  string
	Detail  string
}

// Trace is the flight recorder of one world. Recording can be turned off for benchmarks.
type Trace struct {
	mu     sync.Mutex
	events []Event
	off    atomic.Bool
	start  time.Time
}

func newTrace() *Trace { return &Trace{start: time.Now()} }

// SetEnabled turns recording on or off (it is on by default).
func (t *Trace) SetEnabled(on bool) { t.off.Store(!on) }

// Enabled reports whether events are recorded. Callers on hot paths test it before building
// an event.
func (t *Trace) Enabled() bool { return !t.off.Load() }

// Add records e, stamping its sequence number and time.
func (t *Trace) Add(e Event) {
	if t.off.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e.Seq = len(t.events) + 1
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	t.events = append(t.events, e)
}

// Events returns a copy of the events, in order.
func (t *Trace) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

// Filter returns the events of the given kinds.
func (t *Trace) Filter(kinds ...EventKind) []Event {
	var out []Event
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

// Table renders the events as a readable table, times relative to the world's start.
func (t *Trace) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIME\tKIND\tPROCESS\tDRIVER\tCONN\tMSG\tSTATUS\tDETAIL")
	for _, e := range t.Events() {
		conn, msg := "", ""
		if e.Conn != 0 {
			conn = fmt.Sprint(e.Conn)
		}
		if e.MsgID != 0 {
			msg = fmt.Sprint(e.MsgID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Sub(t.start), e.Kind,
			e.Process, e.Driver, conn, msg, e.Status, e.Detail)
	}
	tw.Flush()
	return b.String()
}
