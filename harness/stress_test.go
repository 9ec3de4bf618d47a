package harness_test

// Stress test: 8 kernel senders and 8 user workers on several connections, with random
// timeouts, CancelIoEx, process kills, FltCloseClientPort, a server-port close and an unload (and
// a reload) in the middle, all inside a synctest bubble so that timeouts cost nothing. At the end
// the records of both sides are cross-checked (see stressRun.check for the invariants).
//
// The seed fixes each goroutine's plan (its random choices); the interleaving of the goroutines
// is the Go scheduler's, so a failure is a property violation whatever the interleaving, and
// rerunning with the printed seed replays the same plans.
//
//	FLTEMU_SEED=7 go test -race -run TestStress ./harness             # one other seed
//	FLTEMU_SEEDS=20 go test -race -run TestStress ./harness           # seeds 1…20
//	FLTEMU_STRESS_OPS=100000 go test -race -run TestStress ./harness  # longer runs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

const (
	stressPortName  = `\StressPort`
	stressDrvName   = "stress"
	stressMaxConns  = 10
	stressSenders   = 8
	stressWorkers   = 8
	stressHolders   = 2
	stressMinPaylen = 10 // token (8) + length (2)
)

// stressDefaultSeeds are run when neither FLTEMU_SEED nor FLTEMU_SEEDS is set.
var stressDefaultSeeds = []uint64{1, 2, 3}

// stressSeeds returns the seeds of this run: FLTEMU_SEED (one seed, the harness's convention),
// else FLTEMU_SEEDS=N (the seeds 1…N, for long runs), else the default list (its first seed
// only with -short).
func stressSeeds(t *testing.T) []uint64 {
	if env := os.Getenv(harness.SeedEnv); env != "" {
		v, err := strconv.ParseUint(env, 0, 64)
		require.NoError(t, err, "%s=%q", harness.SeedEnv, env)
		return []uint64{v}
	}
	if env := os.Getenv("FLTEMU_SEEDS"); env != "" {
		n, err := strconv.Atoi(env)
		require.NoError(t, err, "FLTEMU_SEEDS=%q", env)
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(i + 1)
		}
		return out
	}
	if testing.Short() {
		return stressDefaultSeeds[:1]
	}
	return stressDefaultSeeds
}

// stressOps returns the number of operations per run: FLTEMU_STRESS_OPS or 10,000.
func stressOps(t *testing.T) int {
	if env := os.Getenv("FLTEMU_STRESS_OPS"); env != "" {
		v, err := strconv.Atoi(env)
		require.NoError(t, err, "FLTEMU_STRESS_OPS=%q", env)
		return v
	}
	return 10_000
}

// stressReplyStatuses are the statuses workers put in their replies. STATUS_TIMEOUT is there on
// purpose: a sender must not confuse it with its own timeout (R-SEND-8: the send returns the
// status the user put in the reply header, whatever it is).
var stressReplyStatuses = []kernel.NTSTATUS{kernel.STATUS_SUCCESS, kernel.STATUS_VIRUS_INFECTED,
	kernel.STATUS_TIMEOUT, kernel.STATUS_ACCESS_DENIED}

// ---- the driver ----

// stressDriver is one load of the stress minifilter. It keeps per-connection records in the
// shared run so that the checks at the end see every connection of every load.
type stressDriver struct {
	run    *stressRun
	epoch  int
	fm     driverapi.FilterManager
	filter driverapi.Filter

	mu         sync.Mutex
	server     driverapi.ServerPort
	portClosed bool
	conns      []*stressConn
	active     int // connections accepted whose kernel endpoint this driver has not closed
}

// stressConn is the driver's state for one connection (its ConnectNotify cookie).
type stressConn struct {
	d    *stressDriver
	id   int
	port driverapi.ClientPort

	mu           sync.Mutex
	closed       bool        // the driver closed the client port (chaos or DisconnectNotify)
	gone         atomic.Bool // mirror of closed, read without the lock
	filterClosed bool        // the chaos goroutine closed it before any DisconnectNotify
	notifies     int
}

func (d *stressDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: d.unload})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(stressPortName, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS))
	sp, st := fm.CreateCommunicationPort(f, &attrs, d, d.connect, d.disconnect, d.message, stressMaxConns)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	d.server = sp
	return fm.StartFiltering(f)
}

func (d *stressDriver) connect(_ context.Context, p driverapi.Port, _ any, ctx []byte) (any, kernel.NTSTATUS) {
	if len(ctx) > 0 && ctx[0] == 'R' {
		return nil, kernel.STATUS_INSUFFICIENT_RESOURCES // R-CB-1: refused
	}
	c := &stressConn{d: d}
	c.port.Store(p)
	d.mu.Lock()
	d.active++
	if d.active > stressMaxConns {
		d.run.bug("MaxConnections exceeded: %d connections accepted and not closed, max %d", d.active, stressMaxConns)
	}
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	d.run.addConn(c)
	return c, kernel.STATUS_SUCCESS
}

