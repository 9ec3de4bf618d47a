package harness

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// Volumes of the world and the resolution of a Win32 path to a volume and a volume-relative name.

// AddVolume creates a volume from cfg and mounts it (R-IO-VOL-1): filters already filtering
// attach to it automatically. A local volume without a DeviceName gets the next
// \Device\HarddiskVolumeN. The seed files (cfg.Files) are written directly, not through the
// filters. It returns an error for a bad configuration or a drive letter in use.
func (w *World) AddVolume(cfg fsys.VolumeConfig) (*fsys.Volume, error) {
	if cfg.DeviceName == "" && cfg.Kind == fsys.VolumeLocal {
		cfg.DeviceName = w.fm.NextLocalDeviceName()
	}
	v, err := fsys.NewVolume(cfg)
	if err != nil {
		return nil, err
	}
	if st := w.fm.AddVolume(v); st != kernel.STATUS_SUCCESS {
		return nil, fmt.Errorf("harness: cannot mount volume %s: %w", v.Name(), st)
	}
	return v, nil
}

// MustAddVolume is AddVolume for tests: it panics on an error (a test bug).
func (w *World) MustAddVolume(cfg fsys.VolumeConfig) *fsys.Volume {
	v, err := w.AddVolume(cfg)
	if err != nil {
		panic(err)
	}
	return v
}

// AddVolumeFromDir is AddVolume with the volume seeded from the directory tree dir of the
// host (testdata/volumes/c, say), after cfg.Files.
func (w *World) AddVolumeFromDir(cfg fsys.VolumeConfig, dir string) (*fsys.Volume, error) {
	return w.addVolumeFrom(cfg, os.DirFS(dir), dir)
}

// AddVolumeFromFS is AddVolume with the volume seeded from files, after cfg.Files: every
// directory of files becomes a directory of the volume's root and every regular file a file
// with the same contents (other entries, symbolic links say, are skipped). files may be an
// embed.FS holding a test's disk image, an fstest.MapFS written in the test, or os.DirFS. The
// seeding bypasses the filters, as cfg.Files does.
//
//	v, err := w.AddVolumeFromFS(fsys.VolumeConfig{Name: "C:"}, fstest.MapFS{
//		"docs/a.txt": {Data: []byte("hello")},
//	})
func (w *World) AddVolumeFromFS(cfg fsys.VolumeConfig, files fs.FS) (*fsys.Volume, error) {
	if files == nil {
		return nil, fmt.Errorf("harness: AddVolumeFromFS(%s): nil fs.FS", cfg.Name)
	}
	return w.addVolumeFrom(cfg, files, fmt.Sprintf("%T", files))
}

// addVolumeFrom makes cfg's volume, seeds it from files (what names them in an error) and
// mounts it.
func (w *World) addVolumeFrom(cfg fsys.VolumeConfig, files fs.FS, what string) (*fsys.Volume, error) {
	if cfg.DeviceName == "" && cfg.Kind == fsys.VolumeLocal {
		cfg.DeviceName = w.fm.NextLocalDeviceName()
	}
	v, err := fsys.NewVolume(cfg)
	if err != nil {
		return nil, err
	}
	if err := v.TestAccess().SeedFS(files, "."); err != nil {
		return nil, fmt.Errorf("harness: seeding %s from %s: %w", v.Name(), what, err)
	}
	if st := w.fm.AddVolume(v); st != kernel.STATUS_SUCCESS {
		return nil, fmt.Errorf("harness: cannot mount volume %s: %w", v.Name(), st)
	}
	return v, nil
}

// Volume returns the mounted volume with the drive letter ("C:") or device name, nil if none.
func (w *World) Volume(name string) *fsys.Volume {
	v, _ := w.fm.Volume(name)
	return v
}

// FileData returns what is on disk for a Win32 path (`C:\dir\a.txt`), bypassing the
// filters, and whether the file exists.
func (w *World) FileData(path string) ([]byte, bool) {
	v, rel, st := w.resolvePath(path)
	if st != kernel.STATUS_SUCCESS {
		return nil, false
	}
	return v.TestAccess().FileData(rel)
}

// Instances lists the instances attached to a volume, highest altitude first, as
// "driver/instance@altitude".
func (w *World) Instances(volume string) []string { return w.fm.Instances(volume) }

// resolvePath turns a Win32 path into a volume and a volume-relative NT name.
func (w *World) resolvePath(path string) (*fsys.Volume, string, kernel.NTSTATUS) {
	p := strings.ReplaceAll(path, "/", `\`)
	literal := false
	switch {
	case strings.HasPrefix(p, `\\?\UNC\`):
		p, literal = `\\`+p[8:], true
	case strings.HasPrefix(p, `\\?\`), strings.HasPrefix(p, `\??\`):
		p, literal = p[4:], true
	case strings.HasPrefix(p, `\\.\`):
		p = p[4:]
	}
	var vol *fsys.Volume
	var rest string
	switch {
	case strings.HasPrefix(p, `\\`):
		parts := strings.SplitN(p[2:], `\`, 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, "", kernel.STATUS_OBJECT_NAME_INVALID
		}
		share := `\` + parts[0] + `\` + parts[1]
		for _, v := range w.fm.Volumes() {
			if v.Kind() == fsys.VolumeNetwork && strings.EqualFold(v.Share(), share) {
				vol = v
			}
		}
		if vol == nil {
			return nil, "", kernel.STATUS_OBJECT_PATH_NOT_FOUND
		}
		if len(parts) == 3 {
			rest = `\` + parts[2]
		}
	case len(p) >= 2 && p[1] == ':':
		v, ok := w.fm.Volume(p[:2])
		if !ok {
			return nil, "", kernel.STATUS_OBJECT_PATH_NOT_FOUND
		}
		vol, rest = v, p[2:]
		if rest != "" && rest[0] != '\\' {
			rest = `\` + rest // no current directory per drive: relative to the root
		}
	default:
		return nil, "", kernel.STATUS_OBJECT_NAME_INVALID
	}
	if rest == "" {
		rest = `\`
	}
	if literal {
		return vol, rest, kernel.STATUS_SUCCESS
	}
	var out []string
	for _, c := range strings.Split(rest, `\`) {
		c = strings.TrimRight(c, ". ")
		switch c {
		case "":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		out = append(out, c)
	}
	// "." components became "" above and were skipped.
	return vol, `\` + strings.Join(out, `\`), kernel.STATUS_SUCCESS
}
