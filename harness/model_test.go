package harness_test

// Model-based random tests: a small sequential reference model of docs/rules.md §2–§5 and
// random operation sequences run against both the model and the real emulator, compared step
// by step, with shrinking to a minimal failing sequence.
//
// Each step's outcome is decided: the real system runs in a synctest bubble and every step ends
// with synctest.Wait(), so each blocked goroutine (a sender waiting for a Get or a reply, a
// synchronous Get) is durably blocked before the outcomes are read; time moves only in the
// explicit "advance" steps. A step's observable outcome is its own return value plus the
// asynchronous completions it caused (sends returning, Gets completing, DisconnectNotify calls),
// rendered as strings in a fixed format and compared as sorted lists.
//
// Why a generator and shrinker of our own rather than pgregory.net/rapid: the module allows no
// new dependency, the state space is small (a few processes, connections and pending requests),
// entity references are resolved modulo the entities that exist, so any subsequence of a
// sequence is itself a valid sequence — which makes the two classic passes (drop halves, then
// drop single steps, until nothing more can be dropped) enough to reach a 1-minimal sequence.
//
//	FLTEMU_SEED=5 FLTEMU_MODEL_RUNS=2000 go test -run TestModelRandom ./harness
//	FLTEMU_SEEDS=8 FLTEMU_MODEL_RUNS=3000 go test -run TestModelRandom ./harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	mdPortName = `\ModelPort`
	mdDrvName  = "model"
	mdMaxConns = 2
	mdProcs    = 3 // slots 0 and 1: elevated admins; slot 2: a standard user (denied by the default SD)
)

type mdKind int

const (
	mdConnect     mdKind = iota // A: proc slot, B: refuse (1 of 4)
	mdDup                       // A: handle, B: target slot
	mdClose                     // A: handle
	mdSend                      // A: conn, B: one-way, C: length, D: capacity, E: timeout kind, F: ms
	mdCancelSend                // A: sender
	mdGetOv                     // A: handle, B: size
	mdGetSync                   // A: handle, B: size
	mdCancelIo                  // A: handle, B: get (0: all)
	mdReply                     // A: delivered message, B: handle (0: the Get's), C: id delta, D: status, E: length
	mdUserSend                  // A: handle, B: in length, C: out length
	mdCloseClient               // A: conn
	mdCloseServer               //
	mdUnload                    //
	mdReload                    //
	mdAdvance                   // A: ms
	mdKill                      // A: proc slot
	mdGetFit                    // A: handle, B: sender, C: size relative to its need (-1, 0, +1)
	mdKinds
)

var mdKindNames = [...]string{"connect", "dup", "close", "send", "cancel-send", "get-ov", "get-sync", "cancel-io",
	"reply", "user-send", "close-client", "close-server", "unload", "reload", "advance", "kill", "get-fit"}

// mdWeights are the generator's relative frequencies of the kinds.
var mdWeights = [mdKinds]int{mdConnect: 10, mdDup: 3, mdClose: 5, mdSend: 16, mdCancelSend: 3, mdGetOv: 12,
	mdGetSync: 5, mdCancelIo: 4, mdReply: 12, mdUserSend: 3, mdCloseClient: 3, mdCloseServer: 1, mdUnload: 1,
	mdReload: 2, mdAdvance: 8, mdKill: 2, mdGetFit: 8}

// mdOp is one generated step: a kind and raw choices, resolved against the entities that exist
// when it runs.
type mdOp struct {
	K                mdKind
	A, B, C, D, E, F int
}

func mdGenerate(r *rand.Rand, n int) []mdOp {
	total := 0
	for _, w := range mdWeights {
		total += w
	}
	ops := make([]mdOp, n)
	for i := range ops {
		x := r.IntN(total)
		k := mdKind(0)
		for x >= mdWeights[k] {
			x -= mdWeights[k]
			k++
		}
		ops[i] = mdOp{K: k, A: r.IntN(1000), B: r.IntN(1000), C: r.IntN(1000), D: r.IntN(1000), E: r.IntN(1000), F: r.IntN(1000)}
	}
	return ops
}

// Parameter tables the raw choices index.
var (
	mdMsgLens   = []int{1, 4, 8, 20, 40, 100}
	mdFitDeltas = []int{-1, 0, 1}
	mdCaps      = []int{1, 4, 8, 16}
	mdGetSizes  = []int{8, msgHdr, 24, 40, 64, 128} // below, at and above the header alone
	mdStatuses  = []kernel.NTSTATUS{kernel.STATUS_SUCCESS, kernel.STATUS_VIRUS_INFECTED, kernel.STATUS_TIMEOUT, kernel.STATUS_BUFFER_OVERFLOW}
	mdIDDeltas  = []int64{0, 0, 0, 1, -1}
	mdTimeoutNm = []string{"zero", "relative", "absolute", "absolute-past", "none"}
)

func mdPattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*7 + i + 1)
	}
	return b
}

// mdStep is an op resolved against the model's entities; the real executor uses the same
// resolution, so both act on the same objects.
type mdStep struct {
	op      mdOp
	skip    bool
	proc    int // slot
	handle  int // index in handles
	conn    int // index in conns
	sender  int
	get     int // index in gets, -1: all
	msg     int // index in delivered, -1: none
	size    int
	oneWay  bool
	msgLen  int
	cap     int
	tkind   int
	dur     time.Duration
	id      uint64
	status  kernel.NTSTATUS
	plen    int
	inLen   int
	outLen  int
	refuse  bool
	target  int
	desc    string
	getSync bool
}

// ---- the reference model ----

type mdMConn struct {
	idx      int
	epoch    int
	down     bool
	kclosed  bool
	notified bool
	handles  int
	gets     []*mdMGet
	queued   []*mdMSender
	waiters  map[uint64]*mdMSender
	nextID   uint64
}

