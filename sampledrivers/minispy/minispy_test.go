package minispy_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minispy"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyuser"
)

// HRESULTs the sample's user program sees.
const (
	hrInvalidArg      = kernel.HRESULT(0x80070057) // STATUS_INVALID_PARAMETER / E_INVALIDARG
	hrNoAccess        = kernel.HRESULT(0x800703E6) // STATUS_DATATYPE_MISALIGNMENT → ERROR_NOACCESS
	hrBufferTooSmall  = kernel.HRESULT(0x8007007A) // STATUS_BUFFER_TOO_SMALL → ERROR_INSUFFICIENT_BUFFER
	hrNoMoreItems     = kernel.HRESULT(0x80070103) // STATUS_NO_MORE_ENTRIES → ERROR_NO_MORE_ITEMS
	hrCountLimit      = kernel.HRESULT(0x800704D6) // STATUS_CONNECTION_COUNT_LIMIT
	hrFileNotFound    = kernel.HRESULT(0x80070002) // STATUS_OBJECT_NAME_NOT_FOUND
	hrInstNotFound    = kernel.HRESULT(0x801F0015) // ERROR_FLT_INSTANCE_NOT_FOUND
	volumeC           = `\Device\HarddiskVolume1`
	closeName         = "<NO NAME: NormalizeStatus=c01c0005 OpenedStatus=c01c0005>"
	shareAll          = fsys.FILE_SHARE_READ | fsys.FILE_SHARE_WRITE | fsys.FILE_SHARE_DELETE
	wait              = 2 * time.Second // fake time: ten polls of the logging goroutine
	maxRecordsDefault = minispy.DefaultMaxRecords
)

// fixture is a world with volume C:, the driver loaded as "MiniSpy", minispy.exe connected
// (not started, not attached) and an application process.
type fixture struct {
	w   *harness.World
	d   *minispy.Driver
	spy *minispyuser.Service
	app *harness.Process
}

func setup(t *testing.T, w *harness.World, d *minispy.Driver, opts *minispyuser.Options) *fixture {
	t.Helper()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{`old.txt`: []byte("old")}})
	require.NoError(t, w.Load(minispyproto.FilterName, d))
	admin := w.NewProcess("minispy.exe", kernel.TokenAdmin())
	spy, hr := connect(admin, opts)
	require.Equal(t, kernel.S_OK, hr)
	t.Cleanup(func() { spy.Stop() })
	return &fixture{w: w, d: d, spy: spy, app: w.NewProcess("app.exe", kernel.TokenStandardUser())}
}

// touch creates (or overwrites) path, writes data and closes it: four operations.
func (f *fixture) touch(t *testing.T, path string, data []byte) {
	t.Helper()
	h, err := f.app.CreateFile(path, kernel.GENERIC_WRITE, shareAll, nil, harness.CREATE_ALWAYS, 0)
	require.NoError(t, err)
	n, err := f.app.WriteFile(h, data)
	require.NoError(t, err)
	require.Equal(t, uint32(len(data)), n)
	require.NoError(t, f.app.CloseHandle(h))
}

func majors(recs []minispyproto.LogRecord) []driverapi.MajorFunction {
	out := make([]driverapi.MajorFunction, len(recs))
	for i := range recs {
		out[i] = driverapi.MajorFunction(recs[i].Data.CallbackMajorId)
	}
	return out
}

func sequence(recs []minispyproto.LogRecord) []uint32 {
	out := make([]uint32, len(recs))
	for i := range recs {
		out[i] = recs[i].SequenceNumber
	}
	return out
}

