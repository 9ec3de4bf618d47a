package fltmgr

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// ioState is the I/O half of the filter manager: the volumes and, per filter, its
// registration tables and instances. The zero value is ready.
//
// Its lock heads a branch of the lock-order tree (doc.go). No lock is held across a driver
// callback.
type ioState struct {
	mu       sync.Mutex
	volumes  []*fltVolume
	filters  map[*filter]*filterIO
	nextDisk int
	seq      uint64
	names    map[*driverapi.FltFileNameInformation]*nameRef
	creates  sync.Map // *fsys.FileObject → *ioOp: creates in flight, for FltCancelFileOpen

	sections sectionTable // FltRegisterForDataScan, FltCreateSectionForDataScan (io_section.go)
}

// filterIO is a filter's I/O state.
type filterIO struct {
	f      *filter
	ops    [int(driverapi.IRP_MJ_MAXIMUM_FUNCTION) + 1]*driverapi.OperationRegistration
	ctxReg []driverapi.ContextRegistration
	reg    *driverapi.Registration // the copy the filter keeps

	mu        sync.Mutex
	started   bool
	gone      bool
	instances []*instance
	contexts  map[*fltContext]struct{} // contexts with references
	refs      int                      // FltObjectReference on the filter
}

type instState int

const (
	instAttaching instState = iota
	instAttached
	instTearingDown
	instGone
)

// instance is the emulated FLT_INSTANCE.
type instance struct {
	fio      *filterIO
	vol      *fltVolume
	name     string
	altitude string
	alt      altitudeKey

	mu      sync.Mutex
	state   instState
	active  int           // callbacks running
	idle    chan struct{} // closed when active drops to 0 while a teardown waits
	posts   map[*postEntry]struct{}
	pends   map[*ioOp]struct{}
	refs    int
	instCtx *fltContext
	shCtx   map[*fsys.FileObject]*fltContext
	sCtx    map[*fsys.Stream]*fltContext
}

// InstanceName returns the instance's name.
func (i *instance) InstanceName() string { return i.name }

// Altitude returns the instance's altitude.
func (i *instance) Altitude() string { return i.altitude }

func (i *instance) String() string {
	return fmt.Sprintf("instance %q of %q on %s at %s", i.name, i.fio.f.name, i.vol.v.Name(), i.altitude)
}

// fltVolume is the emulated FLT_VOLUME.
type fltVolume struct {
	m     *Manager
	v     *fsys.Volume
	insts atomic.Pointer[[]*instance] // attached instances, highest altitude first (copy on write under ioState.mu)
	all   []*instance                 // attaching and attached, for collisions; guarded by ioState.mu
	refs  atomic.Int64                // FltObjectReference / FltGetVolumeFrom*
}

// VolumeName returns the volume's device name.
func (fv *fltVolume) VolumeName() string { return fv.v.DeviceName() }

func (fv *fltVolume) String() string { return fv.v.String() }

func (fv *fltVolume) list() []*instance {
	if p := fv.insts.Load(); p != nil {
		return *p
	}
	return nil
}

// republish rebuilds the dispatch list from all; ioState.mu is held.
func (fv *fltVolume) republish() {
	var l []*instance
	for _, i := range fv.all {
		i.mu.Lock()
		ok := i.state == instAttached
		i.mu.Unlock()
		if ok {
			l = append(l, i)
		}
	}
	sort.SliceStable(l, func(a, b int) bool { return l[b].alt.less(l[a].alt) })
	fv.insts.Store(&l)
}

// ---- altitudes ----

// altitudeKey is a parsed altitude: a decimal number as digits.
type altitudeKey struct{ whole, frac string }

// parseAltitude accepts "385100" and "370030.5".
func parseAltitude(s string) (altitudeKey, bool) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || hasDot && frac == "" {
		return altitudeKey{}, false
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return altitudeKey{}, false
			}
		}
	}
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	return altitudeKey{whole, frac}, true
}

