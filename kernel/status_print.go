package kernel

// GoString makes %#v print the name and the value, so a failed testify assertion on a status
// reads "expected: STATUS_SUCCESS (0x00000000), actual: STATUS_ACCESS_DENIED (0xC0000022)"
// rather than bare hex.
func (s NTSTATUS) GoString() string { return s.Error() }

// GoString makes %#v print the name and the value (see NTSTATUS.GoString).
func (h HRESULT) GoString() string { return h.Error() }

// GoString makes %#v print the name and the value (see NTSTATUS.GoString).
func (e Win32Error) GoString() string { return e.Error() }
