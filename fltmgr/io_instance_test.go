package fltmgr_test

import (
	"fmt"
	"testing"

	"github.com/fltemu/fltemu/fsys"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fltmgr"
	"github.com/fltemu/fltemu/harness"
	"github.com/fltemu/fltemu/kernel"
)

// instanceLog returns instance callbacks that log into r and let setup refuse network volumes.
func instanceLog(r *recorder, name string) driverapi.Registration {
	return driverapi.Registration{
		InstanceSetup: func(objs *driverapi.RelatedObjects, flags driverapi.InstanceSetupFlags, dt fsys.DeviceType, fs driverapi.FilesystemType) kernel.NTSTATUS {
			r.add("%s:setup %s flags=%#x devtype=%#x fstype=%d", name, objs.Volume.VolumeName(), uint32(flags), uint32(dt), uint32(fs))
			if dt == fsys.FILE_DEVICE_NETWORK_FILE_SYSTEM {
				return kernel.STATUS_FLT_DO_NOT_ATTACH
			}
			return kernel.STATUS_SUCCESS
		},
		InstanceQueryTeardown: func(objs *driverapi.RelatedObjects, _ driverapi.InstanceQueryTeardownFlags) kernel.NTSTATUS {
			r.add("%s:query-teardown %s", name, objs.Instance.InstanceName())
			return kernel.STATUS_SUCCESS
		},
		InstanceTeardownStart: func(objs *driverapi.RelatedObjects, reason driverapi.InstanceTeardownFlags) {
			r.add("%s:teardown-start %s reason=%#x", name, objs.Volume.VolumeName(), uint32(reason))
		},
		InstanceTeardownComplete: func(objs *driverapi.RelatedObjects, reason driverapi.InstanceTeardownFlags) {
			r.add("%s:teardown-complete %s reason=%#x", name, objs.Volume.VolumeName(), uint32(reason))
		},
	}
}

// R-IO-INST-1, R-IO-INST-2: a started filter attaches to every mounted volume and to volumes
// mounted later (NEWLY_MOUNTED_VOLUME); InstanceSetup gets the device and file-system types
// and may refuse with STATUS_FLT_DO_NOT_ATTACH (here: network volumes).
func TestIOAutomaticAttachAndSetupRefusal(t *testing.T) {
	w := harness.New(t)
	w.MustAddVolume(fsys.VolumeConfig{Name: "C:"})
	w.MustAddVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork, Share: `\srv\pub`})
	var r recorder
	reg := instanceLog(&r, "f")
	reg.Altitude = "360000"
	mustLoad(t, w, "f", &ioDriver{Reg: reg})
	w.MustAddVolume(fsys.VolumeConfig{Name: "D:", FileSystem: "ReFS", SectorSize: 4096})
	require.Equal(t, []string{
		`f:setup \Device\HarddiskVolume1 flags=0x1 devtype=0x8 fstype=2`,
		`f:setup \Device\Mup flags=0x1 devtype=0x14 fstype=13`,
		`f:setup \Device\HarddiskVolume2 flags=0x5 devtype=0x8 fstype=28`,
	}, r.take())
	require.Equal(t, []string{"f/f Instance@360000"}, w.Instances("C:"))
	require.Empty(t, w.Instances("Z:"))
	require.Equal(t, []string{"f/f Instance@360000"}, w.Instances("D:"))

	// R-IO-TEARDOWN-1: unloading tears every instance down with FILTER_UNLOAD.
	require.NoError(t, w.Unload("f"))
	require.Equal(t, []string{
		`f:teardown-start \Device\HarddiskVolume1 reason=0x2`, `f:teardown-complete \Device\HarddiskVolume1 reason=0x2`,
		`f:teardown-start \Device\HarddiskVolume2 reason=0x2`, `f:teardown-complete \Device\HarddiskVolume2 reason=0x2`,
	}, r.take())
	require.Empty(t, w.Instances("C:"))
}

