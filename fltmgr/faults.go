package fltmgr

import "github.com/fltemu/fltemu/kernel"

// Routine names the fault hook is consulted for (the WDK and fltlib names).
const (
	RoutineRegisterFilter          = "FltRegisterFilter"
	RoutineStartFiltering          = "FltStartFiltering"
	RoutineCreateCommunicationPort = "FltCreateCommunicationPort"
	RoutineSendMessage             = "FltSendMessage"
	RoutineConnect                 = "FilterConnectCommunicationPort"
)

// Routines lists the routine names a FaultHook may be asked about.
func Routines() []string {
	return []string{RoutineRegisterFilter, RoutineStartFiltering, RoutineCreateCommunicationPort,
		RoutineSendMessage, RoutineConnect}
}

// FaultHook decides whether a call of routine (one of Routines) made by or to driver fails:
// a non-zero status is returned to the caller instead of doing the work. It is called on the
// caller's goroutine with no lock held, once per call, after argument validation. It is the
// emulator's one fault-injection mechanism on the kernel side (harness.Faults installs it and
// decides the user-side fltlib calls itself); nothing wraps the driver's FilterManager.
type FaultHook func(routine, driver string) kernel.NTSTATUS

// SetFaultHook installs h (nil removes it).
func (m *Manager) SetFaultHook(h FaultHook) {
	if h == nil {
		m.faultHook.Store(nil)
		return
	}
	m.faultHook.Store(&h)
}

func (m *Manager) fault(routine, driver string) kernel.NTSTATUS {
	if h := m.faultHook.Load(); h != nil {
		if st := (*h)(routine, driver); st != kernel.STATUS_SUCCESS {
			m.noteEntryFailure(driver, routine, st, "failed by the test's fault injection")
			return st
		}
	}
	return kernel.STATUS_SUCCESS
}
