package cscannerbugs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/cdriver"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/cscannerbugs"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

func TestMain(m *testing.M) { testmain.Main(m) }

// load mounts C: with a foul .txt and loads the scanner with bugs planted.
func load(t *testing.T, w *harness.World, bugs uint32) (svc, app *harness.Process) {
	t.Helper()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{
		`dirty.txt`: append([]byte("foul"), bytes.Repeat([]byte("x"), 100)...), `clean.txt`: []byte("all good")}})
	require.NoError(t, w.Load("scanner", cscannerbugs.New(bugs)))
	return w.NewProcess("scanuser.exe", kernel.TokenAdmin()), w.NewProcess("notepad.exe", kernel.TokenStandardUser())
}

// scanDirtyAndUnload starts the service, has app open the dirty file (the scan denies it),
// stops the service and unloads the driver: the path on which the planted pool bugs run.
func scanDirtyAndUnload(t *testing.T, w *harness.World, svc, app *harness.Process) {
	t.Helper()
	sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
	require.NoError(t, err)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, open(t, app, `C:\dirty.txt`))
	require.NoError(t, sc.Stop())
	require.NoError(t, w.Unload("scanner"))
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
		scanDirtyAndUnload(t, w, svc, app)
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
		scanDirtyAndUnload(t, w, svc, app)
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

// lineOf is the line of scanner.c that holds code, so that a test can assert the whole text
// of a report that names its site.
func lineOf(t *testing.T, code string) int {
	t.Helper()
	src, err := os.ReadFile("scanner.c")
	require.NoError(t, err)
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, code) {
			return i + 1
		}
	}
	t.Fatalf("scanner.c has no line with %q", code)
	return 0
}

// notification is how the reports describe the scanner's notification block.
func notification(t *testing.T) string {
	return fmt.Sprintf("1032 bytes tagged 'scnN' allocated at scanner.c:%d", lineOf(t, "notification = ExAllocatePoolZero("))
}

// R-POOL-3: a write one byte past the end of a block lands in its guard bytes, which the free
// checks; the report names the block and where the overrun was found.
func TestPlantedPoolOverrun(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugPoolOverrun)
		w.ExpectViolation(cdriver.RulePoolCorrupt).Containing(": the driver wrote past the end of " + notification(t) +
			" (found at ExFreePoolWithTag in PostOperation(IRP_MJ_CREATE)) (on Windows: pool corruption").Times(1)
		scanDirtyAndUnload(t, w, svc, app)
	})
}

// R-POOL-3: the guard bytes of a block never freed are checked at unload, so the overrun of a
// leaked block is reported as well as the leak (R-POOL-1).
func TestPlantedPoolOverrunOfLeakedBlock(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugPoolOverrun|cscannerbugs.BugLeakNotification)
		w.ExpectViolation(cdriver.RulePoolLeak).Containing(": " + notification(t) + " was still allocated when the driver unloaded (unload)").Times(1)
		w.ExpectViolation(cdriver.RulePoolCorrupt).Containing(": the driver wrote past the end of " + notification(t) +
			" (found at unload) (on Windows: pool corruption").Times(1)
		scanDirtyAndUnload(t, w, svc, app)
	})
}

// R-POOL-3: ExFreePoolWithTag with a tag other than the block's is a tag mismatch
// (BAD_POOL_CALLER on Windows); the report shows both tags as poolmon would.
func TestPlantedFreeWithAnotherTag(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugFreeWrongTag)
		w.ExpectViolation(cdriver.RulePoolCorrupt).Containing(": ExFreePoolWithTag in PostOperation(IRP_MJ_CREATE) with tag 'Wscx' frees " +
			notification(t) + " (on Windows: BAD_POOL_CALLER bugcheck (0xC2, a tag mismatch)").Times(1)
		scanDirtyAndUnload(t, w, svc, app)
	})
}

// R-ASSERT: a failed NT_ASSERT in a callback is reported with its file:line, the callback
// and the expression, and the callback goes on (a free build).
func TestPlantedAssertInCallback(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, app := load(t, w, cscannerbugs.BugAssertInPreCreate)
		w.ExpectViolation(cdriver.RuleAssert).Containing(fmt.Sprintf(`driver "scanner", scanner.c:%d: assertion failed in PreOperation(IRP_MJ_CREATE): Data->Iopb->MajorFunction == IRP_MJ_WRITE (on Windows: a breakpoint on a checked build`,
			lineOf(t, "NT_ASSERT( Data->Iopb->MajorFunction == IRP_MJ_WRITE )"))).Times(1)
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, w.Unload("scanner"))
	})
}

