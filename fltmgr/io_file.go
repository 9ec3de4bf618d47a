package fltmgr

import (
	"context"
	"fmt"
	"reflect"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// This file is the I/O manager's half of file I/O, used by the harness for user requests:
// NtCreateFile, NtReadFile, ... do what those system services do after the handle checks
// (build the operation and send it down the volume's stack). It also holds the routines a
// driver calls to issue I/O of its own (FltReadFile, FltWriteFile, ...).

// requestor returns the mode and token of the thread ctx carries.
func requestor(ctx context.Context) (driverapi.ProcessorMode, *kernel.Token, string) {
	if p := driverapi.CurrentProcess(ctx); p != nil {
		return driverapi.UserMode, p.Token(), p.String()
	}
	return driverapi.KernelMode, nil, ""
}

func (m *Manager) traceIO(ctx context.Context, what string, st kernel.NTSTATUS) {
	if !m.tracing() {
		return
	}
	_, _, proc := requestor(ctx)
	m.trace(kernel.TraceEvent{Kind: kernel.EvFileIO, Process: proc, Detail: what}.WithStatus(st))
}

// NtCreateFile sends an IRP_MJ_CREATE for fileName (volume-relative: `\dir\a.txt`) down the
// volume's stack for the thread ctx carries (ThreadContext; a user thread makes a
// user-mode request checked against its token). It returns the opened file object and the create result (fsys.FILE_OPENED, ...),
// or the failure: the file system's, a filter's, or STATUS_OBJECT_PATH_NOT_FOUND for a
// volume that is not mounted.
func (m *Manager) NtCreateFile(ctx context.Context, vol *fsys.Volume, fileName string, req fsys.CreateRequest) (*fsys.FileObject, uint64, kernel.NTSTATUS) {
	fv := m.volumeOf(vol)
	if fv == nil {
		return nil, 0, kernel.STATUS_OBJECT_PATH_NOT_FOUND
	}
	fo, info, st := m.create(ctx, fv, fileName, req, nil)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_CREATE %s%s disposition %d options %#x access %v share %#x → info %d",
		fv.v.Name(), fileName, req.Disposition, req.Options, req.DesiredAccess, req.ShareAccess, info), st)
	return fo, info, st
}

func (m *Manager) create(ctx context.Context, fv *fltVolume, fileName string, req fsys.CreateRequest, below *instance) (*fsys.FileObject, uint64, kernel.NTSTATUS) {
	mode, tok, _ := requestor(ctx)
	if below != nil {
		mode, tok = driverapi.KernelMode, nil
	}
	fo := fv.v.NewFileObject(fileName, req.Options&fsys.FILE_VALID_OPTION_FLAGS)
	op := m.newOp(ctx, fv, driverapi.IRP_MJ_CREATE, fo, mode)
	op.below = below
	if below != nil {
		op.data.Flags |= driverapi.FLTFL_CALLBACK_DATA_GENERATED_IO
	}
	iopb := op.data.Iopb
	iopb.IrpFlags = driverapi.IRP_CREATE_OPERATION | driverapi.IRP_SYNCHRONOUS_API
	iopb.Parameters.Create = driverapi.CreateParameters{
		SecurityContext: &driverapi.IoSecurityContext{DesiredAccess: kernel.FileGenericMapping().Map(req.DesiredAccess), Token: tok},
		Options:         req.Disposition<<24 | req.Options&fsys.FILE_VALID_OPTION_FLAGS,
		FileAttributes:  uint16(req.FileAttributes),
		ShareAccess:     uint16(req.ShareAccess),
		AllocationSize:  req.AllocationSize,
	}
	op.bottom = func(op *ioOp) {
		c := &op.data.Iopb.Parameters.Create
		// The file system reads the request back from the parameters, which a filter may
		// have changed on the way down.
		r := fsys.CreateRequest{Disposition: c.Options >> 24, Options: c.Options & fsys.FILE_VALID_OPTION_FLAGS,
			ShareAccess: uint32(c.ShareAccess), FileAttributes: uint32(c.FileAttributes), AllocationSize: c.AllocationSize}
		var tok *kernel.Token
		if c.SecurityContext != nil {
			r.DesiredAccess, tok = c.SecurityContext.DesiredAccess, c.SecurityContext.Token
		}
		info, st := op.fo.Volume().Create(op.fo, r, tok)
		op.data.IoStatus = driverapi.IoStatusBlock{Status: st, Information: info}
	}
	m.io.creates.Store(fo, op)
	op.run()
	m.io.creates.Delete(fo)
	st, info := op.data.IoStatus.Status, op.data.IoStatus.Information
	op.mu.Lock()
	cancelled := op.cancelled
	op.mu.Unlock()
	if !st.IsSuccess() || cancelled {
		if st.IsSuccess() {
			st = kernel.STATUS_ACCESS_DENIED
		}
		if fo.IsOpen() {
			// The file system opened it and the open failed above without a cancel
			// (reported): close it as the emulator's own cancel.
			m.closeBelow(ctx, fv, fo, nil)
		}
		m.dropHandleContexts(fo)
		return nil, 0, st
	}
	return fo, info, st
}

