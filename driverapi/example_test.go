package driverapi_test

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// verdictDriver creates its port in DriverEntry and closes it in its unload callback, then
// unregisters, in the order Windows expects.
type verdictDriver struct {
	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort
	client driverapi.ClientPort
}

func (d *verdictDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:      driverapi.FLT_REGISTRATION_VERSION,
		FilterUnload: d.unload,
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	sd, _ := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	attrs := driverapi.InitializeObjectAttributes(`\VerdictPort`, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil,
		func(_ context.Context, p driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
			d.client.Store(p)
			return nil, kernel.STATUS_SUCCESS
		},
		func(context.Context, any) { fm.CloseClientPort(f, &d.client) },
		nil, 1)
	fm.FreeSecurityDescriptor(sd)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

func (d *verdictDriver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.fm.CloseCommunicationPort(d.server)
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

// ask sends a question to user mode and waits up to 5 s for a one-byte verdict.
func (d *verdictDriver) ask(question string) (byte, kernel.NTSTATUS) {
	reply := make([]byte, 1)
	n := uint32(len(reply))
	st := d.fm.SendMessage(context.Background(), d.filter, &d.client, []byte(question), reply, &n,
		driverapi.RelativeTimeout(5e9))
	if st != kernel.STATUS_SUCCESS { // STATUS_TIMEOUT is a success code: compare exactly
		return 0, st
	}
	return reply[0], st
}

// A driver that creates its communication port in DriverEntry and closes it in its unload
// callback, loaded into an emulated machine, with a service answering its question.
func Example_driver() {
	w := harness.NewWorld()
	d := &verdictDriver{}
	fmt.Println("load:", harness.HRESULTOf(w.Load("verdict", d)))

	svc := w.NewProcess("service.exe", kernel.TokenAdmin())
	conn, err := fltlib.Dial(context.Background(), svc, `\VerdictPort`, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		m, err := conn.Receive(context.Background())
		if err == nil {
			_ = conn.Reply(m, kernel.STATUS_SUCCESS, []byte{1})
		}
	}()
	v, st := d.ask("is it safe?")
	fmt.Println("verdict:", v, st)
	<-served // the service's Reply has returned: no call of it still holds the handle

	fmt.Println("unload:", harness.HRESULTOf(w.Unload("verdict")))
	_ = conn.Close() // the service closes its handle; a handle left open fails the teardown
	fmt.Println("teardown:", w.Close())
	// Output:
	// load: S_OK (0x00000000)
	// verdict: 1 STATUS_SUCCESS (0x00000000)
	// unload: S_OK (0x00000000)
	// teardown: <nil>
}
