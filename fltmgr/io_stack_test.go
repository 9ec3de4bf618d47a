package fltmgr_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

var allLogged = []driverapi.MajorFunction{driverapi.IRP_MJ_CREATE, driverapi.IRP_MJ_READ, driverapi.IRP_MJ_WRITE,
	driverapi.IRP_MJ_CLEANUP, driverapi.IRP_MJ_CLOSE, driverapi.IRP_MJ_SET_INFORMATION, driverapi.IRP_MJ_QUERY_INFORMATION,
	driverapi.IRP_MJ_FILE_SYSTEM_CONTROL}

// R-IO-STACK-1, R-IO-STACK-2: the higher altitude sees pre-operations first and
// post-operations last, whatever the load order.
func TestIOAltitudeOrder(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("hello")})
	var r recorder
	// The lower filter loads first: altitude, not load order, decides.
	mustLoad(t, w, "low", &ioDriver{Reg: driverapi.Registration{Altitude: "320000", OperationRegistration: logOps(&r, "low", allLogged...)}})
	mustLoad(t, w, "high", &ioDriver{Reg: driverapi.Registration{Altitude: "385100", OperationRegistration: logOps(&r, "high", allLogged...)}})
	require.Equal(t, []string{"high/high Instance@385100", "low/low Instance@320000"}, w.Instances("C:"))

	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	_, err := p.WriteFile(h, []byte("HE"))
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))

	require.Equal(t, []string{
		"high:pre IRP_MJ_CREATE", "low:pre IRP_MJ_CREATE", "low:post IRP_MJ_CREATE", "high:post IRP_MJ_CREATE",
		"high:pre IRP_MJ_WRITE", "low:pre IRP_MJ_WRITE", "low:post IRP_MJ_WRITE", "high:post IRP_MJ_WRITE",
		"high:pre IRP_MJ_CLEANUP", "low:pre IRP_MJ_CLEANUP", "low:post IRP_MJ_CLEANUP", "high:post IRP_MJ_CLEANUP",
		"high:pre IRP_MJ_CLOSE", "low:pre IRP_MJ_CLOSE", "low:post IRP_MJ_CLOSE", "high:post IRP_MJ_CLOSE",
	}, r.take())
	data, ok := w.FileData(`C:\a.txt`)
	require.True(t, ok)
	require.Equal(t, "HEllo", string(data))
}

// R-IO-STACK-3: a pre-operation that completes an open stops it there: lower filters and the
// file system never see it, its own post-operation is not called, the filters above get
// theirs, and the user gets the Windows error.
func TestIOPreCompleteStopsLowerFilters(t *testing.T) {
	w, p := ioWorld(t, nil)
	var r recorder
	deny := func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
		r.add("mid:pre %v", data.Iopb.MajorFunction)
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		return driverapi.FLT_PREOP_COMPLETE
	}
	mid := &ioDriver{Reg: driverapi.Registration{Altitude: "340000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: deny,
			PostOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, any, driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				r.add("mid:post")
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}},
	}}}
	mustLoad(t, w, "top", &ioDriver{Reg: driverapi.Registration{Altitude: "360000", OperationRegistration: logOps(&r, "top", driverapi.IRP_MJ_CREATE)}})
	mustLoad(t, w, "mid", mid)
	mustLoad(t, w, "bottom", &ioDriver{Reg: driverapi.Registration{Altitude: "320000", OperationRegistration: logOps(&r, "bottom", driverapi.IRP_MJ_CREATE)}})

	h, err := p.CreateFile(`C:\new.txt`, kernel.GENERIC_WRITE, 0, nil, harness.CREATE_NEW, 0)
	require.Equal(t, kernel.InvalidHandle, h)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	require.Equal(t, []string{"top:pre IRP_MJ_CREATE", "mid:pre IRP_MJ_CREATE", "top:post IRP_MJ_CREATE"}, r.take())
	require.False(t, w.Volume("C:").TestAccess().Exists(`new.txt`), "the file system never saw the create")
}

