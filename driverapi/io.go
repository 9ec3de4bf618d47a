package driverapi

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/kernel"
)

// MajorFunction is an IRP major function code (UCHAR).
type MajorFunction uint8

// Major function codes.
const (
	IRP_MJ_CREATE                   MajorFunction = 0x00
	IRP_MJ_CREATE_NAMED_PIPE        MajorFunction = 0x01
	IRP_MJ_CLOSE                    MajorFunction = 0x02
	IRP_MJ_READ                     MajorFunction = 0x03
	IRP_MJ_WRITE                    MajorFunction = 0x04
	IRP_MJ_QUERY_INFORMATION        MajorFunction = 0x05
	IRP_MJ_SET_INFORMATION          MajorFunction = 0x06
	IRP_MJ_QUERY_EA                 MajorFunction = 0x07
	IRP_MJ_SET_EA                   MajorFunction = 0x08
	IRP_MJ_FLUSH_BUFFERS            MajorFunction = 0x09
	IRP_MJ_QUERY_VOLUME_INFORMATION MajorFunction = 0x0a
	IRP_MJ_SET_VOLUME_INFORMATION   MajorFunction = 0x0b
	IRP_MJ_DIRECTORY_CONTROL        MajorFunction = 0x0c
	IRP_MJ_FILE_SYSTEM_CONTROL      MajorFunction = 0x0d
	IRP_MJ_DEVICE_CONTROL           MajorFunction = 0x0e
	IRP_MJ_INTERNAL_DEVICE_CONTROL  MajorFunction = 0x0f
	IRP_MJ_SHUTDOWN                 MajorFunction = 0x10
	IRP_MJ_LOCK_CONTROL             MajorFunction = 0x11
	IRP_MJ_CLEANUP                  MajorFunction = 0x12
	IRP_MJ_CREATE_MAILSLOT          MajorFunction = 0x13
	IRP_MJ_QUERY_SECURITY           MajorFunction = 0x14
	IRP_MJ_SET_SECURITY             MajorFunction = 0x15
	IRP_MJ_POWER                    MajorFunction = 0x16
	IRP_MJ_SYSTEM_CONTROL           MajorFunction = 0x17
	IRP_MJ_DEVICE_CHANGE            MajorFunction = 0x18
	IRP_MJ_QUERY_QUOTA              MajorFunction = 0x19
	IRP_MJ_SET_QUOTA                MajorFunction = 0x1a
	IRP_MJ_PNP                      MajorFunction = 0x1b
	IRP_MJ_MAXIMUM_FUNCTION         MajorFunction = 0x1b
	// IRP_MJ_OPERATION_END ends an OperationRegistration list (optional in Go).
	IRP_MJ_OPERATION_END MajorFunction = 0x80
)

var majorNames = [...]string{"IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ",
	"IRP_MJ_WRITE", "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
	"IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
	"IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
	"IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
	"IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
	"IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP"}

// String returns the constant's name, e.g. "IRP_MJ_CREATE".
func (m MajorFunction) String() string {
	if int(m) < len(majorNames) {
		return majorNames[m]
	}
	if m == IRP_MJ_OPERATION_END {
		return "IRP_MJ_OPERATION_END"
	}
	return fmt.Sprintf("IRP_MJ_0x%02x", uint8(m))
}

// Minor function codes of IRP_MJ_FILE_SYSTEM_CONTROL.
const (
	IRP_MN_USER_FS_REQUEST   uint8 = 0x00
	IRP_MN_MOUNT_VOLUME      uint8 = 0x01
	IRP_MN_VERIFY_VOLUME     uint8 = 0x02
	IRP_MN_LOAD_FILE_SYSTEM  uint8 = 0x03
	IRP_MN_KERNEL_CALL       uint8 = 0x04
	IRP_MN_NORMAL            uint8 = 0x00 // IRP_MJ_READ / IRP_MJ_WRITE
	SL_OPEN_TARGET_DIRECTORY uint8 = 0x04 // IRP_MJ_CREATE OperationFlags
	SL_CASE_SENSITIVE        uint8 = 0x80
)

// IRP flags (FLT_IO_PARAMETER_BLOCK.IrpFlags).
const (
	IRP_NOCACHE               uint32 = 0x00000001
	IRP_PAGING_IO             uint32 = 0x00000002
	IRP_MOUNT_COMPLETION      uint32 = 0x00000002
	IRP_SYNCHRONOUS_API       uint32 = 0x00000004
	IRP_ASSOCIATED_IRP        uint32 = 0x00000008
	IRP_BUFFERED_IO           uint32 = 0x00000010
	IRP_DEALLOCATE_BUFFER     uint32 = 0x00000020
	IRP_INPUT_OPERATION       uint32 = 0x00000040
	IRP_SYNCHRONOUS_PAGING_IO uint32 = 0x00000040
	IRP_CREATE_OPERATION      uint32 = 0x00000080
	IRP_READ_OPERATION        uint32 = 0x00000100
	IRP_WRITE_OPERATION       uint32 = 0x00000200
	IRP_CLOSE_OPERATION       uint32 = 0x00000400
	IRP_DEFER_IO_COMPLETION   uint32 = 0x00000800
)

