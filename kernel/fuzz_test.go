package kernel_test

// Fuzz targets of the kernel: the parsers and checks that take untrusted input. The SDDL and SID
// parsers have theirs in sddl_test.go and sid_test.go. Seeds: f.Add below and
// testdata/fuzz/<FuzzName>/ in this directory; a plain `go test` runs both. To fuzz:
//
//	go test -run '^$' -fuzz '^FuzzAccessCheck$' -fuzztime 60s ./kernel
//	go test -run '^$' -fuzz '^FuzzNtStatusToHResult$' -fuzztime 60s ./kernel

import (
	"testing"

	"github.com/fltemu/fltemu/kernel"
)

// ---- FuzzAccessCheck ----

// fzReader hands out the fuzz input a byte at a time; past the end it returns zeros, so every
// input decodes to some token and descriptor.
type fzReader struct {
	b []byte
	i int
}

func (r *fzReader) byte() byte {
	if r.i >= len(r.b) {
		return 0
	}
	v := r.b[r.i]
	r.i++
	return v
}

func (r *fzReader) u32() uint32 {
	return uint32(r.byte()) | uint32(r.byte())<<8 | uint32(r.byte())<<16 | uint32(r.byte())<<24
}

// fzSIDs is the palette of SIDs tokens and ACEs are drawn from: small, so that ACEs often match.
var fzSIDs = []kernel.SID{
	kernel.SIDLocalSystem(), kernel.SIDAdministrators(), kernel.SIDUsers(), kernel.SIDEveryone(),
	kernel.SIDAuthenticatedUsers(), kernel.SIDInteractive(), kernel.SIDAdminUser(), kernel.SIDStandardUser(),
	kernel.SIDAnonymous(), kernel.SIDOwnerRights(), kernel.SIDGuests(), kernel.SIDNetworkService(),
}

var fzLevels = []kernel.IntegrityLevel{kernel.IntegrityUntrusted, kernel.IntegrityLow, kernel.IntegrityMedium,
	kernel.IntegrityHigh, kernel.IntegritySystem}

var fzMasks = []kernel.AccessMask{kernel.FLT_PORT_CONNECT, kernel.FLT_PORT_ALL_ACCESS, kernel.GENERIC_READ,
	kernel.GENERIC_WRITE, kernel.GENERIC_EXECUTE, kernel.GENERIC_ALL, kernel.READ_CONTROL, kernel.WRITE_DAC,
	kernel.WRITE_OWNER, kernel.DELETE, kernel.SYNCHRONIZE, kernel.MAXIMUM_ALLOWED, kernel.ACCESS_SYSTEM_SECURITY,
	kernel.FILE_GENERIC_READ, kernel.FILE_ALL_ACCESS}

var fzPrivileges = []string{kernel.SE_SECURITY_NAME, kernel.SE_TAKE_OWNERSHIP_NAME, kernel.SE_RELABEL_NAME}

func (r *fzReader) mask() kernel.AccessMask {
	b := r.byte()
	if b < 200 {
		m := fzMasks[int(b)%len(fzMasks)]
		if b&0x40 != 0 {
			m |= fzMasks[int(r.byte())%len(fzMasks)]
		}
		return m
	}
	return kernel.AccessMask(r.u32())
}

// fzGroup is a token group in the spec; denyOnly groups are the ones the properties remove.
type fzGroup struct {
	sid   kernel.SID
	attrs kernel.GroupAttributes
}

// fzSpec is a decoded input: a token description, a descriptor, a desired mask and a mapping.
type fzSpec struct {
	user    kernel.SID
	groups  []fzGroup
	level   kernel.IntegrityLevel
	privs   []kernel.Privilege
	sd      *kernel.SecurityDescriptor
	desired kernel.AccessMask
	mapping kernel.GenericMapping
}

