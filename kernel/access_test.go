package kernel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// accessVector is one line of testdata/accesscheck/vectors.json.
type accessVector struct {
	Name            string `json:"name"`
	SDDL            string `json:"sddl"`
	DefaultPortMask string `json:"default_port_mask"`
	Token           string `json:"token"`
	Mapping         string `json:"mapping"`
	Desired         string `json:"desired"`
	Granted         string `json:"granted"`
	Status          string `json:"status"`
	Description     string `json:"description"`
}

// presetTokens maps the token names used by the vectors to the presets.
func presetTokens() map[string]func() *Token {
	return map[string]func() *Token{
		"system":         TokenSystem,
		"admin":          TokenAdmin,
		"filtered_admin": TokenFilteredAdmin,
		"standard_user":  TokenStandardUser,
		"low":            TokenLowIntegrity,
		"anonymous":      TokenAnonymous,
	}
}

func parseVectorMask(t *testing.T, s string) AccessMask {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 32)
	require.NoError(t, err, "mask %q", s)
	return AccessMask(v)
}

func vectorStatus(t *testing.T, s string) NTSTATUS {
	t.Helper()
	switch s {
	case "STATUS_SUCCESS":
		return STATUS_SUCCESS
	case "STATUS_ACCESS_DENIED":
		return STATUS_ACCESS_DENIED
	case "STATUS_PRIVILEGE_NOT_HELD":
		return STATUS_PRIVILEGE_NOT_HELD
	case "STATUS_INVALID_PARAMETER":
		return STATUS_INVALID_PARAMETER
	}
	t.Fatalf("unknown status %q", s)
	return 0
}

func loadAccessVectors(t *testing.T) []accessVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "accesscheck", "vectors.json"))
	require.NoError(t, err)
	var vs []accessVector
	require.NoError(t, json.Unmarshal(data, &vs))
	return vs
}

func TestAccessCheckVectors(t *testing.T) {
	t.Parallel()
	vs := loadAccessVectors(t)
	require.GreaterOrEqual(t, len(vs), 40)
	tokens := presetTokens()
	names := map[string]bool{}
	for _, v := range vs {
		require.False(t, names[v.Name], "duplicate vector name %q", v.Name)
		names[v.Name] = true
		t.Run(v.Name, func(t *testing.T) {
			var sd *SecurityDescriptor
			switch {
			case v.DefaultPortMask != "" && v.SDDL != "":
				t.Fatalf("vector has both sddl and default_port_mask")
			case v.DefaultPortMask != "":
				sd = DefaultPortSecurityDescriptor(parseVectorMask(t, v.DefaultPortMask))
			default:
				var err error
				sd, err = ParseSDDL(v.SDDL)
				require.NoError(t, err)
				// The descriptor must survive a round trip through SDDL text.
				again, err := ParseSDDL(sd.SDDL())
				require.NoError(t, err)
				require.Equal(t, sd, again)
			}
			mk, ok := tokens[v.Token]
			require.True(t, ok, "unknown token %q", v.Token)
			mapping := PortGenericMapping()
			switch v.Mapping {
			case "", "port":
			case "file":
				mapping = FileGenericMapping()
			default:
				t.Fatalf("unknown mapping %q", v.Mapping)
			}
			granted, status, reason := AccessCheckWithReason(sd, mk(), parseVectorMask(t, v.Desired), mapping)
			require.Equal(t, vectorStatus(t, v.Status), status, "%s\nreason: %s\nsd: %v", v.Description, reason, sd)
			require.Equal(t, parseVectorMask(t, v.Granted), granted, "%s\nreason: %s", v.Description, reason)
		})
	}
}

// TestAccessCheckVectorsCoverDefaultPort checks that the vectors try the default port
// descriptor, built for FLT_PORT_ALL_ACCESS and for FLT_PORT_CONNECT, against every preset.
func TestAccessCheckVectorsCoverDefaultPort(t *testing.T) {
	t.Parallel()
	covered := map[[2]string]bool{}
	for _, v := range loadAccessVectors(t) {
		if v.DefaultPortMask != "" && parseVectorMask(t, v.Desired) == FLT_PORT_CONNECT {
			covered[[2]string{v.DefaultPortMask, v.Token}] = true
		}
	}
	for name := range presetTokens() {
		for _, mask := range []AccessMask{FLT_PORT_ALL_ACCESS, FLT_PORT_CONNECT} {
			found := false
			for k := range covered {
				if k[1] == name && parseVectorMask(t, k[0]) == mask {
					found = true
				}
			}
			require.True(t, found, "no vector for default port descriptor %v and token %s", mask, name)
		}
	}
}

