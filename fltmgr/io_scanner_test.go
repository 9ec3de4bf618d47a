package fltmgr_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// miniScanner is a cut-down scanner sample: post-create reads the head of *.txt files
// non-cached and asks the connected user service, through the port, whether it is safe; a
// foul file's open is cancelled. Writes on handles opened for writing are scanned in
// pre-write; paging writes pass.
type miniScanner struct {
	fm      driverapi.FilterManager
	filter  driverapi.Filter
	server  driverapi.ServerPort
	client  driverapi.ClientPort
	userPID atomic.Uint32
}

func (s *miniScanner) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
	s.fm = fm
	f, st := fm.RegisterFilter(obj, &driverapi.Registration{
		Version: driverapi.FLT_REGISTRATION_VERSION, Altitude: "265000",
		FilterUnload: func(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
			fm.CloseCommunicationPort(s.server)
			fm.UnregisterFilter(s.filter)
			return kernel.STATUS_SUCCESS
		},
		ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_STREAMHANDLE_CONTEXT, Size: 1}},
		OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_CREATE, PreOperation: s.preCreate, PostOperation: s.postCreate},
			{MajorFunction: driverapi.IRP_MJ_WRITE, PreOperation: s.preWrite},
		},
	})
	if st != kernel.STATUS_SUCCESS {
		return st
	}
	s.filter = f
	sd, _ := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
	attrs := driverapi.InitializeObjectAttributes(`\ScanPort`, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
	s.server, st = fm.CreateCommunicationPort(f, &attrs, nil,
		func(ctx context.Context, p driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
			s.userPID.Store(driverapi.CurrentProcessId(ctx))
			s.client.Store(p)
			return nil, kernel.STATUS_SUCCESS
		},
		func(context.Context, any) { fm.CloseClientPort(s.filter, &s.client); s.userPID.Store(0) }, nil, 1)
	if st != kernel.STATUS_SUCCESS {
		fm.UnregisterFilter(f)
		return st
	}
	if st := fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
		fm.CloseCommunicationPort(s.server)
		fm.UnregisterFilter(f)
		return st
	}
	return kernel.STATUS_SUCCESS
}

func (s *miniScanner) preCreate(data *driverapi.CallbackData, _ *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	if s.fm.GetRequestorProcessId(data) == s.userPID.Load() {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK // the scanner's own opens
	}
	return driverapi.FLT_PREOP_SUCCESS_WITH_CALLBACK
}

// ask sends up to 1024 bytes to the service and returns whether they are safe.
func (s *miniScanner) ask(data *driverapi.CallbackData, content []byte) bool {
	if s.client.IsNil() {
		return true
	}
	msg := make([]byte, 8+1024)
	n := copy(msg[8:], content)
	binary.LittleEndian.PutUint32(msg, uint32(n))
	reply := make([]byte, 1)
	replyLen := uint32(1)
	st := s.fm.SendMessage(data.Context(), s.filter, &s.client, msg, reply, &replyLen, nil)
	return st != kernel.STATUS_SUCCESS || reply[0] != 0
}