func seqRange(from, to uint32) []uint32 {
	var out []uint32
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// drain reads the log with GetMiniSpyLog until it is empty.
func drain(t *testing.T, spy *minispyuser.Service) []minispyproto.LogRecord {
	t.Helper()
	buf := make([]byte, minispyuser.BufferSize)
	var all []minispyproto.LogRecord
	for {
		recs, n, hr, err := spy.GetLog(buf)
		if hr == hrNoMoreItems {
			require.Zero(t, n)
			return all
		}
		require.Equal(t, kernel.S_OK, hr)
		require.NoError(t, err)
		require.NotEmpty(t, recs)
		all = append(all, recs...)
	}
}

// Scenario 7 (R-IO-INST-2, R-IO-INST-3, R-IO-INST-4): nothing is logged until user mode
// attaches the filter; then create, write and close give one record each for IRP_MJ_CREATE,
// IRP_MJ_WRITE, IRP_MJ_CLEANUP and IRP_MJ_CLOSE, in order, numbered 1 to 4, with the name,
// the requestor, the parameters and the results; FilterDetach stops the logging.
func TestScenario7AttachLogDetach(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		var out bytes.Buffer
		f := setup(t, w, &minispy.Driver{}, &minispyuser.Options{Output: &out})
		f.spy.StartPolling()

		// Not attached: the INF suppresses automatic attachment (R-IO-INST-2).
		require.Empty(t, w.Instances("C:"))
		f.touch(t, `C:\before.txt`, []byte("unseen"))
		recs, err := f.spy.WaitRecords(1, wait)
		require.ErrorIs(t, err, minispyuser.ErrTimeout)
		require.Empty(t, recs)

		name, hr := f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, minispy.DefaultInstanceName, name)
		require.Equal(t, []string{"MiniSpy/Minispy - Top Instance@385100"}, w.Instances("C:"))

		f.touch(t, `C:\a.txt`, []byte("hello"))
		recs, err = f.spy.WaitRecords(4, wait)
		require.NoError(t, err)
		require.Len(t, recs, 4)
		require.Equal(t, []driverapi.MajorFunction{driverapi.IRP_MJ_CREATE, driverapi.IRP_MJ_WRITE,
			driverapi.IRP_MJ_CLEANUP, driverapi.IRP_MJ_CLOSE}, majors(recs))
		require.Equal(t, []byte{0x00, 0x04, 0x12, 0x02}, []byte{recs[0].Data.CallbackMajorId,
			recs[1].Data.CallbackMajorId, recs[2].Data.CallbackMajorId, recs[3].Data.CallbackMajorId})
		require.Equal(t, []uint32{1, 2, 3, 4}, sequence(recs))

		// The name, without the blank the C sample appends to every create's name (its ECP
		// text, empty without ECPs, follows a space). The emulator has no name cache, so a
		// close (where names cannot be queried) shows both failed statuses, as the sample does.
		for _, r := range recs[:3] {
			require.Equal(t, volumeC+`\a.txt`, r.Name)
		}
		require.Equal(t, closeName, recs[3].Name)

		fo := recs[0].Data.FileObject
		require.NotZero(t, fo)
		for _, r := range recs {
			require.Equal(t, minispyproto.RECORD_TYPE_NORMAL, r.RecordType)
			require.Equal(t, uint64(f.app.ID()), r.Data.ProcessId)
			require.Equal(t, uint64(f.app.ID()+2), r.Data.ThreadId)
			require.Equal(t, uint64(1), r.Data.DeviceObject)
			require.Equal(t, fo, r.Data.FileObject, "one file object")
			require.Equal(t, kernel.STATUS_SUCCESS, r.Data.Status)
			require.NotZero(t, r.Data.Flags&driverapi.FLTFL_CALLBACK_DATA_IRP_OPERATION)
			require.LessOrEqual(t, r.Data.OriginatingTime, r.Data.CompletionTime)
			require.Equal(t, r.Length, minispyproto.RecordLength(r.Name))
		}
		require.Equal(t, uint64(fsys.FILE_CREATED), recs[0].Data.Information)
		require.Equal(t, uint64(5), recs[1].Data.Information, "bytes written")
		require.Equal(t, uint64(5), recs[1].Data.Arg1, "Write.Length")
		require.Equal(t, uint64(0), recs[1].Data.Arg3, "Write.ByteOffset")
		require.Equal(t, uint64(fsys.FILE_OVERWRITE_IF), recs[0].Data.Arg2>>24, "Create.Options: disposition")

		// FilterDetach (InstanceQueryTeardown allows it) stops the logging (R-IO-INST-4).
		require.Equal(t, kernel.S_OK, f.spy.Detach("C:", ""))
		require.Empty(t, w.Instances("C:"))
		f.touch(t, `C:\after.txt`, []byte("unseen"))
		recs, err = f.spy.WaitRecords(5, wait)
		require.ErrorIs(t, err, minispyuser.ErrTimeout)
		require.Len(t, recs, 4)
		require.Equal(t, hrInstNotFound, f.spy.Detach("C:", ""))

		// Attached again, the numbers go on.
		_, hr = f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		f.touch(t, `C:\again.txt`, nil)
		recs, err = f.spy.WaitRecords(8, wait)
		require.NoError(t, err)
		require.Equal(t, seqRange(1, 8), sequence(recs))
		require.Equal(t, volumeC+`\again.txt`, recs[4].Name)

		require.NoError(t, f.spy.Stop())
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		require.Len(t, lines, 9, "header and one line per record")
		require.Equal(t, strings.TrimSuffix(minispyuser.Header, "\n"), lines[0])
		// The write came after the first two seconds of waiting; the app is pid 12, its thread 14.
		require.Equal(t, uint32(12), f.app.ID())
		require.Equal(t, "IRP\t0x00000002\t00:00:02:000\t00:00:02:000\t"+
			"       c.e    \tIRP_MJ_WRITE                       \tIRP_MN_NORMAL                      \t"+
			"0x00000204 --S-\t0x0000000000000001\t"+"0x"+hex16(fo)+"\t0x0000000000000000\t"+
			"0x00000000:0x0000000000000005\t0x0000000000000005\t0x0000000000000000\t0x0000000000000000\t"+
			"0x0000000000000000\t0x0000000000000000\t0x00000000\t"+volumeC+`\a.txt`,
			lines[2])
	})
}