// TestAccessCheckDefaultPortConnect states R-MODEL-2 directly: who may connect to a port with
// the default descriptor.
func TestAccessCheckDefaultPortConnect(t *testing.T) {
	t.Parallel()
	want := map[string]bool{"system": true, "admin": true, "filtered_admin": false,
		"standard_user": false, "low": false, "anonymous": false}
	for name, mk := range presetTokens() {
		for _, mask := range []AccessMask{FLT_PORT_ALL_ACCESS, FLT_PORT_CONNECT} {
			granted, status := AccessCheck(DefaultPortSecurityDescriptor(mask), mk(), FLT_PORT_CONNECT, PortGenericMapping())
			if want[name] {
				require.Equal(t, STATUS_SUCCESS, status, name)
				require.Equal(t, FLT_PORT_CONNECT, granted, name)
			} else {
				require.Equal(t, STATUS_ACCESS_DENIED, status, name)
				require.Zero(t, granted, name)
			}
		}
	}
}

func TestAccessCheckInvalidInput(t *testing.T) {
	t.Parallel()
	sd := DefaultPortSecurityDescriptor(FLT_PORT_ALL_ACCESS)
	tok := TokenSystem()
	tests := []struct {
		name    string
		sd      *SecurityDescriptor
		tok     *Token
		mapping GenericMapping
	}{
		{"nil sd", nil, tok, PortGenericMapping()},
		{"nil token", sd, nil, PortGenericMapping()},
		{"zero mapping", sd, tok, GenericMapping{}},
		{"generic bits in mapping", sd, tok, GenericMapping{GenericRead: GENERIC_READ, GenericAll: FLT_PORT_ALL_ACCESS}},
		{"zero SID in ACE", &SecurityDescriptor{DACL: &ACL{ACEs: []ACE{{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: 1}}}}, tok, PortGenericMapping()},
		{"label ACE in DACL", &SecurityDescriptor{DACL: &ACL{ACEs: []ACE{{Type: SYSTEM_MANDATORY_LABEL_ACE_TYPE, Mask: 1, SID: SIDIntegrity(IntegrityLow)}}}}, tok, PortGenericMapping()},
		{"allow ACE in SACL", &SecurityDescriptor{SACL: &ACL{ACEs: []ACE{{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: 1, SID: SIDEveryone()}}}}, tok, PortGenericMapping()},
		{"label with non-integrity SID", &SecurityDescriptor{SACL: &ACL{ACEs: []ACE{{Type: SYSTEM_MANDATORY_LABEL_ACE_TYPE, Mask: 1, SID: SIDEveryone()}}}}, tok, PortGenericMapping()},
		{"label with bad policy", &SecurityDescriptor{SACL: &ACL{ACEs: []ACE{{Type: SYSTEM_MANDATORY_LABEL_ACE_TYPE, Mask: 8, SID: SIDIntegrity(IntegrityLow)}}}}, tok, PortGenericMapping()},
		{"unknown ACE flags", &SecurityDescriptor{DACL: &ACL{ACEs: []ACE{{Type: ACCESS_ALLOWED_ACE_TYPE, Flags: 0x20, Mask: 1, SID: SIDEveryone()}}}}, tok, PortGenericMapping()},
		{"zero owner", &SecurityDescriptor{Owner: &SID{}}, tok, PortGenericMapping()},
		{"zero group", &SecurityDescriptor{Group: &SID{}}, tok, PortGenericMapping()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			granted, status := AccessCheck(tc.sd, tc.tok, FLT_PORT_CONNECT, tc.mapping)
			require.Equal(t, STATUS_INVALID_PARAMETER, status)
			require.Zero(t, granted)
		})
	}
}

func TestAccessCheckDoesNotModifyDescriptor(t *testing.T) {
	t.Parallel()
	sd := MustParseSDDL("O:BAD:(D;;SD;;;BU)(A;;GA;;;BU)S:(ML;;NW;;;ME)")
	before := sd.Clone()
	for _, mk := range presetTokens() {
		AccessCheck(sd, mk(), MAXIMUM_ALLOWED|GENERIC_READ, PortGenericMapping())
	}
	require.Equal(t, before, sd)
}

