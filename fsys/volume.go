package fsys

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/kernel"
	"github.com/google/uuid"
)

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
	sd       *kernel.SecurityDescriptor
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

// NewVolume makes a volume from cfg. It returns an error for a bad drive letter, sector size
// or seed path.
func NewVolume(cfg VolumeConfig) (*Volume, error) {
	name := strings.ToUpper(strings.TrimSuffix(cfg.Name, `\`))
	if len(name) != 2 || name[1] != ':' || name[0] < 'A' || name[0] > 'Z' {
		return nil, fmt.Errorf("fsys: volume name %q is not a drive letter such as \"C:\"", cfg.Name)
	}
	ss := cfg.SectorSize
	if ss == 0 {
		ss = 512
	}
	if ss < 512 || ss > 65536 || ss&(ss-1) != 0 {
		return nil, fmt.Errorf("fsys: volume %s: sector size %d is not a power of two from 512 to 65536", name, cfg.SectorSize)
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
			err = v.TestAccess().MkdirAll(p)
		} else {
			err = v.TestAccess().WriteFileData(p, cfg.Files[p])
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
func (v *Volume) DeviceType() DeviceType {
	if v.kind == VolumeNetwork {
		return FILE_DEVICE_NETWORK_FILE_SYSTEM
	}
	return FILE_DEVICE_DISK_FILE_SYSTEM
}

func (v *Volume) String() string { return fmt.Sprintf("volume %s (%s)", v.name, v.device) }

// Deleted reports whether the stream's file (or the named stream itself) has been deleted.
func (s *Stream) Deleted() bool {
	s.vol.mu.Lock()
	defer s.vol.mu.Unlock()
	return s.deleted
}

// Name returns the stream's name, "" for the default data stream.
func (s *Stream) Name() string { return s.name }
