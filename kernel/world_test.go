package kernel_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

// A timed wait tells the world's observer its routine and when it began as it ends; with no
// observer it gets no callback and reads no clock.
func TestTimedWaitObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := kernel.New()
		require.Nil(t, w.TimedWait("FltSendMessage"))
		var got []string
		w.ObserveTimedWaits(func(routine string, began time.Time) {
			got = append(got, routine+" "+time.Since(began).String())
		})
		end := w.TimedWait("KeWaitForSingleObject")
		time.Sleep(3 * time.Second) // fake time
		end()
		require.Equal(t, []string{"KeWaitForSingleObject 3s"}, got)
		w.ObserveTimedWaits(nil)
		require.Nil(t, w.TimedWait("FltSendMessage"))
	})
}

// An observed timed wait allocates nothing: every timed FltSendMessage of a world outside a
// synctest bubble is one.
func TestTimedWaitObservedAllocatesNothing(t *testing.T) {
	w := kernel.New()
	n := 0
	w.ObserveTimedWaits(func(string, time.Time) { n++ })
	require.Zero(t, testing.AllocsPerRun(1000, func() { w.TimedWait("FltSendMessage")() }))
	require.Equal(t, 1001, n)
}