func hex16(v uint64) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

// Scenario 8: with no reader, the log holds 500 records, then one overflow record flagged
// RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE (the 501st operation's own record), then nothing;
// once user mode drains it, logging resumes and the sequence numbers go on from 502: they
// count the records produced, not the operations.
func TestScenario8OverflowAndResume(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		var out bytes.Buffer
		d := &minispy.Driver{}
		f := setup(t, w, d, &minispyuser.Options{Output: &out})
		_, hr := f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)

		h, err := f.app.CreateFile(`C:\log.txt`, kernel.GENERIC_WRITE, shareAll, nil, harness.CREATE_ALWAYS, 0)
		require.NoError(t, err) // record 1
		const writes = 520
		for i := 0; i < writes; i++ { // records 2..500, the overflow record, then nothing
			_, err := f.app.WriteFileAt(h, []byte{'x'}, int64(i))
			require.NoError(t, err)
		}
		queued, allocated := d.Outstanding()
		require.Equal(t, maxRecordsDefault+1, queued)
		require.Equal(t, maxRecordsDefault, allocated)

		f.spy.StartPolling()
		recs, err := f.spy.WaitRecords(maxRecordsDefault+1, wait)
		require.NoError(t, err)
		require.Len(t, recs, maxRecordsDefault+1)
		require.Equal(t, seqRange(1, 501), sequence(recs))
		for _, r := range recs[:maxRecordsDefault] {
			require.Equal(t, minispyproto.RECORD_TYPE_NORMAL, r.RecordType)
		}
		over := recs[maxRecordsDefault]
		require.Equal(t, minispyproto.RECORD_TYPE_FLAG_STATIC|minispyproto.RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE, over.RecordType)
		require.Equal(t, driverapi.IRP_MJ_WRITE, driverapi.MajorFunction(over.Data.CallbackMajorId))
		require.Equal(t, uint64(499), over.Data.Arg3, "the 500th write's offset: the 501st operation")
		require.Equal(t, volumeC+`\log.txt`, over.Name)

		// Drained: logging resumes, numbered from 502.
		require.NoError(t, f.app.CloseHandle(h))
		recs, err = f.spy.WaitRecords(maxRecordsDefault+3, wait)
		require.NoError(t, err)
		require.Len(t, recs, maxRecordsDefault+3)
		require.Equal(t, seqRange(1, 503), sequence(recs))
		require.Equal(t, []driverapi.MajorFunction{driverapi.IRP_MJ_CLEANUP, driverapi.IRP_MJ_CLOSE}, majors(recs[501:]))
		require.Equal(t, minispyproto.RECORD_TYPE_NORMAL, recs[502].RecordType)

		require.NoError(t, f.spy.Stop())
		require.Contains(t, out.String(), "M:\t0x000001F5\tExceeded Maximum Allowed Memory Buffers\n")
		require.Equal(t, 1, strings.Count(out.String(), "M:\t"))
		require.Empty(t, f.spy.Unexpected())
	})
}

