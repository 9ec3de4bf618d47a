package harness_test

import (
	"testing"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

const shareAll = fsys.FILE_SHARE_READ | fsys.FILE_SHARE_WRITE | fsys.FILE_SHARE_DELETE

func fileWorld(t *testing.T, files map[string][]byte) (*harness.World, *harness.Process) {
	t.Helper()
	w := harness.New(t)
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: files})
	return w, w.NewProcess("app.exe", kernel.TokenStandardUser())
}

// R-IO-USER-1: CreateFile's errors are the Win32 ones.
func TestFilesCreateFileErrors(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`dir\a.txt`: []byte("a"), `ro.txt`: []byte("r")})
	require.NoError(t, w.Volume("C:").TestAccess().SetAttributes(`ro.txt`, fsys.FILE_ATTRIBUTE_READONLY))
	for _, tc := range []struct {
		name   string
		path   string
		access kernel.AccessMask
		disp   uint32
		flags  uint32
		want   kernel.Win32Error
	}{
		{"missing file", `C:\dir\nope.txt`, kernel.GENERIC_READ, harness.OPEN_EXISTING, 0, kernel.ERROR_FILE_NOT_FOUND},
		{"missing directory", `C:\nodir\a.txt`, kernel.GENERIC_READ, harness.OPEN_EXISTING, 0, kernel.ERROR_PATH_NOT_FOUND},
		{"file used as directory", `C:\dir\a.txt\x`, kernel.GENERIC_READ, harness.OPEN_EXISTING, 0, kernel.ERROR_PATH_NOT_FOUND},
		{"unknown drive", `Q:\a.txt`, kernel.GENERIC_READ, harness.OPEN_EXISTING, 0, kernel.ERROR_PATH_NOT_FOUND},
		{"relative path", `a.txt`, kernel.GENERIC_READ, harness.OPEN_EXISTING, 0, kernel.ERROR_INVALID_NAME},
		{"bad character", `C:\a<b.txt`, kernel.GENERIC_READ, harness.CREATE_ALWAYS, 0, kernel.ERROR_INVALID_NAME},
		{"create new over existing", `C:\dir\a.txt`, kernel.GENERIC_WRITE, harness.CREATE_NEW, 0, kernel.ERROR_FILE_EXISTS},
		{"directory as file", `C:\dir`, kernel.GENERIC_READ, harness.OPEN_EXISTING, 0, kernel.ERROR_ACCESS_DENIED},
		{"read-only file for write", `C:\ro.txt`, kernel.GENERIC_WRITE, harness.OPEN_EXISTING, 0, kernel.ERROR_ACCESS_DENIED},
		{"truncate read-only", `C:\ro.txt`, kernel.GENERIC_WRITE, harness.TRUNCATE_EXISTING, 0, kernel.ERROR_ACCESS_DENIED},
		{"truncate without write", `C:\dir\a.txt`, kernel.GENERIC_READ, harness.TRUNCATE_EXISTING, 0, kernel.ERROR_INVALID_PARAMETER},
		{"bad disposition", `C:\dir\a.txt`, kernel.GENERIC_READ, 9, 0, kernel.ERROR_INVALID_PARAMETER},
	} {
		h, err := p.CreateFile(tc.path, tc.access, shareAll, nil, tc.disp, tc.flags)
		require.Equal(t, kernel.InvalidHandle, h, tc.name)
		require.Equal(t, tc.want, err, tc.name)
	}
	// A directory opens with FILE_FLAG_BACKUP_SEMANTICS.
	h, err := p.CreateFile(`C:\dir\`, kernel.GENERIC_READ, shareAll, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_BACKUP_SEMANTICS)
	require.NoError(t, err)
	buf := make([]byte, 1)
	_, err = p.ReadFile(h, buf)
	require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err, "a directory has no data")
	require.NoError(t, p.CloseHandle(h))
}

// R-IO-USER-1: dispositions create, open and truncate as Win32 documents.
func TestFilesDispositions(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`old.txt`: []byte("old content")})
	for _, tc := range []struct {
		path string
		disp uint32
		want string
	}{
		{`C:\new1.txt`, harness.CREATE_NEW, ""},
		{`C:\new2.txt`, harness.OPEN_ALWAYS, ""},
		{`C:\new3.txt`, harness.CREATE_ALWAYS, ""},
		{`C:\old.txt`, harness.OPEN_ALWAYS, "old content"},
		{`C:\old.txt`, harness.CREATE_ALWAYS, ""},
	} {
		h, err := p.CreateFile(tc.path, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, tc.disp, fsys.FILE_ATTRIBUTE_NORMAL)
		require.NoError(t, err, tc.path)
		require.NoError(t, p.CloseHandle(h))
		data, ok := w.FileData(tc.path)
		require.True(t, ok)
		require.Equal(t, tc.want, string(data), tc.path)
	}
	_, err := p.CreateFile(`C:\gone.txt`, kernel.GENERIC_WRITE, 0, nil, harness.TRUNCATE_EXISTING, 0)
	require.Equal(t, kernel.ERROR_FILE_NOT_FOUND, err)
}

// R-IO-USER-1: share access: a second open that conflicts is ERROR_SHARING_VIOLATION until the
// first handle closes; opens without data access do not conflict.
func TestFilesSharingViolation(t *testing.T) {
	_, p := fileWorld(t, map[string][]byte{`s.txt`: []byte("s")})
	h1, err := p.CreateFile(`C:\s.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = p.CreateFile(`C:\s.txt`, kernel.GENERIC_WRITE, shareAll, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_SHARING_VIOLATION, err, "write while only reading is shared")
	_, err = p.CreateFile(`C:\s.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_SHARING_VIOLATION, err, "the new open does not share reading with the first")
	h2, err := p.CreateFile(`C:\s.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	h3, err := p.CreateFile(`C:\s.txt`, kernel.FILE_READ_ATTRIBUTES, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err, "attribute-only opens do not take part in sharing")
	require.Equal(t, kernel.ERROR_SHARING_VIOLATION, p.DeleteFile(`C:\s.txt`))
	for _, h := range []kernel.Handle{h1, h2, h3} {
		require.NoError(t, p.CloseHandle(h))
	}
	h4, err := p.CreateFile(`C:\s.txt`, kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h4))
}