func fzDecode(data []byte) fzSpec {
	r := &fzReader{b: data}
	var s fzSpec
	s.user = fzSIDs[int(r.byte())%len(fzSIDs)]
	for n := int(r.byte() % 5); n > 0; n-- {
		sid := fzSIDs[int(r.byte())%len(fzSIDs)]
		var attrs kernel.GroupAttributes
		switch r.byte() % 4 {
		case 0, 1:
			attrs = kernel.SE_GROUP_MANDATORY | kernel.SE_GROUP_ENABLED_BY_DEFAULT | kernel.SE_GROUP_ENABLED
		case 2:
			attrs = kernel.SE_GROUP_USE_FOR_DENY_ONLY
		case 3:
			attrs = 0 // present but disabled
		}
		s.groups = append(s.groups, fzGroup{sid, attrs})
	}
	s.level = fzLevels[int(r.byte())%len(fzLevels)]
	pb := r.byte()
	for i, name := range fzPrivileges {
		if pb>>(2*i)&1 != 0 {
			s.privs = append(s.privs, kernel.Privilege{Name: name, Enabled: pb>>(2*i+1)&1 != 0})
		}
	}

	sd := &kernel.SecurityDescriptor{}
	if b := r.byte(); b%3 == 0 {
		o := fzSIDs[int(b/3)%len(fzSIDs)]
		sd.Owner = &o
	}
	sd.Control |= kernel.SE_DACL_PRESENT // with DACL nil: a NULL DACL
	if r.byte()%8 != 0 {
		sd.DACL = &kernel.ACL{}
		for n := int(r.byte() % 7); n > 0; n-- {
			t := kernel.ACCESS_ALLOWED_ACE_TYPE
			fb := r.byte()
			if fb&1 != 0 {
				t = kernel.ACCESS_DENIED_ACE_TYPE
			}
			var flags kernel.ACEFlags
			if fb&0x6 == 0x6 {
				flags = kernel.INHERIT_ONLY_ACE | kernel.OBJECT_INHERIT_ACE
			}
			sd.DACL.ACEs = append(sd.DACL.ACEs, kernel.ACE{Type: t, Flags: flags, Mask: r.mask(),
				SID: fzSIDs[int(r.byte())%len(fzSIDs)]})
		}
	}
	if b := r.byte(); b%3 == 0 {
		level := fzLevels[int(b/3)%len(fzLevels)]
		_ = sd.SetMandatoryLabel(level, kernel.AccessMask(r.byte()%8))
	}
	s.sd = sd
	s.desired = r.mask()
	s.mapping = kernel.PortGenericMapping()
	if r.byte()%4 == 0 {
		s.mapping = kernel.FileGenericMapping()
	}
	return s
}

// token builds the spec's token, leaving out the groups drop rejects.
func (s fzSpec) token(drop func(fzGroup) bool) (*kernel.Token, error) {
	b := kernel.NewTokenBuilder(s.user).Name("fuzz").Integrity(s.level)
	for _, g := range s.groups {
		if drop == nil || !drop(g) {
			b.Group(g.sid, g.attrs)
		}
	}
	for _, p := range s.privs {
		b.Privilege(p.Name, p.Enabled)
	}
	return b.Build()
}

var fzStatuses = map[kernel.NTSTATUS]bool{kernel.STATUS_SUCCESS: true, kernel.STATUS_ACCESS_DENIED: true,
	kernel.STATUS_PRIVILEGE_NOT_HELD: true, kernel.STATUS_INVALID_PARAMETER: true}

