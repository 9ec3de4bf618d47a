package kernel

import "fmt"

// NTSTATUS is a Windows kernel status code. Kernel-side routines return it by value, as the WDK
// does. It implements error, so it also travels through Go error chains; errors.Is matches it
// by value.
//
// Remember that some codes are successes: STATUS_TIMEOUT and STATUS_PENDING satisfy
// [NTSTATUS.IsSuccess]. Never read "success" as "a reply arrived".
type NTSTATUS uint32

// NTSTATUS values that occur in the emulator (SEMANTICS §1, plus the ones the I/O model and the
// samples use).
const (
	STATUS_SUCCESS                         NTSTATUS = 0x00000000
	STATUS_ABANDONED_WAIT_0                NTSTATUS = 0x00000080
	STATUS_TIMEOUT                         NTSTATUS = 0x00000102
	STATUS_PENDING                         NTSTATUS = 0x00000103
	STATUS_DATATYPE_MISALIGNMENT           NTSTATUS = 0x80000002
	STATUS_BUFFER_OVERFLOW                 NTSTATUS = 0x80000005
	STATUS_NO_MORE_ENTRIES                 NTSTATUS = 0x8000001A
	STATUS_UNSUCCESSFUL                    NTSTATUS = 0xC0000001
	STATUS_NOT_IMPLEMENTED                 NTSTATUS = 0xC0000002
	STATUS_INVALID_HANDLE                  NTSTATUS = 0xC0000008
	STATUS_INVALID_PARAMETER               NTSTATUS = 0xC000000D
	STATUS_INVALID_DEVICE_REQUEST          NTSTATUS = 0xC0000010
	STATUS_END_OF_FILE                     NTSTATUS = 0xC0000011
	STATUS_NO_MEMORY                       NTSTATUS = 0xC0000017
	STATUS_ACCESS_DENIED                   NTSTATUS = 0xC0000022
	STATUS_BUFFER_TOO_SMALL                NTSTATUS = 0xC0000023
	STATUS_OBJECT_TYPE_MISMATCH            NTSTATUS = 0xC0000024
	STATUS_OBJECT_NAME_INVALID             NTSTATUS = 0xC0000033
	STATUS_OBJECT_NAME_NOT_FOUND           NTSTATUS = 0xC0000034
	STATUS_OBJECT_NAME_COLLISION           NTSTATUS = 0xC0000035
	STATUS_PORT_DISCONNECTED               NTSTATUS = 0xC0000037
	STATUS_OBJECT_PATH_NOT_FOUND           NTSTATUS = 0xC000003A
	STATUS_SHARING_VIOLATION               NTSTATUS = 0xC0000043
	STATUS_THREAD_IS_TERMINATING           NTSTATUS = 0xC000004B
	STATUS_DELETE_PENDING                  NTSTATUS = 0xC0000056
	STATUS_PRIVILEGE_NOT_HELD              NTSTATUS = 0xC0000061
	STATUS_INSUFFICIENT_RESOURCES          NTSTATUS = 0xC000009A
	STATUS_FILE_IS_A_DIRECTORY             NTSTATUS = 0xC00000BA
	STATUS_NOT_SUPPORTED                   NTSTATUS = 0xC00000BB
	STATUS_INVALID_PARAMETER_1             NTSTATUS = 0xC00000EF
	STATUS_INVALID_PARAMETER_2             NTSTATUS = 0xC00000F0
	STATUS_INVALID_PARAMETER_3             NTSTATUS = 0xC00000F1
	STATUS_NOT_A_DIRECTORY                 NTSTATUS = 0xC0000103
	STATUS_IMAGE_ALREADY_LOADED            NTSTATUS = 0xC000010E
	STATUS_CANCELLED                       NTSTATUS = 0xC0000120
	STATUS_CANNOT_DELETE                   NTSTATUS = 0xC0000121
	STATUS_NOT_FOUND                       NTSTATUS = 0xC0000225
	STATUS_CONNECTION_COUNT_LIMIT          NTSTATUS = 0xC0000246
	STATUS_VIRUS_INFECTED                  NTSTATUS = 0xC0000906
	STATUS_FLT_BUFFER_TOO_SMALL            NTSTATUS = 0x801C0001
	STATUS_FLT_NOT_INITIALIZED             NTSTATUS = 0xC01C0007
	STATUS_FLT_DELETING_OBJECT             NTSTATUS = 0xC01C000B
	STATUS_FLT_DO_NOT_ATTACH               NTSTATUS = 0xC01C000F
	STATUS_FLT_DO_NOT_DETACH               NTSTATUS = 0xC01C0010
	STATUS_FLT_INSTANCE_ALTITUDE_COLLISION NTSTATUS = 0xC01C0011
	STATUS_FLT_FILTER_NOT_FOUND            NTSTATUS = 0xC01C0013
	STATUS_FLT_NO_WAITER_FOR_REPLY         NTSTATUS = 0xC01C0020
)

