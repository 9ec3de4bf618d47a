package fsys

import (
	"encoding/binary"

	"github.com/fltemu/fltemu/kernel"
)

// Read reads from fo's stream at req.Offset (FILE_USE_FILE_POINTER_POSITION: the current byte
// offset of a synchronous file object) into buf. It returns the bytes read:
// STATUS_END_OF_FILE at or past the end of file; STATUS_INVALID_PARAMETER for a misaligned
// non-cached read or a negative offset; STATUS_INVALID_DEVICE_REQUEST on a directory;
// STATUS_FILE_CLOSED after cleanup (except paging I/O).
func (v *Volume) Read(fo *FileObject, buf []byte, req IORequest) (uint32, kernel.NTSTATUS) {
	offset := req.Offset
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, req.Paging); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	if fo.dir {
		return 0, kernel.STATUS_INVALID_DEVICE_REQUEST
	}
	if offset == FILE_USE_FILE_POINTER_POSITION && fo.Flags()&FO_SYNCHRONOUS_IO != 0 {
		offset = fo.pos
	}
	if offset < 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if req.NonCached && !req.Paging && (offset%int64(v.sectorSize) != 0 || len(buf)%int(v.sectorSize) != 0) {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if len(buf) == 0 {
		return 0, kernel.STATUS_SUCCESS
	}
	data := fo.stream.data
	if offset >= int64(len(data)) {
		return 0, kernel.STATUS_END_OF_FILE
	}
	n := copy(buf, data[offset:])
	if fo.Flags()&FO_SYNCHRONOUS_IO != 0 && !req.Paging && !req.KeepPosition {
		fo.pos = offset + int64(n)
	}
	return uint32(n), kernel.STATUS_SUCCESS
}

// Write writes data to fo's stream at req.Offset (FILE_USE_FILE_POINTER_POSITION: the current
// byte offset; FILE_WRITE_TO_END_OF_FILE: append). A write past the end of file extends it
// with zeros, except a paging write, which is cut at the end of file. Errors as for Read.
func (v *Volume) Write(fo *FileObject, data []byte, req IORequest) (uint32, kernel.NTSTATUS) {
	offset := req.Offset
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, req.Paging); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	if fo.dir {
		return 0, kernel.STATUS_INVALID_DEVICE_REQUEST
	}
	s := fo.stream
	switch {
	case offset == FILE_USE_FILE_POINTER_POSITION && fo.Flags()&FO_SYNCHRONOUS_IO != 0:
		offset = fo.pos
	case offset == FILE_WRITE_TO_END_OF_FILE:
		offset = int64(len(s.data))
	}
	if offset < 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if req.NonCached && !req.Paging && (offset%int64(v.sectorSize) != 0 || len(data)%int(v.sectorSize) != 0) {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if req.Paging {
		eof := int64(len(s.data))
		if offset >= eof {
			return 0, kernel.STATUS_SUCCESS
		}
		if int64(len(data)) > eof-offset {
			data = data[:eof-offset]
		}
	}
	if len(data) == 0 {
		return 0, kernel.STATUS_SUCCESS
	}
	end := offset + int64(len(data))
	if end > int64(len(s.data)) {
		grown := make([]byte, end)
		copy(grown, s.data)
		s.data = grown
		fo.flags.Or(FO_FILE_SIZE_CHANGED)
	}
	copy(s.data[offset:], data)
	fo.flags.Or(FO_FILE_MODIFIED)
	if fo.Flags()&FO_SYNCHRONOUS_IO != 0 && !req.Paging && !req.KeepPosition {
		fo.pos = end
	}
	return uint32(len(data)), kernel.STATUS_SUCCESS
}

// FsControl is the file system's IRP_MJ_FILE_SYSTEM_CONTROL for a user request. It knows
// FSCTL_SET_ZERO_DATA; other codes are STATUS_INVALID_DEVICE_REQUEST. It returns the bytes
// written to out.
func (v *Volume) FsControl(fo *FileObject, code uint32, in, out []byte) (uint32, kernel.NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, false); st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	switch code {
	case FSCTL_SET_ZERO_DATA:
		if len(in) < 16 {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		from := int64(binary.LittleEndian.Uint64(in[0:]))
		to := int64(binary.LittleEndian.Uint64(in[8:]))
		if fo.dir || from < 0 || to < from {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		data := fo.stream.data
		if to > int64(len(data)) {
			to = int64(len(data))
		}
		for i := from; i < to; i++ {
			data[i] = 0
		}
		fo.flags.Or(FO_FILE_MODIFIED)
		return 0, kernel.STATUS_SUCCESS
	}
	return 0, kernel.STATUS_INVALID_DEVICE_REQUEST
}
