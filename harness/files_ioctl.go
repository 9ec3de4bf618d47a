package harness

import (
	"encoding/binary"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// DeviceIoControl: file-system and device controls.

// DeviceIoControl emulates DeviceIoControl on a file handle (R-IO-USER-4): a code of device
// type FILE_DEVICE_FILE_SYSTEM is an FSCTL (IRP_MJ_FILE_SYSTEM_CONTROL), any other an IOCTL
// (IRP_MJ_DEVICE_CONTROL). The access bits of the code are checked against the handle first
// (FILE_READ_ACCESS needs FILE_READ_DATA, FILE_WRITE_ACCESS needs FILE_WRITE_DATA), else
// ERROR_ACCESS_DENIED. It returns the bytes written to out. The emulated volumes know
// FSCTL_SET_ZERO_DATA; other codes are ERROR_INVALID_FUNCTION unless a filter completes them.
func (p *Process) DeviceIoControl(h kernel.Handle, code uint32, in, out []byte) (uint32, error) {
	fh, access, st := p.fileHandle(h)
	if st != kernel.STATUS_SUCCESS {
		return 0, win32Error(st)
	}
	req := (code >> 14) & 3
	if req&fsys.FILE_READ_ACCESS != 0 && access&kernel.FILE_READ_DATA == 0 ||
		req&fsys.FILE_WRITE_ACCESS != 0 && access&kernel.FILE_WRITE_DATA == 0 {
		return 0, kernel.ERROR_ACCESS_DENIED
	}
	var n uint32
	if fsys.DeviceType(code>>16) == fsys.FILE_DEVICE_FILE_SYSTEM {
		n, st = p.w.fm.NtFsControlFile(p.ThreadContext(), fh.fo, code, in, out)
	} else {
		n, st = p.w.fm.NtDeviceIoControlFile(p.ThreadContext(), fh.fo, code, in, out)
	}
	return n, errOf(st)
}

// ZeroDataInformation builds the 16-byte FILE_ZERO_DATA_INFORMATION input of
// FSCTL_SET_ZERO_DATA.
func ZeroDataInformation(fileOffset, beyondFinalZero int64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b[0:], uint64(fileOffset))
	binary.LittleEndian.PutUint64(b[8:], uint64(beyondFinalZero))
	return b
}