// R-IO-INST-3, R-IO-INST-4: a filter that suppresses automatic attachment (minispy) sees
// nothing until user mode attaches it with FilterAttach; FilterDetach asks
// InstanceQueryTeardown and tears it down with FLTFL_INSTANCE_TEARDOWN_MANUAL.
func TestIOManualAttachDetach(t *testing.T) {
	w, admin := ioWorld(t, map[string][]byte{`a.txt`: []byte("a")})
	var r recorder
	reg := instanceLog(&r, "spy")
	reg.Altitude = "385100"
	reg.InstanceFlags = driverapi.InstanceFlagNoAutomaticAttach
	reg.OperationRegistration = logOps(&r, "spy", driverapi.IRP_MJ_CREATE)
	mustLoad(t, w, "spy", &ioDriver{Reg: reg})
	require.Empty(t, w.Instances("C:"))

	open := func() {
		h, err := admin.CreateFile(`C:\a.txt`, kernel.GENERIC_READ, fsys.FILE_SHARE_READ, nil, harness.OPEN_EXISTING, 0)
		require.NoError(t, err)
		require.NoError(t, admin.CloseHandle(h))
	}
	open()
	require.Empty(t, r.take(), "no instance, no callbacks")

	user := w.NewProcess("user.exe", kernel.TokenStandardUser())
	_, hr := user.FilterAttach("spy", "C:", "")
	require.Equal(t, kernel.E_ACCESSDENIED, hr)
	_, hr = admin.FilterAttach("nosuch", "C:", "")
	require.Equal(t, kernel.ERROR_FLT_FILTER_NOT_FOUND, hr)
	_, hr = admin.FilterAttach("spy", "Q:", "")
	require.Equal(t, kernel.HRESULT(0x801F0014), hr) // ERROR_FLT_VOLUME_NOT_FOUND

	name, hr := admin.FilterAttach("spy", `C:\`, "")
	require.Equal(t, kernel.S_OK, hr)
	require.Equal(t, "spy Instance", name)
	_, hr = admin.FilterAttach("spy", "C:", "")
	require.Equal(t, kernel.HRESULT(0x801F0012), hr) // ERROR_FLT_INSTANCE_NAME_COLLISION
	require.Equal(t, []string{`spy:setup \Device\HarddiskVolume1 flags=0x2 devtype=0x8 fstype=2`}, r.take())

	open()
	require.Equal(t, []string{"spy:pre IRP_MJ_CREATE", "spy:post IRP_MJ_CREATE"}, r.only("spy:p"))
	r.take()

	require.Equal(t, kernel.HRESULT(0x801F0015), admin.FilterDetach("spy", "C:", "other")) // ERROR_FLT_INSTANCE_NOT_FOUND
	require.Equal(t, kernel.S_OK, admin.FilterDetach("spy", "C:", ""))
	require.Equal(t, []string{"spy:query-teardown spy Instance",
		`spy:teardown-start \Device\HarddiskVolume1 reason=0x1`, `spy:teardown-complete \Device\HarddiskVolume1 reason=0x1`}, r.take())
	open()
	require.Empty(t, r.take())
}

// R-IO-INST-4: without an InstanceQueryTeardown callback a manual detach is refused; a
// refusing callback's status goes back to the caller.
func TestIODetachRefused(t *testing.T) {
	w, admin := ioWorld(t, nil)
	mustLoad(t, w, "sticky", &ioDriver{Reg: driverapi.Registration{Altitude: "360000"}})
	require.Equal(t, kernel.ERROR_FLT_DO_NOT_DETACH, admin.FilterDetach("sticky", "C:", ""))
	mustLoad(t, w, "stubborn", &ioDriver{Reg: driverapi.Registration{Altitude: "350000",
		InstanceQueryTeardown: func(*driverapi.RelatedObjects, driverapi.InstanceQueryTeardownFlags) kernel.NTSTATUS {
			return kernel.STATUS_FLT_DO_NOT_DETACH
		}}})
	require.Equal(t, kernel.ERROR_FLT_DO_NOT_DETACH, admin.FilterDetach("stubborn", "C:", ""))
	require.Len(t, w.Instances("C:"), 2)
}

// R-IO-INST-1: two instances cannot share an altitude on a volume; the second filter's
// automatic attach fails (the trace says why) and FilterAttachAtAltitude can place it
// elsewhere; a filter refusing manual attachment answers ERROR_FLT_DO_NOT_ATTACH.
func TestIOAltitudeCollision(t *testing.T) {
	w, admin := ioWorld(t, nil)
	mustLoad(t, w, "one", &ioDriver{Reg: driverapi.Registration{Altitude: "360000"}})
	mustLoad(t, w, "two", &ioDriver{Reg: driverapi.Registration{Altitude: "360000.0"}})
	require.Equal(t, []string{"one/one Instance@360000"}, w.Instances("C:"))
	var why string
	for _, e := range w.Trace().Filter(kernel.EvInstanceAttached) {
		if e.Driver == "two" {
			why = e.Status
		}
	}
	require.Contains(t, why, "0xC01C0011") // STATUS_FLT_INSTANCE_ALTITUDE_COLLISION
	_, hr := admin.FilterAttachAtAltitude("two", "C:", "360000", "")
	require.Equal(t, kernel.HRESULT(0x801F0011), hr)
	_, hr = admin.FilterAttachAtAltitude("two", "C:", "not-a-number", "")
	require.Equal(t, kernel.E_INVALIDARG, hr)
	_, hr = admin.FilterAttachAtAltitude("two", "C:", "370000.5", "Two High")
	require.Equal(t, kernel.S_OK, hr)
	require.Equal(t, []string{"two/Two High@370000.5", "one/one Instance@360000"}, w.Instances("C:"))

	mustLoad(t, w, "nomanual", &ioDriver{Reg: driverapi.Registration{Altitude: "300000",
		InstanceFlags: driverapi.InstanceFlagNoAutomaticAttach | driverapi.InstanceFlagNoManualAttach}})
	_, hr = admin.FilterAttach("nomanual", "C:", "")
	require.Equal(t, kernel.ERROR_FLT_DO_NOT_ATTACH, hr)
	// A setup refusal reaches the user as its HRESULT.
	mustLoad(t, w, "refuser", &ioDriver{Reg: driverapi.Registration{Altitude: "310000", InstanceFlags: driverapi.InstanceFlagNoAutomaticAttach,
		InstanceSetup: func(*driverapi.RelatedObjects, driverapi.InstanceSetupFlags, fsys.DeviceType, driverapi.FilesystemType) kernel.NTSTATUS {
			return kernel.STATUS_FLT_DO_NOT_ATTACH
		}}})
	_, hr = admin.FilterAttach("refuser", "C:", "")
	require.Equal(t, kernel.ERROR_FLT_DO_NOT_ATTACH, hr)
}

// R-IO-REG-1: RegisterFilter rejects bad I/O registrations.
func TestIORegistrationValidation(t *testing.T) {
	w := harness.New(t)
	pre := func(*driverapi.CallbackData, *driverapi.RelatedObjects, *any) driverapi.PreopCallbackStatus {
		return driverapi.FLT_PREOP_SUCCESS_NO_CALLBACK
	}
	for i, tc := range []struct {
		reg driverapi.Registration
		st  kernel.NTSTATUS
	}{
		{driverapi.Registration{Altitude: "12a"}, kernel.STATUS_INVALID_PARAMETER},
		{driverapi.Registration{Altitude: "1."}, kernel.STATUS_INVALID_PARAMETER},
		{driverapi.Registration{InstanceFlags: 0x4}, kernel.STATUS_INVALID_PARAMETER},
		{driverapi.Registration{OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: 0x40, PreOperation: pre}}}, kernel.STATUS_INVALID_PARAMETER},
		{driverapi.Registration{OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_READ, Flags: 0x100}}}, kernel.STATUS_INVALID_PARAMETER},
		{driverapi.Registration{OperationRegistration: []driverapi.OperationRegistration{
			{MajorFunction: driverapi.IRP_MJ_READ, PreOperation: pre}, {MajorFunction: driverapi.IRP_MJ_READ, PreOperation: pre}}}, kernel.STATUS_INVALID_PARAMETER},
		{driverapi.Registration{ContextRegistration: []driverapi.ContextRegistration{{ContextType: 0x3, Size: 8}}}, kernel.STATUS_FLT_INVALID_CONTEXT_REGISTRATION},
		{driverapi.Registration{ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_STREAM_CONTEXT}}}, kernel.STATUS_FLT_INVALID_CONTEXT_REGISTRATION},
		// Entries after the END markers are not read.
		{driverapi.Registration{Altitude: "1", OperationRegistration: []driverapi.OperationRegistration{{MajorFunction: driverapi.IRP_MJ_OPERATION_END}, {MajorFunction: 0x40}},
			ContextRegistration: []driverapi.ContextRegistration{{ContextType: driverapi.FLT_CONTEXT_END}, {ContextType: 0x3}}}, kernel.STATUS_SUCCESS},
	} {
		d := &ioDriver{Reg: tc.reg}
		require.Equal(t, kernel.HResultFromNtStatus(tc.st), harness.HRESULTOf(w.Load(fmt.Sprintf("reg%d", i), d)), "case %d", i)
	}
}

// CompareAltitudes orders altitudes as numbers.
func TestIOCompareAltitudes(t *testing.T) {
	require.Equal(t, 1, fltmgr.CompareAltitudes("385100", "38510"))
	require.Equal(t, -1, fltmgr.CompareAltitudes("370030", "370030.5"))
	require.Equal(t, 0, fltmgr.CompareAltitudes("0370030.50", "370030.5"))
	require.Equal(t, -1, fltmgr.CompareAltitudes("x", "1"))
}

// R-IO-INST-3, R-IO-INST-4: a driver attaches and detaches itself with FltAttachVolume and
// FltDetachVolume, finding the volume with FltGetVolumeFromName.
func TestIOKernelAttachDetach(t *testing.T) {
	w, _ := ioWorld(t, nil)
	var r recorder
	reg := instanceLog(&r, "k")
	reg.Altitude = "330000"
	reg.InstanceFlags = driverapi.InstanceFlagNoAutomaticAttach
	d := &ioDriver{Reg: reg}
	mustLoad(t, w, "k", d)
	_, st := d.FM.GetVolumeFromName(d.Filter, `\Device\HarddiskVolume9`)
	require.Equal(t, kernel.STATUS_FLT_VOLUME_NOT_FOUND, st)
	vol, st := d.FM.GetVolumeFromName(d.Filter, `\??\C:`)
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	name, _ := d.FM.GetVolumeName(vol)
	require.Equal(t, `\Device\HarddiskVolume1`, name)
	inst, st := d.FM.AttachVolume(d.Filter, vol, "")
	require.Equal(t, kernel.STATUS_SUCCESS, st)
	require.Equal(t, "k Instance", inst.InstanceName())
	require.Equal(t, "330000", inst.Altitude())
	_, st = d.FM.AttachVolume(d.Filter, vol, "")
	require.Equal(t, kernel.STATUS_FLT_INSTANCE_NAME_COLLISION, st)
	require.Equal(t, kernel.STATUS_SUCCESS, d.FM.DetachVolume(d.Filter, vol, ""))
	require.Equal(t, kernel.STATUS_FLT_INSTANCE_NOT_FOUND, d.FM.DetachVolume(d.Filter, vol, ""))
	d.FM.ObjectDereference(vol)
	require.Equal(t, []string{`k:setup \Device\HarddiskVolume1 flags=0x2 devtype=0x8 fstype=2`, "k:query-teardown k Instance",
		`k:teardown-start \Device\HarddiskVolume1 reason=0x1`, `k:teardown-complete \Device\HarddiskVolume1 reason=0x1`}, r.take())
	// One dereference too many is a driver bug.
	w.ExpectViolation(kernel.RuleIOVerify9).Containing("without a matching reference")
	d.FM.ObjectDereference(vol)
}

// R-IO-VOL-2: FltGetVolumeGuidName gives `\??\Volume{GUID}` for a local volume, the same in
// every world, and STATUS_INVALID_DEVICE_REQUEST for a network volume.
func TestIOVolumeGuidName(t *testing.T) {
	names := make([]string, 2)
	for i := range names {
		w, _ := ioWorld(t, nil)
		w.MustAddVolume(fsys.VolumeConfig{Name: "Z:", Kind: fsys.VolumeNetwork, Share: `\srv\pub`})
		reg := instanceLog(&recorder{}, "g")
		reg.Altitude = "330000"
		d := &ioDriver{Reg: reg}
		mustLoad(t, w, "g", d)
		vol, st := d.FM.GetVolumeFromName(d.Filter, `\??\C:`)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		names[i], st = d.FM.GetVolumeGuidName(vol)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		require.Regexp(t, `^\\\?\?\\Volume\{[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$`, names[i])
		d.FM.ObjectDereference(vol)

		net, st := d.FM.GetVolumeFromName(d.Filter, `\??\Z:`)
		require.Equal(t, kernel.STATUS_SUCCESS, st)
		_, st = d.FM.GetVolumeGuidName(net)
		require.Equal(t, kernel.STATUS_INVALID_DEVICE_REQUEST, st)
		d.FM.ObjectDereference(net)
		_, st = d.FM.GetVolumeGuidName(nil)
		require.Equal(t, kernel.STATUS_INVALID_PARAMETER, st)
	}
	require.Equal(t, names[0], names[1])
}
