package kernel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file parses and prints the Security Descriptor Definition Language ([MS-DTYP] 2.5.1).
//
// Supported: "O:" and "G:" with a SID or alias; "D:" with the flags P, AI, AR and
// NO_ACCESS_CONTROL and A/D ACEs; "S:" with the same flags and AU/ML ACEs. ACE flags OI CI NP
// IO ID SA FA. Rights as 0x hex, decimal, or concatenated codes: GA GR GW GX, RC SD WD WO,
// FA FR FW FX, KA KR KW KX, CC DC LC SW RP WP DT LO CR, and NW NR NX in ML ACEs.
// Not supported (an error says so): object ACEs (OA, OD, OU, OL and GUID fields), callback and
// conditional ACEs, resource attribute ACEs, domain-relative aliases (DA, DU, …), whitespace.
//
// The printer writes a canonical form: sections in the order O G D S; aliases where one exists;
// flags in the order P AR AI; ACE flags in the order OI CI NP IO ID SA FA; rights as one of
// FA FR FW FX KA KR KW when the mask is exactly that, else as single-bit codes when every bit
// has one (FLT_PORT_CONNECT prints as CC, as on Windows), else as 0x hex. ParseSDDL of that
// text gives back an equal descriptor.

// SDDLError is the error ParseSDDL returns: where the text breaks (a byte offset into the
// input), the offending token, and what is wrong. Err, when set, is the underlying error (an
// invalid SID, for instance).
type SDDLError struct {
	Offset int
	Token  string
	Msg    string
	Err    error
}

