package harness_test

import (
	"fmt"
	"strings"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// noSecrets is a minifilter that denies every open of a *.secret file: its pre-create looks
// at the normalized name and completes the open with STATUS_ACCESS_DENIED, so the file
// system never sees it.
type noSecrets struct {
	fm     driverapi.FilterManager
	filter driverapi.Filter
}

func (d *noSecrets) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version:  driverapi.FLT_REGISTRATION_VERSION,
		Altitude: "370000",
		FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			fm.UnregisterFilter(d.filter)
			return kernel.STATUS_SUCCESS
		},
		OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: d.preCreate},
			{MajorFunction: driverapi.IRP_MJ_OPERATION_END},
		},
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	if st := fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return kernel.STATUS_SUCCESS
}

func (d *noSecrets) preCreate(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	info, st := d.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED|driverapi.FLT_FILE_NAME_QUERY_DEFAULT)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	defer d.fm.ReleaseFileNameInformation(info)
	d.fm.ParseFileNameInformation(info)
	if strings.EqualFold(info.Extension, "secret") {
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		return driverapi.FLT_PREOP_COMPLETE
	}
	return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
}

// A filter that denies opens of *.secret files, a volume seeded by the test, and a user
// process that tries to read both files.
func Example_denySecretFiles() {
	w := harness.NewWorld()
	defer w.Close()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{
		`notes\todo.txt`:     []byte("buy milk"),
		`notes\plans.SECRET`: []byte("world domination"),
	}})
	if err := w.Load("nosecrets", &noSecrets{}); err != nil {
		fmt.Println("load:", err)
		return
	}
	p := w.NewProcess("notepad.exe", kernel.TokenStandardUser())
	for _, name := range []string{`C:\notes\todo.txt`, `C:\notes\plans.SECRET`} {
		h, err := p.CreateFile(name, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
		if err != nil {
			fmt.Printf("%s: %v\n", name, err)
			continue
		}
		buf := make([]byte, 64)
		n, _ := p.ReadFile(h, buf)
		fmt.Printf("%s: %q\n", name, buf[:n])
		p.CloseHandle(h)
	}
	// The data is still on the volume: the filter only denied the open.
	data, _ := w.FileData(`C:\notes\plans.SECRET`)
	fmt.Printf("on disk: %q\n", data)
	// Output:
	// C:\notes\todo.txt: "buy milk"
	// C:\notes\plans.SECRET: ERROR_ACCESS_DENIED (5)
	// on disk: "world domination"
}
