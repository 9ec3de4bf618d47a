// Package scannertest is the scanner sample's end-to-end scenarios, written once against the
// driver's observable behaviour: what the unchanged Go service (scanuser) and an application
// see, the messages in the trace, and the driver's debug output. The Go scanner (package
// scanner) and the C scanner (package cscanner) both run them, so the two are held to the
// same behaviour; what only one of them has (the Go driver's counters and hooks) is tested
// beside it.
package scannertest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scannerproto"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

// Driver says how to load the scanner under test.
type Driver struct {
	// Load loads the scanner in w under the name "scanner", scanning the extensions the
	// sample's installer configures (exe doc txt bat cmd inf), and returns a function that
	// counts the lines of the driver's debug output (DbgPrint) that contain s.
	Load func(t *testing.T, w *harness.World) (dbgCount func(s string) int)
}

// Run runs every scenario against d, each as a subtest in its own world (harness.Run: fake
// time). The subtests do not run in parallel: a C driver is loaded in one world at a time.
func Run(t *testing.T, d Driver) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			harness.Run(t, func(t *testing.T, w *harness.World) { s.run(t, w, d) })
		})
	}
}

var scenarios = []struct {
	name string
	run  func(t *testing.T, w *harness.World, d Driver)
}{
	{"Scenario1FoulTextDeniedOnlyWhileScannerRuns", scenario1FoulTextDeniedOnlyWhileScannerRuns},
	{"Scenario2ExtensionsIgnoreCaseUnlistedNeverSent", scenario2ExtensionsIgnoreCaseUnlistedNeverSent},
	{"Scenario3FoulAtKilobyteBoundary", scenario3FoulAtKilobyteBoundary},
	{"Scenario3BytesToScanClampedOnLargeSectorVolume", scenario3BytesToScanClampedOnLargeSectorVolume},
	{"Scenario4FoulWriteDeniedPagingWritePasses", scenario4FoulWriteDeniedPagingWritePasses},
	{"Scenario4NoScannerWritesPass", scenario4NoScannerWritesPass},
	{"Scenario5ConnectRefusals", scenario5ConnectRefusals},
	{"Scenario6UnloadWhileConnected", scenario6UnloadWhileConnected},
	{"Scenario6UnloadWithScanInFlight", scenario6UnloadWithScanInFlight},
	{"ReplyWithoutVerdictAndExactSuccess", replyWithoutVerdictAndExactSuccess},
	{"LateReplyDoesNotStopWorker", lateReplyDoesNotStopWorker},
	{"CleanupRescan", cleanupRescan},
	{"OffloadWriteDeniedOnWriteHandle", offloadWriteDeniedOnWriteHandle},
	{"ScannerOwnOpensNeverScanned", scannerOwnOpensNeverScanned},
	{"NotSent", notSent},
}

// Lab is a world with the scanner loaded on C:, a process for the scanner service (an
// administrator) and an ordinary application. The scenarios use it, and so do the tests of
// what only one driver has.
type Lab struct {
	W   *harness.World
	Svc *harness.Process // scanuser.exe, an elevated administrator
	App *harness.Process // notepad.exe, a standard user

	t   *testing.T
	dbg func(s string) int
}

// NewLab mounts vol (C: unless named) and loads the scanner with d.
func NewLab(t *testing.T, w *harness.World, d Driver, vol fsys.VolumeConfig) *Lab {
	t.Helper()
	if vol.Name == "" {
		vol.Name = "C:"
	}
	w.MustAddVolume(vol)
	dbg := d.Load(t, w)
	return &Lab{t: t, W: w, dbg: dbg,
		Svc: w.NewProcess("scanuser.exe", kernel.TokenAdmin()),
		App: w.NewProcess("notepad.exe", kernel.TokenStandardUser())}
}

// Start starts the scanner service in the service process (opts nil: the defaults).
func (l *Lab) Start(opts *scanuser.Options) *scanuser.Service {
	l.t.Helper()
	var o scanuser.Options
	if opts != nil {
		o = *opts
	}
	sc, err := scanuser.Start(context.Background(), l.Svc, o)
	require.NoError(l.t, err)
	return sc
}

