package harness_test

// Fuzz targets of the user-mode side: nothing a user program passes may panic, hang or lose a
// message. Seeds: f.Add below and testdata/fuzz/<FuzzName>/ in this directory; a plain `go test`
// runs both. To fuzz:
//
//	go test -run '^$' -fuzz '^FuzzMessageFraming$' -fuzztime 60s ./harness
//	go test -run '^$' -fuzz '^FuzzConnectContext$' -fuzztime 60s ./harness
//	go test -run '^$' -fuzz '^FuzzConnectName$' -fuzztime 60s ./harness

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

const fzPortName = `\FuzzPort`

// fzDriver is a one-port driver that remembers the last connection context it saw.
type fzDriver struct {
	fm     driverapi.FilterManager
	filter driverapi.Filter
	server driverapi.ServerPort

	mu      sync.Mutex
	client  driverapi.ClientPort
	context []byte
	calls   int
}

func (d *fzDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: d.unload})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(fzPortName, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS))
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil,
		func(_ context.Context, p driverapi.Port, _ any, ctx []byte) (any, kernel.NTSTATUS) {
			d.mu.Lock()
			d.calls++
			d.context = append([]byte(nil), ctx...)
			d.mu.Unlock()
			d.client.Store(p)
			return nil, kernel.STATUS_SUCCESS
		},
		func(context.Context, any) { fm.CloseClientPort(f, &d.client) },
		nil, 1)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

