package harness_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/internal/testdriver"
	"github.com/fltemu/fltemu/kernel"
)

// deadlockScenarioEnv names the deadlock TestDeadlockChild runs; unset, it does nothing.
const deadlockScenarioEnv = "FLTEMU_DEADLOCK_SCENARIO"

// deadlockScenarios are driver bugs that hang Windows for good.
var deadlockScenarios = map[string]func(t *testing.T, w *harness.World){
	// FltUnregisterFilter from the filter's own MessageNotify waits for that MessageNotify.
	"unregister-in-message": func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		d.OnMessage = func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			d.FM.UnregisterFilter(d.Filter)
			return 0, kernel.STATUS_SUCCESS
		}
		require.NoError(t, w.Load("test", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h, hr := p.FilterConnectCommunicationPort(`\TestPort`, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		p.FilterSendMessage(h, []byte("x"), nil, nil)
	},
	// The classic reader and replier on one FLT_PORT_FLAG_SYNC_HANDLE handle (R-USER connect
	// 3): the reader is back in FilterGetMessage when the replier calls FilterReplyMessage,
	// which waits for the Get; the driver waits for the reply.
	"sync-handle-reader-and-replier": func(t *testing.T, w *harness.World) {
		d := &testdriver.Driver{}
		require.NoError(t, w.Load("test", d))
		p := w.NewProcess("svc.exe", kernel.TokenAdmin())
		h, hr := p.FilterConnectCommunicationPort(`\TestPort`, driverapi.FLT_PORT_FLAG_SYNC_HANDLE, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		toReply := make(chan uint64)
		go func() { // the reader
			for {
				buf := make([]byte, 64)
				if p.FilterGetMessage(h, buf, nil) != kernel.S_OK {
					return
				}
				hdr, _ := driverapi.ParseFilterMessageHeader(buf)
				// Hand the message over once the reader is back in FilterGetMessage, the
				// ordering that makes the deadlock certain rather than likely.
				go func() { synctest.Wait(); toReply <- hdr.MessageId }()
			}
		}()
		go func() { // the replier
			for id := range toReply {
				p.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, id, nil))
			}
		}()
		d.Send(context.Background(), d.Conn(0), []byte("scan"), make([]byte, 4), nil)
	},
	// A MessageNotify that waits for its own connection to be closed: the close waits for the
	// MessageNotify to return.
	"message-waits-for-its-close": func(t *testing.T, w *harness.World) {
		closed := make(chan struct{})
		d := &testdriver.Driver{}
		d.OnDisconnect = func(context.Context, *testdriver.Conn) { close(closed) }
		d.OnMessage = func(context.Context, *testdriver.Conn, []byte, []byte) (uint32, kernel.NTSTATUS) {
			<-closed
			return 0, kernel.STATUS_SUCCESS
		}
		require.NoError(t, w.Load("test", d))
		c, err := fltlib.Dial(context.Background(), w.NewProcess("svc.exe", kernel.TokenAdmin()), `\TestPort`, nil)
		require.NoError(t, err)
		go c.Send(context.Background(), []byte("x"), nil)
		synctest.Wait() // the MessageNotify is running
		c.Close()
	},
}

// TestDeadlockChild runs one deadlock scenario when the parent test asks for it.
func TestDeadlockChild(t *testing.T) {
	name := os.Getenv(deadlockScenarioEnv)
	if name == "" {
		t.Skip("run by TestDeadlockIsReported in a child process")
	}
	harness.Run(t, deadlockScenarios[name])
}

// R-VERIFY-10: a deadlock in a world fails the test with the rule, the goroutines involved and
// the trace, instead of hanging or dying with synctest's bare panic. Each scenario runs in a
// child process, since its blocked goroutines can never be freed.
func TestDeadlockIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for name := range deadlockScenarios {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDeadlockChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), deadlockScenarioEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the child test must fail:\n%s", out)
			text := string(out)
			require.Contains(t, text, "verifier R-VERIFY-10: deadlock:")
			require.Contains(t, text, "blocked goroutines of the test's bubble")
			require.Contains(t, text, "github.com/fltemu/fltemu/fltmgr.") // a filter-manager wait is among them
			require.Contains(t, text, "Trace up to the deadlock:")
			require.Contains(t, text, "driver-loaded")
			require.NotContains(t, text, "panic: deadlock", "synctest's bare panic must not be what the user sees")
			// The rule first, then the goroutines, then the trace.
			rule, stacks, trace := strings.Index(text, "verifier R-VERIFY-10"), strings.Index(text, "blocked goroutines of"),
				strings.Index(text, "Trace up to the deadlock:")
			require.True(t, rule < stacks && stacks < trace, "report out of order:\n%s", text)
			if strings.Contains(name, "unregister") {
				require.Contains(t, text, "UnregisterFilter")
			}
		})
	}
}
