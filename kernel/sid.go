package kernel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file holds security identifiers (SIDs) and integrity levels.
//
// A SID is stored in a fixed-size, comparable form so that it can be used with == and as a map
// key. The text form follows [MS-DTYP] 2.4.2.1: "S-1-<authority>-<sub1>-…-<subN>", with the
// authority in decimal when it is below 2^32 and as 0x followed by 12 hex digits otherwise.

// maxSubAuthorities is SID_MAX_SUB_AUTHORITIES.
const maxSubAuthorities = 15

// maxIdentifierAuthority is the largest 48-bit identifier authority.
const maxIdentifierAuthority = 1<<48 - 1

// ErrInvalidSID is wrapped by every error that ParseSID and NewSID return, so callers can test
// for it with errors.Is; the message says what is wrong with the input.
var ErrInvalidSID = errors.New("invalid SID")

// SID is a Windows security identifier. It is a comparable value: two SIDs are equal with == if
// and only if they denote the same identifier, and a SID works as a map key. The zero value is
// "no SID" (see [SID.IsZero]); it is not a valid identifier.
type SID struct {
	revision  uint8
	count     uint8
	authority uint64
	sub       [maxSubAuthorities]uint32
}

// NewSID builds a revision-1 SID from its identifier authority (at most 48 bits) and 1 to 15
// subauthorities, as RtlInitializeSid plus RtlSubAuthoritySid would.
func NewSID(authority uint64, subAuthorities ...uint32) (SID, error) {
	if authority > maxIdentifierAuthority {
		return SID{}, fmt.Errorf("%w: identifier authority %#x does not fit in 48 bits", ErrInvalidSID, authority)
	}
	if len(subAuthorities) == 0 {
		return SID{}, fmt.Errorf("%w: a SID needs at least one subauthority", ErrInvalidSID)
	}
	if len(subAuthorities) > maxSubAuthorities {
		return SID{}, fmt.Errorf("%w: %d subauthorities, at most %d are allowed", ErrInvalidSID, len(subAuthorities), maxSubAuthorities)
	}
	s := SID{revision: 1, count: uint8(len(subAuthorities)), authority: authority}
	copy(s.sub[:], subAuthorities)
	return s, nil
}

// mustSID is NewSID for the emulator's own well-known constants, which are known to be valid.
func mustSID(authority uint64, subAuthorities ...uint32) SID {
	s, err := NewSID(authority, subAuthorities...)
	if err != nil {
		panic("kernel: bad built-in SID: " + err.Error())
	}
	return s
}

// ParseSID parses a SID in string form ("S-1-5-32-544", as ConvertStringSidToSid accepts) or
// one of the two-letter SDDL aliases ("BA", "SY", …; upper case, see [SID.Alias]). The result
// is the canonical SID; the error wraps [ErrInvalidSID] and says what is wrong.
func ParseSID(s string) (SID, error) {
	if s == "" {
		return SID{}, fmt.Errorf("%w: empty string", ErrInvalidSID)
	}
	if len(s) == 2 {
		if canon := sidForAlias(s); canon != "" {
			return parseSIDString(canon)
		}
		if up := strings.ToUpper(s); up != s && sidForAlias(up) != "" {
			return SID{}, fmt.Errorf("%w: unknown SID alias %q (SDDL aliases are upper case: %q)", ErrInvalidSID, s, up)
		}
		return SID{}, fmt.Errorf("%w: unknown SID alias %q", ErrInvalidSID, s)
	}
	return parseSIDString(s)
}

