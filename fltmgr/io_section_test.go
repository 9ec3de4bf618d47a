package fltmgr_test

import (
	"testing"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// scanDriver is an ioDriver that keeps its instance on C: and, unless noRegister, registers
// it for data scans in InstanceSetup.
type scanDriver struct {
	ioDriver
	inst driverapi.Instance
}

func loadScanDriver(t *testing.T, w *harness.World, register bool) *scanDriver {
	t.Helper()
	d := &scanDriver{}
	d.Reg = driverapi.Registration{
		Altitude:            "320000",
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_SECTION_CONTEXT, Size: 8}, {ContextType: driverapi.FLT_STREAM_CONTEXT, Size: 8}},
		InstanceSetup: func(objs *driverapi.RelatedObjects, _ driverapi.InstanceSetupFlags, _ fsys.DeviceType, _ driverapi.FilesystemType) kernel.NTSTATUS {
			d.inst = objs.Instance
			if register {
				return d.FM.RegisterForDataScan(objs.Instance)
			}
			return kernel.STATUS_SUCCESS
		},
	}
	mustLoad(t, w, "scanflt", d)
	return d
}

func (d *scanDriver) sectionContext(t *testing.T) driverapi.FltContext {
	t.Helper()
	c, st := d.FM.AllocateContext(d.Filter, driverapi.FLT_SECTION_CONTEXT, 8, driverapi.PagedPool)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	return c
}

func (d *scanDriver) create(svc *harness.Process, fo *fsys.FileObject, c driverapi.FltContext) (kernel.Handle, int64, kernel.NTSTATUS) {
	h, obj, size, st := d.FM.CreateSectionForDataScan(svc.ThreadContext(), d.inst, fo, c, driverapi.SECTION_MAP_READ|driverapi.SECTION_QUERY,
		nil, nil, driverapi.PAGE_READONLY, driverapi.SEC_COMMIT, 0)
	if st == kernel.STATUS_SUCCESS && obj == nil {
		return h, size, kernel.STATUS_UNSUCCESSFUL
	}
	return h, size, st
}

func openFO(t *testing.T, p *harness.Process, path string) (kernel.Handle, *fsys.FileObject) {
	t.Helper()
	h := openRW(t, p, path, harness.OPEN_EXISTING)
	fo, err := p.FileObject(h)
	require.NoError(t, err)
	return h, fo
}

// R-IO-SCAN-1..4: FltCreateSectionForDataScan puts a handle into the calling thread's
// process, through which MapViewOfFile reads the file's bytes; one open section per instance
// and stream; FltCloseSectionForDataScan closes it once, and the handle outlives the close.
func TestIOSectionForDataScan(t *testing.T) {
	w, app := ioWorld(t, map[string][]byte{`a.txt`: []byte("hello, section"), `empty.txt`: {}})
	d := loadScanDriver(t, w, true)
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	fh, fo := openFO(t, app, `C:\a.txt`)

	c := d.sectionContext(t)
	h, size, st := d.create(svc, fo, c)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, int64(14), size)
	view, err := svc.MapViewOfFile(h, fltlib.FILE_MAP_READ, 0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "hello, section", string(view))
	view, err = svc.MapViewOfFile(h, fltlib.FILE_MAP_READ, 0, 0, 5)
	require.NoError(t, err)
	require.Equal(t, "hello", string(view))
	// The handle is the service's: it means nothing in the app.
	_, err = app.MapViewOfFile(h, fltlib.FILE_MAP_READ, 0, 0, 0)
	require.Equal(t, kernel.ERROR_INVALID_HANDLE, err)

	// R-IO-SCAN-3: a second section on the same stream while the first is open.
	c2 := d.sectionContext(t)
	_, _, st = d.create(svc, fo, c2)
	require.Equal(t, kernel.STATUS_FLT_CONTEXT_ALREADY_DEFINED, st)

	// R-IO-SCAN-4: close once; the handle still maps; a closed context cannot be reused.
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.CloseSectionForDataScan(c))
	require.Equal(t, kernel.STATUS_NOT_FOUND, d.FM.CloseSectionForDataScan(c))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, d.FM.CloseSectionForDataScan(c2), "no section was made with it")
	view, err = svc.MapViewOfFile(h, fltlib.FILE_MAP_READ, 0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "hello, section", string(view))
	_, _, st = d.create(svc, fo, c)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st, "a section context serves one section")
	h2, _, st := d.create(svc, fo, c2)
	require.Equal(t, kernel.STATUS_SUCCESS, st, "the stream is free again")
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.CloseSectionForDataScan(c2))
	d.FM.ReleaseContext(c)
	d.FM.ReleaseContext(c2)

	require.NoError(t, svc.CloseHandle(h))
	require.NoError(t, svc.CloseHandle(h2))
	require.NoError(t, app.CloseHandle(fh))
}

