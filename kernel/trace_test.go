package kernel_test

import (
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
	var unsub func()
	unsub = tr.Subscribe(func(e kernel.TraceEvent) {
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