// Callback data flags (FLT_CALLBACK_DATA.Flags).
const (
	FLTFL_CALLBACK_DATA_IRP_OPERATION       uint32 = 0x00000001
	FLTFL_CALLBACK_DATA_FAST_IO_OPERATION   uint32 = 0x00000002
	FLTFL_CALLBACK_DATA_FS_FILTER_OPERATION uint32 = 0x00000004
	FLTFL_CALLBACK_DATA_SYSTEM_BUFFER       uint32 = 0x00000008
	FLTFL_CALLBACK_DATA_GENERATED_IO        uint32 = 0x00010000
	FLTFL_CALLBACK_DATA_REISSUED_IO         uint32 = 0x00020000
	FLTFL_CALLBACK_DATA_DRAINING_IO         uint32 = 0x00040000
	FLTFL_CALLBACK_DATA_POST_OPERATION      uint32 = 0x00080000
	FLTFL_CALLBACK_DATA_NEW_SYSTEM_BUFFER   uint32 = 0x00100000
	FLTFL_CALLBACK_DATA_DIRTY               uint32 = 0x80000000
)

// Operation registration flags (FLT_OPERATION_REGISTRATION.Flags).
const (
	FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO                uint32 = 0x00000001
	FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO                uint32 = 0x00000002
	FLTFL_OPERATION_REGISTRATION_SKIP_NON_DASD_IO              uint32 = 0x00000004
	FLTFL_OPERATION_REGISTRATION_SKIP_NON_CACHED_NON_PAGING_IO uint32 = 0x00000008
)

// Flags of FltReadFile and FltWriteFile (FLTFL_IO_OPERATION_*).
const (
	FLTFL_IO_OPERATION_NON_CACHED                uint32 = 0x00000001
	FLTFL_IO_OPERATION_PAGING                    uint32 = 0x00000002
	FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET uint32 = 0x00000004
	FLTFL_IO_OPERATION_SYNCHRONOUS_PAGING        uint32 = 0x00000008
)

// PreopCallbackStatus is FLT_PREOP_CALLBACK_STATUS.
type PreopCallbackStatus int32

// Pre-operation callback results.
const (
	FLT_PREOP_SUCCESS_WITH_CALLBACK PreopCallbackStatus = 0
	FLT_PREOP_SUCCESS_NO_CALLBACK   PreopCallbackStatus = 1
	FLT_PREOP_PENDING               PreopCallbackStatus = 2
	FLT_PREOP_DISALLOW_FASTIO       PreopCallbackStatus = 3
	FLT_PREOP_COMPLETE              PreopCallbackStatus = 4
	FLT_PREOP_SYNCHRONIZE           PreopCallbackStatus = 5
	FLT_PREOP_DISALLOW_FSFILTER_IO  PreopCallbackStatus = 6
)

func (s PreopCallbackStatus) String() string {
	switch s {
	case FLT_PREOP_SUCCESS_WITH_CALLBACK:
		return "FLT_PREOP_SUCCESS_WITH_CALLBACK"
	case FLT_PREOP_SUCCESS_NO_CALLBACK:
		return "FLT_PREOP_SUCCESS_NO_CALLBACK"
	case FLT_PREOP_PENDING:
		return "FLT_PREOP_PENDING"
	case FLT_PREOP_DISALLOW_FASTIO:
		return "FLT_PREOP_DISALLOW_FASTIO"
	case FLT_PREOP_COMPLETE:
		return "FLT_PREOP_COMPLETE"
	case FLT_PREOP_SYNCHRONIZE:
		return "FLT_PREOP_SYNCHRONIZE"
	case FLT_PREOP_DISALLOW_FSFILTER_IO:
		return "FLT_PREOP_DISALLOW_FSFILTER_IO"
	}
	return fmt.Sprintf("FLT_PREOP_CALLBACK_STATUS(%d)", int32(s))
}

// PostopCallbackStatus is FLT_POSTOP_CALLBACK_STATUS.
type PostopCallbackStatus int32

// Post-operation callback results.
const (
	FLT_POSTOP_FINISHED_PROCESSING      PostopCallbackStatus = 0
	FLT_POSTOP_MORE_PROCESSING_REQUIRED PostopCallbackStatus = 1
	FLT_POSTOP_DISALLOW_FSFILTER_IO     PostopCallbackStatus = 2
)

func (s PostopCallbackStatus) String() string {
	switch s {
	case FLT_POSTOP_FINISHED_PROCESSING:
		return "FLT_POSTOP_FINISHED_PROCESSING"
	case FLT_POSTOP_MORE_PROCESSING_REQUIRED:
		return "FLT_POSTOP_MORE_PROCESSING_REQUIRED"
	case FLT_POSTOP_DISALLOW_FSFILTER_IO:
		return "FLT_POSTOP_DISALLOW_FSFILTER_IO"
	}
	return fmt.Sprintf("FLT_POSTOP_CALLBACK_STATUS(%d)", int32(s))
}

// PostOperationFlags are the flags of a post-operation callback.
type PostOperationFlags uint32

// FLTFL_POST_OPERATION_DRAINING says the instance is being torn down: the post-operation
// callback must only release what its pre-operation callback allocated, and the operation
// may not have completed.
const FLTFL_POST_OPERATION_DRAINING PostOperationFlags = 0x00000001

