package fltmgr_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// R-IO-VERIFY-1: a pre-operation callback returning an invalid status is a driver bug; the
// user gets a Windows error (ERROR_GEN_FAILURE), never a panic.
func TestIOInvalidPreStatus(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify1).Containing("bad", "invalid status FLT_PREOP_CALLBACK_STATUS(42)")
	mustLoad(t, w, "bad", &ioDriver{Reg: preOnly("300000", driverapi.IRP_MJ_CREATE,
		func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			return 42
		})})
	_, err := p.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_GEN_FAILURE, err)
}

// R-IO-VERIFY-1: FLT_PREOP_DISALLOW_FASTIO on an IRP operation is reported and treated as
// FLT_PREOP_SUCCESS_NO_CALLBACK.
func TestIODisallowFastIOOnIrp(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("abc")})
	w.ExpectViolation(kernel.RuleIOVerify1).Containing("FLT_PREOP_DISALLOW_FASTIO for an IRP-based IRP_MJ_READ")
	mustLoad(t, w, "bad", &ioDriver{Reg: preOnly("300000", driverapi.IRP_MJ_READ,
		func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			return driverapi.FLT_PREOP_DISALLOW_FASTIO
		})})
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	buf := make([]byte, 3)
	n, err := p.ReadFile(h, buf)
	require.NoError(t, err)
	require.Equal(t, "abc", string(buf[:n]))
	require.NoError(t, p.CloseHandle(h))
}

// R-IO-VERIFY-2: FLT_PREOP_SUCCESS_WITH_CALLBACK without a post-operation callback, and a
// completion context with FLT_PREOP_SUCCESS_NO_CALLBACK, are reported; the operation goes on.
func TestIOCallbackWithoutPost(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify2).Containing("no post-operation callback is registered")
	w.ExpectViolation(kernel.RuleIOVerify2).Containing("set a completion context")
	mustLoad(t, w, "bad", &ioDriver{Reg: driverapi.Registration{Altitude: "300000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
		}},
		{MajorFunction: driverapi.IRP_MJ_CLEANUP, PreOperation: func(_ *driverapi.CallbackData, _ *driverapi.RelatedObjects, cc *any) driverapi.PreopCallbackStatus {
			*cc = "lost"
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		}},
	}}})
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h))
}

// R-IO-VERIFY-6: an invalid post-operation status is reported and treated as
// FLT_POSTOP_FINISHED_PROCESSING.
func TestIOInvalidPostStatus(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify6).Containing("FLT_POSTOP_CALLBACK_STATUS(7)")
	mustLoad(t, w, "bad", &ioDriver{Reg: postCreateOnly("300000",
		func(*driverapi.CallbackData, *driverapi.RelatedObjects, any, driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
			return 7
		})})
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	require.NoError(t, p.CloseHandle(h))
}

