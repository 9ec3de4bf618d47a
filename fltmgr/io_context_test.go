package fltmgr_test

import (
	"testing"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

type handleState struct{ RescanRequired bool }

// ctxDriver is a filter that sets a stream-handle context in post-create for opens with write
// access (as the scanner sample does) and reads it back in pre-write and pre-cleanup.
func ctxDriver(r *recorder) *ioDriver {
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "265000",
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_STREAMHANDLE_CONTEXT, Size: 8,
			ContextCleanupCallback: func(c driverapi.FltContext, typ driverapi.ContextType) {
				r.add("cleanup-callback %v %+v", typ, c.Data())
			}}},
		OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_CREATE,
				PreOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
					c, st := d.FM.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 8, driverapi.PagedPool)
					require.Equal(nil, kernel.STATUS_SUCCESS, st)
					r.add("pre-create set: %v", d.FM.SetStreamHandleContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, c, nil))
					d.FM.ReleaseContext(c)
					return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
				},
				PostOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
					if !data.IoStatus.Status.IsSuccess() || !objs.FileObject.WriteAccess {
						return driverapi.FLT_POSTOP_FINISHED_PROCESSING
					}
					c, st := d.FM.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 8, driverapi.PagedPool)
					if st != kernel.STATUS_SUCCESS {
						r.add("allocate failed %v", st)
						return driverapi.FLT_POSTOP_FINISHED_PROCESSING
					}
					c.SetData(&handleState{RescanRequired: true})
					r.add("post-create set: %v", d.FM.SetStreamHandleContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_REPLACE_IF_EXISTS, c, nil))
					d.FM.ReleaseContext(c)
					return driverapi.FLT_POSTOP_FINISHED_PROCESSING
				}},
			{MajorFunction: driverapi.IRP_MJ_WRITE,
				PreOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
					c, st := d.FM.GetStreamHandleContext(objs.Instance, objs.FileObject)
					if st == kernel.STATUS_SUCCESS {
						r.add("pre-write context %+v", c.Data())
						d.FM.ReleaseContext(c)
					} else {
						r.add("pre-write %v", st)
					}
					return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
				}},
			{MajorFunction: driverapi.IRP_MJ_CLEANUP,
				PreOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
					c, st := d.FM.GetStreamHandleContext(objs.Instance, objs.FileObject)
					if st == kernel.STATUS_SUCCESS {
						r.add("pre-cleanup context %+v", c.Data())
						d.FM.ReleaseContext(c)
					} else {
						r.add("pre-cleanup %v", st)
					}
					return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
				}},
		}}
	return d
}

