package avscan_test

// Helpers shared by the test files of this package.

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser"
)

// infected holds the signature the scanner looks for.
var infected = []byte("a letter with the message to be found inside")

// seed is the content of volume C: in most tests.
func seed() map[string][]byte {
	return map[string][]byte{
		`clean.txt`:   []byte("nothing to see here"),
		`virus.txt`:   infected,
		`empty.txt`:   {},
		`docs\`:       nil,
		`docs\b.txt`:  []byte("more harmless text"),
		`large.bin`:   append(make([]byte, 100000), infected...),
		`partial.txt`: []byte("message to be foun"),
	}
}

// load mounts C: with seed() and loads the filter with cfg.
func load(t *testing.T, w *harness.World, cfg avscan.Config) *avscan.Driver {
	t.Helper()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: seed()})
	d := &avscan.Driver{Config: cfg}
	require.NoError(t, w.Load("avscan", d))
	return d
}

// startScanner starts the user scanner in a new administrator process. The scanner is
// stopped (UserScanFinalize: its handles closed) at the end of the test, before the world's
// teardown checks, unless it stopped before.
func startScanner(t *testing.T, w *harness.World, opts avscanuser.Options) *avscanuser.Service {
	t.Helper()
	s, err := avscanuser.Start(context.Background(), w.NewProcess("avscan.exe", kernel.TokenAdmin()), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// open opens path for reading (and writing with write) and returns the handle or the error.
func open(p *harness.Process, path string, write bool) (kernel.Handle, error) {
	access := kernel.GENERIC_READ
	if write {
		access |= kernel.GENERIC_WRITE
	}
	return p.CreateFile(path, access, fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE, nil, harness.OPEN_EXISTING, 0)
}

// openClose opens and closes path and returns the open's error.
func openClose(t *testing.T, p *harness.Process, path string) error {
	t.Helper()
	h, err := open(p, path, false)
	if err == nil {
		require.NoError(t, p.CloseHandle(h))
	}
	return err
}

// stats lets the scanner's goroutines settle (a verdict is recorded after the filter took it),
// then returns what the scanner did, the verdicts in ScanId order (workers record them in any
// order: the filter releases the open before FilterSendMessage returns to the worker).
func stats(s *avscanuser.Service) avscanuser.Stats {
	synctest.Wait()
	st := s.Stats()
	slices.SortStableFunc(st.Verdicts, func(a, b avscanuser.Verdict) int { return cmp.Compare(a.ScanId, b.ScanId) })
	return st
}

// requests is the number of scan requests the scanner received.
func requests(s *avscanuser.Service) int { return len(stats(s).Requests) }