// cancelOpen is FltCancelFileOpen's work: cleanup and close go to the instances below inst and
// the file system.
func (m *Manager) cancelOpen(op *ioOp, inst *instance) {
	op.mu.Lock()
	if op.cancelled {
		op.mu.Unlock()
		return
	}
	op.cancelled = true
	op.mu.Unlock()
	m.closeBelow(op.data.Context(), op.vol, op.fo, inst)
}

// closeBelow sends IRP_MJ_CLEANUP and IRP_MJ_CLOSE for fo to the instances below inst (all of
// them for nil) and the file system, as kernel-generated I/O.
func (m *Manager) closeBelow(ctx context.Context, fv *fltVolume, fo *fsys.FileObject, inst *instance) {
	if !fo.IsOpen() {
		return
	}
	m.cleanup(ctx, fv, fo, inst, driverapi.KernelMode)
	m.close(ctx, fv, fo, inst, driverapi.KernelMode)
}

// cancelFileOpen emulates FltCancelFileOpen (R-IO-CREATE-5). It is valid only in the
// post-create callback of the instance for the file object that create opened; anywhere else
// it is reported (R-IO-VERIFY-5) and does nothing.
func (m *Manager) cancelFileOpen(instance driverapi.Instance, fileObject *fsys.FileObject) {
	inst, _ := m.asInstance(instance)
	var op *ioOp
	if fileObject != nil {
		if v, ok := m.io.creates.Load(fileObject); ok {
			op = v.(*ioOp)
		}
	}
	valid := false
	if op != nil && inst != nil {
		op.mu.Lock()
		valid = op.postInst == inst
		op.mu.Unlock()
	}
	if !valid {
		driver := "?"
		if inst != nil {
			driver = inst.fio.f.name
		}
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify5, Driver: driver, Object: fmt.Sprintf("%v", fileObject),
			Message: "FltCancelFileOpen called outside the instance's post-create callback for that file object; ignored",
			Windows: "a bugcheck or a corrupted file object"})
		return
	}
	m.cancelOpen(op, inst)
}

// fileVolume finds the mounted volume of a file object.
func (m *Manager) fileVolume(fo *fsys.FileObject) (*fltVolume, kernel.NTSTATUS) {
	if fo == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	fv := m.volumeOf(fo.Volume())
	if fv == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	return fv, kernel.STATUS_SUCCESS
}

// rwRequest describes a read or a write.
type rwRequest struct {
	major    driverapi.MajorFunction
	offset   int64
	buf      []byte
	irpFlags uint32
	fastIO   bool
	keepPos  bool
	below    *instance
	mode     driverapi.ProcessorMode
}

