package avscanuser_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanproto"
	"github.com/fltemu/fltemu/sampledrivers/avscan/avscanuser"
)

// The search: the signature anywhere (the ends included) is Infected; part of it, or a buffer
// shorter than it, is Clean (the C computes an end pointer before the start for a buffer
// shorter than the signature); an abort flag stops the search with Undetermined and is cleared.
func TestScanMemory(t *testing.T) {
	sig := avscanproto.Pattern()
	require.Equal(t, avscanproto.Infected, avscanuser.ScanMemory(sig, nil))
	require.Equal(t, avscanproto.Infected, avscanuser.ScanMemory(append([]byte("xx"), sig...), nil))
	require.Equal(t, avscanproto.Infected, avscanuser.ScanMemory(append(append([]byte{}, sig...), "tail"...), nil))
	require.Equal(t, avscanproto.Clean, avscanuser.ScanMemory(sig[:18], nil))
	require.Equal(t, avscanproto.Clean, avscanuser.ScanMemory(nil, nil))
	require.Equal(t, avscanproto.Clean, avscanuser.ScanMemory([]byte("message"), nil))

	var abort atomic.Bool
	abort.Store(true)
	require.Equal(t, avscanproto.Undetermined, avscanuser.ScanMemory(append([]byte("xx"), sig...), &abort))
	require.False(t, abort.Load(), "the flag is cleared")
	abort.Store(true)
	require.Equal(t, avscanproto.Undetermined, avscanuser.ScanMemory([]byte("short"), &abort))
	require.Equal(t, avscanproto.Clean, avscanuser.ScanMemory([]byte("short"), &abort))
}