// closeClientLocked closes the connection's client port once; c.mu is held. The count of
// active connections drops before FltCloseClientPort frees the slot, so that it never counts
// more connections than the filter manager holds slots for.
func (c *stressConn) closeClientLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.gone.Store(true)
	c.d.mu.Lock()
	c.d.active--
	c.d.mu.Unlock()
	c.d.fm.CloseClientPort(c.d.filter, &c.port)
}

func (d *stressDriver) disconnect(_ context.Context, cookie any) {
	c := cookie.(*stressConn)
	c.mu.Lock()
	c.notifies++
	c.closeClientLocked()
	c.mu.Unlock()
}

func (d *stressDriver) message(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
	return uint32(copy(out, in)), kernel.STATUS_SUCCESS
}

func (d *stressDriver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	d.closeServerPort()
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

func (d *stressDriver) closeServerPort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.portClosed {
		d.portClosed = true
		d.fm.CloseCommunicationPort(d.server)
	}
}

// chaosClose is a random FltCloseClientPort by the driver, outside DisconnectNotify.
func (c *stressConn) chaosClose() {
	c.mu.Lock()
	if !c.closed && c.notifies == 0 {
		c.filterClosed = true
	}
	c.closeClientLocked()
	c.mu.Unlock()
}

func (d *stressDriver) randomConn(r *rand.Rand) *stressConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) == 0 {
		return nil
	}
	// Mostly live connections (nil when there is none); sometimes any, closed ones included
	// (R-SEND-2).
	if r.IntN(20) == 0 {
		return d.conns[r.IntN(len(d.conns))]
	}
	var live []*stressConn
	for _, c := range d.conns {
		if !c.gone.Load() {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[r.IntN(len(live))]
}

// ---- the run ----

type stressSend struct {
	token  uint64
	oneWay bool
	cap    int
	st     kernel.NTSTATUS
	n      uint32
	reply  []byte
}

type stressReply struct {
	token   uint64
	status  kernel.NTSTATUS
	plen    int
	hr      kernel.HRESULT
	wrongID bool
}

type stressRun struct {
	t     *testing.T
	seed  uint64
	total int
	// mix varies message and Get sizes widely (R-SEND-4 first fit): messages up to 410 bytes,
	// Gets from 26 to 446 bytes, and a worker re-issues a refused Get with the size reported.
	mix  bool
	w    *harness.World
	cur  atomic.Pointer[stressDriver]
	ops  atomic.Int64
	done atomic.Bool

	issued sync.Map // *fltlib.Overlapped → *harness.Process that issued it, while not yet collected

	holders [stressHolders]atomic.Pointer[harness.Process]
	procs   [stressWorkers]atomic.Pointer[harness.Process]

	mu        sync.Mutex
	bugs      []string
	conns     []*stressConn
	sends     []stressSend
	delivered map[uint64]int
	replies   []stressReply
	counts    map[string]int
}

func (s *stressRun) bug(format string, args ...any) {
	s.mu.Lock()
	if len(s.bugs) < 50 {
		s.bugs = append(s.bugs, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

func (s *stressRun) count(what string, n int) {
	s.mu.Lock()
	s.counts[what] += n
	s.mu.Unlock()
}

func (s *stressRun) addConn(c *stressConn) {
	s.mu.Lock()
	c.id = len(s.conns)
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *stressRun) op() { s.ops.Add(1) }

// stressPayload makes a message: the token, the total length, then filler derived from the token.
func stressPayload(token uint64, n int) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, token)
	binary.LittleEndian.PutUint16(b[8:], uint16(n))
	for i := stressMinPaylen; i < n; i++ {
		b[i] = byte(token) ^ byte(i)
	}
	return b
}

// stressParse checks a received payload and returns its token.
func stressParse(p []byte) (uint64, bool) {
	if len(p) < stressMinPaylen {
		return 0, false
	}
	token := binary.LittleEndian.Uint64(p)
	if int(binary.LittleEndian.Uint16(p[8:])) != len(p) {
		return token, false
	}
	for i := stressMinPaylen; i < len(p); i++ {
		if p[i] != byte(token)^byte(i) {
			return token, false
		}
	}
	return token, true
}

// ---- kernel senders ----

// more reports whether the run has not yet made its operations.
func (s *stressRun) more() bool { return s.ops.Load() < int64(s.total) }

func (s *stressRun) sender(idx int) {
	r := rand.New(rand.NewPCG(s.seed, uint64(100+idx)))
	var recs []stressSend
	for i := 0; s.more(); {
		d := s.cur.Load()
		c := d.randomConn(r)
		if c == nil {
			time.Sleep(time.Duration(1+r.IntN(3)) * time.Millisecond)
			continue
		}
		i++
		token := uint64(idx+1)<<40 | uint64(i)
		rec := stressSend{token: token, oneWay: r.IntN(10) < 3}
		msgLen := stressMinPaylen + r.IntN(60)
		if s.mix {
			msgLen = stressMinPaylen + r.IntN(400)
		}
		msg := stressPayload(token, msgLen)
		var reply []byte
		var np *uint32
		var n uint32
		if !rec.oneWay {
			rec.cap = 8 + r.IntN(32)
			reply = make([]byte, rec.cap)
			n = uint32(rec.cap)
			np = &n
		}
		ctx := context.Background()
		var cancel context.CancelFunc = func() {}
		var timeout *int64
		switch k := r.IntN(10); {
		case k == 0:
			timeout = driverapi.NoWait() // R-SEND-3: zero does not wait
		case k < 6:
			timeout = driverapi.RelativeTimeout(time.Duration(1+r.IntN(20))*time.Millisecond + time.Duration(r.IntN(1000))*time.Microsecond)
		case k < 7:
			timeout = driverapi.AbsoluteTimeout(time.Now().Add(time.Duration(r.IntN(20)) * time.Millisecond))
		default:
			// No timeout: the thread terminates instead (R-SEND-5, R-SEND-9).
			ctx, cancel = context.WithTimeout(ctx, time.Duration(5+r.IntN(40))*time.Millisecond)
		}
		s.op()
		rec.st = d.fm.SendMessage(ctx, d.filter, &c.port, msg, reply, np, timeout)
		cancel()
		rec.n = n
		if rec.n > 0 {
			rec.reply = append([]byte(nil), reply[:rec.n]...)
		}
		recs = append(recs, rec)
	}
	s.mu.Lock()
	s.sends = append(s.sends, recs...)
	for _, rec := range recs {
		s.counts["send "+rec.st.Error()]++
	}
	s.mu.Unlock()
}

// ---- user workers ----

type stressGet struct {
	h   kernel.Handle
	buf []byte
	ov  *fltlib.Overlapped
}

type stressHandle struct {
	h        kernel.Handle
	syncOnly bool
}

type stressDup struct {
	holder *harness.Process
	h      kernel.Handle
}

type stressWorker struct {
	s       *stressRun
	idx     int
	r       *rand.Rand
	proc    *harness.Process
	iocp    kernel.Handle
	handles []stressHandle
	gets    map[*fltlib.Overlapped]*stressGet
	dups    []stressDup
	replies []stressReply
	deliv   []uint64
	nops    int // API calls made
}

func (wk *stressWorker) op() {
	wk.nops++
	wk.s.op()
}

var (
	stressHrPending    = kernel.HResultFromWin32(kernel.ERROR_IO_PENDING)
	stressHrAborted    = kernel.HResultFromWin32(kernel.ERROR_OPERATION_ABORTED)
	stressHrMoreData   = kernel.HResultFromWin32(kernel.ERROR_MORE_DATA)
	stressHrTooSmall   = kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER)
	stressHrNotFound   = kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND)
	stressHrCountLimit = kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT)
	stressHrRefused    = kernel.HResultFromNtStatus(kernel.STATUS_INSUFFICIENT_RESOURCES)
)

