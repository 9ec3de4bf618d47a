package fltlib_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

// A user-mode client dials the minimal sample driver's port, receives the kernel's message
// and replies; then asks the driver something with FilterSendMessage.
func ExampleDial() {
	w := harness.NewWorld()
	drv := &minimal.Driver{}
	w.Load("minimal", drv)

	svc := w.NewProcess("service.exe", kernel.TokenAdmin())
	conn, err := fltlib.Dial(context.Background(), svc, minimal.PortName, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The driver pushes a message and waits (up to 30 s) for the reply.
	answer := make(chan string)
	go func() {
		reply, st := drv.Notify(context.Background(), []byte("hello from the kernel"), 16, driverapi.RelativeTimeout(30e9))
		answer <- fmt.Sprintf("%q %v", reply, st)
	}()

	m, err := conn.Receive(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("received #%d %q, reply capacity %d\n", m.ID, m.Payload, m.ReplyCapacity)
	if err := conn.Reply(m, kernel.STATUS_SUCCESS, []byte(strings.ToUpper("ok"))); err != nil {
		fmt.Println(err)
	}
	fmt.Println("driver got:", <-answer)

	out := make([]byte, 32)
	n, err := conn.Send(context.Background(), []byte("shout"), out)
	fmt.Println("MessageNotify answered:", string(out[:n]), err)

	conn.Close()
	fmt.Println(w.Close())
	// Output:
	// received #1 "hello from the kernel", reply capacity 16
	// driver got: "OK" STATUS_SUCCESS (0x00000000)
	// MessageNotify answered: SHOUT <nil>
	// <nil>
}