// ProcessorMode is KPROCESSOR_MODE: the mode of the requestor.
type ProcessorMode uint8

// Processor modes.
const (
	KernelMode ProcessorMode = 0
	UserMode   ProcessorMode = 1
)

// FltVolume is an opaque filter-manager volume (PFLT_VOLUME).
type FltVolume interface {
	// VolumeName returns the volume's device name, e.g. `\Device\HarddiskVolume1`.
	VolumeName() string
}

// Instance is an opaque minifilter instance (PFLT_INSTANCE): one filter attached to one
// volume at one altitude.
type Instance interface {
	// InstanceName returns the instance's name.
	InstanceName() string
	// Altitude returns the instance's altitude, e.g. "385100".
	Altitude() string
}

// RelatedObjects is FLT_RELATED_OBJECTS: the objects an operation or a callback concerns.
// Transaction is always nil (transactions are not emulated).
type RelatedObjects struct {
	Filter      Filter
	Volume      FltVolume
	Instance    Instance
	FileObject  *fsys.FileObject
	Transaction any
}

// IoStatusBlock is IO_STATUS_BLOCK.
type IoStatusBlock struct {
	Status      kernel.NTSTATUS
	Information uint64
}

// IoSecurityContext is IO_SECURITY_CONTEXT: the access an open asks for (generic rights
// already mapped) and the requestor's token.
type IoSecurityContext struct {
	DesiredAccess kernel.AccessMask
	Token         *kernel.Token
}

// CreateParameters are FLT_PARAMETERS.Create. Options holds the create disposition in its
// high 8 bits and the create options in its low 24 bits, as in C:
// disposition := Options >> 24.
type CreateParameters struct {
	SecurityContext *IoSecurityContext
	Options         uint32
	FileAttributes  uint16
	ShareAccess     uint16
	EaLength        uint32
	EaBuffer        []byte
	AllocationSize  int64
}

// ReadParameters are FLT_PARAMETERS.Read. ReadBuffer holds at least Length bytes. A
// pre-operation callback that swaps the buffer sets both and calls SetCallbackDataDirty.
type ReadParameters struct {
	Length     uint32
	Key        uint32
	ByteOffset int64
	ReadBuffer []byte
}

// WriteParameters are FLT_PARAMETERS.Write. WriteBuffer holds at least Length bytes; it is the
// requestor's memory: a filter that wants to change the data swaps in a buffer of its own
// (and calls SetCallbackDataDirty) rather than writing into it.
type WriteParameters struct {
	Length      uint32
	Key         uint32
	ByteOffset  int64
	WriteBuffer []byte
}

// QueryFileInformationParameters are FLT_PARAMETERS.QueryFileInformation. InfoBuffer receives
// a pointer to the class's structure (*fsys.FILE_STANDARD_INFORMATION, ...) when the operation
// completes; post-operation callbacks may read it.
type QueryFileInformationParameters struct {
	Length               uint32
	FileInformationClass fsys.FileInformationClass
	InfoBuffer           any
}

// SetFileInformationParameters are FLT_PARAMETERS.SetFileInformation. InfoBuffer is a pointer
// to the class's structure (*fsys.FILE_RENAME_INFORMATION, *fsys.FILE_DISPOSITION_INFORMATION,
// *fsys.FILE_END_OF_FILE_INFORMATION, ...). ReplaceIfExists is the union member of renames.
// ParentOfTarget is always nil: the emulated I/O manager does not open the target directory
// of a rename.
type SetFileInformationParameters struct {
	Length               uint32
	FileInformationClass fsys.FileInformationClass
	ParentOfTarget       *fsys.FileObject
	ReplaceIfExists      bool
	InfoBuffer           any
}

// FsControlCommon is the Common member of FLT_PARAMETERS.FileSystemControl.
type FsControlCommon struct {
	FsControlCode uint32
}

// FileSystemControlParameters are FLT_PARAMETERS.FileSystemControl for IRP_MN_USER_FS_REQUEST
// and IRP_MN_KERNEL_CALL: Common.FsControlCode as in C, and the buffers.
type FileSystemControlParameters struct {
	Common             FsControlCommon
	InputBufferLength  uint32
	OutputBufferLength uint32
	InputBuffer        []byte
	OutputBuffer       []byte
}

// DeviceIoControlParameters are FLT_PARAMETERS.DeviceIoControl.
type DeviceIoControlParameters struct {
	IoControlCode      uint32
	InputBufferLength  uint32
	OutputBufferLength uint32
	InputBuffer        []byte
	OutputBuffer       []byte
}

// Parameters is FLT_PARAMETERS. C's union is a struct here: the member of the operation's
// major function is the one that means something.
type Parameters struct {
	Create               CreateParameters
	Read                 ReadParameters
	Write                WriteParameters
	QueryFileInformation QueryFileInformationParameters
	SetFileInformation   SetFileInformationParameters
	FileSystemControl    FileSystemControlParameters
	DeviceIoControl      DeviceIoControlParameters
}

// IoParameterBlock is FLT_IO_PARAMETER_BLOCK.
type IoParameterBlock struct {
	IrpFlags         uint32
	MajorFunction    MajorFunction
	MinorFunction    uint8
	OperationFlags   uint8
	TargetFileObject *fsys.FileObject
	TargetInstance   Instance
	Parameters       Parameters
}