func (wk *stressWorker) newProcess() {
	if wk.proc != nil {
		wk.harvestDead()
	}
	wk.proc = wk.s.w.NewProcess(fmt.Sprintf("worker%d.exe", wk.idx), kernel.TokenAdmin())
	wk.s.procs[wk.idx].Store(wk.proc)
	h, err := wk.proc.CreateIoCompletionPort(kernel.InvalidHandle, 0, 0, 0)
	if err != nil {
		wk.s.bug("worker %d: CreateIoCompletionPort: %v", wk.idx, err)
	}
	wk.iocp = h
	wk.handles = nil
}

// harvestDead collects the Gets of a process that exited: each must have completed (R-USER:
// process exit 3 closes the handles; Windows cancels the I/O of the exiting threads).
func (wk *stressWorker) harvestDead() {
	for ov, g := range wk.gets {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ov.Event.Wait(ctx)
		cancel()
		if err != nil {
			wk.s.bug("worker %d: a Get issued by %v was still pending 1s after the process exited", wk.idx, wk.proc)
			// Cancel it the only way left, so that the run can end: close the duplicates.
			continue
		}
		st, n := ov.Result()
		wk.completed(g, st, n, false)
	}
}

func (wk *stressWorker) alive() bool { return wk.proc != nil && !wk.proc.Kernel().Exited() }

func (wk *stressWorker) randomHandle() (stressHandle, int, bool) {
	if len(wk.handles) == 0 {
		return stressHandle{}, 0, false
	}
	i := wk.r.IntN(len(wk.handles))
	return wk.handles[i], i, true
}