type mdMHandle struct {
	idx  int
	proc int
	gen  int
	conn *mdMConn
	open bool
}

type mdMSender struct {
	idx      int
	conn     *mdMConn
	oneWay   bool
	msg      []byte
	cap      int
	bounded  bool
	deadline time.Duration
	done     bool
	id       uint64
	refused  bool // it failed a Get too small for it (R-SEND-4b)
}

type mdMGet struct {
	idx  int
	conn *mdMConn
	proc int
	gen  int
	size int
	sync bool
	done bool
}

type mdDelivered struct {
	get  int
	conn *mdMConn
	id   uint64
}

type mdModel struct {
	now      time.Duration
	loaded   bool
	epoch    int
	portOpen bool
	used     int
	gen      [mdProcs]int
	created  [mdProcs]int // creation order of the live process of each slot
	nextProc int

	conns     []*mdMConn
	handles   []*mdMHandle
	senders   []*mdMSender
	gets      []*mdMGet
	delivered []mdDelivered

	events []string
}

func newMdModel() *mdModel {
	m := &mdModel{loaded: true, epoch: 1, portOpen: true}
	for i := range m.created {
		m.created[i] = i
	}
	m.nextProc = mdProcs
	return m
}

func (m *mdModel) ev(format string, args ...any) {
	m.events = append(m.events, fmt.Sprintf(format, args...))
}

func (m *mdModel) handleValid(h *mdMHandle) bool { return h.open && h.gen == m.gen[h.proc] }

func (m *mdModel) senderDone(s *mdMSender, st kernel.NTSTATUS, n int, reply []byte) {
	s.done = true
	m.ev("%s", mdSendEvent(s.idx, st, uint32(n), reply))
}

func (m *mdModel) getDone(g *mdMGet, st kernel.NTSTATUS, n uint32, buf []byte) {
	g.done = true
	if g.sync {
		m.ev("%s", mdSyncGetEvent(g.idx, kernel.HResultFromNtStatus(st), buf))
		return
	}
	m.ev("%s", mdOvGetEvent(g.idx, st, n, buf))
}

// deliver copies s into g (R-SEND-4, R-SEND-6, R-SEND-7).
func (m *mdModel) deliver(c *mdMConn, s *mdMSender, g *mdMGet) {
	buf := make([]byte, g.size)
	var rl uint32
	if !s.oneWay {
		c.nextID++
		s.id = c.nextID
		c.waiters[s.id] = s
		rl = driverapi.MessageReplyLength(s.cap)
	}
	driverapi.FilterMessageHeader{ReplyLength: rl, MessageId: s.id}.Put(buf)
	copy(buf[msgHdr:], s.msg)
	m.delivered = append(m.delivered, mdDelivered{get: g.idx, conn: c, id: s.id})
	m.getDone(g, kernel.STATUS_SUCCESS, uint32(msgHdr+len(s.msg)), buf)
	if s.oneWay {
		m.senderDone(s, kernel.STATUS_SUCCESS, 0, nil)
	}
}

// disconnect ends a connection once (R-CLOSECLI-2, R-USER Get 4).
func (m *mdModel) disconnect(c *mdMConn, getSt kernel.NTSTATUS) {
	if c.down {
		return
	}
	c.down = true
	for _, s := range c.queued {
		m.senderDone(s, kernel.STATUS_PORT_DISCONNECTED, 0, nil)
	}
	for _, s := range c.waiters {
		m.senderDone(s, kernel.STATUS_PORT_DISCONNECTED, 0, nil)
	}
	for _, g := range c.gets {
		m.getDone(g, getSt, 0, make([]byte, g.size))
	}
	c.queued, c.waiters, c.gets = nil, map[uint64]*mdMSender{}, nil
}

// kernelClose is FltCloseClientPort (R-CLOSECLI-2, R-CLOSECLI-3).
func (m *mdModel) kernelClose(c *mdMConn) {
	if c.kclosed {
		return
	}
	c.kclosed = true
	if c.epoch == m.epoch && m.loaded {
		m.used--
	}
	m.disconnect(c, kernel.STATUS_PORT_DISCONNECTED)
}

// notify is DisconnectNotify; the model driver closes the client port in it (R-CB-2).
func (m *mdModel) notify(c *mdMConn) {
	if c.kclosed || c.notified {
		return
	}
	c.notified = true
	m.ev("disconnect-notify conn#%d", c.idx)
	m.kernelClose(c)
}

// closeHandle closes one handle; the last one ends the user endpoint (R-USER CloseHandle 2).
func (m *mdModel) closeHandle(h *mdMHandle) {
	h.open = false
	h.conn.handles--
	if h.conn.handles == 0 {
		m.disconnect(h.conn, kernel.STATUS_CANCELLED)
		m.notify(h.conn)
	}
}

// exitProc is process exit: the I/O its threads issued is cancelled, then its handles close in
// handle order (R-USER process exit 3).
func (m *mdModel) exitProc(slot int) {
	for _, g := range m.gets {
		if !g.done && g.proc == slot && g.gen == m.gen[slot] {
			m.cancelGet(g)
		}
	}
	for _, h := range m.handles {
		if h.proc == slot && m.handleValid(h) {
			m.closeHandle(h)
		}
	}
	m.gen[slot]++
}

func (m *mdModel) cancelGet(g *mdMGet) {
	c := g.conn
	c.gets = slices.DeleteFunc(c.gets, func(x *mdMGet) bool { return x == g })
	m.getDone(g, kernel.STATUS_CANCELLED, 0, make([]byte, g.size))
}

