package harness_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// The round trip: FltSendMessage with a 1032-byte message (the scanner's
// SCANNER_NOTIFICATION) and a 1-byte reply, against one user goroutine doing a synchronous
// FilterGetMessage + FilterReplyMessage. Baselines, in the same run: the same exchange over two
// unbuffered channels (interleaved with the emulator's, slice by slice), and over a Unix-socket
// pair. Ratios are reported as metrics.

const (
	rtMessageSize = 1032
	rtReplySize   = 1
	rtSlice       = 2000 // round trips per slice of interleave
)

// rtRig is a world with the test driver loaded and one user goroutine doing synchronous
// FilterGetMessage + FilterReplyMessage on the first connection: rig.run makes round trips.
type rtRig struct {
	w       *harness.World
	p       *harness.Process
	h       kernel.Handle
	d       *testdriver.Driver
	done    chan struct{}
	msg     []byte
	reply   []byte
	replyLn *uint32 // escapes once: the driver calls through an interface
	idle    []idleHandle
}

// idleHandle is a connection handle a benchmark holds open and closes before teardown.
type idleHandle struct {
	p *harness.Process
	h kernel.Handle
}

// newRTRig makes a rig for msgSize-byte messages and 1-byte replies, with the trace on or
// off, and idle more connections that stay idle (from 10 other processes).
func newRTRig(b *testing.B, msgSize int, trace bool, idle int) *rtRig {
	b.Helper()
	w := harness.NewWorld()
	w.Trace().SetEnabled(trace)
	d := &testdriver.Driver{MaxConnections: int32(idle + 1)}
	if err := w.Load("bench", d); err != nil {
		b.Fatal(err)
	}
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		b.Fatal(hr)
	}
	var idles []idleHandle
	if idle > 0 {
		var others []*harness.Process
		for i := 0; i < min(idle, 10); i++ {
			others = append(others, w.NewProcess(fmt.Sprintf("idle%d.exe", i), kernel.TokenAdmin()))
		}
		for i := 0; i < idle; i++ {
			o := others[i%len(others)]
			ih, hr := o.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
			if hr != kernel.S_OK {
				b.Fatal(hr)
			}
			idles = append(idles, idleHandle{o, ih})
		}
	}
	r := &rtRig{idle: idles, w: w, p: p, h: h, d: d, done: make(chan struct{}), msg: make([]byte, msgSize),
		reply: make([]byte, rtReplySize), replyLn: new(uint32)}
	go func() {
		defer close(r.done)
		buf := make([]byte, driverapi.FilterMessageHeaderSize+msgSize)
		reply := make([]byte, driverapi.FilterReplyHeaderSize+rtReplySize)
		for {
			if hr := p.FilterGetMessage(h, buf, nil); hr != kernel.S_OK {
				return // E_HANDLE at unload
			}
			hdr, _ := driverapi.ParseFilterMessageHeader(buf)
			driverapi.FilterReplyHeader{Status: kernel.STATUS_SUCCESS, MessageId: hdr.MessageId}.Put(reply)
			if msgSize > 0 {
				reply[driverapi.FilterReplyHeaderSize] = buf[driverapi.FilterMessageHeaderSize]
			}
			p.FilterReplyMessage(h, reply)
		}
	}()
	if trace { // fill the ring first: steady state from the first measured round trip
		r.run(b, kernel.DefaultTraceCapacity/3+1)
	}
	return r
}

// run makes n round trips (FltSendMessage, the user's Get and Reply) on the first connection.
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
	for _, ih := range r.idle {
		ih.p.CloseHandle(ih.h)
	}
	if err := r.w.Close(); err != nil {
		b.Fatal(err)
	}
}

// chanRig is the physical limit: the same bytes over two unbuffered channels, the receiver
// copying the message into its buffer and the sender copying the reply out, as the emulator
// does.
type chanRig struct {
	req, rep   chan []byte
	msg, reply []byte
}