// connect connects the worker's process to the port and reports whether it worked.
func (wk *stressWorker) connect() bool {
	var ctx []byte
	size := wk.r.IntN(33)
	if size > 0 {
		ctx = make([]byte, size)
		if wk.r.IntN(10) == 0 {
			ctx[0] = 'R' // the driver refuses this one
		}
	}
	var opts uint32
	if wk.r.IntN(10) == 0 {
		opts = driverapi.FLT_PORT_FLAG_SYNC_HANDLE
	}
	wk.op()
	h, hr := wk.proc.FilterConnectCommunicationPort(stressPortName, opts, ctx, size, nil)
	switch hr {
	case kernel.S_OK:
		wk.handles = append(wk.handles, stressHandle{h: h, syncOnly: opts != 0})
		_, err := wk.proc.CreateIoCompletionPort(h, wk.iocp, uintptr(h), 0)
		switch {
		case opts != 0 && !errors.Is(err, kernel.ERROR_INVALID_PARAMETER): // R-IOCP: a synchronous handle cannot be associated
			wk.s.bug("worker %d: associate sync handle %#x: %v, want ERROR_INVALID_PARAMETER", wk.idx, h, err)
		case opts == 0 && err != nil && wk.alive():
			wk.s.bug("worker %d: associate %#x: %v", wk.idx, h, err)
		}
		wk.s.count("connect ok", 1)
		return true
	case stressHrNotFound, stressHrCountLimit, kernel.ERROR_FLT_DELETING_OBJECT:
		wk.s.count("connect "+hr.Error(), 1)
	case stressHrRefused:
		if size == 0 || ctx[0] != 'R' {
			wk.s.bug("worker %d: connect refused with %v without asking", wk.idx, hr)
		}
	case kernel.E_ACCESSDENIED: // the process died while connecting
		if wk.alive() {
			wk.s.bug("worker %d: connect: %v", wk.idx, hr)
		}
	default:
		wk.s.bug("worker %d: connect: unexpected %v", wk.idx, hr)
	}
	return false
}

func (wk *stressWorker) issueGet() {
	hd, _, ok := wk.randomHandle()
	if !ok || len(wk.gets) >= 4 || hd.syncOnly { // on a synchronous handle the call would wait
		return
	}
	size := msgHdr + 80
	switch {
	case wk.s.mix:
		size = msgHdr + stressMinPaylen + wk.r.IntN(420) // R-SEND-4: first fit among varied sizes
	case wk.r.IntN(5) == 0:
		size = msgHdr + wk.r.IntN(30) // often too small: R-SEND-4
	}
	wk.issueGetOf(hd.h, size)
}

// issueGetOf issues an overlapped Get of size bytes on h.
func (wk *stressWorker) issueGetOf(h kernel.Handle, size int) {
	hd := stressHandle{h: h}
	g := &stressGet{h: hd.h, buf: make([]byte, size), ov: &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}}
	wk.op()
	switch hr := wk.proc.FilterGetMessage(hd.h, g.buf, g.ov); {
	case hr == stressHrPending:
		wk.gets[g.ov] = g
		wk.s.issued.Store(g.ov, wk.proc)
	case hr == kernel.E_HANDLE: // disconnected, or the process died
	default:
		wk.s.bug("worker %d: overlapped Get: unexpected %v", wk.idx, hr)
	}
}

// completed handles the completion of an overlapped Get; reply says whether the worker may
// answer (its process is alive).
func (wk *stressWorker) completed(g *stressGet, st kernel.NTSTATUS, n uint32, reply bool) {
	delete(wk.gets, g.ov)
	wk.s.issued.Delete(g.ov)
	switch st {
	case kernel.STATUS_SUCCESS:
		wk.message(g.h, g.buf, int(n), reply)
	case kernel.STATUS_BUFFER_TOO_SMALL:
		// R-SEND-4: the size needed is reported and the message stays queued.
		if int(n) <= len(g.buf) || int(n) < msgHdr+stressMinPaylen {
			wk.s.bug("worker %d: BUFFER_TOO_SMALL for a %d-byte buffer reports %d bytes needed", wk.idx, len(g.buf), n)
		}
		wk.s.count("get too small", 1)
		if wk.s.mix && reply && len(wk.gets) < 6 {
			// The service's classic answer: a Get of the size needed. The message is still
			// queued for it (R-SEND-4d) unless its sender gave up meanwhile.
			wk.issueGetOf(g.h, int(n))
			wk.s.count("get retried", 1)
		}
	case kernel.STATUS_CANCELLED, kernel.STATUS_PORT_DISCONNECTED:
		wk.s.count("get "+st.Error(), 1)
	default:
		wk.s.bug("worker %d: Get completed with %v", wk.idx, st)
	}
}

