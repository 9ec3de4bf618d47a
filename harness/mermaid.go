package harness

import (
	"fmt"
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// Mermaid renders trace events as a Mermaid sequence diagram with the user processes on the
// left, the filter manager in the middle and the drivers on the right: connects and their
// ConnectNotify, kernel messages going down to a process and replies coming back, user
// messages going to MessageNotify, disconnects with their cause, unload steps, verifier
// violations and injected faults (as notes). Failed calls are drawn with a cross. Put the
// result in a Markdown file inside a ```mermaid block to see the message flow as a picture.
// The rendering has no times, so it is stable from run to run. The trace keeps only its most
// recent events by default: make the world with [WithFullTrace] to draw a long scenario whole.
func Mermaid(events []kernel.TraceEvent) string {
	r := mermaidRenderer{procs: map[string]string{}, drivers: map[string]string{}, connProc: map[uint64]string{},
		notified: map[uint64]bool{}}
	for _, e := range events {
		if e.Process != "" && e.Conn != 0 {
			if _, ok := r.connProc[e.Conn]; !ok {
				r.connProc[e.Conn] = e.Process
			}
		}
	}
	for _, e := range events {
		r.event(e)
	}
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	for _, p := range r.procOrder {
		fmt.Fprintf(&b, "    participant %s as %s\n", r.procs[p], mermaidText(p))
	}
	b.WriteString("    participant FM as Filter Manager\n")
	for _, d := range r.driverOrder {
		fmt.Fprintf(&b, "    participant %s as %s\n", r.drivers[d], mermaidText("driver "+d))
	}
	for _, l := range r.lines {
		b.WriteString("    ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

type mermaidRenderer struct {
	procs, drivers         map[string]string // name → participant id
	procOrder, driverOrder []string
	connProc               map[uint64]string // connection → the process that made it
	notified               map[uint64]bool   // ConnectNotify seen for the connection
	lines                  []string
}

func (r *mermaidRenderer) proc(name string) string {
	if id, ok := r.procs[name]; ok {
		return id
	}
	id := fmt.Sprintf("P%d", len(r.procs)+1)
	r.procs[name] = id
	r.procOrder = append(r.procOrder, name)
	return id
}

func (r *mermaidRenderer) driver(name string) string {
	if name == "" {
		return "FM"
	}
	if id, ok := r.drivers[name]; ok {
		return id
	}
	id := fmt.Sprintf("D%d", len(r.drivers)+1)
	r.drivers[name] = id
	r.driverOrder = append(r.driverOrder, name)
	return id
}

// process returns the participant of the event's process, or of the connection's process.
func (r *mermaidRenderer) process(e kernel.TraceEvent) (string, bool) {
	name := e.Process
	if name == "" {
		name = r.connProc[e.Conn]
	}
	if name == "" {
		return "", false
	}
	return r.proc(name), true
}

// caller returns the participant that made the event's call: its process, else its driver,
// else the filter manager.
func (r *mermaidRenderer) caller(e kernel.TraceEvent) string {
	if e.Process != "" {
		return r.proc(e.Process)
	}
	return r.driver(e.Driver)
}

func (r *mermaidRenderer) arrow(from, arrow, to, text string) {
	r.lines = append(r.lines, fmt.Sprintf("%s%s%s: %s", from, arrow, to, mermaidText(text)))
}

func (r *mermaidRenderer) note(over, text string) {
	r.lines = append(r.lines, fmt.Sprintf("Note over %s: %s", over, mermaidText(text)))
}

// mmFailed reports whether an event's status is an error or a warning: an NTSTATUS or an
// HRESULT with its severity bits set, a Win32 error other than ERROR_SUCCESS.
func mmFailed(e kernel.TraceEvent) bool {
	switch st := e.Err.(type) {
	case kernel.NTSTATUS:
		return st.IsError() || st.IsWarning()
	case kernel.HRESULT:
		return st.Failed()
	case kernel.Win32Error:
		return st != kernel.ERROR_SUCCESS
	}
	return false
}

// mmStatus returns the name of an event's status, without its value: "STATUS_TIMEOUT".
func mmStatus(e kernel.TraceEvent) string {
	if st, ok := e.Err.(interface{ Name() string }); ok {
		return st.Name()
	}
	return ""
}

func mmConn(e kernel.TraceEvent) string {
	if e.Conn == 0 {
		return ""
	}
	return fmt.Sprintf(" conn %d", e.Conn)
}

func mmMsg(e kernel.TraceEvent) string {
	if e.MsgID == 0 {
		return " (one-way)"
	}
	return fmt.Sprintf(" msg %d", e.MsgID)
}

func mmDetail(s, detail string) string {
	if detail == "" {
		return s
	}
	return s + ", " + detail
}

func (r *mermaidRenderer) event(e kernel.TraceEvent) {
	switch e.Kind {
	case kernel.EvProcessCreated:
		r.note(r.proc(e.Process), mmDetail("process started", e.Detail))
	case kernel.EvProcessExited:
		r.note(r.proc(e.Process), mmDetail("process exited", e.Detail))
	case kernel.EvDriverLoaded:
		d := r.driver(e.Driver)
		if mmFailed(e) {
			r.note(d, "DriverEntry failed: "+mmStatus(e))
		} else {
			r.note(d, "driver loaded")
		}
	case kernel.EvDriverUnloaded:
		r.note(r.driver(e.Driver), mmDetail("driver unloaded", e.Detail))
	case kernel.EvUnloadRequest:
		d := r.driver(e.Driver)
		if e.Err != nil {
			r.arrow(d, "--x", "FM", mmDetail(mmStatus(e), e.Detail))
		} else {
			r.arrow("FM", "->>", d, mmDetail(e.Routine, e.Reason))
		}
	case kernel.EvFilterRegistered:
		r.arrow(r.driver(e.Driver), "->>", "FM", "FltRegisterFilter")
	case kernel.EvFilterStarted:
		r.arrow(r.driver(e.Driver), "->>", "FM", "FltStartFiltering")
	case kernel.EvUnregister:
		r.arrow(r.driver(e.Driver), "->>", "FM", "FltUnregisterFilter returned")
	case kernel.EvPortCreated:
		r.arrow(r.driver(e.Driver), "->>", "FM", fmt.Sprintf("FltCreateCommunicationPort %s max %d", e.Object, e.Count))
	case kernel.EvPortClosed:
		r.arrow(r.driver(e.Driver), "->>", "FM", "FltCloseCommunicationPort "+e.Object)
	case kernel.EvConnectNotify:
		p, _ := r.process(e)
		d := r.driver(e.Driver)
		r.notified[e.Conn] = true
		r.arrow(p, "->>", "FM", "FilterConnectCommunicationPort")
		r.arrow("FM", "->>", d, "ConnectNotify"+mmConn(e))
		a := "-->>"
		if mmFailed(e) {
			a = "--x"
		}
		r.arrow(d, a, "FM", mmStatus(e))
	case kernel.EvConnect:
		p, _ := r.process(e)
		if r.notified[e.Conn] {
			a := "-->>"
			if mmFailed(e) {
				a = "--x"
			}
			r.arrow("FM", a, p, mmDetail(mmStatus(e)+mmConn(e), e.Detail))
		} else {
			r.arrow(p, "-x", "FM", mmDetail("FilterConnectCommunicationPort: "+mmStatus(e), e.Detail))
		}
	case kernel.EvDisconnect:
		r.disconnect(e)
	case kernel.EvMessageSent:
		r.arrow(r.driver(e.Driver), "->>", "FM", mmDetail("FltSendMessage"+mmConn(e), e.Detail))
	case kernel.EvMessageDelivered:
		p, _ := r.process(e)
		r.arrow("FM", "->>", p, mmDetail("FilterGetMessage receives"+mmMsg(e), e.Detail))
	case kernel.EvMessageReplied:
		p, _ := r.process(e)
		if e.Err == kernel.STATUS_FLT_NO_WAITER_FOR_REPLY {
			text := "FilterReplyMessage" + mmMsg(e) + ": no waiter"
			if e.Reason != "" {
				text += ", " + e.Reason + " (FILTER_REPLY_HEADER missing?)"
			}
			r.arrow(p, "-x", "FM", text)
			break
		}
		r.arrow(p, "->>", "FM", "FilterReplyMessage"+mmMsg(e))
		r.arrow("FM", "-->>", r.driver(e.Driver), mmDetail("FltSendMessage returns "+mmStatus(e), e.Detail))
	case kernel.EvMessageTimedOut:
		r.arrow("FM", "--x", r.driver(e.Driver), mmDetail("FltSendMessage returns "+mmStatus(e), e.Detail))
	case kernel.EvMessageAbandoned:
		r.arrow("FM", "--x", r.driver(e.Driver), mmDetail("FltSendMessage"+mmMsg(e)+" returns "+mmStatus(e), e.Detail))
	case kernel.EvUserSend:
		p, _ := r.process(e)
		d := r.driver(e.Driver)
		r.arrow(p, "->>", "FM", "FilterSendMessage"+mmConn(e))
		a := "->>"
		if mmFailed(e) {
			a = "-x"
		}
		r.arrow("FM", a, d, mmDetail("MessageNotify: "+mmStatus(e), e.Detail))
	case kernel.EvViolation:
		r.note(r.driver(e.Driver), "VERIFIER "+e.Reason)
	case kernel.EvFaultInjected:
		r.note(r.caller(e), mmDetail("FAULT "+mmStatus(e), e.Detail))
	case kernel.EvRoutineFailed:
		// The call and its status on the arrow, then the reason.
		r.arrow(r.caller(e), "-x", "FM", mmDetail(e.Routine+": "+mmStatus(e), e.Reason))
	default:
		r.note("FM", string(e.Kind)+" "+e.Detail)
	}
}

func (r *mermaidRenderer) disconnect(e kernel.TraceEvent) {
	d := r.driver(e.Driver)
	p, hasProc := r.process(e)
	switch {
	case e.Routine == "DisconnectNotify":
		r.arrow("FM", "->>", d, "DisconnectNotify ("+e.Reason+")"+mmConn(e))
	case e.Routine == "FltCloseClientPort":
		r.arrow(d, "->>", "FM", "FltCloseClientPort"+mmConn(e))
	case e.Routine == "CloseHandle" && hasProc:
		r.arrow(p, "->>", "FM", "last handle closed,"+mmConn(e)+" ends")
	case hasProc:
		r.arrow("FM", "-x", p, mmDetail("disconnected"+mmConn(e), e.Reason))
	default:
		r.note("FM", mmDetail("disconnect"+mmConn(e), e.Reason))
	}
}

// mermaidText escapes what Mermaid would read as syntax in a message or a note.
func mermaidText(s string) string {
	return strings.NewReplacer(";", "#59;", "#", "#35;", "<", "#lt;", ">", "#gt;", "\n", " ").Replace(s)
}
