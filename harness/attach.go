package harness

import "github.com/fltemu/fltemu/kernel"

// fltlib's FilterAttach and FilterDetach: instances attached on a user's request.

// FilterAttach emulates fltlib's FilterAttach (R-IO-INST-3): it attaches the filter to the
// volume ("C:", "C:\" or a device name) at the altitude of its registration, as
// instanceName ("" for the default instance), and returns the instance's name. Results:
// S_OK; E_ACCESSDENIED for a caller that is not an administrator;
// ERROR_FLT_FILTER_NOT_FOUND (0x801F0013); ERROR_FLT_VOLUME_NOT_FOUND (0x801F0014);
// ERROR_FLT_INSTANCE_NAME_COLLISION (0x801F0012); ERROR_FLT_INSTANCE_ALTITUDE_COLLISION
// (0x801F0011); ERROR_FLT_DO_NOT_ATTACH (0x801F000F) when InstanceSetup refuses or the
// filter suppresses manual attachment.
func (p *Process) FilterAttach(filterName, volumeName, instanceName string) (string, kernel.HRESULT) {
	return p.FilterAttachAtAltitude(filterName, volumeName, "", instanceName)
}

// FilterAttachAtAltitude emulates fltlib's FilterAttachAtAltitude: FilterAttach at an
// explicit altitude ("" for the registration's).
func (p *Process) FilterAttachAtAltitude(filterName, volumeName, altitude, instanceName string) (string, kernel.HRESULT) {
	if filterName == "" || volumeName == "" {
		return "", kernel.E_INVALIDARG
	}
	name, st := p.w.fm.AttachFilter(p.k, filterName, volumeName, altitude, instanceName)
	return name, kernel.HResultFromNtStatus(st)
}

// FilterDetach emulates fltlib's FilterDetach (R-IO-INST-4): the instance's
// InstanceQueryTeardown decides (none registered: ERROR_FLT_DO_NOT_DETACH, 0x801F0010); an
// unknown instance is ERROR_FLT_INSTANCE_NOT_FOUND (0x801F0015).
func (p *Process) FilterDetach(filterName, volumeName, instanceName string) kernel.HRESULT {
	if filterName == "" || volumeName == "" {
		return kernel.E_INVALIDARG
	}
	return kernel.HResultFromNtStatus(p.w.fm.DetachFilter(p.k, filterName, volumeName, instanceName))
}