// R-IO-CTX-1, R-IO-CTX-2: a stream-handle context set in post-create survives to the writes
// and the cleanup of that handle, is not seen by another handle, and its cleanup callback
// runs when the file object closes. In a pre-create the file object is not open: setting one
// is STATUS_NOT_SUPPORTED.
func TestIOStreamHandleContextFromCreateToCleanup(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`doc.txt`: []byte("hello")})
	var r recorder
	mustLoad(t, w, "scan", ctxDriver(&r))

	h := openRW(t, p, `C:\doc.txt`, harness.OPEN_EXISTING)
	ro, err := p.CreateFile(`C:\doc.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ|fsys.FILE_SHARE_WRITE, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = p.WriteFile(h, []byte("HE"))
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(ro))
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		"pre-create set: STATUS_NOT_SUPPORTED (0xC00000BB)",
		"cleanup-callback FLT_STREAMHANDLE_CONTEXT <nil>", // the context pre-create could not set
		"post-create set: STATUS_SUCCESS (0x00000000)",
		"pre-create set: STATUS_NOT_SUPPORTED (0xC00000BB)",
		"cleanup-callback FLT_STREAMHANDLE_CONTEXT <nil>",
		"pre-write context &{RescanRequired:true}",
		"pre-cleanup STATUS_NOT_FOUND (0xC0000225)",
		"pre-cleanup context &{RescanRequired:true}",
		"cleanup-callback FLT_STREAMHANDLE_CONTEXT &{RescanRequired:true}",
	}, r.take())
}

// R-IO-CTX-2: FLT_SET_CONTEXT_KEEP_IF_EXISTS fails with STATUS_FLT_CONTEXT_ALREADY_DEFINED and
// hands back the context in place; REPLACE_IF_EXISTS hands back the replaced one; a context
// cannot be linked twice; Delete unlinks.
func TestIOSetContextKeepReplace(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "300000",
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_STREAMHANDLE_CONTEXT, Size: 16,
			Flags:                  driverapi.FLTFL_CONTEXT_REGISTRATION_NO_EXACT_SIZE_MATCH,
			ContextCleanupCallback: func(c driverapi.FltContext, _ driverapi.ContextType) { r.add("freed %v", c.Data()) }}},
		OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_CREATE,
			PostOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				fm, inst, fo := d.FM, objs.Instance, objs.FileObject
				_, st := fm.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 32, driverapi.PagedPool)
				r.add("too big: %s", hexst(st))
				_, st = fm.AllocateContext(d.Filter, driverapi.FLT_STREAM_CONTEXT, 8, driverapi.PagedPool)
				r.add("unregistered type: %s", hexst(st))
				first, _ := fm.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 8, driverapi.PagedPool)
				first.SetData("first")
				second, _ := fm.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 16, driverapi.PagedPool)
				second.SetData("second")
				r.add("set first: %v", fm.SetStreamHandleContext(inst, fo, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, first, nil))
				r.add("link twice: %s", hexst(fm.SetStreamHandleContext(inst, fo, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, first, nil)))
				var old driverapi.FltContext
				st = fm.SetStreamHandleContext(inst, fo, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, second, &old)
				r.add("keep: %s old=%v", hexst(st), old.Data())
				fm.ReleaseContext(old)
				r.add("replace: %v", fm.SetStreamHandleContext(inst, fo, driverapi.FLT_SET_CONTEXT_REPLACE_IF_EXISTS, second, &old))
				r.add("old=%v", old.Data())
				fm.ReleaseContext(old)   // the link's reference, handed over
				fm.ReleaseContext(first) // the allocation's: first is freed now
				got, _ := fm.GetStreamHandleContext(inst, fo)
				r.add("get=%v", got.Data())
				fm.ReleaseContext(got)
				fm.DeleteContext(second)
				_, st = fm.GetStreamHandleContext(inst, fo)
				r.add("after delete: %v", st)
				fm.ReleaseContext(second)
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}}}}
	mustLoad(t, w, "c", d)
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h))
	require.Equal(t, []string{
		"too big: 0xC01C0016", // STATUS_FLT_CONTEXT_ALLOCATION_NOT_FOUND
		"unregistered type: 0xC01C0016",
		"set first: STATUS_SUCCESS (0x00000000)",
		"link twice: 0xC01C001C",     // STATUS_FLT_CONTEXT_ALREADY_LINKED
		"keep: 0xC01C0002 old=first", // STATUS_FLT_CONTEXT_ALREADY_DEFINED
		"replace: STATUS_SUCCESS (0x00000000)",
		"old=first",
		"freed first",
		"get=second",
		"after delete: STATUS_NOT_FOUND (0xC0000225)",
		"freed second",
	}, r.take())
}

// R-IO-CTX-3: a stream context is shared by every handle open on the stream and ends when
// its last file object closes.
func TestIOStreamContextSharedAndFreedAtLastClose(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`s.txt`: []byte("x"), `other.txt`: nil})
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "300000",
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_STREAM_CONTEXT, Size: driverapi.FLT_VARIABLE_SIZED_CONTEXTS,
			ContextCleanupCallback: func(c driverapi.FltContext, _ driverapi.ContextType) { r.add("freed %v", c.Data()) }}},
		OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_CREATE,
			PostOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				c, st := d.FM.GetStreamContext(objs.Instance, objs.FileObject)
				if st == kernel.STATUS_SUCCESS {
					r.add("found %v", c.Data())
					d.FM.ReleaseContext(c)
					return driverapi.FLT_POSTOP_FINISHED_PROCESSING
				}
				c, _ = d.FM.AllocateContext(d.Filter, driverapi.FLT_STREAM_CONTEXT, 100, driverapi.NonPagedPoolNx)
				c.SetData(objs.FileObject.FileName)
				r.add("set %v", d.FM.SetStreamContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, c, nil))
				d.FM.ReleaseContext(c)
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}}}}
	mustLoad(t, w, "sc", d)
	h1 := openRW(t, p, `C:\s.txt`, harness.OPEN_EXISTING)
	h2 := openRW(t, p, `C:\S.TXT`, harness.OPEN_EXISTING)
	h3 := openRW(t, p, `C:\other.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h1))
	require.Equal(t, []string{`set STATUS_SUCCESS (0x00000000)`, `found \s.txt`, `set STATUS_SUCCESS (0x00000000)`}, r.take())
	require.NoError(t, p.CloseHandle(h2))
	require.Equal(t, []string{`freed \s.txt`}, r.take())
	require.NoError(t, p.CloseHandle(h3))
	require.Equal(t, []string{`freed \other.txt`}, r.take())
}

