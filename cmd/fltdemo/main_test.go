package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// The demo is a smoke test: every step behaves as Windows does.
func TestDemo(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run(false, &out, &errOut))
	require.NotContains(t, out.String(), "FAIL")
	require.Contains(t, out.String(), "message-replied")
}

// docs/demo-trace.md and the README's diagram are the demo's current output.
func TestDemoDiagramIsCurrent(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run(true, &out, &errOut))
	doc, err := os.ReadFile("../../docs/demo-trace.md")
	require.NoError(t, err)
	require.Equal(t, string(doc), out.String(),
		"regenerate with: go run ./cmd/fltdemo -mermaid > docs/demo-trace.md")
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	diagram := out.String()[strings.Index(out.String(), "```mermaid"):]
	require.Contains(t, string(readme), diagram, "copy the diagram of docs/demo-trace.md into README.md")
}

// -h prints what the demo does and its flags, and exits 0; an unknown flag or an argument is
// a usage error: the usage on stderr, exit status 2, and the demo does not run.
func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, cli([]string{"-h"}, &out, &errOut))
	require.Empty(t, out.String())
	require.True(t, strings.HasPrefix(errOut.String(), "Usage: fltdemo [-mermaid]\n\nfltdemo plays a short scenario"), errOut.String())
	require.Contains(t, errOut.String(), "  -mermaid\n")

	for _, args := range [][]string{{"extra"}, {"-mermaid", "x", "y"}, {"-nope"}} {
		out.Reset()
		errOut.Reset()
		require.Equal(t, 2, cli(args, &out, &errOut), "%q", args)
		require.Empty(t, out.String(), "%q: the demo must not run", args)
		require.Contains(t, errOut.String(), "Usage: fltdemo [-mermaid]", "%q", args)
	}
	errOut.Reset()
	require.Equal(t, 2, cli([]string{"extra"}, &out, &errOut))
	require.Contains(t, errOut.String(), `fltdemo: unexpected argument "extra": the demo takes no arguments`)
}
