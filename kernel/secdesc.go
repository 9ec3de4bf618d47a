package kernel

import (
	"errors"
	"fmt"
)

// This file holds security descriptors, ACLs and ACEs. The text form is SDDL (sddl.go).

// SDControl is SECURITY_DESCRIPTOR_CONTROL.
type SDControl uint16

// Security descriptor control flags (winnt.h).
const (
	SE_OWNER_DEFAULTED       SDControl = 0x0001
	SE_GROUP_DEFAULTED       SDControl = 0x0002
	SE_DACL_PRESENT          SDControl = 0x0004
	SE_DACL_DEFAULTED        SDControl = 0x0008
	SE_SACL_PRESENT          SDControl = 0x0010
	SE_SACL_DEFAULTED        SDControl = 0x0020
	SE_DACL_AUTO_INHERIT_REQ SDControl = 0x0100
	SE_SACL_AUTO_INHERIT_REQ SDControl = 0x0200
	SE_DACL_AUTO_INHERITED   SDControl = 0x0400
	SE_SACL_AUTO_INHERITED   SDControl = 0x0800
	SE_DACL_PROTECTED        SDControl = 0x1000
	SE_SACL_PROTECTED        SDControl = 0x2000
	SE_RM_CONTROL_VALID      SDControl = 0x4000
	SE_SELF_RELATIVE         SDControl = 0x8000
)

// ACEType is the AceType of an ACE_HEADER.
type ACEType uint8

// ACE types the emulator supports.
const (
	ACCESS_ALLOWED_ACE_TYPE         ACEType = 0x00
	ACCESS_DENIED_ACE_TYPE          ACEType = 0x01
	SYSTEM_AUDIT_ACE_TYPE           ACEType = 0x02
	SYSTEM_MANDATORY_LABEL_ACE_TYPE ACEType = 0x11
)

// String returns the winnt.h name of t.
func (t ACEType) String() string {
	switch t {
	case ACCESS_ALLOWED_ACE_TYPE:
		return "ACCESS_ALLOWED_ACE_TYPE"
	case ACCESS_DENIED_ACE_TYPE:
		return "ACCESS_DENIED_ACE_TYPE"
	case SYSTEM_AUDIT_ACE_TYPE:
		return "SYSTEM_AUDIT_ACE_TYPE"
	case SYSTEM_MANDATORY_LABEL_ACE_TYPE:
		return "SYSTEM_MANDATORY_LABEL_ACE_TYPE"
	}
	return fmt.Sprintf("ACEType(%#x)", uint8(t))
}

// ACEFlags is the AceFlags of an ACE_HEADER.
type ACEFlags uint8

// ACE flags (winnt.h).
const (
	OBJECT_INHERIT_ACE         ACEFlags = 0x01
	CONTAINER_INHERIT_ACE      ACEFlags = 0x02
	NO_PROPAGATE_INHERIT_ACE   ACEFlags = 0x04
	INHERIT_ONLY_ACE           ACEFlags = 0x08
	INHERITED_ACE              ACEFlags = 0x10
	SUCCESSFUL_ACCESS_ACE_FLAG ACEFlags = 0x40
	FAILED_ACCESS_ACE_FLAG     ACEFlags = 0x80

	validACEFlags = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE | NO_PROPAGATE_INHERIT_ACE |
		INHERIT_ONLY_ACE | INHERITED_ACE | SUCCESSFUL_ACCESS_ACE_FLAG | FAILED_ACCESS_ACE_FLAG
)

// Mandatory label policy bits: the Mask of a SYSTEM_MANDATORY_LABEL_ACE.
const (
	SYSTEM_MANDATORY_LABEL_NO_WRITE_UP   AccessMask = 0x1
	SYSTEM_MANDATORY_LABEL_NO_READ_UP    AccessMask = 0x2
	SYSTEM_MANDATORY_LABEL_NO_EXECUTE_UP AccessMask = 0x4

	validMandatoryPolicy = SYSTEM_MANDATORY_LABEL_NO_WRITE_UP | SYSTEM_MANDATORY_LABEL_NO_READ_UP |
		SYSTEM_MANDATORY_LABEL_NO_EXECUTE_UP
)