func (m *mdModel) unloadAll() {
	var ending []*mdMConn
	for _, c := range m.conns {
		if c.epoch == m.epoch && !c.kclosed {
			ending = append(ending, c)
		}
	}
	for _, c := range ending {
		m.disconnect(c, kernel.STATUS_PORT_DISCONNECTED)
	}
	for _, c := range ending {
		m.notify(c)
	}
	m.loaded, m.portOpen = false, false
}

// resolve turns op into a step against the current entities.
func (m *mdModel) resolve(op mdOp) mdStep {
	st := mdStep{op: op, get: -1, msg: -1}
	pickHandle := func(x int) bool {
		if len(m.handles) == 0 {
			st.skip = true
			return false
		}
		st.handle = x % len(m.handles)
		return true
	}
	switch op.K {
	case mdConnect:
		st.proc = op.A % mdProcs
		st.refuse = op.B%4 == 0
		st.desc = fmt.Sprintf("connect p%d refuse=%v", st.proc, st.refuse)
	case mdDup:
		if pickHandle(op.A) {
			st.target = op.B % mdProcs
			st.desc = fmt.Sprintf("dup h#%d -> p%d", st.handle, st.target)
		}
	case mdClose:
		if pickHandle(op.A) {
			st.desc = fmt.Sprintf("close h#%d", st.handle)
		}
	case mdSend:
		if len(m.conns) == 0 {
			st.skip = true
			break
		}
		st.conn = op.A % len(m.conns)
		st.oneWay = op.B%4 == 0
		st.msgLen = mdMsgLens[op.C%len(mdMsgLens)]
		if !st.oneWay {
			st.cap = mdCaps[op.D%len(mdCaps)]
		}
		st.tkind = op.E % len(mdTimeoutNm)
		st.dur = time.Duration(1+op.F%30)*time.Millisecond + 500*time.Microsecond
		st.desc = fmt.Sprintf("send conn#%d oneway=%v len=%d cap=%d timeout=%s %v", st.conn, st.oneWay, st.msgLen, st.cap, mdTimeoutNm[st.tkind], st.dur)
	case mdCancelSend:
		if len(m.senders) == 0 {
			st.skip = true
			break
		}
		st.sender = op.A % len(m.senders)
		st.desc = fmt.Sprintf("cancel-send send#%d", st.sender)
	case mdGetOv, mdGetSync:
		if pickHandle(op.A) {
			st.size = mdGetSizes[op.B%len(mdGetSizes)]
			st.getSync = op.K == mdGetSync
			st.desc = fmt.Sprintf("%s h#%d size=%d", mdKindNames[op.K], st.handle, st.size)
		}
	case mdGetFit:
		// An overlapped Get sized around a sender's need (one byte short, exact, one more):
		// the edges of first-fit delivery (R-SEND-4).
		if pickHandle(op.A) {
			st.size = mdGetSizes[op.B%len(mdGetSizes)]
			if len(m.senders) > 0 {
				st.size = msgHdr + len(m.senders[op.B%len(m.senders)].msg) + mdFitDeltas[op.C%len(mdFitDeltas)]
			}
			st.desc = fmt.Sprintf("get-fit h#%d size=%d", st.handle, st.size)
		}
	case mdCancelIo:
		if pickHandle(op.A) {
			var ovs []int
			for _, g := range m.gets {
				if !g.sync {
					ovs = append(ovs, g.idx)
				}
			}
			if op.B%3 != 0 && len(ovs) > 0 {
				st.get = ovs[op.B%len(ovs)]
			}
			st.desc = fmt.Sprintf("cancel-io h#%d get#%d", st.handle, st.get)
		}
	case mdReply:
		if len(m.handles) == 0 {
			st.skip = true
			break
		}
		if len(m.delivered) > 0 {
			st.msg = op.A % len(m.delivered)
			d := m.delivered[st.msg]
			st.id = uint64(int64(d.id) + mdIDDeltas[op.C%len(mdIDDeltas)])
			if op.B%3 == 0 {
				st.handle = op.B % len(m.handles)
			} else {
				st.handle = m.gets[d.get].handleIdx(m)
			}
		} else {
			st.handle = op.B % len(m.handles)
			st.id = 1
		}
		st.status = mdStatuses[op.D%len(mdStatuses)]
		st.plen = op.E % 24
		st.desc = fmt.Sprintf("reply h#%d id=%d status=%#x len=%d", st.handle, st.id, uint32(st.status), st.plen)
	case mdUserSend:
		if pickHandle(op.A) {
			st.inLen = op.B % 12
			st.outLen = op.C % 12
			st.desc = fmt.Sprintf("user-send h#%d in=%d out=%d", st.handle, st.inLen, st.outLen)
		}
	case mdCloseClient:
		if len(m.conns) == 0 {
			st.skip = true
			break
		}
		st.conn = op.A % len(m.conns)
		st.desc = fmt.Sprintf("close-client conn#%d", st.conn)
	case mdCloseServer, mdUnload, mdReload:
		st.desc = mdKindNames[op.K]
	case mdAdvance:
		st.dur = time.Duration(1+op.A%30) * time.Millisecond
		st.desc = fmt.Sprintf("advance %v", st.dur)
	case mdKill:
		st.proc = op.A % mdProcs
		st.desc = fmt.Sprintf("kill p%d", st.proc)
	}
	if st.skip {
		st.desc = mdKindNames[op.K] + " (nothing to act on)"
	}
	return st
}

// handleIdx finds the handle a Get was issued through (the first valid handle of its process
// to its connection at issue time is what the step recorded).
func (g *mdMGet) handleIdx(m *mdModel) int {
	for _, h := range m.handles {
		if h.conn == g.conn && h.proc == g.proc && h.gen == g.gen {
			return h.idx
		}
	}
	return 0
}

