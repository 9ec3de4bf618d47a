package minispy_test

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minispy"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyuser"
)

// The minispy driver and its user program: attach to C:, let an application write a file,
// read the log once.
func Example() {
	w := harness.NewWorld()
	defer w.Close()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:"})
	w.Load(minispyproto.FilterName, &minispy.Driver{})

	// The service polls by itself; this example reads the log once, by hand.
	spy, err := minispyuser.Start(context.Background(), w.NewProcess("minispy.exe", kernel.TokenAdmin()),
		minispyuser.Options{NoPolling: true})
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer spy.Stop()
	v, _ := spy.Version()
	fmt.Println("minispy", v)
	instance, _ := spy.Attach("C:")
	fmt.Println("attached:", instance)

	app := w.NewProcess("notepad.exe", kernel.TokenStandardUser())
	h, _ := app.CreateFile(`C:\hello.txt`, kernel.GENERIC_WRITE, 0, nil, harness.CREATE_NEW, 0)
	app.WriteFile(h, []byte("hello"))
	app.CloseHandle(h)

	recs, _, _, _ := spy.GetLog(make([]byte, minispyuser.BufferSize))
	for _, r := range recs {
		fmt.Println(r.SequenceNumber, driverapi.MajorFunction(r.Data.CallbackMajorId), r.Data.Status, r.Name)
	}
	_, _, hr, _ := spy.GetLog(make([]byte, minispyuser.BufferSize))
	fmt.Printf("then: 0x%08X\n", uint32(hr))
	// Output:
	// minispy 2.0
	// attached: Minispy - Top Instance
	// 1 IRP_MJ_CREATE STATUS_SUCCESS (0x00000000) \Device\HarddiskVolume1\hello.txt
	// 2 IRP_MJ_WRITE STATUS_SUCCESS (0x00000000) \Device\HarddiskVolume1\hello.txt
	// 3 IRP_MJ_CLEANUP STATUS_SUCCESS (0x00000000) \Device\HarddiskVolume1\hello.txt
	// 4 IRP_MJ_CLOSE STATUS_SUCCESS (0x00000000) <NO NAME: NormalizeStatus=c01c0005 OpenedStatus=c01c0005>
	// then: 0x80070103
}
