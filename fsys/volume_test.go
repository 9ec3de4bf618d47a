package fsys_test

import (
	"testing"
	"testing/fstest"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func newVol(t *testing.T, files map[string][]byte) *fsys.Volume {
	t.Helper()
	v, err := fsys.NewVolume(fsys.VolumeConfig{Name: "c:", Files: files})
	require.NoError(t, err)
	return v
}

// open runs a create on the file system directly, as the bottom of the stack.
func open(v *fsys.Volume, name string, access kernel.AccessMask, share, disp, opts uint32) (*fsys.FileObject, uint64, kernel.NTSTATUS) {
	fo := v.NewFileObject(name, opts|fsys.FILE_SYNCHRONOUS_IO_NONALERT)
	info, st := v.Create(fo, fsys.CreateRequest{DesiredAccess: access, ShareAccess: share, Disposition: disp, Options: opts | fsys.FILE_SYNCHRONOUS_IO_NONALERT}, nil)
	return fo, info, st
}

func closeFO(t *testing.T, v *fsys.Volume, fo *fsys.FileObject) bool {
	t.Helper()
	require.Equal(t, kernel.STATUS_SUCCESS, v.Cleanup(fo))
	last, st := v.Close(fo)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	return last
}

// R-IO-VOL-1: a volume's configuration and seeding.
func TestVolumeConfig(t *testing.T) {
	v := newVol(t, map[string][]byte{`/a/b.txt`: []byte("b"), `d/`: nil, `x.txt:ads`: []byte("s")})
	require.Equal(t, "C:", v.Name())
	require.Equal(t, uint32(512), v.SectorSize())
	require.Equal(t, "NTFS", v.FileSystem())
	require.Equal(t, fsys.FILE_DEVICE_DISK_FILE_SYSTEM, v.DeviceType())
	require.Equal(t, "", v.Share())
	require.Equal(t, []string{`\a\`, `\a\b.txt`, `\d\`, `\x.txt`, `\x.txt:ads`}, v.TestAccess().Paths())
	n, err := fsys.NewVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork})
	require.NoError(t, err)
	require.Equal(t, `\server\z`, n.Share())
	require.Equal(t, `\Device\Mup`, n.DeviceName())
	require.Equal(t, fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM, n.DeviceType())
	for _, bad := range []fsys.VolumeConfig{{Name: "CC:"}, {Name: "1:"}, {Name: "C:", SectorSize: 100}, {Name: "C:", SectorSize: 3000},
		{Name: "C:", Files: map[string][]byte{`a<b`: nil}}, {Name: "C:", Files: map[string][]byte{`f`: nil, `f\g`: nil}}} {
		_, err := fsys.NewVolume(bad)
		require.Error(t, err, "%+v", bad)
	}
	fsys := fstest.MapFS{"root/x/y.txt": {Data: []byte("y")}, "root/z.bin": {Data: []byte{1}}}
	s := newVol(t, nil)
	require.NoError(t, s.TestAccess().SeedFS(fsys, "root"))
	require.Equal(t, []string{`\x\`, `\x\y.txt`, `\z.bin`}, s.TestAccess().Paths())
}

// The FSCTL codes are CTL_CODE's.
func TestVolumeFsctlCodes(t *testing.T) {
	require.Equal(t, fsys.FSCTL_SET_ZERO_DATA, fsys.CTL_CODE(fsys.FILE_DEVICE_FILE_SYSTEM, 50, fsys.METHOD_BUFFERED, fsys.FILE_WRITE_ACCESS))
	require.Equal(t, fsys.FSCTL_OFFLOAD_WRITE, fsys.CTL_CODE(fsys.FILE_DEVICE_FILE_SYSTEM, 154, fsys.METHOD_BUFFERED, fsys.FILE_WRITE_ACCESS))
	require.Equal(t, fsys.FSCTL_WRITE_RAW_ENCRYPTED, fsys.CTL_CODE(fsys.FILE_DEVICE_FILE_SYSTEM, 55, fsys.METHOD_NEITHER, fsys.FILE_SPECIAL_ACCESS))
}

// R-IO-CREATE-1..4: the create dispositions, option checks and results.
func TestVolumeCreate(t *testing.T) {
	v := newVol(t, map[string][]byte{`dir\f.txt`: []byte("data")})
	all := fsys.FILE_SHARE_READ | fsys.FILE_SHARE_WRITE | fsys.FILE_SHARE_DELETE
	for _, tc := range []struct {
		name string
		disp uint32
		opts uint32
		st   kernel.NTSTATUS
		info uint64
	}{
		{`\dir\f.txt`, fsys.FILE_OPEN, 0, kernel.STATUS_SUCCESS, fsys.FILE_OPENED},
		{`\DIR\F.TXT`, fsys.FILE_OPEN, fsys.FILE_NON_DIRECTORY_FILE, kernel.STATUS_SUCCESS, fsys.FILE_OPENED},
		{`\dir\f.txt`, fsys.FILE_CREATE, 0, kernel.STATUS_OBJECT_NAME_COLLISION, 0},
		{`\dir\g.txt`, fsys.FILE_OPEN, 0, kernel.STATUS_OBJECT_NAME_NOT_FOUND, 0},
		{`\nodir\g.txt`, fsys.FILE_OPEN_IF, 0, kernel.STATUS_OBJECT_PATH_NOT_FOUND, 0},
		{`\dir\f.txt\g`, fsys.FILE_OPEN, 0, kernel.STATUS_OBJECT_PATH_NOT_FOUND, 0},
		{`\dir`, fsys.FILE_OPEN, fsys.FILE_NON_DIRECTORY_FILE, kernel.STATUS_FILE_IS_A_DIRECTORY, 0},
		{`\dir\f.txt`, fsys.FILE_OPEN, fsys.FILE_DIRECTORY_FILE, kernel.STATUS_NOT_A_DIRECTORY, 0},
		{`\dir`, fsys.FILE_OVERWRITE_IF, 0, kernel.STATUS_FILE_IS_A_DIRECTORY, 0},
		{`\dir`, fsys.FILE_OPEN, fsys.FILE_DIRECTORY_FILE | fsys.FILE_NON_DIRECTORY_FILE, kernel.STATUS_INVALID_PARAMETER, 0},
		{`\dir\f.txt`, 6, 0, kernel.STATUS_INVALID_PARAMETER, 0},
		{`dir`, fsys.FILE_OPEN, 0, kernel.STATUS_OBJECT_NAME_INVALID, 0},
		{`\dir\a|b`, fsys.FILE_CREATE, 0, kernel.STATUS_OBJECT_NAME_INVALID, 0},
		{`\dir\f.txt:s:$BAD`, fsys.FILE_OPEN_IF, 0, kernel.STATUS_OBJECT_NAME_INVALID, 0},
		{`\dir:s`, fsys.FILE_OPEN_IF, 0, kernel.STATUS_OBJECT_NAME_INVALID, 0},
		{`\dir\new`, fsys.FILE_CREATE, fsys.FILE_DIRECTORY_FILE, kernel.STATUS_SUCCESS, fsys.FILE_CREATED},
		{`\dir\f.txt:s1`, fsys.FILE_OPEN_IF, 0, kernel.STATUS_SUCCESS, fsys.FILE_CREATED},
		{`\dir\f.txt::$DATA`, fsys.FILE_OVERWRITE, 0, kernel.STATUS_SUCCESS, fsys.FILE_OVERWRITTEN},
		{`\dir\h.txt`, fsys.FILE_SUPERSEDE, 0, kernel.STATUS_SUCCESS, fsys.FILE_CREATED},
		{`\dir\h.txt`, fsys.FILE_SUPERSEDE, 0, kernel.STATUS_SUCCESS, fsys.FILE_SUPERSEDED},
		{`\`, fsys.FILE_OPEN, fsys.FILE_DIRECTORY_FILE, kernel.STATUS_SUCCESS, fsys.FILE_OPENED},
	} {
		fo, info, st := open(v, tc.name, kernel.FILE_GENERIC_READ|kernel.FILE_GENERIC_WRITE, all, tc.disp, tc.opts)
		require.Equal(t, tc.st, st, "%s", tc.name)
		require.Equal(t, tc.info, info, "%s", tc.name)
		if st == kernel.STATUS_SUCCESS {
			closeFO(t, v, fo)
		}
	}
	data, _ := v.TestAccess().FileData(`dir\f.txt`)
	require.Empty(t, data, "overwritten")
	require.False(t, v.TestAccess().Exists(`dir\f.txt:s1`), "overwriting the default stream drops named streams nobody has open")
}

// R-IO-CREATE-3: share access follows IoCheckShareAccess and is released at cleanup.
func TestVolumeShareAccess(t *testing.T) {
	v := newVol(t, map[string][]byte{`s`: nil})
	read, write, del := kernel.FILE_READ_DATA, kernel.FILE_WRITE_DATA, kernel.DELETE
	type openReq struct {
		access kernel.AccessMask
		share  uint32
	}
	for i, tc := range []struct {
		first, second openReq
		st            kernel.NTSTATUS
	}{
		{openReq{read, fsys.FILE_SHARE_READ}, openReq{read, fsys.FILE_SHARE_READ}, kernel.STATUS_SUCCESS},
		{openReq{read, fsys.FILE_SHARE_READ}, openReq{write, fsys.FILE_SHARE_READ}, kernel.STATUS_SHARING_VIOLATION},
		{openReq{read, fsys.FILE_SHARE_READ | fsys.FILE_SHARE_WRITE}, openReq{write, fsys.FILE_SHARE_READ}, kernel.STATUS_SUCCESS},
		{openReq{write, fsys.FILE_SHARE_WRITE}, openReq{write, fsys.FILE_SHARE_READ}, kernel.STATUS_SHARING_VIOLATION},
		{openReq{read, fsys.FILE_SHARE_READ}, openReq{del, fsys.FILE_SHARE_READ}, kernel.STATUS_SHARING_VIOLATION},
		{openReq{read, fsys.FILE_SHARE_READ | fsys.FILE_SHARE_DELETE}, openReq{del, fsys.FILE_SHARE_READ}, kernel.STATUS_SUCCESS},
		{openReq{kernel.FILE_READ_ATTRIBUTES, 0}, openReq{write, 0}, kernel.STATUS_SUCCESS},
		{openReq{write, 0}, openReq{kernel.FILE_READ_ATTRIBUTES, 0}, kernel.STATUS_SUCCESS},
	} {
		a, _, st := open(v, `\s`, tc.first.access, tc.first.share, fsys.FILE_OPEN, 0)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		b, _, st := open(v, `\s`, tc.second.access, tc.second.share, fsys.FILE_OPEN, 0)
		require.Equal(t, tc.st, st, "case %d", i)
		if st == kernel.STATUS_SUCCESS {
			closeFO(t, v, b)
		}
		closeFO(t, v, a)
		// Released: the second open alone always works now.
		b, _, st = open(v, `\s`, tc.second.access, tc.second.share, fsys.FILE_OPEN, 0)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		closeFO(t, v, b)
	}
}

// R-IO-RW-1..3: reads and writes, positions, non-cached alignment, paging writes that never
// extend the file.
func TestVolumeReadWrite(t *testing.T) {
	v := newVol(t, map[string][]byte{`f`: []byte("0123456789")})
	fo, _, st := open(v, `\f`, kernel.FILE_READ_DATA|kernel.FILE_WRITE_DATA, 0, fsys.FILE_OPEN, 0)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	buf := make([]byte, 4)
	n, st := v.Read(fo, buf, fsys.IORequest{Offset: fsys.FILE_USE_FILE_POINTER_POSITION})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, "0123", string(buf[:n]))
	require.Equal(t, int64(4), fo.CurrentByteOffset())
	_, st = v.Read(fo, buf, fsys.IORequest{Offset: 2, KeepPosition: true})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, int64(4), fo.CurrentByteOffset())
	_, st = v.Read(fo, buf, fsys.IORequest{Offset: 10})
	require.Equal(t, kernel.STATUS_END_OF_FILE, st)
	_, st = v.Read(fo, make([]byte, 512), fsys.IORequest{Offset: 1, NonCached: true})
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	n, st = v.Read(fo, make([]byte, 512), fsys.IORequest{Offset: 0, NonCached: true})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, uint32(10), n)

	n, st = v.Write(fo, []byte("abcdef"), fsys.IORequest{Offset: 8, Paging: true})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, uint32(2), n, "a paging write is cut at the end of file")
	n, st = v.Write(fo, []byte("x"), fsys.IORequest{Offset: 20, Paging: true})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, uint32(0), n)
	_, st = v.Write(fo, []byte("!"), fsys.IORequest{Offset: fsys.FILE_WRITE_TO_END_OF_FILE})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, st = v.Write(fo, []byte("?"), fsys.IORequest{Offset: 13})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, int64(14), fo.CurrentByteOffset())
	data, _ := v.TestAccess().FileData(`f`)
	require.Equal(t, "01234567ab!\x00\x00?", string(data))
	require.NotZero(t, fo.Flags()&fsys.FO_FILE_SIZE_CHANGED)

	require.Equal(t, kernel.STATUS_SUCCESS, v.Cleanup(fo))
	_, st = v.Read(fo, buf, fsys.IORequest{Offset: 0})
	require.Equal(t, kernel.STATUS_FILE_CLOSED, st, "after cleanup only paging I/O goes on")
	_, st = v.Read(fo, buf, fsys.IORequest{Offset: 0, Paging: true})
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	last, st := v.Close(fo)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.True(t, last)
	_, st = v.Close(fo)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
}

// R-IO-CREATE-4: delete pending, delete on close, named streams, rename edge cases, and
// access checks with a security descriptor.
func TestVolumeDeleteRenameSecurity(t *testing.T) {
	v := newVol(t, map[string][]byte{`a\b\c.txt`: nil, `f.txt`: nil, `f.txt:s`: []byte("s")})
	// Deleting a named stream leaves the file.
	s, _, _ := open(v, `\f.txt:s`, kernel.DELETE, fsys.FILE_SHARE_DELETE, fsys.FILE_OPEN, 0)
	require.Equal(t, kernel.STATUS_SUCCESS, v.SetInformation(s, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true}))
	closeFO(t, v, s)
	require.True(t, v.TestAccess().Exists(`f.txt`))
	require.False(t, v.TestAccess().Exists(`f.txt:s`))

	// A directory cannot move into itself.
	a, _, _ := open(v, `\a`, kernel.DELETE, 0, fsys.FILE_OPEN, fsys.FILE_DIRECTORY_FILE)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, v.SetInformation(a, fsys.FileRenameInformation, &fsys.FILE_RENAME_INFORMATION{FileName: `\a\b\a`}))
	require.Equal(t, kernel.STATUS_DIRECTORY_NOT_EMPTY, v.SetInformation(a, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true}))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, v.SetInformation(a, fsys.FileRenameInformation, &fsys.FILE_DISPOSITION_INFORMATION{}))
	require.Equal(t, kernel.STATUS_SUCCESS, v.SetInformation(a, fsys.FileRenameInformation, &fsys.FILE_RENAME_INFORMATION{FileName: "A2"}))
	require.True(t, v.TestAccess().Exists(`a2\b\c.txt`))
	p, st := a.Path()
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, `\A2`, p)
	require.Equal(t, `\a`, a.FileName, "the file object keeps the name it was opened by")
	closeFO(t, v, a)

	// The root cannot be deleted.
	root, _, _ := open(v, `\`, kernel.DELETE, fsys.FILE_SHARE_DELETE|fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE, fsys.FILE_OPEN, 0)
	require.Equal(t, kernel.STATUS_CANNOT_DELETE, v.SetInformation(root, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true}))
	closeFO(t, v, root)

	// A delete can be undone before the last handle closes.
	f, _, _ := open(v, `\f.txt`, kernel.DELETE, 0, fsys.FILE_OPEN, 0)
	require.Equal(t, kernel.STATUS_SUCCESS, v.SetInformation(f, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true}))
	info, _ := v.QueryInformation(f, fsys.FileStandardInformation)
	require.True(t, info.(*fsys.FILE_STANDARD_INFORMATION).DeletePending)
	require.Equal(t, kernel.STATUS_SUCCESS, v.SetInformation(f, fsys.FileDispositionInformation, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: false}))
	closeFO(t, v, f)
	require.True(t, v.TestAccess().Exists(`f.txt`))

	// FILE_DELETE_ON_CLOSE needs DELETE access.
	_, _, st = open(v, `\f.txt`, kernel.FILE_READ_DATA, 0, fsys.FILE_OPEN, fsys.FILE_DELETE_ON_CLOSE)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)

	// A descriptor protects a file: a user without the right is denied, a kernel open is not.
	sd, err := kernel.ParseSDDL("D:P(A;;FR;;;WD)")
	require.NoError(t, err)
	require.NoError(t, v.TestAccess().SetSecurity(`f.txt`, sd))
	fo := v.NewFileObject(`\f.txt`, 0)
	_, st = v.Create(fo, fsys.CreateRequest{DesiredAccess: kernel.GENERIC_WRITE, Disposition: fsys.FILE_OPEN}, kernel.TokenStandardUser())
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)
	fo = v.NewFileObject(`\f.txt`, 0)
	_, st = v.Create(fo, fsys.CreateRequest{DesiredAccess: kernel.MAXIMUM_ALLOWED, Disposition: fsys.FILE_OPEN}, kernel.TokenStandardUser())
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.True(t, fo.ReadAccess)
	require.False(t, fo.WriteAccess)
	closeFO(t, v, fo)
	fo = v.NewFileObject(`\f.txt`, 0)
	_, st = v.Create(fo, fsys.CreateRequest{DesiredAccess: kernel.GENERIC_WRITE, Disposition: fsys.FILE_OPEN}, nil)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	closeFO(t, v, fo)
}
