package kernel

import "time"

// systemTimeEpochOffset is the number of 100 ns intervals between 1601-01-01 and 1970-01-01.
const systemTimeEpochOffset = 116444736000000000

// SystemTime converts t to Windows system time: 100 ns intervals since 1601-01-01 UTC
// (KeQuerySystemTime).
func SystemTime(t time.Time) int64 {
	return t.UnixNano()/100 + systemTimeEpochOffset
}

// TimeFromSystem converts a Windows system time back to a time.Time.
func TimeFromSystem(st int64) time.Time {
	return time.Unix(0, (st-systemTimeEpochOffset)*100)
}
