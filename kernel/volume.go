// # Volumes and files
//
// [Volume] is an emulated volume: a small in-memory file system with directories,
// files, named data streams, share access, delete-on-close and rename, which sits at the
// bottom of every I/O stack. The filter manager calls it after the last minifilter's
// pre-operation callback (Create, Read, Write, SetInformation, QueryInformation, FsControl,
// Cleanup, Close); tests seed it and read it back directly, bypassing the filters.
//
// Decisions (NTFS behaviour, simplified):
//   - Names are compared case-insensitively and stored with the case they were created with.
//     A file name is volume-relative and starts with `\`; `\` alone is the root directory. The
//     last component may name a data stream: `file.txt:stream` or `file.txt:stream:$DATA`;
//     `file.txt::$DATA` is the default stream. Streams of directories are not supported.
//   - Share access follows IoCheckShareAccess: an open asking for none of FILE_READ_DATA,
//     FILE_EXECUTE, FILE_WRITE_DATA, FILE_APPEND_DATA or DELETE neither checks nor counts. It is
//     per stream and is released at cleanup.
//   - A file is deleted at the cleanup of its last handle once a delete is pending
//     (FileDispositionInformation, or a FILE_DELETE_ON_CLOSE handle cleaning up); a deleted
//     named stream goes the same way on its own. Opening a file with a delete pending is
//     STATUS_DELETE_PENDING.
//   - Access: a file may carry a security descriptor (nil grants everything); the read-only
//     attribute denies write access (FILE_WRITE_DATA, FILE_APPEND_DATA) and deletion
//     (STATUS_CANNOT_DELETE). A nil token in a create is a kernel-mode open: no access check.
//   - Non-cached (non-paging) I/O must be sector-aligned in offset and length, else
//     STATUS_INVALID_PARAMETER. Paging writes never extend a file: they are cut at the end of
//     file. Reads at or past the end of file are STATUS_END_OF_FILE.
//   - The current byte offset of a synchronous file object (FO_SYNCHRONOUS_IO) moves after each
//     non-paging read or write, unless the request says to keep it.
//   - A stream lives while a file object refers to it: stream contexts of minifilters end when
//     its last file object closes, which is deterministic (NTFS may keep it longer).
//
// Lock order: Volume.mu alone. The file system never calls out.
package kernel

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

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

// Device types (DEVICE_TYPE) of file-system volumes.
const (
	FILE_DEVICE_CD_ROM_FILE_SYSTEM  uint32 = 0x03
	FILE_DEVICE_DISK_FILE_SYSTEM    uint32 = 0x08
	FILE_DEVICE_FILE_SYSTEM         uint32 = 0x09
	FILE_DEVICE_NETWORK_FILE_SYSTEM uint32 = 0x14
)

// CTL_CODE builds an I/O control code: device type, function, method and required access.
func CTL_CODE(deviceType, function, method, access uint32) uint32 {
	return deviceType<<16 | access<<14 | function<<2 | method
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

// FileBasicInfo is FILE_BASIC_INFORMATION. Times are not kept by the emulated volumes (they
// read as zero, and a zero time in a set means "do not change", as on Windows).
type FileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
}

// FileStandardInfo is FILE_STANDARD_INFORMATION.
type FileStandardInfo struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  bool
	Directory      bool
}

// FileInternalInfo is FILE_INTERNAL_INFORMATION: the file id.
type FileInternalInfo struct{ IndexNumber int64 }

// FileNameInfo is FILE_NAME_INFORMATION: the volume-relative path of the file.
type FileNameInfo struct{ FileName string }

// FileRenameInfo is FILE_RENAME_INFORMATION. FileName is either a volume-relative path
// (starting with `\`) or a simple name in the same directory.
type FileRenameInfo struct {
	ReplaceIfExists bool
	FileName        string
}

// FileDispositionInfo is FILE_DISPOSITION_INFORMATION.
type FileDispositionInfo struct{ DeleteFile bool }

// FilePositionInfo is FILE_POSITION_INFORMATION.
type FilePositionInfo struct{ CurrentByteOffset int64 }

// FileAllocationInfo is FILE_ALLOCATION_INFORMATION.
type FileAllocationInfo struct{ AllocationSize int64 }

// FileEndOfFileInfo is FILE_END_OF_FILE_INFORMATION.
type FileEndOfFileInfo struct{ EndOfFile int64 }

// FileValidDataLengthInfo is FILE_VALID_DATA_LENGTH_INFORMATION.
type FileValidDataLengthInfo struct{ ValidDataLength int64 }

// VolumeKind says whether a volume is a local disk or a network share.
type VolumeKind int

// Volume kinds.
const (
	VolumeLocal   VolumeKind = iota // a local disk volume (\Device\HarddiskVolumeN)
	VolumeNetwork                   // a network share reached through the redirector (\Device\Mup)
)

func (k VolumeKind) String() string {
	if k == VolumeNetwork {
		return "network"
	}
	return "local"
}

// VolumeConfig describes a volume to create.
type VolumeConfig struct {
	// Name is the drive letter with its colon: "C:".
	Name string
	// DeviceName is the volume's device name; "" gives \Device\HarddiskVolume1 for a local
	// volume (the filter manager numbers them) and \Device\Mup for a network one.
	DeviceName string
	// SectorSize in bytes: a power of two from 512 to 65536; 0 means 512.
	SectorSize uint32
	// Kind is local or network.
	Kind VolumeKind
	// FileSystem names the file system: "NTFS" (the default for a local volume), "FAT",
	// "exFAT", "ReFS", ...; "MUP" is the default for a network volume.
	FileSystem string
	// Share is the `\server\share` of a network volume (default `\server\<letter>`).
	Share string
	// Files seeds the volume: path → contents. Paths are volume-relative (`dir\a.txt`, with
	// or without a leading `\`, `/` accepted); a path ending in `\` or `/` is a directory.
	// Missing parent directories are created.
	Files map[string][]byte
}

// Volume is an emulated volume and its in-memory file system.
type Volume struct {
	name       string
	device     string
	sectorSize uint32
	kind       VolumeKind
	fsName     string
	share      string

	foIDs atomic.Uint64

	mu     sync.Mutex
	root   *fsNode
	nextID int64
}

// fsNode is a file or a directory.
type fsNode struct {
	name     string // as created
	parent   *fsNode
	dir      bool
	children map[string]*fsNode // directories; key: upper case
	streams  map[string]*Stream // files; key: upper-case stream name, "" the default stream
	attrs    uint32
	id       int64
	sd       *SecurityDescriptor
	handles  int // open handles (not yet cleaned up) on any stream of the node
	deleting bool
	deleted  bool
}

