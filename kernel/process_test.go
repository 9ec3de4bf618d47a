package kernel_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

// countedObject returns an object whose cleanup hook counts its runs.
func countedObject(name string) (*kernel.Object, *atomic.Int32) {
	var n atomic.Int32
	return kernel.NewObject("TestObject", name, name, func() { n.Add(1) }), &n
}

func newProc(t *testing.T, w *kernel.World, image string) *kernel.Process {
	t.Helper()
	p, st := w.CreateProcess(image, kernel.TokenStandardUser(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	t.Cleanup(func() { p.Exit(0) })
	return p
}

func TestCreateProcess(t *testing.T) {
	w := kernel.New()
	tok := kernel.TokenAdmin()
	p1, st := w.CreateProcess("svc.exe", tok, nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	p2, st := w.CreateProcess("other.exe", kernel.TokenStandardUser(), nil, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)

	require.NotZero(t, p1.ID())
	require.NotEqual(t, p1.ID(), p2.ID())
	require.NotEqual(t, uint32(4), p1.ID(), "pid 4 is System")
	require.Equal(t, "svc.exe", p1.ImageName())
	require.Same(t, tok, p1.Token())
	require.Same(t, w, p1.World())
	require.Equal(t, uint32(0), p1.ParentID())
	require.False(t, p1.Exited())
	require.Contains(t, p1.String(), "svc.exe")

	got, ok := w.Process(p2.ID())
	require.True(t, ok)
	require.Same(t, p2, got)
	require.Equal(t, []*kernel.Process{p1, p2}, w.Processes())

	p1.Exit(7)
	require.True(t, p1.Exited())
	require.Equal(t, uint32(7), p1.ExitCode())
	select {
	case <-p1.Done():
	default:
		t.Fatal("Done not closed after Exit")
	}
	_, ok = w.Process(p1.ID())
	require.False(t, ok)
	require.Equal(t, []*kernel.Process{p2}, w.Processes())
	p1.Exit(9) // exiting twice does nothing
	require.Equal(t, uint32(7), p1.ExitCode())
	p2.Exit(0)
	require.Empty(t, w.Processes())
	require.Empty(t, w.OpenHandles())

	evs := w.Trace().Filter(kernel.EvProcessCreated, kernel.EvProcessExited)
	require.Len(t, evs, 4)
}

func TestCreateProcessBadInput(t *testing.T) {
	w := kernel.New()
	p, st := w.CreateProcess("", kernel.TokenAdmin(), nil, false)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	require.Nil(t, p)
	p, st = w.CreateProcess("x.exe", nil, nil, false)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	require.Nil(t, p)

	// A parent from another world.
	other := newProc(t, kernel.New(), "other.exe")
	p, st = w.CreateProcess("x.exe", kernel.TokenAdmin(), other, true)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	require.Nil(t, p)

	// An exited parent.
	parent := newProc(t, w, "parent.exe")
	parent.Exit(0)
	p, st = w.CreateProcess("x.exe", kernel.TokenAdmin(), parent, true)
	require.Equal(t, kernel.STATUS_PROCESS_IS_TERMINATING, st)
	require.Nil(t, p)
	require.Empty(t, w.Processes())
}

// R-USER (CloseHandle, DuplicateHandle, process exit) 1: handles belong to one process.
func TestHandlesPerProcess(t *testing.T) {
	w := kernel.New()
	a, b := newProc(t, w, "a.exe"), newProc(t, w, "b.exe")
	obj, cleaned := countedObject("o")

	h, st := a.InsertHandle(obj, 0x3, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.NotEqual(t, kernel.InvalidHandle, h)
	require.NotZero(t, h)
	require.Equal(t, 1, obj.HandleCount())

	got, access, st := a.ReferenceHandle(h)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, obj, got)
	require.Equal(t, kernel.AccessMask(0x3), access)

	// The value means nothing in b.
	_, _, st = b.ReferenceHandle(h)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, b.CloseHandle(h))
	require.Equal(t, 1, obj.HandleCount())

	// Handles in b are numbered in a range of their own.
	hb, st := b.InsertHandle(obj, 0x1, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.NotEqual(t, h, hb)
	_, _, st = a.ReferenceHandle(hb)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)
	require.Equal(t, 2, obj.HandleCount())

	infos := a.Handles()
	require.Len(t, infos, 1)
	require.Equal(t, h, infos[0].Handle)
	require.Same(t, a, infos[0].Process)
	require.Same(t, obj, infos[0].Object)
	require.Contains(t, infos[0].String(), "a.exe")
	require.Len(t, w.OpenHandles(), 2)

	// Two handles in one process differ.
	h2, st := a.InsertHandle(obj, 0x1, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.NotEqual(t, h, h2)

	require.Equal(t, kernel.STATUS_SUCCESS, a.CloseHandle(h))
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, a.CloseHandle(h), "double close")
	_, _, st = a.ReferenceHandle(h)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)
	require.Equal(t, kernel.STATUS_SUCCESS, a.CloseHandle(h2))
	require.Equal(t, int32(0), cleaned.Load(), "b still holds a handle")
	require.Equal(t, kernel.STATUS_SUCCESS, b.CloseHandle(hb))
	require.Equal(t, int32(1), cleaned.Load())
	require.Equal(t, 0, obj.HandleCount())
}

func TestHandleBadInput(t *testing.T) {
	w := kernel.New()
	p := newProc(t, w, "a.exe")
	h, st := p.InsertHandle(nil, 1, false)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	require.Equal(t, kernel.InvalidHandle, h)
	for _, bad := range []kernel.Handle{0, kernel.InvalidHandle, 4, 0xdead} {
		_, _, st := p.ReferenceHandle(bad)
		require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)
		require.Equal(t, kernel.STATUS_INVALID_HANDLE, p.CloseHandle(bad))
	}
	require.Empty(t, p.Handles())
}