// Open opens path for reading in the application and closes it again; it returns the open's
// Win32 error.
func (l *Lab) Open(path string) error {
	l.t.Helper()
	h, err := l.App.CreateFile(path, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	if err != nil {
		return err
	}
	require.NoError(l.t, l.App.CloseHandle(h))
	return nil
}

// OpenRW opens path for reading and writing in the application.
func (l *Lab) OpenRW(path string) kernel.Handle {
	l.t.Helper()
	h, err := l.App.CreateFile(path, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(l.t, err)
	return h
}

// Sent counts the scan requests the filter sent (FltSendMessage calls), from the trace.
func (l *Lab) Sent() int {
	n := 0
	for _, e := range l.W.Trace().Filter(kernel.EvMessageSent) {
		if e.Driver == "scanner" {
			n++
		}
	}
	return n
}

// Data returns a file's contents on disk, bypassing the filters.
func (l *Lab) Data(path string) string {
	l.t.Helper()
	b, ok := l.W.FileData(path)
	require.True(l.t, ok, "%s exists", path)
	return string(b)
}

// Text returns size bytes of harmless filler with "foul" at each of the offsets.
func Text(size int, foulAt ...int) []byte {
	b := bytes.Repeat([]byte("x"), size)
	for _, at := range foulAt {
		copy(b[at:], scanuser.FoulString)
	}
	return b
}

// RawService is a hand-written scanner service built on fltlib.Conn: it shows each
// notification to answer, which returns the reply's status and payload, until the connection
// ends. It returns the connection; close it to stop the service, then wait on done.
func RawService(t *testing.T, p *harness.Process, answer func(n scannerproto.Notification, payloadLen int) (kernel.NTSTATUS, []byte)) (conn *fltlib.Conn, done <-chan struct{}) {
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

// Scenario 1: a .txt whose first kilobyte contains "foul" opens while no scanner is
// connected, is denied while the scanner runs (the post-create cancels the open, R-IO-CREATE-5)
// and opens again once the scanner disconnected. Closing the service's handle runs
// DisconnectNotify, which closes the client port (R-CB-2) and so frees the only connection
// slot for the next scanner (R-CLOSECLI-3).
func scenario1FoulTextDeniedOnlyWhileScannerRuns(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: Text(3000, 700), `clean.txt`: Text(3000)}})

	require.NoError(t, l.Open(`C:\dirty.txt`), "no scanner: everything is allowed")
	require.Zero(t, l.Sent(), "no scanner: nothing is sent")

	sc := l.Start(nil)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\dirty.txt`))
	require.NoError(t, l.Open(`C:\clean.txt`))
	require.Equal(t, 0, w.Volume("C:").TestAccess().OpenFileObjects(), "the cancelled open left nothing open")
	require.Equal(t, scanuser.Stats{Messages: 2, Foul: 1, MaxBytesToScan: 1024}, sc.Stats())
	require.Equal(t, 1, l.dbg("foul language detected in postcreate"))

	require.NoError(t, sc.Stop())
	require.NoError(t, l.Open(`C:\dirty.txt`), "the scanner disconnected: allowed again")
	require.Equal(t, 2, l.Sent())

	sc = l.Start(nil)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\dirty.txt`), "a new scanner took the free slot")
	require.NoError(t, sc.Stop())
	require.NoError(t, w.Unload("scanner"))
}

