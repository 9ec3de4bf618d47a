package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

// R-HR: RtlNtStatusToDosError carries the real mapping for every status of ntstatus.h
// and fltWinError.h that has one, not only the rows of the minimum table.
func TestNtStatusToDosErrorBeyondTheMinimumTable(t *testing.T) {
	for _, c := range []struct {
		st  kernel.NTSTATUS
		err kernel.Win32Error
		hr  kernel.HRESULT
	}{
		{kernel.STATUS_IO_TIMEOUT, kernel.ERROR_SEM_TIMEOUT, 0x80070079},                  // 121
		{kernel.STATUS_CONNECTION_REFUSED, kernel.ERROR_CONNECTION_REFUSED, 0x800704C9},   // 1225
		{kernel.STATUS_NOT_FOUND, kernel.ERROR_NOT_FOUND, 0x80070490},                     // 1168
		{kernel.STATUS_NO_MORE_ENTRIES, kernel.ERROR_NO_MORE_ITEMS, 0x80070103},           // 259
		{kernel.STATUS_INVALID_DEVICE_REQUEST, kernel.ERROR_INVALID_FUNCTION, 0x80070001}, // 1
		{kernel.STATUS_UNSUCCESSFUL, kernel.ERROR_GEN_FAILURE, 0x8007001F},                // 31
		{kernel.STATUS_NO_MEMORY, kernel.ERROR_NOT_ENOUGH_MEMORY, 0x80070008},             // 8
		{kernel.STATUS_OBJECT_PATH_SYNTAX_BAD, kernel.ERROR_BAD_PATHNAME, 0x800700A1},     // 161
		{kernel.STATUS_OBJECT_PATH_NOT_FOUND, kernel.ERROR_PATH_NOT_FOUND, 0x80070003},    // 3
	} {
		require.Equal(t, c.err, kernel.NtStatusToDosError(c.st), "%v", c.st)
		require.Equal(t, c.hr, kernel.HResultFromNtStatus(c.st), "%v", c.st)
		require.ErrorIs(t, kernel.HResultFromNtStatus(c.st), c.err)
	}
	require.Equal(t, kernel.Win32Error(121), kernel.ERROR_SEM_TIMEOUT)
	require.Equal(t, kernel.Win32Error(1225), kernel.ERROR_CONNECTION_REFUSED)
	require.Equal(t, kernel.Win32Error(161), kernel.ERROR_BAD_PATHNAME)

	// Statuses the emulator has no constant for still map: the table is the whole listing.
	for st, want := range map[kernel.NTSTATUS]kernel.Win32Error{
		0xC000000F: 2,          // STATUS_NO_SUCH_FILE → ERROR_FILE_NOT_FOUND
		0xC000007F: 112,        // STATUS_DISK_FULL → ERROR_DISK_FULL
		0xC0000041: 5,          // STATUS_PORT_CONNECTION_REFUSED → ERROR_ACCESS_DENIED
		0x80000006: 18,         // STATUS_NO_MORE_FILES → ERROR_NO_MORE_FILES
		0xC0000001: 31,         // STATUS_UNSUCCESSFUL
		0xD0000022: 5,          // 0xD… reads as 0xC…: STATUS_ACCESS_DENIED
		0xC0070005: 5,          // HRESULT_FROM_WIN32-shaped: the low word
		0x80070057: 87,         // likewise
		0xE0000001: 0xE0000001, // the customer bit: returned unchanged
	} {
		require.Equal(t, want, kernel.NtStatusToDosError(st), "%v", st)
	}
}

// R-HR: a status with no mapping gives ERROR_MR_MID_NOT_FOUND (317), never success.
func TestNtStatusToDosErrorUnmapped(t *testing.T) {
	for _, st := range []kernel.NTSTATUS{0xC0009999, 0x80009999, 0x40009999, 0x00000004, 0xC01C001D, 0xC0070000, 0x80070000} {
		require.Equal(t, kernel.ERROR_MR_MID_NOT_FOUND, kernel.NtStatusToDosError(st), "%v", st)
		require.Equal(t, kernel.Win32Error(317), kernel.NtStatusToDosError(st), "%v", st)
	}
	require.Equal(t, kernel.ERROR_SUCCESS, kernel.NtStatusToDosError(kernel.STATUS_SUCCESS))
}

