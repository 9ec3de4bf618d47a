package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

// R-IRQL-1: every goroutine starts at PASSIVE_LEVEL; a raise is per goroutine and restores
// the previous level, nested or not.
func TestIRQLPerGoroutine(t *testing.T) {
	q := kernel.New().IRQLs()
	require.Equal(t, kernel.PASSIVE_LEVEL, q.Current())
	restore := q.Raise(kernel.DISPATCH_LEVEL)
	require.Equal(t, kernel.DISPATCH_LEVEL, q.Current())

	other := make(chan kernel.KIRQL)
	go func() { other <- q.Current() }() // a work item runs at PASSIVE_LEVEL
	require.Equal(t, kernel.PASSIVE_LEVEL, <-other)

	lower := q.Raise(kernel.PASSIVE_LEVEL) // "when safe" processing on the same thread
	require.Equal(t, kernel.PASSIVE_LEVEL, q.Current())
	apc := q.Raise(kernel.APC_LEVEL)
	require.Equal(t, kernel.APC_LEVEL, q.Current())
	apc()
	lower()
	require.Equal(t, kernel.DISPATCH_LEVEL, q.Current())
	restore()
	require.Equal(t, kernel.PASSIVE_LEVEL, q.Current())

	var none *kernel.IRQLs
	require.Equal(t, kernel.PASSIVE_LEVEL, none.Current())
	require.Equal(t, "DISPATCH_LEVEL", kernel.DISPATCH_LEVEL.String())
	require.Equal(t, "IRQL 5", kernel.KIRQL(5).String())
}
