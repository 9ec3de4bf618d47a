package kernel

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Every NTSTATUS, Win32Error and HRESULT constant of the package has, in the generated
// tables, the name it has in Go: the constants are the Go spelling of rows of the one table,
// not a second list of names.
func TestNamedConstantsMatchTable(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	// The Go name differs from the header's where the header's lacks the family's prefix
	// (WAIT_TIMEOUT is a Win32 error).
	goName := map[string]string{"ERROR_WAIT_TIMEOUT": "WAIT_TIMEOUT"}
	checked := 0
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok || (typ.Name != "NTSTATUS" && typ.Name != "Win32Error" && typ.Name != "HRESULT") {
					continue
				}
				for i, id := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						t.Errorf("%s: %s is not a literal", fset.Position(id.Pos()), id.Name)
						continue
					}
					v, err := strconv.ParseUint(lit.Value, 0, 32)
					if err != nil {
						t.Fatal(err)
					}
					want := id.Name
					if n, ok := goName[want]; ok {
						want = n
					}
					var got string
					switch typ.Name {
					case "NTSTATUS":
						got = ntstatusName(NTSTATUS(v))
					case "Win32Error":
						got = win32Name(Win32Error(v))
					case "HRESULT":
						got = hresultName(HRESULT(v))
					}
					checked++
					if got != want {
						t.Errorf("%s: %s = 0x%08X is %q in the table", fset.Position(id.Pos()), id.Name, v, got)
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d status constants checked", checked)
	}
}