// Scenario 2: the extension test ignores case (the sample compares case-insensitively), and
// files with an unlisted extension are never sent: the service receives exactly one message
// per listed file, and the filter sends no other.
func scenario2ExtensionsIgnoreCaseUnlistedNeverSent(t *testing.T, w *harness.World, d Driver) {
	foul := Text(100, 10)
	listed := []string{`a.TXT`, `b.Doc`, `c.tXt`, `d.EXE`, `e.bat`, `f.Cmd`, `g.INF`}
	unlisted := []string{`h.bin`, `i.txtx`, `j.tx`, `noext`, `k.txt.bak`, `l.docx`, `txt`}
	files := map[string][]byte{}
	for _, n := range append(append([]string{}, listed...), unlisted...) {
		files[n] = foul
	}
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: files})
	sc := l.Start(nil)
	for _, n := range listed {
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\`+n), n)
	}
	for _, n := range unlisted {
		require.NoError(t, l.Open(`C:\`+n), n)
	}
	require.Equal(t, len(listed), l.Sent())
	require.NoError(t, sc.Stop())
	require.Equal(t, int64(len(listed)), sc.Stats().Messages)
	require.Equal(t, int64(len(listed)), sc.Stats().Foul)
}

// Scenario 3: only the first 1024 bytes are sent, so "foul" at byte 1020 (its last byte is
// byte 1023) is found, while "foul" straddling byte 1024 or after it is not.
func scenario3FoulAtKilobyteBoundary(t *testing.T, w *harness.World, d Driver) {
	name := func(at int) string { return fmt.Sprintf("at%04d.txt", at) }
	files := map[string][]byte{}
	for _, at := range []int{1020, 1021, 1022, 1023, 1024, 3000} {
		files[name(at)] = Text(4096, at)
	}
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: files})
	sc := l.Start(nil)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\`+name(1020)))
	for _, at := range []int{1021, 1022, 1023, 1024, 3000} {
		require.NoError(t, l.Open(`C:\`+name(at)), "foul at %d", at)
	}
	require.NoError(t, sc.Stop())
	require.Equal(t, scanuser.Stats{Messages: 6, Foul: 1, MaxBytesToScan: 1024}, sc.Stats())
}

// Scenario 3 on a volume with 4096-byte sectors (a bug of the C sample, which did not clamp
// BytesToScan): the post-create reads a whole sector, but the notification holds 1024 bytes
// and BytesToScan says 1024, not 4096. The service sees exactly the 1032-byte layout.
func scenario3BytesToScanClampedOnLargeSectorVolume(t *testing.T, w *harness.World, d Driver) {
	big := Text(4096, 2000)
	l := NewLab(t, w, d, fsys.VolumeConfig{SectorSize: 4096, Files: map[string][]byte{
		`big.txt`: big, `head.txt`: Text(4096, 1020), `small.txt`: Text(10)}})

	type seen struct {
		bytesToScan uint32
		payload     int
		contents    []byte
	}
	got := make(chan seen, 4)
	conn, done := RawService(t, l.Svc, func(n scannerproto.Notification, payloadLen int) (kernel.NTSTATUS, []byte) {
		got <- seen{n.BytesToScan, payloadLen, append([]byte(nil), n.Data()...)}
		return kernel.STATUS_SUCCESS, scannerproto.EncodeReply(!scanuser.ScanBuffer(n.Data()))
	})
	require.NoError(t, l.Open(`C:\big.txt`))
	s := <-got
	require.Equal(t, uint32(scannerproto.ReadBufferSize), s.bytesToScan, "BytesToScan clamped to 1024")
	require.Equal(t, scannerproto.NotificationSize, s.payload)
	require.Equal(t, big[:1024], s.contents)

	require.NoError(t, l.Open(`C:\small.txt`))
	require.Equal(t, uint32(10), (<-got).bytesToScan, "a short file: the bytes read")
	require.NoError(t, conn.Close())
	<-done

	sc := l.Start(nil)
	require.NoError(t, l.Open(`C:\big.txt`), "foul after the first kilobyte is not seen")
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\head.txt`))
	require.NoError(t, sc.Stop())
	require.Equal(t, scanuser.Stats{Messages: 2, Foul: 1, MaxBytesToScan: 1024}, sc.Stats(), "no bad message")
}