// ntstatusName returns the symbolic name of s, or "" when the emulator does not know it.
func ntstatusName(s NTSTATUS) string {
	switch s {
	case STATUS_SUCCESS:
		return "STATUS_SUCCESS"
	case STATUS_ABANDONED_WAIT_0:
		return "STATUS_ABANDONED_WAIT_0"
	case STATUS_TIMEOUT:
		return "STATUS_TIMEOUT"
	case STATUS_PENDING:
		return "STATUS_PENDING"
	case STATUS_DATATYPE_MISALIGNMENT:
		return "STATUS_DATATYPE_MISALIGNMENT"
	case STATUS_BUFFER_OVERFLOW:
		return "STATUS_BUFFER_OVERFLOW"
	case STATUS_NO_MORE_ENTRIES:
		return "STATUS_NO_MORE_ENTRIES"
	case STATUS_UNSUCCESSFUL:
		return "STATUS_UNSUCCESSFUL"
	case STATUS_NOT_IMPLEMENTED:
		return "STATUS_NOT_IMPLEMENTED"
	case STATUS_INVALID_HANDLE:
		return "STATUS_INVALID_HANDLE"
	case STATUS_INVALID_PARAMETER:
		return "STATUS_INVALID_PARAMETER"
	case STATUS_INVALID_DEVICE_REQUEST:
		return "STATUS_INVALID_DEVICE_REQUEST"
	case STATUS_END_OF_FILE:
		return "STATUS_END_OF_FILE"
	case STATUS_NO_MEMORY:
		return "STATUS_NO_MEMORY"
	case STATUS_ACCESS_DENIED:
		return "STATUS_ACCESS_DENIED"
	case STATUS_BUFFER_TOO_SMALL:
		return "STATUS_BUFFER_TOO_SMALL"
	case STATUS_OBJECT_TYPE_MISMATCH:
		return "STATUS_OBJECT_TYPE_MISMATCH"
	case STATUS_OBJECT_NAME_INVALID:
		return "STATUS_OBJECT_NAME_INVALID"
	case STATUS_OBJECT_NAME_NOT_FOUND:
		return "STATUS_OBJECT_NAME_NOT_FOUND"
	case STATUS_OBJECT_NAME_COLLISION:
		return "STATUS_OBJECT_NAME_COLLISION"
	case STATUS_PORT_DISCONNECTED:
		return "STATUS_PORT_DISCONNECTED"
	case STATUS_OBJECT_PATH_NOT_FOUND:
		return "STATUS_OBJECT_PATH_NOT_FOUND"
	case STATUS_SHARING_VIOLATION:
		return "STATUS_SHARING_VIOLATION"
	case STATUS_THREAD_IS_TERMINATING:
		return "STATUS_THREAD_IS_TERMINATING"
	case STATUS_DELETE_PENDING:
		return "STATUS_DELETE_PENDING"
	case STATUS_PRIVILEGE_NOT_HELD:
		return "STATUS_PRIVILEGE_NOT_HELD"
	case STATUS_INSUFFICIENT_RESOURCES:
		return "STATUS_INSUFFICIENT_RESOURCES"
	case STATUS_FILE_IS_A_DIRECTORY:
		return "STATUS_FILE_IS_A_DIRECTORY"
	case STATUS_NOT_SUPPORTED:
		return "STATUS_NOT_SUPPORTED"
	case STATUS_INVALID_PARAMETER_1:
		return "STATUS_INVALID_PARAMETER_1"
	case STATUS_INVALID_PARAMETER_2:
		return "STATUS_INVALID_PARAMETER_2"
	case STATUS_INVALID_PARAMETER_3:
		return "STATUS_INVALID_PARAMETER_3"
	case STATUS_NOT_A_DIRECTORY:
		return "STATUS_NOT_A_DIRECTORY"
	case STATUS_PROCESS_IS_TERMINATING:
		return "STATUS_PROCESS_IS_TERMINATING"
	case STATUS_IMAGE_ALREADY_LOADED:
		return "STATUS_IMAGE_ALREADY_LOADED"
	case STATUS_CANCELLED:
		return "STATUS_CANCELLED"
	case STATUS_CANNOT_DELETE:
		return "STATUS_CANNOT_DELETE"
	case STATUS_NOT_FOUND:
		return "STATUS_NOT_FOUND"
	case STATUS_CONNECTION_COUNT_LIMIT:
		return "STATUS_CONNECTION_COUNT_LIMIT"
	case STATUS_VIRUS_INFECTED:
		return "STATUS_VIRUS_INFECTED"
	case STATUS_FLT_BUFFER_TOO_SMALL:
		return "STATUS_FLT_BUFFER_TOO_SMALL"
	case STATUS_FLT_NOT_INITIALIZED:
		return "STATUS_FLT_NOT_INITIALIZED"
	case STATUS_FLT_DELETING_OBJECT:
		return "STATUS_FLT_DELETING_OBJECT"
	case STATUS_FLT_DO_NOT_ATTACH:
		return "STATUS_FLT_DO_NOT_ATTACH"
	case STATUS_FLT_DO_NOT_DETACH:
		return "STATUS_FLT_DO_NOT_DETACH"
	case STATUS_FLT_INSTANCE_ALTITUDE_COLLISION:
		return "STATUS_FLT_INSTANCE_ALTITUDE_COLLISION"
	case STATUS_FLT_FILTER_NOT_FOUND:
		return "STATUS_FLT_FILTER_NOT_FOUND"
	case STATUS_FLT_NO_WAITER_FOR_REPLY:
		return "STATUS_FLT_NO_WAITER_FOR_REPLY"
	}
	return ""
}

