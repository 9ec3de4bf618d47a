// Command fltdemo runs a short scenario in an emulated Windows machine and prints what
// happened: it loads the minimal sample driver, connects an allowed (elevated admin) and a
// denied (standard user) process, exchanges messages both ways, closes the server port while
// the connection keeps working, unloads the driver, and prints the trace. It exits with status
// 1 if any step does not behave as Windows does, so CI runs it as a smoke test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltlib"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minimal"
)

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// usage is what -h prints before the flags.
const usage = `Usage: fltdemo [-mermaid]

fltdemo plays a short scenario in an emulated Windows machine, with no Windows: it loads the
minimal sample minifilter, connects an elevated administrator's service (allowed) and a
standard user (refused by the port's default security descriptor), sends a kernel message
with a timeout and a reply, replies twice (the second finds no waiter), sends user messages to
MessageNotify, closes the server port while the connection keeps working, unloads the driver,
and prints each step and the flight-recorder trace. It exits with status 1 if a step does not
behave as Windows does (CI runs it as a smoke test), 2 for a bad command line.

Flags:
`

// cli runs the command with its arguments (without the program name) and returns the exit
// status.
func cli(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("fltdemo", flag.ContinueOnError)
	flags.SetOutput(stderr)
	mermaid := flags.Bool("mermaid", false, "print the trace as a Markdown page with a Mermaid sequence diagram "+
		"(the steps go to stderr), as in docs/demo-trace.md")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), usage)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package printed the error and the usage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "fltdemo: unexpected argument %q: the demo takes no arguments\n", flags.Arg(0))
		flags.Usage()
		return 2
	}
	if err := run(*mermaid, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "fltdemo: FAILED:", err)
		return 1
	}
	return 0
}

type checker struct {
	out io.Writer
	err error
}

func (c *checker) step(what string, got, want any) {
	ok := fmt.Sprint(got) == fmt.Sprint(want)
	mark := "ok  "
	if !ok {
		mark = "FAIL"
		if c.err == nil {
			c.err = fmt.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	fmt.Fprintf(c.out, "%s %-58s %v\n", mark, what, got)
}

// run plays the scenario, writing the steps and the trace to stdout (with mermaid, the steps
// go to stderr and stdout gets the Markdown page).
func run(mermaid bool, stdout, stderr io.Writer) error {
	w := harness.NewWorld(harness.WithFullTrace())
	c := &checker{out: stdout}
	if mermaid {
		c.out = stderr
	}
	drv := &minimal.Driver{}

	c.step("load the minimal driver", harness.HRESULTOf(w.Load("minimal", drv)), kernel.S_OK)

	admin := w.NewProcess("service.exe", kernel.TokenAdmin())
	user := w.NewProcess("user.exe", kernel.TokenStandardUser())

	_, hr := user.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
	c.step("standard user connects (default descriptor)", hr, kernel.E_ACCESSDENIED)

	h, hr := admin.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
	c.step("elevated admin connects", hr, kernel.S_OK)

	// Kernel → user: the driver pushes a message and waits for the reply.
	type result struct {
		reply []byte
		st    kernel.NTSTATUS
	}
	done := make(chan result, 1)
	go func() {
		r, st := drv.Notify(context.Background(), []byte("scan me"), 8, driverapi.RelativeTimeout(30e9))
		done <- result{r, st}
	}()
	buf := make([]byte, driverapi.FilterMessageHeaderSize+64)
	c.step("FilterGetMessage receives the kernel's message", admin.FilterGetMessage(h, buf, nil), kernel.S_OK)
	hdr, _ := driverapi.ParseFilterMessageHeader(buf)
	c.step("message id of the first message", hdr.MessageId, 1)
	c.step("FilterReplyMessage", admin.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte("clean"))), kernel.S_OK)
	r := <-done
	c.step("FltSendMessage returns the user's status", r.st, kernel.STATUS_SUCCESS)
	c.step("the driver got the reply payload", string(r.reply), "clean")
	c.step("a second reply to the same id", admin.FilterReplyMessage(h, driverapi.NewFilterReply(0, hdr.MessageId, nil)), kernel.ERROR_FLT_NO_WAITER_FOR_REPLY)

	// User → kernel.
	out := make([]byte, 16)
	var n uint32
	c.step("FilterSendMessage → MessageNotify", admin.FilterSendMessage(h, []byte("hello"), out, &n), kernel.S_OK)
	c.step("MessageNotify's answer", string(out[:n]), "HELLO")

	// Closing the server port keeps the connection.
	drv.ServerPortClose()
	_, hr = admin.FilterConnectCommunicationPort(minimal.PortName, 0, nil, 0, nil)
	c.step("connect after the server port closed", hr, kernel.HResultFromWin32(kernel.ERROR_FILE_NOT_FOUND))
	c.step("the open connection still works", admin.FilterSendMessage(h, []byte("still here"), out, &n), kernel.S_OK)

	// Unload ends the connection: a pending Get fails with E_HANDLE.
	getDone := make(chan kernel.HRESULT, 1)
	ov := &fltlib.Overlapped{Event: kernel.NewEvent(true, false)}
	c.step("overlapped FilterGetMessage", admin.FilterGetMessage(h, buf, ov), kernel.HResultFromWin32(kernel.ERROR_IO_PENDING))
	go func() {
		_, err := admin.GetOverlappedResult(h, ov, true)
		getDone <- kernel.HResultFromWin32(errToWin32(err))
	}()
	c.step("fltmc unload minimal", harness.HRESULTOf(w.Unload("minimal")), kernel.S_OK)
	c.step("the pending Get completes with", <-getDone, kernel.E_HANDLE)
	c.step("CloseHandle after unload", admin.CloseHandle(h), error(nil))

	if err := w.Close(); err != nil {
		c.step("teardown", err, nil)
	}
	if mermaid {
		fmt.Fprint(stdout, mermaidPage(harness.Mermaid(w.Trace().Events())))
	} else {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "Trace (times relative to the start of the world):")
		fmt.Fprint(stdout, w.Trace().Table())
	}
	return c.err
}

func errToWin32(err error) kernel.Win32Error {
	if err == nil {
		return kernel.ERROR_SUCCESS
	}
	if e, ok := err.(kernel.Win32Error); ok {
		return e
	}
	return kernel.ERROR_GEN_FAILURE
}

// mermaidPage wraps the diagram in the Markdown page docs/demo-trace.md is made of.
func mermaidPage(diagram string) string {
	return "# The demo's message flow\n\n" +
		"Generated by `go run ./cmd/fltdemo -mermaid > docs/demo-trace.md` from the demo's flight-recorder\n" +
		"trace: the user processes on the left, the filter manager in the middle, the driver on the right.\n" +
		"Crossed arrows are calls that failed, as the demo expects them to.\n\n" +
		"```mermaid\n" + diagram + "```\n"
}