func (s *miniScanner) postCreate(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ any, _ driverapi.PostOperationFlags) driverapi.PostopCallbackStatus {
	if !data.IoStatus.Status.IsSuccess() {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	info, st := s.fm.GetFileNameInformation(data, driverapi.FLT_FILE_NAME_NORMALIZED|driverapi.FLT_FILE_NAME_QUERY_DEFAULT)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	s.fm.ParseFileNameInformation(info)
	scan := strings.EqualFold(info.Extension, "txt")
	s.fm.ReleaseFileNameInformation(info)
	if !scan {
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	vol, _ := s.fm.GetVolumeFromInstance(objs.Instance)
	props, _ := s.fm.GetVolumeProperties(vol)
	s.fm.ObjectDereference(vol)
	length := max(1024, uint32(props.SectorSize))
	buf := make([]byte, length)
	var off int64
	n, st := s.fm.ReadFile(data.Context(), objs.Instance, objs.FileObject, &off, length, buf,
		driverapi.FLTFL_IO_OPERATION_NON_CACHED|driverapi.FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET)
	if st == kernel.STATUS_SUCCESS && n > 0 && !s.ask(data, buf[:n]) {
		s.fm.CancelFileOpen(objs.Instance, objs.FileObject)
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		return driverapi.FLT_POSTOP_FINISHED_PROCESSING
	}
	if objs.FileObject.WriteAccess {
		c, st := s.fm.AllocateContext(s.filter, driverapi.FLT_STREAMHANDLE_CONTEXT, 1, driverapi.PagedPool)
		if st == kernel.STATUS_SUCCESS {
			c.SetData(true) // rescan required
			s.fm.SetStreamHandleContext(objs.Instance, objs.FileObject, driverapi.FLT_SET_CONTEXT_REPLACE_IF_EXISTS, c, nil)
			s.fm.ReleaseContext(c)
		}
	}
	return driverapi.FLT_POSTOP_FINISHED_PROCESSING
}

func (s *miniScanner) preWrite(data *driverapi.CallbackData, objs *driverapi.RelatedObjects, _ *any) driverapi.PreopCallbackStatus {
	c, st := s.fm.GetStreamHandleContext(objs.Instance, objs.FileObject)
	if st != kernel.STATUS_SUCCESS {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	defer s.fm.ReleaseContext(c)
	wp := data.Iopb.Parameters.Write
	if !s.ask(data, wp.WriteBuffer[:min(wp.Length, 1024)]) && data.Iopb.IrpFlags&driverapi.IRP_PAGING_IO == 0 {
		data.IoStatus = driverapi.IoStatusBlock{Status: kernel.STATUS_ACCESS_DENIED}
		return driverapi.FLT_PREOP_COMPLETE
	}
	return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
}

// runService answers scan requests until the port disconnects: contents with "foul" are
// unsafe. It reports the number of requests on done.
func runService(svc *harness.Process, h kernel.Handle, done chan<- int) {
	count := 0
	buf := make([]byte, driverapi.FilterMessageHeaderSize+8+1024)
	for svc.FilterGetMessage(h, buf, nil) == kernel.S_OK {
		count++
		hdr, _ := driverapi.ParseFilterMessageHeader(buf)
		n := binary.LittleEndian.Uint32(buf[driverapi.FilterMessageHeaderSize:])
		safe := byte(1)
		if bytes.Contains(buf[24:24+n], []byte("foul")) {
			safe = 0
		}
		svc.FilterReplyMessage(h, driverapi.NewFilterReply(kernel.STATUS_SUCCESS, hdr.MessageId, []byte{safe}))
	}
	done <- count
}

// R-IO-CREATE-5, R-IO-CTX-2, R-IO-RW-3, R-IO-RW-5 together, the way the scanner sample uses
// them: a post-create sends a message from the requestor's thread (data.Context()) and cancels
// the open of a foul file; writes on a scanned handle are checked, except paging writes; the
// service's own opens are not scanned.
func TestIOScannerEndToEnd(t *testing.T) {
	w := harness.New(t)
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{
		`clean.txt`: []byte("all good here"), `dirty.txt`: []byte("some foul words"), `foul.bin`: []byte("foul but not scanned")}})
	s := &miniScanner{}
	mustLoad(t, w, "scanner", s)
	svc := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
	port, hr := svc.FilterConnectCommunicationPort(`\ScanPort`, 0, nil, 0, nil)
	require.Equal(t, kernel.S_OK, hr)
	done := make(chan int, 1)
	go runService(svc, port, done)

	app := w.NewProcess("notepad.exe", kernel.TokenStandardUser())
	_, err := app.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	h, err := app.CreateFile(`C:\foul.bin`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err, "not a scanned extension")
	require.NoError(t, app.CloseHandle(h))

	h, err = app.CreateFile(`C:\clean.txt`, kernel.GENERIC_READ|kernel.GENERIC_WRITE, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	_, err = app.WriteFileAt(h, []byte("foul"), 0)
	require.Equal(t, kernel.ERROR_ACCESS_DENIED, err)
	require.NoError(t, app.MappedWrite(h, 0, []byte("foul")), "paging writes pass")
	require.NoError(t, app.CloseHandle(h))
	data, _ := w.FileData(`C:\clean.txt`)
	require.Equal(t, "foulgood here", string(data))

	// The service may open the foul file itself: its opens are not scanned.
	h, err = svc.CreateFile(`C:\clean.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, svc.CloseHandle(h))

	require.NoError(t, svc.CloseHandle(port))
	// No scanner connected: everything is allowed.
	h, err = app.CreateFile(`C:\dirty.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
	require.NoError(t, err)
	require.NoError(t, app.CloseHandle(h))
	require.Equal(t, 4, <-done) // dirty.txt, clean.txt open, the write, the paging write
	require.NoError(t, w.Unload("scanner"))
}

// R-SEND-5 through file I/O: the callback data's context is the requestor's thread, so a
// post-create blocked in FltSendMessage (no timeout, nobody reading) returns
// STATUS_THREAD_IS_TERMINATING when the requestor's process exits; the open then fails and
// nothing is left open.
func TestIOSendFromCallbackEndsWithRequestorProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := harness.New(t)
		w.MustAddVolume(fsys.VolumeConfig{Name: "C:", Files: map[string][]byte{`x.txt`: []byte("text")}})
		s := &miniScanner{}
		mustLoad(t, w, "scanner", s)
		svc := w.NewProcess("scanuser.exe", kernel.TokenAdmin())
		port, hr := svc.FilterConnectCommunicationPort(`\ScanPort`, 0, nil, 0, nil)
		require.Equal(t, kernel.S_OK, hr)
		app := w.NewProcess("app.exe", kernel.TokenStandardUser())
		done := make(chan error, 1)
		go func() {
			_, err := app.CreateFile(`C:\x.txt`, kernel.GENERIC_READ, 0, nil, harness.OPEN_EXISTING, 0)
			done <- err
		}()
		synctest.Wait() // the post-create is blocked in FltSendMessage
		app.Exit(1)
		require.Equal(t, kernel.ERROR_ACCESS_DENIED, <-done) // STATUS_PROCESS_IS_TERMINATING
		require.Equal(t, 0, w.Volume("C:").TestAccess().OpenFileObjects())
		var abandoned bool
		for _, e := range w.Trace().Filter(kernel.EvMessageAbandoned) {
			abandoned = abandoned || strings.Contains(e.Status, "STATUS_THREAD_IS_TERMINATING")
		}
		require.True(t, abandoned, "the send ended as a terminating thread")
		require.NoError(t, svc.CloseHandle(port))
	})
}
