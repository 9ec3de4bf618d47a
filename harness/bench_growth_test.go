package harness_test

import (
	"fmt"
	"testing"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
)

// How the message path's cost grows with the work queued on one connection. Each case
// reports ns per message and x_chan, the ratio to the same exchange over channels interleaved
// with it in the same run; the target is a flat ns/op.

// BenchmarkPendingGets: one kernel sender, one IOCP worker keeping N overlapped Gets of the
// same size pending (1 to 1,000): each message goes to the oldest pending Get, which fits.
func BenchmarkPendingGets(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("gets=%d", n), func(b *testing.B) {
			emu := newTPRig(b, 1, n, rtMessageSize)
			ch := newTPChanRig(1)
			es, cs := emu.senders(1), ch.senders(1)
			b.ReportAllocs()
			b.ResetTimer()
			ns := interleave(b.N, rtSlice, es.run, cs.run)
			b.StopTimer()
			es.close()
			cs.close()
			ch.close()
			emu.close(b)
			b.ReportMetric(ns[0], "ns/op")
			b.ReportMetric(ns[1], "chan-ns/op")
			b.ReportMetric(ns[0]/ns[1], "x_chan")
		})
	}
}

// BenchmarkWaitingSenders: N kernel senders (1 to 1,000) on one connection drained by one
// user goroutine doing synchronous Get + Reply, so that N-1 senders wait for delivery most of
// the time: each Get takes the oldest waiting message.
func BenchmarkWaitingSenders(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("senders=%d", n), func(b *testing.B) {
			emu := newRTRig(b, rtMessageSize, false, 0)
			ch := newTPChanRig(1)
			es, cs := kernelSenders(emu.d, n, rtMessageSize), ch.senders(n)
			b.ReportAllocs()
			b.ResetTimer()
			ns := interleave(b.N, max(rtSlice, 4*n), es.run, cs.run)
			b.StopTimer()
			es.close()
			cs.close()
			ch.close()
			emu.close(b)
			b.ReportMetric(ns[0], "ns/op")
			b.ReportMetric(ns[1], "chan-ns/op")
			b.ReportMetric(ns[0]/ns[1], "x_chan")
		})
	}
}

// BenchmarkFirstFitWorstCase: the worst case of first-fit delivery (R-SEND-4). N-1 overlapped
// Gets too small for the message stay pending ahead of the one Get that fits (the service's
// synchronous Get + Reply), so every message is compared with the N-1 before it is delivered:
// the cost grows linearly with N, unlike BenchmarkPendingGets where the oldest Get fits.
func BenchmarkFirstFitWorstCase(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("gets=%d", n), func(b *testing.B) {
			r := newRTRig(b, rtMessageSize, false, 0)
			for range n - 1 {
				small := make([]byte, driverapi.FilterMessageHeaderSize) // no room for a payload
				if hr := r.p.FilterGetMessage(r.h, small, &fltlib.Overlapped{}); hr != hrPending {
					b.Fatal(hr)
				}
			}
			r.run(b, 1) // from now on the Get that fits is queued behind the n-1 small ones
			c := newChanRig(rtMessageSize)
			b.ReportAllocs()
			b.ResetTimer()
			ns := interleave(b.N, rtSlice, func(m int) { r.run(b, m) }, c.run)
			b.StopTimer()
			c.close()
			r.close(b)
			b.ReportMetric(ns[0], "ns/op")
			b.ReportMetric(ns[1], "chan-ns/op")
			b.ReportMetric(ns[0]/ns[1], "x_chan")
		})
	}
}