// parseSIDString parses the "S-1-…" form.
func parseSIDString(s string) (SID, error) {
	if len(s) < 2 || (s[0] != 'S' && s[0] != 's') || s[1] != '-' {
		return SID{}, fmt.Errorf("%w: %q does not start with \"S-\" and is not a two-letter alias", ErrInvalidSID, s)
	}
	parts := strings.Split(s[2:], "-")
	if len(parts) < 3 {
		return SID{}, fmt.Errorf("%w: %q needs a revision, an identifier authority and at least one subauthority", ErrInvalidSID, s)
	}
	for i, p := range parts {
		if p == "" {
			return SID{}, fmt.Errorf("%w: %q has an empty component (number %d)", ErrInvalidSID, s, i+1)
		}
	}
	if parts[0] != "1" {
		return SID{}, fmt.Errorf("%w: %q has revision %q; only revision 1 exists", ErrInvalidSID, s, parts[0])
	}
	var authority uint64
	a := parts[1]
	if len(a) > 2 && (a[:2] == "0x" || a[:2] == "0X") {
		v, err := strconv.ParseUint(a[2:], 16, 48)
		if err != nil || !sidAllHex(a[2:]) {
			return SID{}, fmt.Errorf("%w: %q: identifier authority %q is not a 48-bit hex number", ErrInvalidSID, s, a)
		}
		authority = v
	} else {
		if !sidAllDigits(a) {
			return SID{}, fmt.Errorf("%w: %q: identifier authority %q is not a decimal number", ErrInvalidSID, s, a)
		}
		v, err := strconv.ParseUint(a, 10, 48)
		if err != nil {
			return SID{}, fmt.Errorf("%w: %q: identifier authority %q does not fit in 48 bits", ErrInvalidSID, s, a)
		}
		authority = v
	}
	subs := parts[2:]
	if len(subs) > maxSubAuthorities {
		return SID{}, fmt.Errorf("%w: %q has %d subauthorities, at most %d are allowed", ErrInvalidSID, s, len(subs), maxSubAuthorities)
	}
	vals := make([]uint32, len(subs))
	for i, p := range subs {
		if !sidAllDigits(p) {
			return SID{}, fmt.Errorf("%w: %q: subauthority %d (%q) is not a decimal number", ErrInvalidSID, s, i+1, p)
		}
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return SID{}, fmt.Errorf("%w: %q: subauthority %d (%q) does not fit in 32 bits", ErrInvalidSID, s, i+1, p)
		}
		vals[i] = uint32(v)
	}
	return NewSID(authority, vals...)
}

func sidAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sidAllHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// MustParseSID is ParseSID for constants and tests: it panics if s is not a valid SID.
func MustParseSID(s string) SID {
	sid, err := ParseSID(s)
	if err != nil {
		panic("kernel.MustParseSID: " + err.Error())
	}
	return sid
}

// IsZero reports whether s is the zero SID ("no SID").
func (s SID) IsZero() bool { return s.revision == 0 }

// String returns the canonical "S-1-…" form, or "" for the zero SID.
func (s SID) String() string {
	if s.IsZero() {
		return ""
	}
	var b strings.Builder
	b.WriteString("S-")
	b.WriteString(strconv.FormatUint(uint64(s.revision), 10))
	b.WriteByte('-')
	if s.authority < 1<<32 {
		b.WriteString(strconv.FormatUint(s.authority, 10))
	} else {
		fmt.Fprintf(&b, "0x%012X", s.authority)
	}
	for i := 0; i < int(s.count); i++ {
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(uint64(s.sub[i]), 10))
	}
	return b.String()
}

// Alias returns the SDDL two-letter alias of s ("BA" for S-1-5-32-544), or "" when s has none.
func (s SID) Alias() string { return aliasForSID(s.String()) }

// IdentifierAuthority returns the 48-bit identifier authority (5 for NT AUTHORITY).
func (s SID) IdentifierAuthority() uint64 { return s.authority }

// SubAuthorities returns a copy of the subauthorities.
func (s SID) SubAuthorities() []uint32 {
	out := make([]uint32, s.count)
	copy(out, s.sub[:s.count])
	return out
}

// RID returns the last subauthority (the relative identifier), or 0 for the zero SID.
func (s SID) RID() uint32 {
	if s.count == 0 {
		return 0
	}
	return s.sub[s.count-1]
}

// securityMandatoryLabelAuthority is SECURITY_MANDATORY_LABEL_AUTHORITY (S-1-16).
const securityMandatoryLabelAuthority = 16

// IsIntegritySID reports whether s is a mandatory integrity label SID (S-1-16-<level>).
func (s SID) IsIntegritySID() bool {
	return s.revision == 1 && s.authority == securityMandatoryLabelAuthority && s.count == 1
}

