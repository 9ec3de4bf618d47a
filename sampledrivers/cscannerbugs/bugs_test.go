package cscannerbugs_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fltemu/fltemu/cdriver"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/cscannerbugs"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// load mounts C: with a foul .txt and loads the scanner with bugs planted.
func load(t *testing.T, w *harness.World, bugs uint32) (svc, app *harness.Process) {
	t.Helper()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{
		`dirty.txt`: append([]byte("foul"), bytes.Repeat([]byte("x"), 100)...), `clean.txt`: []byte("all good")}})
	require.NoError(t, w.Load("scanner", cscannerbugs.New(bugs)))
	return w.NewProcess("scanuser.exe", kernel.TokenAdmin()), w.NewProcess("notepad.exe", kernel.TokenStandardUser())
}

func open(t *testing.T, p *harness.Process, path string) error {
	h, err := p.CreateFile(path, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	if err == nil {
		require.NoError(t, p.CloseHandle(h))
	}
	return err
}

// A DisconnectNotify that forgets FltCloseClientPort leaks the connection: at unload the
// verifier reports R-VERIFY-2.
func TestPlantedForgottenCloseClientPort(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, _ := load(t, w, cscannerbugs.BugNoCloseClientPort)
		w.ExpectViolation(kernel.RuleVerify2)
		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
	})
}

// A notification never freed is still allocated at unload: R-POOL-1 names its tag, size and
// the line of scanner.c that allocated it, once per leaked block.
func TestPlantedLeakedPool(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugLeakNotification)
		w.ExpectViolation(cdriver.RulePoolLeak).Containing("1032 bytes tagged 'scnN'", "scanner.c:").Times(2)
		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, open(t, app, `C:\dirty.txt`))
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
	})
}

// FltUnregisterFilter with the server port still open would hang on Windows: R-VERIFY-1.
func TestPlantedUnregisterWithOpenPort(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		load(t, w, cscannerbugs.BugUnregisterOpen)
		w.ExpectViolation(kernel.RuleVerify1).Containing(`\ScannerPort`)
		require.NoError(t, w.Unload("scanner"))
	})
}

// A post-write callback runs at DISPATCH_LEVEL; FltSendMessage there is an IRQL violation:
// R-VERIFY-9 names the routine.
func TestPlantedSendFromPostWrite(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugSendInPostWrite)
		w.ExpectViolation(kernel.RuleVerify9).Containing("FltSendMessage")
		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		h, err := app.CreateFile(`C:\clean.txt`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		_, err = app.WriteFileAt(h, []byte("fine"), 0)
		require.NoError(t, err)
		require.NoError(t, app.CloseHandle(h))
		require.NoError(t, sc.Stop())
	})
}

// An FLT_REGISTRATION whose Size is too small for its Version is refused with
// STATUS_INVALID_PARAMETER and reported (R-VERIFY-5), instead of read past its end.
func TestPlantedRegistrationSize(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		w.ExpectViolation(kernel.RuleVerify5).Containing("FLT_REGISTRATION with Size 64")
		require.ErrorIs(t, w.Load("scanner", cscannerbugs.New(cscannerbugs.BugRegistrationSize)), kernel.E_INVALIDARG)
		require.False(t, w.FilterManager().Loaded("scanner"))
	})
}

// A double free is reported (R-POOL-2) and does not crash the test binary; the freed block
// stays poisoned.
func TestPlantedDoubleFree(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugDoubleFree)
		w.ExpectViolation(cdriver.RulePoolFree).Containing("double free", "scanner.c:").Times(1)
		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, open(t, app, `C:\dirty.txt`))
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
	})
}

// A callback that returns holding a lock is reported, R-LOCK-2, naming the lock and the
// callback; the runtime releases it so the next create does not deadlock (on Windows it
// would).
func TestPlantedLockHeldAtReturn(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, app := load(t, w, cscannerbugs.BugLockHeldAtReturn)
		w.ExpectViolation(cdriver.RuleLockHeld).Containing("push lock", "returned with the lock held").Times(2)
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, open(t, app, `C:\clean.txt`), "the lock was released for the test to go on")
		require.NoError(t, w.Unload("scanner"))
	})
}

// Releasing a lock the callback does not hold is reported, R-LOCK-1.
func TestPlantedReleaseNotHeld(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, app := load(t, w, cscannerbugs.BugReleaseNotHeld)
		w.ExpectViolation(cdriver.RuleLockUnbalanced).Containing("push lock", "FltReleasePushLock").Times(1)
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, w.Unload("scanner"))
	})
}

// A write into freed pool is found: freed blocks are poisoned and kept until unload, which
// checks the poison and reports R-POOL-3 with the block's tag, size and allocation site.
func TestPlantedWriteAfterFree(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugWriteAfterFree)
		w.ExpectViolation(cdriver.RulePoolCorrupt).Containing("written after the block was freed", "'scnN'", "scanner.c:").Times(1)
		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, open(t, app, `C:\dirty.txt`))
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
	})
}

// A wait with a timeout while holding a spin lock (DISPATCH_LEVEL) is an IRQL violation,
// R-VERIFY-9, naming KeWaitForSingleObject; the 10 ms timeout runs on fake time.
func TestPlantedWaitAtDispatch(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, app := load(t, w, cscannerbugs.BugWaitAtDispatch)
		w.ExpectViolation(kernel.RuleVerify9).Containing("KeWaitForSingleObject", "DISPATCH_LEVEL").Times(1)
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, w.Unload("scanner"))
	})
}
