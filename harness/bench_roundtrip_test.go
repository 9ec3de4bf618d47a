package harness_test

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// The round trip of issue 3/7: FltSendMessage with a 1032-byte message (the scanner's
// SCANNER_NOTIFICATION) and a 1-byte reply, against one user goroutine doing a synchronous
// FilterGetMessage + FilterReplyMessage. Baselines, in the same run: the same exchange over two
// unbuffered channels, and over a Unix-socket pair. Ratios are reported as metrics.

const (
	rtMessageSize = 1032
	rtReplySize   = 1
)

// rtRig is a world with the test driver loaded and one user goroutine doing synchronous
// FilterGetMessage + FilterReplyMessage on one connection: the kernel side of a round trip
// is rig.send.
type rtRig struct {
	w       *harness.World
	p       *harness.Process
	h       kernel.Handle
	d       *testdriver.Driver
	done    chan struct{}
	msg     []byte
	reply   []byte
	replyLn *uint32 // escapes once: the driver calls through an interface
}

// newRTRig makes a rig for msgSize-byte messages and 1-byte replies, with the trace on or off.
func newRTRig(b *testing.B, msgSize int, trace bool) *rtRig {
	b.Helper()
	w := harness.NewWorld()
	w.Trace().SetEnabled(trace)
	d := &testdriver.Driver{}
	if hr := w.Load("bench", d); hr != kernel.S_OK {
		b.Fatal(hr)
	}
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		b.Fatal(hr)
	}
	r := &rtRig{w: w, p: p, h: h, d: d, done: make(chan struct{}), msg: make([]byte, msgSize),
		reply: make([]byte, rtReplySize), replyLn: new(uint32)}
	go func() {
		defer close(r.done)
		buf := make([]byte, 16+msgSize)
		reply := make([]byte, 16+rtReplySize)
		for {
			if hr := p.FilterGetMessage(h, buf, nil); hr != kernel.S_OK {
				return // E_HANDLE at unload
			}
			driverapi.FilterReplyHeader{Status: kernel.STATUS_SUCCESS, MessageId: binary.LittleEndian.Uint64(buf[8:])}.Put(reply)
			if msgSize > 0 {
				reply[16] = buf[16]
			}
			p.FilterReplyMessage(h, reply)
		}
	}()
	if trace { // fill the ring first: steady state from the first measured round trip
		r.run(b, kernel.DefaultTraceCapacity/3+1)
	}
	return r
}

// run makes n round trips (FltSendMessage, the user's Get and Reply).
func (r *rtRig) run(b *testing.B, n int) {
	fm, f, conn := r.d.FM, r.d.Filter, r.d.Conn(0)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		*r.replyLn = rtReplySize
		if st := fm.SendMessage(ctx, f, &conn.Port, r.msg, r.reply, r.replyLn, nil); st != kernel.STATUS_SUCCESS {
			b.Fatal(st)
		}
	}
}

func (r *rtRig) close(b *testing.B) {
	r.w.Unload("bench")
	<-r.done
	r.p.CloseHandle(r.h)
	if err := r.w.Close(); err != nil {
		b.Fatal(err)
	}
}

// roundTripEmu runs b.N round trips through the emulator, trace off, on b's timer, and returns
// ns/op.
func roundTripEmu(b *testing.B) float64 {
	r := newRTRig(b, rtMessageSize, false)
	b.ReportAllocs()
	b.ResetTimer()
	r.run(b, b.N)
	b.StopTimer()
	r.close(b)
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// interleaved runs n round trips on each rig, in alternating slices so that a change of load
// on a shared machine hits both alike, and returns the ns/op of each.
func interleaved(b *testing.B, n int, rigs ...*rtRig) []float64 {
	const slice = 2000
	spent := make([]time.Duration, len(rigs))
	for done := 0; done < n; done += slice {
		m := min(slice, n-done)
		for i, r := range rigs {
			start := time.Now()
			r.run(b, m)
			spent[i] += time.Since(start)
		}
	}
	out := make([]float64, len(rigs))
	for i := range out {
		out[i] = float64(spent[i].Nanoseconds()) / float64(n)
	}
	return out
}

// roundTripChan is the physical limit: the same bytes over two unbuffered channels.
func roundTripChan(n int) float64 {
	req, rep := make(chan []byte), make(chan []byte)
	go func() {
		buf := make([]byte, 16+rtMessageSize)
		r := make([]byte, 16+rtReplySize)
		for m := range req {
			copy(buf[16:], m)
			r[16] = buf[16]
			rep <- r
		}
	}()
	msg := make([]byte, rtMessageSize)
	reply := make([]byte, rtReplySize)
	start := nowNanos()
	for i := 0; i < n; i++ {
		req <- msg
		copy(reply, (<-rep)[16:])
	}
	ns := float64(nowNanos()-start) / float64(n)
	close(req)
	return ns
}

// roundTripSocket is what a hand-rolled fake costs: a Unix-socket pair.
func roundTripSocket(b *testing.B, n int) float64 {
	dir := b.TempDir()
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Skip("no unix sockets:", err)
	}
	defer os.Remove(path)
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 16+rtMessageSize)
		r := make([]byte, 16+rtReplySize)
		for {
			if _, err := readFull(c, buf); err != nil {
				return
			}
			r[16] = buf[16]
			if _, err := c.Write(r); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 16+rtMessageSize)
	reply := make([]byte, 16+rtReplySize)
	start := nowNanos()
	for i := 0; i < n; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := readFull(c, reply); err != nil {
			b.Fatal(err)
		}
	}
	ns := float64(nowNanos()-start) / float64(n)
	c.Close()
	ln.Close()
	<-srvDone
	return ns
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// BenchmarkRoundTrip measures the emulator's kernel→user round trip and reports it against
// the two baselines measured in the same run: x_chan (emulator / channels, target ≤ 2) and
// socket_speedup (sockets / emulator, target ≥ 10).
func BenchmarkRoundTrip(b *testing.B) {
	emu := roundTripEmu(b)
	n := b.N
	if n < 1000 {
		n = 1000
	}
	ch := roundTripChan(n)
	sock := roundTripSocket(b, n)
	b.ReportMetric(ch, "chan-ns/op")
	b.ReportMetric(sock, "socket-ns/op")
	b.ReportMetric(emu/ch, "x_chan")
	b.ReportMetric(sock/emu, "socket_speedup")
}

// BenchmarkRoundTripTraceOn is BenchmarkRoundTrip with the flight recorder on (the default
// of every world; its ring already full), against the same round trip with the trace off, the
// two interleaved in the same run: x_traceoff (target ≤ 1.5). ns/op and allocs/op are the
// traced round trip's. retained-KiB is the heap the traced world holds after the run beyond
// what it held before it was made: bounded by the ring (ring-KiB, kernel.DefaultTraceCapacity
// events) however many round trips ran; -benchtime 1000000x shows it for a million.
func BenchmarkRoundTripTraceOn(b *testing.B) {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	on := newRTRig(b, rtMessageSize, true)
	off := newRTRig(b, rtMessageSize, false)
	b.ReportAllocs()
	b.ResetTimer()
	ns := interleaved(b, b.N, on, off)
	b.StopTimer()
	off.close(b)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	on.close(b)
	b.ReportMetric(ns[0], "ns/op")
	b.ReportMetric(ns[1], "traceoff-ns/op")
	b.ReportMetric(ns[0]/ns[1], "x_traceoff")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/1024, "retained-KiB")
	b.ReportMetric(float64(kernel.DefaultTraceCapacity*int(unsafe.Sizeof(kernel.TraceEvent{})))/1024, "ring-KiB")
}