// Arguments returns Parameters.Others.Argument1…6 as a 64-bit C driver would read them out of
// the union (what minispy logs): the scalar members at their offsets, 0 where C has a pointer.
func (p *IoParameterBlock) Arguments() [6]uint64 {
	var a [6]uint64
	ps := &p.Parameters
	switch p.MajorFunction {
	case IRP_MJ_CREATE:
		a[1] = uint64(ps.Create.Options)
		a[2] = uint64(ps.Create.FileAttributes) | uint64(ps.Create.ShareAccess)<<16
		a[3] = uint64(ps.Create.EaLength)
		a[5] = uint64(ps.Create.AllocationSize)
	case IRP_MJ_READ:
		a[0], a[1], a[2] = uint64(ps.Read.Length), uint64(ps.Read.Key), uint64(ps.Read.ByteOffset)
	case IRP_MJ_WRITE:
		a[0], a[1], a[2] = uint64(ps.Write.Length), uint64(ps.Write.Key), uint64(ps.Write.ByteOffset)
	case IRP_MJ_QUERY_INFORMATION:
		a[0], a[1] = uint64(ps.QueryFileInformation.Length), uint64(ps.QueryFileInformation.FileInformationClass)
	case IRP_MJ_SET_INFORMATION:
		a[0], a[1] = uint64(ps.SetFileInformation.Length), uint64(ps.SetFileInformation.FileInformationClass)
		if ps.SetFileInformation.ReplaceIfExists {
			a[3] = 1
		}
	case IRP_MJ_FILE_SYSTEM_CONTROL:
		f := &ps.FileSystemControl
		a[0], a[1], a[2] = uint64(f.OutputBufferLength), uint64(f.InputBufferLength), uint64(f.Common.FsControlCode)
	case IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL:
		d := &ps.DeviceIoControl
		a[0], a[1], a[2] = uint64(d.OutputBufferLength), uint64(d.InputBufferLength), uint64(d.IoControlCode)
	}
	return a
}

// CallbackData is FLT_CALLBACK_DATA: one operation as the minifilters see it. The filter
// manager makes it; a driver reads and changes Iopb and IoStatus as in C.
type CallbackData struct {
	Flags         uint32
	Thread        *Thread
	Iopb          *IoParameterBlock
	IoStatus      IoStatusBlock
	RequestorMode ProcessorMode

	ctx   context.Context
	owner any
}

// Context returns the context of the thread the operation runs on: pass it to SendMessage,
// ReadFile and the other routines that take one. It is done when the requestor's process
// exits (the thread terminates).
func (d *CallbackData) Context() context.Context {
	if d.ctx == nil {
		return context.Background()
	}
	return d.ctx
}

// IsFastIoOperation is FLT_IS_FASTIO_OPERATION.
func (d *CallbackData) IsFastIoOperation() bool {
	return d.Flags&FLTFL_CALLBACK_DATA_FAST_IO_OPERATION != 0
}

// IsIrpOperation is FLT_IS_IRP_OPERATION.
func (d *CallbackData) IsIrpOperation() bool { return d.Flags&FLTFL_CALLBACK_DATA_IRP_OPERATION != 0 }

// PreOperationCallback is PFLT_PRE_OPERATION_CALLBACK. It runs on the requestor's goroutine.
// completionContext receives the value handed to the post-operation callback; it must stay
// nil unless the result is FLT_PREOP_SUCCESS_WITH_CALLBACK or FLT_PREOP_SYNCHRONIZE.
type PreOperationCallback func(data *CallbackData, fltObjects *RelatedObjects, completionContext *any) PreopCallbackStatus

// PostOperationCallback is PFLT_POST_OPERATION_CALLBACK. It runs on the requestor's goroutine
// after the lower instances and the file system completed the operation (or, with
// FLTFL_POST_OPERATION_DRAINING, on the goroutine tearing the instance down).
type PostOperationCallback func(data *CallbackData, fltObjects *RelatedObjects, completionContext any, flags PostOperationFlags) PostopCallbackStatus

// OperationRegistration is FLT_OPERATION_REGISTRATION: the callbacks of one major function.
type OperationRegistration struct {
	MajorFunction MajorFunction
	Flags         uint32 // FLTFL_OPERATION_REGISTRATION_*
	PreOperation  PreOperationCallback
	PostOperation PostOperationCallback
}

// InstanceSetupFlags are FLT_INSTANCE_SETUP_FLAGS.
type InstanceSetupFlags uint32

// Instance setup flags.
const (
	FLTFL_INSTANCE_SETUP_AUTOMATIC_ATTACHMENT InstanceSetupFlags = 0x00000001
	FLTFL_INSTANCE_SETUP_MANUAL_ATTACHMENT    InstanceSetupFlags = 0x00000002
	FLTFL_INSTANCE_SETUP_NEWLY_MOUNTED_VOLUME InstanceSetupFlags = 0x00000004
	FLTFL_INSTANCE_SETUP_DETACHED_VOLUME      InstanceSetupFlags = 0x00000008
)

// InstanceTeardownFlags are FLT_INSTANCE_TEARDOWN_FLAGS: why an instance goes away.
type InstanceTeardownFlags uint32

