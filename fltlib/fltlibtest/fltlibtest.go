// Package fltlibtest is the conformance suite of fltlib: the scenarios a service depends on,
// written once against fltlib.Backend and fltlib.Conn, so that the same checks run against the
// emulator (under go test) and against a real driver on Windows.
//
// The suite needs a driver that pushes messages on request: Env.Push makes the kernel side
// send one message on the connection and wait for the reply, as FltSendMessage does.
package fltlibtest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"

	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/kernel"
)

// Env is what a run of the suite needs.
type Env struct {
	// Backend is the backend under test.
	Backend fltlib.Backend
	// Port is the communication port the driver listens on.
	Port string
	// Push makes the driver send payload on the most recent connection and wait for a reply
	// of at most replyCap bytes (0: a one-way message); it returns the reply.
	Push func(ctx context.Context, payload []byte, replyCap int) ([]byte, error)
}

// Run runs every scenario as a subtest.
func Run(t *testing.T, env Env) {
	t.Run("HeadersAndIDs", func(t *testing.T) { HeadersAndIDs(t, env) })
	t.Run("BufferGrowth", func(t *testing.T) { BufferGrowth(t, env) })
	t.Run("CancelByContext", func(t *testing.T) { CancelByContext(t, env) })
	t.Run("CloseWhileReceiving", func(t *testing.T) { CloseWhileReceiving(t, env) })
	t.Run("BadInput", func(t *testing.T) { BadInput(t, env) })
}

func dial(t *testing.T, env Env) *fltlib.Conn {
	t.Helper()
	c, err := fltlib.Dial(context.Background(), env.Backend, env.Port, nil)
	if err != nil {
		t.Fatalf("Dial %s: %v", env.Port, err)
	}
	return c
}

// HeadersAndIDs: a message that waits for a reply has a non-zero MessageId, announces the
// sender's reply capacity, and the reply reaches the sender (R-SEND-7, R-USER Reply).
func HeadersAndIDs(t *testing.T, env Env) {
	c := dial(t, env)
	defer c.Close()
	got := make(chan []byte, 1)
	go func() {
		r, _ := env.Push(context.Background(), []byte("ping"), 8)
		got <- r
	}()
	m, err := c.Receive(context.Background())
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if m.ID == 0 || !m.WantsReply() || m.ReplyCapacity != 8 || string(m.Payload) != "ping" {
		t.Fatalf("message %+v: want a non-zero id, capacity 8, payload ping", m)
	}
	if err := c.Reply(m, kernel.STATUS_SUCCESS, []byte("pong")); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if r := <-got; !bytes.Equal(r, []byte("pong")) {
		t.Fatalf("sender got %q, want pong", r)
	}
	// A second reply finds no waiter (R-USER Reply 2).
	if err := c.Reply(m, kernel.STATUS_SUCCESS, nil); !errors.Is(err, kernel.ERROR_FLT_NO_WAITER_FOR_REPLY) {
		t.Fatalf("second Reply: %v, want ERROR_FLT_NO_WAITER_FOR_REPLY", err)
	}
}

// BufferGrowth: a message larger than Receive's first buffer is received whole (R-SEND-4).
func BufferGrowth(t *testing.T, env Env) {
	c, err := fltlib.Dial(context.Background(), env.Backend, env.Port, &fltlib.DialOptions{MaxMessageSize: 8})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	big := bytes.Repeat([]byte("0123456789"), 100)
	go func() { _, _ = env.Push(context.Background(), big, 0) }()
	m, err := c.Receive(context.Background())
	if err != nil || !bytes.Equal(m.Payload, big) {
		t.Fatalf("Receive: %v (payload %d bytes, want %d)", err, len(m.Payload), len(big))
	}
}

// CancelByContext: a Receive whose ctx is already done, or ends, returns ctx's error and the
// connection stays usable.
func CancelByContext(t *testing.T, env Env) {
	c := dial(t, env)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive with a done ctx: %v", err)
	}
	go func() { _, _ = env.Push(context.Background(), []byte("after"), 0) }()
	m, err := c.Receive(context.Background())
	if err != nil || string(m.Payload) != "after" {
		t.Fatalf("Receive after a cancel: %v", err)
	}
}

// CloseWhileReceiving: Close ends a blocked Receive with net.ErrClosed; every later call
// says closed.
func CloseWhileReceiving(t *testing.T, env Env) {
	c := dial(t, env)
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := c.Receive(context.Background())
		errc <- err
	}()
	<-started
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Receive interrupted by Close: %v", err)
	}
	if _, err := c.Send(context.Background(), []byte("x"), nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// BadInput: nil and short buffers and closed handles are errors, never a panic or a hang.
func BadInput(t *testing.T, env Env) {
	b := env.Backend
	if hr := b.FilterGetMessage(0, nil, nil); hr != kernel.E_INVALIDARG {
		t.Errorf("FilterGetMessage nil buffer: %v", hr)
	}
	if hr := b.FilterReplyMessage(0, make([]byte, 15)); hr != kernel.E_INVALIDARG {
		t.Errorf("FilterReplyMessage 15 bytes: %v", hr)
	}
	if hr := b.FilterSendMessage(0, nil, nil, nil); hr != kernel.E_INVALIDARG {
		t.Errorf("FilterSendMessage nil input: %v", hr)
	}
	if _, hr := b.FilterConnectCommunicationPort(env.Port, 0, nil, 4, nil); hr != kernel.E_INVALIDARG {
		t.Errorf("connect nil context of size 4: %v", hr)
	}
	h, hr := b.FilterConnectCommunicationPort(env.Port, 0, nil, 0, nil)
	if hr != kernel.S_OK {
		t.Fatalf("connect: %v", hr)
	}
	if err := b.CloseHandle(h); err != nil {
		t.Fatalf("CloseHandle: %v", err)
	}
	if hr := b.FilterGetMessage(h, make([]byte, 64), &fltlib.Overlapped{}); !hr.Failed() {
		t.Errorf("FilterGetMessage on a closed handle: %v", hr)
	}
	if err := b.CloseHandle(h); err == nil {
		t.Errorf("a second CloseHandle succeeded")
	}
	if _, err := fltlib.Dial(context.Background(), nil, env.Port, nil); !errors.Is(err, kernel.E_INVALIDARG) {
		t.Errorf("Dial without a backend: %v", err)
	}
}
