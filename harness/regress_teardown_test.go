package harness_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// R-VERIFY-2 is not reported for a client port whose FltCloseClientPort call is in flight when
// the unload looks for leaks, and DisconnectNotify runs at most once (R-CB-2) while user closes,
// FltCloseClientPort and an unload race. Found in review: a false R-VERIFY-2 every few dozen
// rounds.
func TestRegressionCloseClientPortRacesUnload(t *testing.T) {
	for it := 0; it < 300; it++ {
		w := harness.NewWorld()
		var mu sync.Mutex
		counts := map[*testdriver.Conn]int{}
		d := &testdriver.Driver{MaxConnections: 4, OnDisconnect: func(_ context.Context, c *testdriver.Conn) {
			mu.Lock()
			counts[c]++
			mu.Unlock()
		}}
		if w.Load("test", d) != nil {
			t.Fatal("load")
		}
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		var hs []kernel.Handle
		for i := 0; i < 4; i++ {
			h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
			if hr != kernel.S_OK {
				t.Fatal(hr)
			}
			hs = append(hs, h)
		}
		var inflight atomic.Int32
		var sawInflight atomic.Bool
		w.Trace().Subscribe(func(e kernel.TraceEvent) {
			if e.Kind == kernel.EvViolation && inflight.Load() > 0 {
				sawInflight.Store(true)
			}
		})
		var wg sync.WaitGroup
		for i, h := range hs {
			wg.Add(2)
			go func() { defer wg.Done(); p.CloseHandle(h) }()
			c := d.Conn(i)
			go func() { defer wg.Done(); inflight.Add(1); d.FM.CloseClientPort(d.Filter, &c.Port); inflight.Add(-1) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Unload("test") }()
		wg.Wait()
		mu.Lock()
		for c, n := range counts {
			if n > 1 {
				t.Fatalf("iteration %d: DisconnectNotify %d times for %p", it, n, c)
			}
		}
		mu.Unlock()
		if err := w.Close(); err != nil {
			t.Log(w.Trace().Table())
			t.Fatalf("iteration %d (violation while a FltCloseClientPort call was in flight: %v): %v", it, sawInflight.Load(), err)
		}
	}
}