func TestObject(t *testing.T) {
	o := kernel.NewObject("FilterConnectionPort", `\P`, 42, nil)
	require.Equal(t, "FilterConnectionPort", o.Type())
	require.Equal(t, `\P`, o.Name())
	require.Equal(t, 42, o.Body())
	require.Equal(t, `FilterConnectionPort "\P"`, o.String())
	require.Equal(t, "IoCompletion", kernel.NewObject("IoCompletion", "", nil, nil).String())

	// A nil cleanup hook is fine.
	p := newProc(t, kernel.New(), "a.exe")
	h, st := p.InsertHandle(o, 0, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, kernel.STATUS_SUCCESS, p.CloseHandle(h))
	require.Equal(t, 0, o.HandleCount())
}

func TestDuplicateHandleWithinProcess(t *testing.T) {
	w := kernel.New()
	p := newProc(t, w, "a.exe")
	obj, cleaned := countedObject("o")
	h, _ := p.InsertHandle(obj, 0x7, false)

	// DUPLICATE_SAME_ACCESS copies the access, ignoring the access argument.
	d1, st := kernel.DuplicateHandle(p, h, p, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.NotEqual(t, h, d1)
	_, access, _ := p.ReferenceHandle(d1)
	require.Equal(t, kernel.AccessMask(0x7), access)

	// A subset.
	d2, st := kernel.DuplicateHandle(p, h, p, 0x2, true, 0)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, access, _ = p.ReferenceHandle(d2)
	require.Equal(t, kernel.AccessMask(0x2), access)

	// A superset is denied and opens nothing.
	d3, st := kernel.DuplicateHandle(p, d2, p, 0x3, false, 0)
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)
	require.Equal(t, kernel.InvalidHandle, d3)
	require.Equal(t, 3, obj.HandleCount())

	// DUPLICATE_CLOSE_SOURCE closes the source.
	d4, st := kernel.DuplicateHandle(p, h, p, 0, false, kernel.DUPLICATE_SAME_ACCESS|kernel.DUPLICATE_CLOSE_SOURCE)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, _, st = p.ReferenceHandle(h)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)
	require.Equal(t, 3, obj.HandleCount())
	require.Equal(t, int32(0), cleaned.Load())

	for _, x := range []kernel.Handle{d1, d2, d4} {
		require.Equal(t, kernel.STATUS_SUCCESS, p.CloseHandle(x))
	}
	require.Equal(t, int32(1), cleaned.Load())
}

