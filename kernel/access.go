package kernel

import "fmt"

// This file holds access masks, generic mappings and the access check (SeAccessCheck).
//
// # The access check
//
// [AccessCheck] follows the algorithm of [MS-DTYP] 2.5.3.2 (EvaluateTokenAgainstDescriptor) and
// 2.5.3.3 (MandatoryIntegrityCheck), with the order-sensitive MAXIMUM_ALLOWED walk the Windows
// kernel uses. Decisions and simplifications (also stated on the functions):
//
//   - Generic bits are mapped in the desired mask and in every ACE mask. Windows maps ACE masks
//     when a descriptor is assigned to an object; mapping them at check time has the same effect
//     and lets SDDL such as "(A;;GA;;;BU)" work on a descriptor built by hand.
//   - Mandatory integrity runs first. Every token has the Windows default token policy
//     TOKEN_MANDATORY_POLICY_NO_WRITE_UP. A token whose integrity level is lower than the
//     object's label (no label: Medium with NO_WRITE_UP) may only receive the rights in the
//     mapping's GenericRead and GenericExecute, minus GenericRead under NO_READ_UP and minus
//     GenericExecute under NO_EXECUTE_UP (MS-DTYP 2.5.3.3). A right that sits in several classes
//     (READ_CONTROL, SYNCHRONIZE, FLT_PORT_CONNECT) is allowed when any unrestricted class holds
//     it. SeRelabelPrivilege adds WRITE_OWNER. ACCESS_SYSTEM_SECURITY is governed by
//     SeSecurityPrivilege alone. A token at or above the label's level is not restricted.
//   - Ports: [PortGenericMapping] is the real FilterConnectionPort mapping, in which
//     FLT_PORT_CONNECT belongs to GenericRead as well as GenericWrite. So a Low-integrity
//     process CAN connect to a port with the default (Medium, NO_WRITE_UP) label when the DACL
//     grants it FLT_PORT_CONNECT, but not with FLT_PORT_ALL_ACCESS, and not at all when the
//     label adds NO_READ_UP ("S:(ML;;NWNR;;;ME)") or is High/System with NO_WRITE_UP|NO_READ_UP.
//   - A desired mask of 0 (no MAXIMUM_ALLOWED) is denied: SeAccessCheck with nothing desired
//     and nothing previously granted has "nothing to give" and fails with STATUS_ACCESS_DENIED.
//   - ACCESS_SYSTEM_SECURITY without an enabled SeSecurityPrivilege fails with
//     STATUS_PRIVILEGE_NOT_HELD (what CreateFile reports as ERROR_PRIVILEGE_NOT_HELD).
//   - The owner is the token user or any enabled group (not deny-only) equal to sd.Owner, as
//     MS-DTYP's SidInToken(Owner) says; the SE_GROUP_OWNER attribute is not required.
//   - Only ACCESS_ALLOWED and ACCESS_DENIED ACEs are supported in a DACL; object, callback and
//     conditional ACEs are not modelled. An invalid descriptor (see
//     [SecurityDescriptor.Validate]) gives STATUS_INVALID_PARAMETER.

// AccessMask is an ACCESS_MASK: the rights asked for or granted on an object.
type AccessMask uint32

// Standard, generic and special access rights (winnt.h).
const (
	DELETE                   AccessMask = 0x00010000
	READ_CONTROL             AccessMask = 0x00020000
	WRITE_DAC                AccessMask = 0x00040000
	WRITE_OWNER              AccessMask = 0x00080000
	SYNCHRONIZE              AccessMask = 0x00100000
	STANDARD_RIGHTS_REQUIRED AccessMask = 0x000F0000
	STANDARD_RIGHTS_READ     AccessMask = READ_CONTROL
	STANDARD_RIGHTS_WRITE    AccessMask = READ_CONTROL
	STANDARD_RIGHTS_EXECUTE  AccessMask = READ_CONTROL
	STANDARD_RIGHTS_ALL      AccessMask = 0x001F0000
	SPECIFIC_RIGHTS_ALL      AccessMask = 0x0000FFFF
	ACCESS_SYSTEM_SECURITY   AccessMask = 0x01000000
	MAXIMUM_ALLOWED          AccessMask = 0x02000000
	GENERIC_ALL              AccessMask = 0x10000000
	GENERIC_EXECUTE          AccessMask = 0x20000000
	GENERIC_WRITE            AccessMask = 0x40000000
	GENERIC_READ             AccessMask = 0x80000000

	// seGenericBits are the four generic rights.
	seGenericBits = GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ
)