// message checks a delivered message and maybe replies.
func (wk *stressWorker) message(h kernel.Handle, buf []byte, n int, reply bool) {
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	if n < msgHdr || n > len(buf) {
		wk.s.bug("worker %d: message of %d bytes in a %d-byte buffer", wk.idx, n, len(buf))
		return
	}
	token, ok := stressParse(buf[msgHdr:n])
	if !ok {
		wk.s.bug("worker %d: corrupt or truncated message (%d bytes, token %#x)", wk.idx, n, token)
		return
	}
	wk.deliv = append(wk.deliv, token)
	if hdr.ReplyLength == 0 {
		if hdr.MessageId != 0 { // R-SEND-6
			wk.s.bug("worker %d: one-way message %#x has MessageId %d", wk.idx, token, hdr.MessageId)
		}
		return
	}
	if hdr.MessageId == 0 || hdr.ReplyLength < driverapi.MessageReplyLength(8) {
		wk.s.bug("worker %d: message %#x: header %+v", wk.idx, token, hdr)
		return
	}
	if !reply {
		return
	}
	cap := hdr.ReplyCapacity()
	k := wk.r.IntN(20)
	if k == 0 {
		return // never answered: the sender times out or is disconnected
	}
	if k < 4 {
		time.Sleep(time.Duration(wk.r.IntN(30)) * time.Millisecond) // late: maybe no waiter left (R-SEND-9)
	}
	payload := make([]byte, 8)
	binary.LittleEndian.PutUint64(payload, token)
	if wk.r.IntN(10) == 0 {
		payload = append(payload, make([]byte, cap-8+1+wk.r.IntN(8))...) // R-SEND-8: truncated
	}
	status := stressReplyStatuses[wk.r.IntN(len(stressReplyStatuses))]
	wk.reply(h, token, hdr.MessageId, status, payload, false)
	switch wk.r.IntN(10) {
	case 0: // a duplicate reply: R-USER Reply 2
		wk.reply(h, token, hdr.MessageId, status, payload, false)
	case 1: // a wrong id: R-USER Reply 2
		wk.reply(h, token, hdr.MessageId|1<<62, status, payload, true)
	}
}

func (wk *stressWorker) reply(h kernel.Handle, token, id uint64, status kernel.NTSTATUS, payload []byte, wrong bool) {
	wk.op()
	hr := wk.proc.FilterReplyMessage(h, driverapi.NewFilterReply(status, id, payload))
	wk.replies = append(wk.replies, stressReply{token: token, status: status, plen: len(payload), hr: hr, wrongID: wrong})
}

func (wk *stressWorker) drain() {
	wk.op()
	n, _, ov, err := wk.proc.GetQueuedCompletionStatus(wk.iocp, time.Duration(1+wk.r.IntN(5))*time.Millisecond)
	if ov == nil {
		switch err {
		case kernel.ERROR_WAIT_TIMEOUT, kernel.ERROR_ABANDONED_WAIT_0, kernel.ERROR_INVALID_HANDLE:
		default:
			wk.s.bug("worker %d: GetQueuedCompletionStatus: %v", wk.idx, err)
		}
		return
	}
	g, ok := wk.gets[ov]
	if !ok {
		wk.s.bug("worker %d: a completion for a Get that is not pending (completed twice?)", wk.idx)
		return
	}
	st, bytes := ov.Result()
	if bytes != n {
		wk.s.bug("worker %d: packet says %d bytes, the OVERLAPPED %d", wk.idx, n, bytes)
	}
	wk.completed(g, st, n, true)
}

func (wk *stressWorker) syncGet() {
	hd, _, ok := wk.randomHandle()
	if !ok {
		return
	}
	buf := make([]byte, msgHdr+80)
	if wk.s.mix {
		buf = make([]byte, msgHdr+stressMinPaylen+wk.r.IntN(420))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+wk.r.IntN(20))*time.Millisecond)
	p := wk.proc
	stop := context.AfterFunc(ctx, func() { _ = p.CancelIoEx(hd.h, nil) })
	wk.op()
	hr := wk.proc.FilterGetMessage(hd.h, buf, nil)
	stop()
	cancel()
	switch hr {
	case kernel.S_OK:
		n := msgHdr + int(binary.LittleEndian.Uint16(buf[msgHdr+8:]))
		wk.message(hd.h, buf, n, true)
	case stressHrAborted, kernel.E_HANDLE:
		wk.s.count("sync get "+hr.Error(), 1)
	case stressHrTooSmall:
		if !wk.s.mix && len(buf) >= msgHdr+stressMinPaylen+60 {
			wk.s.bug("worker %d: synchronous Get of %d bytes refused, every message fits it", wk.idx, len(buf))
		}
		wk.s.count("sync get "+hr.Error(), 1)
	default:
		wk.s.bug("worker %d: synchronous Get: unexpected %v", wk.idx, hr)
	}
}

func (wk *stressWorker) cancel() {
	hd, _, ok := wk.randomHandle()
	if !ok {
		return
	}
	var ov *fltlib.Overlapped
	if wk.r.IntN(2) == 0 {
		for o := range wk.gets {
			ov = o
			break
		}
	}
	wk.op()
	switch err := wk.proc.CancelIoEx(hd.h, ov); err {
	case nil, kernel.ERROR_NOT_FOUND, kernel.ERROR_INVALID_HANDLE:
	default:
		wk.s.bug("worker %d: CancelIoEx: %v", wk.idx, err)
	}
}

