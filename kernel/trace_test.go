package kernel_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

func TestTraceRecordsInOrderWithSeqAndTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := kernel.New()
		tr := w.Trace()
		start := tr.Start()
		require.Equal(t, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), start.UTC(), "a bubble's clock starts at 2000-01-01")
		tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageSent, Driver: "d", Conn: 1})
		time.Sleep(30 * time.Second) // fake time
		tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageTimedOut, Driver: "d", Conn: 1, Status: kernel.STATUS_TIMEOUT.Error()})
		ev := tr.Events()
		require.Len(t, ev, 2)
		require.Equal(t, 1, ev[0].Seq)
		require.Equal(t, 2, ev[1].Seq)
		require.Equal(t, 30*time.Second, ev[1].Time.Sub(start))
		require.Equal(t, 2, tr.Len())

		// Filter keeps order and selects by kind.
		require.Equal(t, []kernel.TraceEvent{ev[1]}, tr.Filter(kernel.EvMessageTimedOut))
		require.Equal(t, ev, tr.Filter(kernel.EvMessageTimedOut, kernel.EvMessageSent))
		require.Empty(t, tr.Filter(kernel.EvConnect))

		// The table shows times relative to the start: deterministic in a bubble.
		table := tr.Table()
		require.Contains(t, table, "1  0s    message-sent")
		require.Contains(t, table, "2  30s   message-timed-out")
		require.Contains(t, table, "STATUS_TIMEOUT (0x00000102)")
		for _, l := range strings.Split(table, "\n") {
			require.Equal(t, strings.TrimRight(l, " "), l, "no trailing blanks")
		}
	})
}

func TestTraceSubscribeIsSynchronousAndReentrant(t *testing.T) {
	tr := kernel.New().Trace()
	var mu sync.Mutex
	var seen []string
	unsub := tr.Subscribe(func(e kernel.TraceEvent) {
		mu.Lock()
		seen = append(seen, string(e.Kind))
		mu.Unlock()
		// An observer may record events itself (no lock of the trace is held).
		if e.Kind == kernel.EvConnect {
			tr.Add(kernel.TraceEvent{Kind: kernel.EvFaultInjected, Detail: "from the observer"})
		}
	})
	tr.Add(kernel.TraceEvent{Kind: kernel.EvConnect})
	// Delivered before Add returned, the nested event included.
	mu.Lock()
	require.Equal(t, []string{"connect", "fault-injected"}, seen)
	mu.Unlock()
	ev := tr.Events()
	require.Len(t, ev, 2)
	require.Equal(t, kernel.EvFaultInjected, ev[1].Kind)

	unsub()
	unsub() // twice is harmless
	tr.Add(kernel.TraceEvent{Kind: kernel.EvDisconnect})
	mu.Lock()
	require.Len(t, seen, 2, "no delivery after unsubscribe")
	mu.Unlock()
}

func TestTraceObserversSeeEventsWhileRecordingIsOff(t *testing.T) {
	tr := kernel.New().Trace()
	tr.SetEnabled(false)
	require.False(t, tr.Enabled())
	var got []kernel.TraceEvent
	unsub := tr.Subscribe(func(e kernel.TraceEvent) { got = append(got, e) })
	require.True(t, tr.Enabled(), "an observer needs the events")
	tr.Add(kernel.TraceEvent{Kind: kernel.EvUserSend})
	require.Len(t, got, 1)
	require.Equal(t, 1, got[0].Seq)
	require.Empty(t, tr.Events(), "not recorded")
	unsub()
	require.False(t, tr.Enabled())
	tr.SetEnabled(true)
	tr.Add(kernel.TraceEvent{Kind: kernel.EvUserSend})
	require.Equal(t, 2, tr.Events()[0].Seq, "sequence numbers keep counting")
}