// R-IO-USER-2: reads and writes at the file pointer and at offsets; a read-only handle cannot
// write (ERROR_ACCESS_DENIED, the filters never see the write); the end of file reads as 0
// bytes at the pointer and ERROR_HANDLE_EOF at an offset.
func TestFilesReadWrite(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`f.txt`: []byte("0123456789")})
	var writes int
	require.NoError(t, w.Load("count", writeCounter(&writes)))
	ro, err := p.CreateFile(`C:\f.txt`, kernel.GENERIC_READ, shareAll, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = p.WriteFile(ro, []byte("x"))
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	require.Equal(t, 0, writes)

	buf := make([]byte, 4)
	n, err := p.ReadFile(ro, buf)
	require.NoError(t, err)
	require.Equal(t, "0123", string(buf[:n]))
	n, err = p.ReadFile(ro, buf)
	require.NoError(t, err)
	require.Equal(t, "4567", string(buf[:n]))
	n, err = p.ReadFileAt(ro, buf, 8)
	require.NoError(t, err)
	require.Equal(t, "89", string(buf[:n]))
	n, err = p.ReadFile(ro, buf)
	require.NoError(t, err)
	require.Equal(t, uint32(0), n, "at the end of file a synchronous read returns 0 bytes")
	_, err = p.ReadFileAt(ro, buf, 100)
	require.Equal(t, kernel.ERROR_HANDLE_EOF, err)

	wr, err := p.CreateFile(`C:\f.txt`, kernel.GENERIC_WRITE, shareAll, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = p.ReadFile(wr, buf)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err, "a write-only handle cannot read")
	pos, err := p.SetFilePointerEx(wr, -2, harness.FILE_END)
	require.NoError(t, err)
	require.Equal(t, int64(8), pos)
	_, err = p.WriteFile(wr, []byte("ABCD"))
	require.NoError(t, err)
	_, err = p.WriteFileAt(wr, []byte("z"), 14)
	require.NoError(t, err)
	_, err = p.SetFilePointerEx(wr, -100, harness.FILE_CURRENT)
	require.Equal(t, kernel.ERROR_NEGATIVE_SEEK, err)
	require.Equal(t, 2, writes)
	data, _ := w.FileData(`C:\f.txt`)
	require.Equal(t, "01234567ABCD\x00\x00z", string(data))

	// An append-only handle writes at the end.
	ap, err := p.CreateFile(`C:\f.txt`, kernel.FILE_APPEND_DATA, shareAll, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = p.WriteFileAt(ap, []byte("!"), 0)
	require.NoError(t, err)
	data, _ = w.FileData(`C:\f.txt`)
	require.Equal(t, "01234567ABCD\x00\x00z!", string(data))
	for _, h := range []kernel.Handle{ro, wr, ap} {
		require.NoError(t, p.CloseHandle(h))
	}
	_, err = p.ReadFile(ro, buf)
	require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
}

// writeCounter is a filter that counts the writes it sees.
func writeCounter(n *int) driverapi.Driver {
	var fm driverapi.FilterManager
	var f driverapi.Filter
	return driverapi.DriverFunc(func(obj *driverapi.DriverObject, m driverapi.FilterManager, _ string) kernel.NTSTATUS {
		fm = m
		var st kernel.NTSTATUS
		f, st = fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, Altitude: "300000",
			FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
				fm.UnregisterFilter(f)
				return kernel.STATUS_SUCCESS
			},
			OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_WRITE,
				PreOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
					*n++
					return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
				}}}})
		if st != kernel.STATUS_SUCCESS {
			return st
		}
		return fm.StartFiltering(f)
	})
}