// apply runs a step on the model and returns its result and the events it caused.
func (m *mdModel) apply(st mdStep) (string, []string) {
	m.events = nil
	res := m.apply1(st)
	ev := m.events
	slices.Sort(ev)
	return res, ev
}

func (m *mdModel) apply1(st mdStep) string {
	if st.skip {
		return "skip"
	}
	switch st.op.K {
	case mdConnect:
		switch {
		case !m.loaded || !m.portOpen:
			return kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND).Error() // R-MODEL-2, R-CLOSESRV-1
		case st.proc == 2:
			return kernel.E_ACCESSDENIED.Error() // R-MODEL-2, R-SD
		case m.used >= mdMaxConns:
			return kernel.HResultFromWin32(kernel.ERROR_CONNECTION_COUNT_LIMIT).Error()
		case st.refuse:
			return kernel.HResultFromNtStatus(kernel.STATUS_INSUFFICIENT_RESOURCES).Error() // R-CB-1
		}
		m.used++
		c := &mdMConn{idx: len(m.conns), epoch: m.epoch, handles: 1, waiters: map[uint64]*mdMSender{}}
		m.conns = append(m.conns, c)
		h := &mdMHandle{idx: len(m.handles), proc: st.proc, gen: m.gen[st.proc], conn: c, open: true}
		m.handles = append(m.handles, h)
		return fmt.Sprintf("S_OK conn#%d h#%d", c.idx, h.idx)
	case mdDup:
		h := m.handles[st.handle]
		if !m.handleValid(h) {
			return kernel.ERROR_INVALID_HANDLE.Error()
		}
		nh := &mdMHandle{idx: len(m.handles), proc: st.target, gen: m.gen[st.target], conn: h.conn, open: true}
		m.handles = append(m.handles, nh)
		h.conn.handles++
		return fmt.Sprintf("ok h#%d", nh.idx)
	case mdClose:
		h := m.handles[st.handle]
		if !m.handleValid(h) {
			return kernel.ERROR_INVALID_HANDLE.Error()
		}
		m.closeHandle(h)
		return "ok"
	case mdSend:
		return m.send(st)
	case mdCancelSend:
		s := m.senders[st.sender]
		if s.done {
			return "ok"
		}
		c := s.conn
		if s.id != 0 {
			delete(c.waiters, s.id)
		} else {
			c.queued = slices.DeleteFunc(c.queued, func(x *mdMSender) bool { return x == s })
		}
		m.senderDone(s, kernel.STATUS_THREAD_IS_TERMINATING, 0, nil) // R-SEND-5, R-SEND-9
		return "ok"
	case mdGetOv, mdGetSync, mdGetFit:
		return m.get(st)
	case mdCancelIo:
		h := m.handles[st.handle]
		if !m.handleValid(h) {
			return kernel.ERROR_INVALID_HANDLE.Error()
		}
		var hit []*mdMGet
		for _, g := range h.conn.gets {
			if g.proc == h.proc && g.gen == h.gen && (st.get < 0 || g.idx == st.get) {
				hit = append(hit, g)
			}
		}
		for _, g := range hit {
			m.cancelGet(g) // R-USER Get 4
		}
		if len(hit) == 0 {
			return kernel.ERROR_NOT_FOUND.Error()
		}
		return "ok"
	case mdReply:
		h := m.handles[st.handle]
		if !m.handleValid(h) {
			return kernel.E_HANDLE.Error()
		}
		s, ok := h.conn.waiters[st.id]
		if !ok || h.conn.down {
			// R-USER Reply 2; FilterReplyMessage 5: an ended connection has no waiters.
			return kernel.ERROR_FLT_NO_WAITER_FOR_REPLY.Error()
		}
		delete(h.conn.waiters, st.id)
		payload := mdPattern(1000+st.plen, st.plen)
		if st.plen > s.cap { // R-SEND-8, R-USER Reply 3
			m.senderDone(s, kernel.STATUS_BUFFER_OVERFLOW, s.cap, payload[:s.cap])
			return kernel.HResultFromWin32(kernel.ERROR_MORE_DATA).Error()
		}
		m.senderDone(s, st.status, st.plen, payload)
		return kernel.S_OK.Error()
	case mdUserSend:
		if st.inLen == 0 {
			return kernel.E_INVALIDARG.Error() // R-USER Send 1
		}
		h := m.handles[st.handle]
		if !m.handleValid(h) || h.conn.down {
			return kernel.E_HANDLE.Error() // R-USER Send 3
		}
		in := mdPattern(500, st.inLen)
		n := min(st.inLen, st.outLen)
		return fmt.Sprintf("%v n=%d out=%x", kernel.S_OK, n, in[:n])
	case mdCloseClient:
		m.kernelClose(m.conns[st.conn]) // R-CLOSECLI-4: no DisconnectNotify afterwards
		return "ok"
	case mdCloseServer:
		if m.loaded {
			m.portOpen = false
		}
		return "ok"
	case mdUnload:
		if !m.loaded {
			return kernel.ERROR_FLT_FILTER_NOT_FOUND.Error()
		}
		m.unloadAll() // R-UNLOAD-5
		return kernel.S_OK.Error()
	case mdReload:
		if m.loaded {
			return kernel.HResultFromNtStatus(kernel.STATUS_IMAGE_ALREADY_LOADED).Error()
		}
		m.loaded, m.portOpen, m.used = true, true, 0
		m.epoch++
		return kernel.S_OK.Error()
	case mdAdvance:
		m.now += st.dur
		for _, s := range m.senders {
			if !s.done && s.bounded && s.deadline < m.now {
				c := s.conn
				if s.id != 0 {
					delete(c.waiters, s.id)
				} else {
					c.queued = slices.DeleteFunc(c.queued, func(x *mdMSender) bool { return x == s })
				}
				m.senderDone(s, kernel.STATUS_TIMEOUT, 0, nil) // R-SEND-5, R-SEND-9
			}
		}
		return "ok"
	case mdKill:
		m.exitProc(st.proc)
		m.created[st.proc] = m.nextProc
		m.nextProc++
		return "ok"
	}
	panic("unknown op")
}

