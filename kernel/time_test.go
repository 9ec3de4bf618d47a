package kernel_test

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func TestSystemTimeEpoch(t *testing.T) {
	// 1970-01-01 is 116444736000000000 intervals of 100 ns after 1601-01-01.
	unix := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, int64(116444736000000000), kernel.SystemTime(unix))
	require.Equal(t, int64(116444736000000000), kernel.SystemTime(time.Unix(0, 0)))
	require.True(t, unix.Equal(kernel.TimeFromSystem(116444736000000000)))

	// The epoch itself is 0, both ways.
	epoch := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, int64(0), kernel.SystemTime(epoch))
	require.Equal(t, epoch, kernel.TimeFromSystem(0))

	// One unit is 100 ns; one day is 864000000000 units.
	require.Equal(t, int64(1), kernel.SystemTime(epoch.Add(100*time.Nanosecond)))
	require.Equal(t, int64(864000000000), kernel.SystemTime(epoch.AddDate(0, 0, 1)))
	require.Equal(t, epoch.Add(100*time.Nanosecond), kernel.TimeFromSystem(1))

	// A well-known FILETIME: 2000-01-01T00:00:00Z = 125911584000000000.
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, int64(125911584000000000), kernel.SystemTime(y2k))

	// The time zone of the input does not matter; the output is UTC.
	tz := time.FixedZone("UTC+5", 5*3600)
	require.Equal(t, kernel.SystemTime(y2k), kernel.SystemTime(y2k.In(tz)))
	require.Equal(t, time.UTC, kernel.TimeFromSystem(125911584000000000).Location())
}

func TestSystemTimeRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC),
		time.Date(1650, 6, 15, 12, 0, 0, 0, time.UTC), // before UnixNano's range
		time.Date(1969, 12, 31, 23, 59, 59, 999999900, time.UTC),
		time.Date(2024, 2, 29, 13, 14, 15, 123456700, time.UTC),
		time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), // after UnixNano's range
		time.Date(30828, 9, 14, 0, 0, 0, 0, time.UTC),
	} {
		st := kernel.SystemTime(tm)
		require.Equal(t, tm, kernel.TimeFromSystem(st), "%v", tm)
		require.Equal(t, st, kernel.SystemTime(kernel.TimeFromSystem(st)), "%v", tm)
	}
	// Precision below 100 ns is truncated.
	tm := time.Date(2024, 1, 1, 0, 0, 0, 199, time.UTC)
	require.Equal(t, time.Date(2024, 1, 1, 0, 0, 0, 100, time.UTC), kernel.TimeFromSystem(kernel.SystemTime(tm)))
	// Every value from 0 on converts back to itself.
	for _, st := range []int64{0, 1, 9999999, 10000000, 116444736000000000, math.MaxInt64 - 1, math.MaxInt64} {
		require.Equal(t, st, kernel.SystemTime(kernel.TimeFromSystem(st)), "%d", st)
	}
}

// Times Windows cannot represent saturate instead of wrapping around.
func TestSystemTimeOutOfRange(t *testing.T) {
	require.Equal(t, int64(0), kernel.SystemTime(time.Time{}))
	require.Equal(t, int64(0), kernel.SystemTime(time.Date(1600, 12, 31, 23, 59, 59, 0, time.UTC)))
	require.Equal(t, int64(math.MaxInt64), kernel.SystemTime(time.Date(30829, 1, 1, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, int64(math.MaxInt64), kernel.SystemTime(time.Unix(math.MaxInt64/2, 0)))
	last := kernel.TimeFromSystem(math.MaxInt64)
	require.Equal(t, int64(math.MaxInt64), kernel.SystemTime(last.Add(100*time.Nanosecond)))
	require.Equal(t, int64(math.MaxInt64), kernel.SystemTime(last.Add(time.Second)))
	require.Equal(t, int64(math.MaxInt64-1), kernel.SystemTime(last.Add(-100*time.Nanosecond)))
	// A negative system time (a relative timeout, not a date) converts to before 1601.
	require.Equal(t, time.Date(1600, 12, 31, 23, 59, 59, 999999900, time.UTC), kernel.TimeFromSystem(-1))
}

// Inside a synctest bubble the fake clock starts at 2000-01-01 UTC; absolute timeouts built
// from it convert back exactly.
func TestSystemTimeFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		st := kernel.SystemTime(now)
		require.Equal(t, int64(125911584000000000), st)
		time.Sleep(1500 * time.Millisecond)
		require.Equal(t, st+15000000, kernel.SystemTime(time.Now()))
		require.Equal(t, 1500*time.Millisecond, kernel.TimeFromSystem(st+15000000).Sub(now))
	})
}
