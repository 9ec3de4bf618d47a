package fltmgr

import (
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// EntryFailure says which routine failed inside a driver's DriverEntry, with what status and
// why, so that a failed load can name the call to fix instead of only DriverEntry's status.
type EntryFailure struct {
	Routine string          // the WDK routine, e.g. "FltRegisterFilter"
	Status  kernel.NTSTATUS // what it returned
	Reason  string          // why, when the emulator knows ("" otherwise)
}

// String formats the failure: "FltRegisterFilter failed with STATUS_INVALID_PARAMETER
// (0xC000000D): <reason>".
func (e *EntryFailure) String() string {
	var b strings.Builder
	b.WriteString(e.Routine)
	b.WriteString(" failed with ")
	b.WriteString(e.Status.Error())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// refuse is how a routine a driver called fails an argument check: the refusal goes into the
// trace with its reason (EvRoutineFailed), and, during the driver's DriverEntry, becomes the
// load's explanation. It returns st.
func (m *Manager) refuse(driver, routine string, st kernel.NTSTATUS, reason string) kernel.NTSTATUS {
	m.trace(kernel.TraceEvent{Kind: kernel.EvRoutineFailed, Driver: driver, Detail: routine + ": " + reason,
		Routine: routine, Reason: reason}.WithStatus(st))
	m.noteEntryFailure(driver, routine, st, reason)
	return st
}

// noteEntryFailure keeps the first routine that failed while driver's DriverEntry runs.
func (m *Manager) noteEntryFailure(driver, routine string, st kernel.NTSTATUS, reason string) {
	if st.IsSuccess() || driver == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ld := m.drivers[strings.ToUpper(driver)]
	if ld == nil || ld.state != driverLoading || ld.entryFailure != nil {
		return
	}
	ld.entryFailure = &EntryFailure{Routine: routine, Status: st, Reason: reason}
}

// DriverEntryFailure returns the first routine that failed inside the last DriverEntry of the
// driver name, or nil if none did (or the driver is unknown).
func (m *Manager) DriverEntryFailure(name string) *EntryFailure {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ld := m.drivers[strings.ToUpper(name)]; ld != nil && ld.entryFailure != nil {
		f := *ld.entryFailure
		return &f
	}
	return nil
}