// Scenario 4: on a handle opened for writing, a write whose data contains "foul" is denied
// (the pre-write completes it, R-IO-STACK-3) and the file system never sees it. The same data
// written through a mapped view is paging I/O (R-IO-RW-3) and passes. The rescan at cleanup
// then finds the foul file and only logs it: the close succeeds and the data stays.
func scenario4FoulWriteDeniedPagingWritePasses(t *testing.T, w *harness.World, d Driver) {
	const original = "all good here, nothing to see"
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`clean.txt`: []byte(original)}})
	sc := l.Start(nil)
	h := l.OpenRW(`C:\clean.txt`)

	_, err := l.App.WriteFileAt(h, []byte("foul"), 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	require.Equal(t, original, l.Data(`C:\clean.txt`), "the denied write never reached the disk")

	n, err := l.App.WriteFileAt(h, []byte("nice"), 0)
	require.NoError(t, err)
	require.Equal(t, uint32(4), n)
	require.Equal(t, "nice"+original[4:], l.Data(`C:\clean.txt`))

	require.NoError(t, l.App.MappedWrite(h, 0, []byte("foul")), "a paging write passes")
	require.Equal(t, "foul"+original[4:], l.Data(`C:\clean.txt`))

	require.NoError(t, l.App.CloseHandle(h), "the rescan at cleanup only logs")
	require.Equal(t, "foul"+original[4:], l.Data(`C:\clean.txt`))
	require.Equal(t, 1, l.dbg("foul language detected in precleanup"))
	require.Equal(t, 1, l.dbg("blocking the write"))
	require.Equal(t, 2, l.dbg("foul language detected in write"), "the denied write and the paging one")

	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\clean.txt`), "the next open sees the foul file")
	require.NoError(t, sc.Stop())
	require.Equal(t, int64(6), sc.Stats().Messages) // open, 3 writes, cleanup, open
}

// Scenario 4 without a scanner: writes are not scanned at all.
func scenario4NoScannerWritesPass(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`clean.txt`: Text(100)}})
	h := l.OpenRW(`C:\clean.txt`) // marked for rescan even with no scanner, as in the sample
	_, err := l.App.WriteFileAt(h, []byte("foul"), 0)
	require.NoError(t, err)
	require.NoError(t, l.App.CloseHandle(h))
	require.Equal(t, "foul", l.Data(`C:\clean.txt`)[:4])
	require.Zero(t, l.Sent())
}

// Scenario 5: the port admits one scanner at a time and only SYSTEM and administrators.
// Connecting before the driver is loaded finds no port: HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
// (R-MODEL-2); a standard user is refused by the default descriptor, E_ACCESSDENIED (R-SD,
// R-MODEL-2); a second scanner while one is connected gets
// HRESULT_FROM_WIN32(ERROR_CONNECTION_COUNT_LIMIT) (R-MODEL-2); and the port has no
// MessageNotify, so FilterSendMessage gets HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED) (R-USER
// FilterSendMessage 2).
func scenario5ConnectRefusals(t *testing.T, w *harness.World, d Driver) {
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:"})
	svc := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
	_, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND), harness.HRESULTOf(err), "%v", err)

	d.Load(t, w)
	user := w.NewProcess("scanuser.exe", kernel.TokenStandardUser())
	_, err = scanuser.Start(context.Background(), user, scanuser.Options{})
	require.Equal(t, kernel.E_ACCESSDENIED, harness.HRESULTOf(err), "%v", err)

	sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
	require.NoError(t, err)
	other := w.NewProcess("scanuser2.exe", kernel.TokenAdmin())
	_, err = scanuser.Start(context.Background(), other, scanuser.Options{})
	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT), harness.HRESULTOf(err), "%v", err)

	require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_NOT_SUPPORTED), svc.FilterSendMessage(sc.Port(), []byte{0}, nil, nil))

	require.NoError(t, sc.Stop())
	sc, err = scanuser.Start(context.Background(), other, scanuser.Options{})
	require.NoError(t, err, "the slot is free once the first scanner stopped")
	require.NoError(t, sc.Stop())
	require.NoError(t, w.Unload("scanner"))
	require.Empty(t, w.Leftovers())
}

// Scenario 6: unloading the filter while the service is connected ends the connection
// (R-UNLOAD-5): every outstanding Get completes with E_HANDLE (R-USER FilterGetMessage 4), the
// workers stop, the program closes its handles, the unload completes, and the files open
// unfiltered.
func scenario6UnloadWhileConnected(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: Text(50, 0)}})
	sc := l.Start(nil) // 2 workers × 5 Gets
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\dirty.txt`))

	require.NoError(t, w.Unload("scanner"))
	require.Equal(t, kernel.E_HANDLE, harness.HRESULTOf(sc.Wait()))
	require.Empty(t, w.Leftovers(), "the service closed its handles")
	require.NoError(t, l.Open(`C:\dirty.txt`), "no filter any more")
}