// FuzzAccessCheck checks properties of the access check on random tokens and descriptors:
//   - it never panics, is deterministic, and returns one of its documented statuses;
//   - success grants at least what was asked (exactly that without MAXIMUM_ALLOWED) and never
//     0; failure grants nothing;
//   - a deny ACE that matches the token (through the user, an enabled group or a deny-only
//     group) wins for the rights it names that no earlier matching allow ACE granted: those
//     rights are never granted, and a request naming one fails (rights the owner or a privilege
//     gets before the DACL is read excepted);
//   - a deny-only group never grants: removing every deny-only group from the token never
//     takes a right away;
//   - integrity never grants: the same token at System integrity gets at least as much;
//   - the descriptor printed as SDDL and parsed back gets the same decision.
func FuzzAccessCheck(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{6, 1, 1, 2, 2, 0x55, 1, 1, 1, 0, 0, 0, 0}, // admin user, BA deny-only
		{7, 2, 2, 0, 3, 0, 1, 0, 1, 3, 0, 0, 0, 0},
		{7, 1, 2, 0, 1, 0, 3, 2, 1, 0, 2, 0, 0, 0, 0, 0},             // deny then allow for BU
		{6, 1, 1, 2, 2, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0},                // filtered admin vs BA-only DACL
		{7, 0, 1, 0, 0, 1, 1, 0, 3, 0, 0, 6, 2, 0},                   // low integrity, label ME NWNR
		{9, 3, 9, 0, 1, 2, 2, 2, 3, 0, 2, 3, 0, 9, 1, 0, 9, 0, 0, 0}, // OWNER RIGHTS ACEs
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fzDecode(data)
		tok, err := s.token(nil)
		if err != nil {
			return // the builder refused the combination (a group twice, the user as a group, ...)
		}
		granted, st := kernel.AccessCheck(s.sd, tok, s.desired, s.mapping)
		g2, st2 := kernel.AccessCheck(s.sd, tok, s.desired, s.mapping)
		if g2 != granted || st2 != st {
			t.Fatalf("not deterministic: %v %v then %v %v", granted, st, g2, st2)
		}
		if !fzStatuses[st] {
			t.Fatalf("undocumented status %v", st)
		}
		want := s.mapping.Map(s.desired) &^ kernel.MAXIMUM_ALLOWED
		maxAllowed := s.desired&kernel.MAXIMUM_ALLOWED != 0
		if st != kernel.STATUS_SUCCESS {
			if granted != 0 {
				t.Fatalf("%v with granted %v", st, granted)
			}
		} else {
			if granted == 0 || granted&want != want || (!maxAllowed && granted != want) {
				t.Fatalf("asked %v (mapped %v), granted %v", s.desired, want, granted)
			}
		}
		if err := s.sd.Validate(); err != nil {
			return // the properties below are about valid descriptors
		}

		// A matching deny ACE wins.
		denied := fzDeniedBits(s.sd, tok, s.mapping)
		if granted&denied != 0 {
			t.Fatalf("granted %v includes %v, which a matching deny ACE names first (SD %s)", granted, granted&denied, s.sd.SDDL())
		}
		if !maxAllowed && want&denied != 0 && st == kernel.STATUS_SUCCESS {
			t.Fatalf("asked %v, which a matching deny ACE denies (%v), and got it (SD %s)", want, want&denied, s.sd.SDDL())
		}

		// A deny-only group never grants.
		plain, err := s.token(func(g fzGroup) bool { return g.attrs&kernel.SE_GROUP_USE_FOR_DENY_ONLY != 0 })
		if err == nil {
			gp, stp := kernel.AccessCheck(s.sd, plain, s.desired, s.mapping)
			if st == kernel.STATUS_SUCCESS && (stp != kernel.STATUS_SUCCESS || granted&^gp != 0) {
				t.Fatalf("deny-only groups granted something: with them %v %v, without %v %v (SD %s)", granted, st, gp, stp, s.sd.SDDL())
			}
		}

		// Integrity never grants: at System integrity (above every label) the token gets at
		// least as much. (Removing the label is not the same thing: no label means Medium.)
		top := s
		top.level = kernel.IntegritySystem
		if ttop, err := top.token(nil); err == nil {
			gt, stt := kernel.AccessCheck(s.sd, ttop, s.desired, s.mapping)
			if st == kernel.STATUS_SUCCESS && (stt != kernel.STATUS_SUCCESS || granted&^gt != 0) {
				t.Fatalf("integrity granted something: at %v %v %v, at System %v %v (SD %s)", s.level, granted, st, gt, stt, s.sd.SDDL())
			}
		}

		// The SDDL form decides the same.
		text := s.sd.SDDL()
		if text == "" {
			return // nothing to print (ParseSDDL refuses "" by design)
		}
		back, err := kernel.ParseSDDL(text)
		if err != nil {
			t.Fatalf("SDDL %q of a valid descriptor does not parse: %v", text, err)
		}
		gb, stb := kernel.AccessCheck(back, tok, s.desired, s.mapping)
		if gb != granted || stb != st {
			t.Fatalf("%q decides %v %v, the descriptor it came from %v %v", text, gb, stb, granted, st)
		}
	})
}

