// Command benchchart turns the output of the harness benchmarks into the README's performance
// tables and one SVG chart of how the message path's cost grows with work, with no dependency
// beyond the standard library (so CI stays offline-safe):
//
//	go test -run '^$' -bench . -count 5 ./harness > bench.txt
//	go run ./internal/benchchart -svg docs/bench-growth.svg -readme README.md bench.txt
//
// With several runs of a benchmark (-count) it takes the median of each metric. -readme
// rewrites the text between the markers <!-- bench:begin --> and <!-- bench:end -->; without
// it the tables go to standard output.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	svgPath := flag.String("svg", "", "write the growth chart to this SVG file")
	readme := flag.String("readme", "", "rewrite the tables between the bench markers of this Markdown file")
	flag.Parse()
	if err := run(*svgPath, *readme, flag.Args(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

func run(svgPath, readme string, files []string, stdin io.Reader, stdout io.Writer) error {
	var res results
	if len(files) == 0 {
		if err := res.parse(stdin); err != nil {
			return err
		}
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return err
		}
		err = res.parse(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	if len(res.samples) == 0 {
		return errors.New("no benchmark results in the input")
	}
	tables := res.tables()
	if svgPath != "" {
		if err := os.WriteFile(svgPath, []byte(res.chart()), 0o644); err != nil {
			return err
		}
	}
	if readme == "" {
		_, err := io.WriteString(stdout, tables)
		return err
	}
	return replaceBetweenMarkers(readme, tables)
}

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

func replaceBetweenMarkers(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s section", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// results holds every sample of every metric, by benchmark name (without the -GOMAXPROCS
// suffix) and unit.
type results struct {
	samples map[string]map[string][]float64
	cpu     string
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads `go test -bench` output: lines "BenchmarkX-2  N  v unit  v unit ...".
func (r *results) parse(in io.Reader) error {
	if r.samples == nil {
		r.samples = map[string]map[string][]float64{}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			r.cpu = strings.TrimSpace(c)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		m := r.samples[name]
		if m == nil {
			m = map[string][]float64{}
			r.samples[name] = m
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("bad value %q in %q", f[i], line)
			}
			m[f[i+1]] = append(m[f[i+1]], v)
		}
	}
	return sc.Err()
}

// get returns the median of a metric, and whether there is one.
func (r *results) get(name, unit string) (float64, bool) {
	vs := r.samples[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// cell formats a metric for a table, "–" when absent.
func (r *results) cell(name, unit string, format func(float64) string) string {
	v, ok := r.get(name, unit)
	if !ok {
		return "–"
	}
	return format(v)
}

func ns(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	default:
		return fmt.Sprintf("%.1f ns", v)
	}
}

func ratio(v float64) string { return fmt.Sprintf("%.2f×", v) }

func count(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// series is one growth benchmark: its sub-benchmarks "Name/key=v", in order of v.
type series struct {
	title, bench, key, xlabel string
	y, base, baseLabel        string // metric units of the emulator and of its baseline
	yLabel                    string
}

var growth = []series{
	{title: "Message size", bench: "MessageSize", key: "B", xlabel: "message bytes", y: "ns/op", base: "chan-ns/op", baseLabel: "channels + the same copies", yLabel: "ns per round trip"},
	{title: "Pending Gets", bench: "PendingGets", key: "gets", xlabel: "overlapped Gets pending", y: "ns/op", base: "chan-ns/op", baseLabel: "channels", yLabel: "ns per message"},
	{title: "Waiting senders", bench: "WaitingSenders", key: "senders", xlabel: "kernel senders", y: "ns/op", base: "chan-ns/op", baseLabel: "channels", yLabel: "ns per message"},
	{title: "First fit, worst case", bench: "FirstFitWorstCase", key: "gets", xlabel: "pending Gets, all but the last too small", y: "ns/op", base: "chan-ns/op", baseLabel: "channels", yLabel: "ns per round trip"},
	{title: "Idle connections", bench: "IdleConnections", key: "conns", xlabel: "connections to the port", y: "ns/op", base: "chan-ns/op", baseLabel: "channels", yLabel: "ns per round trip"},
	{title: "Unload", bench: "UnloadScale", key: "conns", xlabel: "connections at unload", y: "ms/unload", yLabel: "ms per unload"},
}

type point struct {
	x       float64
	name    string
	y, base float64
	hasBase bool
}

func (r *results) points(s series) []point {
	var pts []point
	prefix := s.bench + "/" + s.key + "="
	for name := range r.samples {
		v, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		y, ok := r.get(name, s.y)
		if !ok {
			continue
		}
		p := point{x: x, name: name, y: y}
		if s.base != "" {
			p.base, p.hasBase = r.get(name, s.base)
		}
		pts = append(pts, p)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
	return pts
}

// tables renders the headline figures and one table per growth series, in Markdown.
func (r *results) tables() string {
	var b strings.Builder
	if r.cpu != "" {
		fmt.Fprintf(&b, "Measured on: %s. Medians of the runs in the input; ratios are to a baseline measured in the same run.\n\n", r.cpu)
	}
	b.WriteString("| benchmark | emulator | baseline (same run) | ratio | allocs/op |\n|---|---|---|---|---|\n")
	row := func(label, name, base, baseLabel, ratioUnit string) {
		if _, ok := r.samples[name]; !ok {
			return
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s | %s %s | %s |\n", label, r.cell(name, "ns/op", ns),
			baseLabel, r.cell(name, base, ns), r.cell(name, ratioUnit, ratio), ratioUnit, r.cell(name, "allocs/op", count))
	}
	row("`RoundTrip`: FltSendMessage 1032 B + 1 B reply ↔ sync Get + Reply", "RoundTrip", "chan-ns/op", "2 unbuffered channels", "x_chan")
	row("`RoundTripTraceOn`: the same with the flight recorder on", "RoundTripTraceOn", "traceoff-ns/op", "trace off", "x_traceoff")
	for _, c := range []string{"K1_W1_M1", "K4_W2_M5", "K16_W4_M8"} {
		row("`Throughput` "+strings.ReplaceAll(c, "_", " ")+" (senders, IOCP workers, Gets each), per message", "Throughput/"+c, "chan-ns/op", "channels", "x_chan")
	}
	row("`UserToKernel`: FilterSendMessage → MessageNotify, 64 B in/out", "UserToKernel", "direct-ns/op", "direct call", "x_direct")
	if v, ok := r.get("RoundTrip", "socket_speedup"); ok {
		fmt.Fprintf(&b, "| `RoundTrip` against a Unix-socket pair (write + read both ways) | %s | socket pair %s | %.1f× faster | |\n",
			r.cell("RoundTrip", "ns/op", ns), r.cell("RoundTrip", "socket-ns/op", ns), v)
	}
	if v, ok := r.get("ConnectChurn", "conns/s"); ok {
		fmt.Fprintf(&b, "| `ConnectChurn`: connect + close (ConnectNotify, DisconnectNotify) | %.0f k conns/s | Unix-socket connect + close | %s faster | %s |\n",
			v/1e3, r.cell("ConnectChurn", "socket_speedup", ratio), r.cell("ConnectChurn", "allocs/op", count))
	}
	if v, ok := r.get("ScaleIdleConnections", "B/conn"); ok {
		fmt.Fprintf(&b, "| `ScaleIdleConnections`: 10,000 idle connections | %.0f B and %s goroutines per connection | | | |\n",
			v, r.cell("ScaleIdleConnections", "goroutines/conn", count))
	}
	if v, ok := r.get("FakeTime", "wall-ms/scenario"); ok {
		x, _ := r.get("FakeTime", "x_realtime")
		fmt.Fprintf(&b, "| `FakeTime`: a 60 s send timeout in a synctest bubble, world made and torn down | %.3f ms wall | 60 s real | %.0f× | |\n", v, x)
	}
	if v, ok := r.get("RoundTripTraceOn", "retained-KiB"); ok {
		ring, _ := r.get("RoundTripTraceOn", "ring-KiB")
		fmt.Fprintf(&b, "\nWith the trace on, the world holds %.0f KiB more after the run than before it, whatever the\nnumber of round trips (the ring of the last events is %.0f KiB).\n", v, ring)
	}
	for _, s := range growth {
		pts := r.points(s)
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n**%s** (`%s`)\n\n| %s | %s |", s.title, s.bench, s.xlabel, s.yLabel)
		sep := "|---|---|"
		if s.base != "" {
			fmt.Fprintf(&b, " %s | ratio |", s.baseLabel)
			sep += "---|---|"
		} else {
			b.WriteString(" per connection |")
			sep += "---|"
		}
		b.WriteString("\n" + sep + "\n")
		for _, p := range pts {
			if s.base != "" {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", count(p.x), ns(p.y), ns(p.base), ratio(p.y/p.base))
			} else {
				fmt.Fprintf(&b, "| %s | %.2f ms | %s |\n", count(p.x), p.y, ns(p.y*1e6/p.x))
			}
		}
	}
	return b.String()
}

// chart draws the growth series as small multiples in one SVG: one panel per series, the work
// on a categorical x axis (the sub-benchmarks in order), the emulator's cost as a solid line
// and its baseline as a dashed one.
func (r *results) chart() string {
	const (
		pw, ph   = 300.0, 210.0 // panel
		ml, mr   = 58.0, 12.0   // margins inside a panel
		mt, mb   = 30.0, 42.0
		cols     = 3
		emuColor = "#1f77b4"
		chColor  = "#888888"
	)
	var panels []series
	for _, s := range growth {
		if len(r.points(s)) > 0 {
			panels = append(panels, s)
		}
	}
	rows := (len(panels) + cols - 1) / cols
	w, h := pw*cols, ph*float64(rows)+34
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="13" font-weight="bold">fltemu: cost of the message path as work grows</text>`+"\n")
	fmt.Fprintf(&b, `<line x1="%.0f" y1="13" x2="%.0f" y2="13" stroke="%s" stroke-width="2"/><text x="%.0f" y="17">emulator</text>`+"\n", w-260, w-235, emuColor, w-230)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="13" x2="%.0f" y2="13" stroke="%s" stroke-width="2" stroke-dasharray="4 3"/><text x="%.0f" y="17">baseline (same run)</text>`+"\n", w-160, w-135, chColor, w-130)
	for i, s := range panels {
		ox, oy := float64(i%cols)*pw, 34+float64(i/cols)*ph
		pts := r.points(s)
		top := 0.0
		for _, p := range pts {
			top = math.Max(top, p.y)
			if p.hasBase {
				top = math.Max(top, p.base)
			}
		}
		top = niceCeil(top)
		x := func(i int) float64 {
			if len(pts) == 1 {
				return ox + ml + (pw-ml-mr)/2
			}
			return ox + ml + float64(i)*(pw-ml-mr)/float64(len(pts)-1)
		}
		y := func(v float64) float64 { return oy + ph - mb - v/top*(ph-mt-mb) }
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-weight="bold">%s</text>`+"\n", ox+ml, oy+mt-10, esc(s.title))
		// y grid: 0, top/2, top
		for _, v := range []float64{0, top / 2, top} {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", ox+ml, y(v), ox+pw-mr, y(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", ox+ml-4, y(v)+4, esc(axisValue(v)))
		}
		fmt.Fprintf(&b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle" fill="#555">%s</text>`+"\n", ox+12, oy+(ph-mb+mt)/2, esc(s.yLabel))
		for i, p := range pts {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(i), oy+ph-mb+14, esc(shortCount(p.x)))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`+"\n", ox+ml+(pw-ml-mr)/2, oy+ph-mb+30, esc(s.xlabel))
		line := func(get func(point) (float64, bool), color, dash string) {
			var coords []string
			for i, p := range pts {
				if v, ok := get(p); ok {
					coords = append(coords, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
				}
			}
			if len(coords) == 0 {
				return
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dash, strings.Join(coords, " "))
			for _, c := range coords {
				xy := strings.Split(c, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", xy[0], xy[1], color)
			}
		}
		line(func(p point) (float64, bool) { return p.base, p.hasBase }, chColor, ` stroke-dasharray="4 3"`)
		line(func(p point) (float64, bool) { return p.y, true }, emuColor, "")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func axisValue(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func shortCount(v float64) string {
	switch {
	case v >= 1<<10 && math.Mod(v, 1<<10) == 0 && v < 1e6 && isPow2(v):
		return strconv.FormatFloat(v/(1<<10), 'f', -1, 64) + "Ki"
	case v >= 1e3 && math.Mod(v, 1e3) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

func isPow2(v float64) bool {
	u := uint64(v)
	return float64(u) == v && u&(u-1) == 0
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
