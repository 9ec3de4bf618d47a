package cscanner_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fltemu/fltemu/cdriver"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/cscanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lab is a world with the C scanner loaded on C:, a process for the scanner service (an
// administrator) and an ordinary application: the Go scanner's lab, with the C driver.
type lab struct {
	t   *testing.T
	w   *harness.World
	svc *harness.Process
	app *harness.Process
}

func newLab(t *testing.T, w *harness.World, vol fsys.VolumeConfig) *lab {
	t.Helper()
	if vol.Name == "" {
		vol.Name = "C:"
	}
	w.MustAddVolume(vol)
	require.NoError(t, w.Load("scanner", cscanner.New()))
	return &lab{t: t, w: w,
		svc: w.NewProcess("scanuser.exe", kernel.TokenAdmin()),
		app: w.NewProcess("notepad.exe", kernel.TokenStandardUser())}
}

func (l *lab) start(opts *scanuser.Options) *scanuser.Service {
	l.t.Helper()
	var o scanuser.Options
	if opts != nil {
		o = *opts
	}
	sc, err := scanuser.Start(context.Background(), l.svc, o)
	require.NoError(l.t, err)
	return sc
}

func (l *lab) open(path string) error {
	l.t.Helper()
	h, err := l.app.CreateFile(path, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	if err != nil {
		return err
	}
	require.NoError(l.t, l.app.CloseHandle(h))
	return nil
}

func (l *lab) openRW(path string) kernel.Handle {
	l.t.Helper()
	h, err := l.app.CreateFile(path, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(l.t, err)
	return h
}

// sent counts the filter's FltSendMessage calls, from the trace.
func (l *lab) sent() int {
	n := 0
	for _, e := range l.w.Trace().Filter(kernel.EvMessageSent) {
		if e.Driver == "scanner" {
			n++
		}
	}
	return n
}

// dbg counts the driver's DbgPrint lines that contain s.
func (l *lab) dbg(s string) int {
	n := 0
	for _, e := range l.w.Trace().Filter(cdriver.EvDbgPrint) {
		if e.Driver == "scanner" && strings.Contains(e.Detail, s) {
			n++
		}
	}
	return n
}

func (l *lab) data(path string) string {
	l.t.Helper()
	b, ok := l.w.FileData(path)
	require.True(l.t, ok, "%s exists", path)
	return string(b)
}

func text(size int, foulAt ...int) []byte {
	b := bytes.Repeat([]byte("x"), size)
	for _, at := range foulAt {
		copy(b[at:], scanuser.FoulString)
	}
	return b
}

func hresultOf(err error) kernel.HRESULT {
	var hr kernel.HRESULT
	if errors.As(err, &hr) {
		return hr
	}
	return 0
}
