package minispyuser_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minispy"
	mp "github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyuser"
)

// One log-file line per record, tab separated, as the sample's FileDump writes it.
func TestFormatRecord(t *testing.T) {
	at := kernel.SystemTime(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	r := mp.LogRecord{SequenceNumber: 0x2A, Name: `\Device\HarddiskVolume1\x.txt`, Data: mp.RecordData{
		OriginatingTime: at, CompletionTime: at + 10_000, // one millisecond later
		DeviceObject: 1, FileObject: 0xABC, ProcessId: 0x1F4, ThreadId: 0x1F6,
		Information: 3, Status: kernel.STATUS_END_OF_FILE,
		IrpFlags:        driverapi.IRP_NOCACHE | driverapi.IRP_PAGING_IO | driverapi.IRP_SYNCHRONOUS_PAGING_IO,
		Flags:           driverapi.FLTFL_CALLBACK_DATA_IRP_OPERATION,
		CallbackMajorId: uint8(driverapi.IRP_MJ_READ), Arg1: 4096, Arg3: 8192, Arg6: 0x10,
	}}
	require.Equal(t, "IRP\t0x0000002A\t07:08:09:123\t07:08:09:124\t     1f4.1f6  \t"+
		"IRP_MJ_READ                        \tIRP_MN_NORMAL                      \t"+
		"0x00000043 NP-Y\t0x0000000000000001\t0x0000000000000ABC\t0x0000000000000000\t"+
		"0xc0000011:0x0000000000000003\t0x0000000000001000\t0x0000000000000000\t0x0000000000002000\t"+
		"0x0000000000000000\t0x0000000000000000\t0x00000010\t\\Device\\HarddiskVolume1\\x.txt\n",
		minispyuser.FormatRecord(&r))

	r.Data.Flags = driverapi.FLTFL_CALLBACK_DATA_FAST_IO_OPERATION
	require.Regexp(t, `^FIO\t`, minispyuser.FormatRecord(&r))
	r.Data.Flags = driverapi.FLTFL_CALLBACK_DATA_FS_FILTER_OPERATION
	require.Regexp(t, `^FSF\t`, minispyuser.FormatRecord(&r))
	r.Data.Flags = 0
	require.Regexp(t, `^ERR\t`, minispyuser.FormatRecord(&r))
}

func TestOperationNames(t *testing.T) {
	for _, tc := range []struct {
		major, minor uint8
		maj, min     string
	}{
		{0x00, 0, "IRP_MJ_CREATE", ""},
		{0x12, 0, "IRP_MJ_CLEANUP", ""},
		{0x04, 0, "IRP_MJ_WRITE", "IRP_MN_NORMAL"},
		{0x03, 0x06, "IRP_MJ_READ", "IRP_MN_COMPLETE_MDL"},
		{0x03, 0x09, "IRP_MJ_READ", "Unknown Irp minor code (9)"},
		{0x0d, 0x00, "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MN_USER_FS_REQUEST"},
		{0x0c, 0x01, "IRP_MJ_DIRECTORY_CONTROL", "IRP_MN_QUERY_DIRECTORY"},
		{0x11, 0x03, "IRP_MJ_LOCK_CONTROL", "IRP_MN_UNLOCK_ALL"},
		{0xFF, 0, "Unknown Irp major function (255)", ""},
	} {
		maj, min := minispyuser.OperationNames(tc.major, tc.minor)
		require.Equal(t, tc.maj, maj)
		require.Equal(t, tc.min, min)
	}
}

// Stop before Start returns at once; WaitRecords gives up after its (fake) timeout.
func TestStopAndWait(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		require.NoError(t, w.Load(mp.FilterName, &minispy.Driver{}))
		spy, hr := connect(w.NewProcess("minispy.exe", kernel.TokenAdmin()), nil)
		require.Equal(t, kernel.S_OK, hr)
		spy2Proc := w.NewProcess("minispy.exe", kernel.TokenAdmin())
		_, hr = connect(spy2Proc, nil)
		require.Equal(t, kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT), hr)
		require.NoError(t, spy.Stop())
		spy.StartPolling() // after Stop: nothing runs
		<-spy.Done()

		spy2, hr := connect(spy2Proc, &minispyuser.Options{PollInterval: time.Second})
		require.Equal(t, kernel.S_OK, hr)
		spy2.StartPolling()
		start := time.Now()
		recs, err := spy2.WaitRecords(1, 3*time.Second)
		require.ErrorIs(t, err, minispyuser.ErrTimeout)
		require.Empty(t, recs)
		require.Equal(t, 3*time.Second, time.Since(start))
		require.NoError(t, spy2.Stop())
		require.NoError(t, spy2.Stop(), "twice")
		recs, err = spy2.WaitRecords(1, time.Second)
		require.ErrorIs(t, err, minispyuser.ErrTimeout, "stopped")
		require.Empty(t, recs)
		require.Empty(t, spy2.Unexpected())
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
