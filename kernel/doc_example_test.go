package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fltemu/fltemu/kernel"
)

// An NTSTATUS prints its name and value, and STATUS_TIMEOUT is a success code: test for the
// exact status you expect, not for "success".
func ExampleNTSTATUS() {
	st := kernel.STATUS_PORT_DISCONNECTED
	fmt.Println(st)
	fmt.Println(kernel.NTSTATUS(0xC0DE0001))
	fmt.Println(kernel.STATUS_TIMEOUT.IsSuccess(), kernel.STATUS_PENDING.IsSuccess())
	fmt.Println(kernel.STATUS_BUFFER_OVERFLOW.IsSuccess(), kernel.STATUS_BUFFER_OVERFLOW.IsWarning())

	var err error = fmt.Errorf("send: %w", st)
	fmt.Println(errors.Is(err, kernel.STATUS_PORT_DISCONNECTED))
	// Output:
	// STATUS_PORT_DISCONNECTED (0xC0000037)
	// NTSTATUS (0xC0DE0001)
	// true true
	// false true
	// true
}

// User mode sees the kernel's status as an HRESULT (R-HR).
func ExampleHResultFromNtStatus() {
	for _, st := range []kernel.NTSTATUS{
		kernel.STATUS_SUCCESS,
		kernel.STATUS_PORT_DISCONNECTED,
		kernel.STATUS_OBJECT_NAME_NOT_FOUND,
		kernel.STATUS_TIMEOUT,
		kernel.STATUS_FLT_NO_WAITER_FOR_REPLY,
		kernel.STATUS_FLT_BUFFER_TOO_SMALL,
		kernel.NTSTATUS(0xC0DE0001),
	} {
		fmt.Printf("%-40v → %v\n", st, kernel.HResultFromNtStatus(st))
	}
	// Output:
	// STATUS_SUCCESS (0x00000000)              → S_OK (0x00000000)
	// STATUS_PORT_DISCONNECTED (0xC0000037)    → E_HANDLE (0x80070006)
	// STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034) → HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (0x80070002)
	// STATUS_TIMEOUT (0x00000102)              → HRESULT_FROM_WIN32(WAIT_TIMEOUT) (0x80070102)
	// STATUS_FLT_NO_WAITER_FOR_REPLY (0xC01C0020) → ERROR_FLT_NO_WAITER_FOR_REPLY (0x801F0020)
	// STATUS_FLT_BUFFER_TOO_SMALL (0x801C0001) → HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) (0x8007007A)
	// NTSTATUS (0xC0DE0001)                    → HRESULT_FROM_WIN32(ERROR_MR_MID_NOT_FOUND) (0x8007013D)
}

// An HRESULT_FROM_WIN32 value and its Win32 error match each other with errors.Is.
func ExampleHRESULT_Is() {
	hr := kernel.HResultFromNtStatus(kernel.STATUS_PORT_DISCONNECTED)
	fmt.Println(hr == kernel.E_HANDLE)
	fmt.Println(errors.Is(hr, kernel.ERROR_INVALID_HANDLE))
	fmt.Println(errors.Is(kernel.ERROR_INVALID_HANDLE, kernel.E_HANDLE))
	fmt.Println(errors.Is(hr, kernel.ERROR_ACCESS_DENIED))
	fmt.Println(kernel.S_OK.Err() == nil, hr.Err())
	// Output:
	// true
	// true
	// true
	// false
	// true E_HANDLE (0x80070006)
}

// A world holds processes; each process has its own handle table. When the last handle to an
// object closes, in any process, the object's cleanup hook runs once.
func ExampleWorld_CreateProcess() {
	w := kernel.New()
	svc, _ := w.CreateProcess("svc.exe", kernel.TokenAdmin(), nil, false)
	obj := kernel.NewObject("Demo", `\Demo`, nil, func() { fmt.Println("cleanup") })
	h, _ := svc.InsertHandle(obj, 0x1, true)

	// The child inherits the inheritable handle, with the same value.
	child, _ := w.CreateProcess("child.exe", svc.Token(), svc, true)
	inherited, _, st := child.ReferenceHandle(h)
	fmt.Println(st, inherited == obj, obj.HandleCount())

	// The value means nothing in an unrelated process.
	other, _ := w.CreateProcess("other.exe", kernel.TokenStandardUser(), nil, false)
	_, _, st = other.ReferenceHandle(h)
	fmt.Println(st)

	fmt.Println(svc.CloseHandle(h))
	fmt.Println(len(w.Processes()), "processes")
	child.Exit(0) // closes the last handle
	svc.Exit(0)
	other.Exit(0)
	fmt.Println(len(w.Processes()), "processes")
	// Output:
	// STATUS_SUCCESS (0x00000000) true 2
	// STATUS_INVALID_HANDLE (0xC0000008)
	// STATUS_SUCCESS (0x00000000)
	// 3 processes
	// cleanup
	// 0 processes
}

// DuplicateHandle opens the same object in another process, with the same access or less.
func ExampleDuplicateHandle() {
	w := kernel.New()
	a, _ := w.CreateProcess("a.exe", kernel.TokenAdmin(), nil, false)
	b, _ := w.CreateProcess("b.exe", kernel.TokenAdmin(), nil, false)
	defer a.Exit(0)
	defer b.Exit(0)
	h, _ := a.InsertHandle(kernel.NewObject("Demo", "", nil, nil), 0x3, false)

	hb, st := kernel.DuplicateHandle(a, h, b, 0, false, kernel.DUPLICATE_SAME_ACCESS)
	_, access, _ := b.ReferenceHandle(hb)
	fmt.Printf("%v %#x\n", st, uint32(access))
	_, st = kernel.DuplicateHandle(a, h, b, 0x7, false, 0)
	fmt.Println(st)
	// Output:
	// STATUS_SUCCESS (0x00000000) 0x3
	// STATUS_ACCESS_DENIED (0xC0000022)
}

// Completion packets come out in the order they were queued; an empty port times out.
func ExampleCompletionPort() {
	c := kernel.NewCompletionPort()
	c.Post(kernel.CompletionPacket{Key: 1, Bytes: 16})
	c.Post(kernel.CompletionPacket{Key: 2, Bytes: 32})
	for range 3 {
		pkt, st := c.Remove(context.Background(), 0)
		fmt.Println(pkt.Key, pkt.Bytes, st)
	}
	c.Close()
	_, st := c.Remove(context.Background(), time.Second)
	fmt.Println(st)
	// Output:
	// 1 16 STATUS_SUCCESS (0x00000000)
	// 2 32 STATUS_SUCCESS (0x00000000)
	// 0 0 STATUS_TIMEOUT (0x00000102)
	// STATUS_ABANDONED_WAIT_0 (0x00000080)
}

// Windows system time counts 100 ns intervals since 1601-01-01 UTC.
func ExampleSystemTime() {
	st := kernel.SystemTime(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(st)
	fmt.Println(kernel.TimeFromSystem(0))
	// Output:
	// 116444736000000000
	// 1601-01-01 00:00:00 +0000 UTC
}
