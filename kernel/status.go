package kernel

import (
	"cmp"
	"fmt"
	"slices"
)

//go:generate go run ./internal/statusgen

// NTSTATUS is a Windows kernel status code. Kernel-side routines return it by value, as the WDK
// does. It implements error, so it also travels through Go error chains; errors.Is matches it
// by value.
//
// Remember that some codes are successes: STATUS_TIMEOUT and STATUS_PENDING satisfy
// [NTSTATUS.IsSuccess]. Never read "success" as "a reply arrived".
type NTSTATUS uint32

// NTSTATUS values that occur in the emulator (docs/rules.md §1, plus the ones the I/O model and the
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
	STATUS_OBJECT_PATH_SYNTAX_BAD          NTSTATUS = 0xC000003B
	STATUS_IO_TIMEOUT                      NTSTATUS = 0xC00000B5
	STATUS_CONNECTION_REFUSED              NTSTATUS = 0xC0000236
	STATUS_SHARING_VIOLATION               NTSTATUS = 0xC0000043
	STATUS_THREAD_IS_TERMINATING           NTSTATUS = 0xC000004B
	STATUS_DELETE_PENDING                  NTSTATUS = 0xC0000056
	STATUS_PRIVILEGE_NOT_HELD              NTSTATUS = 0xC0000061
	STATUS_INVALID_IMAGE_FORMAT            NTSTATUS = 0xC000007B
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

	// The file system's.
	STATUS_ACCESS_VIOLATION     NTSTATUS = 0xC0000005
	STATUS_NOT_SAME_DEVICE      NTSTATUS = 0xC00000D4
	STATUS_DIRECTORY_NOT_EMPTY  NTSTATUS = 0xC0000101
	STATUS_FILE_CLOSED          NTSTATUS = 0xC0000128
	STATUS_FILE_DELETED         NTSTATUS = 0xC0000123
	STATUS_INVALID_DEVICE_STATE NTSTATUS = 0xC0000184

	// The filter manager's I/O model (driverapi re-exports them).
	STATUS_FLT_CONTEXT_ALREADY_DEFINED      NTSTATUS = 0xC01C0002
	STATUS_FLT_DISALLOW_FAST_IO             NTSTATUS = 0xC01C0004
	STATUS_FLT_INVALID_NAME_REQUEST         NTSTATUS = 0xC01C0005
	STATUS_FLT_NOT_SAFE_TO_POST_OPERATION   NTSTATUS = 0xC01C0006
	STATUS_FLT_INSTANCE_NAME_COLLISION      NTSTATUS = 0xC01C0012
	STATUS_FLT_VOLUME_NOT_FOUND             NTSTATUS = 0xC01C0014
	STATUS_FLT_INSTANCE_NOT_FOUND           NTSTATUS = 0xC01C0015
	STATUS_FLT_CONTEXT_ALLOCATION_NOT_FOUND NTSTATUS = 0xC01C0016
	STATUS_FLT_INVALID_CONTEXT_REGISTRATION NTSTATUS = 0xC01C0017
	STATUS_FLT_CONTEXT_ALREADY_LINKED       NTSTATUS = 0xC01C001C
)

// ntstatusName returns the ntstatus.h name of s, or "" when the table does not list it.
func ntstatusName(s NTSTATUS) string {
	if e, ok := lookupNTSTATUS(s); ok {
		return e.name
	}
	return ""
}

// Name returns the ntstatus.h name of s, e.g. "STATUS_PORT_DISCONNECTED", or "NTSTATUS" for a
// value the table does not list.
func (s NTSTATUS) Name() string {
	if name := ntstatusName(s); name != "" {
		return name
	}
	return "NTSTATUS"
}

// Error prints the name and the hex value, e.g. "STATUS_PORT_DISCONNECTED (0xC0000037)".
func (s NTSTATUS) Error() string { return fmt.Sprintf("%s (0x%08X)", s.Name(), uint32(s)) }

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
	ERROR_NOT_SAME_DEVICE        Win32Error = 17
	ERROR_BAD_COMMAND            Win32Error = 22
	ERROR_DIR_NOT_EMPTY          Win32Error = 145
	ERROR_BAD_PATHNAME           Win32Error = 161
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
	ERROR_CONNECTION_COUNT_LIMIT Win32Error = 1238
	ERROR_SEM_TIMEOUT            Win32Error = 121
	ERROR_FILE_EXISTS            Win32Error = 80
	ERROR_NEGATIVE_SEEK          Win32Error = 131
	ERROR_MAPPED_ALIGNMENT       Win32Error = 1132 // a view offset not a multiple of the allocation granularity
	ERROR_CONNECTION_REFUSED     Win32Error = 1225
	ERROR_PRIVILEGE_NOT_HELD     Win32Error = 1314
	ERROR_NO_SYSTEM_RESOURCES    Win32Error = 1450
)