// Error prints the name and the hex value, e.g. "STATUS_PORT_DISCONNECTED (0xC0000037)".
func (s NTSTATUS) Error() string {
	name := ntstatusName(s)
	if name == "" {
		name = "NTSTATUS"
	}
	return fmt.Sprintf("%s (0x%08X)", name, uint32(s))
}

// String is the same as Error.
func (s NTSTATUS) String() string { return s.Error() }

// IsSuccess is NT_SUCCESS: true for success and informational codes, STATUS_TIMEOUT and
// STATUS_PENDING included.
func (s NTSTATUS) IsSuccess() bool { return int32(s) >= 0 }

// IsError is NT_ERROR: the severity bits say error (0xC…).
func (s NTSTATUS) IsError() bool { return uint32(s)>>30 == 3 }

// IsWarning is NT_WARNING (0x8…), e.g. STATUS_BUFFER_OVERFLOW.
func (s NTSTATUS) IsWarning() bool { return uint32(s)>>30 == 2 }

// Facility returns the facility field of the status (0x1C for the filter manager).
func (s NTSTATUS) Facility() uint32 { return (uint32(s) >> 16) & 0xFFF }

// FacilityFilterManager is the NTSTATUS facility of the filter manager (FACILITY_FILTER_MANAGER).
const FacilityFilterManager = 0x1C

