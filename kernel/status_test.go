package kernel_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func TestNTSTATUSError(t *testing.T) {
	require.Equal(t, "STATUS_PORT_DISCONNECTED (0xC0000037)", kernel.STATUS_PORT_DISCONNECTED.Error())
	require.Equal(t, "STATUS_SUCCESS (0x00000000)", kernel.STATUS_SUCCESS.Error())
	require.Equal(t, "STATUS_TIMEOUT (0x00000102)", kernel.STATUS_TIMEOUT.String())
	require.Equal(t, "STATUS_FLT_NO_WAITER_FOR_REPLY (0xC01C0020)", kernel.STATUS_FLT_NO_WAITER_FOR_REPLY.Error())
	require.Equal(t, "STATUS_PROCESS_IS_TERMINATING (0xC000010A)", kernel.STATUS_PROCESS_IS_TERMINATING.Error())
	require.Equal(t, "STATUS_IMAGE_ALREADY_LOADED (0xC000010E)", kernel.STATUS_IMAGE_ALREADY_LOADED.Error())
	// An unknown status prints a generic name with its hex value.
	require.Equal(t, "NTSTATUS (0xC0DE0001)", kernel.NTSTATUS(0xC0DE0001).Error())
	require.Equal(t, "NTSTATUS (0xC0DE0001)", fmt.Sprint(kernel.NTSTATUS(0xC0DE0001)))
	var err error = kernel.STATUS_ACCESS_DENIED
	require.EqualError(t, err, "STATUS_ACCESS_DENIED (0xC0000022)")
}

// Name is what Error prints before the value, for a reader that shows the name alone (the
// trace diagram).
func TestStatusNames(t *testing.T) {
	require.Equal(t, "STATUS_PORT_DISCONNECTED", kernel.STATUS_PORT_DISCONNECTED.Name())
	require.Equal(t, "NTSTATUS", kernel.NTSTATUS(0xC0DE0001).Name())
	require.Equal(t, "E_HANDLE", kernel.E_HANDLE.Name())
	require.Equal(t, "HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)", kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND).Name())
	require.Equal(t, "HRESULT", kernel.HRESULT(0x8ABC0001).Name())
	require.Equal(t, "ERROR_INVALID_HANDLE", kernel.ERROR_INVALID_HANDLE.Name())
	require.Equal(t, "Win32 error", kernel.Win32Error(0xFFFF).Name())
}

func TestNTSTATUSSeverity(t *testing.T) {
	for _, tc := range []struct {
		st                        kernel.NTSTATUS
		success, warning, isError bool
	}{
		{kernel.STATUS_SUCCESS, true, false, false},
		// STATUS_TIMEOUT and STATUS_PENDING are success codes (docs/rules.md §1).
		{kernel.STATUS_TIMEOUT, true, false, false},
		{kernel.STATUS_PENDING, true, false, false},
		{kernel.STATUS_ABANDONED_WAIT_0, true, false, false},
		// BUFFER_OVERFLOW is a warning: not NT_SUCCESS.
		{kernel.STATUS_BUFFER_OVERFLOW, false, true, false},
		{kernel.STATUS_DATATYPE_MISALIGNMENT, false, true, false},
		{kernel.STATUS_FLT_BUFFER_TOO_SMALL, false, true, false},
		{kernel.STATUS_ACCESS_DENIED, false, false, true},
		{kernel.STATUS_FLT_DO_NOT_DETACH, false, false, true},
	} {
		require.Equal(t, tc.success, tc.st.IsSuccess(), "IsSuccess(%v)", tc.st)
		require.Equal(t, tc.warning, tc.st.IsWarning(), "IsWarning(%v)", tc.st)
		require.Equal(t, tc.isError, tc.st.IsError(), "IsError(%v)", tc.st)
	}
	require.Equal(t, uint32(kernel.FacilityFilterManager), kernel.STATUS_FLT_NO_WAITER_FOR_REPLY.Facility())
	require.Equal(t, uint32(kernel.FacilityFilterManager), kernel.STATUS_FLT_BUFFER_TOO_SMALL.Facility())
	require.Equal(t, uint32(0), kernel.STATUS_ACCESS_DENIED.Facility())
}

