package include_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"regexp"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/cdriver/include"
)

func TestMain(m *testing.M) { testmain.Main(m) }

var idLine = regexp.MustCompile(`(?m)^#define FLTEMU_HEADERS_ID ([0-9a-f]{8})$`)

// headersID hashes every header's name and text, with the ID's own value left out.
func headersID(t *testing.T) string {
	names, err := fs.Glob(include.FS, "*.h")
	require.NoError(t, err)
	h := sha256.New()
	for _, n := range names { // sorted by Glob
		b, err := fs.ReadFile(include.FS, n)
		require.NoError(t, err)
		h.Write([]byte(n + "\n"))
		h.Write(idLine.ReplaceAll(b, []byte("#define FLTEMU_HEADERS_ID")))
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// FLTEMU_HEADERS_ID in wdm.h is the hash of the headers, so any edit changes the symbol every
// C file links against, and a copy made before the edit no longer links with the runtime.
func TestHeadersIDIsTheHashOfTheHeaders(t *testing.T) {
	wdm, err := fs.ReadFile(include.FS, "wdm.h")
	require.NoError(t, err)
	m := idLine.FindSubmatch(wdm)
	require.NotNil(t, m, "wdm.h defines FLTEMU_HEADERS_ID as 8 hex digits")
	want := headersID(t)
	if string(m[1]) != want && os.Getenv("FLTEMU_UPDATE_GOLDEN") != "" {
		updated := idLine.ReplaceAll(wdm, []byte("#define FLTEMU_HEADERS_ID "+want))
		require.NoError(t, os.WriteFile("wdm.h", updated, 0o644))
		t.Logf("wdm.h: FLTEMU_HEADERS_ID set to %s", want)
		return
	}
	require.Equal(t, want, string(m[1]), "a header changed: FLTEMU_UPDATE_GOLDEN=1 go test ./cdriver/include")
}

// The embedded files are the directory's headers, every one of them.
func TestFSHoldsEveryHeader(t *testing.T) {
	names, err := fs.Glob(include.FS, "*.h")
	require.NoError(t, err)
	require.Equal(t, []string{"dontuse.h", "fltKernel.h", "fltUserStructures.h", "ntddk.h", "ntifs.h", "suppress.h", "wdm.h"}, names)
	for _, n := range names {
		want, err := os.ReadFile(n)
		require.NoError(t, err)
		got, err := fs.ReadFile(include.FS, n)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "%s: the embedded copy differs from the file", n)
	}
}
