// # Files
//
// The file half of the user-mode world: volumes ([World.AddVolume]), the kernel32 file API of
// a process (CreateFile, ReadFile, WriteFile, SetFileInformationByHandle,
// MoveFileEx, DeleteFile, DeviceIoControl, ...) and fltlib's FilterAttach / FilterDetach.
// Every call runs the operation through the volume's minifilter stack on the caller's
// goroutine and returns the Win32 error kernel32 would (nil for success).
//
// Decisions:
//   - Paths are absolute: `C:\dir\a.txt` (`/` accepted), `\\?\C:\...` (taken literally) or
//     `\\server\share\...` for a network volume with that share. `.` and `..` are resolved and
//     trailing dots and spaces dropped from each component, as Win32 does. A relative path is
//     ERROR_INVALID_NAME (there is no current directory); an unknown drive ERROR_PATH_NOT_FOUND.
//   - Each process's calls run on its main thread, id = process id + 2; the thread's context
//     is done when the process exits. Cleanup and close of a file object run with the thread
//     of the process that opened it, whoever closes the last handle.
//   - CREATE_ALWAYS and OPEN_ALWAYS on an existing file succeed with a nil error: the
//     "ERROR_ALREADY_EXISTS as last error" detail is not reported.
//   - FILE_FLAG_OVERLAPPED makes an asynchronous file object (no file pointer: reads and writes
//     need an offset), but the calls still complete before they return.
//   - MoveFile does not copy across volumes: ERROR_NOT_SAME_DEVICE.
package harness

import "github.com/fltemu/fltemu/kernel"

// win32Error maps a file operation's status to the Win32 error kernel32 reports.
func win32Error(st kernel.NTSTATUS) kernel.Win32Error { return kernel.NtStatusToDosError(st) }

func errOf(st kernel.NTSTATUS) error {
	if st.IsSuccess() {
		return nil
	}
	return win32Error(st)
}