// Win32Error is a Win32 error code, as GetLastError returns it.
type Win32Error uint32

// Win32 error codes the emulator produces.
const (
	ERROR_SUCCESS                Win32Error = 0
	ERROR_INVALID_FUNCTION       Win32Error = 1
	ERROR_FILE_NOT_FOUND         Win32Error = 2
	ERROR_PATH_NOT_FOUND         Win32Error = 3
	ERROR_ACCESS_DENIED          Win32Error = 5
	ERROR_INVALID_HANDLE         Win32Error = 6
	ERROR_NOT_ENOUGH_MEMORY      Win32Error = 8
	ERROR_GEN_FAILURE            Win32Error = 31
	ERROR_SHARING_VIOLATION      Win32Error = 32
	ERROR_HANDLE_EOF             Win32Error = 38
	ERROR_NOT_SUPPORTED          Win32Error = 50
	ERROR_INVALID_PARAMETER      Win32Error = 87
	ERROR_INSUFFICIENT_BUFFER    Win32Error = 122
	ERROR_INVALID_NAME           Win32Error = 123
	ERROR_ALREADY_EXISTS         Win32Error = 183
	ERROR_VIRUS_INFECTED         Win32Error = 225
	ERROR_MORE_DATA              Win32Error = 234
	ERROR_WAIT_TIMEOUT           Win32Error = 258 // WAIT_TIMEOUT
	ERROR_NO_MORE_ITEMS          Win32Error = 259
	ERROR_DIRECTORY              Win32Error = 267
	ERROR_MR_MID_NOT_FOUND       Win32Error = 317
	ERROR_ABANDONED_WAIT_0       Win32Error = 735
	ERROR_OPERATION_ABORTED      Win32Error = 995
	ERROR_IO_INCOMPLETE          Win32Error = 996
	ERROR_IO_PENDING             Win32Error = 997
	ERROR_NOACCESS               Win32Error = 998
	ERROR_NOT_FOUND              Win32Error = 1168
	ERROR_CONNECTION_COUNT_LIMIT Win32Error = 1236
	ERROR_PRIVILEGE_NOT_HELD     Win32Error = 1314
	ERROR_NO_SYSTEM_RESOURCES    Win32Error = 1450
)

// ERROR_SERVICE_ALREADY_RUNNING (1056) is what loading an already loaded driver gives
// (STATUS_IMAGE_ALREADY_LOADED).
const ERROR_SERVICE_ALREADY_RUNNING Win32Error = 1056

