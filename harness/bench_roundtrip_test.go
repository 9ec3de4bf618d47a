package harness_test

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"

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

// roundTripEmu runs b.N round trips through the emulator and returns ns/op.
func roundTripEmu(b *testing.B) float64 {
	w := harness.NewWorld()
	w.Trace().SetEnabled(false)
	d := &testdriver.Driver{}
	if hr := w.Load("bench", d); hr != kernel.S_OK {
		b.Fatal(hr)
	}
	p := w.NewProcess("svc.exe", kernel.TokenAdmin())
	h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		b.Fatal(hr)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 16+rtMessageSize)
		reply := make([]byte, 16+rtReplySize)
		for {
			if hr := p.FilterGetMessage(h, buf, nil); hr != kernel.S_OK {
				return // E_HANDLE at unload
			}
			driverapi.FilterReplyHeader{Status: kernel.STATUS_SUCCESS, MessageId: binary.LittleEndian.Uint64(buf[8:])}.Put(reply)
			reply[16] = buf[16]
			p.FilterReplyMessage(h, reply)
		}
	}()
	fm, f, conn := d.FM, d.Filter, d.Conn(0)
	msg := make([]byte, rtMessageSize)
	reply := make([]byte, rtReplySize)
	ctx := context.Background()
	var n uint32 // escapes once: the driver calls through an interface
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n = rtReplySize
		if st := fm.SendMessage(ctx, f, &conn.Port, msg, reply, &n, nil); st != kernel.STATUS_SUCCESS {
			b.Fatal(st)
		}
	}
	b.StopTimer()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	w.Unload("bench")
	<-done
	p.CloseHandle(h)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return ns
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
