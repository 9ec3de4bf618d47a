package fsys

// Create dispositions (the high 8 bits of IRP_MJ_CREATE's Options).
const (
	FILE_SUPERSEDE    uint32 = 0
	FILE_OPEN         uint32 = 1
	FILE_CREATE       uint32 = 2
	FILE_OPEN_IF      uint32 = 3
	FILE_OVERWRITE    uint32 = 4
	FILE_OVERWRITE_IF uint32 = 5
)

// Create options (the low 24 bits of IRP_MJ_CREATE's Options).
const (
	FILE_DIRECTORY_FILE            uint32 = 0x00000001
	FILE_WRITE_THROUGH             uint32 = 0x00000002
	FILE_SEQUENTIAL_ONLY           uint32 = 0x00000004
	FILE_NO_INTERMEDIATE_BUFFERING uint32 = 0x00000008
	FILE_SYNCHRONOUS_IO_ALERT      uint32 = 0x00000010
	FILE_SYNCHRONOUS_IO_NONALERT   uint32 = 0x00000020
	FILE_NON_DIRECTORY_FILE        uint32 = 0x00000040
	FILE_COMPLETE_IF_OPLOCKED      uint32 = 0x00000100
	FILE_RANDOM_ACCESS             uint32 = 0x00000800
	FILE_DELETE_ON_CLOSE           uint32 = 0x00001000
	FILE_OPEN_BY_FILE_ID           uint32 = 0x00002000
	FILE_OPEN_FOR_BACKUP_INTENT    uint32 = 0x00004000
	FILE_OPEN_REPARSE_POINT        uint32 = 0x00200000
	FILE_VALID_OPTION_FLAGS        uint32 = 0x00FFFFFF
)

// Create results (IoStatus.Information of a successful IRP_MJ_CREATE).
const (
	FILE_SUPERSEDED     uint64 = 0
	FILE_OPENED         uint64 = 1
	FILE_CREATED        uint64 = 2
	FILE_OVERWRITTEN    uint64 = 3
	FILE_EXISTS         uint64 = 4
	FILE_DOES_NOT_EXIST uint64 = 5
)

// Share access (IRP_MJ_CREATE's ShareAccess, CreateFile's dwShareMode).
const (
	FILE_SHARE_READ   uint32 = 0x1
	FILE_SHARE_WRITE  uint32 = 0x2
	FILE_SHARE_DELETE uint32 = 0x4
)

// File attributes.
const (
	FILE_ATTRIBUTE_READONLY  uint32 = 0x01
	FILE_ATTRIBUTE_HIDDEN    uint32 = 0x02
	FILE_ATTRIBUTE_SYSTEM    uint32 = 0x04
	FILE_ATTRIBUTE_DIRECTORY uint32 = 0x10
	FILE_ATTRIBUTE_ARCHIVE   uint32 = 0x20
	FILE_ATTRIBUTE_NORMAL    uint32 = 0x80
)

// File object flags (FILE_OBJECT.Flags).
const (
	FO_SYNCHRONOUS_IO            uint32 = 0x00000002
	FO_ALERTABLE_IO              uint32 = 0x00000004
	FO_NO_INTERMEDIATE_BUFFERING uint32 = 0x00000008
	FO_WRITE_THROUGH             uint32 = 0x00000010
	FO_SEQUENTIAL_ONLY           uint32 = 0x00000020
	FO_FILE_MODIFIED             uint32 = 0x00001000
	FO_FILE_SIZE_CHANGED         uint32 = 0x00002000
	FO_CLEANUP_COMPLETE          uint32 = 0x00004000
	FO_DELETE_ON_CLOSE           uint32 = 0x00010000
	FO_RANDOM_ACCESS             uint32 = 0x00100000
)

// Special byte offsets of a read or write (LARGE_INTEGER values).
const (
	FILE_WRITE_TO_END_OF_FILE      int64 = -1 // append
	FILE_USE_FILE_POINTER_POSITION int64 = -2 // use the file object's current byte offset
)

// DeviceType is DEVICE_TYPE: what a device object is (the high 16 bits of an I/O control
// code).
type DeviceType uint32

// Device types of file-system volumes.
const (
	FILE_DEVICE_CD_ROM_FILE_SYSTEM  DeviceType = 0x03
	FILE_DEVICE_DISK_FILE_SYSTEM    DeviceType = 0x08
	FILE_DEVICE_FILE_SYSTEM         DeviceType = 0x09
	FILE_DEVICE_NETWORK_FILE_SYSTEM DeviceType = 0x14
)

// CTL_CODE builds an I/O control code: device type, function, method and required access.
func CTL_CODE(deviceType DeviceType, function, method, access uint32) uint32 {
	return uint32(deviceType)<<16 | access<<14 | function<<2 | method
}

// I/O control code methods and access.
const (
	METHOD_BUFFERED     uint32 = 0
	METHOD_IN_DIRECT    uint32 = 1
	METHOD_OUT_DIRECT   uint32 = 2
	METHOD_NEITHER      uint32 = 3
	FILE_ANY_ACCESS     uint32 = 0
	FILE_SPECIAL_ACCESS uint32 = 0
	FILE_READ_ACCESS    uint32 = 1
	FILE_WRITE_ACCESS   uint32 = 2
)

// File-system control codes (CTL_CODE(FILE_DEVICE_FILE_SYSTEM, function, method, access)).
// The emulated file system knows FSCTL_SET_ZERO_DATA; the others are
// STATUS_INVALID_DEVICE_REQUEST at the file system, but filters see them.
const (
	// FSCTL_SET_ZERO_DATA zeroes a range; input: FILE_ZERO_DATA_INFORMATION (FileOffset,
	// BeyondFinalZero: two little-endian int64). Function 50, buffered, write access.
	FSCTL_SET_ZERO_DATA uint32 = 0x000980C8
	// FSCTL_OFFLOAD_WRITE is an offloaded data transfer write. Function 154, buffered, write
	// access.
	FSCTL_OFFLOAD_WRITE uint32 = 0x00098268
	// FSCTL_WRITE_RAW_ENCRYPTED writes raw encrypted data. Function 55, neither, special
	// access.
	FSCTL_WRITE_RAW_ENCRYPTED uint32 = 0x000900DF
)

// FileInformationClass is FILE_INFORMATION_CLASS.
type FileInformationClass uint32

// File information classes.
const (
	FileBasicInformation           FileInformationClass = 4
	FileStandardInformation        FileInformationClass = 5
	FileInternalInformation        FileInformationClass = 6
	FileNameInformation            FileInformationClass = 9
	FileRenameInformation          FileInformationClass = 10
	FileDispositionInformation     FileInformationClass = 13
	FilePositionInformation        FileInformationClass = 14
	FileAllocationInformation      FileInformationClass = 19
	FileEndOfFileInformation       FileInformationClass = 20
	FileValidDataLengthInformation FileInformationClass = 39
)
