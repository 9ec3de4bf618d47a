package kernel

import (
	"fmt"
	"strings"
	"sync"
)

// Violation is a driver bug the verifier caught: what real Windows would have done instead
// (hang, bugcheck, leak) is in Windows.
type Violation struct {
	Rule    string // SEMANTICS rule id, e.g. "R-VERIFY-1"
	Driver  string // the driver's name
	Object  string // the object concerned, e.g. `server port "\ScannerPort"`
	Message string // what happened
	Windows string // what real Windows does, e.g. "FltUnregisterFilter hangs forever"
}

// Error formats the violation on one line.
func (v Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verifier %s: driver %q", v.Rule, v.Driver)
	if v.Object != "" {
		fmt.Fprintf(&b, ", %s", v.Object)
	}
	fmt.Fprintf(&b, ": %s", v.Message)
	if v.Windows != "" {
		fmt.Fprintf(&b, " (on Windows: %s)", v.Windows)
	}
	return b.String()
}

// Verifier collects the violations of one world.
type Verifier struct {
	mu         sync.Mutex
	violations []Violation
	trace      *Trace
}

// Report records a violation (and adds it to the trace).
func (v *Verifier) Report(x Violation) {
	v.mu.Lock()
	v.violations = append(v.violations, x)
	t := v.trace
	v.mu.Unlock()
	if t != nil {
		t.Add(Event{Kind: EvViolation, Driver: x.Driver, Detail: x.Error()})
	}
}

// Violations returns what was reported so far, in order.
func (v *Verifier) Violations() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Violation(nil), v.violations...)
}
