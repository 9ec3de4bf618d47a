package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testmain.Main(m) }

const sample = `goos: linux
cpu: Test CPU
BenchmarkRoundTrip-2   	 100	      700.0 ns/op	       500.0 chan-ns/op	     4000 socket-ns/op	        5.7 socket_speedup	         1.4 x_chan	       0 B/op	       0 allocs/op
BenchmarkRoundTrip-2   	 100	      800.0 ns/op	       500.0 chan-ns/op	     4000 socket-ns/op	        5.0 socket_speedup	         1.6 x_chan	       0 B/op	       0 allocs/op
BenchmarkRoundTrip-2   	 100	      900.0 ns/op	       500.0 chan-ns/op	     4000 socket-ns/op	        4.4 socket_speedup	         1.8 x_chan	       0 B/op	       0 allocs/op
BenchmarkMessageSize/B=0-2    	 100	  600 ns/op	 400 chan-ns/op	 1.5 x_chan	 0 B/op	 0 allocs/op
BenchmarkMessageSize/B=65536-2 	 100	 3000 ns/op	 17000 MB/s	 2500 chan-ns/op	 1.2 x_chan	 0 B/op	 0 allocs/op
BenchmarkConnectChurn-2 	 1000	 2400 ns/op	 416000 conns/s	 3.9 socket_speedup	 1500 B/op	 22 allocs/op
BenchmarkFakeTime-2 	 100	 68000 ns/op	 0.068 wall-ms/scenario	 882353 x_realtime	 1 B/op	 1 allocs/op
BenchmarkUnloadScale/conns=100-2 	 10	 0.05 ms/unload	 500 ns/conn
BenchmarkUnloadScale/conns=10000-2 	 1	 5 ms/unload	 500 ns/conn
PASS
`

func TestTablesTakeMediansAndRatios(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run("", "", nil, strings.NewReader(sample), &out))
	got := out.String()
	require.Contains(t, got, "Measured on: Test CPU.")
	require.Contains(t, got, "| 800.0 ns | 2 unbuffered channels 500.0 ns | 1.60× x_chan | 0 |", "the median of three runs")
	require.Contains(t, got, "| 65536 | 3.00 µs | 2.50 µs | 1.20× |")
	require.Contains(t, got, "| 10000 | 5.00 ms | 500.0 ns |", "unload: total and per connection")
	require.Contains(t, got, "| socket pair 4.00 µs | 5.0× faster |")
	require.Contains(t, got, "| 416 k conns/s | Unix-socket connect + close | 3.90× faster | 22 |")
	require.Contains(t, got, "| 0.068 ms wall | 60 s real | 882353× |")
	require.NotContains(t, got, "Throughput", "absent benchmarks are left out")
}

func TestChartAndReadmeSection(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bench.txt")
	require.NoError(t, os.WriteFile(in, []byte(sample), 0o644))
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("intro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nrest\n"), 0o644))
	svg := filepath.Join(dir, "c.svg")
	require.NoError(t, run(svg, readme, []string{in}, nil, nil))

	md, err := os.ReadFile(readme)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(md), "intro\n<!-- bench:begin -->\nMeasured on"), string(md))
	require.True(t, strings.HasSuffix(string(md), "<!-- bench:end -->\nrest\n"))
	require.NotContains(t, string(md), "old")

	pic, err := os.ReadFile(svg)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(pic), "<svg "))
	require.Equal(t, 2, strings.Count(string(pic), ">Message size<")+strings.Count(string(pic), ">Unload<"))
	require.Equal(t, 3, strings.Count(string(pic), "<polyline"), "message size: emulator and baseline; unload: emulator")
	require.Contains(t, string(pic), ">64Ki<")
}

func TestNoResultsIsAnError(t *testing.T) {
	require.ErrorContains(t, run("", "", nil, strings.NewReader("PASS\n"), &bytes.Buffer{}), "no benchmark results")
}