// Logging resumes as soon as part of the log was read: the records read give their room
// back; the new records queue behind the overflow record. MaxRecords is configurable.
func TestOverflowPartialDrain(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &minispy.Driver{MaxRecords: 3}
		f := setup(t, w, d, nil)
		_, hr := f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		h, err := f.app.CreateFile(`C:\p.txt`, kernel.GENERIC_WRITE, shareAll, nil, harness.CREATE_ALWAYS, 0)
		require.NoError(t, err)
		for i := 0; i < 5; i++ {
			_, err := f.app.WriteFileAt(h, []byte{'x'}, int64(i))
			require.NoError(t, err)
		}
		queued, allocated := d.Outstanding()
		require.Equal(t, 4, queued)
		require.Equal(t, 3, allocated)

		// Read only the first record (a buffer that holds one).
		one := make([]byte, minispyproto.MaxLogRecordLength)
		recs, _, hr, err := f.spy.GetLog(one[:minispyproto.RecordLength(volumeC+`\p.txt`)])
		require.Equal(t, kernel.S_OK, hr)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, uint32(1), recs[0].SequenceNumber)

		// One slot is free: the next operation is logged; the one after finds the budget
		// spent and the overflow record still queued: nothing.
		_, err = f.app.WriteFileAt(h, []byte{'y'}, 10)
		require.NoError(t, err)
		_, err = f.app.WriteFileAt(h, []byte{'z'}, 11)
		require.NoError(t, err)

		recs = drain(t, f.spy)
		require.Equal(t, []uint32{2, 3, 4, 5}, sequence(recs))
		require.Equal(t, minispyproto.RECORD_TYPE_FLAG_STATIC|minispyproto.RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE, recs[2].RecordType)
		require.Equal(t, minispyproto.RECORD_TYPE_NORMAL, recs[3].RecordType)
		require.Equal(t, uint64(10), recs[3].Data.Arg3)
		require.NoError(t, f.app.CloseHandle(h))
	})
}