// R-IO-USER-2: a FILE_FLAG_NO_BUFFERING handle needs sector-aligned offsets and lengths; an
// overlapped handle has no file pointer.
func TestFilesNonCachedAndOverlapped(t *testing.T) {
	w := harness.New(t)
	w.MustAddVolume(fsys.VolumeConfig{Name: "D:", SectorSize: 4096, Files: map[string][]byte{`n.bin`: make([]byte, 8192)}})
	p := w.NewProcess("db.exe", kernel.TokenStandardUser())
	h, err := p.CreateFile(`D:\n.bin`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_NO_BUFFERING)
	require.NoError(t, err)
	_, err = p.WriteFileAt(h, make([]byte, 512), 0)
	require.Equal(t, kernel.ERROR_INVALID_PARAMETER, err, "512 is not a multiple of the 4096-byte sector")
	n, err := p.WriteFileAt(h, make([]byte, 4096), 4096)
	require.NoError(t, err)
	require.Equal(t, uint32(4096), n)
	require.NoError(t, p.CloseHandle(h))

	h, err = p.CreateFile(`D:\n.bin`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_OVERLAPPED)
	require.NoError(t, err)
	_, err = p.ReadFile(h, make([]byte, 4))
	require.Equal(t, kernel.ERROR_INVALID_PARAMETER, err)
	n, err = p.ReadFileAt(h, make([]byte, 4), 4)
	require.NoError(t, err)
	require.Equal(t, uint32(4), n)
	require.NoError(t, p.CloseHandle(h))
}

// R-IO-USER-3: SetEndOfFile and GetFileSizeEx; the class's structure and the handle's access
// are checked by SetFileInformationByHandle.
func TestFilesEndOfFile(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`e.txt`: []byte("123456")})
	h := mustOpen(t, p, `C:\e.txt`, kernel.GENERIC_READ|kernel.GENERIC_WRITE)
	_, err := p.SetFilePointerEx(h, 3, harness.FILE_BEGIN)
	require.NoError(t, err)
	require.NoError(t, p.SetEndOfFile(h))
	size, err := p.GetFileSizeEx(h)
	require.NoError(t, err)
	require.Equal(t, int64(3), size)
	require.NoError(t, p.SetFileInformationByHandle(h, harness.FileEndOfFileInfo, &fsys.FILE_END_OF_FILE_INFORMATION{EndOfFile: 5}))
	data, _ := w.FileData(`C:\e.txt`)
	require.Equal(t, "123\x00\x00", string(data))
	require.NoError(t, p.SetFileInformationByHandle(h, harness.FileAllocationInfo, &fsys.FILE_ALLOCATION_INFORMATION{AllocationSize: 1}))
	data, _ = w.FileData(`C:\e.txt`)
	require.Equal(t, "1", string(data), "an allocation below the end of file truncates")
	require.Equal(t, kernel.ERROR_INVALID_PARAMETER, p.SetFileInformationByHandle(h, harness.FileEndOfFileInfo, &fsys.FILE_DISPOSITION_INFORMATION{}))
	require.Equal(t, kernel.ERROR_INVALID_PARAMETER, p.SetFileInformationByHandle(h, 42, &fsys.FILE_END_OF_FILE_INFORMATION{}))
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, p.SetFileInformationByHandle(h, harness.FileDispositionInfo, &fsys.FILE_DISPOSITION_INFORMATION{DeleteFile: true}),
		"no DELETE access")
	require.NoError(t, p.CloseHandle(h))
	ro := mustOpen(t, p, `C:\e.txt`, kernel.GENERIC_READ)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, p.SetEndOfFile(ro))
	require.NoError(t, p.CloseHandle(ro))
}

