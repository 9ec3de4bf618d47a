package fsys

import (
	"strings"

	"github.com/fltemu/fltemu/kernel"
)

// parsedName is a volume-relative name split into directory components, the final
// component and a stream name.
type parsedName struct {
	comps  []string // all components, the final one included; empty for the root
	stream string   // "" for the default stream
}

const invalidNameChars = "\"*/:<>?|"

func validComponent(c string) bool {
	if c == "" || c == "." || c == ".." || len(c) > 255 {
		return false
	}
	for _, r := range c {
		if r < 0x20 || strings.ContainsRune(invalidNameChars, r) || r == '\\' {
			return false
		}
	}
	return true
}

// parseName splits a volume-relative name (`\dir\file:stream:$DATA`).
func parseName(name string) (parsedName, kernel.NTSTATUS) {
	if name == "" || name[0] != '\\' {
		return parsedName{}, kernel.STATUS_OBJECT_NAME_INVALID
	}
	rest := strings.TrimSuffix(name[1:], `\`)
	if rest == "" {
		return parsedName{}, kernel.STATUS_SUCCESS
	}
	parts := strings.Split(rest, `\`)
	last := parts[len(parts)-1]
	var pn parsedName
	if i := strings.IndexByte(last, ':'); i >= 0 {
		stream := last[i+1:]
		last = last[:i]
		if j := strings.IndexByte(stream, ':'); j >= 0 {
			if !strings.EqualFold(stream[j+1:], "$DATA") {
				return parsedName{}, kernel.STATUS_OBJECT_NAME_INVALID
			}
			stream = stream[:j]
		} else if stream == "" {
			return parsedName{}, kernel.STATUS_OBJECT_NAME_INVALID
		}
		if stream != "" && !validComponent(stream) {
			return parsedName{}, kernel.STATUS_OBJECT_NAME_INVALID
		}
		pn.stream = stream
		parts[len(parts)-1] = last
	}
	for _, c := range parts {
		if !validComponent(c) {
			return parsedName{}, kernel.STATUS_OBJECT_NAME_INVALID
		}
	}
	pn.comps = parts
	return pn, kernel.STATUS_SUCCESS
}

func key(s string) string { return strings.ToUpper(s) }

// lookupParent walks to the parent directory of the final component; mu is held.
func (v *Volume) lookupParent(pn parsedName) (*fsNode, kernel.NTSTATUS) {
	n := v.root
	for _, c := range pn.comps[:len(pn.comps)-1] {
		child := n.children[key(c)]
		if child == nil || !child.dir {
			return nil, kernel.STATUS_OBJECT_PATH_NOT_FOUND
		}
		n = child
	}
	return n, kernel.STATUS_SUCCESS
}

// path returns the node's path with the case it was created with; mu is held.
func (n *fsNode) path() string {
	if n.parent == nil {
		return `\`
	}
	var parts []string
	for x := n; x.parent != nil; x = x.parent {
		parts = append(parts, x.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('\\')
		b.WriteString(parts[i])
	}
	return b.String()
}

func (n *fsNode) isUnder(d *fsNode) bool {
	for x := n; x != nil; x = x.parent {
		if x == d {
			return true
		}
	}
	return false
}

func (n *fsNode) openHandlesBelow() int {
	c := n.handles
	for _, ch := range n.children {
		c += ch.openHandlesBelow()
	}
	return c
}

func (v *Volume) findLocked(pn parsedName) (*fsNode, *Stream) {
	if len(pn.comps) == 0 {
		return v.root, v.root.streams[""]
	}
	parent, st := v.lookupParent(pn)
	if st != kernel.STATUS_SUCCESS {
		return nil, nil
	}
	n := parent.children[key(pn.comps[len(pn.comps)-1])]
	if n == nil {
		return nil, nil
	}
	return n, n.streams[key(pn.stream)]
}

// NormalizeName returns the normalized form of a volume-relative name (see FileObject.Path).
func (v *Volume) NormalizeName(name string) (string, kernel.NTSTATUS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.normalizeLocked(name)
}

func (v *Volume) normalizeLocked(name string) (string, kernel.NTSTATUS) {
	pn, st := parseName(name)
	if st != kernel.STATUS_SUCCESS {
		return "", st
	}
	if len(pn.comps) == 0 {
		return `\`, kernel.STATUS_SUCCESS
	}
	parent, st := v.lookupParent(pn)
	if st != kernel.STATUS_SUCCESS {
		return "", st
	}
	final := pn.comps[len(pn.comps)-1]
	p := parent.path()
	if p != `\` {
		p += `\`
	}
	if n := parent.children[key(final)]; n != nil {
		final = n.name
		if s := n.streams[key(pn.stream)]; s != nil {
			pn.stream = s.name
		}
	}
	p += final
	if pn.stream != "" {
		p += ":" + pn.stream
	}
	return p, kernel.STATUS_SUCCESS
}
