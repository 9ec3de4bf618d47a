package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

type nsObj struct{ id int }

// R-MODEL-1: port names live in the object namespace and are compared case-insensitively.
func TestNamespaceCaseInsensitive(t *testing.T) {
	ns := kernel.New().Namespace()
	a := &nsObj{1}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\ScannerPort`, a))

	for _, name := range []string{`\ScannerPort`, `\SCANNERPORT`, `\scannerport`, `\sCaNnErPoRt`} {
		obj, st := ns.Lookup(name)
		require.Equal(t, kernel.STATUS_SUCCESS, st, name)
		require.Same(t, a, obj, name)
	}
	// R-CREATE-4: the same name in another case collides.
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\SCANNERPORT`, &nsObj{2}))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\ScannerPort`, a))
	// Names keep the case they were inserted with.
	require.Equal(t, []string{`\ScannerPort`}, ns.Names())

	// Remove in another case works for the owner.
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Remove(`\scannerPORT`, a))
	_, st := ns.Lookup(`\ScannerPort`)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
	require.Empty(t, ns.Names())
	// R-CLOSESRV-1: the name can be created again.
	b := &nsObj{3}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\scannerport`, b))
	obj, st := ns.Lookup(`\ScannerPort`)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, b, obj)
}

func TestNamespaceNames(t *testing.T) {
	ns := kernel.New().Namespace()
	for _, n := range []string{`\b`, `\A`, `\Dir\c`} {
		require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(n, &nsObj{}))
	}
	require.Equal(t, []string{`\A`, `\Dir\c`, `\b`}, ns.Names())
	// A nested name is an entry of its own; its parent is not created.
	_, st := ns.Lookup(`\Dir`)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
}

// Remove only by the owner object: a stale owner cannot remove a newer object of the same
// name.
func TestNamespaceRemoveOnlyByOwner(t *testing.T) {
	ns := kernel.New().Namespace()
	owner, other := &nsObj{1}, &nsObj{1} // equal contents, different objects
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, owner))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, other))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, nil))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, []int{1})) // uncomparable: no panic
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\Q`, owner))
	obj, st := ns.Lookup(`\P`)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, owner, obj)

	require.Equal(t, kernel.STATUS_SUCCESS, ns.Remove(`\P`, owner))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, owner), "second remove")

	// The name was reused by a new object: the old owner's late remove does nothing.
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, other))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, owner))
	obj, st = ns.Lookup(`\p`)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, other, obj)
}

func TestNamespaceInvalidInput(t *testing.T) {
	ns := kernel.New().Namespace()
	for _, name := range []string{"", `\`, "Port", `Port\x`, `\\Port`, `\Port\`, `\a\\b`, "\\Po\x00rt"} {
		require.False(t, kernel.ValidObjectName(name), "%q", name)
		require.Equal(t, kernel.STATUS_OBJECT_NAME_INVALID, ns.Insert(name, &nsObj{}), "%q", name)
		_, st := ns.Lookup(name)
		require.Equal(t, kernel.STATUS_OBJECT_NAME_INVALID, st, "%q", name)
		require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(name, &nsObj{}), "%q", name)
	}
	for _, name := range []string{`\P`, `\a\b`, `\RPC Control\x`} {
		require.True(t, kernel.ValidObjectName(name), "%q", name)
	}
	// A nil object, or one == cannot compare, is refused.
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, nil))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, []byte("x")))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, map[string]int{}))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, func() {}))
	require.Empty(t, ns.Names())

	// A struct value whose interface field holds a slice passes the type check; removing it
	// with an equal-typed value must not panic.
	type holder struct{ v any }
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\H`, holder{v: []int{1}}))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\H`, holder{v: []int{1}}))
	require.Equal(t, []string{`\H`}, ns.Names())
}

func TestNamespaceZeroValue(t *testing.T) {
	var ns kernel.Namespace
	_, st := ns.Lookup(`\P`)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, &nsObj{}))
	require.Empty(t, ns.Names())
	o := &nsObj{}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, o))
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Remove(`\p`, o))
}

// No package-level state: each world has its own namespace.
func TestNamespacePerWorld(t *testing.T) {
	w1, w2 := kernel.New(), kernel.New()
	require.Equal(t, kernel.STATUS_SUCCESS, w1.Namespace().Insert(`\P`, &nsObj{1}))
	require.Equal(t, kernel.STATUS_SUCCESS, w2.Namespace().Insert(`\P`, &nsObj{2}))
	_, st := kernel.New().Namespace().Lookup(`\P`)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
}

func TestNamespaceConcurrentInsert(t *testing.T) {
	ns := kernel.New().Namespace()
	const n = 16
	results := make(chan kernel.NTSTATUS, n)
	for i := range n {
		go func() { results <- ns.Insert(`\Race`, &nsObj{i}) }()
	}
	won := 0
	for range n {
		switch st := <-results; st {
		case kernel.STATUS_SUCCESS:
			won++
		case kernel.STATUS_OBJECT_NAME_COLLISION:
		default:
			t.Fatalf("unexpected %v", st)
		}
	}
	require.Equal(t, 1, won)
}
