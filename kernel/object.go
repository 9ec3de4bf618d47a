package kernel

import (
	"sync"
)

// Object is the header of a kernel object that handles can refer to: a type name, an optional
// name for messages, the body the owning subsystem defines, and a handle count. When the last
// handle closes, the cleanup hook runs exactly once (it is the IRP_MJ_CLEANUP moment of a file
// object). The hook runs on the goroutine that closed the last handle, with no kernel lock held.
type Object struct {
	typ     string
	name    string
	body    any
	cleanup func(closer *Process)

	mu      sync.Mutex
	handles int
	cleaned bool
}

// NewObject makes an object of the given type ("FilterConnectionPort", "IoCompletion", ...).
// cleanup may be nil.
func NewObject(typ, name string, body any, cleanup func()) *Object {
	o := &Object{typ: typ, name: name, body: body}
	if cleanup != nil {
		o.cleanup = func(*Process) { cleanup() }
	}
	return o
}

// NewObjectClosedBy is NewObject with a cleanup hook that learns which process closed the last
// handle (the thread IRP_MJ_CLEANUP runs on belongs to it): the process calling CloseHandle,
// or the exiting process.
func NewObjectClosedBy(typ, name string, body any, cleanup func(closer *Process)) *Object {
	return &Object{typ: typ, name: name, body: body, cleanup: cleanup}
}

// Type returns the object type name.
func (o *Object) Type() string { return o.typ }

// Name returns the object's name, "" for an unnamed object.
func (o *Object) Name() string { return o.name }

// Body returns what the owning subsystem stored in the object.
func (o *Object) Body() any { return o.body }

// HandleCount returns the number of open handles to the object, in all processes.
func (o *Object) HandleCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.handles
}

// String describes the object for messages: `FilterConnectionPort "\ScannerPort"`.
func (o *Object) String() string {
	if o.name == "" {
		return o.typ
	}
	return o.typ + " " + Quote(o.name)
}

func (o *Object) addHandle() {
	o.mu.Lock()
	o.handles++
	o.mu.Unlock()
}

// dropHandle decrements the handle count and, for the last handle, runs the cleanup hook.
func (o *Object) dropHandle(closer *Process) {
	o.mu.Lock()
	o.handles--
	last := o.handles == 0 && !o.cleaned
	if last {
		o.cleaned = true
	}
	o.mu.Unlock()
	if last && o.cleanup != nil {
		o.cleanup(closer)
	}
}