// R-IO-SCAN-3: the failures of FltCreateSectionForDataScan.
func TestIOSectionForDataScanErrors(t *testing.T) {
	w, app := ioWorld(t, map[string][]byte{`a.txt`: []byte("data"), `empty.txt`: {}})
	d := loadScanDriver(t, w, true)
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	fh, fo := openFO(t, app, `C:\a.txt`)
	eh, efo := openFO(t, app, `C:\empty.txt`)
	c := d.sectionContext(t)

	_, _, st := d.create(svc, efo, c)
	require.Equal(t, driverapi.STATUS_MAPPED_FILE_SIZE_ZERO, st, "an empty file cannot be mapped")

	attrs := driverapi.InitializeObjectAttributes("", driverapi.OBJ_KERNEL_HANDLE, nil)
	_, _, _, st = d.FM.CreateSectionForDataScan(svc.ThreadContext(), d.inst, fo, c, driverapi.SECTION_MAP_READ, &attrs, nil,
		driverapi.PAGE_READONLY, driverapi.SEC_COMMIT, 0)
	require.Equal(t, kernel.STATUS_NOT_SUPPORTED, st, "kernel handles are not emulated")
	//lint:ignore SA1012 a nil ctx is a system thread here
	_, _, _, st = d.FM.CreateSectionForDataScan(nil, d.inst, fo, c, driverapi.SECTION_MAP_READ, nil, nil,
		driverapi.PAGE_READONLY, driverapi.SEC_COMMIT, 0)
	require.Equal(t, kernel.STATUS_NOT_SUPPORTED, st, "a system thread has no user handle table")
	_, _, _, st = d.FM.CreateSectionForDataScan(svc.ThreadContext(), d.inst, fo, c, driverapi.SECTION_MAP_READ, nil, nil,
		0x40, driverapi.SEC_COMMIT, 0)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st, "PAGE_EXECUTE_READWRITE")

	sc, st := d.FM.AllocateContext(d.Filter, driverapi.FLT_STREAM_CONTEXT, 8, driverapi.PagedPool)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, _, st = d.create(svc, fo, sc)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st, "not a section context")
	d.FM.ReleaseContext(sc)

	// MapViewOfFile's own checks.
	h, _, st := d.create(svc, fo, c)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, err := svc.MapViewOfFile(h, fltlib.FILE_MAP_WRITE, 0, 0, 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err, "a PAGE_READONLY section")
	_, err = svc.MapViewOfFile(h, fltlib.FILE_MAP_READ, 0, 4096, 0)
	require.Equal(t, kernel.ERROR_MAPPED_ALIGNMENT, err)
	_, err = svc.MapViewOfFile(h, fltlib.FILE_MAP_READ, 0, 0, 5)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err, "past the end of the section")
	_, err = app.MapViewOfFile(fh, fltlib.FILE_MAP_READ, 0, 0, 0)
	require.Equal(t, kernel.ERROR_INVALID_HANDLE, err, "a file handle is not a section")
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.CloseSectionForDataScan(c))
	d.FM.ReleaseContext(c)
	require.NoError(t, svc.CloseHandle(h))
	require.NoError(t, app.CloseHandle(eh))
	require.NoError(t, app.CloseHandle(fh))
}

// R-IO-SCAN-1: an instance that did not call FltRegisterForDataScan cannot make sections.
func TestIOSectionNeedsRegisterForDataScan(t *testing.T) {
	w, app := ioWorld(t, map[string][]byte{`a.txt`: []byte("data")})
	d := loadScanDriver(t, w, false)
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	fh, fo := openFO(t, app, `C:\a.txt`)
	c := d.sectionContext(t)
	_, _, st := d.create(svc, fo, c)
	require.Equal(t, kernel.STATUS_NOT_SUPPORTED, st)
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.RegisterForDataScan(d.inst))
	h, _, st := d.create(svc, fo, c)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.CloseSectionForDataScan(c))
	d.FM.ReleaseContext(c)
	require.NoError(t, svc.CloseHandle(h))
	require.NoError(t, app.CloseHandle(fh))
}

// R-IO-SCAN-5 (R-IO-VERIFY-8): a section never closed keeps its reference to the section
// context, which is reported when the filter unregisters.
func TestIOSectionNeverClosedIsReported(t *testing.T) {
	w, app := ioWorld(t, map[string][]byte{`a.txt`: []byte("data")})
	w.ExpectViolation(kernel.RuleIOVerify8).Containing("scanflt", "FLT_SECTION_CONTEXT").Times(1)
	d := loadScanDriver(t, w, true)
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	fh, fo := openFO(t, app, `C:\a.txt`)
	c := d.sectionContext(t)
	h, _, st := d.create(svc, fo, c)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	d.FM.ReleaseContext(c) // the driver's reference; the section's stays
	require.NoError(t, svc.CloseHandle(h))
	require.NoError(t, app.CloseHandle(fh))
	require.NoError(t, w.Unload("scanflt"))
}

// ReferenceFileObjectByHandle finds the file object behind a process's file handle, and
// refuses other handles.
func TestReferenceFileObjectByHandle(t *testing.T) {
	w, app := ioWorld(t, map[string][]byte{`a.txt`: []byte("data")})
	d := loadScanDriver(t, w, true)
	fh, fo := openFO(t, app, `C:\a.txt`)
	got, st := driverapi.ReferenceFileObjectByHandle(app.Kernel(), fh)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, fo, got)
	_, st = driverapi.ReferenceFileObjectByHandle(app.Kernel(), kernel.Handle(0x7fff0))
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)

	c := d.sectionContext(t)
	sh, _, st := d.create(app, fo, c)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, st = driverapi.ReferenceFileObjectByHandle(app.Kernel(), sh)
	require.Equal(t, kernel.STATUS_OBJECT_TYPE_MISMATCH, st)
	obj, _, _ := app.Kernel().ReferenceHandle(sh)
	require.Equal(t, fltmgr.TypeSection, obj.Type())
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.CloseSectionForDataScan(c))
	d.FM.ReleaseContext(c)
	require.NoError(t, app.CloseHandle(sh))
	require.NoError(t, app.CloseHandle(fh))
}