// R-IO-CTX-4, R-IO-INST-5: an instance context set in InstanceSetup is available to the
// callbacks and to InstanceTeardownStart, and is freed after InstanceTeardownComplete. A
// refused setup frees the context it set, without teardown callbacks.
func TestIOInstanceContextLifetime(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.MustAddVolume(fsys.VolumeConfig{Name: "N:", Kind: fsys.VolumeNetwork})
	var r recorder
	d := &ioDriver{}
	d.Reg = driverapi.Registration{Altitude: "300000",
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_INSTANCE_CONTEXT, Size: 4,
			ContextCleanupCallback: func(c driverapi.FltContext, _ driverapi.ContextType) { r.add("freed %v", c.Data()) }}},
		InstanceSetup: func(objs *driverapi.RelatedObjects, _ driverapi.InstanceSetupFlags, dt fsys.DeviceType, _ driverapi.FilesystemType) kernel.NTSTATUS {
			c, _ := d.FM.AllocateContext(d.Filter, driverapi.FLT_INSTANCE_CONTEXT, 4, driverapi.NonPagedPool)
			c.SetData(objs.Volume.VolumeName())
			st := d.FM.SetInstanceContext(objs.Instance, driverapi.FLT_SET_CONTEXT_KEEP_IF_EXISTS, c, nil)
			d.FM.ReleaseContext(c)
			if st != kernel.STATUS_SUCCESS || dt == fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM {
				return kernel.STATUS_FLT_DO_NOT_ATTACH
			}
			return kernel.STATUS_SUCCESS
		},
		InstanceTeardownStart: func(objs *driverapi.RelatedObjects, _ driverapi.InstanceTeardownFlags) {
			c, st := d.FM.GetInstanceContext(objs.Instance)
			require.Equal(nil, kernel.STATUS_SUCCESS, st)
			r.add("teardown-start sees %v", c.Data())
			d.FM.ReleaseContext(c)
		},
		InstanceTeardownComplete: func(*driverapi.RelatedObjects, driverapi.InstanceTeardownFlags) { r.add("teardown-complete") },
		OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_CREATE,
			PreOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
				c, st := d.FM.GetInstanceContext(objs.Instance)
				if st == kernel.STATUS_SUCCESS {
					r.add("create sees %v", c.Data())
					d.FM.ReleaseContext(c)
				}
				return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
			}}}}
	mustLoad(t, w, "ic", d)
	require.Equal(t, []string{`freed \Device\Mup`}, r.take(), "the refused network instance's context is freed at once")
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h))
	require.NoError(t, w.Unload("ic"))
	require.Equal(t, []string{`create sees \Device\HarddiskVolume1`, `teardown-start sees \Device\HarddiskVolume1`,
		"teardown-complete", `freed \Device\HarddiskVolume1`}, r.take())
}

// R-IO-TEARDOWN-1, R-IO-CTX-4: unloading with a handle still open frees the stream-handle
// context at instance teardown (its cleanup callback runs then); the handle stays usable and
// the later close is not seen by the gone filter.
func TestIOUnloadFreesContextsOfOpenHandles(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`doc.txt`: []byte("hello")})
	var r recorder
	mustLoad(t, w, "scan", ctxDriver(&r))
	h := openRW(t, p, `C:\doc.txt`, harness.OPEN_EXISTING)
	r.take()
	require.NoError(t, w.Unload("scan"))
	require.Equal(t, []string{"cleanup-callback FLT_STREAMHANDLE_CONTEXT &{RescanRequired:true}"}, r.take())
	_, err := p.WriteFile(h, []byte("x"))
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	require.Empty(t, r.take())
}

// R-IO-VERIFY-8: a context reference the filter never released is reported when it
// unregisters (FltUnregisterFilter would wait for it forever); releasing too often is
// reported at once.
func TestIOContextLeakReported(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify8).Containing("leaky", "FLT_STREAMHANDLE_CONTEXT", "FltReleaseContext is missing").Times(1)
	w.ExpectViolation(kernel.RuleIOVerify8).Containing("leaky", "released too often").Times(1)
	d := &ioDriver{}
	var leaked driverapi.FltContext
	var r recorder
	d.Reg = driverapi.Registration{Altitude: "300000",
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_STREAMHANDLE_CONTEXT, Size: 1,
			ContextCleanupCallback: func(driverapi.FltContext, driverapi.ContextType) { r.add("cleanup") }}},
		OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_CREATE,
			PostOperation: func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				c, _ := d.FM.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 1, driverapi.PagedPool)
				d.FM.SetStreamHandleContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_REPLACE_IF_EXISTS, c, nil)
				leaked, _ = d.FM.GetStreamHandleContext(objs.Instance, objs.FileObject) // never released: a leak
				d.FM.ReleaseContext(c)
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			}}}}
	mustLoad(t, w, "leaky", d)
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h))
	require.Empty(t, r.take(), "the Get's reference keeps the context alive after the close")
	require.NoError(t, w.Unload("leaky"))
	c, st := d.FM.AllocateContext(d.Filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 1, driverapi.PagedPool)
	require.Nil(t, c)
	require.Equal(t, kernel.STATUS_FLT_DELETING_OBJECT, st)
	// The late release frees it; one more is one too many.
	d.FM.ReleaseContext(leaked)
	require.Equal(t, []string{"cleanup"}, r.take())
	d.FM.ReleaseContext(leaked)
}
