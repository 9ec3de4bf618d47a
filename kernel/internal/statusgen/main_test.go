package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// The checked-in kernel/status_table.go is what the generator makes from the listings now:
// nobody edited one without the other.
func TestGeneratedTableIsCurrent(t *testing.T) {
	got, err := Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Fatal("two runs of the generator differ")
	}
	have, err := os.ReadFile(filepath.Join("..", "..", "status_table.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, have) {
		t.Fatal("kernel/status_table.go is stale: run go generate ./kernel")
	}
}

// A listing error is reported, not turned into a table.
func TestGenerateRejectsBadListings(t *testing.T) {
	for name, content := range map[string]string{
		"duplicate": "0x00000001\tSTATUS_A\t1\n0x00000001\tSTATUS_B\t2\n",
		"short":     "0x00000001\tSTATUS_A\n",
		"not hex":   "zz\tSTATUS_A\t1\n",
	} {
		dir := t.TempDir()
		for _, f := range []string{"winerror.tsv", "hresult.tsv", "overrides.tsv"} {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "ntstatus.tsv"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Generate(dir); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	dir := t.TempDir()
	for f, c := range map[string]string{"ntstatus.tsv": "0x00000001\tSTATUS_A\t1\n", "winerror.tsv": "", "hresult.tsv": "",
		"overrides.tsv": "0x00000002\t5\tnot listed\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), "not in ntstatus.tsv") {
		t.Errorf("override of an unlisted status: %v", err)
	}
}
