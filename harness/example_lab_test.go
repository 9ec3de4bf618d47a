package harness_test

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

// Fault injection forces the rare failures a Windows VM almost never shows: here the port
// creation of DriverEntry fails once with STATUS_INSUFFICIENT_RESOURCES, then the service
// process is killed right after it receives the driver's first message.
func ExampleFaults() {
	w := harness.NewWorld() // in a test: harness.New(t) or harness.Run(t, ...)

	if err := w.Faults().FailNth(fltmgr.RoutineCreateCommunicationPort, 1, kernel.STATUS_INSUFFICIENT_RESOURCES); err != nil {
		panic(err)
	}
	fmt.Println("first load: ", harness.HRESULTOf(w.Load("minimal", &minimal.Driver{})))
	drv := &minimal.Driver{}
	fmt.Println("second load:", harness.HRESULTOf(w.Load("minimal", drv)))

	svc := w.NewProcess("service.exe", kernel.TokenAdmin())
	h, _ := svc.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
	if err := w.Faults().KillAt(svc, harness.Received(svc, 1)); err != nil {
		panic(err)
	}
	got := make(chan struct{})
	go func() { // the service's receive loop
		defer close(got)
		svc.FilterGetMessage(h, make([]byte, 64), nil)
	}()
	_, st := drv.Notify(context.Background(), []byte("scan me"), 8, nil) // no timeout
	<-got
	fmt.Println("FltSendMessage:", st)
	fmt.Println("service exit code:", svc.Kernel().ExitCode())

	for _, e := range w.Trace().Filter(kernel.EvFaultInjected) {
		fmt.Printf("trace: %s, process %q, driver %q, status %q\n", e.Kind, e.Process, e.Driver, e.Status)
	}
	fmt.Println("teardown:", w.Close())

	// A misspelt routine is rejected with the list of valid names.
	fmt.Println(w.Faults().FailNth("FltSendMesage", 1, kernel.STATUS_INSUFFICIENT_RESOURCES) != nil)

	// Output:
	// first load:  HRESULT_FROM_WIN32(ERROR_NO_SYSTEM_RESOURCES) (0x800705AA)
	// second load: S_OK (0x00000000)
	// FltSendMessage: STATUS_PORT_DISCONNECTED (0xC0000037)
	// service exit code: 1
	// trace: fault-injected, process "", driver "minimal", status "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)"
	// trace: fault-injected, process "service.exe (pid 8)", driver "minimal", status ""
	// teardown: <nil>
	// true
}
