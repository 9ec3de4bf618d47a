package kernel

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Violation is a driver bug the verifier caught, as a value: the rule, who broke it, on which
// object, what happened, and what real Windows would have done instead (hang, bugcheck,
// leak). The harness formats it; nothing parses its text.
type Violation struct {
	Rule    RuleID // the rule of docs/rules.md, e.g. RuleVerify1
	Driver  string // the driver's name ("?" when the object has no known owner)
	Process string // the user process involved, if any ("svc.exe (pid 8)")
	Object  string // the object concerned, e.g. `server port "\ScannerPort"`
	Message string // what happened
	Windows string // what real Windows does; Report fills in the rule table's text when empty
}

// Error formats the violation on one line:
//
//	verifier R-VERIFY-1: driver "scanner", server port "\ScannerPort": <message> (on Windows: <what Windows does>; see docs/rules.md#r-verify-1)
func (v Violation) Error() string { return "verifier " + v.finding() }

// finding is the report without its "verifier" prefix: the rule, who, what, and what Windows
// does.
func (v Violation) finding() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: driver %q", v.Rule, v.Driver)
	if v.Process != "" {
		fmt.Fprintf(&b, ", process %s", v.Process)
	}
	if v.Object != "" {
		fmt.Fprintf(&b, ", %s", v.Object)
	}
	fmt.Fprintf(&b, ": %s", v.Message)
	windows := v.Windows
	if windows == "" {
		windows = v.Rule.Windows()
	}
	switch {
	case windows != "":
		fmt.Fprintf(&b, " (on Windows: %s; see %s)", windows, v.Rule.Doc())
	case v.Rule != "":
		fmt.Fprintf(&b, " (see %s)", v.Rule.Doc())
	}
	return b.String()
}

// Verifier collects the violations of one world. Each report is also recorded in the trace
// (an EvViolation event whose Status is the rule), so trace observers see it as it happens.
type Verifier struct {
	mu         sync.Mutex
	violations []Violation
	trace      *Trace
}

// Report records a violation (and adds it to the trace). It may be called with locks held
// only if no trace observer needs them; the filter manager calls it with none.
func (v *Verifier) Report(x Violation) {
	if x.Windows == "" {
		x.Windows = x.Rule.Windows()
	}
	v.mu.Lock()
	v.violations = append(v.violations, x)
	t := v.trace
	v.mu.Unlock()
	if t != nil {
		t.Add(TraceEvent{Kind: EvViolation, Driver: x.Driver, Status: string(x.Rule), Detail: x.Error(), Reason: x.finding()})
	}
}

// Violations returns what was reported so far, in order.
func (v *Verifier) Violations() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Violation(nil), v.violations...)
}

// Take returns what was reported so far and forgets it: a test that asserted on the
// violations itself takes them so that the end-of-test check does not report them again.
// The trace keeps its EvViolation events.
func (v *Verifier) Take() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.violations
	v.violations = nil
	return out
}

// RetainedSlice reports whether v keeps a slice that shares memory with buf, and where (a
// path such as "*testdriver.Conn.KeptContext"). The filter manager uses it on the connection
// cookie ConnectNotify returns, to catch a driver that keeps the connection context past the
// call (R-VERIFY-6).
//
// The search is shallow on purpose: it looks at v itself when it is a byte slice, and at the
// byte-slice fields of v's struct (through one pointer), including fields of structs embedded
// or nested by value, never following other pointers, maps, interfaces or slices. It reads
// only the cookie's own memory, which nobody else uses yet when ConnectNotify has just
// returned, so it cannot race with the driver's other goroutines. A context kept elsewhere
// (in a global, behind a pointer) is not detected: the driver then reads the 0xDB bytes the
// emulator wrote over the buffer.
func RetainedSlice(v any, buf []byte) (path string, found bool) {
	if v == nil || cap(buf) == 0 {
		return "", false
	}
	rv := reflect.ValueOf(v)
	name := rv.Type().String()
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", false
		}
		rv = rv.Elem()
	}
	return retainedIn(rv, name, buf, 0)
}

func retainedIn(rv reflect.Value, path string, buf []byte, depth int) (string, bool) {
	switch rv.Kind() {
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 && sharesMemory(rv, buf) {
			return path, true
		}
	case reflect.Struct:
		if depth >= 4 {
			return "", false
		}
		t := rv.Type()
		for i := 0; i < rv.NumField(); i++ {
			if p, ok := retainedIn(rv.Field(i), path+"."+t.Field(i).Name, buf, depth+1); ok {
				return p, true
			}
		}
	case reflect.Array:
		if depth >= 4 || rv.Type().Elem().Kind() != reflect.Struct && rv.Type().Elem().Kind() != reflect.Slice {
			return "", false
		}
		for i := 0; i < rv.Len(); i++ {
			if p, ok := retainedIn(rv.Index(i), fmt.Sprintf("%s[%d]", path, i), buf, depth+1); ok {
				return p, true
			}
		}
	}
	return "", false
}

// sharesMemory reports whether the byte slice s overlaps the backing array of buf.
func sharesMemory(s reflect.Value, buf []byte) bool {
	if s.IsNil() || s.Cap() == 0 {
		return false
	}
	lo := reflect.ValueOf(buf).Pointer()
	hi := lo + uintptr(cap(buf))
	p := s.Pointer()
	end := p + uintptr(s.Cap())
	return p < hi && end > lo
}