func TestTraceConcurrentAddAndSubscribe(t *testing.T) {
	tr := kernel.New().Trace()
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := 0
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageSent})
			}
		}()
		go func() {
			defer wg.Done()
			u := tr.Subscribe(func(kernel.TraceEvent) { mu.Lock(); count++; mu.Unlock() })
			u()
		}()
	}
	wg.Wait()
	ev := tr.Events()
	require.Len(t, ev, 800)
	for i, e := range ev {
		require.Equal(t, i+1, e.Seq)
	}
}

func TestEventKindsAreDistinct(t *testing.T) {
	seen := map[kernel.EventKind]bool{}
	for _, k := range kernel.EventKinds() {
		require.False(t, seen[k], "duplicate kind %s", k)
		seen[k] = true
	}
	require.True(t, seen[kernel.EvConnectNotify])
	require.True(t, seen[kernel.EvMessageAbandoned])
	require.True(t, seen[kernel.EvFaultInjected])
}

func TestEventString(t *testing.T) {
	e := kernel.TraceEvent{Seq: 3, Kind: kernel.EvMessageReplied, Process: "svc.exe (pid 8)", Driver: "scanner", Conn: 2, MsgID: 7,
		Status: kernel.STATUS_SUCCESS.Error(), Detail: "5 reply bytes"}
	require.Equal(t, `#3 message-replied process="svc.exe (pid 8)" driver="scanner" conn=2 msg=7 status=STATUS_SUCCESS (0x00000000) detail="5 reply bytes"`, e.String())
}

func TestTraceKeepsTheLastEventsByDefault(t *testing.T) {
	tr := kernel.New().Trace()
	require.Equal(t, kernel.DefaultTraceCapacity, tr.Capacity())
	for i := 0; i < kernel.DefaultTraceCapacity+10; i++ {
		tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageSent})
	}
	require.Equal(t, kernel.DefaultTraceCapacity, tr.Len())
	require.Equal(t, 10, tr.Dropped())
	ev := tr.Events()
	require.Len(t, ev, kernel.DefaultTraceCapacity)
	require.Equal(t, 11, ev[0].Seq, "the oldest kept event")
	require.Equal(t, kernel.DefaultTraceCapacity+10, ev[len(ev)-1].Seq)
	tr.SetCapacity(5)
	require.True(t, strings.HasPrefix(tr.Table(), "(4101 earlier events dropped: the trace keeps the last 5)\n#"), tr.Table())
}

func TestTraceRingWrapsInOrder(t *testing.T) {
	tr := kernel.New().Trace()
	tr.SetCapacity(3)
	for i := 1; i <= 7; i++ {
		tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageSent, Conn: uint64(i)})
		if i == 5 {
			tr.Add(kernel.TraceEvent{Kind: kernel.EvConnect, Conn: 50})
		}
	}
	conns := func(ev []kernel.TraceEvent) (out []uint64) {
		for _, e := range ev {
			out = append(out, e.Conn)
		}
		return out
	}
	require.Equal(t, []uint64{50, 6, 7}, conns(tr.Events()))
	require.Equal(t, []uint64{6, 7}, conns(tr.Filter(kernel.EvMessageSent)))
	require.Equal(t, 5, tr.Dropped())
	require.Equal(t, 8, tr.Events()[2].Seq)

	// Lowering the capacity drops the oldest at once; raising it keeps what is there.
	tr.SetCapacity(2)
	require.Equal(t, []uint64{6, 7}, conns(tr.Events()))
	require.Equal(t, 6, tr.Dropped())
	tr.SetCapacity(0) // every event from now on
	for i := 0; i < 1000; i++ {
		tr.Add(kernel.TraceEvent{Kind: kernel.EvUserSend})
	}
	require.Equal(t, 1002, tr.Len())
	require.Equal(t, 0, tr.Capacity())
	require.Equal(t, 6, tr.Dropped())
	require.Equal(t, uint64(6), tr.Events()[0].Conn)
}

