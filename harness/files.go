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