func newChanRig(msgSize int) *chanRig {
	c := &chanRig{req: make(chan []byte), rep: make(chan []byte), msg: make([]byte, msgSize), reply: make([]byte, rtReplySize)}
	go func() {
		buf := make([]byte, driverapi.FilterMessageHeaderSize+msgSize)
		r := make([]byte, driverapi.FilterMessageHeaderSize+rtReplySize)
		for m := range c.req {
			copy(buf[driverapi.FilterMessageHeaderSize:], m)
			if msgSize > 0 {
				r[replyHdr] = buf[msgHdr]
			}
			c.rep <- r
		}
	}()
	return c
}

func (c *chanRig) run(n int) {
	for i := 0; i < n; i++ {
		c.req <- c.msg
		copy(c.reply, (<-c.rep)[driverapi.FilterMessageHeaderSize:])
	}
}

func (c *chanRig) close() { close(c.req) }

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
		buf := make([]byte, driverapi.FilterMessageHeaderSize+rtMessageSize)
		r := make([]byte, driverapi.FilterMessageHeaderSize+rtReplySize)
		for {
			if _, err := readFull(c, buf); err != nil {
				return
			}
			r[replyHdr] = buf[msgHdr]
			if _, err := c.Write(r); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, driverapi.FilterMessageHeaderSize+rtMessageSize)
	reply := make([]byte, driverapi.FilterMessageHeaderSize+rtReplySize)
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

// roundTripVsChan measures b.N emulator round trips (msgSize bytes, trace off, idle other
// connections) interleaved with as many channel round trips, and reports ns/op (the
// emulator's), chan-ns/op and x_chan (target ≤ 1.5 for the 1032-byte round trip).
func roundTripVsChan(b *testing.B, msgSize, idle int) (emu, ch float64) {
	r := newRTRig(b, msgSize, false, idle)
	c := newChanRig(msgSize)
	b.ReportAllocs()
	b.ResetTimer()
	ns := interleave(b.N, rtSlice, func(m int) { r.run(b, m) }, c.run)
	b.StopTimer()
	c.close()
	r.close(b)
	b.ReportMetric(ns[0], "ns/op")
	b.ReportMetric(ns[1], "chan-ns/op")
	b.ReportMetric(ns[0]/ns[1], "x_chan")
	return ns[0], ns[1]
}

// BenchmarkRoundTrip measures the emulator's kernel→user round trip against the two
// baselines of the same run: x_chan (emulator / channels, target ≤ 1.5) and socket_speedup
// (sockets / emulator).
func BenchmarkRoundTrip(b *testing.B) {
	emu, _ := roundTripVsChan(b, rtMessageSize, 0)
	sock := roundTripSocket(b, min(max(b.N, 1000), 50000)) // a socket round trip is ~20 µs: enough for a median
	b.ReportMetric(sock, "socket-ns/op")
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
	on := newRTRig(b, rtMessageSize, true, 0)
	off := newRTRig(b, rtMessageSize, false, 0)
	b.ReportAllocs()
	b.ResetTimer()
	ns := interleave(b.N, rtSlice, func(m int) { on.run(b, m) }, func(m int) { off.run(b, m) })
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

// BenchmarkMessageSize: the round trip with messages of 0 B to 64 KiB (1-byte replies),
// against channels carrying the same bytes with the same two copies (the message into the
// receiver's buffer, the reply out): x_chan per size (target at 64 KiB ≤ 1.3).
func BenchmarkMessageSize(b *testing.B) {
	for _, size := range []int{0, 64, 1 << 10, 4 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("B=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			roundTripVsChan(b, size, 0)
		})
	}
}

// BenchmarkIdleConnections: the round trip on one connection while 0 to 9,999 other
// connections to the same port sit idle (target: flat), with x_chan as in BenchmarkRoundTrip.
func BenchmarkIdleConnections(b *testing.B) {
	for _, conns := range []int{1, 10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			roundTripVsChan(b, rtMessageSize, conns-1)
		})
	}
}
