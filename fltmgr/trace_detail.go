package fltmgr

import (
	"fmt"

	"github.com/fltemu/fltemu/kernel"
)

// The details of the message-path events are recorded as numbers and rendered by these
// functions only when the trace is read, so that a traced round trip formats nothing.

// traceSent renders EvMessageSent: message bytes, reply capacity, and the timeout as
// traceTimeoutArgs encodes it.
func traceSent(a kernel.TraceArgs) string {
	var t *int64
	if a[2] != 0 {
		t = &a[3]
	}
	return fmt.Sprintf("%d bytes, reply capacity %d, timeout %s", a[0], a[1], timeoutString(t))
}

// traceTimeoutArgs encodes a WDK timeout pointer as two numbers: present, value.
func traceTimeoutArgs(t *int64) (present, v int64) {
	if t == nil {
		return 0, 0
	}
	return 1, *t
}

func traceBytes(a kernel.TraceArgs) string      { return fmt.Sprintf("%d bytes", a[0]) }
func traceReplyBytes(a kernel.TraceArgs) string { return fmt.Sprintf("%d reply bytes", a[0]) }
func traceInOut(a kernel.TraceArgs) string      { return fmt.Sprintf("%d bytes in, %d out", a[0], a[1]) }