func (d *fzDriver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.fm.CloseCommunicationPort(d.server)
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

func fzFill(b []byte, seed byte) []byte {
	for i := range b {
		b[i] = seed + byte(i*31)
	}
	return b
}

const fzSentinel = 0xEE

// FuzzMessageFraming checks FILTER_MESSAGE_HEADER / FILTER_REPLY_HEADER framing end to end, for
// random payload, Get-buffer, reply-capacity and reply sizes (R-SEND-4, R-SEND-6…8, R-USER Get
// 1, R-USER Reply 1–3): a Get either receives the message exactly (header, payload, nothing
// written past it) or completes with BUFFER_TOO_SMALL and the size needed, leaving its buffer
// untouched and the message queued for a larger Get — never truncation or loss; the reply
// reaches the sender exactly, truncated only to its capacity with BUFFER_OVERFLOW. It also
// checks the driverapi header codec on the raw bytes, and the same exchange through
// the idiomatic Conn (Receive grows its buffer, Reply).
func FuzzMessageFraming(f *testing.F) {
	f.Add(uint16(5), uint16(64), uint8(8), uint8(2), false, []byte("0123456789abcdef!"))
	f.Add(uint16(100), uint16(20), uint8(0), uint8(0), false, []byte{})
	f.Add(uint16(0), uint16(msgHdr), uint8(1), uint8(1), false, []byte("short"))
	f.Add(uint16(48), uint16(msgHdr-1), uint8(4), uint8(9), false, bytes.Repeat([]byte{0xFF}, msgHdr))
	f.Add(uint16(4000), uint16(4000+msgHdr), uint8(255), uint8(255), true, []byte{})
	f.Add(uint16(33), uint16(40), uint8(3), uint8(3), true, []byte{})
	f.Fuzz(func(t *testing.T, payloadLen, bufLen uint16, capacity, replyLen uint8, viaConn bool, raw []byte) {
		fzHeaders(t, raw)
		payloadLen %= 8192
		bufLen %= 8192 + 64
		synctest.Test(t, func(t *testing.T) {
			if viaConn {
				fzFramingConn(t, int(payloadLen), int(bufLen), int(capacity), int(replyLen))
			} else {
				fzFraming(t, int(payloadLen), int(bufLen), int(capacity), int(replyLen))
			}
		})
	})
}

// fzHeaders checks the header helpers on arbitrary bytes.
func fzHeaders(t *testing.T, raw []byte) {
	hdr, ok := driverapi.ParseFilterMessageHeader(raw)
	if ok != (len(raw) >= driverapi.FilterMessageHeaderSize) {
		t.Fatalf("ParseFilterMessageHeader(%d bytes) ok=%v", len(raw), ok)
	}
	if ok && (hdr.ReplyLength != binary.LittleEndian.Uint32(raw) || hdr.MessageId != binary.LittleEndian.Uint64(raw[8:])) {
		t.Fatalf("ParseFilterMessageHeader(%x) = %+v", raw[:driverapi.FilterMessageHeaderSize], hdr)
	}
	if !ok && hdr != (driverapi.FilterMessageHeader{}) {
		t.Fatalf("ParseFilterMessageHeader of %d bytes = %+v, want the zero header", len(raw), hdr)
	}
	buf := append([]byte(nil), raw...)
	st := kernel.NTSTATUS(0xC0DE0001)
	id := uint64(len(raw))<<40 | 0x1234
	const hs = driverapi.FilterReplyHeaderSize
	if !(driverapi.FilterReplyHeader{Status: st, MessageId: id}).Put(buf) {
		if len(raw) >= hs || !bytes.Equal(buf, raw) {
			t.Fatalf("FilterReplyHeader.Put refused %d bytes or wrote into a short buffer", len(raw))
		}
		return
	}
	if len(raw) < hs || binary.LittleEndian.Uint32(buf) != uint32(st) || binary.LittleEndian.Uint32(buf[4:]) != 0 ||
		binary.LittleEndian.Uint64(buf[8:]) != id || !bytes.Equal(buf[hs:], raw[hs:]) {
		t.Fatalf("FilterReplyHeader.Put wrote %x over %x", buf, raw)
	}
	rb := driverapi.NewFilterReply(st, id, raw)
	if len(rb) != hs+len(raw) || !bytes.Equal(rb[hs:], raw) || !bytes.Equal(rb[:hs], buf[:hs]) {
		t.Fatalf("NewFilterReply(%x) = %x", raw, rb)
	}
}

type fzSendResult struct {
	st    kernel.NTSTATUS
	n     uint32
	reply []byte
}

// fzLoad makes a world with the fuzz driver loaded and an administrator's process.
func fzLoad(t *testing.T) (*harness.World, *fzDriver, *harness.Process) {
	w := harness.New(t)
	d := &fzDriver{}
	if err := w.Load("fuzz", d); err != nil {
		t.Fatalf("load: %v", err)
	}
	return w, d, w.NewProcess("svc.exe", kernel.TokenAdmin())
}

// fzSend starts FltSendMessage of msg with a reply buffer of capacity bytes (0: one-way); the
// reply buffer has 8 sentinel bytes past the capacity, to catch a write past it.
func fzSend(d *fzDriver, msg []byte, capacity int) <-chan fzSendResult {
	ch := make(chan fzSendResult, 1)
	go func() {
		var reply []byte
		var np *uint32
		var n uint32
		if capacity > 0 {
			reply = bytes.Repeat([]byte{fzSentinel}, capacity+8)
			n = uint32(capacity)
			np = &n
		}
		st := d.fm.SendMessage(context.Background(), d.filter, &d.client, msg, reply, np, nil)
		ch <- fzSendResult{st, n, reply}
	}()
	return ch
}

// seen returns what ConnectNotify saw last and how many times it ran.
func (d *fzDriver) seen() ([]byte, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.context, d.calls
}

func fzStillBlocked(t *testing.T, ch <-chan fzSendResult, what string) {
	t.Helper()
	synctest.Wait()
	select {
	case r := <-ch:
		t.Fatalf("%s: the sender returned %v", what, r.st)
	default:
	}
}

// fzCheckReply checks what the sender got for a reply of replyLen bytes.
func fzCheckReply(t *testing.T, r fzSendResult, capacity, replyLen int, status kernel.NTSTATUS) {
	t.Helper()
	want, n := status, replyLen
	if replyLen > capacity {
		want, n = kernel.STATUS_BUFFER_OVERFLOW, capacity // R-SEND-8
	}
	if r.st != want || int(r.n) != n {
		t.Fatalf("sender got %v with %d bytes, want %v with %d", r.st, r.n, want, n)
	}
	if !bytes.Equal(r.reply[:n], fzFill(make([]byte, replyLen), 7)[:n]) {
		t.Fatalf("reply bytes %x", r.reply[:n])
	}
	for i := n; i < len(r.reply); i++ {
		if r.reply[i] != fzSentinel {
			t.Fatalf("the reply buffer was written at %d, past the %d reply bytes", i, n)
		}
	}
}

func fzFraming(t *testing.T, payloadLen, bufLen, capacity, replyLen int) {
	w, d, p := fzLoad(t)
	h, hr := p.FilterConnectCommunicationPort(fzPortName, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	msg := fzFill(make([]byte, payloadLen), 1)
	ch := fzSend(d, msg, capacity)
	need := driverapi.FilterMessageHeaderSize + payloadLen
	buf := bytes.Repeat([]byte{fzSentinel}, bufLen)
	ov := &fltlib.Overlapped{}
	hr = p.FilterGetMessage(h, buf, ov)
	if bufLen < driverapi.FilterMessageHeaderSize {
		if hr != kernel.E_INVALIDARG { // R-USER Get 1
			t.Fatalf("Get with %d bytes: %v", bufLen, hr)
		}
		fzStillBlocked(t, ch, "after a refused Get")
		buf = bytes.Repeat([]byte{fzSentinel}, need)
		hr = p.FilterGetMessage(h, buf, ov)
	} else if bufLen < need {
		if hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
			t.Fatalf("Get: %v", hr)
		}
		synctest.Wait()
		st, n := ov.Result()
		if st != kernel.STATUS_BUFFER_TOO_SMALL || int(n) != need { // R-SEND-4
			t.Fatalf("a %d-byte Get for a %d-byte message completed %v with %d", bufLen, payloadLen, st, n)
		}
		if !bytes.Equal(buf, bytes.Repeat([]byte{fzSentinel}, bufLen)) {
			t.Fatal("a Get that was too small had its buffer written")
		}
		fzStillBlocked(t, ch, "after BUFFER_TOO_SMALL (the message must wait for a larger Get)")
		buf = bytes.Repeat([]byte{fzSentinel}, need)
		hr = p.FilterGetMessage(h, buf, ov)
	}
	if hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
		t.Fatalf("Get: %v", hr)
	}
	synctest.Wait()
	st, n := ov.Result()
	if st != kernel.STATUS_SUCCESS || int(n) != need {
		t.Fatalf("Get of %d bytes for a %d-byte message: %v %d", len(buf), payloadLen, st, n)
	}
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	wantRL, wantID := uint32(0), uint64(0)
	if capacity > 0 {
		wantRL, wantID = driverapi.MessageReplyLength(capacity), 1 // R-SEND-7
	}
	if hdr.ReplyLength != wantRL || hdr.MessageId != wantID || binary.LittleEndian.Uint32(buf[4:]) != 0 {
		t.Fatalf("header %+v (padding %x), want ReplyLength %d MessageId %d", hdr, buf[4:8], wantRL, wantID)
	}
	if !bytes.Equal(buf[driverapi.FilterMessageHeaderSize:need], msg) {
		t.Fatal("payload differs")
	}
	for i := need; i < len(buf); i++ {
		if buf[i] != fzSentinel {
			t.Fatalf("the Get buffer was written at %d, past the %d-byte message", i, need)
		}
	}

	reply := fzFill(make([]byte, replyLen), 7)
	status := kernel.NTSTATUS(0xC0000906)
	rhr := p.FilterReplyMessage(h, driverapi.NewFilterReply(status, hdr.MessageId, reply))
	if capacity == 0 {
		if rhr != kernel.ERROR_FLT_NO_WAITER_FOR_REPLY { // R-SEND-6, R-USER Reply 2
			t.Fatalf("reply to a one-way message: %v", rhr)
		}
		if r := <-ch; r.st != kernel.STATUS_SUCCESS || r.n != 0 {
			t.Fatalf("one-way send: %v %d", r.st, r.n)
		}
	} else {
		want := kernel.S_OK
		if replyLen > capacity {
			want = kernel.HResultFromWin32(kernel.ERROR_MORE_DATA) // R-USER Reply 3
		}
		if rhr != want {
			t.Fatalf("reply of %d bytes for capacity %d: %v, want %v", replyLen, capacity, rhr, want)
		}
		fzCheckReply(t, <-ch, capacity, replyLen, status)
		if again := p.FilterReplyMessage(h, driverapi.NewFilterReply(status, hdr.MessageId, reply)); again != kernel.ERROR_FLT_NO_WAITER_FOR_REPLY {
			t.Fatalf("second reply: %v", again)
		}
	}
	if err := p.CloseHandle(h); err != nil {
		t.Fatal(err)
	}
	if err := w.Unload("fuzz"); err != nil {
		t.Fatalf("unload: %v", err)
	}
}