// sdString is the text used for s inside SDDL: the alias when there is one.
func (s SID) sdString() string {
	if a := s.Alias(); a != "" {
		return a
	}
	return s.String()
}

// sidAliases is the one table of the SDDL SID aliases the emulator knows: ParseSID reads it one
// way, SID.Alias the other. Domain-relative aliases (DA, DU, …) are not listed: the emulated
// machine has no domain.
var sidAliases = [...]struct {
	alias string
	sid   string
}{
	{"WD", "S-1-1-0"},      // Everyone
	{"CO", "S-1-3-0"},      // CREATOR OWNER
	{"CG", "S-1-3-1"},      // CREATOR GROUP
	{"OW", "S-1-3-4"},      // OWNER RIGHTS
	{"NU", "S-1-5-2"},      // NETWORK
	{"IU", "S-1-5-4"},      // INTERACTIVE
	{"SU", "S-1-5-6"},      // SERVICE
	{"AN", "S-1-5-7"},      // ANONYMOUS LOGON
	{"ED", "S-1-5-9"},      // ENTERPRISE DOMAIN CONTROLLERS
	{"PS", "S-1-5-10"},     // PRINCIPAL SELF
	{"AU", "S-1-5-11"},     // Authenticated Users
	{"RC", "S-1-5-12"},     // RESTRICTED
	{"SY", "S-1-5-18"},     // LocalSystem
	{"LS", "S-1-5-19"},     // LOCAL SERVICE
	{"NS", "S-1-5-20"},     // NETWORK SERVICE
	{"WR", "S-1-5-33"},     // WRITE RESTRICTED
	{"BA", "S-1-5-32-544"}, // BUILTIN\Administrators
	{"BU", "S-1-5-32-545"}, // BUILTIN\Users
	{"BG", "S-1-5-32-546"}, // BUILTIN\Guests
	{"PU", "S-1-5-32-547"}, // Power Users
	{"AO", "S-1-5-32-548"}, // Account Operators
	{"SO", "S-1-5-32-549"}, // Server Operators
	{"PO", "S-1-5-32-550"}, // Print Operators
	{"BO", "S-1-5-32-551"}, // Backup Operators
	{"RE", "S-1-5-32-552"}, // Replicator
	{"RU", "S-1-5-32-554"}, // Pre-Windows 2000 Compatible Access
	{"RD", "S-1-5-32-555"}, // Remote Desktop Users
	{"NO", "S-1-5-32-556"}, // Network Configuration Operators
	{"MU", "S-1-5-32-558"}, // Performance Monitor Users
	{"LU", "S-1-5-32-559"}, // Performance Log Users
	{"IS", "S-1-5-32-568"}, // IIS_IUSRS
	{"CY", "S-1-5-32-569"}, // Cryptographic Operators
	{"ER", "S-1-5-32-573"}, // Event Log Readers
	{"RM", "S-1-5-32-580"}, // Remote Management Users
	{"AC", "S-1-15-2-1"},   // ALL APPLICATION PACKAGES
	{"LW", "S-1-16-4096"},  // Low mandatory level
	{"ME", "S-1-16-8192"},  // Medium mandatory level
	{"MP", "S-1-16-8448"},  // Medium Plus mandatory level
	{"HI", "S-1-16-12288"}, // High mandatory level
	{"SI", "S-1-16-16384"}, // System mandatory level
}

// sidForAlias maps an SDDL SID alias to the canonical SID string, or "" when alias is unknown.
func sidForAlias(alias string) string {
	for _, a := range sidAliases {
		if a.alias == alias {
			return a.sid
		}
	}
	return ""
}

// aliasForSID maps a canonical SID string to its SDDL alias, or "" when it has none.
func aliasForSID(canon string) string {
	for _, a := range sidAliases {
		if a.sid == canon {
			return a.alias
		}
	}
	return ""
}

// Well-known SIDs. Each call returns the value; SIDs are values, so there is nothing to share.

// SIDLocalSystem returns S-1-5-18 (NT AUTHORITY\SYSTEM, SDDL "SY").
func SIDLocalSystem() SID { return mustSID(5, 18) }

// SIDAdministrators returns S-1-5-32-544 (BUILTIN\Administrators, SDDL "BA").
func SIDAdministrators() SID { return mustSID(5, 32, 544) }