// Communication port rights (fltkernel.h).
const (
	FLT_PORT_CONNECT    AccessMask = 0x0001
	FLT_PORT_ALL_ACCESS AccessMask = FLT_PORT_CONNECT | STANDARD_RIGHTS_ALL // 0x001F0001
)

// File rights (winnt.h).
const (
	FILE_READ_DATA        AccessMask = 0x0001
	FILE_LIST_DIRECTORY   AccessMask = 0x0001
	FILE_WRITE_DATA       AccessMask = 0x0002
	FILE_ADD_FILE         AccessMask = 0x0002
	FILE_APPEND_DATA      AccessMask = 0x0004
	FILE_ADD_SUBDIRECTORY AccessMask = 0x0004
	FILE_READ_EA          AccessMask = 0x0008
	FILE_WRITE_EA         AccessMask = 0x0010
	FILE_EXECUTE          AccessMask = 0x0020
	FILE_TRAVERSE         AccessMask = 0x0020
	FILE_DELETE_CHILD     AccessMask = 0x0040
	FILE_READ_ATTRIBUTES  AccessMask = 0x0080
	FILE_WRITE_ATTRIBUTES AccessMask = 0x0100

	// FILE_ALL_ACCESS is 0x001F01FF.
	FILE_ALL_ACCESS AccessMask = STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF
	// FILE_GENERIC_READ is 0x00120089.
	FILE_GENERIC_READ AccessMask = STANDARD_RIGHTS_READ | FILE_READ_DATA | FILE_READ_ATTRIBUTES |
		FILE_READ_EA | SYNCHRONIZE
	// FILE_GENERIC_WRITE is 0x00120116.
	FILE_GENERIC_WRITE AccessMask = STANDARD_RIGHTS_WRITE | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES |
		FILE_WRITE_EA | FILE_APPEND_DATA | SYNCHRONIZE
	// FILE_GENERIC_EXECUTE is 0x001200A0.
	FILE_GENERIC_EXECUTE AccessMask = STANDARD_RIGHTS_EXECUTE | FILE_READ_ATTRIBUTES | FILE_EXECUTE |
		SYNCHRONIZE
)

// Registry key rights used by the SDDL KA/KR/KW/KX codes (winnt.h).
const (
	KEY_ALL_ACCESS AccessMask = 0x000F003F
	KEY_READ       AccessMask = 0x00020019
	KEY_WRITE      AccessMask = 0x00020006
	KEY_EXECUTE    AccessMask = 0x00020019
)

// String prints the mask as 0x%08X.
func (m AccessMask) String() string { return fmt.Sprintf("0x%08X", uint32(m)) }

// GenericMapping is a GENERIC_MAPPING: what each generic right means for one object type.
type GenericMapping struct {
	GenericRead, GenericWrite, GenericExecute, GenericAll AccessMask
}

// Map emulates RtlMapGenericMask: each generic bit set in mask is replaced by the rights the
// mapping gives it; the other bits are kept.
func (m GenericMapping) Map(mask AccessMask) AccessMask {
	out := mask &^ seGenericBits
	if mask&GENERIC_READ != 0 {
		out |= m.GenericRead
	}
	if mask&GENERIC_WRITE != 0 {
		out |= m.GenericWrite
	}
	if mask&GENERIC_EXECUTE != 0 {
		out |= m.GenericExecute
	}
	if mask&GENERIC_ALL != 0 {
		out |= m.GenericAll
	}
	return out
}