func (m *mdModel) send(st mdStep) string {
	c := m.conns[st.conn]
	s := &mdMSender{idx: len(m.senders), conn: c, oneWay: st.oneWay, msg: mdPattern(len(m.senders), st.msgLen), cap: st.cap}
	m.senders = append(m.senders, s)
	res := fmt.Sprintf("send#%d", s.idx)
	if c.kclosed {
		m.senderDone(s, kernel.STATUS_PORT_DISCONNECTED, 0, nil) // R-SEND-2
		return res
	}
	wait := true
	switch st.tkind {
	case 0, 3: // zero, absolute in the past: do not wait (R-SEND-3)
		wait = false
	case 1, 2:
		s.bounded, s.deadline = true, m.now+st.dur
	}
	need := msgHdr + len(s.msg)
	// R-SEND-4a: the oldest pending Get that is large enough.
	if i := slices.IndexFunc(c.gets, func(g *mdMGet) bool { return g.size >= need }); i >= 0 {
		g := c.gets[i]
		c.gets = slices.Delete(c.gets, i, i+1)
		m.deliver(c, s, g)
		if !s.oneWay && !wait {
			delete(c.waiters, s.id)
			m.senderDone(s, kernel.STATUS_TIMEOUT, 0, nil)
		}
		return res
	}
	// R-SEND-4b: none is: the oldest is refused, only that one.
	if len(c.gets) > 0 {
		g := c.gets[0]
		c.gets = c.gets[1:]
		s.refused = true
		m.getDone(g, kernel.STATUS_BUFFER_TOO_SMALL, uint32(need), make([]byte, g.size))
	}
	if !wait {
		m.senderDone(s, kernel.STATUS_TIMEOUT, 0, nil) // R-SEND-5
		return res
	}
	c.queued = append(c.queued, s)
	return res
}

func (m *mdModel) get(st mdStep) string {
	h := m.handles[st.handle]
	g := &mdMGet{idx: len(m.gets), conn: h.conn, proc: h.proc, gen: h.gen, size: st.size, sync: st.getSync}
	fail := func(hr kernel.HRESULT) string {
		if g.sync {
			m.gets = append(m.gets, g)
			g.done = true
			m.ev("%s", mdSyncGetEvent(g.idx, hr, make([]byte, g.size)))
			return fmt.Sprintf("get#%d", g.idx)
		}
		return hr.Error()
	}
	if st.size < msgHdr {
		return fail(kernel.E_INVALIDARG) // R-USER Get 1
	}
	if !m.handleValid(h) || h.conn.down {
		return fail(kernel.E_HANDLE)
	}
	m.gets = append(m.gets, g)
	res := fmt.Sprintf("get#%d", g.idx)
	if !g.sync {
		res = fmt.Sprintf("%v get#%d", kernel.HResultFromWin32(kernel.ERROR_IO_PENDING), g.idx)
	}
	c := h.conn
	// R-SEND-4c: the oldest waiting sender whose message fits; else a refusal for the oldest
	// sender not yet refused; else the Get stays pending.
	if i := slices.IndexFunc(c.queued, func(s *mdMSender) bool { return msgHdr+len(s.msg) <= g.size }); i >= 0 {
		s := c.queued[i]
		c.queued = slices.Delete(c.queued, i, i+1)
		m.deliver(c, s, g)
		return res
	}
	if i := slices.IndexFunc(c.queued, func(s *mdMSender) bool { return !s.refused }); i >= 0 {
		s := c.queued[i]
		s.refused = true
		m.getDone(g, kernel.STATUS_BUFFER_TOO_SMALL, uint32(msgHdr+len(s.msg)), make([]byte, g.size))
		return res
	}
	c.gets = append(c.gets, g)
	return res
}

// teardown is World.Close: the live processes exit in creation order, then the driver is
// unloaded (mandatory).
func (m *mdModel) teardown() []string {
	m.events = nil
	order := []int{0, 1, 2}
	slices.SortFunc(order, func(a, b int) int { return m.created[a] - m.created[b] })
	for _, slot := range order {
		m.exitProc(slot)
	}
	if m.loaded {
		m.unloadAll()
	}
	ev := m.events
	slices.Sort(ev)
	return ev
}

// ---- event formats shared by the model and the real executor ----

func mdSendEvent(i int, st kernel.NTSTATUS, n uint32, reply []byte) string {
	return fmt.Sprintf("send#%d returned %v n=%d reply=%x", i, st, n, reply)
}

func mdOvGetEvent(i int, st kernel.NTSTATUS, n uint32, buf []byte) string {
	return fmt.Sprintf("get#%d completed %v n=%d buf=%x", i, st, n, buf)
}

func mdSyncGetEvent(i int, hr kernel.HRESULT, buf []byte) string {
	return fmt.Sprintf("get#%d returned %v buf=%x", i, hr, buf)
}

// ---- the real executor ----

type mdDriver struct {
	run        *mdReal
	fm         driverapi.FilterManager
	filter     driverapi.Filter
	server     driverapi.ServerPort
	portClosed bool
}

type mdDConn struct {
	d    *mdDriver
	idx  int
	port driverapi.ClientPort
}