func TestDuplicateHandleAcrossProcesses(t *testing.T) {
	w := kernel.New()
	a, b := newProc(t, w, "a.exe"), newProc(t, w, "b.exe")
	obj, cleaned := countedObject("o")
	h, _ := a.InsertHandle(obj, 0x5, false)

	hb, st := kernel.DuplicateHandle(a, h, b, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	got, access, st := b.ReferenceHandle(hb)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, obj, got)
	require.Equal(t, kernel.AccessMask(0x5), access)

	// Subset and superset across processes.
	hb2, st := kernel.DuplicateHandle(a, h, b, 0x4, false, 0)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	_, access, _ = b.ReferenceHandle(hb2)
	require.Equal(t, kernel.AccessMask(0x4), access)
	_, st = kernel.DuplicateHandle(a, h, b, 0xF, false, 0)
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)

	// A superset with DUPLICATE_CLOSE_SOURCE: denied, and the source is closed anyway.
	ha2, _ := a.InsertHandle(obj, 0x1, false)
	_, st = kernel.DuplicateHandle(a, ha2, b, 0x3, false, kernel.DUPLICATE_CLOSE_SOURCE)
	require.Equal(t, kernel.STATUS_ACCESS_DENIED, st)
	_, _, st = a.ReferenceHandle(ha2)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)

	// The source value is not valid in the target, and a target value not in the source.
	_, st = kernel.DuplicateHandle(b, h, a, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)

	// Move the handle with DUPLICATE_CLOSE_SOURCE: a no longer has it.
	hb3, st := kernel.DuplicateHandle(a, h, b, 0, false, kernel.DUPLICATE_SAME_ACCESS|kernel.DUPLICATE_CLOSE_SOURCE)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Empty(t, a.Handles())
	require.Len(t, b.Handles(), 3)
	require.Equal(t, int32(0), cleaned.Load())

	for _, x := range []kernel.Handle{hb, hb2} {
		require.Equal(t, kernel.STATUS_SUCCESS, b.CloseHandle(x))
	}
	require.Equal(t, int32(0), cleaned.Load())
	require.Equal(t, kernel.STATUS_SUCCESS, b.CloseHandle(hb3))
	require.Equal(t, int32(1), cleaned.Load())
}