// R-IO-STACK-5: a pre-operation that swaps the write buffer and calls FltSetCallbackDataDirty
// changes what the lower filters and the volume get; its own post-operation sees the
// parameters it was given.
func TestIOChangedWriteBufferReachesLowerFiltersAndDisk(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("........")})
	var r recorder
	upper := &ioDriver{}
	upper.Reg = driverapi.Registration{Altitude: "380000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_WRITE,
		PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			wp := &data.Iopb.Parameters.Write
			wp.WriteBuffer = bytes.ToUpper(wp.WriteBuffer[:wp.Length])
			upper.FM.SetCallbackDataDirty(data)
			return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
		},
		PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
			r.add("upper:post sees %q", data.Iopb.Parameters.Write.WriteBuffer)
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING
		},
	}}}
	lower := &ioDriver{Reg: driverapi.Registration{Altitude: "300000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_WRITE,
		PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			r.add("lower:pre sees %q", data.Iopb.Parameters.Write.WriteBuffer)
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		},
	}}}}
	mustLoad(t, w, "upper", upper)
	mustLoad(t, w, "lower", lower)

	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	user := []byte("abc")
	n, err := p.WriteFileAt(h, user, 2)
	require.NoError(t, err)
	require.Equal(t, uint32(3), n)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{`lower:pre sees "ABC"`, `upper:post sees "abc"`}, r.take())
	require.Equal(t, "abc", string(user), "the requestor's buffer is not written to")
	data, _ := w.FileData(`C:\a.txt`)
	require.Equal(t, "..ABC...", string(data))
}

// R-IO-STACK-5, R-IO-VERIFY-3: a change without FltSetCallbackDataDirty is ignored, and the
// verifier reports it.
func TestIOChangeWithoutDirtyIsIgnored(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("....")})
	w.ExpectViolation(kernel.RuleIOVerify3).Containing("sloppy", "without FltSetCallbackDataDirty")
	mustLoad(t, w, "sloppy", &ioDriver{Reg: driverapi.Registration{Altitude: "380000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_WRITE,
		PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			data.Iopb.Parameters.Write.ByteOffset = 0
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		},
	}}}})
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	_, err := p.WriteFileAt(h, []byte("x"), 3)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	data, _ := w.FileData(`C:\a.txt`)
	require.Equal(t, "...x", string(data))
}