// ACE is one access control entry. For a SYSTEM_MANDATORY_LABEL ACE, Mask holds the policy
// (SYSTEM_MANDATORY_LABEL_*) and SID the integrity label (S-1-16-x).
type ACE struct {
	Type  ACEType
	Flags ACEFlags
	Mask  AccessMask
	SID   SID
}

// String returns the SDDL form of the ACE, e.g. "(A;;CC;;;SY)".
func (a ACE) String() string { return aceSDDL(a) }

// ACL is an access control list. A non-nil ACL with no ACEs grants nobody anything (except
// the owner's implicit rights); a nil *ACL in a descriptor is a NULL ACL.
type ACL struct {
	ACEs []ACE
}

// clone copies a; nil stays nil and an empty ACE slice keeps its nil-ness.
func (a *ACL) clone() *ACL {
	if a == nil {
		return nil
	}
	out := &ACL{}
	if a.ACEs != nil {
		out.ACEs = make([]ACE, len(a.ACEs))
		copy(out.ACEs, a.ACEs)
	}
	return out
}

// hasEffectiveSID reports whether a has an allow or deny ACE for sid that is not inherit-only.
func (a *ACL) hasEffectiveSID(sid SID) bool {
	if a == nil {
		return false
	}
	for _, ace := range a.ACEs {
		if ace.Flags&INHERIT_ONLY_ACE == 0 && ace.SID == sid &&
			(ace.Type == ACCESS_ALLOWED_ACE_TYPE || ace.Type == ACCESS_DENIED_ACE_TYPE) {
			return true
		}
	}
	return false
}

// SecurityDescriptor is an absolute-format SECURITY_DESCRIPTOR. Owner and Group are nil when
// absent. DACL == nil is a NULL DACL: every right is granted to everyone. A non-nil, empty
// DACL grants nothing. SACL holds audit and mandatory label ACEs.
//
// Control records the SE_*_PRESENT, _PROTECTED, _AUTO_INHERITED and _AUTO_INHERIT_REQ flags;
// ParseSDDL sets SE_DACL_PRESENT / SE_SACL_PRESENT for every "D:" / "S:" part, and the Add*
// and Set* methods set them when they create an ACL.
type SecurityDescriptor struct {
	Owner   *SID
	Group   *SID
	DACL    *ACL
	SACL    *ACL
	Control SDControl
}

// Clone returns a deep copy of sd (nil for nil): changing the copy never changes sd.
func (sd *SecurityDescriptor) Clone() *SecurityDescriptor {
	if sd == nil {
		return nil
	}
	out := &SecurityDescriptor{Control: sd.Control, DACL: sd.DACL.clone(), SACL: sd.SACL.clone()}
	if sd.Owner != nil {
		o := *sd.Owner
		out.Owner = &o
	}
	if sd.Group != nil {
		g := *sd.Group
		out.Group = &g
	}
	return out
}

// String returns the SDDL form of sd, "<nil>" for a nil descriptor and "<empty>" for one with
// nothing in it.
func (sd *SecurityDescriptor) String() string {
	if sd == nil {
		return "<nil>"
	}
	if s := sd.SDDL(); s != "" {
		return s
	}
	return "<empty>"
}

// errNilSD is returned by the mutating methods on a nil descriptor.
var errNilSD = errors.New("kernel: nil security descriptor")

// AddAccessAllowed emulates RtlAddAccessAllowedAce: it appends an ACCESS_ALLOWED ACE for sid
// with mask to the DACL, creating the DACL (and setting SE_DACL_PRESENT) when it is NULL. Note
// that creating the DACL turns "everyone gets everything" into "only sid gets mask".
func (sd *SecurityDescriptor) AddAccessAllowed(sid SID, mask AccessMask) error {
	return sd.addDACLEntry(ACCESS_ALLOWED_ACE_TYPE, sid, mask)
}

