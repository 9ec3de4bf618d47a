package fltmgr_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// R-IO-NAME-1, R-IO-NAME-2: normalized and opened names, parsed into volume, parent
// directory, final component, extension and stream; the normalized name has the stored case
// and follows a rename; in a pre-create it is the name being opened.
func TestIOFileNameInformation(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`Docs\Report.TXT`: []byte("r")})
	var r recorder
	d := &ioDriver{}
	name := func(data *driverapi.CallbackData, opts uint32) string {
		info, st := d.FM.GetFileNameInformation(data, opts|driverapi.FLT_FILE_NAME_QUERY_DEFAULT)
		if st != kernel.STATUS_SUCCESS {
			return hexst(st)
		}
		defer d.FM.ReleaseFileNameInformation(info)
		require.Equal(nil, kernel.STATUS_SUCCESS, d.FM.ParseFileNameInformation(info))
		return fmt.Sprintf("%s|vol=%s|parent=%s|final=%s|ext=%s|stream=%s", info.Name, info.Volume, info.ParentDir,
			info.FinalComponent, info.Extension, info.Stream)
	}
	d.Reg = driverapi.Registration{Altitude: "300000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE,
			PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				r.add("pre  %s", name(data, driverapi.FLT_FILE_NAME_NORMALIZED))
				return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
			},
			PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				if data.IoStatus.Status.IsSuccess() {
					r.add("post %s", name(data, driverapi.FLT_FILE_NAME_NORMALIZED))
					r.add("open %s", name(data, driverapi.FLT_FILE_NAME_OPENED))
				}
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}},
		{MajorFunction: driverapi.IRP_MJ_CLEANUP,
			PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				r.add("cleanup %s", name(data, driverapi.FLT_FILE_NAME_NORMALIZED))
				r.add("short %s", name(data, driverapi.FLT_FILE_NAME_SHORT))
				return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
			}},
		{MajorFunction: driverapi.IRP_MJ_CLOSE,
			PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				r.add("close %s", name(data, driverapi.FLT_FILE_NAME_NORMALIZED))
				return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
			}},
	}}
	mustLoad(t, w, "names", d)
	h, err := p.CreateFile(`C:\docs\.\REPORT.txt:s1:$DATA`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_ALWAYS, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	const vol = `\Device\HarddiskVolume1`
	require.Equal(t, []string{
		`pre  ` + vol + `\Docs\Report.TXT:s1|vol=` + vol + `|parent=\Docs\|final=Report.TXT:s1|ext=TXT|stream=:s1`,
		`post ` + vol + `\Docs\Report.TXT:s1|vol=` + vol + `|parent=\Docs\|final=Report.TXT:s1|ext=TXT|stream=:s1`,
		`open ` + vol + `\docs\REPORT.txt:s1:$DATA|vol=` + vol + `|parent=\docs\|final=REPORT.txt:s1:$DATA|ext=txt|stream=:s1:$DATA`,
		`cleanup ` + vol + `\Docs\Report.TXT:s1|vol=` + vol + `|parent=\Docs\|final=Report.TXT:s1|ext=TXT|stream=:s1`,
		`short 0xC00000BB`, // STATUS_NOT_SUPPORTED
		`close 0xC01C0005`, // STATUS_FLT_INVALID_NAME_REQUEST
	}, r.take())
	require.True(t, w.Volume("C:").TestAccess().Exists(`Docs\Report.TXT:s1`), "OPEN_ALWAYS created the stream")
}

// R-IO-NAME-1: the normalized name follows a rename; names on a network volume carry the
// share; a leaked name information is reported (R-IO-VERIFY-9).
func TestIOFileNameAfterRenameAndOnNetwork(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`old.txt`: []byte("x"), `dir\`: nil})
	w.MustAddVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork, Share: `\srv\pub`, Files: map[string][]byte{`n.doc`: nil}})
	w.ExpectViolation(kernel.RuleIOVerify9).Containing("names", `\Device\Mup\srv\pub\n.doc`, "never released")
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "300000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE,
			PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				info, st := d.FM.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED|driverapi.FLT_FILE_NAME_QUERY_DEFAULT)
				if st == kernel.STATUS_SUCCESS {
					d.FM.ParseFileNameInformation(info)
					r.add("create %s share=%s ext=%s", info.Name, info.Share, info.Extension)
					if info.Share == "" {
						d.FM.ReleaseFileNameInformation(info)
					} // the network one leaks
				}
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}},
		{MajorFunction: driverapi.IRP_MJ_CLEANUP,
			PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				info, st := d.FM.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED|driverapi.FLT_FILE_NAME_QUERY_DEFAULT)
				if st == kernel.STATUS_SUCCESS {
					r.add("cleanup %s", info.Name)
					d.FM.ReleaseFileNameInformation(info)
				}
				return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
			}},
	}}
	mustLoad(t, w, "names", d)
	h := openRW(t, p, `C:\old.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h))
	require.NoError(t, p.MoveFile(`C:\old.txt`, `C:\dir\New.txt`))
	h, err := p.CreateFile(`\\srv\pub\n.doc`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		`create \Device\HarddiskVolume1\old.txt share= ext=txt`,
		`cleanup \Device\HarddiskVolume1\old.txt`,
		`create \Device\HarddiskVolume1\old.txt share= ext=txt`, // MoveFile opens the source
		`cleanup \Device\HarddiskVolume1\dir\New.txt`,
		`create \Device\Mup\srv\pub\n.doc share=\srv\pub ext=doc`,
		`cleanup \Device\Mup\srv\pub\n.doc`,
	}, r.take())
	// A double release is reported.
	info := &driverapi.FltFileNameInformation{Name: "x"}
	w.ExpectViolation(kernel.RuleIOVerify9).Containing("already released")
	d.FM.ReleaseFileNameInformation(info)
}