func (a altitudeKey) less(b altitudeKey) bool {
	if len(a.whole) != len(b.whole) {
		return len(a.whole) < len(b.whole)
	}
	if a.whole != b.whole {
		return a.whole < b.whole
	}
	return a.frac < b.frac
}

// CompareAltitudes compares two altitude strings numerically: -1, 0 or 1. An invalid
// altitude sorts below every valid one.
func CompareAltitudes(a, b string) int {
	ka, oka := parseAltitude(a)
	kb, okb := parseAltitude(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return -1
	case !okb:
		return 1
	case ka == kb:
		return 0
	case ka.less(kb):
		return -1
	}
	return 1
}

// ---- registration ----

// validateIORegistration checks the I/O fields of a registration (R-IO-REG-1): operation
// registrations with a known major function and flags, no major function twice; context
// registrations with a known type and a size; a valid altitude or none; known instance
// flags.
func validateIORegistration(reg *driverapi.Registration) kernel.NTSTATUS {
	seen := map[driverapi.MajorFunction]bool{}
	for _, o := range reg.OperationRegistration {
		if o.MajorFunction == driverapi.IRP_MJ_OPERATION_END {
			break
		}
		if o.MajorFunction > driverapi.IRP_MJ_MAXIMUM_FUNCTION || seen[o.MajorFunction] {
			return kernel.STATUS_INVALID_PARAMETER
		}
		const known = driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO | driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_CACHED_IO |
			driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_NON_DASD_IO | driverapi.FLTFL_OPERATION_REGISTRATION_SKIP_NON_CACHED_NON_PAGING_IO
		if o.Flags&^known != 0 {
			return kernel.STATUS_INVALID_PARAMETER
		}
		seen[o.MajorFunction] = true
	}
	for _, c := range reg.ContextRegistration {
		if c.ContextType == driverapi.FLT_CONTEXT_END {
			break
		}
		switch c.ContextType {
		case driverapi.FLT_VOLUME_CONTEXT, driverapi.FLT_INSTANCE_CONTEXT, driverapi.FLT_FILE_CONTEXT,
			driverapi.FLT_STREAM_CONTEXT, driverapi.FLT_STREAMHANDLE_CONTEXT, driverapi.FLT_TRANSACTION_CONTEXT,
			driverapi.FLT_SECTION_CONTEXT:
		default:
			return kernel.STATUS_FLT_INVALID_CONTEXT_REGISTRATION
		}
		if c.Size == 0 || c.Flags&^driverapi.FLTFL_CONTEXT_REGISTRATION_NO_EXACT_SIZE_MATCH != 0 {
			return kernel.STATUS_FLT_INVALID_CONTEXT_REGISTRATION
		}
	}
	if reg.Altitude != "" {
		if _, ok := parseAltitude(reg.Altitude); !ok {
			return kernel.STATUS_INVALID_PARAMETER
		}
	}
	if reg.InstanceFlags&^(driverapi.InstanceFlagNoAutomaticAttach|driverapi.InstanceFlagNoManualAttach) != 0 {
		return kernel.STATUS_INVALID_PARAMETER
	}
	return kernel.STATUS_SUCCESS
}

// filterIO returns (making it on first use) the I/O state of f. A filter that unregistered
// gets a state of its own marked gone, which is not kept.
func (m *Manager) filterIO(f *filter) *filterIO {
	unregistered := f.isUnregistered()
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	if m.io.filters == nil {
		m.io.filters = make(map[*filter]*filterIO)
	}
	if fio := m.io.filters[f]; fio != nil {
		return fio
	}
	fio := &filterIO{f: f, reg: &f.reg, contexts: map[*fltContext]struct{}{}, gone: unregistered}
	if unregistered {
		return fio
	}
	for _, o := range f.reg.OperationRegistration {
		if o.MajorFunction == driverapi.IRP_MJ_OPERATION_END {
			break
		}
		if o.MajorFunction <= driverapi.IRP_MJ_MAXIMUM_FUNCTION && (o.PreOperation != nil || o.PostOperation != nil) {
			oc := o
			fio.ops[o.MajorFunction] = &oc
		}
	}
	for _, c := range f.reg.ContextRegistration {
		if c.ContextType == driverapi.FLT_CONTEXT_END {
			break
		}
		fio.ctxReg = append(fio.ctxReg, c)
	}
	m.io.filters[f] = fio
	return fio
}