// Stream is a data stream of a file (the FCB/SCB a file object's FsContext points to). For
// a directory it stands for the directory itself.
type Stream struct {
	vol     *Volume
	node    *fsNode
	name    string // "" for the default stream
	data    []byte
	share   shareState
	handles int // file objects not yet cleaned up
	objects int // file objects not yet closed
	delete  bool
	deleted bool
}

type shareState struct {
	open, readers, writers, deleters, sharedRead, sharedWrite, sharedDelete int
}

type foState int

const (
	foNew foState = iota
	foOpened
	foCleanedUp
	foClosed
)

// FileObject is a FILE_OBJECT: one open of a stream. The I/O manager makes it (NewFileObject)
// before the create goes down the stack; the file system fills it in when the create
// succeeds. The access and share fields are set then and do not change; they are read
// without a lock, as in C.
type FileObject struct {
	// FileName is the name the open asked for, relative to the volume (`\dir\a.txt`). It does
	// not change when the file is renamed.
	FileName string
	// ReadAccess, WriteAccess and DeleteAccess say what the open was granted (as
	// IoCheckShareAccess records it); SharedRead, SharedWrite and SharedDelete what it shares.
	ReadAccess, WriteAccess, DeleteAccess bool
	SharedRead, SharedWrite, SharedDelete bool

	vol   *Volume
	id    uint64
	flags atomic.Uint32

	// guarded by vol.mu
	stream                          *Stream
	state                           foState
	pos                             int64
	granted                         AccessMask
	deleteOnClose, countsShare, dir bool
}

