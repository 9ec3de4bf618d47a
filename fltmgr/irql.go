package fltmgr

import (
	"fmt"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// The documented maximum IRQL of the routines the emulator checks (R-IRQL-3). A call above it
// is reported (R-VERIFY-9) and then proceeds as if it were legal.
const (
	maxIRQLCreateCommunicationPort = kernel.PASSIVE_LEVEL
	maxIRQLCloseCommunicationPort  = kernel.PASSIVE_LEVEL
	maxIRQLCloseClientPort         = kernel.PASSIVE_LEVEL
	maxIRQLSendMessage             = kernel.APC_LEVEL
	maxIRQLReadWriteFile           = kernel.APC_LEVEL
	maxIRQLFileNameInformation     = kernel.APC_LEVEL
)

// postOpIRQL is the IRQL the emulator runs a post-operation callback at (R-IRQL-1, R-IRQL-2):
// PASSIVE_LEVEL for IRP_MJ_CREATE, DISPATCH_LEVEL for every other operation. Windows may call
// those at DISPATCH_LEVEL (a completion routine of a lower driver); the emulator always does,
// as Driver Verifier would wish, so a driver that waits there fails every run, not one in a
// thousand.
func postOpIRQL(major driverapi.MajorFunction) kernel.KIRQL {
	if major == driverapi.IRP_MJ_CREATE {
		return kernel.PASSIVE_LEVEL
	}
	return kernel.DISPATCH_LEVEL
}

// checkIRQL reports R-VERIFY-9 when the calling goroutine runs above max.
func (m *Manager) checkIRQL(routine string, max kernel.KIRQL, driver string) {
	if m.world.IRQLs().AnyRaised() { // inlined: the common case, all at PASSIVE_LEVEL
		m.checkRaisedIRQL(routine, max, driver)
	}
}

func (m *Manager) checkRaisedIRQL(routine string, max kernel.KIRQL, driver string) {
	cur := m.world.IRQLs().Current()
	if cur <= max {
		return
	}
	m.violation(kernel.Violation{Rule: kernel.RuleVerify9, Driver: driver, Object: routine,
		Message: fmt.Sprintf("%s called at %v; it may be called at %v or below. Move the work out of the post-operation callback: "+
			"FltDoCompletionProcessingWhenSafe, a work item (a goroutine), or FLT_POSTOP_MORE_PROCESSING_REQUIRED and complete later",
			routine, cur, max)})
}

// getCurrentIrql emulates KeGetCurrentIrql for the calling goroutine.
func (m *Manager) getCurrentIrql() kernel.KIRQL { return m.world.IRQLs().Current() }

// doCompletionProcessingWhenSafe emulates FltDoCompletionProcessingWhenSafe, called from a
// post-operation callback: it runs safePostCallback at PASSIVE_LEVEL (where Windows would
// queue it to a worker thread when the callback runs at DISPATCH_LEVEL) and returns its
// status and true. Like Windows, it refuses (false, with FLT_POSTOP_FINISHED_PROCESSING and
// the callback not called) for a paging I/O and for an operation that is not IRP-based (fast
// I/O), and when the instance is draining (FLTFL_POST_OPERATION_DRAINING).
// IRQL: at most DISPATCH_LEVEL.
func (m *Manager) doCompletionProcessingWhenSafe(data *driverapi.CallbackData, fltObjects *driverapi.RelatedObjects,
	completionContext any, flags driverapi.PostOperationFlags,
	safePostCallback driverapi.PostOperationCallback) (driverapi.PostopCallbackStatus, bool) {
	if data == nil || safePostCallback == nil || data.Iopb == nil {
		m.violation(kernel.Violation{Rule: kernel.RuleVerify5, Driver: "?", Object: "FltDoCompletionProcessingWhenSafe",
			Message: "called with nil callback data or a nil SafePostCallback"})
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING, false
	}
	if flags&driverapi.FLTFL_POST_OPERATION_DRAINING != 0 || data.Iopb.IrpFlags&driverapi.IRP_PAGING_IO != 0 ||
		!data.IsIrpOperation() {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING, false
	}
	restore := m.world.IRQLs().Raise(kernel.PASSIVE_LEVEL)
	defer restore()
	return safePostCallback(data, fltObjects, completionContext, flags), true
}