func (fio *filterIO) defaultInstanceName() string {
	if fio.reg.DefaultInstanceName != "" {
		return fio.reg.DefaultInstanceName
	}
	return fio.f.name + " Instance"
}

// ---- volumes ----

// AddVolume mounts v (R-IO-VOL-1): filters that started filtering attach to it
// automatically (InstanceSetup with FLTFL_INSTANCE_SETUP_AUTOMATIC_ATTACHMENT |
// FLTFL_INSTANCE_SETUP_NEWLY_MOUNTED_VOLUME) unless their instance flags suppress it. A
// second volume with the same drive letter is STATUS_OBJECT_NAME_COLLISION.
func (m *Manager) AddVolume(v *fsys.Volume) kernel.NTSTATUS {
	if v == nil {
		return kernel.STATUS_INVALID_PARAMETER
	}
	m.io.mu.Lock()
	for _, fv := range m.io.volumes {
		if fv.v == v || strings.EqualFold(fv.v.Name(), v.Name()) {
			m.io.mu.Unlock()
			return kernel.STATUS_OBJECT_NAME_COLLISION
		}
	}
	fv := &fltVolume{m: m, v: v}
	fv.republish()
	m.io.volumes = append(m.io.volumes, fv)
	var started []*filterIO
	for _, fio := range m.io.filters {
		started = append(started, fio)
	}
	m.io.mu.Unlock()
	m.trace(kernel.TraceEvent{Kind: kernel.EvVolumeMounted, Detail: fmt.Sprintf("%s %s %s sector %d %s", v.Name(), v.DeviceName(), v.Kind(), v.SectorSize(), v.FileSystem())})
	sort.Slice(started, func(a, b int) bool { return started[a].f.name < started[b].f.name })
	for _, fio := range started {
		m.autoAttach(fio, fv, driverapi.FLTFL_INSTANCE_SETUP_AUTOMATIC_ATTACHMENT|driverapi.FLTFL_INSTANCE_SETUP_NEWLY_MOUNTED_VOLUME)
	}
	return kernel.STATUS_SUCCESS
}

// NextLocalDeviceName returns the device name the next local volume should get:
// \Device\HarddiskVolume1, 2, ...
func (m *Manager) NextLocalDeviceName() string {
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	m.io.nextDisk++
	return fmt.Sprintf(`\Device\HarddiskVolume%d`, m.io.nextDisk)
}

// Volumes lists the mounted volumes in mount order.
func (m *Manager) Volumes() []*fsys.Volume {
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	out := make([]*fsys.Volume, len(m.io.volumes))
	for i, fv := range m.io.volumes {
		out[i] = fv.v
	}
	return out
}

// Volume finds a mounted volume by drive letter ("C:", "c:", "C:\") or device name.
func (m *Manager) Volume(name string) (*fsys.Volume, bool) {
	fv := m.findVolume(name)
	if fv == nil {
		return nil, false
	}
	return fv.v, true
}

