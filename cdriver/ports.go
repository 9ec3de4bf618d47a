package cdriver

/*
#include <stdlib.h>
#include <string.h>
#include "runtime.h"
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// cookie holds a C pointer (a port cookie) in a Go interface value.
type cookie struct{ p C.PVOID }

func cookieOf(a any) C.PVOID {
	if c, ok := a.(cookie); ok {
		return c.p
	}
	return nil
}

//export cdrv_FltCreateCommunicationPort
func cdrv_FltCreateCommunicationPort(f C.fltemu_frame_t, pf C.PFLT_FILTER, ret *C.PFLT_PORT, oa *C.OBJECT_ATTRIBUTES,
	serverCookie C.PVOID, cn, dn, mn unsafe.Pointer, max C.LONG) C.NTSTATUS {
	fr := frameOf(f)
	h := fr.h
	flt, ok := fr.filterOf("FltCreateCommunicationPort", pf)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if ret == nil || oa == nil || oa.ObjectName == nil {
		fr.badInput("FltCreateCommunicationPort", "a NULL ServerPort, ObjectAttributes or ObjectAttributes->ObjectName")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if !fr.unicodeOK("FltCreateCommunicationPort", oa.ObjectName) {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	var sd *kernel.SecurityDescriptor
	if oa.SecurityDescriptor != nil {
		var known bool
		if sd, known = h.securityDescriptor(unsafe.Pointer(oa.SecurityDescriptor)); !known {
			fr.badInput("FltCreateCommunicationPort", "a security descriptor FltBuildDefaultSecurityDescriptor did not return (or one freed already)")
			return st(kernel.STATUS_INVALID_PARAMETER)
		}
	}
	attrs := driverapi.InitializeObjectAttributes(goString(oa.ObjectName), uint32(oa.Attributes), sd)
	var connect driverapi.ConnectNotify
	var disconnect driverapi.DisconnectNotify
	var message driverapi.MessageNotify
	if cn != nil {
		connect = h.connectNotify(C.PFLT_CONNECT_NOTIFY(cn))
	}
	if dn != nil {
		disconnect = h.disconnectNotify(C.PFLT_DISCONNECT_NOTIFY(dn))
	}
	if mn != nil {
		message = h.messageNotify(C.PFLT_MESSAGE_NOTIFY(mn))
	}
	var sc any
	if serverCookie != nil {
		sc = cookie{serverCookie}
	}
	port, s := h.fm.CreateCommunicationPort(flt, &attrs, sc, connect, disconnect, message, int32(max))
	if s != kernel.STATUS_SUCCESS {
		return st(s)
	}
	*ret = C.PFLT_PORT(h.token(port))
	return st(kernel.STATUS_SUCCESS)
}

//export cdrv_FltCloseCommunicationPort
func cdrv_FltCloseCommunicationPort(f C.fltemu_frame_t, p C.PFLT_PORT) {
	fr := frameOf(f)
	if p == nil {
		fr.badInput("FltCloseCommunicationPort", "a NULL ServerPort")
		return
	}
	o, _ := fr.h.object(unsafe.Pointer(p))
	sp, ok := o.(driverapi.ServerPort)
	if !ok {
		fr.badInput("FltCloseCommunicationPort", fmt.Sprintf("a PFLT_PORT (%p) that FltCreateCommunicationPort did not return", unsafe.Pointer(p)))
		return
	}
	fr.h.fm.CloseCommunicationPort(sp)
}

// clientPort returns the ClientPort variable that stands for a client PFLT_PORT.
func (fr *frame) clientPort(routine string, p C.PFLT_PORT) (*driverapi.ClientPort, bool) {
	if p == nil {
		return &driverapi.ClientPort{}, true // a NULL port: the filter manager's own rules apply
	}
	o, _ := fr.h.object(unsafe.Pointer(p))
	cp, ok := o.(*driverapi.ClientPort)
	if !ok {
		fr.badInput(routine, fmt.Sprintf("a client PFLT_PORT (%p) that ConnectNotify did not receive", unsafe.Pointer(p)))
		return nil, false
	}
	return cp, true
}

//export cdrv_FltCloseClientPort
func cdrv_FltCloseClientPort(f C.fltemu_frame_t, pf C.PFLT_FILTER, pp *C.PFLT_PORT, port C.PFLT_PORT) {
	fr := frameOf(f)
	flt, ok := fr.filterOf("FltCloseClientPort", pf)
	if !ok {
		return
	}
	if pp == nil {
		fr.h.fm.CloseClientPort(flt, nil) // the filter manager reports it
		return
	}
	cp, ok := fr.clientPort("FltCloseClientPort", port)
	if !ok {
		return
	}
	fr.h.fm.CloseClientPort(flt, cp)
}

//export cdrv_FltSendMessage
func cdrv_FltSendMessage(f C.fltemu_frame_t, pf C.PFLT_FILTER, pp *C.PFLT_PORT, port C.PFLT_PORT, send C.PVOID, sendLen C.ULONG,
	reply C.PVOID, replyLen *C.ULONG, timeout *C.LARGE_INTEGER) C.NTSTATUS {
	fr := frameOf(f)
	flt, ok := fr.filterOf("FltSendMessage", pf)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if pp == nil {
		fr.badInput("FltSendMessage", "a NULL ClientPort pointer")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	if send == nil && sendLen != 0 {
		fr.badInput("FltSendMessage", "a NULL SenderBuffer with a SenderBufferLength")
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	cp, ok := fr.clientPort("FltSendMessage", port)
	if !ok {
		return st(kernel.STATUS_INVALID_PARAMETER)
	}
	var sendBuf, replyBuf []byte
	if send != nil {
		sendBuf = unsafe.Slice((*byte)(send), int(sendLen))
	}
	var n uint32
	var np *uint32
	if replyLen != nil {
		n = uint32(*replyLen)
		np = &n
	}
	if reply != nil {
		replyBuf = unsafe.Slice((*byte)(reply), int(n))
	}
	var to *int64
	if timeout != nil {
		v := int64(*(*C.LONGLONG)(unsafe.Pointer(timeout)))
		to = &v
	}
	s := fr.h.fm.SendMessage(fr.ctx, flt, cp, sendBuf, replyBuf, np, to)
	if replyLen != nil {
		*replyLen = C.ULONG(n)
	}
	return st(s)
}

// connectNotify wraps a C ConnectNotify. The connection context is a copy in C memory that
// is overwritten with 0xDB when the callback returns, as the emulator does for Go drivers.
func (h *host) connectNotify(fn C.PFLT_CONNECT_NOTIFY) driverapi.ConnectNotify {
	return func(ctx context.Context, clientPort driverapi.Port, serverCookie any, ctxb []byte) (any, kernel.NTSTATUS) {
		cp := &driverapi.ClientPort{}
		cp.Store(clientPort)
		tok := h.token(cp)
		var cctx unsafe.Pointer
		if len(ctxb) > 0 {
			cctx = h.calloc(C.size_t(len(ctxb)))
			copy(unsafe.Slice((*byte)(cctx), len(ctxb)), ctxb)
		}
		fr := h.enter("ConnectNotify", ctx)
		var conn C.PVOID
		s := kernel.NTSTATUS(C.fltemu_call_connect(fr.id, fn, C.PFLT_PORT(tok), cookieOf(serverCookie), C.PVOID(cctx), C.ULONG(len(ctxb)), &conn))
		fr.leave()
		if cctx != nil {
			C.memset(cctx, 0xDB, C.size_t(len(ctxb)))
		}
		if conn == nil {
			return nil, s
		}
		return cookie{conn}, s
	}
}

func (h *host) disconnectNotify(fn C.PFLT_DISCONNECT_NOTIFY) driverapi.DisconnectNotify {
	return func(ctx context.Context, connCookie any) {
		fr := h.enter("DisconnectNotify", ctx)
		C.fltemu_call_disconnect(fr.id, fn, cookieOf(connCookie))
		fr.leave()
	}
}

// messageNotify wraps a C MessageNotify. The driver gets copies of the user's buffers in C
// memory (Windows hands it the user's own addresses); what it writes within
// *ReturnOutputBufferLength is copied back.
func (h *host) messageNotify(fn C.PFLT_MESSAGE_NOTIFY) driverapi.MessageNotify {
	return func(ctx context.Context, connCookie any, in, out []byte) (uint32, kernel.NTSTATUS) {
		fr := h.enter("MessageNotify", ctx)
		defer fr.leave()
		var cin, cout unsafe.Pointer
		if in != nil {
			cin = fr.alloc(C.size_t(len(in) + 1))
			copy(unsafe.Slice((*byte)(cin), len(in)), in)
		}
		if out != nil {
			cout = fr.alloc(C.size_t(len(out) + 1))
		}
		var n C.ULONG
		s := kernel.NTSTATUS(C.fltemu_call_message(fr.id, fn, cookieOf(connCookie), C.PVOID(cin), C.ULONG(len(in)),
			C.PVOID(cout), C.ULONG(len(out)), &n))
		if cout != nil {
			copy(out, unsafe.Slice((*byte)(cout), min(int(n), len(out))))
		}
		return uint32(n), s
	}
}

// unicodeOK checks a UNICODE_STRING the driver passes in (R-VERIFY-5 when it is malformed).
func (fr *frame) unicodeOK(routine string, u *C.UNICODE_STRING) bool {
	if u == nil {
		fr.badInput(routine, "a NULL UNICODE_STRING")
		return false
	}
	if int(u.Length)%wcharSize != 0 || u.Length > u.MaximumLength || (u.Length != 0 && u.Buffer == nil) {
		fr.badInput(routine, fmt.Sprintf("a malformed UNICODE_STRING (Length %d, MaximumLength %d, Buffer %p)",
			u.Length, u.MaximumLength, unsafe.Pointer(u.Buffer)))
		return false
	}
	return true
}
