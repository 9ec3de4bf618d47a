package avscan_test

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/avscan"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser"
)

// The avscan filter and its scanner service: an infected file is refused, a clean one opens
// (and is not scanned again), and the unload handshake stops the service.
func Example() {
	w := harness.NewWorld()
	defer w.Close()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{
		`readme.txt`: []byte("hello"),
		`virus.txt`:  []byte("...message to be found..."),
	}})
	w.Load("avscan", &avscan.Driver{})
	scanner, err := avscanuser.Start(context.Background(), w.NewProcess("avscan.exe", kernel.TokenAdmin()), avscanuser.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}

	app := w.NewProcess("notepad.exe", kernel.TokenStandardUser())
	for _, name := range []string{`C:\virus.txt`, `C:\readme.txt`, `C:\readme.txt`} {
		h, err := app.CreateFile(name, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		if err != nil {
			fmt.Println(name, err)
			continue
		}
		app.CloseHandle(h)
		fmt.Println(name, "opened")
	}
	fmt.Println("scan requests:", len(scanner.Stats().Requests))

	fmt.Println("unload:", harness.HRESULTOf(w.Unload("avscan")))
	<-scanner.Done()
	fmt.Println("FilterUnloading received:", scanner.Stats().Unloading)
	// Output:
	// C:\virus.txt ERROR_VIRUS_INFECTED (225)
	// C:\readme.txt opened
	// C:\readme.txt opened
	// scan requests: 2
	// unload: S_OK (0x00000000)
	// FilterUnloading received: 1
}