// The sample's answers to bad requests (R-CB-3: the callback sees the user's own buffers, so
// it judges their alignment; its statuses reach the user as HRESULTs; R-USER Send 1, 4).
func TestCommandErrors(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		f := setup(t, w, &minispy.Driver{}, nil)
		p, port := f.spy.Backend().(*harness.Process), f.spy.Port()
		send := func(in, out []byte) (kernel.HRESULT, uint32) {
			n := uint32(0xFFFF)
			hr := p.FilterSendMessage(port, in, out, &n)
			return hr, n
		}
		getLog := minispyproto.CommandMessage{Command: minispyproto.GetMiniSpyLog}.Encode()
		getVersion := minispyproto.CommandMessage{Command: minispyproto.GetMiniSpyVersion}.Encode()
		buf := make([]byte, 4096+8) // 8-byte aligned, as make gives

		// Input shorter than the 4-byte command: STATUS_INVALID_PARAMETER.
		hr, n := send(getLog[:3], buf)
		require.Equal(t, hrInvalidArg, hr)
		require.Zero(t, n)
		hr, _ = send(nil, buf) // fltlib refuses an empty input itself (R-USER Send 1)
		require.Equal(t, hrInvalidArg, hr)
		// Four bytes are enough: Reserved is not read.
		hr, n = send(getLog[:4], buf)
		require.Equal(t, hrNoMoreItems, hr)
		require.Zero(t, n)

		// Unknown command.
		hr, _ = send(minispyproto.CommandMessage{Command: 7}.Encode(), buf)
		require.Equal(t, hrInvalidArg, hr)

		// GetMiniSpyLog: empty log → STATUS_NO_MORE_ENTRIES (user: ERROR_NO_MORE_ITEMS).
		hr, n = send(getLog, buf)
		require.Equal(t, hrNoMoreItems, hr)
		require.Equal(t, minispyuser.HResultNoMoreItems, hr)
		require.Zero(t, n)
		// No output buffer: STATUS_INVALID_PARAMETER.
		hr, _ = send(getLog, nil)
		require.Equal(t, hrInvalidArg, hr)
		// Not pointer-aligned: STATUS_DATATYPE_MISALIGNMENT (user: ERROR_NOACCESS), checked
		// before the queue.
		for _, off := range []int{1, 2, 4} {
			hr, n = send(getLog, buf[off:off+4096])
			require.Equal(t, hrNoAccess, hr, "offset %d", off)
			require.Zero(t, n)
		}
		hr, _ = send(getLog, buf[8:8+4096])
		require.Equal(t, hrNoMoreItems, hr, "offset 8 is aligned")

		// A record queued, a buffer too small for it: STATUS_BUFFER_TOO_SMALL, and the record
		// stays queued.
		_, hr = f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		h, err := f.app.CreateFile(`C:\old.txt`, kernel.GENERIC_READ, shareAll, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		need := int(minispyproto.RecordLength(volumeC + `\old.txt`))
		hr, n = send(getLog, buf[:need-8])
		require.Equal(t, hrBufferTooSmall, hr)
		require.Zero(t, n)
		hr, n = send(getLog, buf[:need])
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, uint32(need), n)
		recs, err := minispyproto.DecodeRecords(buf[:n])
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, uint32(1), recs[0].SequenceNumber)
		require.Equal(t, driverapi.IRP_MJ_CREATE, driverapi.MajorFunction(recs[0].Data.CallbackMajorId))
		require.Equal(t, uint64(fsys.FILE_OPENED), recs[0].Data.Information)
		require.NoError(t, f.app.CloseHandle(h))
		// Whole records only: two records (cleanup, close) and a buffer for one and a half.
		hr, n = send(getLog, buf[:need+need/2])
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, uint32(need), n, "only the cleanup record fits")
		hr, n = send(getLog, buf)
		require.Equal(t, kernel.S_OK, hr)
		recs, err = minispyproto.DecodeRecords(buf[:n])
		require.NoError(t, err)
		require.Equal(t, []uint32{3}, sequence(recs))

		// GetMiniSpyVersion: 2.0 in 4 bytes.
		v, hr := f.spy.Version()
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, minispyproto.Version{Major: 2, Minor: 0}, v)
		hr, n = send(getVersion, buf[:16])
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, uint32(4), n)
		require.Equal(t, []byte{2, 0, 0, 0}, buf[:4])
		hr, _ = send(getVersion, buf[:3])
		require.Equal(t, hrInvalidArg, hr, "shorter than MINISPYVER")
		hr, _ = send(getVersion, nil)
		require.Equal(t, hrInvalidArg, hr)
		hr, _ = send(getVersion, buf[2:6])
		require.Equal(t, hrNoAccess, hr, "not 4-aligned")
		hr, n = send(getVersion, buf[4:8])
		require.Equal(t, kernel.S_OK, hr, "4-aligned is enough")
		require.Equal(t, uint32(4), n)
	})
}

// R-MODEL-2, R-SD, R-CLOSECLI-3: the default descriptor refuses a standard user; one
// connection at a time; the slot is free again after the program closes; before the driver
// loads the port does not exist.
func TestConnections(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		early := w.NewProcess("minispy.exe", kernel.TokenAdmin())
		_, hr := connect(early, nil)
		require.Equal(t, hrFileNotFound, hr)

		f := setup(t, w, &minispy.Driver{}, nil)
		user := w.NewProcess("minispy.exe", kernel.TokenStandardUser())
		_, hr = connect(user, nil)
		require.Equal(t, kernel.E_ACCESSDENIED, hr)
		require.Equal(t, kernel.HRESULT(0x80070005), hr)

		second := w.NewProcess("minispy.exe", kernel.TokenAdmin())
		_, hr = connect(second, nil)
		require.Equal(t, hrCountLimit, hr)
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT), hr)

		// A standard user may not attach the filter either (R-IO-INST-3).
		_, hr = f.app.FilterAttach(minispyproto.FilterName, "C:", "")
		require.Equal(t, kernel.E_ACCESSDENIED, hr)

		require.NoError(t, f.spy.Stop())
		again, hr := connect(second, nil)
		require.Equal(t, kernel.S_OK, hr)
		v, hr := again.Version()
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, "2.0", v.String())
		require.NoError(t, again.Stop())
	})
}

