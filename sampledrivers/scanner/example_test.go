package scanner_test

import (
	"context"
	"fmt"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/scanner"
	"github.com/fltemu/fltemu/sampledrivers/scanner/scanuser"
)

// The scanner filter and its service in a world: while the service runs, a text file that
// contains "foul" cannot be opened; once the service stops, it can.
func Example() {
	w := harness.NewWorld()
	defer w.Close()
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{
		`report.txt`: []byte("a foul report"), `notes.txt`: []byte("fine notes")}})
	d := &scanner.Driver{Config: scanner.Config{Extensions: scanner.InstallerExtensions()}}
	fmt.Println("load:", harness.HRESULTOf(w.Load("scanner", d)))

	svc := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
	sc, err := scanuser.Start(context.Background(), svc, scanuser.Options{}) // 2 workers × 5 outstanding Gets
	if err != nil {
		fmt.Println(err)
		return
	}
	app := w.NewProcess("notepad.exe", kernel.TokenStandardUser())
	open := func(name string) {
		h, err := app.CreateFile(name, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
		if err != nil {
			fmt.Printf("%s: %v\n", name, err)
			return
		}
		fmt.Printf("%s: opened\n", name)
		_ = app.CloseHandle(h)
	}
	open(`C:\report.txt`)
	open(`C:\notes.txt`)

	fmt.Println("stop:", sc.Stop(), sc.Stats().Messages, "messages")
	open(`C:\report.txt`)
	fmt.Println("unload:", harness.HRESULTOf(w.Unload("scanner")))
	// Output:
	// load: S_OK (0x00000000)
	// C:\report.txt: ERROR_ACCESS_DENIED (5)
	// C:\notes.txt: opened
	// stop: <nil> 2 messages
	// C:\report.txt: opened
	// unload: S_OK (0x00000000)
}
