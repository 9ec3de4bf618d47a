// Package testmain is the TestMain of every package in the module: it runs the tests, fails
// the run if goroutines are left behind (goleak, as goleak.VerifyTestMain does) and exits.
//
// Under the race detector it also spares each test binary ThreadSanitizer's exit pause: at a
// successful exit the race runtime sleeps atexit_sleep_ms (1 s by default) whenever other
// goroutines exist, to let other threads report, and the Go runtime always has some. With ~30
// test binaries on two cores that pause was a third of `go test -race ./...`. Nothing is lost by
// leaving it out: the testing package fails any test during which a race was reported, goleak
// has just shown that no test goroutine is left to race, and a failed run exits through os.Exit
// as before (the race runtime's exit code 66 is only ever added to a run that passed).
package testmain

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs m's tests, checks for leaked goroutines and exits with the result; call it as
// `func TestMain(m *testing.M) { testmain.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	exit(code)
}