// R-UNLOAD-5, R-USER Send 3: the driver unloads while the logging goroutine polls: its next
// GetMiniSpyLog gets E_HANDLE and it stops; the unload completes, records still queued are
// freed, and the handle can still be closed.
func TestUnloadWhilePolling(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		var out bytes.Buffer
		d := &minispy.Driver{}
		f := setup(t, w, d, &minispyuser.Options{Output: &out})
		_, hr := f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		f.spy.StartPolling()
		f.touch(t, `C:\u.txt`, []byte("u"))
		_, err := f.spy.WaitRecords(4, wait)
		require.NoError(t, err)

		// Leave records queued: the poller sleeps 200 ms between empty polls.
		h, err := f.app.CreateFile(`C:\u.txt`, kernel.GENERIC_READ, shareAll, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		require.NoError(t, w.Unload(minispyproto.FilterName))
		queued, allocated := d.Outstanding()
		require.Zero(t, queued, "freed at unload")
		require.Zero(t, allocated)
		require.Empty(t, w.Instances("C:"))

		select {
		case <-f.spy.Done():
		case <-time.After(wait):
			t.Fatal("the logging goroutine did not stop")
		}
		require.ErrorIs(t, f.spy.Err(), minispyuser.ErrDriverUnloaded)
		require.Contains(t, out.String(), "The kernel component of minispy has unloaded. Exiting\n")
		_, err = f.spy.WaitRecords(100, wait)
		require.ErrorIs(t, err, minispyuser.ErrDriverUnloaded)
		_, hr = f.spy.Version()
		require.Equal(t, kernel.E_HANDLE, hr)
		require.NoError(t, f.app.CloseHandle(h), "no filter any more")
		require.ErrorIs(t, f.spy.Stop(), minispyuser.ErrDriverUnloaded)
	})
}

// C bug fixed: SpyAllocateBuffer tests the record budget and counts the new record in two
// steps, so concurrent operations may go over MaxRecords; and SpyNewRecord numbers a record
// when it is allocated while SpyLog queues it when the operation completes, so concurrent
// operations queue records out of sequence. The port takes the budget under one lock and
// numbers records as it queues them: exactly MaxRecords records and the overflow record,
// numbered 1, 2, 3 ... in the order GetMiniSpyLog returns them.
func TestConcurrentOperationsRespectTheBudget(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &minispy.Driver{MaxRecords: 10}
		f := setup(t, w, d, nil)
		_, hr := f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			p := w.NewProcess("writer.exe", kernel.TokenStandardUser())
			path := `C:\w` + string(rune('0'+i)) + `.txt`
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := p.CreateFile(path, kernel.GENERIC_WRITE, shareAll, nil, harness.CREATE_ALWAYS, 0)
				if err != nil {
					t.Error(err)
					return
				}
				for j := 0; j < 20; j++ {
					if _, err := p.WriteFileAt(h, []byte{'w'}, int64(j)); err != nil {
						t.Error(err)
					}
				}
				p.CloseHandle(h)
			}()
		}
		wg.Wait()
		queued, allocated := d.Outstanding()
		require.Equal(t, 11, queued)
		require.Equal(t, 10, allocated)
		recs := drain(t, f.spy)
		require.Equal(t, seqRange(1, 11), sequence(recs))
		over := 0
		for _, r := range recs {
			if r.RecordType&minispyproto.RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE != 0 {
				over++
			}
		}
		require.Equal(t, 1, over)
	})
}

