package scanner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

// lab is a world with the scanner filter loaded on C:, a process for the scanner service
// (an administrator) and an ordinary application.
type lab struct {
	t   *testing.T
	w   *harness.World
	d   *scanner.Driver
	svc *harness.Process
	app *harness.Process
	log *dbgLog
}

// newLab mounts vol (C: unless named) and loads the scanner with the given extensions.
func newLab(t *testing.T, w *harness.World, extensions []string, vol fsys.VolumeConfig) *lab {
	t.Helper()
	if vol.Name == "" {
		vol.Name = "C:"
	}
	w.MustAddVolume(vol)
	log := &dbgLog{}
	d := &scanner.Driver{Config: scanner.Config{Extensions: extensions, DbgPrint: log.printf}}
	require.NoError(t, w.Load("scanner", d))
	return &lab{t: t, w: w, d: d, log: log,
		svc: w.NewProcess("scanuser.exe", kernel.TokenAdmin()),
		app: w.NewProcess("notepad.exe", kernel.TokenStandardUser())}
}

// start starts the scanner service in the service process.
func (l *lab) start(opts *scanuser.Options) *scanuser.Service {
	l.t.Helper()
	sc, err := scanuser.Start(context.Background(), l.svc, deref(opts))
	require.NoError(l.t, err)
	return sc
}

// open opens path for reading in the application and closes it again; it returns the open's
// Win32 error.
func (l *lab) open(path string) error {
	l.t.Helper()
	h, err := l.app.CreateFile(path, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	if err != nil {
		return err
	}
	require.NoError(l.t, l.app.CloseHandle(h))
	return nil
}

// openRW opens path for reading and writing in the application.
func (l *lab) openRW(path string) kernel.Handle {
	l.t.Helper()
	h, err := l.app.CreateFile(path, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(l.t, err)
	return h
}

// sent counts the scan requests the filter sent (FltSendMessage calls), from the trace.
func (l *lab) sent() int {
	n := 0
	for _, e := range l.w.Trace().Filter(kernel.EvMessageSent) {
		if e.Driver == "scanner" {
			n++
		}
	}
	return n
}

// data returns a file's contents on disk, bypassing the filters.
func (l *lab) data(path string) string {
	l.t.Helper()
	b, ok := l.w.FileData(path)
	require.True(l.t, ok, "%s exists", path)
	return string(b)
}

// dbgLog collects the driver's DbgPrint output.
type dbgLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *dbgLog) printf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// count returns the number of lines containing s.
func (l *dbgLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// text returns size bytes of harmless filler with "foul" at each of the offsets.
func text(size int, foulAt ...int) []byte {
	b := bytes.Repeat([]byte("x"), size)
	for _, at := range foulAt {
		copy(b[at:], scanuser.FoulString)
	}
	return b
}

// hresultOf returns the HRESULT an error wraps, 0 if none.
func hresultOf(err error) kernel.HRESULT {
	var hr kernel.HRESULT
	if errors.As(err, &hr) {
		return hr
	}
	return 0
}

// rawService is a hand-written scanner service built on fltlib.Conn: it shows each
// notification to answer, which returns the reply's status and payload, until the connection
// ends. It returns the connection; close it to stop the service, then wait on done.
func rawService(t *testing.T, p *harness.Process, answer func(n scannerproto.Notification, payloadLen int) (kernel.NTSTATUS, []byte)) (conn *fltlib.Conn, done <-chan struct{}) {
	t.Helper()
	c, err := fltlib.Dial(context.Background(), p, scannerproto.PortName, &fltlib.DialOptions{MaxMessageSize: scannerproto.NotificationSize})
	require.NoError(t, err)
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			m, err := c.Receive(context.Background())
			if err != nil {
				return
			}
			n, _ := scannerproto.DecodeNotification(m.Payload)
			st, payload := answer(n, len(m.Payload))
			if err := c.Reply(m, st, payload); err != nil {
				return
			}
		}
	}()
	return c, ch
}

func deref(o *scanuser.Options) scanuser.Options {
	if o == nil {
		return scanuser.Options{}
	}
	return *o
}
