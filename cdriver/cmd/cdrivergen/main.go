// Command cdrivergen writes the one Go file that makes a directory of C minifilter sources a
// Go package fltemu can load: it names the driver's DriverEntry for cgo, points cgo at
// fltemu's WDK-shaped headers, and gives the driver the default instance of its INF. Run it
// once in the driver's directory; the file it writes carries a go:generate line with the same
// arguments, so `go generate` writes it again after a change:
//
//	go run github.com/fltemu/fltemu/cdriver/cmd/cdrivergen -inf scanner.inf
//
// writes driver_gen.go:
//
//	package scanner
//	// #cgo CFLAGS: -I${SRCDIR}/fltemu_include
//	// #include <fltKernel.h>
//	// NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
//	import "C"
//	...
//	func New() *cdriver.Driver { ... }
//
// Inside fltemu's own module the -I path is the module's cdriver/include. Elsewhere cgo
// cannot name a directory in the module cache, so cdrivergen copies the headers into the
// package, in fltemu_include; the headers carry an ID that the runtime links against, so a
// copy left behind by an upgrade of fltemu fails the link instead of running with other
// layouts (run go generate again).
//
// Flags:
//
//	-entry name   the C function that is DriverEntry (default DriverEntry)
//	-image name   the image name in reports (default: the INF's DriverName + ".sys", else the
//	              directory's name + ".sys")
//	-inf file     the INF whose DefaultInstance (altitude, flags) the driver attaches with
//	              (default: the directory's only .inf file, if there is one)
//	-I dir        one more include directory, relative to the package (repeatable)
//	-func name    the name of the constructor (default New)
//	-pkg name     the package name (default: the other Go files', else the directory's name)
//	-headers dir  the directory of fltemu's headers, relative to the package, instead of the
//	              module's or a copy
//	-wchar32      the driver shares no structure holding a WCHAR with user mode or files, so it
//	              may run when built without -fshort-wchar (cdriver.Driver.AllowWCHAR32)
//	-o file       the file to write (default driver_gen.go)
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fltemu/fltemu/cdriver/include"
)

// modulePath is fltemu's module: a package inside it uses the headers where they are.
const modulePath = "github.com/fltemu/fltemu"

// self is the import path of this command, for the go:generate line.
const self = modulePath + "/cdriver/cmd/cdrivergen"

// headerCopy is the directory, inside the driver's package, that receives the headers when
// the package is outside fltemu's module.
const headerCopy = "fltemu_include"

func main() { os.Exit(cli(os.Args[1:], ".", os.Stderr)) }

// config is what the flags say.
type config struct {
	Entry, Image, INF, Func, Pkg, Headers, Out string
	Includes                                   []string
	WCHAR32                                    bool
}

// args returns the flags that reproduce c (its non-default values) in a fixed order, for the
// generated file's go:generate line.
func (c config) args() []string {
	var a []string
	add := func(name, v, def string) {
		if v != def {
			a = append(a, "-"+name, quoteArg(v))
		}
	}
	add("entry", c.Entry, "DriverEntry")
	add("image", c.Image, "")
	add("inf", c.INF, "")
	for _, d := range c.Includes {
		add("I", d, "")
	}
	add("func", c.Func, "New")
	add("pkg", c.Pkg, "")
	add("headers", c.Headers, "")
	if c.WCHAR32 {
		a = append(a, "-wchar32")
	}
	add("o", c.Out, "driver_gen.go")
	return a
}

// quoteArg quotes an argument for a go:generate line when it needs it.
func quoteArg(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"'\\$") {
		return strconv.Quote(s)
	}
	return s
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// cli runs the command in dir; it returns the exit status.
func cli(argv []string, dir string, stderr io.Writer) int {
	c, status, ok := parseArgs(argv, stderr)
	if !ok {
		return status
	}
	files, err := generate(dir, c)
	if err != nil {
		fmt.Fprintln(stderr, "cdrivergen:", err)
		return 1
	}
	if err := write(dir, files); err != nil {
		fmt.Fprintln(stderr, "cdrivergen:", err)
		return 1
	}
	return 0
}

