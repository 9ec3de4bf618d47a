// Package layering checks the import rule of DESIGN.md: imports go down the layers only.
// From the floor up: kernel (NT primitives) imports nothing of the project; fsys (the emulated
// file system) imports kernel; internal/drvhost (the host-only hooks of the driver API) imports
// fsys and kernel; driverapi imports drvhost, fsys and kernel; fltmgr imports driverapi,
// drvhost, fsys and kernel; harness may import all of them; a sample driver imports only
// driverapi, fsys, kernel and its own protocol package, never drvhost (the host's hooks are not
// a driver's to call); fltlib (the user-mode API) imports kernel, fsys and driverapi; its
// conformance suite adds fltlib and the scanner sample's layouts (it speaks the protocol of
// the WDK scanner, the driver it meets on Windows); a sample's user-mode program imports fltlib and the shared
// layouts, so that it builds for Windows (its tests may import harness).
package layering

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Main(m) }

const module = "github.com/fltemu/fltemu"

// allowed returns the project packages pkg (a path relative to the module root) may import
// from its non-test files, as path prefixes, and whether pkg is governed by a rule.
func allowed(pkg string) ([]string, bool) {
	parts := strings.Split(pkg, "/")
	switch parts[0] {
	case "kernel":
		return nil, true
	case "fsys":
		return []string{"kernel"}, true
	case "internal":
		if pkg == "internal/drvhost" {
			return []string{"kernel", "fsys"}, true
		}
		return nil, false
	case "driverapi":
		return []string{"kernel", "fsys", "internal/drvhost"}, true
	case "fltmgr":
		return []string{"kernel", "fsys", "internal/drvhost", "driverapi"}, true
	case "cdriver":
		switch {
		case len(parts) == 1: // the C runtime: a host of C drivers, at the level of a driver
			return []string{"kernel", "fsys", "internal/drvhost", "driverapi", "cdriver/include"}, true
		case pkg == "cdriver/include": // the C headers, embedded
			return nil, true
		}
		return []string{"cdriver/include"}, true // its tools, which copy the headers
	case "fltlib":
		if len(parts) == 1 {
			return []string{"kernel", "fsys", "driverapi"}, true
		}
		// its conformance suite, which speaks the WDK scanner's protocol
		return []string{"kernel", "fsys", "driverapi", "fltlib", "sampledrivers/scanner/scannerproto"}, true
	case "sampledrivers":
		if len(parts) < 2 {
			return nil, false
		}
		sample := "sampledrivers/" + parts[1]
		if len(parts) == 2 { // the driver itself (a C driver's package: the C runtime too)
			return []string{"kernel", "fsys", "driverapi", "cdriver", sample + "/" + parts[1] + "proto"}, true
		}
		if strings.HasSuffix(parts[len(parts)-1], "proto") {
			return []string{"kernel", "fsys", "driverapi"}, true
		}
		if len(parts) == 3 && parts[2] == parts[1]+"test" {
			// the sample's end-to-end scenarios, run by the tests of each driver that
			// implements it (in Go and in C): a world, the user program and its layouts
			// (any package under the sample, "/" at the end, but not the driver itself)
			return []string{"kernel", "fsys", "driverapi", "fltlib", "harness", sample + "/"}, true
		}
		// a user-mode program: fltlib and the shared layouts only, so that it builds and runs
		// on Windows; never harness (its tests may import it)
		return []string{"kernel", "driverapi", "fltlib", sample + "/" + parts[1] + "proto"}, true
	}
	return nil, false
}

func TestImportsGoDown(t *testing.T) {
	root := filepath.Join("..", "..")
	imports := map[string]map[string]bool{} // package → project imports
	cgo := map[string]bool{}                // directories with a file that imports "C"
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if p == "C" {
				cgo[filepath.ToSlash(filepath.Dir(path))] = true
			}
			if strings.HasPrefix(p, module+"/") {
				imports[pkg][strings.TrimPrefix(p, module+"/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	pkgs := make([]string, 0, len(imports))
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		ok, governed := allowed(pkg)
		if !governed {
			continue
		}
		checked++
		for imp := range imports[pkg] {
			if !under(imp, ok) {
				t.Errorf("%s imports %s; allowed: %v", pkg, imp, ok)
			}
		}
	}
	// Pure Go stays pure: cgo only in the C runtime and the C drivers' own packages.
	for dir := range cgo {
		rel, _ := filepath.Rel(root, dir)
		rel = filepath.ToSlash(rel)
		if rel != "cdriver" && !(strings.HasPrefix(rel, "sampledrivers/c") && strings.Count(rel, "/") == 1) {
			t.Errorf("%s uses cgo; only cdriver and the C sample drivers (sampledrivers/c*) may", rel)
		}
	}
	if checked < 4 {
		t.Fatalf("only %d packages checked: the walk did not find the tree", checked)
	}
}

func under(imp string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasSuffix(p, "/") { // the packages under p, not p itself
			if strings.HasPrefix(imp, p) {
				return true
			}
			continue
		}
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}
