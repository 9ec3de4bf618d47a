package driverapi

import (
	"context"

	"github.com/fltemu/fltemu/internal/drvhost"
)

// The host's half of CallbackData lives in internal/drvhost, out of a driver's view; only this
// package can set the unexported fields, so it installs the constructor there.
func init() {
	drvhost.NewCallbackData = func(ctx context.Context, owner any) any {
		if ctx == nil {
			ctx = context.Background()
		}
		return &CallbackData{ctx: ctx, owner: owner, Thread: CurrentThread(ctx), Iopb: &IoParameterBlock{}}
	}
	drvhost.CallbackDataOwner = func(data any) any {
		if d, ok := data.(*CallbackData); ok && d != nil {
			return d.owner
		}
		return nil
	}
}
