package harness_test

import (
	"embed"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

//go:embed testdata/seed
var seedFS embed.FS

// R-IO-VOL-1: a volume is seeded from any fs.FS (an embed.FS, an fstest.MapFS), after the
// configuration's Files, with the filters bypassed; a file the fs.FS cannot read fails the
// call and mounts nothing.
func TestFilesVolumeSeedingFromFS(t *testing.T) {
	w := harness.New(t)
	v, err := w.AddVolumeFromFS(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{`extra.txt`: []byte("x")}}, fstest.MapFS{
		"docs/a.txt":  {Data: []byte("alpha")},
		"empty":       {Mode: fs.ModeDir | 0o755},
		"deep/er/b.c": {Data: []byte("int main;")},
	})
	require.NoError(t, err)
	require.Equal(t, []string{`\deep\`, `\deep\er\`, `\deep\er\b.c`, `\docs\`, `\docs\a.txt`, `\empty\`, `\extra.txt`}, v.TestAccess().Paths())
	data, ok := w.FileData(`C:\docs\a.txt`)
	require.True(t, ok)
	require.Equal(t, "alpha", string(data))

	// An embed.FS holds the embedded directory itself: fs.Sub makes it the volume's root.
	sub, err := fs.Sub(seedFS, "testdata/seed")
	require.NoError(t, err)
	_, err = w.AddVolumeFromFS(fsys.VolumeConfig{Name: "D:"}, sub)
	require.NoError(t, err)
	data, ok = w.FileData(`D:\docs\readme.txt`)
	require.True(t, ok)
	require.Equal(t, "seeded from an embed.FS\n", string(data))

	// Through a process, the seeded file reads like any other.
	p := w.NewProcess("reader.exe", kernel.TokenStandardUser())
	h, err := p.CreateFile(`D:\app.exe`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	buf := make([]byte, 8)
	n, err := p.ReadFile(h, buf)
	require.NoError(t, err)
	require.Equal(t, "MZ", string(buf[:n]))
	require.NoError(t, p.CloseHandle(h))

	_, err = w.AddVolumeFromFS(fsys.VolumeConfig{Name: "E:"}, nil)
	require.EqualError(t, err, "harness: AddVolumeFromFS(E:): nil fs.FS")
	_, err = w.AddVolumeFromFS(fsys.VolumeConfig{Name: "E:"}, fstest.MapFS{"bad\x00name": {Data: []byte("x")}})
	require.ErrorContains(t, err, "harness: seeding E: from fstest.MapFS")
	require.Nil(t, w.Volume("E:"))
	_, err = w.AddVolumeFromFS(fsys.VolumeConfig{Name: "C:"}, fstest.MapFS{})
	require.ErrorContains(t, err, "harness: cannot mount volume C:")
}

// A volume seeded from an fstest.MapFS (an embed.FS of testdata works the same way), read by a
// user process.
func ExampleWorld_AddVolumeFromFS() {
	w := harness.NewWorld()
	defer w.Close()
	_, err := w.AddVolumeFromFS(fsys.VolumeConfig{Name: "C:"}, fstest.MapFS{
		"Users/alice/notes.txt": {Data: []byte("buy milk")},
		"Windows/System32":      {Mode: fs.ModeDir | 0o755}, // an empty directory
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := w.NewProcess("notepad.exe", kernel.TokenStandardUser())
	h, err := p.CreateFile(`C:\Users\alice\notes.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	buf := make([]byte, 64)
	n, _ := p.ReadFile(h, buf)
	p.CloseHandle(h)
	fmt.Printf("%q\n", buf[:n])
	fmt.Println(w.Volume("C:").TestAccess().Paths())
	// Output:
	// "buy milk"
	// [\Users\ \Users\alice\ \Users\alice\notes.txt \Windows\ \Windows\System32\]
}