func (m *Manager) readWrite(ctx context.Context, fv *fltVolume, fo *fsys.FileObject, r rwRequest) (uint32, kernel.NTSTATUS, bool) {
	op := m.newOp(ctx, fv, r.major, fo, r.mode)
	op.below = r.below
	if r.fastIO {
		op.data.Flags = driverapi.FLTFL_CALLBACK_DATA_FAST_IO_OPERATION
	} else {
		op.data.Iopb.IrpFlags = r.irpFlags
	}
	if r.below != nil {
		op.data.Flags |= driverapi.FLTFL_CALLBACK_DATA_GENERATED_IO
	}
	if r.major == driverapi.IRP_MJ_READ {
		op.data.Iopb.Parameters.Read = driverapi.ReadParameters{Length: uint32(len(r.buf)), ByteOffset: r.offset, ReadBuffer: r.buf}
	} else {
		op.data.Iopb.Parameters.Write = driverapi.WriteParameters{Length: uint32(len(r.buf)), ByteOffset: r.offset, WriteBuffer: r.buf}
	}
	op.bottom = func(op *ioOp) {
		iopb := op.data.Iopb
		req := fsys.IORequest{Paging: iopb.IrpFlags&driverapi.IRP_PAGING_IO != 0, NonCached: iopb.IrpFlags&driverapi.IRP_NOCACHE != 0,
			FastIO: op.data.Flags&driverapi.FLTFL_CALLBACK_DATA_FAST_IO_OPERATION != 0, KeepPosition: r.keepPos}
		var length uint32
		var buf []byte
		if op.major == driverapi.IRP_MJ_READ {
			length, req.Offset, buf = iopb.Parameters.Read.Length, iopb.Parameters.Read.ByteOffset, iopb.Parameters.Read.ReadBuffer
		} else {
			length, req.Offset, buf = iopb.Parameters.Write.Length, iopb.Parameters.Write.ByteOffset, iopb.Parameters.Write.WriteBuffer
		}
		if int(length) > len(buf) {
			op.violation(nil, kernel.RuleIOVerify10, fmt.Sprintf("%v reached the file system with Length %d and a %d-byte buffer; the emulator used the buffer's length", op.major, length, len(buf)), "")
			length = uint32(len(buf))
		}
		var n uint32
		var st kernel.NTSTATUS
		if op.major == driverapi.IRP_MJ_READ {
			n, st = op.fo.Volume().Read(op.fo, buf[:length], req)
		} else {
			n, st = op.fo.Volume().Write(op.fo, buf[:length], req)
		}
		op.data.IoStatus = driverapi.IoStatusBlock{Status: st, Information: uint64(n)}
	}
	op.run()
	if op.fastIODisallowed {
		return 0, kernel.STATUS_FLT_DISALLOW_FAST_IO, true
	}
	return uint32(op.data.IoStatus.Information), op.data.IoStatus.Status, false
}

// requestIrpFlags returns the IRP flags of a read or write's path: a paging request is sent as
// the memory manager sends it.
func requestIrpFlags(r fsys.IORequest) uint32 {
	var irp uint32
	if r.NonCached {
		irp |= driverapi.IRP_NOCACHE
	}
	if r.Paging {
		irp |= driverapi.IRP_PAGING_IO | driverapi.IRP_NOCACHE | driverapi.IRP_SYNCHRONOUS_PAGING_IO
	}
	return irp
}