func win32Name(e Win32Error) string {
	switch e {
	case ERROR_SUCCESS:
		return "ERROR_SUCCESS"
	case ERROR_INVALID_FUNCTION:
		return "ERROR_INVALID_FUNCTION"
	case ERROR_FILE_NOT_FOUND:
		return "ERROR_FILE_NOT_FOUND"
	case ERROR_PATH_NOT_FOUND:
		return "ERROR_PATH_NOT_FOUND"
	case ERROR_ACCESS_DENIED:
		return "ERROR_ACCESS_DENIED"
	case ERROR_INVALID_HANDLE:
		return "ERROR_INVALID_HANDLE"
	case ERROR_NOT_ENOUGH_MEMORY:
		return "ERROR_NOT_ENOUGH_MEMORY"
	case ERROR_GEN_FAILURE:
		return "ERROR_GEN_FAILURE"
	case ERROR_SHARING_VIOLATION:
		return "ERROR_SHARING_VIOLATION"
	case ERROR_HANDLE_EOF:
		return "ERROR_HANDLE_EOF"
	case ERROR_NOT_SUPPORTED:
		return "ERROR_NOT_SUPPORTED"
	case ERROR_INVALID_PARAMETER:
		return "ERROR_INVALID_PARAMETER"
	case ERROR_INSUFFICIENT_BUFFER:
		return "ERROR_INSUFFICIENT_BUFFER"
	case ERROR_INVALID_NAME:
		return "ERROR_INVALID_NAME"
	case ERROR_ALREADY_EXISTS:
		return "ERROR_ALREADY_EXISTS"
	case ERROR_VIRUS_INFECTED:
		return "ERROR_VIRUS_INFECTED"
	case ERROR_MORE_DATA:
		return "ERROR_MORE_DATA"
	case ERROR_WAIT_TIMEOUT:
		return "WAIT_TIMEOUT"
	case ERROR_NO_MORE_ITEMS:
		return "ERROR_NO_MORE_ITEMS"
	case ERROR_DIRECTORY:
		return "ERROR_DIRECTORY"
	case ERROR_MR_MID_NOT_FOUND:
		return "ERROR_MR_MID_NOT_FOUND"
	case ERROR_ABANDONED_WAIT_0:
		return "ERROR_ABANDONED_WAIT_0"
	case ERROR_OPERATION_ABORTED:
		return "ERROR_OPERATION_ABORTED"
	case ERROR_IO_INCOMPLETE:
		return "ERROR_IO_INCOMPLETE"
	case ERROR_IO_PENDING:
		return "ERROR_IO_PENDING"
	case ERROR_NOACCESS:
		return "ERROR_NOACCESS"
	case ERROR_SERVICE_ALREADY_RUNNING:
		return "ERROR_SERVICE_ALREADY_RUNNING"
	case ERROR_NOT_FOUND:
		return "ERROR_NOT_FOUND"
	case ERROR_CONNECTION_COUNT_LIMIT:
		return "ERROR_CONNECTION_COUNT_LIMIT"
	case ERROR_PRIVILEGE_NOT_HELD:
		return "ERROR_PRIVILEGE_NOT_HELD"
	case ERROR_NO_SYSTEM_RESOURCES:
		return "ERROR_NO_SYSTEM_RESOURCES"
	}
	return ""
}

// Error prints the name and the decimal code, e.g. "ERROR_INVALID_HANDLE (6)".
func (e Win32Error) Error() string {
	name := win32Name(e)
	if name == "" {
		name = "Win32 error"
	}
	return fmt.Sprintf("%s (%d)", name, uint32(e))
}

// NtStatusToDosError emulates RtlNtStatusToDosError for the statuses the emulator produces.
// A status it does not know maps to ERROR_MR_MID_NOT_FOUND (317), as Windows does for a status
// without a Win32 equivalent; it never maps a failure to ERROR_SUCCESS.
func NtStatusToDosError(s NTSTATUS) Win32Error {
	switch s {
	case STATUS_SUCCESS:
		return ERROR_SUCCESS
	case STATUS_PENDING:
		return ERROR_IO_PENDING
	case STATUS_TIMEOUT:
		return ERROR_WAIT_TIMEOUT
	case STATUS_PORT_DISCONNECTED, STATUS_INVALID_HANDLE, STATUS_OBJECT_TYPE_MISMATCH:
		return ERROR_INVALID_HANDLE
	case STATUS_OBJECT_NAME_NOT_FOUND:
		return ERROR_FILE_NOT_FOUND
	case STATUS_OBJECT_PATH_NOT_FOUND:
		return ERROR_PATH_NOT_FOUND
	case STATUS_ACCESS_DENIED, STATUS_THREAD_IS_TERMINATING, STATUS_FILE_IS_A_DIRECTORY,
		STATUS_DELETE_PENDING, STATUS_CANNOT_DELETE, STATUS_PROCESS_IS_TERMINATING:
		return ERROR_ACCESS_DENIED
	case STATUS_BUFFER_TOO_SMALL:
		return ERROR_INSUFFICIENT_BUFFER
	case STATUS_BUFFER_OVERFLOW:
		return ERROR_MORE_DATA
	case STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER_1, STATUS_INVALID_PARAMETER_2,
		STATUS_INVALID_PARAMETER_3:
		return ERROR_INVALID_PARAMETER
	case STATUS_CANCELLED:
		return ERROR_OPERATION_ABORTED
	case STATUS_CONNECTION_COUNT_LIMIT:
		return ERROR_CONNECTION_COUNT_LIMIT
	case STATUS_INSUFFICIENT_RESOURCES:
		return ERROR_NO_SYSTEM_RESOURCES
	case STATUS_NO_MEMORY:
		return ERROR_NOT_ENOUGH_MEMORY
	case STATUS_NOT_SUPPORTED:
		return ERROR_NOT_SUPPORTED
	case STATUS_PRIVILEGE_NOT_HELD:
		return ERROR_PRIVILEGE_NOT_HELD
	case STATUS_DATATYPE_MISALIGNMENT:
		return ERROR_NOACCESS
	case STATUS_NO_MORE_ENTRIES:
		return ERROR_NO_MORE_ITEMS
	case STATUS_NOT_IMPLEMENTED, STATUS_INVALID_DEVICE_REQUEST:
		return ERROR_INVALID_FUNCTION
	case STATUS_UNSUCCESSFUL:
		return ERROR_GEN_FAILURE
	case STATUS_END_OF_FILE:
		return ERROR_HANDLE_EOF
	case STATUS_OBJECT_NAME_INVALID:
		return ERROR_INVALID_NAME
	case STATUS_OBJECT_NAME_COLLISION:
		return ERROR_ALREADY_EXISTS
	case STATUS_SHARING_VIOLATION:
		return ERROR_SHARING_VIOLATION
	case STATUS_NOT_A_DIRECTORY:
		return ERROR_DIRECTORY
	case STATUS_NOT_FOUND:
		return ERROR_NOT_FOUND
	case STATUS_VIRUS_INFECTED:
		return ERROR_VIRUS_INFECTED
	case STATUS_IMAGE_ALREADY_LOADED:
		return ERROR_SERVICE_ALREADY_RUNNING
	}
	return ERROR_MR_MID_NOT_FOUND
}