func TestTraceFormatsStatusAndDetailWhenRead(t *testing.T) {
	tr := kernel.New().Trace()
	calls := 0
	render := func(a kernel.TraceArgs) string {
		calls++
		return strings.Repeat("x", int(a[0])) + "|" + string(rune('0'+a[3]))
	}
	tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageReplied, Conn: 1}.
		WithStatus(kernel.STATUS_BUFFER_OVERFLOW).WithDetail(render, kernel.TraceArgs{3, 0, 0, 7}))
	require.Equal(t, 0, calls, "nothing is formatted while recording")
	ev := tr.Events()
	require.Equal(t, 1, calls)
	require.Equal(t, kernel.TraceEvent{Seq: 1, Time: ev[0].Time, Kind: kernel.EvMessageReplied, Conn: 1,
		Status: kernel.STATUS_BUFFER_OVERFLOW.Error(), Err: kernel.STATUS_BUFFER_OVERFLOW, Detail: "xxx|7"}, ev[0],
		"read events carry the text and the status's value, nothing left to format")
	require.Equal(t, ev, tr.Filter(kernel.EvMessageReplied))
	require.Contains(t, tr.Table(), "STATUS_BUFFER_OVERFLOW (0x80000005)  xxx|7")

	// Observers get the formatted event; String formats an unrecorded one.
	var seen kernel.TraceEvent
	tr.Subscribe(func(e kernel.TraceEvent) { seen = e })
	tr.Add(kernel.TraceEvent{Kind: kernel.EvUserSend}.WithStatus(kernel.STATUS_SUCCESS))
	require.Equal(t, kernel.STATUS_SUCCESS.Error(), seen.Status)
	require.Equal(t, `#0 user-send status=STATUS_TIMEOUT (0x00000102) detail="x|0"`,
		kernel.TraceEvent{Kind: kernel.EvUserSend}.WithStatus(kernel.STATUS_TIMEOUT).WithDetail(render, kernel.TraceArgs{1}).String())
}

func traceTestDetail(a kernel.TraceArgs) string { return "" }

// Once the ring is full, recording allocates nothing, and 50 ring-fulls of events take no more
// memory than the ring (BenchmarkRoundTripTraceOn shows it for a million traced round trips).
func TestTraceSteadyStateIsBoundedAndAllocationFree(t *testing.T) {
	tr := kernel.New().Trace()
	proc, drv := "svc.exe (pid 8)", "drv"
	add := func() {
		tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageDelivered, Process: proc, Driver: drv, Conn: 1, MsgID: 2}.
			WithStatus(kernel.STATUS_SUCCESS).WithDetail(traceTestDetail, kernel.TraceArgs{1032}))
	}
	for i := 0; i < kernel.DefaultTraceCapacity; i++ {
		add()
	}
	require.Zero(t, testing.AllocsPerRun(1000, add))

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	n := 50 * kernel.DefaultTraceCapacity
	if raceEnabled {
		n = 10 * kernel.DefaultTraceCapacity
	}
	for i := 0; i < n; i++ {
		add()
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	require.Equal(t, kernel.DefaultTraceCapacity, tr.Len())
	grown := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	require.Less(t, grown, int64(64<<10), "the heap grew by %d bytes over %d events", grown, n)
	runtime.KeepAlive(tr)
}

// An event recorded with a time of its own (read once with Trace.Now for several events of
// one step) keeps it, unless an event recorded before it is later: times never go backwards
// in recording order.
func TestTraceExplicitTimesNeverGoBackwards(t *testing.T) {
	tr := kernel.New().Trace()
	early := tr.Now()
	tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageSent, Time: early})
	later := early.Add(time.Second)
	tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageDelivered, Time: later})
	tr.Add(kernel.TraceEvent{Kind: kernel.EvMessageReplied, Time: early}) // recorded after a later one
	ev := tr.Events()
	require.Len(t, ev, 3)
	require.True(t, ev[0].Time.Equal(early), "%v != %v", ev[0].Time, early)
	require.True(t, ev[1].Time.Equal(later))
	require.True(t, ev[2].Time.Equal(later), "raised to the time of the event before it")
	tr.Add(kernel.TraceEvent{Kind: kernel.EvUserSend}) // stamped: not before the last either
	require.False(t, tr.Events()[3].Time.Before(later))
}