func mustOpen(t *testing.T, p *harness.Process, path string, access kernel.AccessMask) kernel.Handle {
	t.Helper()
	h, err := p.CreateFile(path, access, shareAll, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	return h
}

// R-IO-USER-3: rename with MoveFile / MoveFileEx / SetFileInformationByHandle.
func TestFilesRename(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`a.txt`: []byte("a"), `b.txt`: []byte("b"), `sub\`: nil, `busy.txt`: nil})
	w.MustAddVolume(fsys.VolumeConfig{Name: "D:"})
	require.NoError(t, p.MoveFile(`C:\a.txt`, `C:\sub\a2.txt`))
	data, ok := w.FileData(`C:\sub\a2.txt`)
	require.True(t, ok)
	require.Equal(t, "a", string(data))
	require.False(t, w.Volume("C:").TestAccess().Exists(`a.txt`))

	require.Equal(t, kernel.ERROR_ALREADY_EXISTS, p.MoveFile(`C:\b.txt`, `C:\sub\a2.txt`))
	require.NoError(t, p.MoveFileEx(`C:\b.txt`, `C:\sub\a2.txt`, harness.MOVEFILE_REPLACE_EXISTING))
	data, _ = w.FileData(`C:\sub\a2.txt`)
	require.Equal(t, "b", string(data))
	require.Equal(t, kernel.ERROR_NOT_SAME_DEVICE, p.MoveFile(`C:\sub\a2.txt`, `D:\x.txt`))
	require.Equal(t, kernel.ERROR_FILE_NOT_FOUND, p.MoveFile(`C:\nope.txt`, `C:\x.txt`))
	require.Equal(t, kernel.ERROR_PATH_NOT_FOUND, p.MoveFile(`C:\sub\a2.txt`, `C:\nodir\x.txt`))

	// A target that is open cannot be replaced.
	busy := mustOpen(t, p, `C:\busy.txt`, kernel.GENERIC_READ)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, p.MoveFileEx(`C:\sub\a2.txt`, `C:\busy.txt`, harness.MOVEFILE_REPLACE_EXISTING))
	// A directory with an open file below cannot be renamed.
	inner := mustOpen(t, p, `C:\sub\a2.txt`, kernel.GENERIC_READ)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, p.MoveFile(`C:\sub`, `C:\sub2`))
	require.NoError(t, p.CloseHandle(inner))
	require.NoError(t, p.MoveFile(`C:\sub`, `C:\sub2`))
	require.NoError(t, p.CloseHandle(busy))

	// By handle, with a simple name.
	h := mustOpen(t, p, `C:\sub2\a2.txt`, kernel.DELETE)
	require.NoError(t, p.SetFileInformationByHandle(h, harness.FileRenameInfo, &fsys.FILE_RENAME_INFORMATION{FileName: "c.txt"}))
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{`\busy.txt`, `\sub2\`, `\sub2\c.txt`}, w.Volume("C:").TestAccess().Paths())
}

// R-IO-USER-3: deletes take effect when the last handle closes; a directory must be empty;
// read-only files cannot be deleted; FILE_FLAG_DELETE_ON_CLOSE deletes at close.
func TestFilesDelete(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`d.txt`: []byte("d"), `dir\inner.txt`: nil, `ro.txt`: nil, `empty\`: nil})
	vol := w.Volume("C:")
	require.NoError(t, vol.TestAccess().SetAttributes(`ro.txt`, fsys.FILE_ATTRIBUTE_READONLY))

	h := mustOpen(t, p, `C:\d.txt`, kernel.GENERIC_READ)
	require.NoError(t, p.DeleteFile(`C:\d.txt`))
	require.True(t, vol.TestAccess().Exists(`d.txt`), "still open")
	_, err := p.CreateFile(`C:\d.txt`, kernel.GENERIC_READ, shareAll, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err, "STATUS_DELETE_PENDING")
	require.NoError(t, p.CloseHandle(h))
	require.False(t, vol.TestAccess().Exists(`d.txt`))
	require.Equal(t, kernel.ERROR_FILE_NOT_FOUND, p.DeleteFile(`C:\d.txt`))

	require.Equal(t, kernel.ERROR_ACCESS_DENIED, p.DeleteFile(`C:\dir`), "DeleteFile on a directory")
	require.Equal(t, kernel.ERROR_DIR_NOT_EMPTY, p.RemoveDirectory(`C:\dir`))
	require.Equal(t, kernel.ERROR_DIRECTORY, p.RemoveDirectory(`C:\dir\inner.txt`))
	require.NoError(t, p.RemoveDirectory(`C:\empty`))
	require.False(t, vol.TestAccess().Exists(`empty`))
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, p.DeleteFile(`C:\ro.txt`))

	h, err = p.CreateFile(`C:\tmp.txt`, kernel.GENERIC_WRITE, 0, nil, harness.CREATE_NEW, harness.FILE_FLAG_DELETE_ON_CLOSE)
	require.NoError(t, err)
	require.True(t, vol.TestAccess().Exists(`tmp.txt`))
	require.NoError(t, p.CloseHandle(h))
	require.False(t, vol.TestAccess().Exists(`tmp.txt`))

	require.NoError(t, p.CreateDirectory(`C:\newdir`, nil))
	require.Equal(t, kernel.ERROR_ALREADY_EXISTS, p.CreateDirectory(`C:\newdir`, nil))
	require.Equal(t, kernel.ERROR_PATH_NOT_FOUND, p.CreateDirectory(`C:\x\y`, nil))
	require.True(t, vol.TestAccess().IsDirectory(`newdir`))
}

// R-IO-USER-4: DeviceIoControl sends FSCTLs to the file system and checks the access bits of
// the code against the handle first; unknown codes are ERROR_INVALID_FUNCTION.
func TestFilesDeviceIoControl(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`z.bin`: []byte("abcdefgh")})
	ro := mustOpen(t, p, `C:\z.bin`, kernel.GENERIC_READ)
	_, err := p.DeviceIoControl(ro, fsys.FSCTL_SET_ZERO_DATA, harness.ZeroDataInformation(2, 5), nil)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	rw := mustOpen(t, p, `C:\z.bin`, kernel.GENERIC_READ|kernel.GENERIC_WRITE)
	_, err = p.DeviceIoControl(rw, fsys.FSCTL_SET_ZERO_DATA, harness.ZeroDataInformation(2, 5), nil)
	require.NoError(t, err)
	data, _ := w.FileData(`C:\z.bin`)
	require.Equal(t, "ab\x00\x00\x00fgh", string(data))
	_, err = p.DeviceIoControl(rw, fsys.FSCTL_OFFLOAD_WRITE, nil, nil)
	require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err)
	_, err = p.DeviceIoControl(rw, fsys.CTL_CODE(0x22, 1, fsys.METHOD_BUFFERED, fsys.FILE_ANY_ACCESS), nil, nil)
	require.Equal(t, kernel.ERROR_INVALID_FUNCTION, err)
	require.NoError(t, p.CloseHandle(ro))
	require.NoError(t, p.CloseHandle(rw))
}

// R-USER (handles): a duplicated file handle keeps the file open; cleanup comes with the last
// handle, in whichever process; process exit closes file handles.
func TestFilesHandlesAcrossProcesses(t *testing.T) {
	w, p := fileWorld(t, map[string][]byte{`h.txt`: nil})
	vol := w.Volume("C:")
	h, err := p.CreateFile(`C:\h.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_DELETE_ON_CLOSE)
	require.NoError(t, err)
	other := w.NewProcess("other.exe", kernel.TokenStandardUser())
	dup, err := p.DuplicateHandle(h, other, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	require.True(t, vol.TestAccess().Exists(`h.txt`), "the duplicate keeps it open")
	other.Exit(0)
	require.False(t, vol.TestAccess().Exists(`h.txt`))
	require.Equal(t, 0, vol.TestAccess().OpenFileObjects())
	_, err = p.FileObject(dup)
	require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)
}