// HRESULT is the result type of the user-mode fltlib functions. It implements error;
// errors.Is(h, ERROR_X) is true when h is HRESULT_FROM_WIN32(ERROR_X).
type HRESULT uint32

// HRESULT values with names of their own.
const (
	S_OK           HRESULT = 0
	E_NOTIMPL      HRESULT = 0x80004001
	E_POINTER      HRESULT = 0x80004003
	E_FAIL         HRESULT = 0x80004005
	E_HANDLE       HRESULT = 0x80070006 // HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE)
	E_ACCESSDENIED HRESULT = 0x80070005 // HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)
	E_OUTOFMEMORY  HRESULT = 0x8007000E
	E_INVALIDARG   HRESULT = 0x80070057 // HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER)

	// Filter-manager HRESULTs of fltWinError.h (facility 0x1F).
	ERROR_FLT_NOT_INITIALIZED     HRESULT = 0x801F0007
	ERROR_FLT_DELETING_OBJECT     HRESULT = 0x801F000B
	ERROR_FLT_DO_NOT_ATTACH       HRESULT = 0x801F000F
	ERROR_FLT_DO_NOT_DETACH       HRESULT = 0x801F0010
	ERROR_FLT_FILTER_NOT_FOUND    HRESULT = 0x801F0013
	ERROR_FLT_NO_WAITER_FOR_REPLY HRESULT = 0x801F0020
)

// HResultFromWin32 is HRESULT_FROM_WIN32.
func HResultFromWin32(e Win32Error) HRESULT {
	if int32(e) <= 0 {
		return HRESULT(e)
	}
	return HRESULT(uint32(e)&0xFFFF | 0x80070000)
}

// HResultFromNtStatus is the mapping fltlib applies to the kernel's status (R-HR): SUCCESS is
// S_OK; a filter-manager status keeps its code under facility 0x1F (FLT_BUFFER_TOO_SMALL
// becomes HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER)); every other status goes through
// RtlNtStatusToDosError and HRESULT_FROM_WIN32.
func HResultFromNtStatus(s NTSTATUS) HRESULT {
	if s == STATUS_SUCCESS {
		return S_OK
	}
	if s.Facility() == FacilityFilterManager {
		if s == STATUS_FLT_BUFFER_TOO_SMALL {
			return HResultFromWin32(ERROR_INSUFFICIENT_BUFFER)
		}
		return HRESULT(uint32(s)&0x8000FFFF | 0x001F0000)
	}
	return HResultFromWin32(NtStatusToDosError(s))
}

