package kernel

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// KIRQL is an interrupt request level (wdm.h). Driver code runs at PASSIVE_LEVEL unless the
// system raised it: a post-operation callback other than IRP_MJ_CREATE's may run at
// DISPATCH_LEVEL, where a routine that may wait or touch paged memory crashes Windows
// (R-IRQL).
type KIRQL uint8

// IRQLs a minifilter meets.
const (
	PASSIVE_LEVEL  KIRQL = 0
	APC_LEVEL      KIRQL = 1
	DISPATCH_LEVEL KIRQL = 2
)

// String returns the level's WDK name.
func (l KIRQL) String() string {
	switch l {
	case PASSIVE_LEVEL:
		return "PASSIVE_LEVEL"
	case APC_LEVEL:
		return "APC_LEVEL"
	case DISPATCH_LEVEL:
		return "DISPATCH_LEVEL"
	}
	return "IRQL " + strconv.Itoa(int(l))
}

// IRQLs tracks the IRQL of the goroutines that run driver code: the emulated filter manager
// raises a goroutine's level around a callback the system may call above PASSIVE_LEVEL, and
// a routine asks the level of its caller. A goroutine is a thread here: one the driver starts
// itself (a work item) runs at PASSIVE_LEVEL, as a system worker thread does.
//
// Nothing is paid while no goroutine is raised: Current is one atomic load then.
type IRQLs struct {
	raised atomic.Int32 // goroutines above PASSIVE_LEVEL

	mu     sync.Mutex
	levels map[uint64]KIRQL // goroutine id → level; guarded by mu
}

// Raise sets the calling goroutine's IRQL to level (KeRaiseIrql, or the system calling a
// callback at that level) and returns the function that restores the previous one. Lowering
// (level below the current one) is how the emulator runs "when safe" processing.
func (q *IRQLs) Raise(level KIRQL) (restore func()) {
	id := goroutineID()
	q.mu.Lock()
	prev := q.levels[id]
	q.setLocked(id, level)
	q.mu.Unlock()
	return func() {
		q.mu.Lock()
		q.setLocked(id, prev)
		q.mu.Unlock()
	}
}

// setLocked records level for goroutine id; only raised goroutines have an entry. Called with
// mu held.
func (q *IRQLs) setLocked(id uint64, level KIRQL) {
	_, wasRaised := q.levels[id]
	switch {
	case level == PASSIVE_LEVEL:
		if wasRaised {
			delete(q.levels, id)
			q.raised.Add(-1)
		}
	default:
		if q.levels == nil {
			q.levels = make(map[uint64]KIRQL)
		}
		if !wasRaised {
			q.raised.Add(1)
		}
		q.levels[id] = level
	}
}

// Current emulates KeGetCurrentIrql for the calling goroutine.
func (q *IRQLs) Current() KIRQL {
	if q == nil || q.raised.Load() == 0 {
		return PASSIVE_LEVEL // inlined: no goroutine is raised, the common case
	}
	return q.raisedCurrent()
}

// AnyRaised reports whether some goroutine runs above PASSIVE_LEVEL: when not, every
// goroutine is at PASSIVE_LEVEL and a routine's IRQL check has nothing to look up. q must
// not be nil (a world's IRQLs never is).
func (q *IRQLs) AnyRaised() bool { return q.raised.Load() != 0 }

func (q *IRQLs) raisedCurrent() KIRQL {
	id := goroutineID()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.levels[id]
}

// goroutineID is the id the runtime prints in the calling goroutine's stack header
// ("goroutine 42 [running]:"). The emulator needs a thread identity for routines whose WDK
// signature carries none (FltCloseClientPort, FltCreateCommunicationPort, ...).
func goroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := buf[len("goroutine "):n]
	var id uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