// Validate reports whether m can be used in an access check: no field may hold a generic bit,
// and GenericAll must not be empty.
func (m GenericMapping) Validate() error {
	for _, f := range []struct {
		name string
		v    AccessMask
	}{{"GenericRead", m.GenericRead}, {"GenericWrite", m.GenericWrite}, {"GenericExecute", m.GenericExecute}, {"GenericAll", m.GenericAll}} {
		if f.v&seGenericBits != 0 {
			return fmt.Errorf("kernel: generic mapping: %s (%v) contains generic rights", f.name, f.v)
		}
	}
	if m.GenericAll == 0 {
		return fmt.Errorf("kernel: generic mapping: GenericAll is empty")
	}
	return nil
}

// PortGenericMapping returns the generic mapping of the FilterConnectionPort object type, the
// type of a minifilter communication server port:
//
//	GenericRead    = READ_CONTROL | FLT_PORT_CONNECT   (0x00020001)
//	GenericWrite   = DELETE | FLT_PORT_CONNECT         (0x00010001)
//	GenericExecute = 0
//	GenericAll     = FLT_PORT_ALL_ACCESS               (0x001F0001)
//
// These are the values Windows registers for the type (the same as the LPC "Port" type), as
// recorded by the ReactOS kernel-mode test suite's ObTypes test, which checks the object types
// of a real Windows kernel. Consequence for integrity checks: FLT_PORT_CONNECT is a read-class
// right as well as a write-class one, so NO_WRITE_UP alone does not stop a lower-integrity
// caller from connecting; NO_READ_UP does.
func PortGenericMapping() GenericMapping {
	return GenericMapping{
		GenericRead:    READ_CONTROL | FLT_PORT_CONNECT,
		GenericWrite:   DELETE | FLT_PORT_CONNECT,
		GenericExecute: 0,
		GenericAll:     FLT_PORT_ALL_ACCESS,
	}
}

// FileGenericMapping returns the generic mapping of the File object type: FILE_GENERIC_READ,
// FILE_GENERIC_WRITE, FILE_GENERIC_EXECUTE and FILE_ALL_ACCESS.
func FileGenericMapping() GenericMapping {
	return GenericMapping{
		GenericRead:    FILE_GENERIC_READ,
		GenericWrite:   FILE_GENERIC_WRITE,
		GenericExecute: FILE_GENERIC_EXECUTE,
		GenericAll:     FILE_ALL_ACCESS,
	}
}

// AccessCheck emulates SeAccessCheck (and the user-mode AccessCheck) for a primary token: it
// decides which of the desired rights tok gets on an object protected by sd, whose type has
// the given generic mapping. It returns the granted rights and STATUS_SUCCESS, or 0 and
// STATUS_ACCESS_DENIED. Other results: STATUS_PRIVILEGE_NOT_HELD when ACCESS_SYSTEM_SECURITY
// is asked for without an enabled SeSecurityPrivilege; STATUS_INVALID_PARAMETER for a nil sd
// or token, an invalid sd or an invalid mapping. A nil sd is a caller error; a non-nil sd with
// a nil DACL (a NULL DACL) grants every right.
//
// The steps, in order:
//  1. Generic bits in desired (and in ACE masks) are mapped through mapping. Desired 0 is denied.
//  2. ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege.
//  3. Mandatory integrity: see the file comment; a desired right outside the allowed set is
//     denied (with MAXIMUM_ALLOWED, the result is cut down to the allowed set). Privileges do
//     not lift it, except SeRelabelPrivilege for WRITE_OWNER.
//  4. WRITE_OWNER, when asked for explicitly, is granted by SeTakeOwnershipPrivilege. The
//     owner gets READ_CONTROL and WRITE_DAC unless the DACL has an effective OWNER RIGHTS (OW)
//     ACE; then the OW ACEs, which match the owner, decide instead.
//  5. NULL DACL: everything asked for (MAXIMUM_ALLOWED: mapping.GenericAll). Otherwise the ACEs
//     are walked in order, skipping INHERIT_ONLY ones. An allow ACE matches the user or an
//     enabled group; a deny ACE also matches deny-only groups. A deny ACE naming a right not
//     yet granted denies the whole request. For MAXIMUM_ALLOWED the walk collects: an allow
//     adds the rights not yet denied, a deny removes the rights not yet granted.
//  6. Anything still not granted: STATUS_ACCESS_DENIED. MAXIMUM_ALLOWED with nothing granted
//     is denied too.
func AccessCheck(sd *SecurityDescriptor, tok *Token, desired AccessMask, mapping GenericMapping) (AccessMask, NTSTATUS) {
	res := seAccessCheck(sd, tok, desired, mapping)
	return res.granted, res.status
}