func (m *Manager) userRW(ctx context.Context, major driverapi.MajorFunction, fo *fsys.FileObject, buf []byte, r fsys.IORequest) (uint32, kernel.NTSTATUS) {
	fv, st := m.fileVolume(fo)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	off := r.Offset
	if off == fsys.FILE_USE_FILE_POINTER_POSITION {
		if fo.Flags()&fsys.FO_SYNCHRONOUS_IO == 0 {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		off = fo.CurrentByteOffset()
	}
	mode, _, _ := requestor(ctx)
	irp := requestIrpFlags(r) | driverapi.IRP_SYNCHRONOUS_API
	if major == driverapi.IRP_MJ_READ {
		irp |= driverapi.IRP_READ_OPERATION
	} else {
		irp |= driverapi.IRP_WRITE_OPERATION
	}
	if fo.Flags()&fsys.FO_NO_INTERMEDIATE_BUFFERING != 0 {
		irp |= driverapi.IRP_NOCACHE
	}
	if irp&driverapi.IRP_PAGING_IO != 0 {
		mode = driverapi.KernelMode
	}
	req := rwRequest{major: major, offset: off, buf: buf, irpFlags: irp, keepPos: r.KeepPosition, mode: mode}
	if r.FastIO && irp&(driverapi.IRP_NOCACHE|driverapi.IRP_PAGING_IO) == 0 && fo.Flags()&fsys.FO_SYNCHRONOUS_IO != 0 {
		fast := req
		fast.fastIO = true
		if n, st, disallowed := m.readWrite(ctx, fv, fo, fast); !disallowed {
			return n, st
		}
	}
	n, st, _ := m.readWrite(ctx, fv, fo, req)
	return n, st
}

// NtReadFile sends an IRP_MJ_READ of len(buf) bytes at r.Offset down fo's volume stack for the
// thread ctx carries and returns the bytes read.
func (m *Manager) NtReadFile(ctx context.Context, fo *fsys.FileObject, buf []byte, r fsys.IORequest) (uint32, kernel.NTSTATUS) {
	n, st := m.userRW(ctx, driverapi.IRP_MJ_READ, fo, buf, r)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_READ %v offset %d length %d irp %#x → %d bytes", fo, r.Offset, len(buf), requestIrpFlags(r), n), st)
	return n, st
}

// NtWriteFile sends an IRP_MJ_WRITE of data at r.Offset down fo's volume stack and returns the
// bytes written.
func (m *Manager) NtWriteFile(ctx context.Context, fo *fsys.FileObject, data []byte, r fsys.IORequest) (uint32, kernel.NTSTATUS) {
	n, st := m.userRW(ctx, driverapi.IRP_MJ_WRITE, fo, data, r)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_WRITE %v offset %d length %d irp %#x → %d bytes", fo, r.Offset, len(data), requestIrpFlags(r), n), st)
	return n, st
}

// infoFor returns a new, zeroed structure for a query of class, nil for an unknown class.
func infoFor(class fsys.FileInformationClass) (any, uint32) {
	switch class {
	case fsys.FileBasicInformation:
		return &fsys.FILE_BASIC_INFORMATION{}, 40
	case fsys.FileStandardInformation:
		return &fsys.FILE_STANDARD_INFORMATION{}, 24
	case fsys.FileInternalInformation:
		return &fsys.FILE_INTERNAL_INFORMATION{}, 8
	case fsys.FilePositionInformation:
		return &fsys.FILE_POSITION_INFORMATION{}, 8
	case fsys.FileNameInformation:
		return &fsys.FILE_NAME_INFORMATION{}, 4 + 2*260
	}
	return nil, 0
}

func infoLength(class fsys.FileInformationClass, info any) uint32 {
	switch class {
	case fsys.FileRenameInformation:
		if r, ok := info.(*fsys.FILE_RENAME_INFORMATION); ok && r != nil {
			return 20 + 2*uint32(len(r.FileName))
		}
	case fsys.FileDispositionInformation:
		return 1
	case fsys.FileBasicInformation:
		return 40
	}
	return 8
}

func (m *Manager) queryInfo(ctx context.Context, fo *fsys.FileObject, class fsys.FileInformationClass, below *instance) (any, kernel.NTSTATUS) {
	fv, st := m.fileVolume(fo)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	buf, length := infoFor(class)
	if buf == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	op := m.newInfoOp(ctx, fv, driverapi.IRP_MJ_QUERY_INFORMATION, fo, below)
	op.data.Iopb.Parameters.QueryFileInformation = driverapi.QueryFileInformationParameters{Length: length, FileInformationClass: class, InfoBuffer: buf}
	op.bottom = func(op *ioOp) {
		q := &op.data.Iopb.Parameters.QueryFileInformation
		info, st := op.fo.Volume().QueryInformation(op.fo, q.FileInformationClass)
		if st == kernel.STATUS_SUCCESS {
			dst := reflect.ValueOf(q.InfoBuffer)
			src := reflect.ValueOf(info)
			if dst.Kind() == reflect.Pointer && !dst.IsNil() && dst.Type() == src.Type() {
				dst.Elem().Set(src.Elem())
			} else {
				st = kernel.STATUS_INVALID_PARAMETER
			}
		}
		op.data.IoStatus = driverapi.IoStatusBlock{Status: st}
		if st == kernel.STATUS_SUCCESS {
			op.data.IoStatus.Information = uint64(q.Length)
		}
	}
	op.run()
	if st := op.data.IoStatus.Status; !st.IsSuccess() {
		return nil, st
	}
	return buf, op.data.IoStatus.Status
}

// NtQueryInformationFile sends an IRP_MJ_QUERY_INFORMATION for class and returns a pointer to the
// class's structure (*fsys.FILE_STANDARD_INFORMATION, ...).
func (m *Manager) NtQueryInformationFile(ctx context.Context, fo *fsys.FileObject, class fsys.FileInformationClass) (any, kernel.NTSTATUS) {
	info, st := m.queryInfo(ctx, fo, class, nil)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_QUERY_INFORMATION %v class %d", fo, class), st)
	return info, st
}

// newInfoOp prepares a query or set information operation: a user request, or, with below,
// one a filter issues (kernel mode, generated I/O, seen only by the instances below it).
func (m *Manager) newInfoOp(ctx context.Context, fv *fltVolume, major driverapi.MajorFunction, fo *fsys.FileObject, below *instance) *ioOp {
	mode, _, _ := requestor(ctx)
	if below != nil {
		mode = driverapi.KernelMode
	}
	op := m.newOp(ctx, fv, major, fo, mode)
	op.below = below
	if below != nil {
		op.data.Flags |= driverapi.FLTFL_CALLBACK_DATA_GENERATED_IO
	}
	op.data.Iopb.IrpFlags = driverapi.IRP_SYNCHRONOUS_API | driverapi.IRP_BUFFERED_IO
	return op
}

func (m *Manager) setInfo(ctx context.Context, fo *fsys.FileObject, class fsys.FileInformationClass, info any, below *instance) kernel.NTSTATUS {
	fv, st := m.fileVolume(fo)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	if info == nil || reflect.ValueOf(info).Kind() != reflect.Pointer || reflect.ValueOf(info).IsNil() {
		return kernel.STATUS_INVALID_PARAMETER
	}
	op := m.newInfoOp(ctx, fv, driverapi.IRP_MJ_SET_INFORMATION, fo, below)
	p := driverapi.SetFileInformationParameters{Length: infoLength(class, info), FileInformationClass: class, InfoBuffer: info}
	if r, ok := info.(*fsys.FILE_RENAME_INFORMATION); ok {
		p.ReplaceIfExists = r.ReplaceIfExists
	}
	op.data.Iopb.Parameters.SetFileInformation = p
	op.bottom = func(op *ioOp) {
		s := &op.data.Iopb.Parameters.SetFileInformation
		buf := s.InfoBuffer
		if r, ok := buf.(*fsys.FILE_RENAME_INFORMATION); ok && r != nil && r.ReplaceIfExists != s.ReplaceIfExists {
			c := *r
			c.ReplaceIfExists = s.ReplaceIfExists
			buf = &c
		}
		st := op.fo.Volume().SetInformation(op.fo, s.FileInformationClass, buf)
		op.data.IoStatus = driverapi.IoStatusBlock{Status: st}
	}
	op.run()
	return op.data.IoStatus.Status
}

// NtSetInformationFile sends an IRP_MJ_SET_INFORMATION for class with info, a pointer to the
// class's structure (*fsys.FILE_RENAME_INFORMATION with a volume-relative target, ...).
func (m *Manager) NtSetInformationFile(ctx context.Context, fo *fsys.FileObject, class fsys.FileInformationClass, info any) kernel.NTSTATUS {
	st := m.setInfo(ctx, fo, class, info, nil)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_SET_INFORMATION %v class %d %+v", fo, class, info), st)
	return st
}

// NtFsControlFile sends an IRP_MJ_FILE_SYSTEM_CONTROL (IRP_MN_USER_FS_REQUEST) and returns the bytes
// written to out.
func (m *Manager) NtFsControlFile(ctx context.Context, fo *fsys.FileObject, code uint32, in, out []byte) (uint32, kernel.NTSTATUS) {
	n, st := m.control(ctx, fo, driverapi.IRP_MJ_FILE_SYSTEM_CONTROL, code, in, out)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_FILE_SYSTEM_CONTROL %v code %#x", fo, code), st)
	return n, st
}

// NtDeviceIoControlFile sends an IRP_MJ_DEVICE_CONTROL; the emulated volumes answer
// STATUS_INVALID_DEVICE_REQUEST unless a filter completes it.
func (m *Manager) NtDeviceIoControlFile(ctx context.Context, fo *fsys.FileObject, code uint32, in, out []byte) (uint32, kernel.NTSTATUS) {
	n, st := m.control(ctx, fo, driverapi.IRP_MJ_DEVICE_CONTROL, code, in, out)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_DEVICE_CONTROL %v code %#x", fo, code), st)
	return n, st
}

func (m *Manager) control(ctx context.Context, fo *fsys.FileObject, major driverapi.MajorFunction, code uint32, in, out []byte) (uint32, kernel.NTSTATUS) {
	fv, st := m.fileVolume(fo)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	mode, _, _ := requestor(ctx)
	op := m.newOp(ctx, fv, major, fo, mode)
	op.data.Iopb.IrpFlags = driverapi.IRP_SYNCHRONOUS_API
	if major == driverapi.IRP_MJ_FILE_SYSTEM_CONTROL {
		op.data.Iopb.MinorFunction = driverapi.IRP_MN_USER_FS_REQUEST
		op.data.Iopb.Parameters.FileSystemControl = driverapi.FileSystemControlParameters{Common: driverapi.FsControlCommon{FsControlCode: code},
			InputBufferLength: uint32(len(in)), OutputBufferLength: uint32(len(out)), InputBuffer: in, OutputBuffer: out}
	} else {
		op.data.Iopb.Parameters.DeviceIoControl = driverapi.DeviceIoControlParameters{IoControlCode: code,
			InputBufferLength: uint32(len(in)), OutputBufferLength: uint32(len(out)), InputBuffer: in, OutputBuffer: out}
	}
	op.bottom = func(op *ioOp) {
		if op.major != driverapi.IRP_MJ_FILE_SYSTEM_CONTROL {
			op.data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_INVALID_DEVICE_REQUEST}
			return
		}
		f := &op.data.Iopb.Parameters.FileSystemControl
		n, st := op.fo.Volume().FsControl(op.fo, f.Common.FsControlCode, f.InputBuffer, f.OutputBuffer)
		op.data.IoStatus = driverapi.IoStatusBlock{Status: st, Information: uint64(n)}
	}
	op.run()
	return uint32(op.data.IoStatus.Information), op.data.IoStatus.Status
}