// Instance teardown reasons.
const (
	FLTFL_INSTANCE_TEARDOWN_MANUAL                  InstanceTeardownFlags = 0x00000001
	FLTFL_INSTANCE_TEARDOWN_FILTER_UNLOAD           InstanceTeardownFlags = 0x00000002
	FLTFL_INSTANCE_TEARDOWN_MANDATORY_FILTER_UNLOAD InstanceTeardownFlags = 0x00000004
	FLTFL_INSTANCE_TEARDOWN_VOLUME_DISMOUNT         InstanceTeardownFlags = 0x00000008
	FLTFL_INSTANCE_TEARDOWN_INTERNAL_ERROR          InstanceTeardownFlags = 0x00000010
)

// InstanceQueryTeardownFlags are FLT_INSTANCE_QUERY_TEARDOWN_FLAGS (none are defined).
type InstanceQueryTeardownFlags uint32

// FilesystemType is FLT_FILESYSTEM_TYPE.
type FilesystemType uint32

// File system types.
const (
	FLT_FSTYPE_UNKNOWN FilesystemType = 0
	FLT_FSTYPE_RAW     FilesystemType = 1
	FLT_FSTYPE_NTFS    FilesystemType = 2
	FLT_FSTYPE_FAT     FilesystemType = 3
	FLT_FSTYPE_CDFS    FilesystemType = 4
	FLT_FSTYPE_UDFS    FilesystemType = 5
	FLT_FSTYPE_LANMAN  FilesystemType = 6
	FLT_FSTYPE_WEBDAV  FilesystemType = 7
	FLT_FSTYPE_RDPDR   FilesystemType = 8
	FLT_FSTYPE_NFS     FilesystemType = 9
	FLT_FSTYPE_MUP     FilesystemType = 13
	FLT_FSTYPE_EXFAT   FilesystemType = 22
	FLT_FSTYPE_CSVFS   FilesystemType = 27
	FLT_FSTYPE_REFS    FilesystemType = 28
)

// InstanceSetupCallback is PFLT_INSTANCE_SETUP_CALLBACK: called before an instance attaches
// to a volume (automatically or manually). STATUS_FLT_DO_NOT_ATTACH, or any failure, refuses
// the attachment.
type InstanceSetupCallback func(fltObjects *RelatedObjects, flags InstanceSetupFlags, volumeDeviceType fsys.DeviceType, volumeFilesystemType FilesystemType) kernel.NTSTATUS

// InstanceQueryTeardownCallback is PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK: asked before a
// manual detach (FilterDetach, FltDetachVolume); a failure refuses it. Without this callback
// manual detaches are refused (STATUS_FLT_DO_NOT_DETACH).
type InstanceQueryTeardownCallback func(fltObjects *RelatedObjects, flags InstanceQueryTeardownFlags) kernel.NTSTATUS

// InstanceTeardownCallback is PFLT_INSTANCE_TEARDOWN_CALLBACK (start and complete).
type InstanceTeardownCallback func(fltObjects *RelatedObjects, reason InstanceTeardownFlags)

// Instance flags of the INF's instance definition (the Flags value under
// Instances\<name>): they decide whether an instance attaches by itself.
const (
	// InstanceFlagNoAutomaticAttach (INF Flags 0x1) suppresses automatic attachment: the
	// filter attaches only through FilterAttach or FltAttachVolume (minispy's setting).
	InstanceFlagNoAutomaticAttach uint32 = 0x1
	// InstanceFlagNoManualAttach (INF Flags 0x2) refuses manual attachments.
	InstanceFlagNoManualAttach uint32 = 0x2
)

// ContextType is FLT_CONTEXT_TYPE.
type ContextType uint16

// Context types.
const (
	FLT_VOLUME_CONTEXT       ContextType = 0x0001
	FLT_INSTANCE_CONTEXT     ContextType = 0x0002
	FLT_FILE_CONTEXT         ContextType = 0x0004
	FLT_STREAM_CONTEXT       ContextType = 0x0008
	FLT_STREAMHANDLE_CONTEXT ContextType = 0x0010
	FLT_TRANSACTION_CONTEXT  ContextType = 0x0020
	FLT_SECTION_CONTEXT      ContextType = 0x0040
	FLT_CONTEXT_END          ContextType = 0xffff
)

func (t ContextType) String() string {
	switch t {
	case FLT_VOLUME_CONTEXT:
		return "FLT_VOLUME_CONTEXT"
	case FLT_INSTANCE_CONTEXT:
		return "FLT_INSTANCE_CONTEXT"
	case FLT_FILE_CONTEXT:
		return "FLT_FILE_CONTEXT"
	case FLT_STREAM_CONTEXT:
		return "FLT_STREAM_CONTEXT"
	case FLT_STREAMHANDLE_CONTEXT:
		return "FLT_STREAMHANDLE_CONTEXT"
	case FLT_TRANSACTION_CONTEXT:
		return "FLT_TRANSACTION_CONTEXT"
	case FLT_SECTION_CONTEXT:
		return "FLT_SECTION_CONTEXT"
	case FLT_CONTEXT_END:
		return "FLT_CONTEXT_END"
	}
	return fmt.Sprintf("FLT_CONTEXT_TYPE(%#x)", uint16(t))
}