// Scenario 6 with a scan in flight: the post-create waits for a verdict (no timeout) while
// the filter unloads. Unregistering ends the connection, the send returns
// STATUS_PORT_DISCONNECTED (R-UNLOAD-5), the open is allowed as for any failed scan, and the
// unload completes. The worker's late reply then fails with E_HANDLE (R-CLOSECLI-2) and the
// service stops.
func scenario6UnloadWithScanInFlight(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: Text(50, 0)}})
	release := make(chan struct{})
	sc := l.Start(&scanuser.Options{Threads: 1, Requests: 1, Scan: func(b []byte) bool {
		<-release
		return scanuser.ScanBuffer(b)
	}})
	opened := make(chan error, 1)
	go func() {
		h, err := l.App.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		if err == nil {
			err = l.App.CloseHandle(h)
		}
		opened <- err
	}()
	synctest.Wait() // the worker is scanning, the post-create waits for the reply

	require.NoError(t, w.Unload("scanner"))
	require.NoError(t, <-opened)
	require.Equal(t, 1, l.dbg("couldn't send message"))
	require.Equal(t, 1, l.dbg("status 0xC0000037"), "STATUS_PORT_DISCONNECTED")

	close(release)
	require.Equal(t, kernel.E_HANDLE, harness.HRESULTOf(sc.Wait()))
	require.Empty(t, w.Leftovers())
}

// Only an exact STATUS_SUCCESS reply with a verdict is a verdict (a bug of the C sample read
// the verdict from the notification buffer): FltSendMessage returns the status the service
// put in its reply header (R-SEND-8), so STATUS_TIMEOUT, a success code, is no verdict; a reply
// with no payload is none either (the C sample read the low byte of BytesToScan instead, 0 for
// a 1024-byte file, and denied it). No verdict allows the open.
func replyWithoutVerdictAndExactSuccess(t *testing.T, w *harness.World, d Driver) {
	files := map[string][]byte{}
	for _, n := range []string{"a", "b", "c", "d"} {
		files[n+".txt"] = Text(1024, 0)
	}
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: files})
	replies := []struct {
		st      kernel.NTSTATUS
		payload []byte
	}{
		{kernel.STATUS_SUCCESS, nil},          // a.txt: no SafeToOpen byte
		{kernel.STATUS_TIMEOUT, []byte{0}},    // b.txt: a success code, but not SUCCESS
		{kernel.STATUS_SUCCESS, []byte{0}},    // c.txt: the verdict "foul"
		{kernel.STATUS_SUCCESS, []byte{0x80}}, // d.txt: any non-zero BOOLEAN is safe
	}
	i := 0
	conn, done := RawService(t, l.Svc, func(scannerproto.Notification, int) (kernel.NTSTATUS, []byte) {
		r := replies[i]
		i++
		return r.st, r.payload
	})
	require.NoError(t, l.Open(`C:\a.txt`))
	require.NoError(t, l.Open(`C:\b.txt`))
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\c.txt`))
	require.NoError(t, l.Open(`C:\d.txt`))
	require.NoError(t, conn.Close())
	<-done
	require.Equal(t, 1, l.dbg("the service replied without a verdict"))
	require.Equal(t, 1, l.dbg("couldn't send message"), "STATUS_TIMEOUT")
}

// A reply that finds no waiting sender does not stop the service (a fix of scanUser.c, whose
// worker exits on any reply failure): the requestor's process exits while its file is being
// scanned, its FltSendMessage returns STATUS_THREAD_IS_TERMINATING (R-SEND-9), the worker's
// reply gets ERROR_FLT_NO_WAITER_FOR_REPLY (R-USER FilterReplyMessage 2), and the only worker
// goes on serving.
func lateReplyDoesNotStopWorker(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: Text(50, 0)}})
	release := make(chan struct{})
	first := true
	sc := l.Start(&scanuser.Options{Threads: 1, Requests: 1, Scan: func(b []byte) bool {
		if first { // only one worker: no race on first
			first = false
			<-release
		}
		return scanuser.ScanBuffer(b)
	}})
	victim := w.NewProcess("victim.exe", kernel.TokenStandardUser())
	opened := make(chan error, 1)
	go func() {
		_, err := victim.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		opened <- err
	}()
	synctest.Wait()
	victim.Exit(1)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, <-opened) // the process is gone
	close(release)

	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\dirty.txt`), "the worker still serves")
	require.NoError(t, sc.Stop())
	require.Equal(t, scanuser.Stats{Messages: 2, Foul: 2, LateReplies: 1, MaxBytesToScan: 50}, sc.Stats())
}

