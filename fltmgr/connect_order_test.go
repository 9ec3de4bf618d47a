package fltmgr

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// TestConnectCheckOrderWhileDeleting checks the order of R-MODEL-2 around the "filter is being
// torn down" check, which the user API cannot reach deterministically (the unload closes the
// ports before it marks the filter, so the window is a race): the name first, then access,
// then FLT_DELETING_OBJECT, before the slot check and ConnectNotify. The filter is put in the
// state FltUnregisterFilter gives it while a connect is between its name lookup and its checks.
func TestConnectCheckOrderWhileDeleting(t *testing.T) {
	w := kernel.New()
	m := New(w)
	d := &testdriver.Driver{MaxConnections: 1}
	require.Equal(t, kernel.STATUS_SUCCESS, m.LoadDriver("test", d))
	admin, st := w.CreateProcess("svc.exe", kernel.TokenAdmin(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	user, st := w.CreateProcess("user.exe", kernel.TokenStandardUser(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	first, st := m.Connect(ThreadContext(admin), `\TestPort`, nil) // the only slot is taken
	require.Equal(t, kernel.STATUS_SUCCESS, st)

	f := d.Filter.(*filter)
	f.mu.Lock()
	f.state = filterUnregistering
	f.mu.Unlock()

	c, st := m.Connect(ThreadContext(admin), `\Missing`, nil)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
	require.Nil(t, c)
	c, st = m.Connect(ThreadContext(user), `\TestPort`, nil)
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)
	require.Nil(t, c)
	c, st = m.Connect(ThreadContext(admin), `\TestPort`, nil)
	require.Equal(t, kernel.STATUS_FLT_DELETING_OBJECT, st, "the deleting check comes before the slot check")
	require.Nil(t, c)
	require.Equal(t, kernel.HRESULT(0x801F000B), kernel.HResultFromNtStatus(st))
	require.Equal(t, int32(1), d.ConnectCalls.Load())

	f.mu.Lock()
	f.state = filterRegistered
	f.mu.Unlock()
	c, st = m.Connect(ThreadContext(admin), `\TestPort`, nil)
	require.Equal(t, kernel.STATUS_CONNECTION_COUNT_LIMIT, st)
	require.Nil(t, c)
	require.Equal(t, int32(1), d.ConnectCalls.Load())

	first.CloseUserEndpoint(context.Background())
	require.Equal(t, int32(1), d.Disconnects.Load())
	require.Equal(t, kernel.STATUS_SUCCESS, m.UnloadFilter(context.Background(), "test", true))
	require.Empty(t, m.Leftovers())
	require.Empty(t, w.Verifier().Violations())
	require.Empty(t, w.Namespace().Names())
}
