package fltmgr

import (
	"fmt"
	"strings"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

func (m *Manager) asVolume(v driverapi.FltVolume) (*fltVolume, bool) {
	fv, ok := v.(*fltVolume)
	if !ok || fv == nil || fv.m != m {
		return nil, false
	}
	return fv, true
}

// getVolumeFromInstance emulates FltGetVolumeFromInstance: the instance's volume, with a
// reference the caller drops with ObjectDereference.
func (m *Manager) getVolumeFromInstance(instance driverapi.Instance) (driverapi.FltVolume, kernel.NTSTATUS) {
	inst, ok := m.asInstance(instance)
	if !ok {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	inst.vol.refs.Add(1)
	return inst.vol, kernel.STATUS_SUCCESS
}

// getVolumeFromFileObject emulates FltGetVolumeFromFileObject (with a reference).
func (m *Manager) getVolumeFromFileObject(fi driverapi.Filter, fileObject *fsys.FileObject) (driverapi.FltVolume, kernel.NTSTATUS) {
	if _, ok := m.asFilter(fi); !ok || fileObject == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	fv := m.volumeOf(fileObject.Volume())
	if fv == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	fv.refs.Add(1)
	return fv, kernel.STATUS_SUCCESS
}

// getVolumeFromName emulates FltGetVolumeFromName (with a reference). An unknown name is
// STATUS_FLT_VOLUME_NOT_FOUND.
func (m *Manager) getVolumeFromName(fi driverapi.Filter, name string) (driverapi.FltVolume, kernel.NTSTATUS) {
	if _, ok := m.asFilter(fi); !ok || name == "" {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	fv := m.findVolume(strings.TrimPrefix(name, `\??\`))
	if fv == nil {
		return nil, kernel.STATUS_FLT_VOLUME_NOT_FOUND
	}
	fv.refs.Add(1)
	return fv, kernel.STATUS_SUCCESS
}

// getVolumeProperties emulates FltGetVolumeProperties (R-IO-VOL-2): device type (disk or
// network file system), sector size, and the device and file-system names.
func (m *Manager) getVolumeProperties(volume driverapi.FltVolume) (driverapi.VolumeProperties, kernel.NTSTATUS) {
	fv, ok := m.asVolume(volume)
	if !ok {
		return driverapi.VolumeProperties{}, kernel.STATUS_INVALID_PARAMETER
	}
	v := fv.v
	p := driverapi.VolumeProperties{
		DeviceType:           v.DeviceType(),
		AlignmentRequirement: 0,
		SectorSize:           uint16(v.SectorSize()),
		FileSystemDriverName: `\FileSystem\` + v.FileSystem(),
		FileSystemDeviceName: `\` + v.FileSystem(),
		RealDeviceName:       v.DeviceName(),
	}
	if v.SectorSize() > 0xFFFF {
		p.SectorSize = 0
	}
	if v.Kind() == fsys.VolumeNetwork {
		p.DeviceCharacteristics |= driverapi.FILE_REMOTE_DEVICE
	}
	return p, kernel.STATUS_SUCCESS
}

// getVolumeName emulates FltGetVolumeName: the volume's device name.
func (m *Manager) getVolumeName(volume driverapi.FltVolume) (string, kernel.NTSTATUS) {
	fv, ok := m.asVolume(volume)
	if !ok {
		return "", kernel.STATUS_INVALID_PARAMETER
	}
	return fv.v.DeviceName(), kernel.STATUS_SUCCESS
}

// getVolumeGuidName emulates FltGetVolumeGuidName: the volume's name in GUID form,
// `\??\Volume{GUID}` (the mount manager's form). A network volume has none:
// STATUS_INVALID_DEVICE_REQUEST.
func (m *Manager) getVolumeGuidName(volume driverapi.FltVolume) (string, kernel.NTSTATUS) {
	fv, ok := m.asVolume(volume)
	if !ok {
		return "", kernel.STATUS_INVALID_PARAMETER
	}
	if fv.v.Kind() == fsys.VolumeNetwork {
		return "", kernel.STATUS_INVALID_DEVICE_REQUEST
	}
	return `\??\Volume{` + fv.v.GUID().String() + "}", kernel.STATUS_SUCCESS
}

// getFilterFromInstance emulates FltGetFilterFromInstance (with a reference on the filter).
func (m *Manager) getFilterFromInstance(instance driverapi.Instance) (driverapi.Filter, kernel.NTSTATUS) {
	inst, ok := m.asInstance(instance)
	if !ok {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	inst.fio.mu.Lock()
	inst.fio.refs++
	inst.fio.mu.Unlock()
	return inst.fio.f, kernel.STATUS_SUCCESS
}

// objectReference emulates FltObjectReference on a filter, an instance or a volume. An
// instance or filter being torn down gives STATUS_FLT_DELETING_OBJECT.
func (m *Manager) objectReference(object any) kernel.NTSTATUS {
	switch o := object.(type) {
	case *filter:
		if o == nil || o.m != m {
			break
		}
		fio := m.filterIO(o)
		fio.mu.Lock()
		defer fio.mu.Unlock()
		if fio.gone {
			return kernel.STATUS_FLT_DELETING_OBJECT
		}
		fio.refs++
		return kernel.STATUS_SUCCESS
	case *instance:
		if o == nil || o.vol.m != m {
			break
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.state == instTearingDown || o.state == instGone {
			return kernel.STATUS_FLT_DELETING_OBJECT
		}
		o.refs++
		return kernel.STATUS_SUCCESS
	case *fltVolume:
		if o == nil || o.m != m {
			break
		}
		o.refs.Add(1)
		return kernel.STATUS_SUCCESS
	}
	return kernel.STATUS_INVALID_PARAMETER
}

// objectDereference emulates FltObjectDereference. Dropping a reference that was never taken
// is reported (R-IO-VERIFY-9).
func (m *Manager) objectDereference(object any) {
	under := false
	what := fmt.Sprintf("%v", object)
	switch o := object.(type) {
	case *filter:
		if o != nil && o.m == m {
			m.io.mu.Lock()
			fio := m.io.filters[o]
			m.io.mu.Unlock()
			if fio == nil {
				return // unregistered: its references were reported then
			}
			fio.mu.Lock()
			fio.refs--
			under = fio.refs < 0
			if under {
				fio.refs = 0
			}
			fio.mu.Unlock()
		}
	case *instance:
		if o != nil && o.vol.m == m {
			o.mu.Lock()
			o.refs--
			under = o.refs < 0
			if under {
				o.refs = 0
			}
			o.mu.Unlock()
		}
	case *fltVolume:
		if o != nil && o.m == m {
			if n := o.refs.Add(-1); n < 0 {
				o.refs.Add(1)
				under = true
			}
		}
	default:
		under = true
	}
	if under {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify9, Driver: "?", Object: what,
			Message: "FltObjectDereference without a matching reference", Windows: "the object's rundown count underflows: a bugcheck"})
	}
}

// attachVolume emulates FltAttachVolume: the filter attaches to the volume at its
// registration's altitude as instanceName ("" for the default instance), with
// FLTFL_INSTANCE_SETUP_MANUAL_ATTACHMENT.
func (m *Manager) attachVolume(fi driverapi.Filter, volume driverapi.FltVolume, instanceName string) (driverapi.Instance, kernel.NTSTATUS) {
	f, ok := m.asFilter(fi)
	fv, okv := m.asVolume(volume)
	if !ok || !okv {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	fio := m.filterIO(f)
	if fio.reg.Altitude == "" {
		return nil, kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	if instanceName == "" {
		instanceName = fio.defaultInstanceName()
	}
	inst, st := m.attach(fio, fv, fio.reg.Altitude, instanceName, driverapi.FLTFL_INSTANCE_SETUP_MANUAL_ATTACHMENT)
	if st != kernel.STATUS_SUCCESS {
		return nil, st
	}
	return inst, st
}

// detachVolume emulates FltDetachVolume: as FilterDetach, InstanceQueryTeardown decides.
func (m *Manager) detachVolume(fi driverapi.Filter, volume driverapi.FltVolume, instanceName string) kernel.NTSTATUS {
	f, ok := m.asFilter(fi)
	fv, okv := m.asVolume(volume)
	if !ok || !okv {
		return kernel.STATUS_INVALID_PARAMETER
	}
	return m.detach(m.filterIO(f), fv, instanceName)
}