// R-IO-STACK-4: the completion context of a pre-operation reaches the post-operation; with
// FLT_PREOP_SUCCESS_NO_CALLBACK the post-operation is not called; the callbacks see the
// parameters, the requestor process and thread, and the user mode.
func TestIOCallbackDataAndRequestor(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`dir\a.txt`: []byte("0123456789")})
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "370000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE,
			PreOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, cc *any) driverapi.PreopCallbackStatus {
				c := &data.Iopb.Parameters.Create
				r.add("pre-create %s disp=%d opts=%#x access=%v share=%d pid=%d mode=%d irp=%v thread=%v",
					objs.FileObject.FileName, c.Options>>24, c.Options&0xFFFFFF, c.SecurityContext.DesiredAccess, c.ShareAccess,
					d.FM.GetRequestorProcessId(data), data.RequestorMode, data.IsIrpOperation(),
					driverapi.CurrentProcess(data.Context()) == p.Kernel())
				*cc = "from pre"
				return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
			},
			PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, cc any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				r.add("post-create %v info=%d ctx=%v", data.IoStatus.Status, data.IoStatus.Information, cc)
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}},
		{MajorFunction: driverapi.IRP_MJ_READ,
			PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				rp := data.Iopb.Parameters.Read
				r.add("pre-read len=%d off=%d irp=%#x", rp.Length, rp.ByteOffset, data.Iopb.IrpFlags)
				return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
			},
			PostOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, any, driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				r.add("post-read must not run")
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}},
	}}
	mustLoad(t, w, "spy", d)
	h, err := p.CreateFile(`C:\dir\a.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = p.ReadFileAt(h, buf, 3)
	require.NoError(t, err)
	require.Equal(t, "3456", string(buf))
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		"pre-create \\dir\\a.txt disp=1 opts=0x60 access=0x00120089 share=1 pid=" + itoa(p.ID()) + " mode=1 irp=true thread=true",
		"post-create STATUS_SUCCESS (0x00000000) info=1 ctx=from pre",
		"pre-read len=4 off=3 irp=0x104",
	}, r.take())
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// R-IO-RW-3: a write through a mapped view reaches the filters as a paging write
// (IRP_PAGING_IO | IRP_NOCACHE, kernel mode) of whole pages; a filter registered with
// FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO does not see it; the file does not grow.
func TestIOPagingWriteFlags(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`m.bin`: bytes.Repeat([]byte{'a'}, 5000)})
	var r recorder
	rec := func(name string) driverapi.PreOperationCallback {
		return func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			wp := data.Iopb.Parameters.Write
			r.add("%s off=%d len=%d paging=%v nocache=%v mode=%d", name, wp.ByteOffset, wp.Length,
				data.Iopb.IrpFlags&driverapi.IRP_PAGING_IO != 0, data.Iopb.IrpFlags&driverapi.IRP_NOCACHE != 0, data.RequestorMode)
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		}
	}
	mustLoad(t, w, "all", &ioDriver{Reg: driverapi.Registration{Altitude: "370000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_WRITE, PreOperation: rec("all")}}}})
	mustLoad(t, w, "nopaging", &ioDriver{Reg: driverapi.Registration{Altitude: "360000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_WRITE, Flags: driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, PreOperation: rec("nopaging")}}}})

	h := openRW(t, p, `C:\m.bin`, harness.OPEN_EXISTING)
	require.NoError(t, p.MappedWrite(h, 4097, []byte("XY")))
	_, err := p.WriteFileAt(h, []byte("z"), 0)
	require.NoError(t, err)
	require.Equal(t, kernel.ERROR_NOACCESS, p.MappedWrite(h, 4999, []byte("12")), "a view cannot grow the file")
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		"all off=4096 len=4096 paging=true nocache=true mode=0",
		"all off=0 len=1 paging=false nocache=false mode=1",
		"nopaging off=0 len=1 paging=false nocache=false mode=1",
	}, r.take())
	data, _ := w.FileData(`C:\m.bin`)
	require.Len(t, data, 5000)
	require.Equal(t, "zaaa", string(data[:4]))
	require.Equal(t, "aXYa", string(data[4096:4100]))
}

// R-IO-RW-4: on the fast I/O path a filter may answer FLT_PREOP_DISALLOW_FASTIO; the filters
// above it get their post-operation, the lower ones never see the fast I/O, and the request
// comes again as an IRP.
func TestIODisallowFastIO(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`f.txt`: []byte("data")})
	var r recorder
	kind := func(d *driverapi.CallbackData) string {
		if d.IsFastIoOperation() {
			return "fastio"
		}
		return "irp"
	}
	mustLoad(t, w, "top", &ioDriver{Reg: driverapi.Registration{Altitude: "380000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_READ,
		PreOperation: func(d *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			r.add("top:pre %s", kind(d))
			return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
		},
		PostOperation: func(d *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
			r.add("top:post %s %s", kind(d), hexst(d.IoStatus.Status))
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING
		}}}}})
	mustLoad(t, w, "nofast", &ioDriver{Reg: driverapi.Registration{Altitude: "360000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_READ,
		PreOperation: func(d *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			r.add("nofast:pre %s", kind(d))
			if d.IsFastIoOperation() {
				return driverapi.FLT_PREOP_DISALLOW_FASTIO
			}
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		}}}}})
	mustLoad(t, w, "low", &ioDriver{Reg: driverapi.Registration{Altitude: "340000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_READ,
		PreOperation: func(d *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			r.add("low:pre %s", kind(d))
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		}}}}})
	h, err := p.CreateFile(`C:\f.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	buf := make([]byte, 4)
	n, err := p.ReadFileWithOptions(h, buf, fsys.IORequest{Offset: fsys.FILE_USE_FILE_POINTER_POSITION, FastIO: true})
	require.NoError(t, err)
	require.Equal(t, "data", string(buf[:n]))
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		"top:pre fastio", "nofast:pre fastio", "top:post fastio 0xC01C0004", // STATUS_FLT_DISALLOW_FAST_IO
		"top:pre irp", "nofast:pre irp", "low:pre irp", "top:post irp 0x00000000",
	}, r.take())
}

