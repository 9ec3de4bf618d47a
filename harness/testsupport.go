package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// MermaidDirEnv names the directory into which a failing test's world writes its trace as a
// Mermaid sequence diagram, for CI to keep as an artifact: FLTEMU_MERMAID_DIR=out go test ./...
// writes out/TestName.mmd (subtests: TestName_sub.mmd). Unset, nothing is written.
const MermaidDirEnv = "FLTEMU_MERMAID_DIR"

// slowWaitThreshold is how much real time a timed wait of a world outside a synctest bubble
// may take before the world says so (nanoseconds). The package's tests lower it.
var slowWaitThreshold atomic.Int64

func init() { slowWaitThreshold.Store(int64(time.Second)) }

// watchRealTimeWaits makes w tell t, once, when one of its timed waits (a FltSendMessage
// timeout, say) took at least slowWaitThreshold of real time: the world is outside a synctest
// bubble, so the test is slow for nothing, and the fix is one line. The returned stop ends the
// watch; after it nothing is logged (t may be finished by then).
func (w *World) watchRealTimeWaits(t testing.TB) (stop func()) {
	var (
		mu   sync.Mutex
		tb   = t
		said bool
	)
	w.k.ObserveTimedWaits(func(routine string, began time.Time) {
		waited := time.Since(began)
		if waited < time.Duration(slowWaitThreshold.Load()) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if said || tb == nil {
			return
		}
		said = true
		tb.Logf("harness: %s waited %v of real time for its timeout: this world is not inside a synctest "+
			"bubble, so its clock is real and every timeout costs its full length. Make the world inside one and "+
			"the wait takes no time: harness.Run(t, func(t *testing.T, w *harness.World) { ... }), or "+
			"synctest.Test(t, func(t *testing.T) { w := harness.New(t); ... }). (Said once per world.)",
			routine, waited.Round(time.Millisecond))
	})
	return func() {
		w.k.ObserveTimedWaits(nil)
		mu.Lock()
		tb = nil
		mu.Unlock()
	}
}

// writeFailureDiagram writes w's trace as a Mermaid diagram into the directory MermaidDirEnv
// names, if it names one, and logs where.
func (w *World) writeFailureDiagram(t testing.TB) {
	dir := os.Getenv(MermaidDirEnv)
	if dir == "" {
		return
	}
	tr := w.k.Trace()
	diagram := Mermaid(tr.Events())
	header, body, _ := strings.Cut(diagram, "\n")
	var b strings.Builder
	b.WriteString(header)
	b.WriteByte('\n')
	fmt.Fprintf(&b, "    %%%% The trace of the failed test %s (fltemu). View it at https://mermaid.live or in a ```mermaid block.\n", t.Name())
	if n := tr.Dropped(); n > 0 {
		fmt.Fprintf(&b, "    %%%% %d earlier events were dropped: the trace keeps the most recent ones (harness.WithFullTrace keeps all).\n", n)
	}
	b.WriteString(body)
	path := filepath.Join(dir, artifactName(t.Name())+".mmd")
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(path, []byte(b.String()), 0o644)
	}
	if err != nil {
		t.Logf("harness: cannot write the trace diagram (%s): %v", MermaidDirEnv, err)
		return
	}
	t.Logf("harness: trace diagram written to %s", path)
}

// artifactName turns a test name into a file name: what is not a letter, a digit, '.', '-' or
// '_' (the '/' of a subtest, a space) becomes '_'.
func artifactName(test string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, test)
}