func (m *Manager) cleanup(ctx context.Context, fv *fltVolume, fo *fsys.FileObject, below *instance, mode driverapi.ProcessorMode) kernel.NTSTATUS {
	op := m.newOp(ctx, fv, driverapi.IRP_MJ_CLEANUP, fo, mode)
	op.below = below
	if below != nil {
		op.data.Flags |= driverapi.FLTFL_CALLBACK_DATA_GENERATED_IO
	}
	op.data.Iopb.IrpFlags = driverapi.IRP_CLOSE_OPERATION | driverapi.IRP_SYNCHRONOUS_API
	op.bottom = func(op *ioOp) {
		op.data.IoStatus = driverapi.IoStatusBlock{Status: op.fo.Volume().Cleanup(op.fo)}
	}
	op.run()
	return op.data.IoStatus.Status
}

func (m *Manager) close(ctx context.Context, fv *fltVolume, fo *fsys.FileObject, below *instance, mode driverapi.ProcessorMode) kernel.NTSTATUS {
	stream := fo.Stream()
	var last bool
	op := m.newOp(ctx, fv, driverapi.IRP_MJ_CLOSE, fo, mode)
	op.below = below
	if below != nil {
		op.data.Flags |= driverapi.FLTFL_CALLBACK_DATA_GENERATED_IO
	}
	op.data.Iopb.IrpFlags = driverapi.IRP_CLOSE_OPERATION | driverapi.IRP_SYNCHRONOUS_API
	op.bottom = func(op *ioOp) {
		var st kernel.NTSTATUS
		last, st = op.fo.Volume().Close(op.fo)
		op.data.IoStatus = driverapi.IoStatusBlock{Status: st}
	}
	op.run()
	m.dropHandleContexts(fo)
	if last && stream != nil {
		m.dropStreamContexts(fv, stream)
	}
	return op.data.IoStatus.Status
}