// R-IO-RW-5, R-IO-VOL-2: FltReadFile reads non-cached at an offset without moving the file
// position, through the instances below the caller only (as kernel-mode, generated I/O);
// the read size comes from FltGetVolumeProperties' sector size; misaligned non-cached reads
// are STATUS_INVALID_PARAMETER and reads past the end STATUS_END_OF_FILE.
func TestIOFltReadFile(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes
	w := harness.New(t)
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", SectorSize: 4096, Files: map[string][]byte{`big.bin`: content}})
	p := w.NewProcess("app.exe", kernel.TokenStandardUser())
	var r recorder
	d := &ioDriver{}
	d.Reg = postCreateOnly("300000", func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
		fm := d.FM
		vol, st := fm.GetVolumeFromInstance(objs.Instance)
		require.Equal(nil, kernel.STATUS_SUCCESS, st)
		props, _ := fm.GetVolumeProperties(vol)
		fm.ObjectDereference(vol)
		r.add("sector=%d devtype=%#x fs=%s real=%s", props.SectorSize, uint32(props.DeviceType), props.FileSystemDriverName, props.RealDeviceName)
		length := uint32(max(1024, uint32(props.SectorSize)))
		buf := make([]byte, length)
		off := int64(4096)
		n, st := fm.ReadFile(data.Context(), objs.Instance, objs.FileObject, &off, length, buf,
			driverapi.FLTFL_IO_OPERATION_NON_CACHED|driverapi.FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET)
		r.add("read %v n=%d first=%q pos=%d", st, n, buf[:4], objs.FileObject.CurrentByteOffset())
		off = 100
		_, st = fm.ReadFile(data.Context(), objs.Instance, objs.FileObject, &off, length, buf, driverapi.FLTFL_IO_OPERATION_NON_CACHED)
		r.add("misaligned %v", st)
		off = 8192
		n, st = fm.ReadFile(data.Context(), objs.Instance, objs.FileObject, &off, length, buf, driverapi.FLTFL_IO_OPERATION_NON_CACHED)
		r.add("past end %v n=%d", st, n)
		n, st = fm.ReadFile(data.Context(), objs.Instance, objs.FileObject, nil, 3, buf, 0)
		r.add("cached at position %v n=%d %q pos=%d", st, n, buf[:3], objs.FileObject.CurrentByteOffset())
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	})
	below := func(name string) *ioDriver {
		return &ioDriver{Reg: driverapi.Registration{Altitude: map[string]string{"above": "400000", "below": "200000"}[name],
			OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_READ,
				PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
					r.add("%s sees read off=%d generated=%v mode=%d nocache=%v", name, data.Iopb.Parameters.Read.ByteOffset,
						data.Flags&driverapi.FLTFL_CALLBACK_DATA_GENERATED_IO != 0, data.RequestorMode, data.Iopb.IrpFlags&driverapi.IRP_NOCACHE != 0)
					return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
				}}}}}
	}
	mustLoad(t, w, "above", below("above"))
	mustLoad(t, w, "reader", d)
	mustLoad(t, w, "below", below("below"))

	h, err := p.CreateFile(`C:\big.bin`, kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0) // write-only: FltReadFile still reads
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		`sector=4096 devtype=0x8 fs=\FileSystem\NTFS real=\Device\HarddiskVolume1`,
		"below sees read off=4096 generated=true mode=0 nocache=true",
		`read STATUS_SUCCESS (0x00000000) n=904 first="6789" pos=0`,
		"below sees read off=100 generated=true mode=0 nocache=true", // the file system checks the alignment
		`misaligned STATUS_INVALID_PARAMETER (0xC000000D)`,
		"below sees read off=8192 generated=true mode=0 nocache=true",
		`past end STATUS_END_OF_FILE (0xC0000011) n=0`,
		"below sees read off=0 generated=true mode=0 nocache=false",
		`cached at position STATUS_SUCCESS (0x00000000) n=3 "012" pos=3`,
	}, r.take())
}

