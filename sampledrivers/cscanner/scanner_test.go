package cscanner_test

import (
	"strings"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/cdriver"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/sampledrivers/cscanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannertest"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// The scanner sample's end-to-end scenarios (package scannertest), the ones the Go scanner
// runs, with the unchanged Go service (scanuser), against the C driver. Its debug output is
// the trace's dbg-print events.
func TestScenarios(t *testing.T) {
	scannertest.Run(t, scannertest.Driver{Load: func(t *testing.T, w *harness.World) func(string) int {
		require.NoError(t, w.Load("scanner", cscanner.New()))
		return func(s string) int {
			n := 0
			for _, e := range w.Trace().Filter(cdriver.EvDbgPrint) {
				if e.Driver == "scanner" && strings.Contains(e.Detail, s) {
					n++
				}
			}
			return n
		}
	}})
}