// R-VERIFY-9: KeLowerIrql to an IRQL above the current one. The IRQL stays where it was, so
// the callback returns at the IRQL it was called at and nothing else is reported.
func TestPlantedLowerIrqlUpward(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, app := load(t, w, cscannerbugs.BugLowerIrqlUp)
		w.ExpectViolation(kernel.RuleVerify9).Containing(`driver "scanner", KeLowerIrql: PreOperation(IRP_MJ_CREATE) lowered the IRQL from PASSIVE_LEVEL to the higher APC_LEVEL (on Windows: IRQL_NOT_LESS_OR_EQUAL bugcheck`).Times(1)
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, w.Unload("scanner"))
	})
}

// R-VERIFY-9: a callback that raises the IRQL and returns without lowering it; the runtime
// puts the IRQL back, so the next create is reported on its own.
func TestPlantedReturnAtRaisedIrql(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		_, app := load(t, w, cscannerbugs.BugReturnAtAPC)
		w.ExpectViolation(kernel.RuleVerify9).Containing(`driver "scanner", PreOperation(IRP_MJ_CREATE): returned at APC_LEVEL; it was called at PASSIVE_LEVEL (on Windows: IRQL_GT_ZERO_AT_SYSTEM_SERVICE or IRQL_NOT_LESS_OR_EQUAL bugcheck`).Times(2)
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, open(t, app, `C:\clean.txt`))
		require.NoError(t, w.Unload("scanner"))
	})
}

// R-VERIFY-9: KeRaiseIrql to APC_LEVEL from a post-write callback, which runs at
// DISPATCH_LEVEL: a raise to a lower IRQL.
func TestPlantedRaiseIrqlDownward(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		svc, app := load(t, w, cscannerbugs.BugRaiseIrqlDown)
		w.ExpectViolation(kernel.RuleVerify9).Containing(`driver "scanner", KeRaiseIrql: PostOperation(IRP_MJ_WRITE) raised the IRQL from DISPATCH_LEVEL to the lower APC_LEVEL (on Windows: IRQL_NOT_GREATER_OR_EQUAL bugcheck`).Times(1)
		// The scanner watches writes only with its service connected.
		sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{})
		require.NoError(t, err)
		h, err := app.CreateFile(`C:\clean.txt`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		_, err = app.WriteFileAt(h, []byte("fine"), 0)
		require.NoError(t, err)
		require.NoError(t, app.CloseHandle(h))
		require.NoError(t, sc.Stop())
		require.NoError(t, w.Unload("scanner"))
	})
}

// R-VERIFY-5: FltRegisterFilter with a NULL Registration fails with STATUS_INVALID_PARAMETER
// and names the argument, instead of dereferencing it.
func TestPlantedNullRegistration(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		w.ExpectViolation(kernel.RuleVerify5).Containing(`driver "scanner", FltRegisterFilter: DriverEntry passed a NULL Registration (on Windows: a bugcheck`).Times(1)
		require.ErrorIs(t, w.Load("scanner", cscannerbugs.New(cscannerbugs.BugNullRegistration)), kernel.E_INVALIDARG)
		require.False(t, w.FilterManager().Loaded("scanner"))
	})
}

// R-VERIFY-5: an FLT_REGISTRATION Version the runtime does not know is refused.
func TestPlantedRegistrationVersion(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		w.ExpectViolation(kernel.RuleVerify5).Containing(`driver "scanner", FltRegisterFilter: DriverEntry passed an FLT_REGISTRATION with Version 0x0300 (this runtime knows 0x0200 to 0x0203) (on Windows: a bugcheck`).Times(1)
		require.ErrorIs(t, w.Load("scanner", cscannerbugs.New(cscannerbugs.BugRegistrationVer)), kernel.E_INVALIDARG)
		require.False(t, w.FilterManager().Loaded("scanner"))
	})
}

// R-VERIFY-5: a UNICODE_STRING whose Length is not a whole number of WCHARs is malformed; the
// port is not created, DriverEntry unregisters and fails.
func TestPlantedOddUnicodeStringLength(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		n := len(`\ScannerPort`) * cdriver.WCHARSize()
		w.ExpectViolation(kernel.RuleVerify5).Containing(fmt.Sprintf(`driver "scanner", FltCreateCommunicationPort: DriverEntry passed a malformed UNICODE_STRING (Length %d, MaximumLength %d, Buffer 0x`,
			n-1, n+cdriver.WCHARSize())).Times(1)
		require.ErrorIs(t, w.Load("scanner", cscannerbugs.New(cscannerbugs.BugOddPortNameLength)), kernel.E_INVALIDARG)
		require.False(t, w.FilterManager().Loaded("scanner"))
	})
}