func (d *mdDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	d.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{Version: driverapi.FLT_REGISTRATION_VERSION, FilterUnload: d.unload})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	d.filter = f
	attrs := driverapi.InitializeObjectAttributes(mdPortName, driverapi.OBJ_KERNEL_HANDLE, kernel.DefaultPortSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS))
	d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, d.message, mdMaxConns)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	return fm.StartFiltering(f)
}

func (d *mdDriver) connect(_ context.Context, p driverapi.Port, _ any, ctx []byte) (any, kernel.NTSTATUS) {
	if len(ctx) > 0 && ctx[0] == 'R' {
		return nil, kernel.STATUS_INSUFFICIENT_RESOURCES
	}
	c := &mdDConn{d: d}
	c.port.Store(p)
	r := d.run
	r.mu.Lock()
	c.idx = len(r.conns)
	r.conns = append(r.conns, c)
	r.mu.Unlock()
	return c, kernel.STATUS_SUCCESS
}

func (d *mdDriver) disconnect(_ context.Context, cookie any) {
	c := cookie.(*mdDConn)
	d.run.note(fmt.Sprintf("disconnect-notify conn#%d", c.idx))
	d.fm.CloseClientPort(d.filter, &c.port)
}

func (d *mdDriver) message(_ context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
	return uint32(copy(out, in)), kernel.STATUS_SUCCESS
}

func (d *mdDriver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
	if !d.portClosed {
		d.portClosed = true
		d.fm.CloseCommunicationPort(d.server)
	}
	d.fm.UnregisterFilter(d.filter)
	return kernel.STATUS_SUCCESS
}

type mdRSender struct {
	ch     chan mdSendDone
	cancel context.CancelFunc
	done   bool
}

type mdSendDone struct {
	st    kernel.NTSTATUS
	n     uint32
	reply []byte
}

type mdRGet struct {
	ov   *fltlib.Overlapped
	ch   chan kernel.HRESULT
	buf  []byte
	done bool
}

type mdReal struct {
	w     *harness.World
	drv   *mdDriver
	procs [mdProcs]*harness.Process
	start time.Time

	handles []struct {
		p *harness.Process
		h kernel.Handle
	}
	senders []*mdRSender
	gets    []*mdRGet

	mu    sync.Mutex
	conns []*mdDConn
	notes []string
}

func (r *mdReal) note(s string) {
	r.mu.Lock()
	r.notes = append(r.notes, s)
	r.mu.Unlock()
}

func mdToken(slot int) *kernel.Token {
	if slot == 2 {
		return kernel.TokenStandardUser()
	}
	return kernel.TokenAdmin()
}

func newMdReal() (*mdReal, error) {
	r := &mdReal{w: harness.NewWorld(), start: time.Now()}
	r.w.Trace().SetEnabled(false)
	// A random sequence ends wherever it ends; what the teardown does with the handles it
	// leaves open (process exit, disconnects) is part of what the model checks.
	r.w.AllowOpenHandles()
	r.drv = &mdDriver{run: r}
	if err := r.w.Load(mdDrvName, r.drv); err != nil {
		return nil, err
	}
	for i := range r.procs {
		r.procs[i] = r.w.NewProcess(fmt.Sprintf("p%d.exe", i), mdToken(i))
	}
	return r, nil
}

// collect gathers the completions and notifications since the last step.
func (r *mdReal) collect() []string {
	var ev []string
	for i, s := range r.senders {
		if s.done {
			continue
		}
		select {
		case d := <-s.ch:
			s.done = true
			ev = append(ev, mdSendEvent(i, d.st, d.n, d.reply))
		default:
		}
	}
	for i, g := range r.gets {
		if g.done {
			continue
		}
		if g.ov != nil {
			if st, n := g.ov.Result(); st != kernel.STATUS_PENDING {
				g.done = true
				ev = append(ev, mdOvGetEvent(i, st, n, g.buf))
			}
			continue
		}
		select {
		case hr := <-g.ch:
			g.done = true
			ev = append(ev, mdSyncGetEvent(i, hr, g.buf))
		default:
		}
	}
	r.mu.Lock()
	ev = append(ev, r.notes...)
	r.notes = nil
	r.mu.Unlock()
	slices.Sort(ev)
	return ev
}