// The filter manager's statuses map to fltWinError.h's ERROR_FLT_* HRESULTs (and
// FLT_BUFFER_TOO_SMALL to ERROR_INSUFFICIENT_BUFFER); HRESULT_FROM_WIN32 passes those through,
// which is why R-HR step 2 keeps the code under facility 0x1F.
func TestNtStatusToDosErrorFilterManager(t *testing.T) {
	require.Equal(t, kernel.Win32Error(0x801F0020), kernel.NtStatusToDosError(kernel.STATUS_FLT_NO_WAITER_FOR_REPLY))
	require.Equal(t, "ERROR_FLT_NO_WAITER_FOR_REPLY (2149515296)", kernel.NtStatusToDosError(kernel.STATUS_FLT_NO_WAITER_FOR_REPLY).Error())
	require.Equal(t, kernel.ERROR_INSUFFICIENT_BUFFER, kernel.NtStatusToDosError(kernel.STATUS_FLT_BUFFER_TOO_SMALL))
	for _, st := range []kernel.NTSTATUS{kernel.STATUS_FLT_NO_WAITER_FOR_REPLY, kernel.STATUS_FLT_DELETING_OBJECT,
		kernel.STATUS_FLT_DO_NOT_DETACH, kernel.STATUS_FLT_NOT_INITIALIZED, kernel.STATUS_FLT_FILTER_NOT_FOUND} {
		require.Equal(t, kernel.HResultFromWin32(kernel.NtStatusToDosError(st)), kernel.HResultFromNtStatus(st), "%v", st)
	}
}

// ERROR_CONNECTION_COUNT_LIMIT is 1238 (0x800704D6) in winerror.h and what
// RtlNtStatusToDosError gives for STATUS_CONNECTION_COUNT_LIMIT; 1236 is ERROR_CONNECTION_ABORTED.
func TestConnectionCountLimitIs1238(t *testing.T) {
	require.Equal(t, kernel.Win32Error(1238), kernel.ERROR_CONNECTION_COUNT_LIMIT)
	require.Equal(t, kernel.HRESULT(0x800704D6), kernel.HResultFromNtStatus(kernel.STATUS_CONNECTION_COUNT_LIMIT))
	require.Equal(t, "ERROR_CONNECTION_ABORTED (1236)", kernel.Win32Error(1236).Error())
}

// Names come from the generated table too, for values the emulator has no constant for.
func TestStatusNamesFromTable(t *testing.T) {
	require.Equal(t, "STATUS_IO_TIMEOUT (0xC00000B5)", kernel.NTSTATUS(0xC00000B5).String())
	require.Equal(t, "STATUS_DISK_FULL (0xC000007F)", kernel.NTSTATUS(0xC000007F).Error())
	require.Equal(t, "STATUS_FLT_IO_COMPLETE (0x001C0001)", kernel.NTSTATUS(0x001C0001).Error())
	require.Equal(t, "NTSTATUS (0xC0009999)", kernel.NTSTATUS(0xC0009999).Error())
	require.Equal(t, "ERROR_SEM_TIMEOUT (121)", kernel.Win32Error(121).Error())
	require.Equal(t, "ERROR_DISK_FULL (112)", kernel.Win32Error(112).Error())
	require.Equal(t, "WAIT_TIMEOUT (258)", kernel.ERROR_WAIT_TIMEOUT.Error())
	require.Equal(t, "Win32 error (65000)", kernel.Win32Error(65000).Error())
	require.Equal(t, "HRESULT_FROM_WIN32(ERROR_SEM_TIMEOUT) (0x80070079)", kernel.HRESULT(0x80070079).String())
	require.Equal(t, "E_UNEXPECTED (0x8000FFFF)", kernel.HRESULT(0x8000FFFF).Error())
	require.Equal(t, "E_HANDLE (0x80070006)", kernel.E_HANDLE.Error())
	require.Equal(t, "ERROR_FLT_INSTANCE_NOT_FOUND (0x801F0015)", kernel.HRESULT(0x801F0015).Error())
	require.Equal(t, "HRESULT (0x8123ABCD)", kernel.HRESULT(0x8123ABCD).Error())
}
