package harness

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// UpdateGoldenEnv is the environment variable that makes [Golden] rewrite the golden files
// instead of comparing: FLTEMU_UPDATE_GOLDEN=1 go test ./...
const UpdateGoldenEnv = "FLTEMU_UPDATE_GOLDEN"

// Golden compares got with the golden file testdata/golden/<name>.golden of the module under
// test (the nearest directory above the test's working directory that holds go.mod), and
// fails the test with a line diff when they differ. name may contain slashes (sub-directories)
// but no "..".
//
// To write or refresh the golden files, run the tests with FLTEMU_UPDATE_GOLDEN=1, or with
// -update when the test binary defines a boolean flag named "update" (package harness does
// not define it: a flag registered by a library would clash with the flag of the same name
// that many test packages define; declare `var _ = flag.Bool("update", false, "...")` in a
// test file to use -update). Review the diff of testdata/golden before committing.
//
// For a trace to be stable from run to run, make it inside [Run] (fake time) so that the
// relative times are the same every time, and with [WithFullTrace] so that a long scenario
// keeps its first events (the trace keeps only the most recent ones by default).
func Golden(t testing.TB, name, got string) {
	t.Helper()
	path, err := goldenPath(name)
	if err != nil {
		t.Fatalf("harness: Golden: %v", err)
		return
	}
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("harness: Golden: %v", err)
			return
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("harness: Golden: %v", err)
			return
		}
		t.Logf("harness: wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("harness: golden file %s does not exist; run with %s=1 to create it", path, UpdateGoldenEnv)
		return
	}
	if err != nil {
		t.Fatalf("harness: Golden: %v", err)
		return
	}
	if string(want) != got {
		t.Errorf("harness: output differs from golden file %s (run with %s=1 to update it):\n%s",
			path, UpdateGoldenEnv, LineDiff(string(want), got))
	}
}

func updateGolden() bool {
	if v := os.Getenv(UpdateGoldenEnv); v != "" && v != "0" && v != "false" {
		return true
	}
	if f := flag.Lookup("update"); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			if b, ok := g.Get().(bool); ok {
				return b
			}
		}
	}
	return false
}

func goldenPath(name string) (string, error) {
	if name == "" || strings.Contains(name, "..") || filepath.IsAbs(name) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("bad golden name %q", name)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "golden", filepath.FromSlash(name)+".golden"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// LineDiff renders the differences between two texts line by line: lines only in want start
// with "- ", lines only in got with "+ ", common lines with "  ". Runs of more than three
// common lines are elided.
func LineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// Longest common subsequence, by dynamic programming: golden files are small.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	var out strings.Builder
	for k := 0; k < len(lines); k++ {
		if lines[k].op == ' ' {
			// Elide the middle of long common runs.
			end := k
			for end < len(lines) && lines[end].op == ' ' {
				end++
			}
			if end-k > 3 {
				first, last, n := k > 0, end < len(lines), end-k
				if first {
					fmt.Fprintf(&out, "  %s\n", lines[k].text)
					n--
				}
				if last {
					n--
				}
				fmt.Fprintf(&out, "  ... (%d common lines)\n", n)
				if last {
					fmt.Fprintf(&out, "  %s\n", lines[end-1].text)
				}
				k = end - 1
				continue
			}
		}
		fmt.Fprintf(&out, "%c %s\n", lines[k].op, lines[k].text)
	}
	return out.String()
}