// Error formats the error as: sddl: at offset 7: unknown ACE type "X".
func (e *SDDLError) Error() string {
	s := fmt.Sprintf("sddl: at offset %d: %s", e.Offset, e.Msg)
	if e.Token != "" {
		s += fmt.Sprintf(" %q", e.Token)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *SDDLError) Unwrap() error { return e.Err }

// MustParseSDDL is ParseSDDL for constants and tests: it panics on an error.
func MustParseSDDL(s string) *SecurityDescriptor {
	sd, err := ParseSDDL(s)
	if err != nil {
		panic("kernel.MustParseSDDL: " + err.Error())
	}
	return sd
}

// ParseSDDL emulates ConvertStringSecurityDescriptorToSecurityDescriptor: it parses an SDDL
// string into a new descriptor. Errors are *SDDLError values that name the byte offset and the
// token where the text breaks. Decision: the empty string is rejected (Windows would return an
// empty descriptor, whose NULL DACL grants everyone everything); write "D:NO_ACCESS_CONTROL" to
// mean that. The result is ordinary Go memory: unlike a descriptor from
// FltBuildDefaultSecurityDescriptor it needs no FltFreeSecurityDescriptor (nothing tracks it).
func ParseSDDL(s string) (*SecurityDescriptor, error) {
	if s == "" {
		return nil, &SDDLError{Offset: 0, Msg: "empty SDDL string (use D:NO_ACCESS_CONTROL for a NULL DACL)"}
	}
	p := sddlParser{s: s}
	sd, err := p.parse()
	if err != nil {
		return nil, err
	}
	return sd, nil
}

type sddlParser struct {
	s   string
	pos int
}

func (p *sddlParser) errAt(off int, tok, msg string) *SDDLError {
	return &SDDLError{Offset: off, Token: tok, Msg: msg}
}

// sectionAt reports whether a section tag ("O:", "G:", "D:", "S:") starts at i.
func (p *sddlParser) sectionAt(i int) bool {
	if i+1 >= len(p.s) || p.s[i+1] != ':' {
		return false
	}
	switch p.s[i] {
	case 'O', 'G', 'D', 'S':
		return true
	}
	return false
}

func (p *sddlParser) parse() (*SecurityDescriptor, error) {
	sd := &SecurityDescriptor{}
	seen := map[byte]bool{}
	for p.pos < len(p.s) {
		start := p.pos
		if !p.sectionAt(start) {
			return nil, p.errAt(start, sddlTokenAt(p.s, start), "expected a section O:, G:, D: or S:, found")
		}
		tag := p.s[start]
		if seen[tag] {
			return nil, p.errAt(start, p.s[start:start+2], "duplicate section")
		}
		seen[tag] = true
		p.pos += 2
		switch tag {
		case 'O', 'G':
			sid, err := p.parseSectionSID(tag)
			if err != nil {
				return nil, err
			}
			if tag == 'O' {
				sd.Owner = &sid
			} else {
				sd.Group = &sid
			}
		case 'D':
			acl, ctl, err := p.parseACL(true)
			if err != nil {
				return nil, err
			}
			sd.DACL = acl
			sd.Control |= ctl
		case 'S':
			acl, ctl, err := p.parseACL(false)
			if err != nil {
				return nil, err
			}
			sd.SACL = acl
			sd.Control |= ctl
		}
	}
	return sd, nil
}

// sddlTokenAt returns a short excerpt of s at i for error messages.
func sddlTokenAt(s string, i int) string {
	end := i + 1
	for end < len(s) && end-i < 8 && s[end] != '(' && s[end] != ')' && s[end] != ';' && s[end] != ':' {
		end++
	}
	if i >= len(s) {
		return ""
	}
	return s[i:end]
}

// parseSectionSID reads the SID of an O: or G: section: up to the next section tag.
func (p *sddlParser) parseSectionSID(tag byte) (SID, error) {
	start := p.pos
	end := start
	for end < len(p.s) && !p.sectionAt(end) {
		end++
	}
	what := "owner"
	if tag == 'G' {
		what = "group"
	}
	text := p.s[start:end]
	if text == "" {
		return SID{}, p.errAt(start, "", "missing "+what+" SID")
	}
	sid, err := ParseSID(text)
	if err != nil {
		return SID{}, &SDDLError{Offset: start, Token: text, Msg: "invalid " + what + " SID", Err: err}
	}
	p.pos = end
	return sid, nil
}

// parseACL reads the flags and ACEs of a D: or S: section.
func (p *sddlParser) parseACL(dacl bool) (*ACL, SDControl, error) {
	var ctl, present, protected, autoReq, autoInh SDControl
	if dacl {
		present, protected, autoReq, autoInh = SE_DACL_PRESENT, SE_DACL_PROTECTED, SE_DACL_AUTO_INHERIT_REQ, SE_DACL_AUTO_INHERITED
	} else {
		present, protected, autoReq, autoInh = SE_SACL_PRESENT, SE_SACL_PROTECTED, SE_SACL_AUTO_INHERIT_REQ, SE_SACL_AUTO_INHERITED
	}
	ctl = present
	null := false
	// Flags.
	for p.pos < len(p.s) && p.s[p.pos] != '(' && !p.sectionAt(p.pos) {
		rest := p.s[p.pos:]
		var flag SDControl
		var n int
		switch {
		case strings.HasPrefix(rest, "NO_ACCESS_CONTROL"):
			if null {
				return nil, 0, p.errAt(p.pos, "NO_ACCESS_CONTROL", "duplicate ACL flag")
			}
			null = true
			p.pos += len("NO_ACCESS_CONTROL")
			continue
		case strings.HasPrefix(rest, "AR"):
			flag, n = autoReq, 2
		case strings.HasPrefix(rest, "AI"):
			flag, n = autoInh, 2
		case strings.HasPrefix(rest, "P"):
			flag, n = protected, 1
		default:
			return nil, 0, p.errAt(p.pos, sddlTokenAt(p.s, p.pos), "unknown ACL flag")
		}
		if ctl&flag != 0 {
			return nil, 0, p.errAt(p.pos, rest[:n], "duplicate ACL flag")
		}
		ctl |= flag
		p.pos += n
	}
	if null {
		if p.pos < len(p.s) && p.s[p.pos] == '(' {
			return nil, 0, p.errAt(p.pos, sddlTokenAt(p.s, p.pos), "ACE after NO_ACCESS_CONTROL (a NULL ACL has no entries)")
		}
		return nil, ctl, nil
	}
	acl := &ACL{}
	for p.pos < len(p.s) && p.s[p.pos] == '(' {
		ace, err := p.parseACE(dacl)
		if err != nil {
			return nil, 0, err
		}
		acl.ACEs = append(acl.ACEs, ace)
	}
	if p.pos < len(p.s) && !p.sectionAt(p.pos) {
		return nil, 0, p.errAt(p.pos, sddlTokenAt(p.s, p.pos), "expected an ACE \"(\" or a section, found")
	}
	return acl, ctl, nil
}

// parseACE reads one "(type;flags;rights;object_guid;inherit_object_guid;sid)".
func (p *sddlParser) parseACE(dacl bool) (ACE, error) {
	open := p.pos
	closeRel := strings.IndexByte(p.s[open:], ')')
	if closeRel < 0 {
		return ACE{}, p.errAt(open, sddlTokenAt(p.s, open), "unterminated ACE: missing \")\"")
	}
	if nested := strings.IndexByte(p.s[open+1:open+closeRel], '('); nested >= 0 {
		return ACE{}, p.errAt(open+1+nested, "(", "conditional ACEs are not supported; unexpected")
	}
	inner := p.s[open+1 : open+closeRel]
	p.pos = open + closeRel + 1

	// Split into fields, remembering where each starts.
	var fields []string
	var offs []int
	fieldStart := open + 1
	for i := 0; i <= len(inner); i++ {
		if i == len(inner) || inner[i] == ';' {
			fields = append(fields, p.s[fieldStart:open+1+i])
			offs = append(offs, fieldStart)
			fieldStart = open + 1 + i + 1
		}
	}
	if len(fields) == 7 {
		return ACE{}, p.errAt(offs[6], fields[6], "resource attribute ACEs are not supported")
	}
	if len(fields) != 6 {
		return ACE{}, p.errAt(open, p.s[open:p.pos], fmt.Sprintf("an ACE has 6 fields separated by \";\", this one has %d:", len(fields)))
	}

	var ace ACE
	// Type.
	switch t, ok := sddlACEType(fields[0]); {
	case ok:
		ace.Type = t
	case fields[0] == "":
		return ACE{}, p.errAt(offs[0], "", "missing ACE type")
	case slices.Contains([]string{"OA", "OD", "OU", "OL", "AL", "XA", "XD", "XU", "ZA", "RA", "SP", "TL", "FL"}, fields[0]):
		return ACE{}, p.errAt(offs[0], fields[0], "unsupported ACE type")
	default:
		return ACE{}, p.errAt(offs[0], fields[0], "unknown ACE type")
	}
	isDACLType := ace.Type == ACCESS_ALLOWED_ACE_TYPE || ace.Type == ACCESS_DENIED_ACE_TYPE
	if dacl && !isDACLType {
		return ACE{}, p.errAt(offs[0], fields[0], "ACE type not allowed in a DACL (D:)")
	}
	if !dacl && isDACLType {
		return ACE{}, p.errAt(offs[0], fields[0], "ACE type not allowed in a SACL (S:)")
	}

	// Flags.
	f := fields[1]
	for i := 0; i < len(f); i += 2 {
		if i+2 > len(f) {
			return ACE{}, p.errAt(offs[1]+i, f[i:], "unknown ACE flag")
		}
		code := f[i : i+2]
		flag := sddlACEFlag(code)
		if flag == 0 {
			return ACE{}, p.errAt(offs[1]+i, code, "unknown ACE flag")
		}
		if ace.Flags&flag != 0 {
			return ACE{}, p.errAt(offs[1]+i, code, "duplicate ACE flag")
		}
		ace.Flags |= flag
	}

	// Rights.
	mask, err := p.parseRights(fields[2], offs[2], ace.Type == SYSTEM_MANDATORY_LABEL_ACE_TYPE)
	if err != nil {
		return ACE{}, err
	}
	ace.Mask = mask

	// GUIDs.
	for _, i := range []int{3, 4} {
		if fields[i] != "" {
			return ACE{}, p.errAt(offs[i], fields[i], "object GUIDs are not supported")
		}
	}

	// SID.
	if fields[5] == "" {
		return ACE{}, p.errAt(offs[5], "", "missing ACE SID")
	}
	sid, err := ParseSID(fields[5])
	if err != nil {
		return ACE{}, &SDDLError{Offset: offs[5], Token: fields[5], Msg: "invalid ACE SID", Err: err}
	}
	if ace.Type == SYSTEM_MANDATORY_LABEL_ACE_TYPE && !sid.IsIntegritySID() {
		return ACE{}, p.errAt(offs[5], fields[5], "a mandatory label ACE needs an integrity SID (LW, ME, MP, HI, SI or S-1-16-x), not")
	}
	if ace.Type != SYSTEM_MANDATORY_LABEL_ACE_TYPE && sid.IsIntegritySID() {
		return ACE{}, p.errAt(offs[5], fields[5], "an integrity SID belongs in an ML ACE, not in")
	}
	ace.SID = sid
	return ace, nil
}

// parseRights reads the rights field of an ACE.
func (p *sddlParser) parseRights(r string, off int, label bool) (AccessMask, error) {
	if r == "" {
		return 0, p.errAt(off, "", "missing access rights")
	}
	var mask AccessMask
	switch {
	case len(r) > 2 && (r[:2] == "0x" || r[:2] == "0X"):
		v, err := strconv.ParseUint(r[2:], 16, 32)
		if err != nil || !sidAllHex(r[2:]) {
			return 0, p.errAt(off, r, "access rights are not a 32-bit hex number:")
		}
		mask = AccessMask(v)
	case r[0] >= '0' && r[0] <= '9':
		v, err := strconv.ParseUint(r, 10, 32)
		if err != nil || !sidAllDigits(r) {
			return 0, p.errAt(off, r, "access rights are not a 32-bit decimal number:")
		}
		mask = AccessMask(v)
	default:
		for i := 0; i < len(r); i += 2 {
			if i+2 > len(r) {
				return 0, p.errAt(off+i, r[i:], "unknown access right")
			}
			code := r[i : i+2]
			var bits AccessMask
			if label {
				bits = sddlLabelRight(code)
			} else {
				bits = sddlRight(code)
			}
			if bits == 0 {
				if label && sddlRight(code) != 0 {
					return 0, p.errAt(off+i, code, "a mandatory label ACE takes NW, NR or NX, not")
				}
				if !label && sddlLabelRight(code) != 0 {
					return 0, p.errAt(off+i, code, "NW, NR and NX belong in a mandatory label (ML) ACE, not")
				}
				return 0, p.errAt(off+i, code, "unknown access right")
			}
			mask |= bits
		}
	}
	if label && mask&^validMandatoryPolicy != 0 {
		return 0, p.errAt(off, r, "mandatory label policy has bits other than NW|NR|NX:")
	}
	return mask, nil
}

// The SDDL codes the emulator reads and writes, one table each; parsing looks a code up,
// printing walks the same table in its order.
var (
	sddlACETypes = [...]struct {
		code string
		typ  ACEType
	}{{"A", ACCESS_ALLOWED_ACE_TYPE}, {"D", ACCESS_DENIED_ACE_TYPE}, {"AU", SYSTEM_AUDIT_ACE_TYPE},
		{"ML", SYSTEM_MANDATORY_LABEL_ACE_TYPE}}

	sddlACEFlags = [...]struct {
		code string
		flag ACEFlags
	}{{"OI", OBJECT_INHERIT_ACE}, {"CI", CONTAINER_INHERIT_ACE}, {"NP", NO_PROPAGATE_INHERIT_ACE},
		{"IO", INHERIT_ONLY_ACE}, {"ID", INHERITED_ACE}, {"SA", SUCCESSFUL_ACCESS_ACE_FLAG}, {"FA", FAILED_ACCESS_ACE_FLAG}}

	// sddlRights: the composite codes first (printed only for their exact mask; KX, equal to KR,
	// never is), then the single bits in printing order.
	sddlRights = [...]struct {
		code      string
		mask      AccessMask
		composite bool
	}{
		{"FA", FILE_ALL_ACCESS, true}, {"FR", FILE_GENERIC_READ, true}, {"FW", FILE_GENERIC_WRITE, true},
		{"FX", FILE_GENERIC_EXECUTE, true}, {"KA", KEY_ALL_ACCESS, true}, {"KR", KEY_READ, true},
		{"KW", KEY_WRITE, true}, {"KX", KEY_EXECUTE, true},
		{"GA", GENERIC_ALL, false}, {"GR", GENERIC_READ, false}, {"GW", GENERIC_WRITE, false},
		{"GX", GENERIC_EXECUTE, false}, {"RC", READ_CONTROL, false}, {"SD", DELETE, false},
		{"WD", WRITE_DAC, false}, {"WO", WRITE_OWNER, false},
		{"CC", 0x0001, false}, // create child; FLT_PORT_CONNECT, FILE_READ_DATA
		{"DC", 0x0002, false}, {"LC", 0x0004, false}, {"SW", 0x0008, false}, {"RP", 0x0010, false},
		{"WP", 0x0020, false}, {"DT", 0x0040, false}, {"LO", 0x0080, false}, {"CR", 0x0100, false},
	}

	sddlLabelRights = [...]struct {
		code string
		mask AccessMask
	}{{"NW", SYSTEM_MANDATORY_LABEL_NO_WRITE_UP}, {"NR", SYSTEM_MANDATORY_LABEL_NO_READ_UP},
		{"NX", SYSTEM_MANDATORY_LABEL_NO_EXECUTE_UP}}
)

// sddlACEType maps an ACE type code to its type.
func sddlACEType(code string) (ACEType, bool) {
	for _, t := range sddlACETypes {
		if t.code == code {
			return t.typ, true
		}
	}
	return 0, false
}

// sddlACEFlag maps a two-letter ACE flag code to its flag, or 0.
func sddlACEFlag(code string) ACEFlags {
	for _, f := range sddlACEFlags {
		if f.code == code {
			return f.flag
		}
	}
	return 0
}

// sddlRight maps a two-letter SDDL rights code to its mask, or 0.
func sddlRight(code string) AccessMask {
	for _, r := range sddlRights {
		if r.code == code {
			return r.mask
		}
	}
	return 0
}

// sddlLabelRight maps the mandatory label policy codes.
func sddlLabelRight(code string) AccessMask {
	for _, r := range sddlLabelRights {
		if r.code == code {
			return r.mask
		}
	}
	return 0
}

// rightsSDDL prints a rights mask canonically.
func rightsSDDL(t ACEType, mask AccessMask) string {
	if mask == 0 {
		return "0x0"
	}
	if t == SYSTEM_MANDATORY_LABEL_ACE_TYPE {
		if mask&^validMandatoryPolicy != 0 {
			return fmt.Sprintf("0x%x", uint32(mask))
		}
		var b strings.Builder
		for _, r := range sddlLabelRights {
			if mask&r.mask != 0 {
				b.WriteString(r.code)
			}
		}
		return b.String()
	}
	for _, r := range sddlRights {
		if r.composite && mask == r.mask {
			return r.code
		}
	}
	var b strings.Builder
	rest := mask
	for _, r := range sddlRights {
		if !r.composite && rest&r.mask != 0 {
			b.WriteString(r.code)
			rest &^= r.mask
		}
	}
	if rest != 0 {
		return fmt.Sprintf("0x%x", uint32(mask))
	}
	return b.String()
}

// aceSDDL prints one ACE.
func aceSDDL(a ACE) string {
	var b strings.Builder
	b.WriteByte('(')
	typ := fmt.Sprintf("0x%x", uint8(a.Type)) // not valid SDDL: ParseSDDL rejects it
	for _, t := range sddlACETypes {
		if t.typ == a.Type {
			typ = t.code
		}
	}
	b.WriteString(typ)
	b.WriteByte(';')
	for _, f := range sddlACEFlags {
		if a.Flags&f.flag != 0 {
			b.WriteString(f.code)
		}
	}
	b.WriteByte(';')
	b.WriteString(rightsSDDL(a.Type, a.Mask))
	b.WriteString(";;;")
	b.WriteString(a.SID.sdString())
	b.WriteByte(')')
	return b.String()
}

// SDDL emulates ConvertSecurityDescriptorToStringSecurityDescriptor with all parts: the
// canonical SDDL text of sd ("" for nil). A "D:" part is written when the DACL is present or
// any DACL control flag is set; a NULL DACL with SE_DACL_PRESENT prints as D:NO_ACCESS_CONTROL
// (likewise for "S:"). Control bits SDDL cannot express (SE_*_DEFAULTED, SE_SELF_RELATIVE,
// SE_RM_CONTROL_VALID) are not written.
func (sd *SecurityDescriptor) SDDL() string {
	if sd == nil {
		return ""
	}
	var b strings.Builder
	if sd.Owner != nil {
		b.WriteString("O:")
		b.WriteString(sd.Owner.sdString())
	}
	if sd.Group != nil {
		b.WriteString("G:")
		b.WriteString(sd.Group.sdString())
	}
	writeACL := func(tag string, acl *ACL, present, protected, autoReq, autoInh SDControl) {
		if acl == nil && sd.Control&(present|protected|autoReq|autoInh) == 0 {
			return
		}
		b.WriteString(tag)
		if sd.Control&protected != 0 {
			b.WriteString("P")
		}
		if sd.Control&autoReq != 0 {
			b.WriteString("AR")
		}
		if sd.Control&autoInh != 0 {
			b.WriteString("AI")
		}
		if acl == nil {
			b.WriteString("NO_ACCESS_CONTROL")
			return
		}
		for _, ace := range acl.ACEs {
			b.WriteString(aceSDDL(ace))
		}
	}
	writeACL("D:", sd.DACL, SE_DACL_PRESENT, SE_DACL_PROTECTED, SE_DACL_AUTO_INHERIT_REQ, SE_DACL_AUTO_INHERITED)
	writeACL("S:", sd.SACL, SE_SACL_PRESENT, SE_SACL_PROTECTED, SE_SACL_AUTO_INHERIT_REQ, SE_SACL_AUTO_INHERITED)
	return b.String()
}