func (m *Manager) findVolume(name string) *fltVolume {
	n := strings.TrimSuffix(name, `\`)
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	for _, fv := range m.io.volumes {
		if strings.EqualFold(fv.v.Name(), n) {
			return fv
		}
	}
	for _, fv := range m.io.volumes {
		if strings.EqualFold(fv.v.DeviceName(), n) {
			return fv
		}
	}
	return nil
}

func (m *Manager) volumeOf(v *fsys.Volume) *fltVolume {
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	for _, fv := range m.io.volumes {
		if fv.v == v {
			return fv
		}
	}
	return nil
}

func (m *Manager) volumeSnapshot() []*fltVolume {
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	return append([]*fltVolume(nil), m.io.volumes...)
}

// ---- attach ----

// attachAtStart is called by StartFiltering once the filter is marked started: it attaches
// the filter to every mounted volume (R-IO-INST-2), unless the instance flags suppress
// automatic attachment or the registration has no altitude.
func (m *Manager) attachAtStart(f *filter) {
	fio := m.filterIO(f)
	fio.mu.Lock()
	fio.started = true
	fio.mu.Unlock()
	for _, fv := range m.volumeSnapshot() {
		m.autoAttach(fio, fv, driverapi.FLTFL_INSTANCE_SETUP_AUTOMATIC_ATTACHMENT)
	}
}

func (m *Manager) autoAttach(fio *filterIO, fv *fltVolume, flags driverapi.InstanceSetupFlags) {
	fio.mu.Lock()
	ok := fio.started && !fio.gone
	fio.mu.Unlock()
	if !ok || fio.reg.Altitude == "" || fio.reg.InstanceFlags&driverapi.InstanceFlagNoAutomaticAttach != 0 {
		return
	}
	m.attach(fio, fv, fio.reg.Altitude, fio.defaultInstanceName(), flags)
}

// attach creates an instance (R-IO-INST-1): it checks the name and altitude against the
// volume's other instances (STATUS_FLT_INSTANCE_NAME_COLLISION,
// STATUS_FLT_INSTANCE_ALTITUDE_COLLISION), calls InstanceSetup, and on success puts the
// instance in the volume's stack. A refusal frees what the setup callback set (its instance
// context) without calling the teardown callbacks.
func (m *Manager) attach(fio *filterIO, fv *fltVolume, altitude, name string, flags driverapi.InstanceSetupFlags) (*instance, kernel.NTSTATUS) {
	alt, ok := parseAltitude(altitude)
	if !ok || name == "" {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	inst := &instance{fio: fio, vol: fv, name: name, altitude: altitude, alt: alt, state: instAttaching,
		posts: map[*postEntry]struct{}{}, pends: map[*ioOp]struct{}{},
		shCtx: map[*fsys.FileObject]*fltContext{}, sCtx: map[*fsys.Stream]*fltContext{}}
	fail := func(st kernel.NTSTATUS, why string) (*instance, kernel.NTSTATUS) {
		m.trace(kernel.TraceEvent{Kind: kernel.EvInstanceAttached, Driver: fio.f.name,
			Detail: fmt.Sprintf("%q on %s at %s: %s", name, fv.v.Name(), altitude, why)}.WithStatus(st))
		return nil, st
	}
	m.io.mu.Lock()
	fio.mu.Lock()
	gone, started := fio.gone, fio.started
	fio.mu.Unlock()
	if gone {
		m.io.mu.Unlock()
		return fail(kernel.STATUS_FLT_DELETING_OBJECT, "filter is unregistering")
	}
	if !started {
		m.io.mu.Unlock()
		return fail(kernel.STATUS_FLT_NOT_INITIALIZED, "filter has not started filtering")
	}
	for _, o := range fv.all {
		if o.fio == fio && strings.EqualFold(o.name, name) {
			m.io.mu.Unlock()
			return fail(kernel.STATUS_FLT_INSTANCE_NAME_COLLISION, "instance name in use")
		}
		if o.alt == alt {
			m.io.mu.Unlock()
			return fail(kernel.STATUS_FLT_INSTANCE_ALTITUDE_COLLISION, fmt.Sprintf("altitude taken by %q of %q", o.name, o.fio.f.name))
		}
	}
	fv.all = append(fv.all, inst)
	m.io.mu.Unlock()

	st := kernel.STATUS_SUCCESS
	if cb := fio.reg.InstanceSetup; cb != nil {
		objs := &driverapi.RelatedObjects{Filter: fio.f, Volume: fv, Instance: inst}
		st = cb(objs, flags, fsys.DeviceType(fv.v.DeviceType()), filesystemType(fv.v.FileSystem()))
	}

	m.io.mu.Lock()
	fio.mu.Lock()
	gone = fio.gone
	if st.IsSuccess() && !gone {
		inst.mu.Lock()
		inst.state = instAttached
		inst.mu.Unlock()
		fio.instances = append(fio.instances, inst)
	}
	fio.mu.Unlock()
	if !st.IsSuccess() || gone {
		fv.all = removeInstance(fv.all, inst)
	}
	fv.republish()
	m.io.mu.Unlock()

	if !st.IsSuccess() || gone {
		inst.mu.Lock()
		inst.state = instGone
		inst.mu.Unlock()
		m.freeInstanceContexts(inst)
		if gone {
			return fail(kernel.STATUS_FLT_DELETING_OBJECT, "filter unregistered during InstanceSetup")
		}
		return fail(st, "InstanceSetup refused")
	}
	m.trace(kernel.TraceEvent{Kind: kernel.EvInstanceAttached, Driver: fio.f.name,
		Detail: fmt.Sprintf("%q on %s at %s", name, fv.v.Name(), altitude)}.WithStatus(kernel.STATUS_SUCCESS))
	return inst, kernel.STATUS_SUCCESS
}

func removeInstance(l []*instance, i *instance) []*instance {
	out := l[:0:0]
	for _, x := range l {
		if x != i {
			out = append(out, x)
		}
	}
	return out
}

func filesystemType(name string) driverapi.FilesystemType {
	switch strings.ToUpper(name) {
	case "NTFS":
		return driverapi.FLT_FSTYPE_NTFS
	case "FAT", "FAT32":
		return driverapi.FLT_FSTYPE_FAT
	case "EXFAT":
		return driverapi.FLT_FSTYPE_EXFAT
	case "REFS":
		return driverapi.FLT_FSTYPE_REFS
	case "CDFS":
		return driverapi.FLT_FSTYPE_CDFS
	case "UDFS":
		return driverapi.FLT_FSTYPE_UDFS
	case "MUP":
		return driverapi.FLT_FSTYPE_MUP
	case "LANMAN":
		return driverapi.FLT_FSTYPE_LANMAN
	case "NFS":
		return driverapi.FLT_FSTYPE_NFS
	case "WEBDAV":
		return driverapi.FLT_FSTYPE_WEBDAV
	case "RAW":
		return driverapi.FLT_FSTYPE_RAW
	case "CSVFS":
		return driverapi.FLT_FSTYPE_CSVFS
	}
	return driverapi.FLT_FSTYPE_UNKNOWN
}

// findFilter returns the I/O state of the named, registered filter.
func (m *Manager) findFilter(name string) (*filterIO, bool) {
	m.mu.Lock()
	ld, ok := m.drivers[strings.ToUpper(name)]
	var f *filter
	if ok && (ld.state == driverLoaded || ld.state == driverLoading) {
		f = ld.filter
	}
	m.mu.Unlock()
	if f == nil || f.isUnregistered() {
		return nil, false
	}
	return m.filterIO(f), true
}

// AttachFilter is the kernel half of FilterAttach and FilterAttachAtAltitude (R-IO-INST-3):
// it attaches the named filter to the named volume ("C:", `\Device\HarddiskVolume1`) as
// instance instanceName ("" for the default instance) at altitude ("" for the registration's)
// and returns the instance's name. The caller must be an administrator or SYSTEM, else
// STATUS_ACCESS_DENIED. Errors: STATUS_FLT_FILTER_NOT_FOUND, STATUS_FLT_VOLUME_NOT_FOUND,
// STATUS_FLT_INSTANCE_NAME_COLLISION, STATUS_FLT_INSTANCE_ALTITUDE_COLLISION,
// STATUS_FLT_DO_NOT_ATTACH (manual attachment suppressed, or no altitude known), or the
// status InstanceSetup refused with.
func (m *Manager) AttachFilter(proc *kernel.Process, filterName, volumeName, altitude, instanceName string) (string, kernel.NTSTATUS) {
	if !isAdmin(proc) {
		return "", kernel.STATUS_ACCESS_DENIED
	}
	fio, ok := m.findFilter(filterName)
	if !ok {
		return "", kernel.STATUS_FLT_FILTER_NOT_FOUND
	}
	fv := m.findVolume(volumeName)
	if fv == nil {
		return "", kernel.STATUS_FLT_VOLUME_NOT_FOUND
	}
	if fio.reg.InstanceFlags&driverapi.InstanceFlagNoManualAttach != 0 {
		return "", kernel.STATUS_FLT_DO_NOT_ATTACH
	}
	if altitude == "" {
		altitude = fio.reg.Altitude
		if altitude == "" {
			return "", kernel.STATUS_FLT_DO_NOT_ATTACH
		}
	} else if _, ok := parseAltitude(altitude); !ok {
		return "", kernel.STATUS_INVALID_PARAMETER
	}
	if instanceName == "" {
		instanceName = fio.defaultInstanceName()
	}
	inst, st := m.attach(fio, fv, altitude, instanceName, driverapi.FLTFL_INSTANCE_SETUP_MANUAL_ATTACHMENT)
	if st != kernel.STATUS_SUCCESS {
		return "", st
	}
	return inst.name, st
}

// DetachFilter is the kernel half of FilterDetach (R-IO-INST-4): it asks the instance's
// InstanceQueryTeardown (none registered: STATUS_FLT_DO_NOT_DETACH) and tears the instance
// down. Errors: STATUS_ACCESS_DENIED for a caller that is not an administrator,
// STATUS_FLT_FILTER_NOT_FOUND, STATUS_FLT_VOLUME_NOT_FOUND, STATUS_FLT_INSTANCE_NOT_FOUND, or
// the query's refusal.
func (m *Manager) DetachFilter(proc *kernel.Process, filterName, volumeName, instanceName string) kernel.NTSTATUS {
	if !isAdmin(proc) {
		return kernel.STATUS_ACCESS_DENIED
	}
	fio, ok := m.findFilter(filterName)
	if !ok {
		return kernel.STATUS_FLT_FILTER_NOT_FOUND
	}
	fv := m.findVolume(volumeName)
	if fv == nil {
		return kernel.STATUS_FLT_VOLUME_NOT_FOUND
	}
	return m.detach(fio, fv, instanceName)
}

func (m *Manager) detach(fio *filterIO, fv *fltVolume, instanceName string) kernel.NTSTATUS {
	if instanceName == "" {
		instanceName = fio.defaultInstanceName()
	}
	var inst *instance
	fio.mu.Lock()
	for _, i := range fio.instances {
		if i.vol == fv && strings.EqualFold(i.name, instanceName) {
			inst = i
		}
	}
	fio.mu.Unlock()
	if inst == nil {
		return kernel.STATUS_FLT_INSTANCE_NOT_FOUND
	}
	cb := fio.reg.InstanceQueryTeardown
	if cb == nil {
		return kernel.STATUS_FLT_DO_NOT_DETACH
	}
	if !inst.enter() {
		return kernel.STATUS_FLT_INSTANCE_NOT_FOUND
	}
	st := cb(&driverapi.RelatedObjects{Filter: fio.f, Volume: fv, Instance: inst}, 0)
	inst.leave()
	if !st.IsSuccess() {
		m.trace(kernel.TraceEvent{Kind: kernel.EvInstanceDetached, Driver: fio.f.name,
			Detail: fmt.Sprintf("%q on %s: InstanceQueryTeardown refused", inst.name, fv.v.Name())}.WithStatus(st))
		return st
	}
	m.teardownInstance(inst, driverapi.FLTFL_INSTANCE_TEARDOWN_MANUAL)
	return kernel.STATUS_SUCCESS
}

func isAdmin(p *kernel.Process) bool {
	if p == nil {
		return true // a kernel caller
	}
	tok := p.Token()
	return tok != nil && (tok.User().String() == kernel.SIDLocalSystem().String() || tok.IsMember(kernel.SIDAdministrators(), false))
}

// Instances lists the attached instances of a volume, highest altitude first, as
// "driver/instance@altitude" strings, for tests and traces.
func (m *Manager) Instances(volumeName string) []string {
	fv := m.findVolume(volumeName)
	if fv == nil {
		return nil
	}
	var out []string
	for _, i := range fv.list() {
		out = append(out, fmt.Sprintf("%s/%s@%s", i.fio.f.name, i.name, i.altitude))
	}
	return out
}

// ---- running callbacks on an instance ----

// enter registers a callback about to run on the instance; false if the instance is not
// attached.
func (i *instance) enter() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.state != instAttached {
		return false
	}
	i.active++
	return true
}

func (i *instance) leave() {
	i.mu.Lock()
	i.active--
	if i.active == 0 && i.idle != nil {
		close(i.idle)
		i.idle = nil
	}
	i.mu.Unlock()
}

// ---- teardown ----

// teardownInstance tears an instance down (R-IO-INST-5): no new operation enters it;
// InstanceTeardownStart runs; callbacks in flight finish; post-operation callbacks still
// owed are called with FLTFL_POST_OPERATION_DRAINING; operations the filter pended and did
// not complete are reported (R-IO-VERIFY-7) and completed with STATUS_CANCELLED;
// InstanceTeardownComplete runs; then the instance's contexts are deleted (their cleanup
// callbacks run when their last reference goes).
func (m *Manager) teardownInstance(inst *instance, reason driverapi.InstanceTeardownFlags) {
	fio, fv := inst.fio, inst.vol
	inst.mu.Lock()
	if inst.state != instAttached {
		inst.mu.Unlock()
		return
	}
	inst.state = instTearingDown
	inst.mu.Unlock()
	m.io.mu.Lock()
	fv.republish()
	m.io.mu.Unlock()

	objs := &driverapi.RelatedObjects{Filter: fio.f, Volume: fv, Instance: inst}
	if cb := fio.reg.InstanceTeardownStart; cb != nil {
		cb(objs, reason)
	}
	for {
		inst.mu.Lock()
		if inst.active > 0 {
			ch := make(chan struct{})
			inst.idle = ch
			inst.mu.Unlock()
			<-ch
			continue
		}
		if len(inst.posts) == 0 && len(inst.pends) == 0 {
			inst.state = instGone
			inst.mu.Unlock()
			break
		}
		posts := make([]*postEntry, 0, len(inst.posts))
		for p := range inst.posts {
			posts = append(posts, p)
		}
		pends := make([]*ioOp, 0, len(inst.pends))
		for o := range inst.pends {
			pends = append(pends, o)
		}
		clear(inst.posts)
		clear(inst.pends)
		inst.active++
		inst.mu.Unlock()
		sort.Slice(posts, func(a, b int) bool { return posts[a].seq < posts[b].seq })
		sort.Slice(pends, func(a, b int) bool { return pends[a].seq < pends[b].seq })
		for _, o := range pends {
			if o.forceComplete() {
				m.violation(kernel.Violation{Rule: kernel.RuleIOVerify7, Driver: fio.f.name, Object: inst.String(),
					Message: fmt.Sprintf("%v on %s was still pended by the filter when its instance was torn down; the emulator completed it", o.major, o.foName()),
					Windows: "instance teardown waits for the pended operation forever"})
			}
		}
		for _, p := range posts {
			p.call(driverapi.FLTFL_POST_OPERATION_DRAINING)
		}
		inst.leave()
	}
	if cb := fio.reg.InstanceTeardownComplete; cb != nil {
		cb(objs, reason)
	}
	m.io.mu.Lock()
	fv.all = removeInstance(fv.all, inst)
	fv.republish()
	m.io.mu.Unlock()
	fio.mu.Lock()
	for k, x := range fio.instances {
		if x == inst {
			fio.instances = append(fio.instances[:k:k], fio.instances[k+1:]...)
			break
		}
	}
	fio.mu.Unlock()
	m.freeInstanceContexts(inst)
	inst.mu.Lock()
	refs := inst.refs
	inst.mu.Unlock()
	if refs > 0 {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify9, Driver: fio.f.name, Object: inst.String(),
			Message: fmt.Sprintf("%d FltObjectReference reference(s) to the instance were never released", refs),
			Windows: "instance teardown waits for the references forever"})
	}
	m.trace(kernel.TraceEvent{Kind: kernel.EvInstanceDetached, Driver: fio.f.name,
		Detail: fmt.Sprintf("%q on %s (%s)", inst.name, fv.v.Name(), teardownReason(reason))})
}

func teardownReason(r driverapi.InstanceTeardownFlags) string {
	switch r {
	case driverapi.FLTFL_INSTANCE_TEARDOWN_MANUAL:
		return "manual detach"
	case driverapi.FLTFL_INSTANCE_TEARDOWN_FILTER_UNLOAD:
		return "filter unload"
	case driverapi.FLTFL_INSTANCE_TEARDOWN_MANDATORY_FILTER_UNLOAD:
		return "mandatory filter unload"
	case driverapi.FLTFL_INSTANCE_TEARDOWN_VOLUME_DISMOUNT:
		return "volume dismount"
	}
	return fmt.Sprintf("reason %#x", uint32(r))
}

// unregisterIO is FltUnregisterFilter's I/O part, run after the filter's connections ended
// (R-IO-TEARDOWN-1): every instance is torn down; then the verifier reports contexts the
// filter still holds references to (FltUnregisterFilter would wait for them forever), file
// name information it never released, and references to the filter itself. report is false
// for a teardown at shutdown or after a failed DriverEntry that is already reported.
func (m *Manager) unregisterIO(f *filter, report bool) {
	m.io.mu.Lock()
	fio := m.io.filters[f]
	m.io.mu.Unlock()
	if fio == nil {
		return
	}
	fio.mu.Lock()
	fio.gone = true
	insts := append([]*instance(nil), fio.instances...)
	fio.mu.Unlock()
	for _, inst := range insts {
		m.teardownInstance(inst, driverapi.FLTFL_INSTANCE_TEARDOWN_FILTER_UNLOAD)
	}
	fio.mu.Lock()
	live := make([]*fltContext, 0, len(fio.contexts))
	for c := range fio.contexts {
		live = append(live, c)
	}
	refs := fio.refs
	fio.mu.Unlock()
	sort.Slice(live, func(a, b int) bool { return live[a].id < live[b].id })
	for _, c := range live {
		if report {
			m.violation(kernel.Violation{Rule: kernel.RuleIOVerify8, Driver: f.name, Object: c.String(),
				Message: fmt.Sprintf("the context still had %d reference(s) when the filter unregistered (a FltReleaseContext is missing)", c.refs.Load()),
				Windows: "FltUnregisterFilter waits forever for the context to be released"})
		}
	}
	for _, n := range m.namesOf(fio) {
		if report {
			m.violation(kernel.Violation{Rule: kernel.RuleIOVerify9, Driver: f.name, Object: "file name information " + n,
				Message: "FltGetFileNameInformation result never released with FltReleaseFileNameInformation",
				Windows: "the name information and its name cache entry leak"})
		}
	}
	if refs > 0 && report {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify9, Driver: f.name, Object: "filter",
			Message: fmt.Sprintf("%d FltObjectReference reference(s) to the filter were never released", refs),
			Windows: "FltUnregisterFilter waits for the references forever"})
	}
	m.io.mu.Lock()
	delete(m.io.filters, f)
	m.io.mu.Unlock()
}
