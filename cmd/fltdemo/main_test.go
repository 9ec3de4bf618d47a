package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