// fzDeniedBits returns the rights a deny ACE matching tok names before any matching allow ACE
// granted them, minus the rights the owner and privileges get before the DACL is walked
// (MS-DTYP 2.5.3.2; SeAccessCheck).
func fzDeniedBits(sd *kernel.SecurityDescriptor, tok *kernel.Token, mapping kernel.GenericMapping) kernel.AccessMask {
	if sd.DACL == nil {
		return 0
	}
	isOwner := sd.Owner != nil && tok.IsMember(*sd.Owner, false)
	hasOW := false
	for _, ace := range sd.DACL.ACEs {
		if ace.Flags&kernel.INHERIT_ONLY_ACE == 0 && ace.SID == kernel.SIDOwnerRights() {
			hasOW = true
		}
	}
	matches := func(ace kernel.ACE, forDeny bool) bool {
		if ace.SID == kernel.SIDOwnerRights() {
			return isOwner
		}
		return tok.IsMember(ace.SID, forDeny)
	}
	var allowed, denied kernel.AccessMask
	for _, ace := range sd.DACL.ACEs {
		if ace.Flags&kernel.INHERIT_ONLY_ACE != 0 {
			continue
		}
		m := mapping.Map(ace.Mask)
		switch ace.Type {
		case kernel.ACCESS_ALLOWED_ACE_TYPE:
			if matches(ace, false) {
				allowed |= m
			}
		case kernel.ACCESS_DENIED_ACE_TYPE:
			if matches(ace, true) {
				denied |= m &^ allowed
			}
		}
	}
	denied &^= kernel.ACCESS_SYSTEM_SECURITY | kernel.MAXIMUM_ALLOWED
	if isOwner && !hasOW {
		denied &^= kernel.READ_CONTROL | kernel.WRITE_DAC
	}
	if tok.HasPrivilege(kernel.SE_TAKE_OWNERSHIP_NAME) {
		denied &^= kernel.WRITE_OWNER
	}
	return denied
}

// ---- FuzzNtStatusToHResult ----

// FuzzNtStatusToHResult checks that the NTSTATUS → HRESULT mapping (R-HR) is total and keeps its
// rules for every 32-bit value: S_OK only for STATUS_SUCCESS; a failure or warning status
// always gives a failure HRESULT; a filter-manager status (facility 0x1C) other than
// FLT_BUFFER_TOO_SMALL keeps its code under facility 0x1F; every other non-zero status goes
// through a Win32 error (never ERROR_SUCCESS) and HRESULT_FROM_WIN32; the result is the same
// every time.
func FuzzNtStatusToHResult(f *testing.F) {
	for _, s := range []uint32{0, 0x102, 0x103, 0x80000005, 0xC0000037, 0xC01C0020, 0x801C0001, 0x401C0001,
		0x001C0005, 0xC0000246, 0xDEADBEEF, 0x40000000, 0xC0000120, 0xFFFFFFFF, 0x80000002} {
		f.Add(s)
	}
	// The table of docs/rules.md §1 R-HR.
	table := map[kernel.NTSTATUS]kernel.HRESULT{
		kernel.STATUS_SUCCESS: 0, kernel.STATUS_PENDING: 0x800703E5, kernel.STATUS_PORT_DISCONNECTED: 0x80070006,
		kernel.STATUS_OBJECT_NAME_NOT_FOUND: 0x80070002, kernel.STATUS_ACCESS_DENIED: 0x80070005,
		kernel.STATUS_THREAD_IS_TERMINATING: 0x80070005, kernel.STATUS_BUFFER_TOO_SMALL: 0x8007007A,
		kernel.STATUS_BUFFER_OVERFLOW: 0x800700EA, kernel.STATUS_INVALID_PARAMETER: 0x80070057,
		kernel.STATUS_INVALID_PARAMETER_3: 0x80070057, kernel.STATUS_CANCELLED: 0x800703E3,
		kernel.STATUS_CONNECTION_COUNT_LIMIT: 0x800704D6, kernel.STATUS_INSUFFICIENT_RESOURCES: 0x800705AA,
		kernel.STATUS_TIMEOUT: 0x80070102, kernel.STATUS_NOT_SUPPORTED: 0x80070032,
		kernel.STATUS_PRIVILEGE_NOT_HELD: 0x80070522, kernel.STATUS_DATATYPE_MISALIGNMENT: 0x800703E6,
		kernel.STATUS_FLT_BUFFER_TOO_SMALL: 0x8007007A, kernel.STATUS_FLT_NO_WAITER_FOR_REPLY: 0x801F0020,
		kernel.STATUS_FLT_DELETING_OBJECT: 0x801F000B, kernel.STATUS_FLT_DO_NOT_DETACH: 0x801F0010,
	}
	f.Fuzz(func(t *testing.T, v uint32) {
		s := kernel.NTSTATUS(v)
		hr := kernel.HResultFromNtStatus(s)
		if again := kernel.HResultFromNtStatus(s); again != hr {
			t.Fatalf("%v: %v then %v", s, hr, again)
		}
		_ = hr.Error() // printing never panics
		_ = s.Error()
		if want, ok := table[s]; ok && hr != want {
			t.Fatalf("%v maps to %v, R-HR says %v", s, hr, want)
		}
		if (hr == kernel.S_OK) != (s == kernel.STATUS_SUCCESS) {
			t.Fatalf("%v maps to %v", s, hr)
		}
		if (s.IsError() || s.IsWarning()) && !hr.Failed() {
			t.Fatalf("failure status %v maps to the success HRESULT %v", s, hr)
		}
		switch {
		case s == kernel.STATUS_SUCCESS:
		case s == kernel.STATUS_FLT_BUFFER_TOO_SMALL:
			if hr != kernel.HResultFromWin32(kernel.ERROR_INSUFFICIENT_BUFFER) {
				t.Fatalf("%v maps to %v", s, hr)
			}
		case s.Facility() == kernel.FacilityFilterManager && s != kernel.STATUS_FLT_BUFFER_TOO_SMALL:
			if want := kernel.HRESULT(v&0x8000FFFF | 0x001F0000); hr != want {
				t.Fatalf("filter-manager status %v maps to %v, want %v", s, hr, want)
			}
		default:
			e := kernel.NtStatusToDosError(s)
			if e == kernel.ERROR_SUCCESS {
				t.Fatalf("%v maps to ERROR_SUCCESS", s)
			}
			if hr != kernel.HResultFromWin32(e) || !hr.Failed() {
				t.Fatalf("%v maps to %v, want HRESULT_FROM_WIN32(%v)", s, hr, e)
			}
			// A Win32 code carries through HRESULT_FROM_WIN32; an HRESULT-valued one (a
			// customer status returned as is, ERROR_FLT_*) passes unchanged.
			if w, ok := hr.Win32(); e <= 0xFFFF && (!ok || w != e) {
				t.Fatalf("%v: %v does not carry %v", s, hr, e)
			}
		}
	})
}

