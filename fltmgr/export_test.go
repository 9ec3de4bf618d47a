package fltmgr

import "github.com/fltemu/fltemu/driverapi"

// DriverView returns the filter manager as a driver sees it, for the tests that call the
// driver routines without loading a driver.
func DriverView(m *Manager) driverapi.FilterManager { return &driverView{m: m} }
