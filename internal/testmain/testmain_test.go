package testmain_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// TestLeak leaves a goroutine behind when run as the child of TestLeakFailsTheRun.
func TestLeak(t *testing.T) {
	if os.Getenv("TESTMAIN_LEAK") == "" {
		t.Skip("run by TestLeakFailsTheRun")
	}
	block := make(chan struct{})
	go func() { <-block }()
}

// A passing run that leaves a goroutine behind fails, naming goleak; the same run without the
// leak passes (exit status 0, also through the race detector's shortened exit).
func TestLeakFailsTheRun(t *testing.T) {
	run := func(leak bool) (int, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLeak$", "-test.count=1")
		cmd.Env = os.Environ()
		if leak {
			cmd.Env = append(cmd.Env, "TESTMAIN_LEAK=1")
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			exitErr, ok := err.(*exec.ExitError)
			require.True(t, ok, "%v", err)
			return exitErr.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	code, out := run(true)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "goleak: errors on successful test run")
	code, out = run(false)
	require.Equal(t, 0, code, out)
}