// CleanupFile sends IRP_MJ_CLEANUP for fo (its last handle closed) down its volume's stack.
func (m *Manager) CleanupFile(ctx context.Context, fo *fsys.FileObject) kernel.NTSTATUS {
	fv, st := m.fileVolume(fo)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	mode, _, _ := requestor(ctx)
	st = m.cleanup(ctx, fv, fo, nil, mode)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_CLEANUP %v", fo), st)
	return st
}

// CloseFile sends IRP_MJ_CLOSE for fo (its last reference went away); the file object's
// stream-handle contexts end, and its stream's contexts if it was the stream's last file
// object.
func (m *Manager) CloseFile(ctx context.Context, fo *fsys.FileObject) kernel.NTSTATUS {
	fv, st := m.fileVolume(fo)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	mode, _, _ := requestor(ctx)
	st = m.close(ctx, fv, fo, nil, mode)
	m.traceIO(ctx, fmt.Sprintf("IRP_MJ_CLOSE %v", fo), st)
	return st
}

// ---- routines a driver calls ----

// asInstance checks that i is an instance of this manager.
func (m *Manager) asInstance(i driverapi.Instance) (*instance, bool) {
	inst, ok := i.(*instance)
	if !ok || inst == nil || inst.vol.m != m {
		return nil, false
	}
	return inst, true
}