func TestAccessGenericMapping(t *testing.T) {
	t.Parallel()
	port := PortGenericMapping()
	require.Equal(t, GenericMapping{
		GenericRead:    0x00020001,
		GenericWrite:   0x00010001,
		GenericExecute: 0,
		GenericAll:     0x001F0001,
	}, port)
	require.NoError(t, port.Validate())
	file := FileGenericMapping()
	require.Equal(t, AccessMask(0x00120089), file.GenericRead)
	require.Equal(t, AccessMask(0x00120116), file.GenericWrite)
	require.Equal(t, AccessMask(0x001200A0), file.GenericExecute)
	require.Equal(t, AccessMask(0x001F01FF), file.GenericAll)
	require.NoError(t, file.Validate())

	tests := []struct {
		in, want AccessMask
	}{
		{0, 0},
		{GENERIC_READ, 0x00020001},
		{GENERIC_WRITE, 0x00010001},
		{GENERIC_EXECUTE, 0},
		{GENERIC_ALL, FLT_PORT_ALL_ACCESS},
		{GENERIC_READ | SYNCHRONIZE, 0x00120001},
		{MAXIMUM_ALLOWED | GENERIC_WRITE, MAXIMUM_ALLOWED | 0x00010001},
		{ACCESS_SYSTEM_SECURITY, ACCESS_SYSTEM_SECURITY},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, port.Map(tc.in), "Map(%v)", tc.in)
	}
}

func TestAccessMaskConstants(t *testing.T) {
	t.Parallel()
	require.Equal(t, AccessMask(0x001F0001), FLT_PORT_ALL_ACCESS)
	require.Equal(t, AccessMask(0x001F01FF), FILE_ALL_ACCESS)
	require.Equal(t, AccessMask(0x000F0000), STANDARD_RIGHTS_REQUIRED)
	require.Equal(t, AccessMask(0x001F0000), STANDARD_RIGHTS_ALL)
	require.Equal(t, "0x001F0001", FLT_PORT_ALL_ACCESS.String())
}

func TestAccessCheckRelabelPrivilege(t *testing.T) {
	t.Parallel()
	sd := MustParseSDDL("D:(A;;0x1f0001;;;BU)S:(ML;;NW;;;HI)")
	plain, err := NewTokenBuilder(SIDStandardUser()).Group(SIDUsers(), seGroupDefault).Build()
	require.NoError(t, err)
	_, status := AccessCheck(sd, plain, WRITE_OWNER, PortGenericMapping())
	require.Equal(t, STATUS_ACCESS_DENIED, status)

	relabel, err := NewTokenBuilder(SIDStandardUser()).Group(SIDUsers(), seGroupDefault).
		Privilege(SE_RELABEL_NAME, true).Build()
	require.NoError(t, err)
	granted, status := AccessCheck(sd, relabel, WRITE_OWNER, PortGenericMapping())
	require.Equal(t, STATUS_SUCCESS, status)
	require.Equal(t, WRITE_OWNER, granted)

	// SeTakeOwnershipPrivilege does not lift the integrity check.
	takeOwner, err := NewTokenBuilder(SIDStandardUser()).Integrity(IntegrityLow).
		Privilege(SE_TAKE_OWNERSHIP_NAME, true).Build()
	require.NoError(t, err)
	_, status = AccessCheck(MustParseSDDL("D:"), takeOwner, WRITE_OWNER, PortGenericMapping())
	require.Equal(t, STATUS_ACCESS_DENIED, status)
	granted, status = AccessCheck(MustParseSDDL("D:S:(ML;;NW;;;LW)"), takeOwner, WRITE_OWNER, PortGenericMapping())
	require.Equal(t, STATUS_SUCCESS, status)
	require.Equal(t, WRITE_OWNER, granted)
	_, status = AccessCheck(MustParseSDDL("D:(A;;0x1f0001;;;WD)"), takeOwner, MAXIMUM_ALLOWED|WRITE_OWNER, PortGenericMapping())
	require.Equal(t, STATUS_ACCESS_DENIED, status)
}

func TestAccessCheckEnabledPrivilege(t *testing.T) {
	t.Parallel()
	sd := MustParseSDDL("D:(A;;0x1f0001;;;WD)")
	_, status := AccessCheck(sd, TokenAdmin(), ACCESS_SYSTEM_SECURITY, PortGenericMapping())
	require.Equal(t, STATUS_PRIVILEGE_NOT_HELD, status)
	admin, err := TokenAdmin().WithPrivilegeEnabled(SE_SECURITY_NAME)
	require.NoError(t, err)
	granted, status := AccessCheck(sd, admin, ACCESS_SYSTEM_SECURITY|FLT_PORT_CONNECT, PortGenericMapping())
	require.Equal(t, STATUS_SUCCESS, status)
	require.Equal(t, ACCESS_SYSTEM_SECURITY|FLT_PORT_CONNECT, granted)
}