// parseArgs reads the flags; when it returns !ok the command ends with status (0 for -h).
func parseArgs(argv []string, stderr io.Writer) (c config, status int, ok bool) {
	fl := flag.NewFlagSet("cdrivergen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var inc multi
	fl.StringVar(&c.Entry, "entry", "DriverEntry", "the C function that is DriverEntry")
	fl.StringVar(&c.Image, "image", "", "the image name in reports (default: the INF's DriverName.sys, else <dir>.sys)")
	fl.StringVar(&c.INF, "inf", "", "the INF with the default instance (default: the directory's only .inf)")
	fl.Var(&inc, "I", "one more include directory, relative to the package (repeatable)")
	fl.StringVar(&c.Func, "func", "New", "the name of the constructor")
	fl.StringVar(&c.Pkg, "pkg", "", "the package name (default: the other Go files', else the directory's name)")
	fl.StringVar(&c.Headers, "headers", "", "fltemu's headers, relative to the package (default: the module's, or a copy)")
	fl.BoolVar(&c.WCHAR32, "wchar32", false, "the driver may run with a 32-bit WCHAR (it shares no WCHAR layout)")
	fl.StringVar(&c.Out, "o", "driver_gen.go", "the file to write")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cdrivergen [flags]  (in the directory of the driver's .c files)\n\n"+
			"Writes the Go file that names the C driver's DriverEntry for package cdriver.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, 0, false
		}
		return c, 2, false
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "cdrivergen: unexpected arguments %q\n", fl.Args())
		fl.Usage()
		return c, 2, false
	}
	c.Includes = inc
	return c, 0, true
}

// write writes the files (paths relative to dir). A header copy replaces the whole
// directory, so no header of an older fltemu stays behind.
func write(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if _, ok := files[filepath.Join(headerCopy, "wdm.h")]; ok {
		if err := os.RemoveAll(filepath.Join(dir, headerCopy)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, headerCopy), 0o755); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// generate returns the files to write into dir for c: the Go file, and the header copy when
// dir is outside fltemu's module.
func generate(dir string, c config) (map[string][]byte, error) {
	if !ident.MatchString(c.Entry) {
		return nil, fmt.Errorf("-entry %q is not a C identifier", c.Entry)
	}
	if !ident.MatchString(c.Func) {
		return nil, fmt.Errorf("-func %q is not a Go identifier", c.Func)
	}
	if filepath.Base(c.Out) != c.Out || !strings.HasSuffix(c.Out, ".go") || strings.HasSuffix(c.Out, "_test.go") {
		return nil, fmt.Errorf("-o %q: want a file name ending in .go (not _test.go), in the package directory", c.Out)
	}
	for _, d := range append([]string{c.Headers}, c.Includes...) {
		if filepath.IsAbs(d) {
			return nil, fmt.Errorf("%q: give include directories relative to the package, so the file works on every machine", d)
		}
	}
	for _, d := range append([]string{c.Headers}, c.Includes...) {
		if strings.ContainsAny(d, " \t\"'") {
			return nil, fmt.Errorf("the include directory %q has a space or a quote, which a #cgo line cannot hold", d)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	pkg, err := packageName(abs, c)
	if err != nil {
		return nil, err
	}

	infName := c.INF
	if infName == "" {
		infs, _ := filepath.Glob(filepath.Join(abs, "*.inf"))
		if len(infs) == 1 {
			infName = filepath.Base(infs[0])
		}
	}
	var inst *instance
	image := c.Image
	if infName != "" {
		b, err := os.ReadFile(filepath.Join(abs, infName))
		if err != nil {
			return nil, fmt.Errorf("-inf: %w", err)
		}
		inf := parseINF(b)
		if inst, err = inf.defaultInstance(); err != nil {
			return nil, fmt.Errorf("%s: %w", infName, err)
		}
		if image == "" && inf.strings["drivername"] != "" {
			image = inf.strings["drivername"] + ".sys"
		}
	}
	if image == "" {
		image = filepath.Base(abs) + ".sys"
	}

	files := map[string][]byte{}
	headers := c.Headers
	if headers == "" {
		root, mod, err := module(abs)
		if err != nil {
			return nil, err
		}
		if mod == modulePath {
			rel, err := filepath.Rel(abs, filepath.Join(root, "cdriver", "include"))
			if err != nil {
				return nil, err
			}
			headers = filepath.ToSlash(rel)
		} else {
			headers = headerCopy
			names, err := fs.Glob(include.FS, "*.h")
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				b, err := fs.ReadFile(include.FS, n)
				if err != nil {
					return nil, err
				}
				files[filepath.Join(headerCopy, n)] = b
			}
		}
	}
	cflags := []string{"-I${SRCDIR}/" + filepath.ToSlash(headers)}
	for _, d := range c.Includes {
		cflags = append(cflags, "-I${SRCDIR}/"+filepath.ToSlash(d))
	}
	for _, f := range cflags {
		if strings.ContainsAny(f, " \t\"'") {
			return nil, fmt.Errorf("the include path %q has a space or a quote, which a #cgo line cannot hold", f)
		}
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by cdrivergen; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "//go:generate go run %s", self)
	for _, a := range c.args() {
		b.WriteString(" " + a)
	}
	fmt.Fprintf(&b, "\n\npackage %s\n\n", pkg)
	if headers == headerCopy && c.Headers == "" {
		// The go command does not see headers in a subdirectory change; naming the copy's ID
		// here makes a new copy a change of this file, so the package is compiled again.
		id, err := headersID()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "// /* fltemu's headers, ID %s, copied into %s by cdrivergen. */\n", id, headerCopy)
	}
	fmt.Fprintf(&b, "// #cgo CFLAGS: %s\n", strings.Join(cflags, " "))
	fmt.Fprintf(&b, "// #include <fltKernel.h>\n")
	fmt.Fprintf(&b, "// NTSTATUS %s(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);\n", c.Entry)
	fmt.Fprintf(&b, "import \"C\"\n\nimport (\n\t\"unsafe\"\n\n\t\"%s/cdriver\"\n)\n\n", modulePath)
	fmt.Fprintf(&b, "// %s returns the C driver %s (DriverEntry: the C function %s), ready\n", c.Func, image, c.Entry)
	fmt.Fprintf(&b, "// for harness.World.Load.")
	if inst != nil {
		fmt.Fprintf(&b, " It attaches with the default instance of %s.", filepath.ToSlash(infName))
	}
	b.WriteString("\n")
	if c.WCHAR32 {
		fmt.Fprintf(&b, "//\n// It may run with a 32-bit WCHAR (built without -fshort-wchar): it shares no structure\n"+
			"// holding a WCHAR with user mode or files.\n")
	}
	fmt.Fprintf(&b, "func %s() *cdriver.Driver {\n\treturn cdriver.New(%q, unsafe.Pointer(C.%s))", c.Func, image, c.Entry)
	if inst != nil {
		fmt.Fprintf(&b, ".\n\t\tSetInstance(cdriver.Instance{Altitude: %q, Name: %q, Flags: %#x})", inst.altitude, inst.name, inst.flags)
	}
	if c.WCHAR32 {
		fmt.Fprintf(&b, ".\n\t\tAllowWCHAR32(true)")
	}
	b.WriteString("\n}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting the output: %w", err)
	}
	files[c.Out] = src
	return files, nil
}