// AccessCheckWithReason is [AccessCheck] that also says why, in one line for traces: "granted
// by ACE 1", "denied by ACE 0 (0x00000001 for BU)", "integrity: user (low integrity) at Low may
// not get 0x00010000", "NULL DACL", ….
func AccessCheckWithReason(sd *SecurityDescriptor, tok *Token, desired AccessMask, mapping GenericMapping) (AccessMask, NTSTATUS, string) {
	res := seAccessCheck(sd, tok, desired, mapping)
	return res.granted, res.status, res.reason
}

// seAccessResult is the outcome of an access check with the reason, for traces and tests.
type seAccessResult struct {
	granted AccessMask
	status  NTSTATUS
	reason  string
}

func seDenied(reason string) seAccessResult {
	return seAccessResult{status: STATUS_ACCESS_DENIED, reason: reason}
}

func seAccessCheck(sd *SecurityDescriptor, tok *Token, desired AccessMask, mapping GenericMapping) seAccessResult {
	if sd == nil || tok == nil {
		return seAccessResult{status: STATUS_INVALID_PARAMETER, reason: "nil security descriptor or token"}
	}
	if err := mapping.Validate(); err != nil {
		return seAccessResult{status: STATUS_INVALID_PARAMETER, reason: err.Error()}
	}
	if err := sd.Validate(); err != nil {
		return seAccessResult{status: STATUS_INVALID_PARAMETER, reason: err.Error()}
	}
	desired = mapping.Map(desired)
	if desired == 0 { // also a generic right the type maps to nothing (GENERIC_EXECUTE on a port)
		return seDenied("nothing desired")
	}
	maxAllowed := desired&MAXIMUM_ALLOWED != 0
	remaining := desired &^ MAXIMUM_ALLOWED
	var granted AccessMask

	// Privileges.
	if remaining&ACCESS_SYSTEM_SECURITY != 0 {
		if !tok.HasPrivilege(SE_SECURITY_NAME) {
			return seAccessResult{status: STATUS_PRIVILEGE_NOT_HELD, reason: "ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege"}
		}
		remaining &^= ACCESS_SYSTEM_SECURITY
		granted |= ACCESS_SYSTEM_SECURITY
	}

	// Mandatory integrity, before any right is handed out: privileges do not lift it (except
	// SeRelabelPrivilege, inside seMandatoryAllowed).
	allowed := seMandatoryAllowed(sd, tok, mapping)
	if !maxAllowed && remaining&^allowed != 0 {
		return seDenied(fmt.Sprintf("integrity: %v at %v may not get %v", tok.Name(), tok.IntegrityLevel(), remaining&^allowed))
	}

	if remaining&WRITE_OWNER != 0 && tok.HasPrivilege(SE_TAKE_OWNERSHIP_NAME) {
		remaining &^= WRITE_OWNER
		granted |= WRITE_OWNER
	}

	// The owner's implicit rights.
	isOwner := sd.Owner != nil && tok.IsMember(*sd.Owner, false)
	dacl := sd.DACL
	hasOwnerRights := dacl != nil && dacl.hasEffectiveSID(SIDOwnerRights())
	if isOwner && !hasOwnerRights {
		if maxAllowed {
			granted |= READ_CONTROL | WRITE_DAC
		} else {
			granted |= remaining & (READ_CONTROL | WRITE_DAC)
		}
		remaining &^= READ_CONTROL | WRITE_DAC
	}

	matches := func(ace ACE, forDeny bool) bool {
		if ace.SID == SIDOwnerRights() {
			return isOwner
		}
		return tok.IsMember(ace.SID, forDeny)
	}

	if maxAllowed {
		if dacl == nil {
			granted |= mapping.GenericAll | remaining
		} else {
			var deniedBits AccessMask
			for _, ace := range dacl.ACEs {
				if ace.Flags&INHERIT_ONLY_ACE != 0 {
					continue
				}
				mask := mapping.Map(ace.Mask)
				switch ace.Type {
				case ACCESS_ALLOWED_ACE_TYPE:
					if matches(ace, false) {
						granted |= mask &^ deniedBits
					}
				case ACCESS_DENIED_ACE_TYPE:
					if matches(ace, true) {
						deniedBits |= mask &^ granted
					}
				}
			}
		}
		granted &= allowed | ACCESS_SYSTEM_SECURITY
		// Every right named explicitly must survive, including one a privilege or ownership
		// granted above that the integrity cut just took away.
		if explicit := desired &^ MAXIMUM_ALLOWED; explicit&^granted != 0 {
			return seDenied(fmt.Sprintf("MAXIMUM_ALLOWED: %v not grantable", explicit&^granted))
		}
		if granted == 0 {
			return seDenied("MAXIMUM_ALLOWED: nothing grantable")
		}
		return seAccessResult{granted: granted, status: STATUS_SUCCESS, reason: "maximum allowed"}
	}

	if remaining == 0 {
		return seAccessResult{granted: granted, status: STATUS_SUCCESS, reason: "privileges/owner"}
	}
	if dacl == nil {
		return seAccessResult{granted: granted | remaining, status: STATUS_SUCCESS, reason: "NULL DACL"}
	}
	for i, ace := range dacl.ACEs {
		if ace.Flags&INHERIT_ONLY_ACE != 0 {
			continue
		}
		mask := mapping.Map(ace.Mask)
		switch ace.Type {
		case ACCESS_ALLOWED_ACE_TYPE:
			if matches(ace, false) {
				granted |= mask & remaining
				remaining &^= mask
				if remaining == 0 {
					return seAccessResult{granted: granted, status: STATUS_SUCCESS, reason: fmt.Sprintf("granted by ACE %d", i)}
				}
			}
		case ACCESS_DENIED_ACE_TYPE:
			if mask&remaining != 0 && matches(ace, true) {
				return seDenied(fmt.Sprintf("denied by ACE %d (%v for %v)", i, mask&remaining, ace.SID.sdString()))
			}
		}
	}
	return seDenied(fmt.Sprintf("%v not granted by the DACL", remaining))
}

// mandatoryAllowed returns the rights the integrity policy lets tok have on an object with
// sd's label (MS-DTYP 2.5.3.3).
func seMandatoryAllowed(sd *SecurityDescriptor, tok *Token, mapping GenericMapping) AccessMask {
	level, policy, _ := sd.MandatoryLabel()
	if tok.IntegrityLevel() >= level {
		return ^AccessMask(0)
	}
	generic := GENERIC_READ | GENERIC_EXECUTE // token policy NO_WRITE_UP: no GENERIC_WRITE
	if policy&SYSTEM_MANDATORY_LABEL_NO_READ_UP != 0 {
		generic &^= GENERIC_READ
	}
	if policy&SYSTEM_MANDATORY_LABEL_NO_EXECUTE_UP != 0 {
		generic &^= GENERIC_EXECUTE
	}
	allowed := mapping.Map(generic)
	if tok.HasPrivilege(SE_RELABEL_NAME) {
		allowed |= WRITE_OWNER
	}
	return allowed
}
