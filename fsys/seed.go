package fsys

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// TestAccess is a test's direct access to the files of a volume: seeding it, changing
// attributes and security, and reading back what reached the disk. It bypasses the filters,
// share access and access checks, which no Windows caller can do; drivers and the emulated
// I/O path never use it.
type TestAccess struct{ v *Volume }

// TestAccess returns the test's direct access to the volume's files.
func (v *Volume) TestAccess() TestAccess { return TestAccess{v} }

// testPath makes a test's path (`dir/a.txt`, `\dir\a.txt`) volume-relative.
func testPath(p string) string {
	p = strings.ReplaceAll(p, "/", `\`)
	if !strings.HasPrefix(p, `\`) {
		p = `\` + p
	}
	return p
}

// MkdirAll creates the directory path and its missing parents, bypassing the filters.
func (t TestAccess) MkdirAll(path string) error {
	v := t.v
	pn, st := parseName(testPath(path))
	if st != kernel.STATUS_SUCCESS || pn.stream != "" {
		return fmt.Errorf("fsys: %s: bad directory path %s", v.name, kernel.Quote(path))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, err := v.mkdirAllLocked(pn.comps)
	return err
}

func (v *Volume) mkdirAllLocked(comps []string) (*fsNode, error) {
	n := v.root
	for _, c := range comps {
		child := n.children[key(c)]
		if child == nil {
			child = &fsNode{name: c, parent: n, dir: true, children: map[string]*fsNode{}, id: v.newID()}
			child.streams = map[string]*Stream{"": {vol: v, node: child}}
			n.children[key(c)] = child
		} else if !child.dir {
			return nil, fmt.Errorf("fsys: %s: %s is a file, not a directory", v.name, child.path())
		}
		n = child
	}
	return n, nil
}

// WriteFileData creates or replaces the file at path (volume-relative, `dir\a.txt` or
// `a.txt:stream`) with a copy of data, creating missing parent directories. It bypasses the
// filters and share access: it is for seeding a test.
func (t TestAccess) WriteFileData(path string, data []byte) error {
	v := t.v
	pn, st := parseName(testPath(path))
	if st != kernel.STATUS_SUCCESS || len(pn.comps) == 0 {
		return fmt.Errorf("fsys: %s: bad file path %s", v.name, kernel.Quote(path))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	parent, err := v.mkdirAllLocked(pn.comps[:len(pn.comps)-1])
	if err != nil {
		return err
	}
	final := pn.comps[len(pn.comps)-1]
	n := parent.children[key(final)]
	if n == nil {
		n = &fsNode{name: final, parent: parent, streams: map[string]*Stream{}, attrs: FILE_ATTRIBUTE_ARCHIVE, id: v.newID()}
		n.streams[""] = &Stream{vol: v, node: n}
		parent.children[key(final)] = n
	} else if n.dir {
		return fmt.Errorf("fsys: %s: %s is a directory", v.name, n.path())
	}
	s := n.streams[key(pn.stream)]
	if s == nil {
		s = &Stream{vol: v, node: n, name: pn.stream}
		n.streams[key(pn.stream)] = s
	}
	s.data = append([]byte(nil), data...)
	return nil
}

// FileData returns a copy of the contents of the file (or stream) at path, and whether it
// exists and is a file. It is for asserting what reached the disk.
func (t TestAccess) FileData(path string) ([]byte, bool) {
	v := t.v
	pn, st := parseName(testPath(path))
	if st != kernel.STATUS_SUCCESS || len(pn.comps) == 0 {
		return nil, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, s := v.findLocked(pn)
	if n == nil || n.dir || s == nil {
		return nil, false
	}
	return append([]byte{}, s.data...), true
}

// Exists reports whether a file, stream or directory exists at path.
func (t TestAccess) Exists(path string) bool {
	v := t.v
	pn, st := parseName(testPath(path))
	if st != kernel.STATUS_SUCCESS {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, s := v.findLocked(pn)
	return n != nil && s != nil
}

// IsDirectory reports whether path is a directory.
func (t TestAccess) IsDirectory(path string) bool {
	v := t.v
	pn, st := parseName(testPath(path))
	if st != kernel.STATUS_SUCCESS || pn.stream != "" {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, _ := v.findLocked(pn)
	return n != nil && n.dir
}

// SetAttributes sets the attributes of the file or directory at path (FILE_ATTRIBUTE_READONLY,
// ...), bypassing the filters.
func (t TestAccess) SetAttributes(path string, attrs uint32) error {
	v := t.v
	return v.withNode(path, func(n *fsNode) { n.attrs = attrs &^ FILE_ATTRIBUTE_DIRECTORY })
}

// SetSecurity gives the file or directory at path a security descriptor (a copy); nil
// removes it (everything is granted).
func (t TestAccess) SetSecurity(path string, sd *kernel.SecurityDescriptor) error {
	v := t.v
	return v.withNode(path, func(n *fsNode) { n.sd = sd.Clone() })
}

func (v *Volume) withNode(path string, f func(*fsNode)) error {
	pn, st := parseName(testPath(path))
	if st != kernel.STATUS_SUCCESS || pn.stream != "" {
		return fmt.Errorf("fsys: %s: bad path %s", v.name, kernel.Quote(path))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n, _ := v.findLocked(pn)
	if n == nil {
		return fmt.Errorf("fsys: %s: %s not found", v.name, kernel.Quote(path))
	}
	f(n)
	return nil
}

// Paths lists every directory (with a trailing `\`), file and named stream (`a.txt:s`) of
// the volume, sorted, the root excluded.
func (t TestAccess) Paths() []string {
	v := t.v
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	var walk func(n *fsNode)
	walk = func(n *fsNode) {
		for _, c := range n.children {
			p := c.path()
			if c.dir {
				out = append(out, p+`\`)
				walk(c)
				continue
			}
			out = append(out, p)
			for _, s := range c.streams {
				if s.name != "" {
					out = append(out, p+":"+s.name)
				}
			}
		}
	}
	walk(v.root)
	sort.Strings(out)
	return out
}

// SeedFS copies the tree of src under root (a directory of src, "." for all) into the
// volume's root, bypassing the filters: directories become directories, regular files
// files.
func (t TestAccess) SeedFS(src fs.FS, root string) error {
	return fs.WalkDir(src, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if rel == "" || rel == "." {
			return nil
		}
		if d.IsDir() {
			return t.MkdirAll(rel)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		return t.WriteFileData(rel, data)
	})
}

// OpenFileObjects returns the number of file objects of the volume not yet closed, for leak
// checks.
func (t TestAccess) OpenFileObjects() int {
	v := t.v
	v.mu.Lock()
	defer v.mu.Unlock()
	c := 0
	var walk func(n *fsNode)
	walk = func(n *fsNode) {
		for _, s := range n.streams {
			c += s.objects
		}
		for _, ch := range n.children {
			walk(ch)
		}
	}
	walk(v.root)
	return c
}