func fzFramingConn(t *testing.T, payloadLen, bufLen, capacity, replyLen int) {
	w, d, p := fzLoad(t)
	conn, err := fltlib.Dial(context.Background(), p, fzPortName, &fltlib.DialOptions{MaxMessageSize: bufLen})
	if err != nil {
		t.Fatal(err)
	}
	msg := fzFill(make([]byte, payloadLen), 1)
	ch2 := fzSend(d, msg, capacity)
	m, err := conn.Receive(context.Background())
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if !bytes.Equal(m.Payload, msg) || m.ReplyCapacity != capacity || m.WantsReply() != (capacity > 0) {
		t.Fatalf("Receive: %d bytes, capacity %d, id %d", len(m.Payload), m.ReplyCapacity, m.ID)
	}
	reply := fzFill(make([]byte, replyLen), 7)
	err = conn.Reply(m, kernel.STATUS_SUCCESS, reply)
	switch {
	case capacity == 0:
		if !errors.Is(err, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY) {
			t.Fatalf("Reply to a one-way message: %v", err)
		}
		if r := <-ch2; r.st != kernel.STATUS_SUCCESS {
			t.Fatalf("one-way send: %v", r.st)
		}
	default:
		if (replyLen > capacity) != errors.Is(err, kernel.HResultFromWin32(kernel.ERROR_MORE_DATA)) || (replyLen <= capacity && err != nil) {
			t.Fatalf("Reply of %d bytes for capacity %d: %v", replyLen, capacity, err)
		}
		fzCheckReply(t, <-ch2, capacity, replyLen, kernel.STATUS_SUCCESS)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Unload("fuzz"); err != nil {
		t.Fatalf("unload: %v", err)
	}
}

// FuzzConnectContext checks FilterConnectCommunicationPort's context arguments (R-USER connect
// 2, docs/rules.md §1 max connection context): nil with a non-zero size, a context with size 0, a
// negative size, a size larger than the context or than 65511, or unknown options are exactly
// E_INVALIDARG and ConnectNotify is not called; otherwise S_OK and ConnectNotify sees exactly
// the first size bytes. Dial with the same bytes agrees.
func FuzzConnectContext(f *testing.F) {
	f.Add(uint32(0), int32(0), true, uint32(0))
	f.Add(uint32(10), int32(10), false, uint32(0))
	f.Add(uint32(10), int32(4), false, uint32(1))
	f.Add(uint32(0), int32(0), false, uint32(0))
	f.Add(uint32(0), int32(5), true, uint32(0))
	f.Add(uint32(65511), int32(65511), false, uint32(0))
	f.Add(uint32(65512), int32(65512), false, uint32(0))
	f.Add(uint32(70000), int32(65511), false, uint32(0))
	f.Add(uint32(8), int32(-1), false, uint32(0))
	f.Add(uint32(8), int32(9), false, uint32(0))
	f.Add(uint32(8), int32(8), false, uint32(2))
	f.Fuzz(func(t *testing.T, ctxLen uint32, size int32, nilCtx bool, options uint32) {
		ctxLen %= 70000
		var ctx []byte
		if !nilCtx {
			ctx = fzFill(make([]byte, ctxLen), 3)
		}
		ok := options&^driverapi.FLT_PORT_FLAG_SYNC_HANDLE == 0 && (ctx == nil) == (size == 0) && size >= 0 &&
			int(size) <= len(ctx) && size <= driverapi.MaxConnectionContext
		synctest.Test(t, func(t *testing.T) {
			w := harness.New(t)
			d := &fzDriver{}
			if err := w.Load("fuzz", d); err != nil {
				t.Fatalf("load: %v", err)
			}
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			h, hr := p.FilterConnectCommunicationPort(fzPortName, options, ctx, int(size), nil)
			if !ok {
				if _, calls := d.seen(); hr != kernel.E_INVALIDARG || h != kernel.InvalidHandle || calls != 0 {
					t.Fatalf("context %d bytes (nil %v), size %d, options %#x: %v, handle %#x, ConnectNotify called %d times",
						len(ctx), ctx == nil, size, options, hr, h, calls)
				}
			} else {
				if seen, calls := d.seen(); hr != kernel.S_OK || calls != 1 || !bytes.Equal(seen, ctx[:size]) {
					t.Fatalf("context %d bytes, size %d: %v, ConnectNotify saw %d bytes (%d calls)", len(ctx), size, hr, len(seen), calls)
				}
				if err := p.CloseHandle(h); err != nil {
					t.Fatal(err)
				}
			}
			// Dial: the context is the whole slice (nil when empty).
			conn, err := fltlib.Dial(context.Background(), p, fzPortName, &fltlib.DialOptions{Context: ctx})
			if len(ctx) > driverapi.MaxConnectionContext {
				if !errors.Is(err, kernel.E_INVALIDARG) {
					t.Fatalf("Dial with a %d-byte context: %v", len(ctx), err)
				}
			} else {
				if err != nil {
					t.Fatalf("Dial with a %d-byte context: %v", len(ctx), err)
				}
				if seen, _ := d.seen(); !bytes.Equal(seen, ctx) {
					t.Fatalf("Dial: ConnectNotify saw %d bytes, want %d", len(seen), len(ctx))
				}
				if err := conn.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Unload("fuzz"); err != nil {
				t.Fatalf("unload: %v", err)
			}
		})
	})
}

// FuzzConnectName checks connects by arbitrary names (R-MODEL-1, R-USER connect 5): the name
// ends at the first NUL (an LPCWSTR); "" or a name not starting with `\` is 0x800700A1; an empty
// component 0x8007007B; a missing directory on the way 0x80070003; a name through the port or
// ending at a directory 0x80070006 (type mismatch); the port's exact name connects (a connect
// is case-sensitive); any other name is 0x80070002.
func FuzzConnectName(f *testing.F) {
	for _, s := range []string{fzPortName, `\fuzzport`, `\FUZZPORT`, `FuzzPort`, `\`, ``, `\FuzzPort\`, `\\FuzzPort`,
		`\Fuzz\Port`, "\\Fuzz\x00Port", `\FuzzPortX`, `\ſuzzport`, `\FuzzPort\x`, `\Device`, `\Device\x`,
		`\FileSystem\Filters\x`, `\RPC Control\FuzzPort`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := fzConnectNameOracle(name)
		synctest.Test(t, func(t *testing.T) {
			w := harness.New(t)
			d := &fzDriver{}
			if err := w.Load("fuzz", d); err != nil {
				t.Fatalf("load: %v", err)
			}
			p := w.NewProcess("svc.exe", kernel.TokenAdmin())
			h, hr := p.FilterConnectCommunicationPort(name, 0, nil, 0, nil)
			if hr != want {
				t.Fatalf("connect %q: %v, want %v", name, hr, want)
			}
			if hr == kernel.S_OK {
				if err := p.CloseHandle(h); err != nil {
					t.Fatal(err)
				}
			} else if _, calls := d.seen(); h != kernel.InvalidHandle || calls != 0 {
				t.Fatalf("connect %q failed with %v but returned handle %#x and called ConnectNotify %d times", name, hr, h, calls)
			}
		})
	})
}

// fzConnectNameOracle is what a connect by name returns in a world holding only fzPortName and
// the standard directories, written from the object manager's walk, not from the emulator's.
func fzConnectNameOracle(name string) kernel.HRESULT {
	const (
		badPath      kernel.HRESULT = 0x800700A1
		invalidName  kernel.HRESULT = 0x8007007B
		pathNotFound kernel.HRESULT = 0x80070003
		notFound     kernel.HRESULT = 0x80070002
		typeMismatch kernel.HRESULT = 0x80070006
	)
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if name == "" || name[0] != '\\' {
		return badPath
	}
	if name == `\` {
		return typeMismatch // the root directory is not a port
	}
	comps := strings.Split(name[1:], `\`)
	if slices.Contains(comps, "") {
		return invalidName
	}
	isDir := func(full string) bool { return slices.Contains(kernel.StandardDirectories, full) }
	for i := range len(comps) - 1 {
		prefix := `\` + strings.Join(comps[:i+1], `\`)
		switch {
		case prefix == fzPortName:
			return typeMismatch
		case !isDir(prefix):
			return pathNotFound
		}
	}
	switch {
	case name == fzPortName:
		return kernel.S_OK
	case isDir(name):
		return typeMismatch
	}
	return notFound
}
