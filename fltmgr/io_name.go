package fltmgr

import (
	"sort"
	"strings"

	"github.com/fltemu/fltemu/fsys"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

// nameRef counts the references to a FLT_FILE_NAME_INFORMATION a filter got.
type nameRef struct {
	fio  *filterIO
	refs int
}

// getFileNameInformation emulates FltGetFileNameInformation (R-IO-NAME-1) for the operation's
// target file object, as the instance the callback data is at sees it. Formats:
// FLT_FILE_NAME_NORMALIZED (the file's current path with the case the file system stores,
// following renames, without `::$DATA`) and FLT_FILE_NAME_OPENED (the name the open used);
// FLT_FILE_NAME_SHORT is STATUS_NOT_SUPPORTED (the emulated volumes have no 8.3 names). In a
// pre-create the normalized name is that of the name being opened (a missing parent
// directory: STATUS_OBJECT_PATH_NOT_FOUND). Names cannot be queried in IRP_MJ_CLOSE
// (STATUS_FLT_INVALID_NAME_REQUEST). There is no name cache: every query method asks the file
// system. The result must be released with ReleaseFileNameInformation (R-IO-VERIFY-9).
func (m *Manager) getFileNameInformation(data *driverapi.CallbackData, nameOptions uint32) (*driverapi.FltFileNameInformation, kernel.NTSTATUS) {
	if data == nil || data.Iopb == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	inst, ok := m.asInstance(data.Iopb.TargetInstance)
	if !ok || data.Iopb.TargetFileObject == nil {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	m.checkIRQL("FltGetFileNameInformation", maxIRQLFileNameInformation, inst.fio.f.name)
	if data.Iopb.MajorFunction == driverapi.IRP_MJ_CLOSE {
		return nil, kernel.STATUS_FLT_INVALID_NAME_REQUEST
	}
	return m.nameInfo(inst, data.Iopb.TargetFileObject, nameOptions)
}

// getFileNameInformationUnsafe emulates FltGetFileNameInformationUnsafe: the same, for a
// file object and instance outside an operation.
func (m *Manager) getFileNameInformationUnsafe(fileObject *fsys.FileObject, instance driverapi.Instance, nameOptions uint32) (*driverapi.FltFileNameInformation, kernel.NTSTATUS) {
	inst, ok := m.asInstance(instance)
	if !ok || fileObject == nil || fileObject.Volume() != inst.vol.v {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	m.checkIRQL("FltGetFileNameInformationUnsafe", maxIRQLFileNameInformation, inst.fio.f.name)
	return m.nameInfo(inst, fileObject, nameOptions)
}

func (m *Manager) nameInfo(inst *instance, fo *fsys.FileObject, opts uint32) (*driverapi.FltFileNameInformation, kernel.NTSTATUS) {
	format := opts & 0xFF
	method := opts & 0xFF00
	if method == 0 || method > driverapi.FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP ||
		opts&^uint32(0x0700FFFF) != 0 {
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	var path string
	switch format {
	case driverapi.FLT_FILE_NAME_NORMALIZED:
		p, st := fo.Path()
		if st != kernel.STATUS_SUCCESS {
			return nil, st
		}
		path = p
	case driverapi.FLT_FILE_NAME_OPENED:
		path = fo.FileName
		if len(path) > 1 {
			path = strings.TrimSuffix(path, `\`)
		}
		if path == "" {
			path = `\`
		}
	case driverapi.FLT_FILE_NAME_SHORT:
		return nil, kernel.STATUS_NOT_SUPPORTED
	default:
		return nil, kernel.STATUS_INVALID_PARAMETER
	}
	v := fo.Volume()
	info := &driverapi.FltFileNameInformation{Format: format, Volume: v.DeviceName(), Name: v.DeviceName() + v.Share() + path}
	m.io.mu.Lock()
	if m.io.names == nil {
		m.io.names = make(map[*driverapi.FltFileNameInformation]*nameRef)
	}
	m.io.names[info] = &nameRef{fio: inst.fio, refs: 1}
	m.io.mu.Unlock()
	return info, kernel.STATUS_SUCCESS
}

// referenceFileNameInformation emulates FltReferenceFileNameInformation.
func (m *Manager) referenceFileNameInformation(info *driverapi.FltFileNameInformation) {
	m.io.mu.Lock()
	r := m.io.names[info]
	if r != nil {
		r.refs++
	}
	m.io.mu.Unlock()
	if r == nil {
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify9, Driver: "?", Object: "file name information",
			Message: "FltReferenceFileNameInformation on name information that is not live (released, or not from FltGetFileNameInformation)",
			Windows: "use after free: a bugcheck"})
	}
}

// releaseFileNameInformation emulates FltReleaseFileNameInformation. Releasing more often
// than referenced is reported (R-IO-VERIFY-9).
func (m *Manager) releaseFileNameInformation(info *driverapi.FltFileNameInformation) {
	m.io.mu.Lock()
	r := m.io.names[info]
	if r != nil {
		r.refs--
		if r.refs == 0 {
			delete(m.io.names, info)
		}
	}
	m.io.mu.Unlock()
	if r == nil {
		name := ""
		if info != nil {
			name = info.Name
		}
		m.violation(kernel.Violation{Rule: kernel.RuleIOVerify9, Driver: "?", Object: "file name information " + name,
			Message: "FltReleaseFileNameInformation on name information already released (or not from FltGetFileNameInformation)",
			Windows: "a double free: a bugcheck"})
	}
}

// namesOf lists the names a filter still holds, sorted, and forgets them.
func (m *Manager) namesOf(fio *filterIO) []string {
	m.io.mu.Lock()
	defer m.io.mu.Unlock()
	var out []string
	for info, r := range m.io.names {
		if r.fio == fio {
			out = append(out, info.Name)
			delete(m.io.names, info)
		}
	}
	sort.Strings(out)
	return out
}

// parseFileNameInformation emulates FltParseFileNameInformation (R-IO-NAME-2): it fills
// Share (network volumes), ParentDir, FinalComponent, Extension and Stream from Name and
// Volume, and sets NamesParsed.
func (m *Manager) parseFileNameInformation(info *driverapi.FltFileNameInformation) kernel.NTSTATUS {
	if info == nil || !strings.HasPrefix(info.Name, info.Volume) || info.Volume == "" {
		return kernel.STATUS_INVALID_PARAMETER
	}
	rest := info.Name[len(info.Volume):]
	info.Share = ""
	if strings.EqualFold(info.Volume, `\Device\Mup`) {
		// \server\share\path...
		parts := strings.SplitN(rest, `\`, 4)
		if len(parts) >= 3 {
			info.Share = `\` + parts[1] + `\` + parts[2]
			rest = rest[len(info.Share):]
		}
	}
	if rest == "" {
		rest = `\`
	}
	i := strings.LastIndexByte(rest, '\\')
	info.ParentDir = rest[:i+1]
	info.FinalComponent = rest[i+1:]
	base := info.FinalComponent
	info.Stream = ""
	if j := strings.IndexByte(base, ':'); j >= 0 {
		info.Stream = base[j:]
		base = base[:j]
	}
	info.Extension = ""
	if j := strings.LastIndexByte(base, '.'); j >= 0 {
		info.Extension = base[j+1:]
	}
	info.NamesParsed = driverapi.FLTFL_FILE_NAME_PARSED_FINAL_COMPONENT | driverapi.FLTFL_FILE_NAME_PARSED_EXTENSION |
		driverapi.FLTFL_FILE_NAME_PARSED_STREAM | driverapi.FLTFL_FILE_NAME_PARSED_PARENT_DIR
	return kernel.STATUS_SUCCESS
}
