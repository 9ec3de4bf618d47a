package kernel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The file-system and I/O-model statuses print with their names and map to the Win32 errors
// kernel32 reports for them (RtlNtStatusToDosError).
func TestIOStatusNamesAndMapping(t *testing.T) {
	for _, c := range []struct {
		st   NTSTATUS
		name string
		err  Win32Error
	}{
		{STATUS_ACCESS_VIOLATION, "STATUS_ACCESS_VIOLATION", ERROR_NOACCESS},
		{STATUS_NOT_SAME_DEVICE, "STATUS_NOT_SAME_DEVICE", ERROR_NOT_SAME_DEVICE},
		{STATUS_DIRECTORY_NOT_EMPTY, "STATUS_DIRECTORY_NOT_EMPTY", ERROR_DIR_NOT_EMPTY},
		{STATUS_FILE_CLOSED, "STATUS_FILE_CLOSED", ERROR_INVALID_HANDLE},
		{STATUS_FILE_DELETED, "STATUS_FILE_DELETED", ERROR_ACCESS_DENIED},
		{STATUS_INVALID_DEVICE_STATE, "STATUS_INVALID_DEVICE_STATE", ERROR_BAD_COMMAND},
	} {
		require.Contains(t, c.st.Error(), c.name)
		require.Equal(t, c.err, NtStatusToDosError(c.st), c.name)
		require.Equal(t, HResultFromWin32(c.err), HResultFromNtStatus(c.st), c.name) // R-HR-3
	}
	// R-HR-2: the I/O model's filter-manager statuses keep their code under facility 0x1F.
	require.Equal(t, HRESULT(0x801F0014), HResultFromNtStatus(STATUS_FLT_VOLUME_NOT_FOUND))
	require.Contains(t, STATUS_FLT_INSTANCE_NOT_FOUND.Error(), "STATUS_FLT_INSTANCE_NOT_FOUND (0xC01C0015)")
}
