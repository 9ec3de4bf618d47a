package kernel

import (
	"fmt"
	"strconv"
)

// LeftoverKind says what a [Leftover] is.
type LeftoverKind int

// The kinds of things a world can still hold at the end of a test.
const (
	LeftoverHandle            LeftoverKind = iota + 1 // a user handle still open
	LeftoverCompletionPackets                         // packets queued in a completion port, never dequeued
	LeftoverServerPort                                // a server port the driver never closed
	LeftoverClientPort                                // a connection whose client port the driver never closed
	LeftoverPendingGets                               // FilterGetMessage requests still pending
	LeftoverBlockedSenders                            // FltSendMessage calls still waiting for a Get
	LeftoverReplyWaiters                              // FltSendMessage calls still waiting for a reply
	LeftoverName                                      // an object name nothing accounts for
)

var leftoverKindNames = [...]string{
	LeftoverHandle:            "handle",
	LeftoverCompletionPackets: "completion packets",
	LeftoverServerPort:        "server port",
	LeftoverClientPort:        "client port",
	LeftoverPendingGets:       "pending Gets",
	LeftoverBlockedSenders:    "blocked senders",
	LeftoverReplyWaiters:      "reply waiters",
	LeftoverName:              "object name",
}

func (k LeftoverKind) String() string {
	if k > 0 && int(k) < len(leftoverKindNames) {
		return leftoverKindNames[k]
	}
	return "LeftoverKind(" + strconv.Itoa(int(k)) + ")"
}

// Leftover is something still alive in a world, as a value: its kind, its owner (a driver
// for kernel-side objects, a process for handles, pending Gets and completion packets) and
// the object. The filter manager and the harness produce them; String formats one line.
type Leftover struct {
	Kind    LeftoverKind
	Driver  string // the owning driver, for server ports, client ports, senders, reply waiters
	Process string // the owning process ("svc.exe (pid 8)"); for completion packets, every holder of the port with its handle
	Object  string // a handle's object, a server port's or object's name, "connection 2"
	Handle  Handle // the handle value, for LeftoverHandle
	Count   int    // how many, for pending Gets, blocked senders, reply waiters, completion packets
}

// String formats the leftover as "owner: what", e.g.
//
//	svc.exe (pid 8): handle 0x80004 to FilterConnectionPort "\ScanPort" still open
//	driver "scanner": client port of connection 1 (svc.exe (pid 8)) not closed
func (l Leftover) String() string {
	owner := l.Process
	if l.Driver != "" {
		owner = fmt.Sprintf("driver %q", l.Driver)
	}
	var what string
	switch l.Kind {
	case LeftoverHandle:
		what = fmt.Sprintf("handle %#x to %s still open", uintptr(l.Handle), l.Object)
	case LeftoverCompletionPackets:
		what = fmt.Sprintf("%d completion packet(s) queued in an I/O completion port and never dequeued", l.Count)
	case LeftoverServerPort:
		what = "server port " + Quote(l.Object) + " still open"
	case LeftoverClientPort:
		what = fmt.Sprintf("client port of %s (%s) not closed", l.Object, l.Process)
	case LeftoverPendingGets:
		what = fmt.Sprintf("%d pending Get(s) on %s", l.Count, l.Object)
	case LeftoverBlockedSenders:
		what = fmt.Sprintf("%d blocked sender(s) on %s", l.Count, l.Object)
	case LeftoverReplyWaiters:
		what = fmt.Sprintf("%d reply waiter(s) on %s", l.Count, l.Object)
	case LeftoverName:
		owner = "object namespace"
		what = "name " + Quote(l.Object) + " still present"
	default:
		what = fmt.Sprintf("%v %s", l.Kind, l.Object)
	}
	return owner + ": " + what
}