func TestHRESULTAndWin32Error(t *testing.T) {
	require.Equal(t, "E_HANDLE (0x80070006)", kernel.E_HANDLE.Error())
	require.Equal(t, "S_OK (0x00000000)", kernel.S_OK.Error())
	require.Equal(t, "HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (0x80070002)", kernel.HRESULT(0x80070002).Error())
	require.Equal(t, "ERROR_FLT_NO_WAITER_FOR_REPLY (0x801F0020)", kernel.ERROR_FLT_NO_WAITER_FOR_REPLY.String())
	require.Equal(t, "HRESULT (0x8BAD0001)", kernel.HRESULT(0x8BAD0001).Error())
	require.Equal(t, "ERROR_INVALID_HANDLE (6)", kernel.ERROR_INVALID_HANDLE.Error())
	require.Equal(t, "WAIT_TIMEOUT (258)", kernel.ERROR_WAIT_TIMEOUT.Error())
	require.Equal(t, "Win32 error (4242)", kernel.Win32Error(4242).Error())

	require.True(t, kernel.S_OK.Succeeded())
	require.False(t, kernel.S_OK.Failed())
	require.True(t, kernel.E_INVALIDARG.Failed())
	require.NoError(t, kernel.S_OK.Err())
	require.NoError(t, kernel.HRESULT(1).Err()) // S_FALSE succeeds
	require.Equal(t, error(kernel.E_HANDLE), kernel.E_HANDLE.Err())

	e, ok := kernel.E_ACCESSDENIED.Win32()
	require.True(t, ok)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, e)
	e, ok = kernel.S_OK.Win32()
	require.True(t, ok)
	require.Equal(t, kernel.ERROR_SUCCESS, e)
	_, ok = kernel.ERROR_FLT_NO_WAITER_FOR_REPLY.Win32()
	require.False(t, ok)
	_, ok = kernel.E_FAIL.Win32()
	require.False(t, ok)

	require.Equal(t, kernel.S_OK, kernel.HResultFromWin32(kernel.ERROR_SUCCESS))
	require.Equal(t, kernel.E_HANDLE, kernel.HResultFromWin32(kernel.ERROR_INVALID_HANDLE))
	require.Equal(t, kernel.HRESULT(0x800702DF), kernel.HResultFromWin32(kernel.ERROR_ABANDONED_WAIT_0))
}

func TestErrorsIs(t *testing.T) {
	// NTSTATUS matches by value, also when wrapped.
	wrapped := fmt.Errorf("connect: %w", kernel.STATUS_ACCESS_DENIED)
	require.ErrorIs(t, wrapped, kernel.STATUS_ACCESS_DENIED)
	require.NotErrorIs(t, wrapped, kernel.STATUS_INVALID_PARAMETER)
	var st kernel.NTSTATUS
	require.True(t, errors.As(wrapped, &st))
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)

	// HRESULT matches by value.
	require.ErrorIs(t, fmt.Errorf("x: %w", kernel.E_HANDLE), kernel.E_HANDLE)
	require.NotErrorIs(t, kernel.E_HANDLE, kernel.E_INVALIDARG)

	// Win32Error matches by value.
	require.ErrorIs(t, fmt.Errorf("x: %w", kernel.ERROR_NOT_FOUND), kernel.ERROR_NOT_FOUND)
	require.NotErrorIs(t, kernel.ERROR_NOT_FOUND, kernel.ERROR_FILE_NOT_FOUND)

	// HRESULT ↔ Win32: HRESULT_FROM_WIN32(e) and e match each other, both ways.
	require.ErrorIs(t, kernel.ERROR_INVALID_HANDLE, kernel.E_HANDLE)
	require.ErrorIs(t, kernel.E_HANDLE, kernel.ERROR_INVALID_HANDLE)
	require.ErrorIs(t, fmt.Errorf("get: %w", kernel.E_HANDLE), kernel.ERROR_INVALID_HANDLE)
	require.ErrorIs(t, fmt.Errorf("get: %w", kernel.ERROR_INVALID_HANDLE), kernel.E_HANDLE)
	require.ErrorIs(t, kernel.HRESULT(0x800703E3), kernel.ERROR_OPERATION_ABORTED)
	require.NotErrorIs(t, kernel.ERROR_ACCESS_DENIED, kernel.E_HANDLE)
	require.NotErrorIs(t, kernel.E_HANDLE, kernel.ERROR_ACCESS_DENIED)
	// ERROR_SUCCESS is not an error to match: it never equals S_OK through errors.Is.
	require.NotErrorIs(t, kernel.S_OK, kernel.ERROR_SUCCESS)
	require.NotErrorIs(t, kernel.ERROR_SUCCESS, kernel.S_OK)
	// The kinds do not mix otherwise: an NTSTATUS is not its HRESULT.
	require.NotErrorIs(t, kernel.STATUS_PORT_DISCONNECTED, kernel.E_HANDLE)
	require.NotErrorIs(t, kernel.E_HANDLE, kernel.STATUS_PORT_DISCONNECTED)
}

