package harness

import (
	"fmt"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// refuse records a user-mode call that failed one of its checks (an argument, a handle) in the
// trace, as an EvRoutineFailed event with the reason, the same kind the filter manager records
// for a driver's refused call. The returned error alone says what failed, not why: E_INVALIDARG
// may be any of a call's arguments, E_HANDLE a closed handle or one of another type.
func (p *Process) refuse(routine string, err error, reason string) {
	p.w.k.Trace().Add(kernel.TraceEvent{Kind: kernel.EvRoutineFailed, Process: p.String(),
		Status: err.Error(), Err: err, Detail: routine + ": " + reason, Routine: routine, Reason: reason})
}

// refuseHR is refuse for a call that returns an HRESULT; it returns hr.
func (p *Process) refuseHR(routine string, hr kernel.HRESULT, reason string) kernel.HRESULT {
	p.refuse(routine, hr, reason)
	return hr
}

// handleProblem says why handle h could not be used as an object of type want: st is what the
// lookup returned.
func (p *Process) handleProblem(h kernel.Handle, st kernel.NTSTATUS, want string) string {
	if st == kernel.STATUS_OBJECT_TYPE_MISMATCH {
		if obj, _, ok := p.k.ReferenceHandle(h); ok == kernel.STATUS_SUCCESS {
			return fmt.Sprintf("handle %#x refers to an object of type %s, not %s", uintptr(h), obj.Type(), want)
		}
	}
	if st == kernel.STATUS_INVALID_HANDLE {
		return fmt.Sprintf("handle %#x is not open in this process (closed already, or another process's value)", uintptr(h))
	}
	return fmt.Sprintf("handle %#x: %v", uintptr(h), st)
}

// portFileFor is portFile for routine: a handle that is not an open connection handle is
// recorded in the trace with why.
func (p *Process) portFileFor(routine string, h kernel.Handle) (*portFile, kernel.NTSTATUS) {
	pf, st := p.portFile(h)
	if st != kernel.STATUS_SUCCESS {
		p.refuseHandle(routine, h, st)
	}
	return pf, st
}

func (p *Process) refuseHandle(routine string, h kernel.Handle, st kernel.NTSTATUS) {
	p.refuse(routine, kernel.HResultFromNtStatus(st), p.handleProblem(h, st, TypeFilterConnectionPort))
}

// connectArgsProblem says which argument of FilterConnectCommunicationPort is wrong, "" when
// none is.
func connectArgsProblem(options uint32, context []byte, sizeOfContext int) string {
	const known = driverapi.FLT_PORT_FLAG_SYNC_HANDLE
	switch {
	case options&^known != 0:
		return fmt.Sprintf("unknown dwOptions bits 0x%X (only FLT_PORT_FLAG_SYNC_HANDLE, 0x%X, is defined)", options&^known, known)
	case context == nil && sizeOfContext != 0:
		return fmt.Sprintf("lpContext is nil but wSizeOfContext is %d", sizeOfContext)
	case context != nil && sizeOfContext == 0:
		return fmt.Sprintf("wSizeOfContext is 0 with a %d-byte lpContext: pass nil for no context", len(context))
	case sizeOfContext < 0:
		return fmt.Sprintf("wSizeOfContext is negative (%d)", sizeOfContext)
	case sizeOfContext > len(context):
		return fmt.Sprintf("wSizeOfContext %d is larger than lpContext's %d bytes", sizeOfContext, len(context))
	case sizeOfContext > driverapi.MaxConnectionContext:
		return fmt.Sprintf("wSizeOfContext %d is over the limit of %d bytes", sizeOfContext, driverapi.MaxConnectionContext)
	}
	return ""
}