// issueCheck validates the common arguments of the routines that issue I/O.
func (m *Manager) issueCheck(instance driverapi.Instance, fo *fsys.FileObject) (*instance, kernel.NTSTATUS) {
	inst, ok := m.asInstance(instance)
	if !ok || fo == nil || fo.Volume() != inst.vol.v {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	inst.mu.Lock()
	state := inst.state
	inst.mu.Unlock()
	if state == instGone {
		return nil, kernel.STATUS_FLT_DELETING_OBJECT
	}
	return inst, kernel.STATUS_SUCCESS
}

func (m *Manager) kernelRW(ctx context.Context, major driverapi.MajorFunction, instance driverapi.Instance, fo *fsys.FileObject,
	byteOffset *int64, length uint32, buffer []byte, flags uint32) (uint32, kernel.NTSTATUS) {
	inst, st := m.issueCheck(instance, fo)
	if st != kernel.STATUS_SUCCESS {
		return 0, st
	}
	routine := "FltReadFile"
	if major == driverapi.IRP_MJ_WRITE {
		routine = "FltWriteFile"
	}
	m.checkIRQL(routine, maxIRQLReadWriteFile, inst.fio.f.name)
	const known = driverapi.FLTFL_IO_OPERATION_NON_CACHED | driverapi.FLTFL_IO_OPERATION_PAGING |
		driverapi.FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET | driverapi.FLTFL_IO_OPERATION_SYNCHRONOUS_PAGING
	if flags&^known != 0 {
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	if int(length) > len(buffer) {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify10, Driver: inst.fio.f.name, Object: fo.String(),
			Message: fmt.Sprintf("%v with Length %d and a %d-byte buffer", major, length, len(buffer))})
		return 0, kernel.STATUS_INVALID_PARAMETER
	}
	off := fsys.FILE_USE_FILE_POINTER_POSITION
	if byteOffset != nil {
		off = *byteOffset
	}
	if off == fsys.FILE_USE_FILE_POINTER_POSITION {
		if fo.Flags()&fsys.FO_SYNCHRONOUS_IO == 0 {
			return 0, kernel.STATUS_INVALID_PARAMETER
		}
		off = fo.CurrentByteOffset()
	}
	irp := driverapi.IRP_SYNCHRONOUS_API
	if major == driverapi.IRP_MJ_READ {
		irp |= driverapi.IRP_READ_OPERATION
	} else {
		irp |= driverapi.IRP_WRITE_OPERATION
	}
	if flags&driverapi.FLTFL_IO_OPERATION_NON_CACHED != 0 {
		irp |= driverapi.IRP_NOCACHE
	}
	if flags&driverapi.FLTFL_IO_OPERATION_PAGING != 0 {
		irp |= driverapi.IRP_PAGING_IO | driverapi.IRP_NOCACHE
	}
	if flags&driverapi.FLTFL_IO_OPERATION_SYNCHRONOUS_PAGING != 0 {
		irp |= driverapi.IRP_SYNCHRONOUS_PAGING_IO
	}
	n, st, _ := m.readWrite(ctx, inst.vol, fo, rwRequest{major: major, offset: off, buf: buffer[:length], irpFlags: irp,
		keepPos: flags&driverapi.FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET != 0, below: inst, mode: driverapi.KernelMode})
	return n, st
}

