package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

type nsObj struct{ id int }

// R-MODEL-1: a lookup is case-sensitive unless the caller asks otherwise; a creator
// that passes OBJ_CASE_INSENSITIVE collides with the same name in another case.
func TestNamespaceCaseSensitiveLookup(t *testing.T) {
	ns := kernel.New().Namespace()
	a := &nsObj{1}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\ScannerPort`, a, true))

	obj, st := ns.Lookup(`\ScannerPort`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, a, obj)
	for _, name := range []string{`\SCANNERPORT`, `\scannerport`, `\sCaNnErPoRt`} {
		_, st := ns.Lookup(name, false)
		require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st, name)
		obj, st := ns.Lookup(name, true)
		require.Equal(t, kernel.STATUS_SUCCESS, st, name)
		require.Same(t, a, obj, name)
	}
	// R-CREATE-4: with OBJ_CASE_INSENSITIVE the same name in another case collides.
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\SCANNERPORT`, &nsObj{2}, true))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\ScannerPort`, a, false))
	require.Equal(t, []string{`\ScannerPort`}, ns.Names())

	// Remove in another case works for the owner.
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Remove(`\scannerPORT`, a))
	_, st = ns.Lookup(`\ScannerPort`, false)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
	require.Empty(t, ns.Names())
	// R-CLOSESRV-1: the name can be created again.
	b := &nsObj{3}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\scannerport`, b, true))
	obj, st = ns.Lookup(`\scannerport`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, b, obj)
}

// R-CREATE-4: without OBJ_CASE_INSENSITIVE, \Foo and \foo are two objects, and each
// exact lookup finds its own.
func TestNamespaceCaseSensitiveCreate(t *testing.T) {
	ns := kernel.New().Namespace()
	upper, lower := &nsObj{1}, &nsObj{2}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\Foo`, upper, false))
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\foo`, lower, false))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\FOO`, &nsObj{3}, true))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\Foo`, &nsObj{3}, false))
	obj, st := ns.Lookup(`\Foo`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, upper, obj)
	obj, st = ns.Lookup(`\foo`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, lower, obj)
	require.Equal(t, []string{`\Foo`, `\foo`}, ns.Names())
}

// R-MODEL-2 / R-USER connect 5: the object manager's name syntax. Not starting with `\`
// (or empty) is a syntax error, an empty component is an invalid name, a missing directory on
// the way is "path not found", a missing last component "name not found", and walking
// through an object that is not a directory is a type mismatch.
func TestNamespacePathStatuses(t *testing.T) {
	ns := kernel.New().Namespace()
	port := &nsObj{1}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, port, false))
	inRPC := &nsObj{2}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\RPC Control\X`, inRPC, false))

	cases := []struct {
		name string
		want kernel.NTSTATUS
	}{
		{"", kernel.STATUS_OBJECT_PATH_SYNTAX_BAD},
		{"P", kernel.STATUS_OBJECT_PATH_SYNTAX_BAD},
		{`P\x`, kernel.STATUS_OBJECT_PATH_SYNTAX_BAD},
		{`/P`, kernel.STATUS_OBJECT_PATH_SYNTAX_BAD},
		{`\\P`, kernel.STATUS_OBJECT_NAME_INVALID},
		{`\a\\b`, kernel.STATUS_OBJECT_NAME_INVALID},
		{`\RPC Control\`, kernel.STATUS_OBJECT_NAME_INVALID},
		{`\NoSuchDir\Port`, kernel.STATUS_OBJECT_PATH_NOT_FOUND},
		{`\NoSuchDir\Deeper\Port`, kernel.STATUS_OBJECT_PATH_NOT_FOUND},
		{`\RPC Control\Missing`, kernel.STATUS_OBJECT_NAME_NOT_FOUND},
		{`\rpc control\X`, kernel.STATUS_OBJECT_PATH_NOT_FOUND}, // case-sensitive all the way
		{`\P\x`, kernel.STATUS_OBJECT_TYPE_MISMATCH},
		{`\Missing`, kernel.STATUS_OBJECT_NAME_NOT_FOUND},
	}
	for _, c := range cases {
		_, st := ns.Lookup(c.name, false)
		require.Equal(t, c.want, st, "lookup %q", c.name)
		if c.want != kernel.STATUS_OBJECT_NAME_NOT_FOUND {
			require.Equal(t, c.want, ns.Insert(c.name, &nsObj{}, false), "insert %q", c.name)
		}
	}
	obj, st := ns.Lookup(`\RPC Control\X`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, inRPC, obj)
	obj, st = ns.Lookup(`\rpc control\x`, true)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, inRPC, obj)

	// A name that ends at a directory returns the directory; `\` is the root.
	obj, st = ns.Lookup(`\`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, `\`, obj.(*kernel.ObjectDirectory).Name())
	obj, st = ns.Lookup(`\Device`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, `\Device`, obj.(*kernel.ObjectDirectory).Name())
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\`, &nsObj{}, false))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.Insert(`\Device`, &nsObj{}, false))

	// A directory created by the test makes the path exist.
	require.Equal(t, kernel.STATUS_SUCCESS, ns.CreateDirectory(`\MyDir`))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_COLLISION, ns.CreateDirectory(`\mydir`))
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\MyDir\Port`, &nsObj{}, false))
	require.Equal(t, []string{`\MyDir\Port`, `\P`, `\RPC Control\X`}, ns.Names())
}