// FLT_VARIABLE_SIZED_CONTEXTS as a ContextRegistration Size accepts any allocation size.
const FLT_VARIABLE_SIZED_CONTEXTS = ^uintptr(0)

// FLTFL_CONTEXT_REGISTRATION_NO_EXACT_SIZE_MATCH lets an allocation be smaller than the
// registered size.
const FLTFL_CONTEXT_REGISTRATION_NO_EXACT_SIZE_MATCH uint16 = 0x0001

// ContextCleanupCallback is PFLT_CONTEXT_CLEANUP_CALLBACK: called once, when the last
// reference to a context is released, before it is freed.
type ContextCleanupCallback func(c FltContext, contextType ContextType)

// ContextRegistration is FLT_CONTEXT_REGISTRATION.
type ContextRegistration struct {
	ContextType            ContextType
	Flags                  uint16
	ContextCleanupCallback ContextCleanupCallback
	Size                   uintptr // or FLT_VARIABLE_SIZED_CONTEXTS
	PoolTag                uint32
}

// PoolType is POOL_TYPE (accepted and ignored).
type PoolType uint32

// Pool types.
const (
	NonPagedPool   PoolType = 0
	PagedPool      PoolType = 1
	NonPagedPoolNx PoolType = 512
)

// SetContextOperation is FLT_SET_CONTEXT_OPERATION.
type SetContextOperation uint32

// Set-context operations.
const (
	FLT_SET_CONTEXT_REPLACE_IF_EXISTS SetContextOperation = 0
	FLT_SET_CONTEXT_KEEP_IF_EXISTS    SetContextOperation = 1
)

// FltContext is a minifilter context (PFLT_CONTEXT). In C a context is a block of memory the
// driver casts to its own structure; here the driver stores its own value in it with SetData
// after AllocateContext and reads it back with Data. The filter manager counts references:
// AllocateContext, GetXxxContext and ReferenceContext add one, ReleaseContext drops one,
// and a context set on an object holds one while it is linked.
type FltContext interface {
	// ContextType returns the type the context was allocated as.
	ContextType() ContextType
	// Data returns the driver's value (nil until SetData).
	Data() any
	// SetData stores the driver's value.
	SetData(v any)
}

// File name options (FLT_FILE_NAME_OPTIONS): one format, one query method, and flags.
const (
	FLT_FILE_NAME_NORMALIZED uint32 = 0x01
	FLT_FILE_NAME_OPENED     uint32 = 0x02
	FLT_FILE_NAME_SHORT      uint32 = 0x03

	FLT_FILE_NAME_QUERY_DEFAULT                   uint32 = 0x0100
	FLT_FILE_NAME_QUERY_CACHE_ONLY                uint32 = 0x0200
	FLT_FILE_NAME_QUERY_FILESYSTEM_ONLY           uint32 = 0x0300
	FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP uint32 = 0x0400

	FLT_FILE_NAME_REQUEST_FROM_CURRENT_PROVIDER uint32 = 0x01000000
	FLT_FILE_NAME_DO_NOT_CACHE                  uint32 = 0x02000000
	FLT_FILE_NAME_ALLOW_QUERY_ON_REPARSE        uint32 = 0x04000000
)

// Parsed-name flags (FLT_FILE_NAME_INFORMATION.NamesParsed).
const (
	FLTFL_FILE_NAME_PARSED_FINAL_COMPONENT uint32 = 0x0001
	FLTFL_FILE_NAME_PARSED_EXTENSION       uint32 = 0x0002
	FLTFL_FILE_NAME_PARSED_STREAM          uint32 = 0x0004
	FLTFL_FILE_NAME_PARSED_PARENT_DIR      uint32 = 0x0008
)

// FltFileNameInformation is FLT_FILE_NAME_INFORMATION. GetFileNameInformation fills Format, Name
// and Volume; ParseFileNameInformation fills the rest. For
// `\Device\HarddiskVolume1\Docs\a.txt:s1`: Volume `\Device\HarddiskVolume1`, ParentDir
// `\Docs\`, FinalComponent `a.txt:s1`, Extension `txt`, Stream `:s1`. Share is `\server\share`
// on a network volume. Release it with ReleaseFileNameInformation.
type FltFileNameInformation struct {
	NamesParsed    uint32
	Format         uint32
	Name           string
	Volume         string
	Share          string
	Extension      string
	Stream         string
	FinalComponent string
	ParentDir      string
}

// VolumeProperties is FLT_VOLUME_PROPERTIES.
type VolumeProperties struct {
	DeviceType            fsys.DeviceType
	DeviceCharacteristics uint32
	DeviceObjectFlags     uint32
	AlignmentRequirement  uint32
	SectorSize            uint16
	Flags                 uint16
	FileSystemDriverName  string
	FileSystemDeviceName  string
	RealDeviceName        string
}

// Device characteristics.
const (
	FILE_REMOVABLE_MEDIA uint32 = 0x00000001
	FILE_REMOTE_DEVICE   uint32 = 0x00000010
)