// The rescan at cleanup: a handle opened for writing is scanned again when it is closed (one
// more message); a foul result is only logged. A read-only handle is not rescanned.
func cleanupRescan(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`clean.txt`: Text(100)}})
	sc := l.Start(nil)
	require.NoError(t, l.Open(`C:\clean.txt`))
	require.Equal(t, 1, l.Sent(), "read-only: scanned at open only")

	h := l.OpenRW(`C:\clean.txt`)
	require.Equal(t, 2, l.Sent())
	require.NoError(t, l.App.CloseHandle(h))
	require.Equal(t, 3, l.Sent(), "rescanned at cleanup")
	require.Zero(t, l.dbg("foul language detected in precleanup"))

	h = l.OpenRW(`C:\clean.txt`)
	require.NoError(t, l.App.MappedWrite(h, 50, []byte("foul")))
	require.NoError(t, l.App.CloseHandle(h))
	require.Equal(t, 1, l.dbg("foul language detected in precleanup"))
	// Stop the service only now: a cleanup sends with no timeout.
	require.NoError(t, sc.Stop())
}

// FSCTL_OFFLOAD_WRITE on a handle marked for rescan is denied while a scanner is connected;
// on other handles, and with no scanner, it reaches the file system (which does not know it:
// ERROR_INVALID_FUNCTION). Other FSCTLs pass.
func offloadWriteDeniedOnWriteHandle(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`a.txt`: Text(100), `b.bin`: Text(100)}})
	sc := l.Start(nil)
	in, out := make([]byte, 32), make([]byte, 16)
	txt := l.OpenRW(`C:\a.txt`)
	bin := l.OpenRW(`C:\b.bin`)
	_, err := l.App.DeviceIoControl(txt, fsys.FSCTL_OFFLOAD_WRITE, in, out)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	_, err = l.App.DeviceIoControl(bin, fsys.FSCTL_OFFLOAD_WRITE, in, out)
	require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err)
	_, err = l.App.DeviceIoControl(txt, fsys.FSCTL_SET_ZERO_DATA, harness.ZeroDataInformation(0, 10), nil)
	require.NoError(t, err)
	require.Equal(t, 1, l.dbg("blocking the offload write"))

	require.NoError(t, l.App.CloseHandle(txt)) // close before stopping: the cleanup rescans
	require.NoError(t, sc.Stop())
	_, err = l.App.DeviceIoControl(bin, fsys.FSCTL_OFFLOAD_WRITE, in, out)
	require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err)
	txt = l.OpenRW(`C:\a.txt`)
	_, err = l.App.DeviceIoControl(txt, fsys.FSCTL_OFFLOAD_WRITE, in, out)
	require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err, "no scanner: allowed")
	require.NoError(t, l.App.CloseHandle(txt))
	require.NoError(t, l.App.CloseHandle(bin))
}

// The scanner service's own opens are never scanned (its pre-create asks for no post-create):
// it may open a foul file, write foul data to it and close it without a single message.
func scannerOwnOpensNeverScanned(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`dirty.txt`: Text(50, 0)}})
	sc := l.Start(nil)
	h, err := l.Svc.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = l.Svc.WriteFileAt(h, []byte("foul"), 10)
	require.NoError(t, err)
	require.NoError(t, l.Svc.CloseHandle(h))
	require.Zero(t, l.Sent())
	require.Equal(t, 1, l.dbg("allowing create for trusted process"))

	require.Equal(t, kernel.ERROR_ACCESS_DENIED, l.Open(`C:\dirty.txt`), "another process's open is scanned")
	require.NoError(t, sc.Stop())
}

// Directories, empty files and failed opens are not sent; the filter does not attach to
// network volumes (its InstanceSetup refuses them, R-IO-INST-1).
func notSent(t *testing.T, w *harness.World, d Driver) {
	l := NewLab(t, w, d, fsys.VolumeConfig{Files: map[string][]byte{`folder.txt\`: nil, `empty.txt`: {}}})
	w.MustAddVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork, Share: `\server\docs`,
		Files: map[string][]byte{`dirty.txt`: Text(50, 0)}})
	require.Empty(t, w.Instances("Z:"))
	require.Len(t, w.Instances("C:"), 1)
	sc := l.Start(nil)

	h, err := l.App.CreateFile(`C:\folder.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_BACKUP_SEMANTICS)
	require.NoError(t, err)
	require.NoError(t, l.App.CloseHandle(h))
	require.NoError(t, l.Open(`C:\empty.txt`))
	require.Equal(t, kernel.ERROR_FILE_NOT_FOUND, l.Open(`C:\missing.txt`))
	require.NoError(t, l.Open(`\\server\docs\dirty.txt`))
	require.Zero(t, l.Sent())
	require.NoError(t, sc.Stop())
}