// blocker is a filter below minispy that holds writes in its pre-operation until released,
// so that an operation is in flight under minispy.
type blocker struct {
	fm      driverapi.FilterManager
	filter  driverapi.Filter
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	b.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version: driverapi.FLT_REGISTRATION_VERSION, Altitude: "100000",
		FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			fm.UnregisterFilter(b.filter)
			return kernel.STATUS_SUCCESS
		},
		OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_WRITE,
			PreOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
				b.entered <- struct{}{}
				<-b.release
				return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
			}}},
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	b.filter = f
	if st := fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return kernel.STATUS_SUCCESS
}

// C bug fixed (R-IO-INST-5): an operation in flight when the instance is detached gets its
// post-operation with FLTFL_POST_OPERATION_DRAINING, and its record is dropped. The C sample
// numbered that record when it allocated it, so the log shows a gap; the port numbers records
// as it queues them, so the numbers stay consecutive, and the dropped record's room is given
// back.
func TestDetachDuringOperationLeavesNoGap(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &minispy.Driver{}
		f := setup(t, w, d, nil)
		b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
		require.NoError(t, w.Load("blocker", b))
		_, hr := f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)

		h, err := f.app.CreateFile(`C:\g.txt`, kernel.GENERIC_WRITE, shareAll, nil, harness.CREATE_ALWAYS, 0)
		require.NoError(t, err) // record 1
		done := make(chan error, 1)
		go func() {
			_, err := f.app.WriteFileAt(h, []byte("in flight"), 0)
			done <- err
		}()
		<-b.entered // minispy's pre-write ran; the write waits in the blocker
		_, allocated := d.Outstanding()
		require.Equal(t, 2, allocated, "the write's record is in flight")

		require.Equal(t, kernel.S_OK, f.spy.Detach("C:", ""))
		queued, allocated := d.Outstanding()
		require.Equal(t, 1, queued)
		require.Equal(t, 1, allocated, "the dropped record gave its room back")
		close(b.release)
		require.NoError(t, <-done)

		_, hr = f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		require.NoError(t, f.app.CloseHandle(h)) // cleanup and close
		recs := drain(t, f.spy)
		require.Equal(t, []uint32{1, 2, 3}, sequence(recs))
		require.Equal(t, []driverapi.MajorFunction{driverapi.IRP_MJ_CREATE, driverapi.IRP_MJ_CLEANUP, driverapi.IRP_MJ_CLOSE}, majors(recs))
		require.NoError(t, w.Unload("blocker"))
	})
}

// The driver attaches to every volume user mode asks for, and to none by itself, including
// volumes mounted after it loaded; each volume has its own device id in the records.
func TestVolumesAttachOnlyOnRequest(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		f := setup(t, w, &minispy.Driver{}, nil)
		w.MustAddVolume(fsys.VolumeConfig{Name: "D:"})
		require.Empty(t, w.Instances("D:")) // R-IO-INST-2
		_, hr := f.spy.Attach("D:")
		require.Equal(t, kernel.S_OK, hr)
		_, hr = f.spy.Attach("C:")
		require.Equal(t, kernel.S_OK, hr)
		f.touch(t, `D:\d.txt`, nil)
		f.touch(t, `C:\c.txt`, nil)
		recs := drain(t, f.spy)
		require.Len(t, recs, 8)
		require.Equal(t, `\Device\HarddiskVolume2\d.txt`, recs[0].Name)
		require.Equal(t, volumeC+`\c.txt`, recs[4].Name)
		require.Equal(t, uint64(1), recs[0].Data.DeviceObject, "D: was seen first")
		require.Equal(t, uint64(2), recs[4].Data.DeviceObject)
		require.Equal(t, uint64(fsys.FILE_CREATED), recs[0].Data.Information)
	})
}

// connect starts the program without its logging goroutine, as the tests drive it, and returns
// the connect's HRESULT.
func connect(p *harness.Process, opts *minispyuser.Options) (*minispyuser.Service, kernel.HRESULT) {
	var o minispyuser.Options
	if opts != nil {
		o = *opts
	}
	o.NoPolling = true
	s, err := minispyuser.Start(context.Background(), p, o)
	if err != nil {
		var hr kernel.HRESULT
		if !errors.As(err, &hr) {
			hr = kernel.E_FAIL
		}
		return nil, hr
	}
	return s, kernel.S_OK
}
