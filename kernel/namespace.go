package kernel

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Namespace is the object namespace of one world: a tree of object directories rooted at `\`
// whose leaves are named objects such as the server port `\ScannerPort`. A world's namespace
// starts with the directories every Windows machine has (`\Device`, `\RPC Control`,
// `\BaseNamedObjects`, ...); the zero value holds only the root.
//
// Names are looked up the way ObpLookupObjectName walks them (R-MODEL-1, R-USER connect 5):
//   - an empty name, or one that does not start with `\`, is STATUS_OBJECT_PATH_SYNTAX_BAD;
//   - an empty component (`\\P`, `\P\`, `\a\\b`) is STATUS_OBJECT_NAME_INVALID;
//   - a missing directory on the way is STATUS_OBJECT_PATH_NOT_FOUND, a missing last
//     component STATUS_OBJECT_NAME_NOT_FOUND;
//   - a component that names an object which is not a directory, with more name after it, is
//     STATUS_OBJECT_TYPE_MISMATCH (a port has no parse procedure).
//
// Comparison is case-sensitive unless the caller asks otherwise (OBJ_CASE_INSENSITIVE): the
// filter manager opens a port for a user with no attributes, and the port's object type is
// not a case-insensitive type, so `\scannerport` does not find `\ScannerPort`.
type Namespace struct {
	mu   sync.Mutex
	root *ObjectDirectory // guarded by mu (created on first use for the zero value)
}

// ObjectDirectory is an object directory of the namespace (the Directory object type).
// Lookup returns it for a name that ends at a directory; it is not a port, so opening it as
// one fails with STATUS_OBJECT_TYPE_MISMATCH.
type ObjectDirectory struct {
	name    string
	entries map[string]nsNode // component name as inserted → entry; guarded by Namespace.mu
}

// Name returns the directory's full name (`\` for the root).
func (d *ObjectDirectory) Name() string { return d.name }

type nsNode struct {
	dir *ObjectDirectory // a directory, or
	obj any              // a named object
}

// StandardDirectories are the object directories a new world's namespace starts with.
var StandardDirectories = []string{
	`\ArcName`, `\BaseNamedObjects`, `\Callback`, `\Device`, `\Driver`, `\FileSystem`,
	`\FileSystem\Filters`, `\GLOBAL??`, `\KernelObjects`, `\ObjectTypes`, `\RPC Control`,
	`\Security`, `\Sessions`, `\Windows`,
}

func newNamespace() *Namespace {
	n := &Namespace{}
	for _, d := range StandardDirectories {
		n.CreateDirectory(d)
	}
	return n
}

func (n *Namespace) rootDir() *ObjectDirectory {
	if n.root == nil {
		n.root = &ObjectDirectory{name: `\`, entries: make(map[string]nsNode)}
	}
	return n.root
}

// ValidObjectName reports whether name is syntactically a usable absolute object name: it
// starts with `\`, is not only `\`, and has no empty component. Whether its directories exist
// is for Lookup to say.
func ValidObjectName(name string) bool {
	_, st := splitObjectName(name)
	return st == STATUS_SUCCESS && name != `\`
}

// splitObjectName returns the components of an absolute name (none for `\`).
func splitObjectName(name string) ([]string, NTSTATUS) {
	if name == "" || name[0] != '\\' {
		return nil, STATUS_OBJECT_PATH_SYNTAX_BAD
	}
	if name == `\` {
		return nil, STATUS_SUCCESS
	}
	parts := strings.Split(name[1:], `\`)
	for _, p := range parts {
		if p == "" {
			return nil, STATUS_OBJECT_NAME_INVALID
		}
	}
	return parts, STATUS_SUCCESS
}

// find returns the entry named comp in d, exactly or, when caseInsensitive, in any case.
func (d *ObjectDirectory) find(comp string, caseInsensitive bool) (string, nsNode, bool) {
	if e, ok := d.entries[comp]; ok {
		return comp, e, true
	}
	if caseInsensitive {
		for k, e := range d.entries {
			if strings.EqualFold(k, comp) {
				return k, e, true
			}
		}
	}
	return "", nsNode{}, false
}

// walk resolves every component of parts but the last to a directory. Called with n.mu held.
func (n *Namespace) walk(parts []string, caseInsensitive bool) (*ObjectDirectory, NTSTATUS) {
	d := n.rootDir()
	for _, comp := range parts[:len(parts)-1] {
		_, e, ok := d.find(comp, caseInsensitive)
		switch {
		case !ok:
			return nil, STATUS_OBJECT_PATH_NOT_FOUND
		case e.dir == nil:
			return nil, STATUS_OBJECT_TYPE_MISMATCH
		}
		d = e.dir
	}
	return d, STATUS_SUCCESS
}

// Insert adds name → obj, as ObInsertObject does for a named object. The name is checked as
// Lookup checks it (syntax, missing directories); a name already present is
// STATUS_OBJECT_NAME_COLLISION — compared without case when caseInsensitive (the creator passed
// OBJ_CASE_INSENSITIVE), exactly otherwise. A nil object, or one whose type cannot be compared
// with == (a slice, a map, a func: Remove could not tell its owner), is
// STATUS_INVALID_PARAMETER.
func (n *Namespace) Insert(name string, obj any, caseInsensitive bool) NTSTATUS {
	if obj == nil || !reflect.TypeOf(obj).Comparable() {
		return STATUS_INVALID_PARAMETER
	}
	return n.insert(name, nsNode{obj: obj}, caseInsensitive)
}

// CreateDirectory adds an object directory (NtCreateDirectoryObject), case-insensitively as
// directories are. An existing directory of that name is STATUS_OBJECT_NAME_COLLISION.
func (n *Namespace) CreateDirectory(name string) NTSTATUS {
	return n.insert(name, nsNode{dir: &ObjectDirectory{name: name, entries: make(map[string]nsNode)}}, true)
}

func (n *Namespace) insert(name string, e nsNode, caseInsensitive bool) NTSTATUS {
	parts, st := splitObjectName(name)
	if st != STATUS_SUCCESS {
		return st
	}
	if len(parts) == 0 {
		return STATUS_OBJECT_NAME_COLLISION // `\` is the root directory
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	d, st := n.walk(parts, caseInsensitive)
	if st != STATUS_SUCCESS {
		return st
	}
	last := parts[len(parts)-1]
	if _, _, ok := d.find(last, caseInsensitive); ok {
		return STATUS_OBJECT_NAME_COLLISION
	}
	if _, ok := d.entries[last]; ok { // exact duplicates collide whatever the flag
		return STATUS_OBJECT_NAME_COLLISION
	}
	d.entries[last] = e
	return STATUS_SUCCESS
}

// Lookup finds the object of name (see the type's comment for the statuses). A name that ends
// at a directory returns its *ObjectDirectory.
func (n *Namespace) Lookup(name string, caseInsensitive bool) (any, NTSTATUS) {
	parts, st := splitObjectName(name)
	if st != STATUS_SUCCESS {
		return nil, st
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(parts) == 0 {
		return n.rootDir(), STATUS_SUCCESS
	}
	d, st := n.walk(parts, caseInsensitive)
	if st != STATUS_SUCCESS {
		return nil, st
	}
	_, e, ok := d.find(parts[len(parts)-1], caseInsensitive)
	if !ok {
		return nil, STATUS_OBJECT_NAME_NOT_FOUND
	}
	if e.dir != nil {
		return e.dir, STATUS_SUCCESS
	}
	return e.obj, STATUS_SUCCESS
}

// Remove deletes name if it still refers to obj (so a stale owner cannot remove a newer
// object of the same name); the name is matched without case, the object by identity. It
// returns STATUS_OBJECT_NAME_NOT_FOUND otherwise.
func (n *Namespace) Remove(name string, obj any) NTSTATUS {
	parts, st := splitObjectName(name)
	if st != STATUS_SUCCESS || len(parts) == 0 {
		return STATUS_OBJECT_NAME_NOT_FOUND
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	d, st := n.walk(parts, true)
	if st != STATUS_SUCCESS {
		return STATUS_OBJECT_NAME_NOT_FOUND
	}
	last := parts[len(parts)-1]
	for k, e := range d.entries {
		if e.dir == nil && strings.EqualFold(k, last) && sameObject(e.obj, obj) {
			delete(d.entries, k)
			return STATUS_SUCCESS
		}
	}
	return STATUS_OBJECT_NAME_NOT_FOUND
}

// Names lists the full names of the named objects present (not the directories), sorted, as
// they were inserted.
func (n *Namespace) Names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	var visit func(prefix string, d *ObjectDirectory)
	visit = func(prefix string, d *ObjectDirectory) {
		for k, e := range d.entries {
			if e.dir != nil {
				visit(prefix+k+`\`, e.dir)
			} else {
				out = append(out, prefix+k)
			}
		}
	}
	visit(`\`, n.rootDir())
	sort.Strings(out)
	return out
}

// sameObject is e.obj == obj without the panic == raises for two values of the same
// comparable-looking type that hold something uncomparable (a struct with an interface field
// holding a slice).
func sameObject(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