func (wk *stressWorker) userSend() {
	hd, _, ok := wk.randomHandle()
	if !ok {
		return
	}
	in := make([]byte, 1+wk.r.IntN(40))
	for i := range in {
		in[i] = byte(i + wk.idx)
	}
	out := make([]byte, wk.r.IntN(48))
	var n uint32
	wk.op()
	switch hr := wk.proc.FilterSendMessage(hd.h, in, out, &n); hr {
	case kernel.S_OK:
		want := min(len(in), len(out))
		if int(n) != want || string(out[:n]) != string(in[:want]) {
			wk.s.bug("worker %d: FilterSendMessage echo: %d bytes %x, want %x", wk.idx, n, out[:n], in[:want])
		}
	case kernel.E_HANDLE:
	default:
		wk.s.bug("worker %d: FilterSendMessage: unexpected %v", wk.idx, hr)
	}
}

func (wk *stressWorker) closeHandle() {
	hd, i, ok := wk.randomHandle()
	if !ok {
		return
	}
	wk.handles = append(wk.handles[:i], wk.handles[i+1:]...)
	wk.op()
	if err := wk.proc.CloseHandle(hd.h); err != nil && wk.alive() {
		wk.s.bug("worker %d: CloseHandle: %v", wk.idx, err)
	}
}

