// Package driverapi is what a minifilter driver sees: the "WDK headers" of the emulator.
//
// A driver implements [Driver] (its DriverEntry). DriverEntry receives its [DriverObject], the
// [FilterManager] whose routines it may call (FltRegisterFilter, FltCreateCommunicationPort,
// FltSendMessage, ...), and its registry path. Everything a driver calls goes through that
// interface, so another host can stand where the emulated filter manager stands. (The
// emulator's fault injection is not a wrapper of it: the filter manager consults one hook,
// which harness.Faults drives.)
//
// Names follow the WDK without the Flt prefix; constants keep their Windows spelling
// (FLT_PORT_CONNECT, FLTFL_FILTER_UNLOAD_MANDATORY) so they can be searched for.
//
// Routines return [kernel.NTSTATUS] by value, as in C. Remember that STATUS_TIMEOUT is a
// success code: a driver that sends a message and waits for a verdict must compare with
// STATUS_SUCCESS, not use IsSuccess.
//
// # File I/O
//
// The file-I/O half of the headers holds the major function codes, the callback data, the
// operation registration, instances, contexts, file names and volume properties, and the
// [FileRoutines] a driver calls (FltReadFile, FltGetFileNameInformation, FltSetStreamContext,
// ...). Names and values follow fltkernel.h; where C uses a union or an out pointer the Go
// shape is stated on the type or routine.
//
// # Sections for data scans
//
// An anti-virus filter (the avscan sample) lets a user-mode service read a file through a
// section: FltRegisterForDataScan at instance setup, FltCreateSectionForDataScan when a scan
// starts (in the service's process, so that the handle it returns is the service's),
// MapViewOfFile in the service, FltCloseSectionForDataScan when the verdict comes. The section
// context the filter allocated (FLT_SECTION_CONTEXT) stays referenced by the section until it
// is closed.
//
// # A complete driver with a communication port
//
// DriverEntry registers the filter with a [Registration] (FLT_REGISTRATION), builds the
// port's security descriptor, creates the port with its three callbacks ([ConnectNotify],
// [DisconnectNotify], [MessageNotify]; each takes the calling thread's context first) and
// starts filtering; the unload callback closes the port, once, then unregisters. A driver
// imports driverapi, kernel, fsys and the standard library, nothing else; this one needs
// bytes, context and time:
//
//	const helloPort = `\HelloPort`
//
//	// helloDriver has one communication port: a service connects, sends requests that
//	// MessageNotify answers, and answers the questions the driver asks with Ask.
//	type helloDriver struct {
//		fm     driverapi.FilterManager
//		filter driverapi.Filter
//		server driverapi.ServerPort
//		client driverapi.ClientPort // the connected service's client port (one at a time)
//	}
//
//	func (d *helloDriver) DriverEntry(obj *driverapi.DriverObject, fm driverapi.FilterManager, _ string) kernel.NTSTATUS {
//		d.fm = fm
//		f, st := fm.RegisterFilter(obj, &driverapi.Registration{ // FLT_REGISTRATION
//			Version:      driverapi.FLT_REGISTRATION_VERSION,
//			FilterUnload: d.unload,
//		})
//		if st != kernel.STATUS_SUCCESS {
//			return st
//		}
//		d.filter = f
//		// SYSTEM and Administrators get FLT_PORT_ALL_ACCESS, the access a connect asks for.
//		sd, st := fm.BuildDefaultSecurityDescriptor(kernel.FLT_PORT_ALL_ACCESS)
//		if st != kernel.STATUS_SUCCESS {
//			fm.UnregisterFilter(f) // a DriverEntry that fails undoes what it did
//			return st
//		}
//		attrs := driverapi.InitializeObjectAttributes(helloPort, driverapi.OBJ_KERNEL_HANDLE|driverapi.OBJ_CASE_INSENSITIVE, sd)
//		d.server, st = fm.CreateCommunicationPort(f, &attrs, nil, d.connect, d.disconnect, d.message, 1)
//		fm.FreeSecurityDescriptor(sd) // the port keeps its own copy
//		if st != kernel.STATUS_SUCCESS {
//			fm.UnregisterFilter(f)
//			return st
//		}
//		if st = fm.StartFiltering(f); st != kernel.STATUS_SUCCESS {
//			fm.CloseCommunicationPort(d.server)
//			fm.UnregisterFilter(f)
//		}
//		return st
//	}
//
//	// connect is the ConnectNotify: keep the client port. The cookie it returns comes back to
//	// disconnect and message.
//	func (d *helloDriver) connect(ctx context.Context, client driverapi.Port, _ any, _ []byte) (any, kernel.NTSTATUS) {
//		d.client.Store(client)
//		return nil, kernel.STATUS_SUCCESS
//	}
//
//	// disconnect is the DisconnectNotify: the service closed its handle, or the filter unloads.
//	func (d *helloDriver) disconnect(ctx context.Context, _ any) {
//		d.fm.CloseClientPort(d.filter, &d.client)
//	}
//
//	// message is the MessageNotify: it answers FilterSendMessage, "hello" → "HELLO".
//	func (d *helloDriver) message(ctx context.Context, _ any, in, out []byte) (uint32, kernel.NTSTATUS) {
//		if len(out) < len(in) {
//			return 0, kernel.STATUS_BUFFER_TOO_SMALL // the service gets 0x8007007A
//		}
//		return uint32(copy(out, bytes.ToUpper(in))), kernel.STATUS_SUCCESS
//	}
//
//	// unload closes the server port, then unregisters: the order Windows expects.
//	func (d *helloDriver) unload(driverapi.FilterUnloadFlags) kernel.NTSTATUS {
//		d.fm.CloseCommunicationPort(d.server)
//		d.fm.UnregisterFilter(d.filter)
//		return kernel.STATUS_SUCCESS
//	}
//
//	// Ask sends a question to the service and waits up to 5 s for its one-byte answer.
//	func (d *helloDriver) Ask(ctx context.Context, question string) (byte, kernel.NTSTATUS) {
//		answer := make([]byte, 1)
//		n := uint32(len(answer))
//		st := d.fm.SendMessage(ctx, d.filter, &d.client, []byte(question), answer, &n,
//			driverapi.RelativeTimeout(5*time.Second))
//		if st != kernel.STATUS_SUCCESS { // STATUS_TIMEOUT is a success code: compare exactly
//			return 0, st
//		}
//		return answer[0], st
//	}
//
// # Its first test
//
// Package harness loads it into an emulated machine with a user process on the other side
// of the port (package fltlib is the user-mode API; the test imports testing,
// testing/synctest, testify's require, fltlib, harness and kernel). The same driver and test
// are in driverapi/firstdriver_test.go; docs/guide.md goes on from there (the verifier, fault
// injection, time, the trace, golden files, Mermaid diagrams).
//
//	func TestHelloDriver(t *testing.T) {
//		// Run makes a fresh machine inside a synctest bubble (fake time: the 5 s timeout
//		// below takes microseconds) and checks for leftovers and driver bugs at the end.
//		harness.Run(t, func(t *testing.T, w *harness.World) {
//			d := &helloDriver{}
//			require.NoError(t, w.Load("hello", d))
//
//			// The default descriptor lets only SYSTEM and administrators connect.
//			user := w.NewProcess("user.exe", kernel.TokenStandardUser())
//			_, err := fltlib.Dial(t.Context(), user, helloPort, nil)
//			require.ErrorIs(t, err, kernel.E_ACCESSDENIED)
//
//			svc := w.NewProcess("service.exe", kernel.TokenAdmin())
//			conn, err := fltlib.Dial(t.Context(), svc, helloPort, nil)
//			require.NoError(t, err)
//
//			// User → driver: FilterSendMessage runs MessageNotify on this goroutine.
//			out := make([]byte, 16)
//			n, err := conn.Send(t.Context(), []byte("hello"), out)
//			require.NoError(t, err)
//			require.Equal(t, "HELLO", string(out[:n]))
//			_, err = conn.Send(t.Context(), []byte("hello"), make([]byte, 2))
//			require.ErrorIs(t, err, kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER))
//
//			// Driver → user: nobody reads yet, so the question times out after 5 (fake) seconds.
//			_, st := d.Ask(t.Context(), "anyone there?")
//			require.Equal(t, kernel.STATUS_TIMEOUT, st)
//
//			// The service answers.
//			go func() {
//				m, err := conn.Receive(t.Context())
//				if err == nil {
//					_ = conn.Reply(m, kernel.STATUS_SUCCESS, []byte{42})
//				}
//			}()
//			answer, st := d.Ask(t.Context(), "is it safe?")
//			require.Equal(t, kernel.STATUS_SUCCESS, st)
//			require.Equal(t, byte(42), answer)
//			synctest.Wait() // the service goroutine has returned from Reply
//
//			// Unloading ends the connection: the service's next Receive fails with E_HANDLE.
//			require.NoError(t, w.Unload("hello"))
//			_, err = conn.Receive(t.Context())
//			require.ErrorIs(t, err, kernel.E_HANDLE)
//			require.NoError(t, conn.Close()) // a handle left open would fail the test
//		})
//	}
package driverapi