// AddAccessDenied emulates RtlAddAccessDeniedAce: it appends an ACCESS_DENIED ACE for sid with
// mask to the DACL, creating the DACL when it is NULL. Windows puts deny ACEs first by
// convention, but the ACE goes where the function puts it: at the end. Build the descriptor
// from SDDL when the order matters.
func (sd *SecurityDescriptor) AddAccessDenied(sid SID, mask AccessMask) error {
	return sd.addDACLEntry(ACCESS_DENIED_ACE_TYPE, sid, mask)
}

func (sd *SecurityDescriptor) addDACLEntry(t ACEType, sid SID, mask AccessMask) error {
	if sd == nil {
		return errNilSD
	}
	if sid.IsZero() {
		return fmt.Errorf("kernel: %v: zero SID", t)
	}
	if sid.IsIntegritySID() {
		return fmt.Errorf("kernel: %v: %v is an integrity label; use SetMandatoryLabel", t, sid)
	}
	if sd.DACL == nil {
		sd.DACL = &ACL{}
	}
	sd.Control |= SE_DACL_PRESENT
	sd.DACL.ACEs = append(sd.DACL.ACEs, ACE{Type: t, Mask: mask, SID: sid})
	return nil
}

// SetMandatoryLabel replaces any mandatory label ACE in the SACL by one for level with policy
// (a combination of SYSTEM_MANDATORY_LABEL_NO_WRITE_UP, _NO_READ_UP and _NO_EXECUTE_UP),
// creating the SACL when needed.
func (sd *SecurityDescriptor) SetMandatoryLabel(level IntegrityLevel, policy AccessMask) error {
	if sd == nil {
		return errNilSD
	}
	if policy&^validMandatoryPolicy != 0 {
		return fmt.Errorf("kernel: mandatory label policy %v has bits other than NO_WRITE_UP|NO_READ_UP|NO_EXECUTE_UP", policy)
	}
	if sd.SACL == nil {
		sd.SACL = &ACL{}
	}
	sd.Control |= SE_SACL_PRESENT
	kept := sd.SACL.ACEs[:0:0]
	for _, ace := range sd.SACL.ACEs {
		if ace.Type != SYSTEM_MANDATORY_LABEL_ACE_TYPE {
			kept = append(kept, ace)
		}
	}
	sd.SACL.ACEs = append(kept, ACE{Type: SYSTEM_MANDATORY_LABEL_ACE_TYPE, Mask: policy, SID: SIDIntegrity(level)})
	return nil
}

// MandatoryLabel returns the object's integrity level and label policy from the first
// mandatory label ACE of the SACL that is not inherit-only, and present = true. Without one it
// returns the label Windows assumes, Medium with NO_WRITE_UP, and present = false.
func (sd *SecurityDescriptor) MandatoryLabel() (level IntegrityLevel, policy AccessMask, present bool) {
	if sd != nil && sd.SACL != nil {
		for _, ace := range sd.SACL.ACEs {
			if ace.Type != SYSTEM_MANDATORY_LABEL_ACE_TYPE {
				continue
			}
			if ace.Flags&INHERIT_ONLY_ACE != 0 || !ace.SID.IsIntegritySID() {
				break // MS-DTYP 2.5.3.3 looks at the first label ACE only
			}
			return IntegrityLevel(ace.SID.RID()), ace.Mask, true
		}
	}
	return IntegrityMedium, SYSTEM_MANDATORY_LABEL_NO_WRITE_UP, false
}