// SIDUsers returns S-1-5-32-545 (BUILTIN\Users, SDDL "BU").
func SIDUsers() SID { return mustSID(5, 32, 545) }

// SIDGuests returns S-1-5-32-546 (BUILTIN\Guests, SDDL "BG").
func SIDGuests() SID { return mustSID(5, 32, 546) }

// SIDEveryone returns S-1-1-0 (Everyone, SDDL "WD").
func SIDEveryone() SID { return mustSID(1, 0) }

// SIDAuthenticatedUsers returns S-1-5-11 (NT AUTHORITY\Authenticated Users, SDDL "AU").
func SIDAuthenticatedUsers() SID { return mustSID(5, 11) }

// SIDInteractive returns S-1-5-4 (NT AUTHORITY\INTERACTIVE, SDDL "IU").
func SIDInteractive() SID { return mustSID(5, 4) }

// SIDNetwork returns S-1-5-2 (NT AUTHORITY\NETWORK, SDDL "NU").
func SIDNetwork() SID { return mustSID(5, 2) }

// SIDService returns S-1-5-6 (NT AUTHORITY\SERVICE, SDDL "SU").
func SIDService() SID { return mustSID(5, 6) }

// SIDNetworkService returns S-1-5-20 (NT AUTHORITY\NETWORK SERVICE, SDDL "NS").
func SIDNetworkService() SID { return mustSID(5, 20) }

// SIDLocalService returns S-1-5-19 (NT AUTHORITY\LOCAL SERVICE, SDDL "LS").
func SIDLocalService() SID { return mustSID(5, 19) }

// SIDAnonymous returns S-1-5-7 (NT AUTHORITY\ANONYMOUS LOGON, SDDL "AN").
func SIDAnonymous() SID { return mustSID(5, 7) }

// SIDOwnerRights returns S-1-3-4 (OWNER RIGHTS, SDDL "OW").
func SIDOwnerRights() SID { return mustSID(3, 4) }

// SIDCreatorOwner returns S-1-3-0 (CREATOR OWNER, SDDL "CO"). It is a placeholder for
// inheritance and matches no token in an access check.
func SIDCreatorOwner() SID { return mustSID(3, 0) }

// SIDRestricted returns S-1-5-12 (NT AUTHORITY\RESTRICTED, SDDL "RC").
func SIDRestricted() SID { return mustSID(5, 12) }

// SIDIntegrity returns the mandatory label SID for level: S-1-16-<level> (SDDL "LW", "ME", …).
func SIDIntegrity(level IntegrityLevel) SID {
	return mustSID(securityMandatoryLabelAuthority, uint32(level))
}

// IntegrityLevel is a mandatory integrity level: the RID of an S-1-16-x SID.
type IntegrityLevel uint32

// Integrity levels (SECURITY_MANDATORY_*_RID).
const (
	IntegrityUntrusted  IntegrityLevel = 0x0000
	IntegrityLow        IntegrityLevel = 0x1000
	IntegrityMedium     IntegrityLevel = 0x2000
	IntegrityMediumPlus IntegrityLevel = 0x2100
	IntegrityHigh       IntegrityLevel = 0x3000
	IntegritySystem     IntegrityLevel = 0x4000
	IntegrityProtected  IntegrityLevel = 0x5000
)

// String returns "Untrusted", "Low", "Medium", "MediumPlus", "High", "System", "Protected", or
// "IntegrityLevel(0x…)" for other values.
func (l IntegrityLevel) String() string {
	switch l {
	case IntegrityUntrusted:
		return "Untrusted"
	case IntegrityLow:
		return "Low"
	case IntegrityMedium:
		return "Medium"
	case IntegrityMediumPlus:
		return "MediumPlus"
	case IntegrityHigh:
		return "High"
	case IntegritySystem:
		return "System"
	case IntegrityProtected:
		return "Protected"
	}
	return fmt.Sprintf("IntegrityLevel(%#x)", uint32(l))
}

// SID returns the integrity label SID of l (S-1-16-<l>).
func (l IntegrityLevel) SID() SID { return SIDIntegrity(l) }
