package kernel

import (
	"math"
	"time"
)

// systemTimeEpochOffset is the number of 100 ns intervals between 1601-01-01 and 1970-01-01.
const systemTimeEpochOffset = 116444736000000000

// ticksPerSecond is the number of 100 ns intervals in a second.
const ticksPerSecond = 10_000_000

// epochOffsetSeconds is the number of seconds between 1601-01-01 and 1970-01-01.
const epochOffsetSeconds = systemTimeEpochOffset / ticksPerSecond

// SystemTime converts t to Windows system time: 100 ns intervals since 1601-01-01 UTC
// (KeQuerySystemTime). Sub-100 ns precision is truncated. Windows cannot represent a time
// before 1601 (the result is 0, the epoch itself) nor after the year 30828 (the result is
// math.MaxInt64).
func SystemTime(t time.Time) int64 {
	// Computed from seconds: t.UnixNano would overflow outside the years 1678–2262.
	u := t.Unix()
	switch {
	case u < -epochOffsetSeconds:
		return 0
	case u > math.MaxInt64/ticksPerSecond-epochOffsetSeconds:
		return math.MaxInt64
	}
	sec, ticks := u+epochOffsetSeconds, int64(t.Nanosecond())/100
	if sec == math.MaxInt64/ticksPerSecond && ticks > math.MaxInt64%ticksPerSecond {
		return math.MaxInt64
	}
	return sec*ticksPerSecond + ticks
}

// TimeFromSystem converts a Windows system time back to a time.Time, in UTC.
func TimeFromSystem(st int64) time.Time {
	sec, rem := st/ticksPerSecond, st%ticksPerSecond
	if rem < 0 {
		sec, rem = sec-1, rem+ticksPerSecond
	}
	return time.Unix(sec-epochOffsetSeconds, rem*100).UTC()
}
