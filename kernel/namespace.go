package kernel

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Namespace is the object namespace of one world: names such as `\ScannerPort`, compared
// case-insensitively (OBJ_CASE_INSENSITIVE), mapped to the objects that own them. The zero
// value is an empty namespace.
type Namespace struct {
	mu      sync.Mutex
	entries map[string]nsEntry
}

type nsEntry struct {
	name string // as inserted
	obj  any
}

func newNamespace() *Namespace { return &Namespace{entries: make(map[string]nsEntry)} }

func nsKey(name string) string { return strings.ToUpper(name) }

// ValidObjectName reports whether name is a usable object name: absolute (starts with `\`),
// not only `\`, no empty component, no NUL.
func ValidObjectName(name string) bool {
	if len(name) < 2 || name[0] != '\\' || strings.ContainsRune(name, 0) {
		return false
	}
	return !strings.Contains(name, `\\`) && !strings.HasSuffix(name, `\`)
}

// Insert adds name → obj. A malformed name is STATUS_OBJECT_NAME_INVALID; a name already
// present (in any case) is STATUS_OBJECT_NAME_COLLISION; a nil object, or one whose type
// cannot be compared with == (a slice, a map, a func: Remove could not tell its owner), is
// STATUS_INVALID_PARAMETER.
func (n *Namespace) Insert(name string, obj any) NTSTATUS {
	if obj == nil || !reflect.TypeOf(obj).Comparable() {
		return STATUS_INVALID_PARAMETER
	}
	if !ValidObjectName(name) {
		return STATUS_OBJECT_NAME_INVALID
	}
	k := nsKey(name)
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.entries[k]; ok {
		return STATUS_OBJECT_NAME_COLLISION
	}
	if n.entries == nil {
		n.entries = make(map[string]nsEntry)
	}
	n.entries[k] = nsEntry{name: name, obj: obj}
	return STATUS_SUCCESS
}

// Lookup finds the object of name, case-insensitively, or returns STATUS_OBJECT_NAME_NOT_FOUND
// (STATUS_OBJECT_NAME_INVALID for a malformed name).
func (n *Namespace) Lookup(name string) (any, NTSTATUS) {
	if !ValidObjectName(name) {
		return nil, STATUS_OBJECT_NAME_INVALID
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.entries[nsKey(name)]
	if !ok {
		return nil, STATUS_OBJECT_NAME_NOT_FOUND
	}
	return e.obj, STATUS_SUCCESS
}

// Remove deletes name if it still refers to obj (so a stale owner cannot remove a newer
// object of the same name). It returns STATUS_OBJECT_NAME_NOT_FOUND otherwise.
func (n *Namespace) Remove(name string, obj any) NTSTATUS {
	k := nsKey(name)
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.entries[k]
	if !ok || !sameObject(e.obj, obj) {
		return STATUS_OBJECT_NAME_NOT_FOUND
	}
	delete(n.entries, k)
	return STATUS_SUCCESS
}

// Names lists the names present, sorted, as they were inserted.
func (n *Namespace) Names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.entries))
	for _, e := range n.entries {
		out = append(out, e.name)
	}
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