func (wk *stressWorker) duplicate() {
	hd, _, ok := wk.randomHandle()
	holder := wk.s.holders[wk.r.IntN(stressHolders)].Load()
	if !ok || holder == nil {
		return
	}
	wk.op()
	nh, err := wk.proc.DuplicateHandle(hd.h, holder, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	if err == nil {
		wk.dups = append(wk.dups, stressDup{holder: holder, h: nh})
	}
}

func (wk *stressWorker) closeDup() {
	if len(wk.dups) == 0 {
		return
	}
	i := wk.r.IntN(len(wk.dups))
	d := wk.dups[i]
	wk.dups = append(wk.dups[:i], wk.dups[i+1:]...)
	wk.op()
	_ = d.holder.CloseHandle(d.h) // ERROR_INVALID_HANDLE when the holder was killed
}

func (wk *stressWorker) run() {
	wk.r = rand.New(rand.NewPCG(wk.s.seed, uint64(200+wk.idx)))
	wk.gets = make(map[*fltlib.Overlapped]*stressGet)
	for wk.s.more() {
		if !wk.alive() {
			wk.newProcess()
		}
		if len(wk.handles) == 0 || wk.r.IntN(40) == 0 {
			if !wk.connect() {
				time.Sleep(time.Duration(1+wk.r.IntN(3)) * time.Millisecond)
			}
			continue
		}
		if len(wk.gets) < 2 && wk.r.IntN(4) > 0 {
			wk.issueGet() // keep Gets pending, as a service does
			continue
		}
		switch k := wk.r.IntN(100); {
		case k < 30:
			wk.issueGet()
		case k < 70:
			wk.drain()
		case k < 75:
			wk.syncGet()
		case k < 81:
			wk.cancel()
		case k < 88:
			wk.userSend()
		case k < 91:
			wk.closeHandle()
		case k < 95:
			wk.duplicate()
		default:
			wk.closeDup()
		}
	}
	wk.finish()
}

// finish cancels and closes everything and collects the last completions: every Get issued
// must complete exactly once.
func (wk *stressWorker) finish() {
	for _, d := range wk.dups {
		_ = d.holder.CloseHandle(d.h)
	}
	wk.dups = nil
	if wk.alive() {
		for _, hd := range wk.handles {
			_ = wk.proc.CancelIoEx(hd.h, nil)
			_ = wk.proc.CloseHandle(hd.h)
		}
		wk.handles = nil
		for len(wk.gets) > 0 && wk.alive() {
			_, _, ov, err := wk.proc.GetQueuedCompletionStatus(wk.iocp, time.Second)
			if ov == nil {
				if err == kernel.ERROR_WAIT_TIMEOUT {
					wk.s.bug("worker %d: %d Get(s) never completed after CancelIoEx and CloseHandle", wk.idx, len(wk.gets))
					break
				}
				continue
			}
			g, ok := wk.gets[ov]
			if !ok {
				wk.s.bug("worker %d: a completion for a Get that is not pending (completed twice?)", wk.idx)
				continue
			}
			st, n := ov.Result()
			wk.completed(g, st, n, false)
		}
		wk.proc.Exit(0)
	}
	wk.harvestDead()
	wk.s.mu.Lock()
	wk.s.replies = append(wk.s.replies, wk.replies...)
	for _, tok := range wk.deliv {
		wk.s.delivered[tok]++
	}
	wk.s.mu.Unlock()
}

// ---- chaos ----

func (s *stressRun) chaos() {
	r := rand.New(rand.NewPCG(s.seed, 300))
	portClosed, unloaded := false, false
	for !s.done.Load() {
		time.Sleep(time.Duration(200+r.IntN(3000)) * time.Microsecond)
		ops := int(s.ops.Load())
		d := s.cur.Load()
		if !portClosed && ops > s.total*4/10 {
			// R-CLOSESRV: new connects fail, existing connections keep working.
			portClosed = true
			d.closeServerPort()
			s.count("chaos: server port closed", 1)
		}
		if !unloaded && ops > s.total/2 {
			// R-UNLOAD-5 in the middle of everything, then a fresh load.
			unloaded = true
			if err := s.w.Unload(stressDrvName); err != nil {
				s.bug("unload: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
			nd := &stressDriver{run: s, epoch: 2}
			if err := s.w.Load(stressDrvName, nd); err != nil {
				s.bug("reload: %v", err)
			}
			s.cur.Store(nd)
			s.count("chaos: unload and reload", 1)
			continue
		}
		switch k := r.IntN(100); {
		case k < 6:
			if p := s.procs[r.IntN(stressWorkers)].Load(); p != nil && !p.Kernel().Exited() {
				p.Exit(1)
				s.count("chaos: worker process killed", 1)
				s.checkExited(p)
			}
		case k < 10:
			i := r.IntN(stressHolders)
			if p := s.holders[i].Load(); p != nil {
				p.Exit(1)
				s.holders[i].Store(s.w.NewProcess(fmt.Sprintf("holder%d.exe", i), kernel.TokenStandardUser()))
				s.count("chaos: holder process killed", 1)
			}
		case k < 35:
			if c := d.randomConn(r); c != nil {
				c.chaosClose()
				s.count("chaos: FltCloseClientPort", 1)
			}
		}
	}
}

// ---- the checks ----

// checkExited checks, right after p exited, that no Get p issued is still pending: a dead
// process must never receive a message (it would be lost), even when a duplicate handle in
// another process keeps the connection open (R-USER process exit 3).
func (s *stressRun) checkExited(p *harness.Process) {
	s.issued.Range(func(k, v any) bool {
		if v.(*harness.Process) == p {
			if st, _ := k.(*fltlib.Overlapped).Result(); st == kernel.STATUS_PENDING {
				s.bug("a Get issued by %v is still pending after the process exited", p)
			}
		}
		return true
	})
}

func (s *stressRun) check() {
	allowedOneWay := map[kernel.NTSTATUS]bool{kernel.STATUS_SUCCESS: true, kernel.STATUS_TIMEOUT: true,
		kernel.STATUS_PORT_DISCONNECTED: true, kernel.STATUS_THREAD_IS_TERMINATING: true}
	noReply := map[kernel.NTSTATUS]bool{kernel.STATUS_TIMEOUT: true, kernel.STATUS_PORT_DISCONNECTED: true,
		kernel.STATUS_THREAD_IS_TERMINATING: true}
	taken := make(map[uint64][]stressReply)
	for _, rp := range s.replies {
		switch rp.hr {
		case kernel.S_OK, stressHrMoreData:
			if rp.wrongID {
				s.bug("a reply with a wrong MessageId was taken (%v)", rp.hr)
			}
			taken[rp.token] = append(taken[rp.token], rp)
		case kernel.ERROR_FLT_NO_WAITER_FOR_REPLY, kernel.E_HANDLE:
		default:
			s.bug("FilterReplyMessage returned %v", rp.hr)
		}
	}
	for tok, n := range s.delivered {
		if n > 1 {
			s.bug("message %#x was delivered %d times", tok, n)
		}
	}
	for _, sd := range s.sends {
		dl := s.delivered[sd.token]
		if sd.oneWay {
			if !allowedOneWay[sd.st] {
				s.bug("one-way send %#x returned %v", sd.token, sd.st)
			}
			// R-SEND-5, R-SEND-6: SUCCESS exactly when the message was copied to a receiver.
			if (sd.st == kernel.STATUS_SUCCESS) != (dl == 1) {
				s.bug("one-way send %#x returned %v but was delivered %d times", sd.token, sd.st, dl)
			}
			continue
		}
		tk := taken[sd.token]
		switch len(tk) {
		case 0:
			// R-SEND-9: no reply taken: TIMEOUT, PORT_DISCONNECTED or THREAD_IS_TERMINATING, length 0.
			if !noReply[sd.st] || sd.n != 0 {
				s.bug("send %#x got no reply but returned %v with %d reply bytes", sd.token, sd.st, sd.n)
			}
		case 1:
			rp := tk[0]
			want, wantN := rp.status, min(rp.plen, sd.cap)
			if rp.hr == stressHrMoreData {
				want = kernel.STATUS_BUFFER_OVERFLOW
				if rp.plen <= sd.cap {
					s.bug("reply to %#x of %d bytes for capacity %d was reported truncated", sd.token, rp.plen, sd.cap)
				}
			} else if rp.plen > sd.cap {
				s.bug("reply to %#x of %d bytes for capacity %d was not reported truncated", sd.token, rp.plen, sd.cap)
			}
			if sd.st != want || int(sd.n) != wantN {
				s.bug("send %#x returned %v with %d bytes, its reply was %v with %d bytes", sd.token, sd.st, sd.n, want, wantN)
			} else if binary.LittleEndian.Uint64(sd.reply) != sd.token {
				s.bug("send %#x received the reply meant for %#x", sd.token, binary.LittleEndian.Uint64(sd.reply))
			}
			if dl != 1 {
				s.bug("send %#x got a reply but was delivered %d times", sd.token, dl)
			}
		default:
			s.bug("%d replies were taken for send %#x", len(tk), sd.token)
		}
	}
	// R-CB-2, R-CLOSECLI-4: DisconnectNotify at most once per connection, and exactly once
	// unless the filter closed the client port itself first.
	for _, c := range s.conns {
		c.mu.Lock()
		if c.notifies > 1 || (c.notifies == 0 && !c.filterClosed) {
			s.bug("connection %d (epoch %d): DisconnectNotify ran %d times (filter closed it itself: %v)", c.id, c.d.epoch, c.notifies, c.filterClosed)
		}
		if !c.closed {
			s.bug("connection %d: client port never closed", c.id)
		}
		c.mu.Unlock()
	}
}

// TestStress runs the stress for each seed (see the file comment for the knobs).
func TestStress(t *testing.T) {
	total := stressOps(t)
	for _, seed := range stressSeeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if t.Failed() {
					t.Logf("stress failed with seed %d; rerun with: FLTEMU_SEED=%d FLTEMU_STRESS_OPS=%d go test -race -run 'TestStress' ./harness",
						seed, seed, total)
				}
			}()
			synctest.Test(t, func(t *testing.T) { stressRunOnce(t, seed, total, false) })
		})
	}
}