// R-IO-CREATE-5: FltCancelFileOpen in post-create closes the file (cleanup and close go to the
// lower filters and the file system: its share access is released) and the open fails with
// the status the filter set; the filters above see the failure in their post-create.
func TestIOCancelFileOpen(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`bad.exe`: []byte("MZ")})
	var r recorder
	d := &ioDriver{}
	d.Reg = postCreateOnly("300000", func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
		if data.IoStatus.Status.IsSuccess() {
			d.FM.CancelFileOpen(objs.Instance, objs.FileObject)
			data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_VIRUS_INFECTED}
		}
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	})
	mustLoad(t, w, "top", &ioDriver{Reg: postCreateOnly("400000", func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
		r.add("top post-create %v", data.IoStatus.Status)
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	})})
	mustLoad(t, w, "av", d)
	mustLoad(t, w, "low", &ioDriver{Reg: driverapi.Registration{Altitude: "200000", OperationRegistration: logOps(&r, "low", driverapi.IRP_MJ_CLEANUP, driverapi.IRP_MJ_CLOSE)}})

	_, err := p.CreateFile(`C:\bad.exe`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0) // no sharing
	require.Equal(t, kernel.ERROR_VIRUS_INFECTED, err)
	require.Equal(t, []string{"low:pre IRP_MJ_CLEANUP", "low:post IRP_MJ_CLEANUP", "low:pre IRP_MJ_CLOSE", "low:post IRP_MJ_CLOSE",
		"top post-create STATUS_VIRUS_INFECTED (0xC0000906)"}, r.take())
	require.Equal(t, 0, w.Volume("C:").TestAccess().OpenFileObjects())

	// Outside a post-create it is a driver bug, and nothing happens.
	w.ExpectViolation(kernel.RuleIOVerify5).Containing("outside the instance's post-create")
	d.FM.CancelFileOpen(nil, nil)
}

// R-IO-VERIFY-5: a post-create that fails a successful open without FltCancelFileOpen is
// reported; the emulator closes the file itself, so nothing leaks in the file system.
func TestIOPostCreateFailWithoutCancel(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify5).Containing("careless", "without FltCancelFileOpen")
	mustLoad(t, w, "careless", &ioDriver{Reg: postCreateOnly("300000", func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
		data.IoStatus.Status = kernel.STATUS_ACCESS_DENIED
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	})})
	_, err := p.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	require.Equal(t, 0, w.Volume("C:").TestAccess().OpenFileObjects())
}

// R-IO-RW-5: FltWriteFile, FltQueryInformationFile and FltSetInformationFile go to the file
// system from a filter; FltIsDirectory tells directories; GetRequestorProcess names the
// requestor and FltObjectReference counts references on the instance.
func TestIOFilterIssuedIO(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`log.txt`: []byte("abc"), `d\`: nil})
	var r recorder
	d := &ioDriver{}
	d.Reg = postCreateOnly("300000", func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
		fm, ctx := d.FM, data.Context()
		isDir, _ := fm.IsDirectory(objs.FileObject, objs.Instance)
		r.add("requestor=%v dir=%v", fm.GetRequestorProcess(data) == p.Kernel(), isDir)
		if isDir {
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING
		}
		require.Equal(nil, kernel.STATUS_SUCCESS, fm.ObjectReference(objs.Instance))
		off := fsys.FILE_WRITE_TO_END_OF_FILE
		n, st := fm.WriteFile(ctx, objs.Instance, objs.FileObject, &off, 3, []byte("XYZ"), 0)
		r.add("write %v %d", st, n)
		info, st := fm.QueryInformationFile(ctx, objs.Instance, objs.FileObject, fsys.FileStandardInformation)
		r.add("query %v size=%d", st, info.(*fsys.FILE_STANDARD_INFORMATION).EndOfFile)
		r.add("truncate %v", fm.SetInformationFile(ctx, objs.Instance, objs.FileObject, fsys.FileEndOfFileInformation, &fsys.FILE_END_OF_FILE_INFORMATION{EndOfFile: 4}))
		_, st = fm.WriteFile(ctx, objs.Instance, objs.FileObject, &off, 10, []byte("short"), 0)
		r.add("short buffer %v", st)
		fm.ObjectDereference(objs.Instance)
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	})
	mustLoad(t, w, "writer", d)
	w.ExpectViolation(kernel.RuleIOVerify10).Containing("writer", "Length 10 and a 5-byte buffer")
	h, err := p.CreateFile(`C:\log.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	h, err = p.CreateFile(`C:\d`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, harness.FILE_FLAG_BACKUP_SEMANTICS)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{"requestor=true dir=false", "write STATUS_SUCCESS (0x00000000) 3", "query STATUS_SUCCESS (0x00000000) size=6",
		"truncate STATUS_SUCCESS (0x00000000)", "short buffer STATUS_INVALID_PARAMETER (0xC000000D)", "requestor=true dir=true"}, r.take())
	data, _ := w.FileData(`C:\log.txt`)
	require.Equal(t, "abcX", string(data))
}