// FileRoutines are the filter-manager routines of file I/O a driver may call. The emulated
// filter manager implements them as part of [FilterManager].
//
// Routines that issue I/O (ReadFile, WriteFile, QueryInformationFile, SetInformationFile)
// take the calling thread's context first, like SendMessage: in a callback pass
// data.Context(). They send the operation to the instances below the given one and to the
// file system, synchronously; the asynchronous forms (a CallbackRoutine) are not emulated.
type FileRoutines interface {
	// GetRequestorProcess emulates FltGetRequestorProcess: the process that requested the
	// operation, nil for the System process.
	GetRequestorProcess(data *CallbackData) *kernel.Process
	// GetRequestorProcessId emulates FltGetRequestorProcessId (4, the System process, for
	// I/O without a requestor process).
	GetRequestorProcessId(data *CallbackData) uint32
	// SetCallbackDataDirty emulates FltSetCallbackDataDirty.
	SetCallbackDataDirty(data *CallbackData)
	// ClearCallbackDataDirty emulates FltClearCallbackDataDirty.
	ClearCallbackDataDirty(data *CallbackData)
	// IsCallbackDataDirty emulates FltIsCallbackDataDirty.
	IsCallbackDataDirty(data *CallbackData) bool
	// CompletePendedPreOperation emulates FltCompletePendedPreOperation for an operation a
	// pre-operation callback returned FLT_PREOP_PENDING for. status may be
	// FLT_PREOP_SUCCESS_WITH_CALLBACK, FLT_PREOP_SUCCESS_NO_CALLBACK or FLT_PREOP_COMPLETE.
	CompletePendedPreOperation(data *CallbackData, status PreopCallbackStatus, completionContext any)
	// CompletePendedPostOperation emulates FltCompletePendedPostOperation for an operation a
	// post-operation callback returned FLT_POSTOP_MORE_PROCESSING_REQUIRED for.
	CompletePendedPostOperation(data *CallbackData)
	// DoCompletionProcessingWhenSafe emulates FltDoCompletionProcessingWhenSafe: from a
	// post-operation callback (which may run at DISPATCH_LEVEL), it runs safePostCallback at
	// PASSIVE_LEVEL, where the routines that wait may be called (R-IRQL-2). It returns the
	// callback's status and true, or false without calling it for paging I/O, fast I/O or a
	// draining instance. IRQL: at most DISPATCH_LEVEL.
	DoCompletionProcessingWhenSafe(data *CallbackData, fltObjects *RelatedObjects, completionContext any,
		flags PostOperationFlags, safePostCallback PostOperationCallback) (PostopCallbackStatus, bool)
	// GetCurrentIrql emulates KeGetCurrentIrql: the IRQL the calling goroutine runs at.
	// Post-operation callbacks other than IRP_MJ_CREATE's run at DISPATCH_LEVEL in the
	// emulator, everything else at PASSIVE_LEVEL (R-IRQL).
	GetCurrentIrql() kernel.KIRQL

	// ReadFile emulates FltReadFile: it reads length bytes into buffer at *byteOffset (nil:
	// the current byte offset) through the instances below instance. flags are
	// FLTFL_IO_OPERATION_*. It returns the bytes read.
	ReadFile(ctx context.Context, instance Instance, fileObject *fsys.FileObject, byteOffset *int64,
		length uint32, buffer []byte, flags uint32) (bytesRead uint32, status kernel.NTSTATUS)
	// WriteFile emulates FltWriteFile.
	WriteFile(ctx context.Context, instance Instance, fileObject *fsys.FileObject, byteOffset *int64,
		length uint32, buffer []byte, flags uint32) (bytesWritten uint32, status kernel.NTSTATUS)
	// QueryInformationFile emulates FltQueryInformationFile: it returns a pointer to the
	// class's structure (*fsys.FILE_STANDARD_INFORMATION, ...).
	QueryInformationFile(ctx context.Context, instance Instance, fileObject *fsys.FileObject,
		class fsys.FileInformationClass) (any, kernel.NTSTATUS)
	// SetInformationFile emulates FltSetInformationFile; info is a pointer to the class's
	// structure.
	SetInformationFile(ctx context.Context, instance Instance, fileObject *fsys.FileObject,
		class fsys.FileInformationClass, info any) kernel.NTSTATUS
	// CancelFileOpen emulates FltCancelFileOpen: in a post-create callback, it closes the file
	// the create opened (cleanup and close go to the instances below and the file system).
	// The caller then sets an error in data.IoStatus.Status and returns
	// FLT_POSTOP_FINISHED_PROCESSING.
	CancelFileOpen(instance Instance, fileObject *fsys.FileObject)
	// IsDirectory emulates FltIsDirectory.
	IsDirectory(fileObject *fsys.FileObject, instance Instance) (bool, kernel.NTSTATUS)

	// GetFileNameInformation emulates FltGetFileNameInformation.
	GetFileNameInformation(data *CallbackData, nameOptions uint32) (*FltFileNameInformation, kernel.NTSTATUS)
	// GetFileNameInformationUnsafe emulates FltGetFileNameInformationUnsafe.
	GetFileNameInformationUnsafe(fileObject *fsys.FileObject, instance Instance, nameOptions uint32) (*FltFileNameInformation, kernel.NTSTATUS)
	// ReferenceFileNameInformation emulates FltReferenceFileNameInformation.
	ReferenceFileNameInformation(info *FltFileNameInformation)
	// ReleaseFileNameInformation emulates FltReleaseFileNameInformation.
	ReleaseFileNameInformation(info *FltFileNameInformation)
	// ParseFileNameInformation emulates FltParseFileNameInformation.
	ParseFileNameInformation(info *FltFileNameInformation) kernel.NTSTATUS

	// AllocateContext emulates FltAllocateContext. The context has one reference.
	AllocateContext(filter Filter, contextType ContextType, size uintptr, poolType PoolType) (FltContext, kernel.NTSTATUS)
	// ReferenceContext emulates FltReferenceContext.
	ReferenceContext(c FltContext)
	// ReleaseContext emulates FltReleaseContext.
	ReleaseContext(c FltContext)
	// DeleteContext emulates FltDeleteContext: it unlinks the context from its object.
	DeleteContext(c FltContext)
	// SetStreamHandleContext emulates FltSetStreamHandleContext. oldContext, if not nil,
	// receives (referenced) the context already set (KEEP_IF_EXISTS fails with
	// STATUS_FLT_CONTEXT_ALREADY_DEFINED) or replaced (REPLACE_IF_EXISTS).
	SetStreamHandleContext(instance Instance, fileObject *fsys.FileObject, operation SetContextOperation,
		newContext FltContext, oldContext *FltContext) kernel.NTSTATUS
	// GetStreamHandleContext emulates FltGetStreamHandleContext (STATUS_NOT_FOUND if none).
	GetStreamHandleContext(instance Instance, fileObject *fsys.FileObject) (FltContext, kernel.NTSTATUS)
	// DeleteStreamHandleContext emulates FltDeleteStreamHandleContext.
	DeleteStreamHandleContext(instance Instance, fileObject *fsys.FileObject, oldContext *FltContext) kernel.NTSTATUS
	// SetStreamContext emulates FltSetStreamContext.
	SetStreamContext(instance Instance, fileObject *fsys.FileObject, operation SetContextOperation,
		newContext FltContext, oldContext *FltContext) kernel.NTSTATUS
	// GetStreamContext emulates FltGetStreamContext.
	GetStreamContext(instance Instance, fileObject *fsys.FileObject) (FltContext, kernel.NTSTATUS)
	// DeleteStreamContext emulates FltDeleteStreamContext.
	DeleteStreamContext(instance Instance, fileObject *fsys.FileObject, oldContext *FltContext) kernel.NTSTATUS
	// SetInstanceContext emulates FltSetInstanceContext.
	SetInstanceContext(instance Instance, operation SetContextOperation, newContext FltContext, oldContext *FltContext) kernel.NTSTATUS
	// GetInstanceContext emulates FltGetInstanceContext.
	GetInstanceContext(instance Instance) (FltContext, kernel.NTSTATUS)
	// DeleteInstanceContext emulates FltDeleteInstanceContext.
	DeleteInstanceContext(instance Instance, oldContext *FltContext) kernel.NTSTATUS

	// GetVolumeFromInstance emulates FltGetVolumeFromInstance; release the volume with
	// ObjectDereference.
	GetVolumeFromInstance(instance Instance) (FltVolume, kernel.NTSTATUS)
	// GetVolumeFromFileObject emulates FltGetVolumeFromFileObject; release with
	// ObjectDereference.
	GetVolumeFromFileObject(filter Filter, fileObject *fsys.FileObject) (FltVolume, kernel.NTSTATUS)
	// GetVolumeFromName emulates FltGetVolumeFromName: name is a device name
	// (`\Device\HarddiskVolume1`) or a drive (`\??\C:`, `C:`); release with ObjectDereference.
	GetVolumeFromName(filter Filter, name string) (FltVolume, kernel.NTSTATUS)
	// GetVolumeProperties emulates FltGetVolumeProperties.
	GetVolumeProperties(volume FltVolume) (VolumeProperties, kernel.NTSTATUS)
	// GetVolumeName emulates FltGetVolumeName: the device name.
	GetVolumeName(volume FltVolume) (string, kernel.NTSTATUS)
	// GetVolumeGuidName emulates FltGetVolumeGuidName: `\??\Volume{GUID}` for a local
	// volume, STATUS_INVALID_DEVICE_REQUEST for a network one.
	GetVolumeGuidName(volume FltVolume) (string, kernel.NTSTATUS)
	// GetFilterFromInstance emulates FltGetFilterFromInstance; release with ObjectDereference.
	GetFilterFromInstance(instance Instance) (Filter, kernel.NTSTATUS)
	// ObjectReference emulates FltObjectReference on a Filter, Instance or Volume.
	ObjectReference(object any) kernel.NTSTATUS
	// ObjectDereference emulates FltObjectDereference.
	ObjectDereference(object any)
	// AttachVolume emulates FltAttachVolume: instanceName "" is the default instance.
	AttachVolume(filter Filter, volume FltVolume, instanceName string) (Instance, kernel.NTSTATUS)
	// DetachVolume emulates FltDetachVolume.
	DetachVolume(filter Filter, volume FltVolume, instanceName string) kernel.NTSTATUS

	DataScanRoutines // FltRegisterForDataScan, FltCreate/CloseSectionForDataScan (io_section.go)
}