func TestAccessCheckWithReason(t *testing.T) {
	t.Parallel()
	sd := MustParseSDDL("D:(D;;CC;;;BU)(A;;CC;;;WD)")
	_, status, reason := AccessCheckWithReason(sd, TokenStandardUser(), FLT_PORT_CONNECT, PortGenericMapping())
	require.Equal(t, STATUS_ACCESS_DENIED, status)
	require.Equal(t, "denied by ACE 0 (0x00000001 for BU)", reason)
	_, status, reason = AccessCheckWithReason(sd, TokenSystem(), FLT_PORT_CONNECT, PortGenericMapping())
	require.Equal(t, STATUS_SUCCESS, status)
	require.Equal(t, "granted by ACE 1", reason)
}

func TestSecurityDescriptorMutators(t *testing.T) {
	t.Parallel()
	sd := &SecurityDescriptor{}
	require.NoError(t, sd.AddAccessAllowed(SIDUsers(), FLT_PORT_CONNECT))
	require.NoError(t, sd.AddAccessDenied(SIDGuests(), FLT_PORT_ALL_ACCESS))
	require.NoError(t, sd.SetMandatoryLabel(IntegrityHigh, SYSTEM_MANDATORY_LABEL_NO_WRITE_UP))
	require.NoError(t, sd.SetMandatoryLabel(IntegrityLow, SYSTEM_MANDATORY_LABEL_NO_WRITE_UP|SYSTEM_MANDATORY_LABEL_NO_READ_UP))
	require.Equal(t, "D:(A;;CC;;;BU)(D;;0x1f0001;;;BG)S:(ML;;NWNR;;;LW)", sd.SDDL())
	level, policy, present := sd.MandatoryLabel()
	require.True(t, present)
	require.Equal(t, IntegrityLow, level)
	require.Equal(t, SYSTEM_MANDATORY_LABEL_NO_WRITE_UP|SYSTEM_MANDATORY_LABEL_NO_READ_UP, policy)
	require.NoError(t, sd.Validate())

	require.Error(t, sd.AddAccessAllowed(SID{}, 1))
	require.Error(t, sd.AddAccessDenied(SIDIntegrity(IntegrityLow), 1))
	require.Error(t, sd.SetMandatoryLabel(IntegrityLow, 0x8))
	var nilSD *SecurityDescriptor
	require.Error(t, nilSD.AddAccessAllowed(SIDUsers(), 1))
	require.Error(t, nilSD.AddAccessDenied(SIDUsers(), 1))
	require.Error(t, nilSD.SetMandatoryLabel(IntegrityLow, 1))
	require.Error(t, nilSD.Validate())
	require.Nil(t, nilSD.Clone())
	require.Equal(t, "", nilSD.SDDL())
	require.Equal(t, "<nil>", nilSD.String())
	require.Equal(t, "<empty>", (&SecurityDescriptor{}).String())

	level, policy, present = nilSD.MandatoryLabel()
	require.False(t, present)
	require.Equal(t, IntegrityMedium, level)
	require.Equal(t, SYSTEM_MANDATORY_LABEL_NO_WRITE_UP, policy)
}

func TestSecurityDescriptorClone(t *testing.T) {
	t.Parallel()
	sd := MustParseSDDL("O:BAG:SYD:PAI(A;OICI;FA;;;SY)(D;;WD;;;BG)S:(ML;;NW;;;HI)")
	c := sd.Clone()
	require.Equal(t, sd, c)
	*c.Owner = SIDUsers()
	c.DACL.ACEs[0].Mask = 1
	c.SACL.ACEs = nil
	require.Equal(t, "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(D;;WD;;;BG)S:(ML;;NW;;;HI)", sd.SDDL())

	empty := &SecurityDescriptor{DACL: &ACL{}}
	require.Equal(t, empty, empty.Clone())
	require.Nil(t, empty.Clone().DACL.ACEs)
}

func TestSecurityDefaultPortDescriptor(t *testing.T) {
	t.Parallel()
	sd := DefaultPortSecurityDescriptor(FLT_PORT_ALL_ACCESS)
	require.Equal(t, "D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)", sd.SDDL())
	require.Equal(t, MustParseSDDL("D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)"), sd)
	require.Equal(t, "D:P(A;;CC;;;SY)(A;;CC;;;BA)", DefaultPortSecurityDescriptor(FLT_PORT_CONNECT).SDDL())
	// Each call is a new descriptor.
	other := DefaultPortSecurityDescriptor(FLT_PORT_ALL_ACCESS)
	other.DACL.ACEs[0].Mask = 0
	require.Equal(t, FLT_PORT_ALL_ACCESS, sd.DACL.ACEs[0].Mask)
}