// R-IO-VOL-1: volumes are seeded from a map or a directory of the host; the data is readable
// afterwards; a drive letter is mounted once.
func TestFilesVolumeSeeding(t *testing.T) {
	w := harness.New(t)
	v, err := w.AddVolumeFromDir(fsys.VolumeConfig{Name: "E:", Files: map[string][]byte{`extra.txt`: []byte("x")}}, "../testdata/volumes/sample")
	require.NoError(t, err)
	data, ok := w.FileData(`E:\docs\report.txt`)
	require.True(t, ok)
	require.Equal(t, "quarterly numbers\n", string(data))
	require.True(t, v.TestAccess().IsDirectory(`empty`))
	require.True(t, v.TestAccess().Exists(`extra.txt`))
	require.Equal(t, `\Device\HarddiskVolume1`, v.DeviceName())
	_, err = w.AddVolume(fsys.VolumeConfig{Name: "e:"})
	require.Error(t, err)
	_, err = w.AddVolume(fsys.VolumeConfig{Name: "F:", SectorSize: 1000})
	require.Error(t, err)
	_, err = w.AddVolume(fsys.VolumeConfig{Name: "bad"})
	require.Error(t, err)
	require.Equal(t, v, w.Volume(`\Device\HarddiskVolume1`))
	_, ok = w.FileData(`Q:\x`)
	require.False(t, ok)
}