// R-IO-STACK-6: a pre-operation may pend the operation and complete it later from another
// goroutine with FltCompletePendedPreOperation; the requestor waits meanwhile.
func TestIOPendedPreOperation(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("x")})
	pended := make(chan *driverapi.CallbackData, 1)
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "370000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_CREATE,
		PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			pended <- data
			return driverapi.FLT_PREOP_PENDING
		},
		PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, cc any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
			r.add("post %v %v", data.IoStatus.Status, cc)
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING
		}}}}
	mustLoad(t, w, "pender", d)
	done := make(chan error, 1)
	go func() {
		h, err := p.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		if err == nil {
			err = p.CloseHandle(h)
		}
		done <- err
	}()
	data := <-pended
	d.FM.CompletePendedPreOperation(data, driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK, "later")
	require.NoError(t, <-done)
	require.Equal(t, []string{"post STATUS_SUCCESS (0x00000000) later"}, r.take())
}

// R-IO-STACK-6: a post-operation may return FLT_POSTOP_MORE_PROCESSING_REQUIRED and finish
// later with FltCompletePendedPostOperation; set-information parameters carry the class and
// its structure (what avscan looks at to mark a file modified).
func TestIOPendedPostOperationAndSetInformation(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("abc")})
	pended := make(chan *driverapi.CallbackData, 1)
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "370000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_SET_INFORMATION,
		PreOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			s := data.Iopb.Parameters.SetFileInformation
			r.add("pre class=%d info=%+v", s.FileInformationClass, s.InfoBuffer)
			return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
		},
		PostOperation: func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
			pended <- data
			return driverapi.FLT_POSTOP_MORE_PROCESSING_REQUIRED
		}}}}
	mustLoad(t, w, "pender", d)
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	done := make(chan error, 1)
	go func() {
		_, err := p.SetFilePointerEx(h, 1, harness.FILE_BEGIN)
		if err == nil {
			err = p.SetEndOfFile(h)
		}
		done <- err
	}()
	data := <-pended
	r.add("post status %v", data.IoStatus.Status)
	d.FM.CompletePendedPostOperation(data)
	require.NoError(t, <-done)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{"pre class=20 info=&{EndOfFile:1}", "post status STATUS_SUCCESS (0x00000000)"}, r.take())
	got, _ := w.FileData(`C:\a.txt`)
	require.Equal(t, "a", string(got))
}

// R-IO-STACK-6: a completion may come before the pre-operation callback returned
// FLT_PREOP_PENDING (a work item that ran at once); completing an operation that was not
// pended is reported (R-IO-VERIFY-7).
func TestIOPendedCompletedBeforeReturn(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil, `b.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify7).Containing("did not pend it")
	d := &ioDriver{}
	d.Reg = preOnly("370000", driverapi.IRP_MJ_CREATE, func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		d.FM.CompletePendedPreOperation(data, driverapi.FLT_PREOP_COMPLETE, nil)
		if objs.FileObject.FileName == `\b.txt` {
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK // completed without pending: a bug
		}
		return driverapi.FLT_PREOP_PENDING
	})
	mustLoad(t, w, "early", d)
	_, err := p.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	// The bogus completion is ignored: the operation went on to the file system.
	h, err := p.CreateFile(`C:\b.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
}