// ---- inputs the fuzzers found, replayed as plain tests ----

// TestAccessCheckFuzzFindings pins two access-check corners where a grant must not be
// computed piecemeal (the fuzz inputs are 4cec224b527b7307 and edc8c961e06cddc9 in
// testdata/fuzz/FuzzAccessCheck).
func TestAccessCheckFuzzFindings(t *testing.T) {
	// A generic right the object type maps to nothing (GENERIC_EXECUTE on a port) is a request
	// for nothing, which is denied like a desired mask of 0 — not "granted 0" with success.
	nullDACL := &kernel.SecurityDescriptor{Control: kernel.SE_DACL_PRESENT}
	g, st := kernel.AccessCheck(nullDACL, kernel.TokenSystem(), kernel.GENERIC_EXECUTE, kernel.PortGenericMapping())
	if st != kernel.STATUS_ACCESS_DENIED || g != 0 {
		t.Fatalf("GENERIC_EXECUTE on a port: got %v %v, want 0 STATUS_ACCESS_DENIED", g, st)
	}

	// MAXIMUM_ALLOWED plus an explicit right that a privilege grants but integrity forbids: the
	// explicit right is not grantable, so the whole request fails, as it does without
	// MAXIMUM_ALLOWED.
	tok, err := kernel.NewTokenBuilder(kernel.SIDStandardUser()).Name("low owner-taker").
		Group(kernel.SIDEveryone(), kernel.SE_GROUP_MANDATORY|kernel.SE_GROUP_ENABLED_BY_DEFAULT|kernel.SE_GROUP_ENABLED).
		Integrity(kernel.IntegrityLow).Privilege(kernel.SE_TAKE_OWNERSHIP_NAME, true).Build()
	if err != nil {
		t.Fatal(err)
	}
	sd := kernel.MustParseSDDL("D:(A;;FA;;;WD)") // no label: Medium, NO_WRITE_UP
	for _, desired := range []kernel.AccessMask{kernel.WRITE_OWNER, kernel.MAXIMUM_ALLOWED | kernel.WRITE_OWNER} {
		g, st := kernel.AccessCheck(sd, tok, desired, kernel.FileGenericMapping())
		if st != kernel.STATUS_ACCESS_DENIED || g != 0 {
			t.Fatalf("%v for a Low token with SeTakeOwnershipPrivilege: got %v %v, want 0 STATUS_ACCESS_DENIED", desired, g, st)
		}
	}
	// MAXIMUM_ALLOWED alone still gets the read and execute rights.
	g, st = kernel.AccessCheck(sd, tok, kernel.MAXIMUM_ALLOWED, kernel.FileGenericMapping())
	if st != kernel.STATUS_SUCCESS || g&kernel.WRITE_OWNER != 0 || g&kernel.FILE_READ_DATA == 0 {
		t.Fatalf("MAXIMUM_ALLOWED for a Low token: got %v %v", g, st)
	}
}