// Validate reports what is wrong with sd, or nil: Owner and Group, when present, must be
// non-zero; the DACL may hold only ACCESS_ALLOWED and ACCESS_DENIED ACEs and the SACL only
// SYSTEM_AUDIT and SYSTEM_MANDATORY_LABEL ACEs; every ACE needs a non-zero SID and known
// flags; a mandatory label ACE needs an S-1-16-x SID and a policy within NW|NR|NX.
func (sd *SecurityDescriptor) Validate() error {
	if sd == nil {
		return errNilSD
	}
	if sd.Owner != nil && sd.Owner.IsZero() {
		return errors.New("kernel: security descriptor: owner is the zero SID")
	}
	if sd.Group != nil && sd.Group.IsZero() {
		return errors.New("kernel: security descriptor: group is the zero SID")
	}
	check := func(which string, acl *ACL, allowedTypes ...ACEType) error {
		if acl == nil {
			return nil
		}
		for i, ace := range acl.ACEs {
			ok := false
			for _, t := range allowedTypes {
				ok = ok || ace.Type == t
			}
			if !ok {
				return fmt.Errorf("kernel: security descriptor: %s ACE %d: type %v does not belong in a %s", which, i, ace.Type, which)
			}
			if ace.SID.IsZero() {
				return fmt.Errorf("kernel: security descriptor: %s ACE %d: zero SID", which, i)
			}
			if ace.Flags&^validACEFlags != 0 {
				return fmt.Errorf("kernel: security descriptor: %s ACE %d: unknown flags %#x", which, i, uint8(ace.Flags&^validACEFlags))
			}
			if ace.Type == SYSTEM_MANDATORY_LABEL_ACE_TYPE {
				if !ace.SID.IsIntegritySID() {
					return fmt.Errorf("kernel: security descriptor: %s ACE %d: mandatory label SID %v is not S-1-16-x", which, i, ace.SID)
				}
				if ace.Mask&^validMandatoryPolicy != 0 {
					return fmt.Errorf("kernel: security descriptor: %s ACE %d: mandatory label policy %v has unknown bits", which, i, ace.Mask)
				}
			}
		}
		return nil
	}
	if err := check("DACL", sd.DACL, ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE); err != nil {
		return err
	}
	return check("SACL", sd.SACL, SYSTEM_AUDIT_ACE_TYPE, SYSTEM_MANDATORY_LABEL_ACE_TYPE)
}

// DefaultPortSecurityDescriptor emulates FltBuildDefaultSecurityDescriptor (R-SD): a protected
// DACL that allows LocalSystem and BUILTIN\Administrators mask, nothing for anyone else. In
// SDDL: D:P(A;;<mask>;;;SY)(A;;<mask>;;;BA). There is no owner, group or label, so the default
// label (Medium, NO_WRITE_UP) applies. Each call returns a new descriptor.
func DefaultPortSecurityDescriptor(mask AccessMask) *SecurityDescriptor {
	return &SecurityDescriptor{
		Control: SE_DACL_PRESENT | SE_DACL_PROTECTED,
		DACL: &ACL{ACEs: []ACE{
			{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: mask, SID: SIDLocalSystem()},
			{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: mask, SID: SIDAdministrators()},
		}},
	}
}

// SystemDefaultObjectSecurityDescriptor is the descriptor a communication port gets when its
// creator passes none (R-CREATE-6, a Decision: evidence weak): the default DACL of the System
// process's token, already mapped through the port's generic mapping — SYSTEM GENERIC_ALL
// (0x1F0001), BUILTIN\Administrators GENERIC_READ|GENERIC_EXECUTE (0x020001). Since a connect
// asks for FLT_PORT_ALL_ACCESS (R-MODEL-2), only SYSTEM can connect to such a port.
func SystemDefaultObjectSecurityDescriptor() *SecurityDescriptor {
	m := PortGenericMapping()
	return &SecurityDescriptor{
		Control: SE_DACL_PRESENT,
		DACL: &ACL{ACEs: []ACE{
			{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: m.GenericAll, SID: SIDLocalSystem()},
			{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: m.GenericRead | m.GenericExecute, SID: SIDAdministrators()},
		}},
	}
}