// R-IO-VERIFY-4: completing an open with success in a pre-create (the file system never
// opened anything) and completing with STATUS_PENDING are reported; the open fails with
// ERROR_GEN_FAILURE. Completing a cleanup is reported and the file system still gets it.
func TestIOBadCompletions(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`ok.txt`: nil, `pending.txt`: nil, `cleanup.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify4).Containing("IRP_MJ_CREATE completed with success")
	w.ExpectViolation(kernel.RuleIOVerify4).Containing("STATUS_PENDING")
	w.ExpectViolation(kernel.RuleIOVerify4).Containing("IRP_MJ_CLEANUP completed by a pre-operation callback")
	complete := func(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
		switch objs.FileObject.FileName {
		case `\ok.txt`:
			data.IoStatus.Status = kernel.STATUS_SUCCESS
		case `\pending.txt`:
			data.IoStatus.Status = kernel.STATUS_PENDING
		default:
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		}
		return driverapi.FLT_PREOP_COMPLETE
	}
	mustLoad(t, w, "bad", &ioDriver{Reg: driverapi.Registration{Altitude: "300000", OperationRegistration: []driverapi.OperationRegistration{
		{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: complete},
		{MajorFunction: driverapi.IRP_MJ_CLEANUP, PreOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			return driverapi.FLT_PREOP_COMPLETE
		}},
	}}})
	_, err := p.CreateFile(`C:\ok.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_GEN_FAILURE, err)
	_, err = p.CreateFile(`C:\pending.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_GEN_FAILURE, err)
	h, err := p.CreateFile(`C:\cleanup.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	// The file system did clean up: the unshared open is gone.
	h, err = p.CreateFile(`C:\cleanup.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
}

// R-IO-VERIFY-7, R-IO-INST-5: an operation the filter pended and never completed is reported
// when its instance is torn down, and completed with STATUS_CANCELLED: the user sees
// ERROR_OPERATION_ABORTED instead of hanging.
func TestIOPendedOperationAtUnload(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	w.ExpectViolation(kernel.RuleIOVerify7).Containing("holder", "still pended")
	pended := make(chan struct{})
	mustLoad(t, w, "holder", &ioDriver{Reg: preOnly("300000", driverapi.IRP_MJ_CREATE,
		func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			close(pended)
			return driverapi.FLT_PREOP_PENDING
		})})
	done := make(chan error, 1)
	go func() {
		_, err := p.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		done <- err
	}()
	<-pended
	require.NoError(t, w.Unload("holder"))
	require.Equal(t, kernel.ERROR_OPERATION_ABORTED, <-done)

	// Completing an operation that is not pended is a driver bug.
	w.ExpectViolation(kernel.RuleIOVerify7).Containing("not pended")
	fltmgr.DriverView(w.FilterManager()).CompletePendedPreOperation(&driverapi.CallbackData{}, driverapi.FLT_PREOP_COMPLETE, nil)
}

// R-IO-INST-5: a post-operation callback still owed when the instance goes away is called
// with FLTFL_POST_OPERATION_DRAINING by the teardown, and not again when the operation
// completes.
func TestIODrainingPostOperation(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: nil})
	var r recorder
	mustLoad(t, w, "upper", &ioDriver{Reg: driverapi.Registration{Altitude: "400000", OperationRegistration: []driverapi.OperationRegistration{{
		MajorFunction: driverapi.IRP_MJ_CREATE,
		PreOperation: func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
		},
		PostOperation: func(d *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, flags driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
			r.add("upper post flags=%d", flags)
			return driverapi.FLT_POSTOP_FINISHED_PROCESSING
		}}}}})
	entered, release := make(chan struct{}), make(chan struct{})
	mustLoad(t, w, "lower", &ioDriver{Reg: preOnly("300000", driverapi.IRP_MJ_CREATE,
		func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
			close(entered)
			<-release
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		})})
	done := make(chan error, 1)
	go func() {
		h, err := p.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		if err == nil {
			err = p.CloseHandle(h)
		}
		done <- err
	}()
	<-entered
	require.NoError(t, w.Unload("upper"))
	require.Equal(t, []string{"upper post flags=1"}, r.take())
	close(release)
	require.NoError(t, <-done)
	require.Empty(t, r.take())
}

// R-IO-VERIFY-3: a callback that replaces Data.Iopb is reported and the parameter block is
// put back, so the operation completes normally instead of crashing.
func TestIOReplacedIopb(t *testing.T) {
	w, p := ioWorld(t, map[string][]byte{`a.txt`: []byte("abc")})
	w.ExpectViolation(kernel.RuleIOVerify3).Containing("replaced Data.Iopb of IRP_MJ_READ")
	mustLoad(t, w, "bad", &ioDriver{Reg: preOnly("300000", driverapi.IRP_MJ_READ,
		func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
			data.Iopb = nil
			return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
		})})
	h := openRW(t, p, `C:\a.txt`, harness.OPEN_EXISTING)
	buf := make([]byte, 3)
	n, err := p.ReadFile(h, buf)
	require.NoError(t, err)
	require.Equal(t, "abc", string(buf[:n]))
	require.NoError(t, p.CloseHandle(h))
}
