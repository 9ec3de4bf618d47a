package fltmgr

import (
	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// worldOf is drvhost.WorldOf: the world behind a driver's view (or the Manager itself).
func worldOf(fm any) *kernel.World {
	switch v := fm.(type) {
	case *driverView:
		return v.m.world
	case *Manager:
		return v.world
	}
	return nil
}

// refuse is drvhost.Refuse: a refusal by a routine of the host that runs the driver of fm.
func refuse(fm any, routine string, st kernel.NTSTATUS, reason string) kernel.NTSTATUS {
	if v, ok := fm.(*driverView); ok {
		return v.m.refuse(v.driver, routine, st, reason)
	}
	return st
}

func init() {
	drvhost.WorldOf = worldOf
	drvhost.Refuse = refuse
}