// Failed is FAILED(hr).
func (h HRESULT) Failed() bool { return int32(h) < 0 }

// Succeeded is SUCCEEDED(hr).
func (h HRESULT) Succeeded() bool { return int32(h) >= 0 }

// Win32 returns the Win32 error an HRESULT_FROM_WIN32 value carries, and whether it is one.
func (h HRESULT) Win32() (Win32Error, bool) {
	if h == S_OK {
		return ERROR_SUCCESS, true
	}
	if uint32(h)&0xFFFF0000 == 0x80070000 {
		return Win32Error(uint32(h) & 0xFFFF), true
	}
	return 0, false
}

func hresultName(h HRESULT) string {
	switch h {
	case S_OK:
		return "S_OK"
	case E_NOTIMPL:
		return "E_NOTIMPL"
	case E_POINTER:
		return "E_POINTER"
	case E_FAIL:
		return "E_FAIL"
	case E_HANDLE:
		return "E_HANDLE"
	case E_ACCESSDENIED:
		return "E_ACCESSDENIED"
	case E_OUTOFMEMORY:
		return "E_OUTOFMEMORY"
	case E_INVALIDARG:
		return "E_INVALIDARG"
	case ERROR_FLT_NOT_INITIALIZED:
		return "ERROR_FLT_NOT_INITIALIZED"
	case ERROR_FLT_DELETING_OBJECT:
		return "ERROR_FLT_DELETING_OBJECT"
	case ERROR_FLT_DO_NOT_ATTACH:
		return "ERROR_FLT_DO_NOT_ATTACH"
	case ERROR_FLT_DO_NOT_DETACH:
		return "ERROR_FLT_DO_NOT_DETACH"
	case ERROR_FLT_FILTER_NOT_FOUND:
		return "ERROR_FLT_FILTER_NOT_FOUND"
	case ERROR_FLT_NO_WAITER_FOR_REPLY:
		return "ERROR_FLT_NO_WAITER_FOR_REPLY"
	}
	if e, ok := h.Win32(); ok {
		if n := win32Name(e); n != "" {
			return "HRESULT_FROM_WIN32(" + n + ")"
		}
	}
	return ""
}

// Error prints the name and the hex value, e.g. "E_HANDLE (0x80070006)" or
// "HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (0x80070002)".
func (h HRESULT) Error() string {
	name := hresultName(h)
	if name == "" {
		name = "HRESULT"
	}
	return fmt.Sprintf("%s (0x%08X)", name, uint32(h))
}

// String is the same as Error.
func (h HRESULT) String() string { return h.Error() }

// Is lets errors.Is(h, ERROR_X) match an HRESULT_FROM_WIN32(ERROR_X) value.
func (h HRESULT) Is(target error) bool {
	switch t := target.(type) {
	case HRESULT:
		return h == t
	case Win32Error:
		return t != ERROR_SUCCESS && h == HResultFromWin32(t)
	}
	return false
}

// Err returns nil for S_OK and the HRESULT otherwise, for callers that want Go's error idiom.
// Success codes other than S_OK are also returned as nil.
func (h HRESULT) Err() error {
	if h.Succeeded() {
		return nil
	}
	return h
}

// Is lets errors.Is(e, HRESULT) match when the HRESULT is HRESULT_FROM_WIN32(e), so
// errors.Is(err, E_HANDLE) works for ERROR_INVALID_HANDLE.
func (e Win32Error) Is(target error) bool {
	if h, ok := target.(HRESULT); ok {
		return e != ERROR_SUCCESS && HResultFromWin32(e) == h
	}
	return false
}