// ERROR_SERVICE_ALREADY_RUNNING (1056) is what loading an already loaded driver gives
// (STATUS_IMAGE_ALREADY_LOADED).
const ERROR_SERVICE_ALREADY_RUNNING Win32Error = 1056

// win32Name returns the winerror.h name of e, or "" when the table does not list it. A few
// statuses map to themselves (STATUS_BREAKPOINT, ...) and some to an HRESULT (ERROR_FLT_*):
// those carry the name of that status or HRESULT.
func win32Name(e Win32Error) string {
	if i, ok := slices.BinarySearchFunc(win32Table[:], e, func(x win32Entry, e Win32Error) int { return cmp.Compare(x.code, e) }); ok {
		return win32Table[i].name
	}
	if n := hresultTableName(HRESULT(e)); n != "" {
		return n
	}
	return ntstatusName(NTSTATUS(e))
}

// Name returns the winerror.h name of e, e.g. "ERROR_INVALID_HANDLE", or "Win32 error" for a
// value the table does not list.
func (e Win32Error) Name() string {
	if name := win32Name(e); name != "" {
		return name
	}
	return "Win32 error"
}

// Error prints the name and the decimal code, e.g. "ERROR_INVALID_HANDLE (6)".
func (e Win32Error) Error() string { return fmt.Sprintf("%s (%d)", e.Name(), uint32(e)) }

// NtStatusToDosError emulates RtlNtStatusToDosError: the Win32 error of every status of
// ntstatus.h and fltWinError.h that has one, from the generated table (status_table.go). As
// ntdll does, a status with the customer bit (0x20000000) is returned unchanged, 0xD… is read
// as 0xC…, and HRESULT_FROM_WIN32-shaped statuses (0x8007xxxx, 0xC001xxxx, 0xC007xxxx) give
// their low word. Anything else maps to ERROR_MR_MID_NOT_FOUND (317); a failure never maps to
// ERROR_SUCCESS (R-HR).
func NtStatusToDosError(s NTSTATUS) Win32Error {
	if s == STATUS_SUCCESS {
		return ERROR_SUCCESS
	}
	if s&0x20000000 != 0 {
		return Win32Error(s)
	}
	if s&0xF0000000 == 0xD0000000 {
		s &^= 0x10000000
	}
	switch uint32(s) >> 16 {
	case 0x8007, 0xC001, 0xC007:
		if e := Win32Error(s & 0xFFFF); e != ERROR_SUCCESS {
			return e
		}
		return ERROR_MR_MID_NOT_FOUND
	}
	if e, ok := lookupNTSTATUS(s); ok {
		return e.dos
	}
	return ERROR_MR_MID_NOT_FOUND
}

// ntstatusEntry is a row of the generated ntstatusTable.
type ntstatusEntry struct {
	status NTSTATUS
	dos    Win32Error
	name   string
}

// win32Entry is a row of the generated win32Table.
type win32Entry struct {
	code Win32Error
	name string
}

// hresultEntry is a row of the generated hresultTable.
type hresultEntry struct {
	value HRESULT
	name  string
}

func lookupNTSTATUS(s NTSTATUS) (ntstatusEntry, bool) {
	i, ok := slices.BinarySearchFunc(ntstatusTable[:], s, func(x ntstatusEntry, s NTSTATUS) int { return cmp.Compare(x.status, s) })
	if !ok {
		return ntstatusEntry{}, false
	}
	return ntstatusTable[i], true
}

func hresultTableName(h HRESULT) string {
	if i, ok := slices.BinarySearchFunc(hresultTable[:], h, func(x hresultEntry, h HRESULT) int { return cmp.Compare(x.value, h) }); ok {
		return hresultTable[i].name
	}
	return ""
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
		return S_OK // inlined: every successful user call ends here
	}
	return hresultFromFailure(s)
}

func hresultFromFailure(s NTSTATUS) HRESULT {
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
	if n := hresultTableName(h); n != "" {
		return n
	}
	if e, ok := h.Win32(); ok {
		if n := win32Name(e); n != "" {
			return "HRESULT_FROM_WIN32(" + n + ")"
		}
	}
	return ""
}

// Name returns the name of h, e.g. "E_HANDLE" or "HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)",
// or "HRESULT" for a value no table lists.
func (h HRESULT) Name() string {
	if name := hresultName(h); name != "" {
		return name
	}
	return "HRESULT"
}

// Error prints the name and the hex value, e.g. "E_HANDLE (0x80070006)" or
// "HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (0x80070002)".
func (h HRESULT) Error() string { return fmt.Sprintf("%s (0x%08X)", h.Name(), uint32(h)) }

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