func TestValidObjectName(t *testing.T) {
	for _, name := range []string{"", `\`, "Port", `Port\x`, `\\Port`, `\Port\`, `\a\\b`} {
		require.False(t, kernel.ValidObjectName(name), "%q", name)
	}
	// A NUL is an ordinary character of a counted UNICODE_STRING name.
	for _, name := range []string{`\P`, `\a\b`, `\RPC Control\x`, "\\Po\x00rt"} {
		require.True(t, kernel.ValidObjectName(name), "%q", name)
	}
}

// Remove only by the owner object: a stale owner cannot remove a newer object of the same
// name.
func TestNamespaceRemoveOnlyByOwner(t *testing.T) {
	ns := kernel.New().Namespace()
	owner, other := &nsObj{1}, &nsObj{1} // equal contents, different objects
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, owner, false))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, other))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, nil))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, []int{1})) // uncomparable: no panic
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\Q`, owner))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\NoDir\P`, owner))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`bad`, owner))
	obj, st := ns.Lookup(`\P`, false)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, owner, obj)

	require.Equal(t, kernel.STATUS_SUCCESS, ns.Remove(`\P`, owner))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, owner), "second remove")

	// The name was reused by a new object: the old owner's late remove does nothing.
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, other, false))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, owner))
	obj, st = ns.Lookup(`\p`, true)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Same(t, other, obj)
}

func TestNamespaceInvalidObject(t *testing.T) {
	ns := kernel.New().Namespace()
	// A nil object, or one == cannot compare, is refused.
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, nil, false))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, []byte("x"), false))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, map[string]int{}, false))
	require.Equal(t, kernel.STATUS_INVALID_PARAMETER, ns.Insert(`\P`, func() {}, false))
	require.Empty(t, ns.Names())

	// A struct value whose interface field holds a slice passes the type check; removing it
	// with an equal-typed value must not panic.
	type holder struct{ v any }
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\H`, holder{v: []int{1}}, false))
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\H`, holder{v: []int{1}}))
	require.Equal(t, []string{`\H`}, ns.Names())
}

func TestNamespaceZeroValue(t *testing.T) {
	var ns kernel.Namespace
	_, st := ns.Lookup(`\P`, false)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
	_, st = ns.Lookup(`\Device\P`, false) // the zero value has only the root
	require.Equal(t, kernel.STATUS_OBJECT_PATH_NOT_FOUND, st)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, ns.Remove(`\P`, &nsObj{}))
	require.Empty(t, ns.Names())
	o := &nsObj{}
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Insert(`\P`, o, false))
	require.Equal(t, kernel.STATUS_SUCCESS, ns.Remove(`\p`, o))
}

// No package-level state: each world has its own namespace.
func TestNamespacePerWorld(t *testing.T) {
	w1, w2 := kernel.New(), kernel.New()
	require.Equal(t, kernel.STATUS_SUCCESS, w1.Namespace().Insert(`\P`, &nsObj{1}, false))
	require.Equal(t, kernel.STATUS_SUCCESS, w2.Namespace().Insert(`\P`, &nsObj{2}, false))
	_, st := kernel.New().Namespace().Lookup(`\P`, false)
	require.Equal(t, kernel.STATUS_OBJECT_NAME_NOT_FOUND, st)
}

func TestNamespaceConcurrentInsert(t *testing.T) {
	ns := kernel.New().Namespace()
	const n = 16
	results := make(chan kernel.NTSTATUS, n)
	for i := range n {
		go func() { results <- ns.Insert(`\Race`, &nsObj{i}, true) }()
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
