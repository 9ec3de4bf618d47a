//go:build race

package kernel_test

// raceEnabled: the race detector slows every synchronisation tenfold; long loops shrink.
const raceEnabled = true