// readFile emulates FltReadFile (R-IO-RW-5): a synchronous read sent to the instances below
// instance and to the file system, as kernel-mode I/O flagged
// FLTFL_CALLBACK_DATA_GENERATED_IO. byteOffset nil reads at the current byte offset (a
// synchronous file object only). With FLTFL_IO_OPERATION_NON_CACHED the offset and length
// must be sector-aligned; with FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET the file position
// does not move. Reading at or past the end of file is STATUS_END_OF_FILE with 0 bytes. A
// buffer shorter than length is reported (R-IO-VERIFY-10) and STATUS_INVALID_PARAMETER.
func (m *Manager) readFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, byteOffset *int64,
	length uint32, buffer []byte, flags uint32) (uint32, kernel.NTSTATUS) {
	return m.kernelRW(ctx, driverapi.IRP_MJ_READ, instance, fileObject, byteOffset, length, buffer, flags)
}

// writeFile emulates FltWriteFile, as ReadFile for a write.
func (m *Manager) writeFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, byteOffset *int64,
	length uint32, buffer []byte, flags uint32) (uint32, kernel.NTSTATUS) {
	return m.kernelRW(ctx, driverapi.IRP_MJ_WRITE, instance, fileObject, byteOffset, length, buffer, flags)
}

// queryInformationFile emulates FltQueryInformationFile: an IRP_MJ_QUERY_INFORMATION sent
// to the instances below instance; it returns a pointer to the class's structure.
func (m *Manager) queryInformationFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject,
	class fsys.FileInformationClass) (any, kernel.NTSTATUS) {
	inst, st := m.issueCheck(instance, fileObject)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	return m.queryInfo(ctx, fileObject, class, inst)
}

// setInformationFile emulates FltSetInformationFile: an IRP_MJ_SET_INFORMATION sent to the
// instances below instance (FilePositionInformation is set directly, as the I/O manager
// does).
func (m *Manager) setInformationFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject,
	class fsys.FileInformationClass, info any) kernel.NTSTATUS {
	inst, st := m.issueCheck(instance, fileObject)
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	if class == fsys.FilePositionInformation {
		if p, ok := info.(*fsys.FILE_POSITION_INFORMATION); ok && p != nil {
			return fileObject.SetCurrentByteOffset(p.CurrentByteOffset)
		}
		return kernel.STATUS_INVALID_PARAMETER
	}
	return m.setInfo(ctx, fileObject, class, info, inst)
}

// isDirectory emulates FltIsDirectory: whether the open file object is a directory.
// STATUS_INVALID_PARAMETER for a file object that is not open (in a pre-create, say).
func (m *Manager) isDirectory(fileObject *fsys.FileObject, instance driverapi.Instance) (bool, kernel.NTSTATUS) {
	if _, ok := m.asInstance(instance); !ok || fileObject == nil || fileObject.Stream() == nil {
		return false, kernel.STATUS_INVALID_PARAMETER
	}
	return fileObject.IsDirectory(), kernel.STATUS_SUCCESS
}
