package fltmgr_test

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

// The filter manager on its own, without the harness: load a driver, connect a process to its
// port (the kernel half of FilterConnectCommunicationPort), send it a request (the kernel half
// of FilterSendMessage), close the user endpoint, and unload. Tests normally use package
// harness, which adds handles, HRESULTs and the end-of-test checks on top of this.
func Example() {
	w := kernel.New()
	m := fltmgr.New(w)
	fmt.Println("load:", m.LoadDriver("minimal", &minimal.Driver{}))

	admin, _ := w.CreateProcess("svc.exe", kernel.TokenAdmin(), nil, false)
	user, _ := w.CreateProcess("user.exe", kernel.TokenStandardUser(), nil, false)
	_, st := m.Connect(fltmgr.ThreadContext(user), minimal.PortName, nil)
	fmt.Println("standard user:", st)

	conn, st := m.Connect(fltmgr.ThreadContext(admin), minimal.PortName, nil)
	fmt.Println("admin:", st)
	out := make([]byte, 8)
	n, st := conn.Send(fltmgr.ThreadContext(admin), []byte("ping"), out)
	fmt.Println("MessageNotify:", string(out[:n]), st)
	conn.CloseUserEndpoint(fltmgr.ThreadContext(admin)) // the last handle closed: DisconnectNotify runs

	fmt.Println("unload:", m.UnloadFilter(context.Background(), "minimal", false))
	fmt.Println("violations:", len(w.Verifier().Violations()))
	// Output:
	// load: STATUS_SUCCESS (0x00000000)
	// standard user: STATUS_ACCESS_DENIED (0xC0000022)
	// admin: STATUS_SUCCESS (0x00000000)
	// MessageNotify: PING STATUS_SUCCESS (0x00000000)
	// unload: STATUS_SUCCESS (0x00000000)
	// violations: 0
}
