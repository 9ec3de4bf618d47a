package harness_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// irqlDriver has a port and post-create and post-write callbacks; each post-write does what
// its mode says with the port, and every callback records the IRQL it saw.
type irqlDriver struct {
	mode string // "send", "close", "safe", "workitem", "name"

	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	client driverapi.ClientPort

	mu     sync.Mutex
	levels map[string]kernel.KIRQL
	done   chan struct{}
}

func (d *irqlDriver) saw(where string) {
	d.mu.Lock()
	d.levels[where] = d.fm.GetCurrentIrql()
	d.mu.Unlock()
}

func (d *irqlDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm, d.levels, d.done = fm, map[string]kernel.KIRQL{}, make(chan struct{})
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:  driverapi.FLT_REGISTRATION_VERSION,
		Altitude: "370000",
		FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			fm.CloseCommunicationPort(d.server)
			fm.UnregisterFilter(d.filter)
			return kernel.STATUS_SUCCESS
		},
		OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_CREATE, PostOperation: d.postCreate},
			{MajorFunction: driverapi.IRP_MJ_WRITE, PostOperation: d.postWrite},
		},
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(`\IrqlPort`, driverapi.OBJ_KERNEL_HANDLE, kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS))
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil,
		func(_ context.Context, p driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
			d.saw("ConnectNotify")
			d.client.Store(p)
			return nil, kernel.STATUS_SUCCESS
		},
		func(context.Context, any) {
			d.saw("DisconnectNotify")
			fm.CloseClientPort(f, &d.client)
		},
		func(context.Context, any, []byte, []byte) (uint32, kernel.NTSTATUS) {
			d.saw("MessageNotify")
			return 0, kernel.STATUS_SUCCESS
		}, 1)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

func (d *irqlDriver) postCreate(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
	d.saw("post-create")
	return driverapi.FLT_POSTOP_FINISHED_PROCESSING
}

// notify is what the driver does with the write it saw: a one-way message to its service.
func (d *irqlDriver) notify(ctx context.Context) {
	d.fm.SendMessage(ctx, d.filter, &d.client, []byte("written"), nil, nil, driverapi.NoWait())
}

func (d *irqlDriver) postWrite(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, cctx any, flags driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
	d.saw("post-write")
	switch d.mode {
	case "send":
		d.notify(data.Context())
	case "close":
		d.fm.CloseClientPort(d.filter, &d.client)
	case "name":
		if info, st := d.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED); st == kernel.STATUS_SUCCESS {
			d.fm.ReleaseFileNameInformation(info)
		}
	case "safe":
		st, ok := d.fm.DoCompletionProcessingWhenSafe(data, objs, cctx, flags,
			func(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
				d.saw("safe")
				d.notify(data.Context())
				return driverapi.FLT_POSTOP_FINISHED_PROCESSING
			})
		if !ok {
			panic("FltDoCompletionProcessingWhenSafe refused an IRP-based write")
		}
		return st
	case "workitem":
		go func() { // a work item runs on a system worker thread, at PASSIVE_LEVEL
			defer close(d.done)
			d.saw("work item")
			d.notify(context.Background())
		}()
	}
	return driverapi.FLT_POSTOP_FINISHED_PROCESSING
}

// irqlWrite loads d, connects a service, and has a user process write a file.
func irqlWrite(t *testing.T, w *harness.World, d *irqlDriver) {
	t.Helper()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:"})
	require.NoError(t, w.Load("irql", d))
	svc := w.NewProcess("svc.exe", kernel.TokenAdmin())
	c, err := fltlib.Dial(context.Background(), svc, `\IrqlPort`, nil)
	require.NoError(t, err)
	go c.Receive(context.Background()) // takes the one-way message, if one is sent
	p := w.NewProcess("app.exe", kernel.TokenStandardUser())
	h, err := p.CreateFile(`C:\f.txt`, kernel.GENERIC_WRITE, 0, nil, harness.CREATE_ALWAYS, 0)
	require.NoError(t, err)
	_, err = p.WriteFile(h, []byte("data"))
	require.NoError(t, err)
	require.NoError(t, p.CloseHandle(h))
	c.Close()
}

// R-IRQL-1, R-IRQL-2: the port callbacks and post-create run at PASSIVE_LEVEL, other
// post-operation callbacks at DISPATCH_LEVEL; a routine that may wait, called from there, is
// R-VERIFY-9 (and then proceeds).
func TestIRQLPostWriteRoutines(t *testing.T) {
	for _, tc := range []struct {
		mode, routine string
	}{
		{"send", "FltSendMessage"},
		{"close", "FltCloseClientPort"},
		{"name", "FltGetFileNameInformation"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			harness.Run(t, func(t *testing.T, w *harness.World) {
				w.ExpectViolation(kernel.RuleVerify9).Containing(tc.routine+" called at DISPATCH_LEVEL", "FltDoCompletionProcessingWhenSafe").Times(1)
				d := &irqlDriver{mode: tc.mode}
				irqlWrite(t, w, d)
				d.mu.Lock()
				defer d.mu.Unlock()
				require.Equal(t, kernel.DISPATCH_LEVEL, d.levels["post-write"])
				require.Equal(t, kernel.PASSIVE_LEVEL, d.levels["post-create"])
				require.Equal(t, kernel.PASSIVE_LEVEL, d.levels["ConnectNotify"])
			})
		})
	}
}

// R-IRQL-2: the ways out — FltDoCompletionProcessingWhenSafe runs its callback at
// PASSIVE_LEVEL on the same thread, and a work item runs at PASSIVE_LEVEL — report nothing.
func TestIRQLSafeWaysOut(t *testing.T) {
	for _, mode := range []string{"safe", "workitem"} {
		t.Run(mode, func(t *testing.T) {
			harness.Run(t, func(t *testing.T, w *harness.World) {
				d := &irqlDriver{mode: mode}
				irqlWrite(t, w, d)
				if mode == "workitem" {
					<-d.done
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				require.Equal(t, kernel.DISPATCH_LEVEL, d.levels["post-write"])
				where := map[string]string{"safe": "safe", "workitem": "work item"}[mode]
				lvl, ok := d.levels[where]
				require.True(t, ok, "the %s callback never ran", where)
				require.Equal(t, kernel.PASSIVE_LEVEL, lvl, where)
				require.Empty(t, w.Kernel().Verifier().Violations())
			})
		})
	}
}

// R-IRQL-3: the port callbacks run at PASSIVE_LEVEL, and so does a driver's own goroutine.
func TestIRQLPortCallbacksArePassive(t *testing.T) {
	harness.Run(t, func(t *testing.T, w *harness.World) {
		d := &irqlDriver{}
		require.NoError(t, w.Load("irql", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h, hr := p.FilterConnectCommunicationPort(`\IrqlPort`, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		require.Equal(t, kernel.S_OK, p.FilterSendMessage(h, []byte("x"), nil, nil))
		require.NoError(t, p.CloseHandle(h))
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, cb := range []string{"ConnectNotify", "MessageNotify", "DisconnectNotify"} {
			lvl, ok := d.levels[cb]
			require.True(t, ok, cb)
			require.Equal(t, kernel.PASSIVE_LEVEL, lvl, cb)
		}
		require.Equal(t, kernel.PASSIVE_LEVEL, d.fm.GetCurrentIrql())
	})
}