// TestStressSizeMix is the stress with widely varied message and Get sizes (R-SEND-4 a–d):
// Gets too small for some messages and large enough for others are pending together, refused
// Gets are re-issued with the size reported, and every invariant of stressRun.check holds
// (no message lost, truncated, duplicated or delivered into a buffer too small).
func TestStressSizeMix(t *testing.T) {
	total := stressOps(t)
	for _, seed := range stressSeeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if t.Failed() {
					t.Logf("stress failed with seed %d; rerun with: FLTEMU_SEED=%d FLTEMU_STRESS_OPS=%d go test -race -run 'TestStressSizeMix' ./harness",
						seed, seed, total)
				}
			}()
			synctest.Test(t, func(t *testing.T) { stressRunOnce(t, seed, total, true) })
		})
	}
}

func stressRunOnce(t *testing.T, seed uint64, total int, mix bool) {
	w := harness.New(t)
	w.Trace().SetEnabled(false) // the trace of 10,000 operations would only slow the run
	s := &stressRun{t: t, seed: seed, total: total, w: w, mix: mix, delivered: make(map[uint64]int), counts: make(map[string]int)}
	d := &stressDriver{run: s, epoch: 1}
	require.NoError(t, w.Load(stressDrvName, d))
	s.cur.Store(d)
	for i := range s.holders {
		s.holders[i].Store(w.NewProcess(fmt.Sprintf("holder%d.exe", i), kernel.TokenStandardUser()))
	}

	var wg sync.WaitGroup
	for i := 0; i < stressSenders; i++ {
		wg.Go(func() { s.sender(i) })
	}
	for i := 0; i < stressWorkers; i++ {
		wk := &stressWorker{s: s, idx: i}
		wg.Go(func() { wk.run() })
	}
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); s.chaos() }()
	wg.Wait()
	s.done.Store(true)
	<-chaosDone

	// Teardown: every process exits, the driver is unloaded; nothing may be left over.
	require.NoError(t, w.Close())
	s.check()
	t.Logf("seed %d: %d operations, %d sends, %d deliveries, %d replies, %d connections; %v",
		seed, s.ops.Load(), len(s.sends), len(s.delivered), len(s.replies), len(s.conns), s.counts)
	require.GreaterOrEqual(t, s.ops.Load(), int64(total))
	require.Empty(t, s.bugs, "seed %d", seed)
	if mix {
		// The mix must have exercised what it is for: refusals, retries and deliveries.
		require.Positive(t, s.counts["get too small"], "seed %d: no Get was refused", seed)
		require.Positive(t, s.counts["get retried"], "seed %d: no refused Get was re-issued", seed)
		require.Positive(t, len(s.delivered), "seed %d: nothing delivered", seed)
	}
}
