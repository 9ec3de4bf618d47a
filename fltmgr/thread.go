package fltmgr

import (
	"context"
	"time"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/internal/drvhost"
	"github.com/fltemu/fltemu/kernel"
)

// ThreadContext returns the context of a thread of user process p, for the calls a host
// makes on the process's behalf (Connect, Connection.Send, CloseUserEndpoint, NtCreateFile,
// ...): it carries the thread, so the driver's callbacks see p as the current process
// (driverapi.CurrentProcess, FltGetRequestorProcess), and it is done when p exits, as a
// thread ends with its process. A nil p gives a system thread (context.Background()).
func ThreadContext(p *kernel.Process) context.Context {
	if p == nil {
		return context.Background()
	}
	return drvhost.WithThread(exitContext{p}, &driverapi.Thread{Process: p, ID: p.ID() + 2})
}

// exitContext is a context that is done when the process exits.
type exitContext struct{ p *kernel.Process }

func (c exitContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c exitContext) Done() <-chan struct{}       { return c.p.Done() }
func (c exitContext) Value(any) any               { return nil }
func (c exitContext) Err() error {
	select {
	case <-c.p.Done():
		return context.Canceled
	default:
		return nil
	}
}