func mdErr(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func (r *mdReal) apply(st mdStep) (string, []string) {
	res := r.apply1(st)
	synctest.Wait()
	return res, r.collect()
}

func (r *mdReal) apply1(st mdStep) string {
	if st.skip {
		return "skip"
	}
	hd := func() (*harness.Process, kernel.Handle) {
		x := r.handles[st.handle]
		return x.p, x.h
	}
	switch st.op.K {
	case mdConnect:
		var ctx []byte
		if st.refuse {
			ctx = []byte("R")
		}
		p := r.procs[st.proc]
		h, hr := p.FilterConnectCommunicationPort(mdPortName, 0, ctx, len(ctx), nil)
		if hr != kernel.S_OK {
			return hr.Error()
		}
		r.handles = append(r.handles, struct {
			p *harness.Process
			h kernel.Handle
		}{p, h})
		r.mu.Lock()
		n := len(r.conns)
		r.mu.Unlock()
		return fmt.Sprintf("S_OK conn#%d h#%d", n-1, len(r.handles)-1)
	case mdDup:
		p, h := hd()
		t := r.procs[st.target]
		nh, err := p.DuplicateHandle(h, t, 0, false, kernel.DUPLICATE_SAME_ACCESS)
		if err != nil {
			return err.Error()
		}
		r.handles = append(r.handles, struct {
			p *harness.Process
			h kernel.Handle
		}{t, nh})
		return fmt.Sprintf("ok h#%d", len(r.handles)-1)
	case mdClose:
		p, h := hd()
		return mdErr(p.CloseHandle(h))
	case mdSend:
		r.mu.Lock()
		c := r.conns[st.conn]
		r.mu.Unlock()
		idx := len(r.senders)
		msg := mdPattern(idx, st.msgLen)
		var reply []byte
		var np *uint32
		n := uint32(st.cap)
		if !st.oneWay {
			reply = make([]byte, st.cap)
			np = &n
		}
		var timeout *int64
		switch st.tkind {
		case 0:
			timeout = driverapi.NoWait()
		case 1:
			timeout = driverapi.RelativeTimeout(st.dur)
		case 2:
			timeout = driverapi.AbsoluteTimeout(time.Now().Add(st.dur))
		case 3:
			timeout = driverapi.AbsoluteTimeout(time.Now().Add(-st.dur))
		}
		ctx, cancel := context.WithCancel(context.Background())
		s := &mdRSender{ch: make(chan mdSendDone, 1), cancel: cancel}
		r.senders = append(r.senders, s)
		go func() {
			st := c.d.fm.SendMessage(ctx, c.d.filter, &c.port, msg, reply, np, timeout)
			var out []byte
			if np != nil {
				out = reply[:*np]
			}
			s.ch <- mdSendDone{st, n, out}
		}()
		return fmt.Sprintf("send#%d", idx)
	case mdCancelSend:
		r.senders[st.sender].cancel()
		return "ok"
	case mdGetOv, mdGetFit:
		p, h := hd()
		g := &mdRGet{buf: make([]byte, st.size), ov: &fltlib.Overlapped{}}
		hr := p.FilterGetMessage(h, g.buf, g.ov)
		if hr != kernel.HResultFromWin32(kernel.ERROR_IO_PENDING) {
			return hr.Error()
		}
		r.gets = append(r.gets, g)
		return fmt.Sprintf("%v get#%d", hr, len(r.gets)-1)
	case mdGetSync:
		p, h := hd()
		g := &mdRGet{buf: make([]byte, st.size), ch: make(chan kernel.HRESULT, 1)}
		r.gets = append(r.gets, g)
		go func() { g.ch <- p.FilterGetMessage(h, g.buf, nil) }()
		return fmt.Sprintf("get#%d", len(r.gets)-1)
	case mdCancelIo:
		p, h := hd()
		var ov *fltlib.Overlapped
		if st.get >= 0 {
			ov = r.gets[st.get].ov
		}
		return mdErr(p.CancelIoEx(h, ov))
	case mdReply:
		p, h := hd()
		return p.FilterReplyMessage(h, driverapi.NewFilterReply(st.status, st.id, mdPattern(1000+st.plen, st.plen))).Error()
	case mdUserSend:
		p, h := hd()
		in, out := mdPattern(500, st.inLen), make([]byte, st.outLen)
		var n uint32
		hr := p.FilterSendMessage(h, in, out, &n)
		if hr != kernel.S_OK {
			return hr.Error()
		}
		return fmt.Sprintf("%v n=%d out=%x", hr, n, out[:n])
	case mdCloseClient:
		r.mu.Lock()
		c := r.conns[st.conn]
		r.mu.Unlock()
		c.d.fm.CloseClientPort(c.d.filter, &c.port)
		return "ok"
	case mdCloseServer:
		if r.drv != nil && !r.drv.portClosed && r.w.FilterManager().Loaded(mdDrvName) {
			r.drv.portClosed = true
			r.drv.fm.CloseCommunicationPort(r.drv.server)
		}
		return "ok"
	case mdUnload:
		return harness.HRESULTOf(r.w.Unload(mdDrvName)).Error()
	case mdReload:
		d := &mdDriver{run: r}
		hr := harness.HRESULTOf(r.w.Load(mdDrvName, d))
		if hr == kernel.S_OK {
			r.drv = d
		}
		return hr.Error()
	case mdAdvance:
		time.Sleep(st.dur)
		return "ok"
	case mdKill:
		r.procs[st.proc].Exit(1)
		r.procs[st.proc] = r.w.NewProcess(fmt.Sprintf("p%d.exe", st.proc), mdToken(st.proc))
		return "ok"
	}
	panic("unknown op")
}

// ---- running, comparing, shrinking ----

// mdFailure describes the first step where the model and the emulator disagree.
type mdFailure struct {
	step     int // index of the failing step; len(ops) for the teardown
	log      []string
	want     string
	got      string
	wantEv   []string
	gotEv    []string
	teardown error
}

func (f *mdFailure) String() string {
	var b strings.Builder
	for _, l := range f.log {
		b.WriteString("\t" + l + "\n")
	}
	fmt.Fprintf(&b, "step %d: model says %q, emulator says %q\n", f.step, f.want, f.got)
	fmt.Fprintf(&b, "  model events:    %q\n  emulator events: %q\n", f.wantEv, f.gotEv)
	if f.teardown != nil {
		fmt.Fprintf(&b, "  teardown: %v\n", f.teardown)
	}
	return b.String()
}

// mdRun executes ops on a fresh model and a fresh emulator in a bubble of its own and returns
// the first disagreement, or nil.
func mdRun(t *testing.T, ops []mdOp) (fail *mdFailure) {
	synctest.Test(t, func(*testing.T) {
		m := newMdModel()
		r, err := newMdReal()
		if err != nil {
			fail = &mdFailure{step: -1, got: err.Error()}
			return
		}
		var log []string
		for i, op := range ops {
			st := m.resolve(op)
			want, wantEv := m.apply(st)
			got, gotEv := r.apply(st)
			log = append(log, fmt.Sprintf("%d: %s -> %s %q", i, st.desc, got, gotEv))
			if want != got || !slices.Equal(wantEv, gotEv) {
				fail = &mdFailure{step: i, log: log, want: want, got: got, wantEv: wantEv, gotEv: gotEv}
				r.w.Close()
				synctest.Wait()
				return
			}
		}
		wantEv := m.teardown()
		err = r.w.Close()
		synctest.Wait()
		gotEv := r.collect()
		if err != nil || !slices.Equal(wantEv, gotEv) {
			fail = &mdFailure{step: len(ops), log: log, want: "teardown", got: "teardown", wantEv: wantEv, gotEv: gotEv, teardown: err}
		}
	})
	return fail
}

// mdShrink reduces a failing sequence: first it drops everything after the failing step, then
// it repeats two passes until neither removes anything: drop chunks (halves, quarters, …) and
// drop single steps. budget bounds the number of reruns.
func mdShrink(t *testing.T, ops []mdOp, fail *mdFailure, budget int) ([]mdOp, *mdFailure) {
	if fail.step >= 0 && fail.step < len(ops) {
		ops = ops[:fail.step+1]
	}
	try := func(cand []mdOp) bool {
		if budget <= 0 {
			return false
		}
		budget--
		if f := mdRun(t, cand); f != nil {
			ops, fail = cand, f
			if f.step >= 0 && f.step < len(cand) {
				ops = cand[:f.step+1]
			}
			return true
		}
		return false
	}
	for changed := true; changed && budget > 0; {
		changed = false
		for chunk := len(ops) / 2; chunk >= 1; chunk /= 2 {
			for i := 0; i+chunk <= len(ops); {
				cand := append(append([]mdOp(nil), ops[:i]...), ops[i+chunk:]...)
				if try(cand) {
					changed = true
				} else {
					i += chunk
				}
			}
		}
	}
	return ops, fail
}

func mdRuns(t *testing.T) int {
	if env := os.Getenv("FLTEMU_MODEL_RUNS"); env != "" {
		n, err := strconv.Atoi(env)
		require.NoError(t, err)
		return n
	}
	if testing.Short() {
		return 50
	}
	return 300
}

// TestModelRandom runs random sequences against the model and the emulator (docs/rules.md §2–§5: R-MODEL,
// R-CREATE, R-CLOSESRV, R-CLOSECLI, R-SEND, R-UNLOAD, R-CB, R-USER) and shrinks a failure to a
// minimal sequence.
func TestModelRandom(t *testing.T) {
	seeds := stressSeeds(t)
	runs := mdRuns(t)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 400))
			for i := 0; i < runs; i++ {
				ops := mdGenerate(r, 10+r.IntN(50))
				fail := mdRun(t, ops)
				if fail == nil {
					continue
				}
				small, sfail := mdShrink(t, ops, fail, 3000)
				t.Fatalf("model and emulator disagree (seed %d, sequence %d; rerun: FLTEMU_SEED=%d go test -run 'TestModelRandom$' ./harness)\n"+
					"minimal sequence (%d of %d steps):\n%s\nops: %#v",
					seed, i, seed, len(small), len(ops), sfail, small)
			}
		})
	}
}

