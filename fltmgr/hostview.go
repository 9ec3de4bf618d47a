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

func init() { drvhost.WorldOf = worldOf }
