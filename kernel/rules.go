package kernel

import "strings"

// RuleID names a rule of the project's rule book, docs/rules.md: "R-VERIFY-1", "R-IO-VERIFY-8",
// ... The verifier's rules have constants (RuleVerify1, ...) for Violation.Rule and for the
// harness's ExpectViolation; a RuleID is a string so that a rule id written out still works.
type RuleID string

// The rules whose breach the verifier reports. Each is a driver bug that hangs, crashes or
// leaks on Windows; the rule book explains each one under its id.
const (
	RuleVerify1  RuleID = "R-VERIFY-1"  // FltUnregisterFilter with a server port open
	RuleVerify2  RuleID = "R-VERIFY-2"  // a client port never closed (leaked connection slot)
	RuleVerify3  RuleID = "R-VERIFY-3"  // FilterUnload's result contradicts its unregistering
	RuleVerify4  RuleID = "R-VERIFY-4"  // a server port closed twice or used after its close
	RuleVerify5  RuleID = "R-VERIFY-5"  // arguments that would crash the filter manager
	RuleVerify6  RuleID = "R-VERIFY-6"  // the ConnectNotify context kept past the call
	RuleVerify7  RuleID = "R-VERIFY-7"  // a client port closed in a ConnectNotify that then fails
	RuleVerify8  RuleID = "R-VERIFY-8"  // MessageNotify returned STATUS_PENDING
	RuleVerify9  RuleID = "R-VERIFY-9"  // a routine called above its IRQL
	RuleVerify10 RuleID = "R-VERIFY-10" // a deadlock among the world's goroutines

	RuleReg2 RuleID = "R-REG-2" // DriverEntry failed and left its filter registered

	RuleIOVerify1  RuleID = "R-IO-VERIFY-1"  // an invalid pre-operation status
	RuleIOVerify2  RuleID = "R-IO-VERIFY-2"  // a post-operation promised but not registered, or a stray completion context
	RuleIOVerify3  RuleID = "R-IO-VERIFY-3"  // parameters changed without FltSetCallbackDataDirty
	RuleIOVerify4  RuleID = "R-IO-VERIFY-4"  // FLT_PREOP_COMPLETE where it cannot be
	RuleIOVerify5  RuleID = "R-IO-VERIFY-5"  // a post-create that changes the outcome the wrong way
	RuleIOVerify6  RuleID = "R-IO-VERIFY-6"  // an invalid post-operation status
	RuleIOVerify7  RuleID = "R-IO-VERIFY-7"  // a pended operation never completed, or completed twice
	RuleIOVerify8  RuleID = "R-IO-VERIFY-8"  // context reference counting
	RuleIOVerify9  RuleID = "R-IO-VERIFY-9"  // name information and object references
	RuleIOVerify10 RuleID = "R-IO-VERIFY-10" // a read or write longer than its buffer
)

// RuleBook is the path of the rule book inside the repository; a violation points at its
// rule there.
const RuleBook = "docs/rules.md"

// Rule is one verifier rule: what the driver did, and what real Windows does then.
type Rule struct {
	ID      RuleID
	Breach  string // what the driver did wrong, in a few words
	Windows string // what Windows does when it happens (a hang, a bugcheck, a leak)
}

// rules is the verifier's rule table. A violation that does not say otherwise gets its
// rule's Windows text.
var rules = []Rule{
	{RuleVerify1, "FltUnregisterFilter with a server port still open", "FltUnregisterFilter hangs forever"},
	{RuleVerify2, "a client port never closed", "the connection's MaxConnections slot and client port leak until reboot"},
	{RuleVerify3, "FilterUnload's result contradicts whether it unregistered", "a bugcheck at the next callback, or a driver that stays loaded with no filter"},
	{RuleVerify4, "a server port closed twice or used after its close", "use after free of the port object: a bugcheck"},
	{RuleVerify5, "arguments that the filter manager dereferences without checking", "a bugcheck"},
	{RuleVerify6, "the ConnectNotify context kept past the call", "the context buffer is freed when ConnectNotify returns: the driver reads freed pool memory (garbage, or a bugcheck under Driver Verifier)"},
	{RuleVerify7, "a client port closed inside a ConnectNotify that then fails", "the filter manager closes the client port again: a double close, a bugcheck"},
	{RuleVerify8, "MessageNotify returned STATUS_PENDING", "the request is never completed: FilterSendMessage never returns"},
	{RuleVerify9, "a routine called above the IRQL it allows", "a bugcheck (IRQL_NOT_LESS_OR_EQUAL or a page fault at raised IRQL)"},
	{RuleVerify10, "a deadlock", "the threads involved hang forever"},
	{RuleReg2, "DriverEntry failed and left its filter registered", "the filter stays registered with a driver image that is unloaded: a bugcheck at the next callback"},
	{RuleIOVerify1, "an invalid pre-operation callback status", "a bugcheck"},
	{RuleIOVerify2, "a pre-operation result that does not match the registration", "a bugcheck, or a completion context that leaks"},
	{RuleIOVerify3, "callback data changed without FltSetCallbackDataDirty, or replaced", "the change is lost or half applied; a replaced Iopb is a bugcheck"},
	{RuleIOVerify4, "FLT_PREOP_COMPLETE where the operation cannot be completed", "a bugcheck, or an open the file system never saw"},
	{RuleIOVerify5, "a post-create that changes the outcome of the open the wrong way", "a bugcheck, or a file object the file system thinks is open"},
	{RuleIOVerify6, "an invalid post-operation callback status", "a bugcheck"},
	{RuleIOVerify7, "a pended operation never completed, or completed when not pended", "the teardown waits forever; a completion of an operation that was not pended is a bugcheck"},
	{RuleIOVerify8, "a context reference held, dropped too often or used after its free", "a bugcheck, or FltUnregisterFilter waiting forever"},
	{RuleIOVerify9, "file name information or an object reference never released, or released twice", "a leak, a wait forever at teardown, or a bugcheck"},
	{RuleIOVerify10, "a read or write longer than its buffer", "the file system reads or writes past the buffer: a bugcheck or memory corruption"},
}

var ruleIndex = func() map[RuleID]int {
	m := make(map[RuleID]int, len(rules))
	for i, r := range rules {
		m[r.ID] = i
	}
	return m
}()

// Rules returns the verifier's rule table, in the rule book's order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// Rule returns the table entry of r, if r is one of the verifier's rules.
func (r RuleID) Rule() (Rule, bool) {
	i, ok := ruleIndex[r]
	if !ok {
		return Rule{}, false
	}
	return rules[i], true
}

// Windows is what Windows does when the rule is broken, from the table ("" for a rule the
// table does not know).
func (r RuleID) Windows() string {
	x, _ := r.Rule()
	return x.Windows
}

// Doc is where the rule book explains r: "docs/rules.md#r-verify-4".
func (r RuleID) Doc() string { return RuleBook + "#" + strings.ToLower(string(r)) }

// String is the id itself.
func (r RuleID) String() string { return string(r) }