// headersID returns FLTEMU_HEADERS_ID, as wdm.h defines it.
func headersID() (string, error) {
	b, err := fs.ReadFile(include.FS, "wdm.h")
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^#define FLTEMU_HEADERS_ID ([0-9a-f]+)$`).FindSubmatch(b)
	if m == nil {
		return "", errors.New("wdm.h defines no FLTEMU_HEADERS_ID")
	}
	return string(m[1]), nil
}

// packageName is -pkg, else the package clause of the directory's other Go files, else the
// directory's name made an identifier.
func packageName(dir string, c config) (string, error) {
	if c.Pkg != "" {
		if !ident.MatchString(c.Pkg) {
			return "", fmt.Errorf("-pkg %q is not a Go identifier", c.Pkg)
		}
		return c.Pkg, nil
	}
	gos, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range gos {
		if filepath.Base(f) == c.Out || strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			return "", err
		}
		return af.Name.Name, nil
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return -1
	}, filepath.Base(dir))
	if !ident.MatchString(name) {
		return "", fmt.Errorf("cannot make a package name of directory %q: give -pkg", filepath.Base(dir))
	}
	return name, nil
}

// module returns the root directory and the module path of the module dir is in.
func module(dir string) (root, path string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) >= 2 && f[0] == "module" {
					p, err := strconv.Unquote(f[1])
					if err != nil {
						p = f[1]
					}
					return d, p, nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod has no module line", d)
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("%s is in no Go module (no go.mod above it)", dir)
		}
	}
}