// TestHResultFromNtStatusTable checks the R-HR mapping of docs/rules.md §1 row by row.
func TestHResultFromNtStatusTable(t *testing.T) {
	type row struct {
		st    kernel.NTSTATUS
		win32 kernel.Win32Error
		hr    kernel.HRESULT
	}
	check := func(t *testing.T, rows ...row) {
		t.Helper()
		for _, r := range rows {
			require.Equal(t, r.win32, kernel.NtStatusToDosError(r.st), "RtlNtStatusToDosError(%v)", r.st)
			require.Equal(t, r.hr, kernel.HResultFromNtStatus(r.st), "HRESULT(%v)", r.st)
			require.Equal(t, r.hr, kernel.HResultFromWin32(r.win32), "HRESULT_FROM_WIN32(%v)", r.win32)
		}
	}

	// R-HR-1: SUCCESS → S_OK.
	t.Run("R-HR-1", func(t *testing.T) {
		require.Equal(t, kernel.S_OK, kernel.HResultFromNtStatus(kernel.STATUS_SUCCESS))
		require.Equal(t, kernel.ERROR_SUCCESS, kernel.NtStatusToDosError(kernel.STATUS_SUCCESS))
	})

	// R-HR-2: facility 0x1C keeps its code under facility 0x1F; FLT_BUFFER_TOO_SMALL is the
	// Win32 insufficient-buffer error.
	t.Run("R-HR-2", func(t *testing.T) {
		require.Equal(t, kernel.HRESULT(0x801F0020), kernel.HResultFromNtStatus(kernel.STATUS_FLT_NO_WAITER_FOR_REPLY))
		require.Equal(t, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, kernel.HResultFromNtStatus(kernel.NTSTATUS(0xC01C0020)))
		require.Equal(t, kernel.HRESULT(0x8007007A), kernel.HResultFromNtStatus(kernel.STATUS_FLT_BUFFER_TOO_SMALL))
		require.Equal(t, kernel.ERROR_FLT_NOT_INITIALIZED, kernel.HResultFromNtStatus(kernel.STATUS_FLT_NOT_INITIALIZED))
		require.Equal(t, kernel.ERROR_FLT_DELETING_OBJECT, kernel.HResultFromNtStatus(kernel.STATUS_FLT_DELETING_OBJECT))
		require.Equal(t, kernel.HRESULT(0x801F000B), kernel.HResultFromNtStatus(kernel.STATUS_FLT_DELETING_OBJECT))
		require.Equal(t, kernel.HRESULT(0x801F0010), kernel.HResultFromNtStatus(kernel.STATUS_FLT_DO_NOT_DETACH))
		require.Equal(t, kernel.ERROR_FLT_DO_NOT_ATTACH, kernel.HResultFromNtStatus(kernel.STATUS_FLT_DO_NOT_ATTACH))
		require.Equal(t, kernel.HRESULT(0x801F0013), kernel.HResultFromNtStatus(kernel.STATUS_FLT_FILTER_NOT_FOUND))
		// The rule, on a filter-manager status the emulator has no name for.
		for _, st := range []kernel.NTSTATUS{0xC01C0001, 0xC01C0099, 0x801C0005, 0xC01CFFFF} {
			require.Equal(t, kernel.HRESULT(uint32(st)&0x8000FFFF|0x001F0000), kernel.HResultFromNtStatus(st), "%v", st)
			require.True(t, kernel.HResultFromNtStatus(st).Failed(), "%v", st)
		}
	})

	// R-HR-3: everything else through RtlNtStatusToDosError and HRESULT_FROM_WIN32, one row
	// of the table at a time.
	t.Run("R-HR-3", func(t *testing.T) {
		check(t,
			row{kernel.STATUS_PENDING, kernel.ERROR_IO_PENDING, 0x800703E5},
			row{kernel.STATUS_PORT_DISCONNECTED, kernel.ERROR_INVALID_HANDLE, 0x80070006},
			row{kernel.STATUS_OBJECT_NAME_NOT_FOUND, kernel.ERROR_FILE_NOT_FOUND, 0x80070002},
			row{kernel.STATUS_ACCESS_DENIED, kernel.ERROR_ACCESS_DENIED, 0x80070005},
			row{kernel.STATUS_THREAD_IS_TERMINATING, kernel.ERROR_ACCESS_DENIED, 0x80070005},
			row{kernel.STATUS_BUFFER_TOO_SMALL, kernel.ERROR_INSUFFICIENT_BUFFER, 0x8007007A},
			row{kernel.STATUS_BUFFER_OVERFLOW, kernel.ERROR_MORE_DATA, 0x800700EA},
			row{kernel.STATUS_INVALID_PARAMETER, kernel.ERROR_INVALID_PARAMETER, 0x80070057},
			row{kernel.STATUS_INVALID_PARAMETER_3, kernel.ERROR_INVALID_PARAMETER, 0x80070057},
			row{kernel.STATUS_CANCELLED, kernel.ERROR_OPERATION_ABORTED, 0x800703E3},
			row{kernel.STATUS_CONNECTION_COUNT_LIMIT, kernel.ERROR_CONNECTION_COUNT_LIMIT, 0x800704D6}, // 1238, not 1236 (see TestConnectionCountLimitIs1238)
			row{kernel.STATUS_INSUFFICIENT_RESOURCES, kernel.ERROR_NO_SYSTEM_RESOURCES, 0x800705AA},
			row{kernel.STATUS_TIMEOUT, kernel.ERROR_WAIT_TIMEOUT, 0x80070102},
			row{kernel.STATUS_NOT_SUPPORTED, kernel.ERROR_NOT_SUPPORTED, 0x80070032},
			row{kernel.STATUS_PRIVILEGE_NOT_HELD, kernel.ERROR_PRIVILEGE_NOT_HELD, 0x80070522},
			row{kernel.STATUS_DATATYPE_MISALIGNMENT, kernel.ERROR_NOACCESS, 0x800703E6},
		)
		// The named HRESULTs are the same values.
		require.Equal(t, kernel.E_HANDLE, kernel.HResultFromNtStatus(kernel.STATUS_PORT_DISCONNECTED))
		require.Equal(t, kernel.E_ACCESSDENIED, kernel.HResultFromNtStatus(kernel.STATUS_ACCESS_DENIED))
		require.Equal(t, kernel.E_INVALIDARG, kernel.HResultFromNtStatus(kernel.STATUS_INVALID_PARAMETER))
		// Statuses outside the table that the emulator produces map as Windows maps them.
		check(t,
			row{kernel.STATUS_INVALID_HANDLE, kernel.ERROR_INVALID_HANDLE, 0x80070006},
			row{kernel.STATUS_OBJECT_TYPE_MISMATCH, kernel.ERROR_INVALID_HANDLE, 0x80070006},
			row{kernel.STATUS_OBJECT_NAME_COLLISION, kernel.ERROR_ALREADY_EXISTS, 0x800700B7},
			row{kernel.STATUS_PROCESS_IS_TERMINATING, kernel.ERROR_ACCESS_DENIED, 0x80070005},
			row{kernel.STATUS_IMAGE_ALREADY_LOADED, kernel.ERROR_SERVICE_ALREADY_RUNNING, 0x80070420},
		)
	})

	// R-HR-3 fallback: a status the table does not know maps to
	// HRESULT_FROM_WIN32(ERROR_MR_MID_NOT_FOUND), never to S_OK.
	t.Run("R-HR-3-fallback", func(t *testing.T) {
		for _, st := range []kernel.NTSTATUS{0xC0DE0001, 0xC0000999, 0x80000999, 0x00000004, 0x40000999} {
			require.Equal(t, kernel.ERROR_MR_MID_NOT_FOUND, kernel.NtStatusToDosError(st), "%v", st)
			require.Equal(t, kernel.HRESULT(0x8007013D), kernel.HResultFromNtStatus(st), "%v", st)
		}
	})

	// No failure ever becomes S_OK, whatever the status (a sweep over every facility and
	// severity with a few codes each).
	t.Run("never-S_OK", func(t *testing.T) {
		for sev := uint32(0); sev < 4; sev++ {
			for fac := uint32(0); fac < 0x100; fac++ {
				for _, code := range []uint32{0, 1, 0x20, 0x102, 0xFFFF} {
					st := kernel.NTSTATUS(sev<<30 | fac<<16 | code)
					if st == kernel.STATUS_SUCCESS {
						continue
					}
					require.NotEqual(t, kernel.S_OK, kernel.HResultFromNtStatus(st), "%v", st)
					if !st.IsSuccess() {
						require.True(t, kernel.HResultFromNtStatus(st).Failed(), "%v", st)
					}
				}
			}
		}
	})
}