// TestModelRandomShrinker checks the shrinker itself on a planted failure: a sequence "fails" when it
// holds a close-client and, later, a send; the shrinker must reduce it to those two steps.
func TestModelRandomShrinker(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ops := mdGenerate(r, 40)
	ops = append(ops[:10], append([]mdOp{{K: mdCloseClient}}, ops[10:]...)...)
	ops = append(ops, mdOp{K: mdSend})
	fails := func(ops []mdOp) bool {
		seen := false
		for _, op := range ops {
			if op.K == mdCloseClient {
				seen = true
			}
			if op.K == mdSend && seen {
				return true
			}
		}
		return false
	}
	small := mdShrinkWith(ops, fails)
	require.Len(t, small, 2)
	require.Equal(t, mdCloseClient, small[0].K)
	require.Equal(t, mdSend, small[1].K)
}

// mdShrinkWith is mdShrink's algorithm over an arbitrary predicate (for TestModelRandomShrinker).
func mdShrinkWith(ops []mdOp, fails func([]mdOp) bool) []mdOp {
	for changed := true; changed; {
		changed = false
		for chunk := len(ops) / 2; chunk >= 1; chunk /= 2 {
			for i := 0; i+chunk <= len(ops); {
				cand := append(append([]mdOp(nil), ops[:i]...), ops[i+chunk:]...)
				if fails(cand) {
					ops, changed = cand, true
				} else {
					i += chunk
				}
			}
		}
	}
	return ops
}

// mdFoundSequences are minimal sequences on which the model and the emulator once disagreed;
// replaying them on every run keeps those corners checked whatever the random seeds visit.
var mdFoundSequences = map[string][]mdOp{
	// A process exits while a duplicate of its connection handle lives on in another process:
	// the Get it issued must be cancelled (a dead process must not receive, and so lose, a
	// message).
	"exit cancels the Gets of the process": {
		{K: mdConnect, A: 891, B: 562}, {K: mdDup, A: 538, B: 818}, {K: mdGetOv, A: 79, B: 836}, {K: mdKill, A: 521},
	},
	// The same after the process closed its own handle first: the Get outlives the handle.
	"exit cancels the Gets of a closed handle": {
		{K: mdConnect, A: 528, B: 615}, {K: mdGetSync, A: 912, B: 107}, {K: mdDup, A: 178, B: 67},
		{K: mdClose, A: 816}, {K: mdKill, A: 333},
	},
}

// TestModelFoundSequences replays the sequences on which TestModelRandom once found the model
// and the emulator disagreeing.
func TestModelFoundSequences(t *testing.T) {
	for name, ops := range mdFoundSequences {
		t.Run(name, func(t *testing.T) {
			if f := mdRun(t, ops); f != nil {
				t.Fatalf("model and emulator disagree:\n%s", f)
			}
		})
	}
}
