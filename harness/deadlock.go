package harness

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// The rule a deadlock breaks, for the report.
const deadlockRule = kernel.RuleVerify10

// currentBubble returns the "synctest bubble N" label of the calling goroutine, "" outside a
// bubble. The runtime writes it in the goroutine's header in a stack dump.
func currentBubble() string {
	buf := make([]byte, 512)
	n := runtime.Stack(buf, false)
	header, _, _ := strings.Cut(string(buf[:n]), "\n")
	i := strings.Index(header, "synctest bubble ")
	if i < 0 {
		return ""
	}
	label := header[i:]
	if j := strings.IndexAny(label, ",]"); j >= 0 {
		label = label[:j]
	}
	return label
}

// bubbleGoroutines returns the stacks of the goroutines of bubble, as the runtime prints them,
// leaving out synctest's own goroutine.
func bubbleGoroutines(bubble string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, body, _ := strings.Cut(g, "\n")
		if !strings.Contains(header, bubble+"]") && !strings.Contains(header, bubble+",") {
			continue
		}
		if strings.HasPrefix(body, "testing/synctest.testingSynctestTest") {
			continue
		}
		out = append(out, strings.TrimSpace(g))
	}
	return out
}

// isBubbleDeadlock reports whether r is the panic synctest raises when every goroutine of a
// bubble is blocked and no timer can wake one.
func isBubbleDeadlock(r any) bool {
	err, ok := r.(error)
	return ok && strings.HasPrefix(err.Error(), "deadlock: ")
}

// deadlockReport is what a test that deadlocked fails with (R-VERIFY-10): the rule, what
// Windows would do, the blocked goroutines and the world's trace.
func deadlockReport(cause any, goroutines []string, w *World) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verifier %s: %v (see %s)\n", deadlockRule, cause, deadlockRule.Doc())
	b.WriteString("On Windows these threads would hang forever (a driver waiting for its own close or unload, " +
		"a synchronous handle's serialized I/O, a wait nobody will end). Fake time cannot move: no timer is pending.\n")
	fmt.Fprintf(&b, "\nThe %d blocked goroutines of the test's bubble:\n\n", len(goroutines))
	for _, g := range goroutines {
		b.WriteString(g)
		b.WriteString("\n\n")
	}
	if w != nil {
		b.WriteString("Trace up to the deadlock:\n")
		b.WriteString(w.k.Trace().Table())
	}
	return b.String()
}