func TestDuplicateHandleBadInput(t *testing.T) {
	w := kernel.New()
	a, b := newProc(t, w, "a.exe"), newProc(t, w, "b.exe")
	obj, cleaned := countedObject("o")
	h, _ := a.InsertHandle(obj, 0x1, false)

	for _, tc := range []struct {
		name     string
		src, dst *kernel.Process
		h        kernel.Handle
		options  uint32
		want     kernel.NTSTATUS
	}{
		{"nil source", nil, b, h, kernel.DUPLICATE_SAME_ACCESS, kernel.STATUS_INVALID_PARAMETER},
		{"nil target", a, nil, h, kernel.DUPLICATE_SAME_ACCESS, kernel.STATUS_INVALID_PARAMETER},
		{"unknown option", a, b, h, 0x4, kernel.STATUS_INVALID_PARAMETER},
		{"unknown handle", a, b, 0x1234, kernel.DUPLICATE_SAME_ACCESS, kernel.STATUS_INVALID_HANDLE},
		{"zero handle", a, b, 0, kernel.DUPLICATE_SAME_ACCESS, kernel.STATUS_INVALID_HANDLE},
		{"invalid handle", a, b, kernel.InvalidHandle, kernel.DUPLICATE_SAME_ACCESS, kernel.STATUS_INVALID_HANDLE},
	} {
		nh, st := kernel.DuplicateHandle(tc.src, tc.h, tc.dst, 0, false, tc.options)
		require.Equal(t, tc.want, st, tc.name)
		require.Equal(t, kernel.InvalidHandle, nh, tc.name)
	}
	// A process of another world.
	stranger := newProc(t, kernel.New(), "stranger.exe")
	_, st := kernel.DuplicateHandle(a, h, stranger, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	require.Empty(t, stranger.Handles())
	_, st = kernel.DuplicateHandle(stranger, h, a, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)

	// Nothing was opened or closed by the refused calls.
	require.Len(t, a.Handles(), 1)
	require.Empty(t, b.Handles())
	require.Equal(t, 1, obj.HandleCount())

	// Into an exited process: the duplicate fails; DUPLICATE_CLOSE_SOURCE still closes the
	// source, and that was the last handle.
	b.Exit(0)
	_, st = kernel.DuplicateHandle(a, h, b, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_PROCESS_IS_TERMINATING, st)
	require.Equal(t, int32(0), cleaned.Load())
	_, st = kernel.DuplicateHandle(a, h, b, 0, false, kernel.DUPLICATE_SAME_ACCESS|kernel.DUPLICATE_CLOSE_SOURCE)
	require.Equal(t, kernel.STATUS_PROCESS_IS_TERMINATING, st)
	require.Equal(t, int32(1), cleaned.Load())
	require.Empty(t, a.Handles())
}

func TestInheritHandles(t *testing.T) {
	w := kernel.New()
	parent := newProc(t, w, "parent.exe")
	inh, inhCleaned := countedObject("inherited")
	priv, privCleaned := countedObject("private")
	hi, _ := parent.InsertHandle(inh, 0x3, true)
	hp, _ := parent.InsertHandle(priv, 0x1, false)

	child, st := w.CreateProcess("child.exe", parent.Token(), parent, true)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	t.Cleanup(func() { child.Exit(0) })
	require.Equal(t, parent.ID(), child.ParentID())

	// Only the inheritable handle, with the same value and access.
	hs := child.Handles()
	require.Len(t, hs, 1)
	require.Equal(t, hi, hs[0].Handle)
	require.Same(t, inh, hs[0].Object)
	require.Equal(t, kernel.AccessMask(0x3), hs[0].Access)
	require.True(t, hs[0].Inherit)
	_, _, st = child.ReferenceHandle(hp)
	require.Equal(t, kernel.STATUS_INVALID_HANDLE, st)
	require.Equal(t, 2, inh.HandleCount())
	require.Equal(t, 1, priv.HandleCount())

	// The child's own new handles do not collide with the inherited value, nor with values
	// the parent hands out later.
	nc, _ := child.InsertHandle(priv, 0, false)
	np, _ := parent.InsertHandle(priv, 0, false)
	require.NotEqual(t, hi, nc)
	require.NotEqual(t, np, nc)

	// Without inheritHandles the child gets nothing.
	child2, st := w.CreateProcess("child2.exe", parent.Token(), parent, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Empty(t, child2.Handles())
	child2.Exit(0)

	// Grandchild: the inherited handle is inheritable in the child too.
	grand, st := w.CreateProcess("grand.exe", child.Token(), child, true)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Len(t, grand.Handles(), 1)
	require.Equal(t, hi, grand.Handles()[0].Handle)

	// The object's cleanup runs once, when the last of the three processes lets go.
	require.Equal(t, kernel.STATUS_SUCCESS, parent.CloseHandle(hi))
	child.Exit(0)
	require.Equal(t, int32(0), inhCleaned.Load())
	grand.Exit(0)
	require.Equal(t, int32(1), inhCleaned.Load())

	parent.Exit(0)
	require.Equal(t, int32(1), privCleaned.Load())
	require.Equal(t, int32(1), inhCleaned.Load())
}

// R-USER (CloseHandle, DuplicateHandle, process exit) 3: a process that exits closes all its
// handles; later inserts fail.
func TestProcessExitClosesHandles(t *testing.T) {
	w := kernel.New()
	a, b := newProc(t, w, "a.exe"), newProc(t, w, "b.exe")
	o1, c1 := countedObject("o1")
	o2, c2 := countedObject("o2")
	shared, cs := countedObject("shared")
	for _, o := range []*kernel.Object{o1, o1, o2, shared} {
		_, st := a.InsertHandle(o, 1, false)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
	}
	hb, _ := b.InsertHandle(shared, 1, false)

	a.Exit(3)
	require.Empty(t, a.Handles())
	require.Equal(t, int32(1), c1.Load(), "two handles, one cleanup")
	require.Equal(t, int32(1), c2.Load())
	require.Equal(t, int32(0), cs.Load(), "b still holds shared")
	require.Equal(t, 1, shared.HandleCount())

	h, st := a.InsertHandle(o1, 1, false)
	require.Equal(t, kernel.STATUS_PROCESS_IS_TERMINATING, st)
	require.Equal(t, kernel.InvalidHandle, h)
	require.Equal(t, 0, o1.HandleCount())

	a.Exit(3) // no second cleanup
	require.Equal(t, int32(1), c1.Load())

	// Duplicating from b into the exited a fails; a's old values are gone.
	_, st = kernel.DuplicateHandle(b, hb, a, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	require.Equal(t, kernel.STATUS_PROCESS_IS_TERMINATING, st)

	b.Exit(0)
	require.Equal(t, int32(1), cs.Load())
	require.Empty(t, w.OpenHandles())
}

// The cleanup hook of an object runs exactly once when its last handle closes, wherever the
// handles are and however they close.
func TestCleanupExactlyOnceConcurrent(t *testing.T) {
	w := kernel.New()
	const procs = 8
	ps := make([]*kernel.Process, procs)
	for i := range ps {
		ps[i] = newProc(t, w, "p.exe")
	}
	obj, cleaned := countedObject("o")
	h0, _ := ps[0].InsertHandle(obj, 0x1, false)
	var hs []kernel.Handle
	for i := 1; i < procs; i++ {
		h, st := kernel.DuplicateHandle(ps[0], h0, ps[i], 0, false, kernel.DUPLICATE_SAME_ACCESS)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		hs = append(hs, h)
	}
	require.Equal(t, procs, obj.HandleCount())

	var wg sync.WaitGroup
	for i := 1; i < procs; i++ {
		wg.Go(func() {
			if i%2 == 0 {
				ps[i].Exit(0)
			} else {
				require.Equal(t, kernel.STATUS_SUCCESS, ps[i].CloseHandle(hs[i-1]))
			}
		})
	}
	wg.Go(func() { ps[0].Exit(0) })
	wg.Wait()
	require.Equal(t, int32(1), cleaned.Load())
	require.Equal(t, 0, obj.HandleCount())
}

// No package-level state: two worlds are independent.
func TestWorldsIndependent(t *testing.T) {
	w1, w2 := kernel.New(), kernel.New()
	p1 := newProc(t, w1, "a.exe")
	p2 := newProc(t, w2, "a.exe")
	require.Equal(t, p1.ID(), p2.ID(), "each world numbers its processes from the start")
	require.Equal(t, []*kernel.Process{p1}, w1.Processes())
	require.Equal(t, []*kernel.Process{p2}, w2.Processes())
	_, ok := w2.Process(p1.ID())
	require.True(t, ok)
	got, _ := w2.Process(p1.ID())
	require.Same(t, p2, got)

	obj, _ := countedObject("o")
	_, st := p1.InsertHandle(obj, 1, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Len(t, w1.OpenHandles(), 1)
	require.Empty(t, w2.OpenHandles())

	p1.Exit(0)
	require.Empty(t, w1.Processes())
	require.Len(t, w2.Processes(), 1)
	require.NotSame(t, w1.Trace(), w2.Trace())
	require.NotSame(t, w1.Verifier(), w2.Verifier())
	require.NotSame(t, w1.Namespace(), w2.Namespace())
}
