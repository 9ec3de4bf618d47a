package fltlib

import (
	"errors"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// The argument checks and conversions of the Windows backend, in portable code so that they
// are tested everywhere: the Windows files only pass checked arguments to the DLLs. The rules
// are those the emulator applies (R-USER): a bad argument is an error HRESULT, never a fault.

// checkConnect checks FilterConnectCommunicationPort's arguments: a name, known option bits,
// a context present exactly when its size is non-zero, a size within the context and within
// the 65511 bytes a connection context may have.
func checkConnect(portName string, options uint32, context []byte, sizeOfContext int) kernel.HRESULT {
	if portName == "" || options&^driverapi.FLT_PORT_FLAG_SYNC_HANDLE != 0 ||
		(context == nil) != (sizeOfContext == 0) || sizeOfContext < 0 || sizeOfContext > len(context) ||
		sizeOfContext > driverapi.MaxConnectionContext {
		return kernel.E_INVALIDARG
	}
	return kernel.S_OK
}

// checkGetBuffer: a FilterGetMessage buffer holds at least FILTER_MESSAGE_HEADER, and its
// size fits a DWORD.
func checkGetBuffer(buf []byte) kernel.HRESULT {
	if len(buf) < driverapi.FilterMessageHeaderSize || uint64(len(buf)) > 0xFFFFFFFF {
		return kernel.E_INVALIDARG
	}
	return kernel.S_OK
}

// checkReplyBuffer: a FilterReplyMessage buffer holds at least FILTER_REPLY_HEADER.
func checkReplyBuffer(buf []byte) kernel.HRESULT {
	if len(buf) < driverapi.FilterReplyHeaderSize || uint64(len(buf)) > 0xFFFFFFFF {
		return kernel.E_INVALIDARG
	}
	return kernel.S_OK
}

// checkSend: FilterSendMessage needs an input; both sizes fit a DWORD.
func checkSend(in, out []byte) kernel.HRESULT {
	if len(in) == 0 || uint64(len(in)) > 0xFFFFFFFF || uint64(len(out)) > 0xFFFFFFFF {
		return kernel.E_INVALIDARG
	}
	return kernel.S_OK
}

// timeoutMillis converts a GetQueuedCompletionStatus timeout to the DWORD milliseconds of the
// Win32 call: INFINITE (any negative duration) is 0xFFFFFFFF; a positive duration rounds up
// (a 1 ns wait still waits) and stops just short of INFINITE.
func timeoutMillis(d time.Duration) uint32 {
	if d < 0 {
		return 0xFFFFFFFF
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms >= 0xFFFFFFFF {
		return 0xFFFFFFFE
	}
	return uint32(ms)
}

// win32Error is the error of a kernel32 call that failed with errno (GetLastError); nil for 0.
func win32Error(errno uintptr) error {
	if errno == 0 {
		return nil
	}
	return kernel.Win32Error(uint32(errno))
}

// completionError is the error GetOverlappedResult and GetQueuedCompletionStatus report for
// a request that completed with st: nil for success and warning statuses, else the Win32
// error RtlNtStatusToDosError gives.
func completionError(st kernel.NTSTATUS) error {
	if st < 0x80000000 {
		return nil
	}
	return kernel.NtStatusToDosError(st)
}

// hresultOf is the HRESULT of a kernel32 failure err: HRESULT_FROM_WIN32 of its Win32 error,
// E_FAIL for an error without one.
func hresultOf(err error) kernel.HRESULT {
	var e kernel.Win32Error
	if errors.As(err, &e) {
		return kernel.HResultFromWin32(e)
	}
	return kernel.E_FAIL
}