// NewVolume makes a volume from cfg. It returns an error for a bad drive letter, sector size
// or seed path.
func NewVolume(cfg VolumeConfig) (*Volume, error) {
	name := strings.ToUpper(strings.TrimSuffix(cfg.Name, `\`))
	if len(name) != 2 || name[1] != ':' || name[0] < 'A' || name[0] > 'Z' {
		return nil, fmt.Errorf("kernel: volume name %q is not a drive letter such as \"C:\"", cfg.Name)
	}
	ss := cfg.SectorSize
	if ss == 0 {
		ss = 512
	}
	if ss < 512 || ss > 65536 || ss&(ss-1) != 0 {
		return nil, fmt.Errorf("kernel: volume %s: sector size %d is not a power of two from 512 to 65536", name, cfg.SectorSize)
	}
	v := &Volume{name: name, device: cfg.DeviceName, sectorSize: ss, kind: cfg.Kind, fsName: cfg.FileSystem, share: cfg.Share}
	if v.fsName == "" {
		v.fsName = "NTFS"
		if v.kind == VolumeNetwork {
			v.fsName = "MUP"
		}
	}
	if v.device == "" {
		v.device = `\Device\HarddiskVolume1`
		if v.kind == VolumeNetwork {
			v.device = `\Device\Mup`
		}
	}
	if v.kind == VolumeNetwork && v.share == "" {
		v.share = `\server\` + strings.ToLower(name[:1])
	}
	v.nextID = 5 // NTFS's first user file ids come after the metadata files
	v.root = &fsNode{dir: true, children: map[string]*fsNode{}, id: v.newID()}
	v.root.streams = map[string]*Stream{"": {vol: v, node: v.root}}
	paths := make([]string, 0, len(cfg.Files))
	for p := range cfg.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		var err error
		if strings.HasSuffix(p, `\`) || strings.HasSuffix(p, "/") {
			err = v.MkdirAll(p)
		} else {
			err = v.WriteFileData(p, cfg.Files[p])
		}
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *Volume) newID() int64 {
	v.nextID++
	return v.nextID
}

// Name returns the drive letter: "C:".
func (v *Volume) Name() string { return v.name }

// DeviceName returns the device name: `\Device\HarddiskVolume1`, `\Device\Mup`.
func (v *Volume) DeviceName() string { return v.device }

// GUID returns the volume's GUID, as the mount manager gives one to each local volume. It is
// derived from the device name (a name-based UUID), so that the same volume has the same GUID
// in every world and traces stay stable.
func (v *Volume) GUID() uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("fltemu volume "+v.device))
}

// SectorSize returns the sector size in bytes.
func (v *Volume) SectorSize() uint32 { return v.sectorSize }

// Kind returns local or network.
func (v *Volume) Kind() VolumeKind { return v.kind }

// FileSystem returns the file system's name ("NTFS", "MUP", ...).
func (v *Volume) FileSystem() string { return v.fsName }

// Share returns `\server\share` for a network volume, "" for a local one.
func (v *Volume) Share() string {
	if v.kind != VolumeNetwork {
		return ""
	}
	return v.share
}

// DeviceType returns FILE_DEVICE_DISK_FILE_SYSTEM or FILE_DEVICE_NETWORK_FILE_SYSTEM.
func (v *Volume) DeviceType() uint32 {
	if v.kind == VolumeNetwork {
		return FILE_DEVICE_NETWORK_FILE_SYSTEM
	}
	return FILE_DEVICE_DISK_FILE_SYSTEM
}

func (v *Volume) String() string { return fmt.Sprintf("volume %s (%s)", v.name, v.device) }

// ---- paths ----

// parsedName is a volume-relative name split into directory components, the final
// component and a stream name.
type parsedName struct {
	comps  []string // all components, the final one included; empty for the root
	stream string   // "" for the default stream
}

const invalidNameChars = "\"*/:<>?|"

func validComponent(c string) bool {
	if c == "" || c == "." || c == ".." || len(c) > 255 {
		return false
	}
	for _, r := range c {
		if r < 0x20 || strings.ContainsRune(invalidNameChars, r) || r == '\\' {
			return false
		}
	}
	return true
}

// parseName splits a volume-relative name (`\dir\file:stream:$DATA`).
func parseName(name string) (parsedName, NTSTATUS) {
	if name == "" || name[0] != '\\' {
		return parsedName{}, STATUS_OBJECT_NAME_INVALID
	}
	rest := strings.TrimSuffix(name[1:], `\`)
	if rest == "" {
		return parsedName{}, STATUS_SUCCESS
	}
	parts := strings.Split(rest, `\`)
	last := parts[len(parts)-1]
	var pn parsedName
	if i := strings.IndexByte(last, ':'); i >= 0 {
		stream := last[i+1:]
		last = last[:i]
		if j := strings.IndexByte(stream, ':'); j >= 0 {
			if !strings.EqualFold(stream[j+1:], "$DATA") {
				return parsedName{}, STATUS_OBJECT_NAME_INVALID
			}
			stream = stream[:j]
		} else if stream == "" {
			return parsedName{}, STATUS_OBJECT_NAME_INVALID
		}
		if stream != "" && !validComponent(stream) {
			return parsedName{}, STATUS_OBJECT_NAME_INVALID
		}
		pn.stream = stream
		parts[len(parts)-1] = last
	}
	for _, c := range parts {
		if !validComponent(c) {
			return parsedName{}, STATUS_OBJECT_NAME_INVALID
		}
	}
	pn.comps = parts
	return pn, STATUS_SUCCESS
}

func key(s string) string { return strings.ToUpper(s) }

// lookupParent walks to the parent directory of the final component; mu is held.
func (v *Volume) lookupParent(pn parsedName) (*fsNode, NTSTATUS) {
	n := v.root
	for _, c := range pn.comps[:len(pn.comps)-1] {
		child := n.children[key(c)]
		if child == nil || !child.dir {
			return nil, STATUS_OBJECT_PATH_NOT_FOUND
		}
		n = child
	}
	return n, STATUS_SUCCESS
}

// path returns the node's path with the case it was created with; mu is held.
func (n *fsNode) path() string {
	if n.parent == nil {
		return `\`
	}
	var parts []string
	for x := n; x.parent != nil; x = x.parent {
		parts = append(parts, x.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('\\')
		b.WriteString(parts[i])
	}
	return b.String()
}

func (n *fsNode) isUnder(d *fsNode) bool {
	for x := n; x != nil; x = x.parent {
		if x == d {
			return true
		}
	}
	return false
}

func (n *fsNode) openHandlesBelow() int {
	c := n.handles
	for _, ch := range n.children {
		c += ch.openHandlesBelow()
	}
	return c
}

// ---- test-side access (bypasses the filters) ----

func testPath(p string) string {
	p = strings.ReplaceAll(p, "/", `\`)
	if !strings.HasPrefix(p, `\`) {
		p = `\` + p
	}
	return p
}

// MkdirAll creates the directory path and its missing parents, bypassing the filters.
func (v *Volume) MkdirAll(path string) error {
	pn, st := parseName(testPath(path))
	if st != STATUS_SUCCESS || pn.stream != "" {
		return fmt.Errorf("kernel: %s: bad directory path %q", v.name, path)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, err := v.mkdirAllLocked(pn.comps)
	return err
}

func (v *Volume) mkdirAllLocked(comps []string) (*fsNode, error) {
	n := v.root
	for _, c := range comps {
		child := n.children[key(c)]
		if child == nil {
			child = &fsNode{name: c, parent: n, dir: true, children: map[string]*fsNode{}, id: v.newID()}
			child.streams = map[string]*Stream{"": {vol: v, node: child}}
			n.children[key(c)] = child
		} else if !child.dir {
			return nil, fmt.Errorf("kernel: %s: %s is a file, not a directory", v.name, child.path())
		}
		n = child
	}
	return n, nil
}

// WriteFileData creates or replaces the file at path (volume-relative, `dir\a.txt` or
// `a.txt:stream`) with a copy of data, creating missing parent directories. It bypasses the
// filters and share access: it is for seeding a test.
func (v *Volume) WriteFileData(path string, data []byte) error {
	pn, st := parseName(testPath(path))
	if st != STATUS_SUCCESS || len(pn.comps) == 0 {
		return fmt.Errorf("kernel: %s: bad file path %q", v.name, path)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	parent, err := v.mkdirAllLocked(pn.comps[:len(pn.comps)-1])
	if err != nil {
		return err
	}
	final := pn.comps[len(pn.comps)-1]
	n := parent.children[key(final)]
	if n == nil {
		n = &fsNode{name: final, parent: parent, streams: map[string]*Stream{}, attrs: FILE_ATTRIBUTE_ARCHIVE, id: v.newID()}
		n.streams[""] = &Stream{vol: v, node: n}
		parent.children[key(final)] = n
	} else if n.dir {
		return fmt.Errorf("kernel: %s: %s is a directory", v.name, n.path())
	}
	s := n.streams[key(pn.stream)]
	if s == nil {
		s = &Stream{vol: v, node: n, name: pn.stream}
		n.streams[key(pn.stream)] = s
	}
	s.data = append([]byte(nil), data...)
	return nil
}

// FileData returns a copy of the contents of the file (or stream) at path, and whether it
// exists and is a file. It is for asserting what reached the disk.
func (v *Volume) FileData(path string) ([]byte, bool) {
	pn, st := parseName(testPath(path))
	if st != STATUS_SUCCESS || len(pn.comps) == 0 {
		return nil, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, s := v.findLocked(pn)
	if n == nil || n.dir || s == nil {
		return nil, false
	}
	return append([]byte{}, s.data...), true
}

func (v *Volume) findLocked(pn parsedName) (*fsNode, *Stream) {
	if len(pn.comps) == 0 {
		return v.root, v.root.streams[""]
	}
	parent, st := v.lookupParent(pn)
	if st != STATUS_SUCCESS {
		return nil, nil
	}
	n := parent.children[key(pn.comps[len(pn.comps)-1])]
	if n == nil {
		return nil, nil
	}
	return n, n.streams[key(pn.stream)]
}

// Exists reports whether a file, stream or directory exists at path.
func (v *Volume) Exists(path string) bool {
	pn, st := parseName(testPath(path))
	if st != STATUS_SUCCESS {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, s := v.findLocked(pn)
	return n != nil && s != nil
}

// IsDirectory reports whether path is a directory.
func (v *Volume) IsDirectory(path string) bool {
	pn, st := parseName(testPath(path))
	if st != STATUS_SUCCESS || pn.stream != "" {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, _ := v.findLocked(pn)
	return n != nil && n.dir
}

// SetAttributes sets the attributes of the file or directory at path (FILE_ATTRIBUTE_READONLY,
// ...), bypassing the filters.
func (v *Volume) SetAttributes(path string, attrs uint32) error {
	return v.withNode(path, func(n *fsNode) { n.attrs = attrs &^ FILE_ATTRIBUTE_DIRECTORY })
}

// SetSecurity gives the file or directory at path a security descriptor (a copy); nil
// removes it (everything is granted).
func (v *Volume) SetSecurity(path string, sd *SecurityDescriptor) error {
	return v.withNode(path, func(n *fsNode) { n.sd = sd.Clone() })
}

func (v *Volume) withNode(path string, f func(*fsNode)) error {
	pn, st := parseName(testPath(path))
	if st != STATUS_SUCCESS || pn.stream != "" {
		return fmt.Errorf("kernel: %s: bad path %q", v.name, path)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, _ := v.findLocked(pn)
	if n == nil {
		return fmt.Errorf("kernel: %s: %q not found", v.name, path)
	}
	f(n)
	return nil
}

// Paths lists every directory (with a trailing `\`), file and named stream (`a.txt:s`) of
// the volume, sorted, the root excluded.
func (v *Volume) Paths() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	var walk func(n *fsNode)
	walk = func(n *fsNode) {
		for _, c := range n.children {
			p := c.path()
			if c.dir {
				out = append(out, p+`\`)
				walk(c)
				continue
			}
			out = append(out, p)
			for _, s := range c.streams {
				if s.name != "" {
					out = append(out, p+":"+s.name)
				}
			}
		}
	}
	walk(v.root)
	sort.Strings(out)
	return out
}

// SeedFS copies the tree of fsys under root (a directory of fsys, "." for all) into the
// volume's root, bypassing the filters: directories become directories, regular files
// files.
func (v *Volume) SeedFS(fsys fs.FS, root string) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if rel == "" || rel == "." {
			return nil
		}
		if d.IsDir() {
			return v.MkdirAll(rel)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return v.WriteFileData(rel, data)
	})
}

// OpenFileObjects returns the number of file objects of the volume not yet closed, for leak
// checks.
func (v *Volume) OpenFileObjects() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := 0
	var walk func(n *fsNode)
	walk = func(n *fsNode) {
		for _, s := range n.streams {
			c += s.objects
		}
		for _, ch := range n.children {
			walk(ch)
		}
	}
	walk(v.root)
	return c
}

// ---- file objects ----

// NewFileObject makes the file object of a create that is about to go down the stack (the
// I/O manager's part of IoCreateFile). fileName is volume-relative; options are the create
// options, from which the object's flags come (FO_SYNCHRONOUS_IO,
// FO_NO_INTERMEDIATE_BUFFERING, ...).
func (v *Volume) NewFileObject(fileName string, options uint32) *FileObject {
	fo := &FileObject{FileName: fileName, vol: v, id: v.foIDs.Add(1)}
	var fl uint32
	if options&(FILE_SYNCHRONOUS_IO_ALERT|FILE_SYNCHRONOUS_IO_NONALERT) != 0 {
		fl |= FO_SYNCHRONOUS_IO
		if options&FILE_SYNCHRONOUS_IO_ALERT != 0 {
			fl |= FO_ALERTABLE_IO
		}
	}
	if options&FILE_NO_INTERMEDIATE_BUFFERING != 0 {
		fl |= FO_NO_INTERMEDIATE_BUFFERING
	}
	if options&FILE_WRITE_THROUGH != 0 {
		fl |= FO_WRITE_THROUGH
	}
	if options&FILE_SEQUENTIAL_ONLY != 0 {
		fl |= FO_SEQUENTIAL_ONLY
	}
	if options&FILE_RANDOM_ACCESS != 0 {
		fl |= FO_RANDOM_ACCESS
	}
	fo.flags.Store(fl)
	return fo
}

// Volume returns the volume the file object belongs to.
func (fo *FileObject) Volume() *Volume { return fo.vol }

// ID is a number unique among the file objects of the volume, for traces.
func (fo *FileObject) ID() uint64 { return fo.id }

// Flags returns FILE_OBJECT.Flags (FO_*).
func (fo *FileObject) Flags() uint32 { return fo.flags.Load() }

// Stream returns the stream the file object is open on (its FsContext): nil before the
// file system opened it. Two file objects on the same stream return the same pointer.
func (fo *FileObject) Stream() *Stream {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.stream
}

// IsOpen reports whether the file system opened the file object and it is not cleaned up.
func (fo *FileObject) IsOpen() bool {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.state == foOpened
}

// IsClosed reports whether IRP_MJ_CLOSE reached the file system for the file object.
func (fo *FileObject) IsClosed() bool {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.state == foClosed
}

// IsDirectory reports whether the file object is open on a directory.
func (fo *FileObject) IsDirectory() bool {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.dir
}

// GrantedAccess returns the access the create granted (what the handle gets).
func (fo *FileObject) GrantedAccess() AccessMask {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.granted
}

// CurrentByteOffset returns FILE_OBJECT.CurrentByteOffset.
func (fo *FileObject) CurrentByteOffset() int64 {
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	return fo.pos
}

// SetCurrentByteOffset sets the current byte offset (what the I/O manager does for
// FilePositionInformation). A negative offset is STATUS_INVALID_PARAMETER.
func (fo *FileObject) SetCurrentByteOffset(off int64) NTSTATUS {
	if off < 0 {
		return STATUS_INVALID_PARAMETER
	}
	fo.vol.mu.Lock()
	defer fo.vol.mu.Unlock()
	fo.pos = off
	return STATUS_SUCCESS
}

// Path returns the current volume-relative path of the open stream, with the case the file
// system stores (it follows renames; a named stream ends in `:name`). Before the open
// succeeded it is the normalized form of FileName: the components that exist with their
// stored case, the rest as given, or STATUS_OBJECT_PATH_NOT_FOUND / STATUS_OBJECT_NAME_INVALID.
func (fo *FileObject) Path() (string, NTSTATUS) {
	v := fo.vol
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo.stream != nil {
		p := fo.stream.node.path()
		if fo.stream.name != "" {
			p += ":" + fo.stream.name
		}
		return p, STATUS_SUCCESS
	}
	return v.normalizeLocked(fo.FileName)
}

// NormalizeName returns the normalized form of a volume-relative name (see FileObject.Path).
func (v *Volume) NormalizeName(name string) (string, NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.normalizeLocked(name)
}

func (v *Volume) normalizeLocked(name string) (string, NTSTATUS) {
	pn, st := parseName(name)
	if st != STATUS_SUCCESS {
		return "", st
	}
	if len(pn.comps) == 0 {
		return `\`, STATUS_SUCCESS
	}
	parent, st := v.lookupParent(pn)
	if st != STATUS_SUCCESS {
		return "", st
	}
	final := pn.comps[len(pn.comps)-1]
	p := parent.path()
	if p != `\` {
		p += `\`
	}
	if n := parent.children[key(final)]; n != nil {
		final = n.name
		if s := n.streams[key(pn.stream)]; s != nil {
			pn.stream = s.name
		}
	}
	p += final
	if pn.stream != "" {
		p += ":" + pn.stream
	}
	return p, STATUS_SUCCESS
}

func (fo *FileObject) String() string {
	return fmt.Sprintf("file object %d %s on %s", fo.id, fo.FileName, fo.vol.name)
}

// ---- the file system's dispatch routines ----

// CreateRequest holds the parameters of IRP_MJ_CREATE as the file system reads them.
type CreateRequest struct {
	DesiredAccess  AccessMask // generic rights are mapped with FileGenericMapping
	Disposition    uint32     // FILE_SUPERSEDE ... FILE_OVERWRITE_IF
	Options        uint32     // FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE, FILE_DELETE_ON_CLOSE, ...
	ShareAccess    uint32     // FILE_SHARE_*
	FileAttributes uint32     // for a file it creates
	Token          *Token     // the requestor's token; nil for a kernel-mode open (no access check)
}

const (
	readRights   = FILE_READ_DATA | FILE_EXECUTE
	writeRights  = FILE_WRITE_DATA | FILE_APPEND_DATA
	shareRights  = readRights | writeRights | DELETE
	readOnlyDeny = FILE_WRITE_DATA | FILE_APPEND_DATA
)

// Create opens or creates the file fo names (the file system's IRP_MJ_CREATE). It returns the
// create result (FILE_OPENED, FILE_CREATED, ...) and the status. fo must be new.
func (v *Volume) Create(fo *FileObject, req CreateRequest) (uint64, NTSTATUS) {
	if fo == nil || fo.vol != v {
		return 0, STATUS_INVALID_PARAMETER
	}
	if req.Disposition > FILE_OVERWRITE_IF || req.Options&^FILE_VALID_OPTION_FLAGS != 0 ||
		req.Options&(FILE_DIRECTORY_FILE|FILE_NON_DIRECTORY_FILE) == FILE_DIRECTORY_FILE|FILE_NON_DIRECTORY_FILE ||
		req.ShareAccess&^(FILE_SHARE_READ|FILE_SHARE_WRITE|FILE_SHARE_DELETE) != 0 {
		return 0, STATUS_INVALID_PARAMETER
	}
	desired := FileGenericMapping().Map(req.DesiredAccess)
	if req.Options&FILE_DELETE_ON_CLOSE != 0 && desired&DELETE == 0 {
		return 0, STATUS_INVALID_PARAMETER
	}
	if req.Options&FILE_OPEN_BY_FILE_ID != 0 {
		return 0, STATUS_NOT_SUPPORTED
	}
	pn, st := parseName(fo.FileName)
	if st != STATUS_SUCCESS {
		return 0, st
	}
	wantDir := req.Options&FILE_DIRECTORY_FILE != 0
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo.state != foNew {
		return 0, STATUS_INVALID_PARAMETER
	}
	var parent, n *fsNode
	if len(pn.comps) == 0 {
		n = v.root
	} else {
		if parent, st = v.lookupParent(pn); st != STATUS_SUCCESS {
			return 0, st
		}
		n = parent.children[key(pn.comps[len(pn.comps)-1])]
	}
	if n != nil && n.dir && pn.stream != "" {
		return 0, STATUS_OBJECT_NAME_INVALID
	}
	var s *Stream
	if n != nil {
		s = n.streams[key(pn.stream)]
	}
	info := FILE_OPENED
	if n != nil && s != nil {
		// The stream exists.
		if n.deleting || s.delete {
			return 0, STATUS_DELETE_PENDING
		}
		switch {
		case req.Disposition == FILE_CREATE:
			return 0, STATUS_OBJECT_NAME_COLLISION
		case n.dir && req.Options&FILE_NON_DIRECTORY_FILE != 0:
			return 0, STATUS_FILE_IS_A_DIRECTORY
		case !n.dir && wantDir:
			return 0, STATUS_NOT_A_DIRECTORY
		case n.dir && req.Disposition != FILE_OPEN && req.Disposition != FILE_OPEN_IF:
			return 0, STATUS_FILE_IS_A_DIRECTORY
		}
		granted, st := v.accessLocked(n, desired, req.Token)
		if st != STATUS_SUCCESS {
			return 0, st
		}
		if req.Options&FILE_DELETE_ON_CLOSE != 0 && (n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir || n == v.root) {
			return 0, STATUS_CANNOT_DELETE
		}
		overwrite := req.Disposition == FILE_SUPERSEDE || req.Disposition == FILE_OVERWRITE || req.Disposition == FILE_OVERWRITE_IF
		if overwrite && n.attrs&FILE_ATTRIBUTE_READONLY != 0 {
			return 0, STATUS_ACCESS_DENIED
		}
		if st := s.share.check(granted, req.ShareAccess); st != STATUS_SUCCESS {
			return 0, st
		}
		if overwrite {
			s.data = nil
			if s.name == "" {
				// Overwriting the default stream drops the named ones that are not open.
				for k, other := range n.streams {
					if other.name != "" && other.objects == 0 {
						delete(n.streams, k)
					}
				}
				if req.FileAttributes != 0 {
					n.attrs = (req.FileAttributes | FILE_ATTRIBUTE_ARCHIVE) &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
				}
			}
			info = FILE_OVERWRITTEN
			if req.Disposition == FILE_SUPERSEDE {
				info = FILE_SUPERSEDED
			}
		}
		v.openLocked(fo, s, granted, req)
		return info, STATUS_SUCCESS
	}
	// The stream does not exist.
	if req.Disposition == FILE_OPEN || req.Disposition == FILE_OVERWRITE {
		return 0, STATUS_OBJECT_NAME_NOT_FOUND
	}
	if n != nil && n.deleting {
		return 0, STATUS_DELETE_PENDING
	}
	if n != nil && wantDir {
		return 0, STATUS_NOT_A_DIRECTORY
	}
	if wantDir && pn.stream != "" {
		return 0, STATUS_OBJECT_NAME_INVALID
	}
	if req.Token != nil && parent.sd != nil {
		right := FILE_ADD_FILE
		if wantDir {
			right = FILE_ADD_SUBDIRECTORY
		}
		if _, st := AccessCheck(parent.sd, req.Token, right, FileGenericMapping()); st != STATUS_SUCCESS {
			return 0, st
		}
	}
	granted := desired
	if n != nil {
		// A new named stream of an existing file: the file's protection applies.
		if granted, st = v.accessLocked(n, desired, req.Token); st != STATUS_SUCCESS {
			return 0, st
		}
	} else if granted&MAXIMUM_ALLOWED != 0 {
		granted = granted&^MAXIMUM_ALLOWED | FILE_ALL_ACCESS
	}
	if n == nil {
		n = &fsNode{name: pn.comps[len(pn.comps)-1], parent: parent, id: v.newID()}
		if wantDir {
			n.dir = true
			n.children = map[string]*fsNode{}
		} else {
			n.attrs = (req.FileAttributes | FILE_ATTRIBUTE_ARCHIVE) &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
		}
		n.streams = map[string]*Stream{"": {vol: v, node: n}}
		parent.children[key(n.name)] = n
	}
	s = n.streams[key(pn.stream)]
	if s == nil {
		s = &Stream{vol: v, node: n, name: pn.stream}
		n.streams[key(pn.stream)] = s
	}
	v.openLocked(fo, s, granted, req)
	return FILE_CREATED, STATUS_SUCCESS
}

// accessLocked checks the token against the node's descriptor and attributes.
func (v *Volume) accessLocked(n *fsNode, desired AccessMask, tok *Token) (AccessMask, NTSTATUS) {
	granted := desired
	if tok != nil && n.sd != nil {
		g, st := AccessCheck(n.sd, tok, desired, FileGenericMapping())
		if st != STATUS_SUCCESS {
			return 0, st
		}
		granted = g
	} else if desired&MAXIMUM_ALLOWED != 0 {
		granted = desired&^MAXIMUM_ALLOWED | FILE_ALL_ACCESS
	}
	if n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir {
		if desired&MAXIMUM_ALLOWED != 0 {
			granted &^= readOnlyDeny
		} else if granted&readOnlyDeny != 0 {
			return 0, STATUS_ACCESS_DENIED
		}
	}
	return granted, STATUS_SUCCESS
}

// check is IoCheckShareAccess without the update.
func (sh *shareState) check(granted AccessMask, share uint32) NTSTATUS {
	r, w, d := granted&readRights != 0, granted&writeRights != 0, granted&DELETE != 0
	if !r && !w && !d {
		return STATUS_SUCCESS
	}
	sr, sw, sd := share&FILE_SHARE_READ != 0, share&FILE_SHARE_WRITE != 0, share&FILE_SHARE_DELETE != 0
	if r && sh.sharedRead < sh.open || w && sh.sharedWrite < sh.open || d && sh.sharedDelete < sh.open ||
		sh.readers != 0 && !sr || sh.writers != 0 && !sw || sh.deleters != 0 && !sd {
		return STATUS_SHARING_VIOLATION
	}
	return STATUS_SUCCESS
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (v *Volume) openLocked(fo *FileObject, s *Stream, granted AccessMask, req CreateRequest) {
	fo.stream = s
	fo.state = foOpened
	fo.granted = granted
	fo.dir = s.node.dir
	fo.ReadAccess = granted&readRights != 0
	fo.WriteAccess = granted&writeRights != 0
	fo.DeleteAccess = granted&DELETE != 0
	fo.SharedRead = req.ShareAccess&FILE_SHARE_READ != 0
	fo.SharedWrite = req.ShareAccess&FILE_SHARE_WRITE != 0
	fo.SharedDelete = req.ShareAccess&FILE_SHARE_DELETE != 0
	fo.deleteOnClose = req.Options&FILE_DELETE_ON_CLOSE != 0
	if fo.deleteOnClose {
		fo.flags.Or(FO_DELETE_ON_CLOSE)
	}
	if fo.ReadAccess || fo.WriteAccess || fo.DeleteAccess {
		fo.countsShare = true
		sh := &s.share
		sh.open++
		sh.readers += b2i(fo.ReadAccess)
		sh.writers += b2i(fo.WriteAccess)
		sh.deleters += b2i(fo.DeleteAccess)
		sh.sharedRead += b2i(fo.SharedRead)
		sh.sharedWrite += b2i(fo.SharedWrite)
		sh.sharedDelete += b2i(fo.SharedDelete)
	}
	s.handles++
	s.objects++
	s.node.handles++
}

// usable checks that fo may carry a request; paging I/O may follow a cleanup.
func (v *Volume) usableLocked(fo *FileObject, paging bool) NTSTATUS {
	if fo == nil || fo.vol != v || fo.stream == nil {
		return STATUS_INVALID_PARAMETER
	}
	if fo.state == foOpened || paging && fo.state == foCleanedUp {
		return STATUS_SUCCESS
	}
	return STATUS_FILE_CLOSED
}

// IOOptions qualify a read or a write.
type IOOptions struct {
	Paging       bool // paging I/O (IRP_PAGING_IO): never moves the file position, never extends the file
	NonCached    bool // non-cached I/O (IRP_NOCACHE): must be sector-aligned unless paging
	KeepPosition bool // do not move a synchronous file object's current byte offset
}

// Read reads from fo's stream at offset (FILE_USE_FILE_POINTER_POSITION: the current byte
// offset of a synchronous file object) into buf. It returns the bytes read:
// STATUS_END_OF_FILE at or past the end of file; STATUS_INVALID_PARAMETER for a misaligned
// non-cached read or a negative offset; STATUS_INVALID_DEVICE_REQUEST on a directory;
// STATUS_FILE_CLOSED after cleanup (except paging I/O).
func (v *Volume) Read(fo *FileObject, offset int64, buf []byte, opt IOOptions) (uint32, NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, opt.Paging); st != STATUS_SUCCESS {
		return 0, st
	}
	if fo.dir {
		return 0, STATUS_INVALID_DEVICE_REQUEST
	}
	if offset == FILE_USE_FILE_POINTER_POSITION && fo.Flags()&FO_SYNCHRONOUS_IO != 0 {
		offset = fo.pos
	}
	if offset < 0 {
		return 0, STATUS_INVALID_PARAMETER
	}
	if opt.NonCached && !opt.Paging && (offset%int64(v.sectorSize) != 0 || len(buf)%int(v.sectorSize) != 0) {
		return 0, STATUS_INVALID_PARAMETER
	}
	if len(buf) == 0 {
		return 0, STATUS_SUCCESS
	}
	data := fo.stream.data
	if offset >= int64(len(data)) {
		return 0, STATUS_END_OF_FILE
	}
	n := copy(buf, data[offset:])
	if fo.Flags()&FO_SYNCHRONOUS_IO != 0 && !opt.Paging && !opt.KeepPosition {
		fo.pos = offset + int64(n)
	}
	return uint32(n), STATUS_SUCCESS
}

// Write writes data to fo's stream at offset (FILE_USE_FILE_POINTER_POSITION: the current
// byte offset; FILE_WRITE_TO_END_OF_FILE: append). A write past the end of file extends it
// with zeros, except a paging write, which is cut at the end of file. Errors as for Read.
func (v *Volume) Write(fo *FileObject, offset int64, data []byte, opt IOOptions) (uint32, NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, opt.Paging); st != STATUS_SUCCESS {
		return 0, st
	}
	if fo.dir {
		return 0, STATUS_INVALID_DEVICE_REQUEST
	}
	s := fo.stream
	switch {
	case offset == FILE_USE_FILE_POINTER_POSITION && fo.Flags()&FO_SYNCHRONOUS_IO != 0:
		offset = fo.pos
	case offset == FILE_WRITE_TO_END_OF_FILE:
		offset = int64(len(s.data))
	}
	if offset < 0 {
		return 0, STATUS_INVALID_PARAMETER
	}
	if opt.NonCached && !opt.Paging && (offset%int64(v.sectorSize) != 0 || len(data)%int(v.sectorSize) != 0) {
		return 0, STATUS_INVALID_PARAMETER
	}
	if opt.Paging {
		eof := int64(len(s.data))
		if offset >= eof {
			return 0, STATUS_SUCCESS
		}
		if int64(len(data)) > eof-offset {
			data = data[:eof-offset]
		}
	}
	if len(data) == 0 {
		return 0, STATUS_SUCCESS
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
	if fo.Flags()&FO_SYNCHRONOUS_IO != 0 && !opt.Paging && !opt.KeepPosition {
		fo.pos = end
	}
	return uint32(len(data)), STATUS_SUCCESS
}

// SetInformation is the file system's IRP_MJ_SET_INFORMATION. info must be the pointer type
// of the class (*FileRenameInfo for FileRenameInformation, ...); a wrong type or an
// unsupported class is STATUS_INVALID_PARAMETER. Rename and delete fail as NTFS makes them:
// STATUS_OBJECT_NAME_COLLISION (target exists, no ReplaceIfExists), STATUS_ACCESS_DENIED
// (target open or a directory; a directory with open files below), STATUS_DIRECTORY_NOT_EMPTY,
// STATUS_CANNOT_DELETE (read-only file, root). A rename to another volume is the caller's
// business (STATUS_NOT_SAME_DEVICE).
func (v *Volume) SetInformation(fo *FileObject, class FileInformationClass, info any) NTSTATUS {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, false); st != STATUS_SUCCESS {
		return st
	}
	s := fo.stream
	n := s.node
	switch class {
	case FileBasicInformation:
		in, ok := info.(*FileBasicInfo)
		if !ok || in == nil {
			return STATUS_INVALID_PARAMETER
		}
		if in.FileAttributes != 0 {
			n.attrs = in.FileAttributes &^ (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_NORMAL)
		}
		return STATUS_SUCCESS
	case FileDispositionInformation:
		in, ok := info.(*FileDispositionInfo)
		if !ok || in == nil {
			return STATUS_INVALID_PARAMETER
		}
		if !in.DeleteFile {
			if s.name != "" {
				s.delete = false
			} else {
				n.deleting = false
			}
			return STATUS_SUCCESS
		}
		if n == v.root || n.attrs&FILE_ATTRIBUTE_READONLY != 0 && !n.dir {
			return STATUS_CANNOT_DELETE
		}
		if n.dir && len(n.children) > 0 {
			return STATUS_DIRECTORY_NOT_EMPTY
		}
		if s.name != "" {
			s.delete = true
		} else {
			n.deleting = true
		}
		return STATUS_SUCCESS
	case FileEndOfFileInformation, FileAllocationInformation:
		var size int64
		switch in := info.(type) {
		case *FileEndOfFileInfo:
			if class != FileEndOfFileInformation || in == nil {
				return STATUS_INVALID_PARAMETER
			}
			size = in.EndOfFile
		case *FileAllocationInfo:
			if class != FileAllocationInformation || in == nil {
				return STATUS_INVALID_PARAMETER
			}
			size = in.AllocationSize
			if size >= int64(len(s.data)) {
				return STATUS_SUCCESS // allocation only; the end of file stays
			}
		default:
			return STATUS_INVALID_PARAMETER
		}
		if n.dir || size < 0 {
			return STATUS_INVALID_PARAMETER
		}
		if size <= int64(len(s.data)) {
			s.data = s.data[:size:size]
		} else {
			grown := make([]byte, size)
			copy(grown, s.data)
			s.data = grown
		}
		fo.flags.Or(FO_FILE_SIZE_CHANGED | FO_FILE_MODIFIED)
		return STATUS_SUCCESS
	case FileValidDataLengthInformation:
		in, ok := info.(*FileValidDataLengthInfo)
		if !ok || in == nil || n.dir || in.ValidDataLength < 0 || in.ValidDataLength > int64(len(s.data)) {
			return STATUS_INVALID_PARAMETER
		}
		return STATUS_SUCCESS
	case FilePositionInformation:
		in, ok := info.(*FilePositionInfo)
		if !ok || in == nil || in.CurrentByteOffset < 0 {
			return STATUS_INVALID_PARAMETER
		}
		fo.pos = in.CurrentByteOffset
		return STATUS_SUCCESS
	case FileRenameInformation:
		in, ok := info.(*FileRenameInfo)
		if !ok || in == nil {
			return STATUS_INVALID_PARAMETER
		}
		return v.renameLocked(fo, in)
	}
	return STATUS_INVALID_PARAMETER
}

func (v *Volume) renameLocked(fo *FileObject, in *FileRenameInfo) NTSTATUS {
	s := fo.stream
	n := s.node
	if s.name != "" || n == v.root || in.FileName == "" {
		return STATUS_INVALID_PARAMETER
	}
	target := in.FileName
	if target[0] != '\\' {
		if strings.ContainsAny(target, `\:`) {
			return STATUS_INVALID_PARAMETER
		}
		p := n.parent.path()
		if p != `\` {
			p += `\`
		}
		target = p + target
	}
	pn, st := parseName(target)
	if st != STATUS_SUCCESS {
		return st
	}
	if pn.stream != "" || len(pn.comps) == 0 {
		return STATUS_INVALID_PARAMETER
	}
	parent, st := v.lookupParent(pn)
	if st != STATUS_SUCCESS {
		return st
	}
	if n.dir && parent.isUnder(n) {
		return STATUS_INVALID_PARAMETER
	}
	final := pn.comps[len(pn.comps)-1]
	existing := parent.children[key(final)]
	if existing != nil && existing != n {
		if !in.ReplaceIfExists {
			return STATUS_OBJECT_NAME_COLLISION
		}
		if existing.dir || existing.handles > 0 || existing.attrs&FILE_ATTRIBUTE_READONLY != 0 {
			return STATUS_ACCESS_DENIED
		}
		delete(parent.children, key(final))
		existing.deleted = true
	}
	if n.dir && n.openHandlesBelow() > n.handles {
		return STATUS_ACCESS_DENIED
	}
	delete(n.parent.children, key(n.name))
	n.name = final
	n.parent = parent
	parent.children[key(final)] = n
	return STATUS_SUCCESS
}

// QueryInformation is the file system's IRP_MJ_QUERY_INFORMATION for the classes
// FileBasicInformation, FileStandardInformation, FileInternalInformation,
// FilePositionInformation and FileNameInformation; it returns a pointer to the class's
// structure. Other classes are STATUS_INVALID_PARAMETER.
func (v *Volume) QueryInformation(fo *FileObject, class FileInformationClass) (any, NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, false); st != STATUS_SUCCESS {
		return nil, st
	}
	s := fo.stream
	n := s.node
	switch class {
	case FileBasicInformation:
		a := n.attrs
		if n.dir {
			a |= FILE_ATTRIBUTE_DIRECTORY
		}
		if a == 0 {
			a = FILE_ATTRIBUTE_NORMAL
		}
		return &FileBasicInfo{FileAttributes: a}, STATUS_SUCCESS
	case FileStandardInformation:
		size := int64(len(s.data))
		alloc := (size + int64(v.sectorSize) - 1) / int64(v.sectorSize) * int64(v.sectorSize)
		return &FileStandardInfo{AllocationSize: alloc, EndOfFile: size, NumberOfLinks: 1,
			DeletePending: n.deleting || s.delete, Directory: n.dir}, STATUS_SUCCESS
	case FileInternalInformation:
		return &FileInternalInfo{IndexNumber: n.id}, STATUS_SUCCESS
	case FilePositionInformation:
		return &FilePositionInfo{CurrentByteOffset: fo.pos}, STATUS_SUCCESS
	case FileNameInformation:
		p := n.path()
		if s.name != "" {
			p += ":" + s.name
		}
		return &FileNameInfo{FileName: p}, STATUS_SUCCESS
	}
	return nil, STATUS_INVALID_PARAMETER
}

// FsControl is the file system's IRP_MJ_FILE_SYSTEM_CONTROL for a user request. It knows
// FSCTL_SET_ZERO_DATA; other codes are STATUS_INVALID_DEVICE_REQUEST. It returns the bytes
// written to out.
func (v *Volume) FsControl(fo *FileObject, code uint32, in, out []byte) (uint32, NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.usableLocked(fo, false); st != STATUS_SUCCESS {
		return 0, st
	}
	switch code {
	case FSCTL_SET_ZERO_DATA:
		if len(in) < 16 {
			return 0, STATUS_INVALID_PARAMETER
		}
		from := int64(binary.LittleEndian.Uint64(in[0:]))
		to := int64(binary.LittleEndian.Uint64(in[8:]))
		if fo.dir || from < 0 || to < from {
			return 0, STATUS_INVALID_PARAMETER
		}
		data := fo.stream.data
		if to > int64(len(data)) {
			to = int64(len(data))
		}
		for i := from; i < to; i++ {
			data[i] = 0
		}
		fo.flags.Or(FO_FILE_MODIFIED)
		return 0, STATUS_SUCCESS
	}
	return 0, STATUS_INVALID_DEVICE_REQUEST
}

// Cleanup is the file system's IRP_MJ_CLEANUP: the last handle to fo closed. It releases the
// share access, makes a FILE_DELETE_ON_CLOSE file delete-pending, and deletes the file (or the
// named stream) whose delete is pending once its last handle is cleaned up.
func (v *Volume) Cleanup(fo *FileObject) NTSTATUS {
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo == nil || fo.vol != v || fo.state != foOpened {
		return STATUS_INVALID_PARAMETER
	}
	s := fo.stream
	n := s.node
	if fo.countsShare {
		sh := &s.share
		sh.open--
		sh.readers -= b2i(fo.ReadAccess)
		sh.writers -= b2i(fo.WriteAccess)
		sh.deleters -= b2i(fo.DeleteAccess)
		sh.sharedRead -= b2i(fo.SharedRead)
		sh.sharedWrite -= b2i(fo.SharedWrite)
		sh.sharedDelete -= b2i(fo.SharedDelete)
	}
	if fo.deleteOnClose {
		if s.name != "" {
			s.delete = true
		} else if !(n.dir && len(n.children) > 0) {
			n.deleting = true
		}
	}
	s.handles--
	n.handles--
	if s.name != "" && s.delete && s.handles == 0 {
		delete(n.streams, key(s.name))
		s.deleted = true
	}
	if n.deleting && n.handles == 0 && n.parent != nil && !n.deleted {
		if cur := n.parent.children[key(n.name)]; cur == n {
			delete(n.parent.children, key(n.name))
		}
		n.deleted = true
		for _, st := range n.streams {
			st.deleted = true
		}
	}
	fo.state = foCleanedUp
	fo.flags.Or(FO_CLEANUP_COMPLETE)
	return STATUS_SUCCESS
}

// Close is the file system's IRP_MJ_CLOSE: the last reference to fo is gone. It returns
// whether fo was the last file object of its stream (the stream's contexts end then). Closing
// a file object that was never opened, or twice, is STATUS_INVALID_PARAMETER.
func (v *Volume) Close(fo *FileObject) (lastOfStream bool, st NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if fo == nil || fo.vol != v || fo.stream == nil || fo.state == foClosed || fo.state == foNew {
		return false, STATUS_INVALID_PARAMETER
	}
	if fo.state == foOpened {
		return false, STATUS_INVALID_DEVICE_STATE // cleanup first
	}
	fo.state = foClosed
	fo.stream.objects--
	return fo.stream.objects == 0, STATUS_SUCCESS
}

// Deleted reports whether the stream's file (or the named stream itself) has been deleted.
func (s *Stream) Deleted() bool {
	s.vol.mu.Lock()
	defer s.vol.mu.Unlock()
	return s.deleted
}

// Name returns the stream's name, "" for the default data stream.
func (s *Stream) Name() string { return s.name }
