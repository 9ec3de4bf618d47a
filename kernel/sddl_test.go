package kernel

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSDDLParse(t *testing.T) {
	t.Parallel()
	sd, err := ParseSDDL("O:BAG:SYD:PAI(A;OICI;FA;;;SY)(D;;0x1f0001;;;BG)(A;CIIO;GA;;;CO)S:(ML;;NWNR;;;LW)(AU;SAFA;SD;;;WD)")
	require.NoError(t, err)
	ba, sy := SIDAdministrators(), SIDLocalSystem()
	require.Equal(t, &SecurityDescriptor{
		Owner:   &ba,
		Group:   &sy,
		Control: SE_DACL_PRESENT | SE_DACL_PROTECTED | SE_DACL_AUTO_INHERITED | SE_SACL_PRESENT,
		DACL: &ACL{ACEs: []ACE{
			{Type: ACCESS_ALLOWED_ACE_TYPE, Flags: OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE, Mask: FILE_ALL_ACCESS, SID: SIDLocalSystem()},
			{Type: ACCESS_DENIED_ACE_TYPE, Mask: FLT_PORT_ALL_ACCESS, SID: SIDGuests()},
			{Type: ACCESS_ALLOWED_ACE_TYPE, Flags: CONTAINER_INHERIT_ACE | INHERIT_ONLY_ACE, Mask: GENERIC_ALL, SID: SIDCreatorOwner()},
		}},
		SACL: &ACL{ACEs: []ACE{
			{Type: SYSTEM_MANDATORY_LABEL_ACE_TYPE, Mask: SYSTEM_MANDATORY_LABEL_NO_WRITE_UP | SYSTEM_MANDATORY_LABEL_NO_READ_UP, SID: SIDIntegrity(IntegrityLow)},
			{Type: SYSTEM_AUDIT_ACE_TYPE, Flags: SUCCESSFUL_ACCESS_ACE_FLAG | FAILED_ACCESS_ACE_FLAG, Mask: DELETE, SID: SIDEveryone()},
		}},
	}, sd)
	level, policy, present := sd.MandatoryLabel()
	require.True(t, present)
	require.Equal(t, IntegrityLow, level)
	require.Equal(t, SYSTEM_MANDATORY_LABEL_NO_WRITE_UP|SYSTEM_MANDATORY_LABEL_NO_READ_UP, policy)
}

func TestSDDLNullAndEmptyACL(t *testing.T) {
	t.Parallel()
	null := MustParseSDDL("D:NO_ACCESS_CONTROL")
	require.Nil(t, null.DACL)
	require.Equal(t, SE_DACL_PRESENT, null.Control)
	require.Equal(t, "D:NO_ACCESS_CONTROL", null.SDDL())

	pnull := MustParseSDDL("D:PNO_ACCESS_CONTROL")
	require.Nil(t, pnull.DACL)
	require.Equal(t, SE_DACL_PRESENT|SE_DACL_PROTECTED, pnull.Control)
	require.Equal(t, "D:PNO_ACCESS_CONTROL", pnull.SDDL())

	empty := MustParseSDDL("D:")
	require.NotNil(t, empty.DACL)
	require.Empty(t, empty.DACL.ACEs)
	require.Equal(t, "D:", empty.SDDL())

	absent := MustParseSDDL("O:SY")
	require.Nil(t, absent.DACL)
	require.Zero(t, absent.Control)
	require.Equal(t, "O:SY", absent.SDDL())

	nullSACL := MustParseSDDL("S:NO_ACCESS_CONTROL")
	require.Nil(t, nullSACL.SACL)
	require.Equal(t, SE_SACL_PRESENT, nullSACL.Control)
	require.Equal(t, "S:NO_ACCESS_CONTROL", nullSACL.SDDL())
}

// TestSDDLRoundTrip checks ParseSDDL(sd.SDDL()) == sd and that the printed text is canonical.
func TestSDDLRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, canonical string
	}{
		{"D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)", ""},
		{"D:P(A;;CC;;;SY)(A;;CC;;;BA)", ""},
		{"D:P(A;;0x1;;;SY)(A;;1;;;BA)", "D:P(A;;CC;;;SY)(A;;CC;;;BA)"},
		{"D:(A;;2031617;;;WD)", "D:(A;;0x1f0001;;;WD)"},
		{"D:(A;;0X1F01FF;;;BU)", "D:(A;;FA;;;BU)"},
		{"O:S-1-5-32-544G:S-1-5-18D:(A;;GA;;;S-1-1-0)", "O:BAG:SYD:(A;;GA;;;WD)"},
		{"O:S-1-5-21-1-2-3-1001D:(A;;RC;;;OW)", ""},
		{"D:AIARP(A;ID;FR;;;AU)", "D:PARAI(A;ID;FR;;;AU)"},
		{"D:(A;CIOI;FX;;;BU)", "D:(A;OICI;FX;;;BU)"},
		{"D:(A;OICINPIOID;FW;;;IU)", ""},
		{"D:(A;;RCSDWDWO;;;BU)", ""},
		{"D:(A;;WOWDSDRC;;;BU)", "D:(A;;RCSDWDWO;;;BU)"},
		{"D:(A;;GRGWGXGA;;;BU)", "D:(A;;GAGRGWGX;;;BU)"},
		{"D:(A;;CCDCLCSWRPWPDTLOCR;;;BU)", ""},
		{"D:(A;;0x1ff;;;BU)", "D:(A;;CCDCLCSWRPWPDTLOCR;;;BU)"},
		{"D:(A;;KA;;;BU)(A;;KR;;;BU)(A;;KW;;;BU)(A;;KX;;;BU)", "D:(A;;KA;;;BU)(A;;KR;;;BU)(A;;KW;;;BU)(A;;KR;;;BU)"},
		{"D:(A;;FRFW;;;BU)", "D:(A;;0x12019f;;;BU)"},
		{"D:(A;;0x0;;;BU)", ""},
		{"D:(D;;GA;;;AN)(A;;GR;;;S-1-0x123456789ABC-1)", ""},
		{"S:(ML;;NW;;;ME)", ""},
		{"S:(ML;;1;;;S-1-16-8192)", "S:(ML;;NW;;;ME)"},
		{"S:(ML;;NXNRNW;;;S-1-16-0)", "S:(ML;;NWNRNX;;;S-1-16-0)"},
		{"S:(ML;;0x0;;;SI)", ""},
		{"S:PAI(AU;SA;FA;;;WD)(ML;CIOI;NW;;;HI)", "S:PAI(AU;SA;FA;;;WD)(ML;OICI;NW;;;HI)"},
		{"D:S:", ""},
		{"S:(ML;;NW;;;LW)D:(A;;CC;;;WD)G:BUO:BA", "O:BAG:BUD:(A;;CC;;;WD)S:(ML;;NW;;;LW)"},
		{"G:SYD:NO_ACCESS_CONTROLS:NO_ACCESS_CONTROL", ""},
		{"O:NSD:(A;;CC;;;LS)", ""},
		{"O:LSS:(ML;;NW;;;HI)", ""},
		{"D:ARNO_ACCESS_CONTROL", ""},
	}
	for _, tc := range tests {
		sd, err := ParseSDDL(tc.in)
		require.NoError(t, err, tc.in)
		want := tc.canonical
		if want == "" {
			want = tc.in
		}
		text := sd.SDDL()
		require.Equal(t, want, text, tc.in)
		again, err := ParseSDDL(text)
		require.NoError(t, err, text)
		require.Equal(t, sd, again, tc.in)
		require.Equal(t, text, again.SDDL())
		require.Equal(t, sd, sd.Clone())
		require.Equal(t, text, sd.String())
	}
}

// TestSDDLRoundTripGenerated checks the round trip for every rights mask a single ACE can print
// in each way, and for every ACE flag combination.
func TestSDDLRoundTripGenerated(t *testing.T) {
	t.Parallel()
	masks := []AccessMask{0, 1, 0x100, 0x1ff, 0x200, 0xffff, 0x10000, 0x100000, 0x1f0001, 0x1f01ff,
		0x120089, 0x120116, 0x1200a0, 0xf003f, 0x20019, 0x20006, 0x1000000, 0x2000000, 0xf0000000,
		0x10000001, 0xffffffff, 0x80020000}
	for _, m := range masks {
		for f := ACEFlags(0); f <= validACEFlags; f++ {
			if f&^validACEFlags != 0 {
				continue
			}
			sd := &SecurityDescriptor{Control: SE_DACL_PRESENT, DACL: &ACL{ACEs: []ACE{
				{Type: ACCESS_ALLOWED_ACE_TYPE, Flags: f, Mask: m, SID: SIDUsers()},
				{Type: ACCESS_DENIED_ACE_TYPE, Flags: f, Mask: m, SID: MustParseSID("S-1-5-21-9-8-7-6")},
			}}}
			again, err := ParseSDDL(sd.SDDL())
			require.NoError(t, err, sd.SDDL())
			require.Equal(t, sd, again, sd.SDDL())
		}
	}
	for p := AccessMask(0); p <= validMandatoryPolicy; p++ {
		sd := &SecurityDescriptor{}
		require.NoError(t, sd.SetMandatoryLabel(IntegrityMediumPlus, p))
		again, err := ParseSDDL(sd.SDDL())
		require.NoError(t, err, sd.SDDL())
		require.Equal(t, sd, again, sd.SDDL())
	}
}

func TestSDDLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		offset int
		token  string
		msg    string
	}{
		{"", 0, "", "empty SDDL string"},
		{"X:BA", 0, "X", "expected a section"},
		{"O", 0, "O", "expected a section"},
		{"D:(A;;CC;;;SY)X", 14, "X", "expected an ACE"},
		{"D:(X;;CC;;;SY)", 3, "X", "unknown ACE type"},
		{"D:(OA;;CC;;;SY)", 3, "OA", "unsupported ACE type"},
		{"D:(;;CC;;;SY)", 3, "", "missing ACE type"},
		{"D:(ML;;NW;;;LW)", 3, "ML", "not allowed in a DACL"},
		{"S:(A;;CC;;;SY)", 3, "A", "not allowed in a SACL"},
		{"D:(A;XX;CC;;;SY)", 5, "XX", "unknown ACE flag"},
		{"D:(A;OIX;CC;;;SY)", 7, "X", "unknown ACE flag"},
		{"D:(A;OIOI;CC;;;SY)", 7, "OI", "duplicate ACE flag"},
		{"D:(A;;;;;SY)", 6, "", "missing access rights"},
		{"D:(A;;QQ;;;SY)", 6, "QQ", "unknown access right"},
		{"D:(A;;CCQ;;;SY)", 8, "Q", "unknown access right"},
		{"D:(A;;NW;;;SY)", 6, "NW", "belong in a mandatory label"},
		{"S:(ML;;GA;;;LW)", 7, "GA", "takes NW, NR or NX"},
		{"S:(ML;;0x8;;;LW)", 7, "0x8", "bits other than NW|NR|NX"},
		{"S:(ML;;NW;;;BA)", 12, "BA", "needs an integrity SID"},
		{"D:(A;;CC;;;LW)", 11, "LW", "belongs in an ML ACE"},
		{"D:(A;;0xZZ;;;SY)", 6, "0xZZ", "not a 32-bit hex number"},
		{"D:(A;;0x100000000;;;SY)", 6, "0x100000000", "not a 32-bit hex number"},
		{"D:(A;;99999999999;;;SY)", 6, "99999999999", "not a 32-bit decimal number"},
		{"D:(A;;1x;;;SY)", 6, "1x", "not a 32-bit decimal number"},
		{"D:(A;;CC;{00000000-0000-0000-0000-000000000000};;SY)", 9, "{00000000-0000-0000-0000-000000000000}", "object GUIDs are not supported"},
		{"D:(A;;CC;;x;SY)", 10, "x", "object GUIDs are not supported"},
		{"D:(A;;CC;;;)", 11, "", "missing ACE SID"},
		{"D:(A;;CC;;;S-1-5-x)", 11, "S-1-5-x", "invalid ACE SID"},
		{"D:(A;;CC;;;ZZ)", 11, "ZZ", "invalid ACE SID"},
		{"D:(A;;CC;;SY)", 2, "(A;;CC;;SY)", "6 fields"},
		{"D:(A;;CC;;;SY;;)", 2, "(A;;CC;;;SY;;)", "6 fields"},
		{"D:(A;;CC;;;SY;(x))", 14, "(", "conditional ACEs are not supported"},
		{"D:(A;;CC;;;SY;x)", 14, "x", "resource attribute ACEs are not supported"},
		{"D:(A;;CC;;;SY", 2, "(A", "unterminated ACE"},
		{"D:Q(A;;CC;;;SY)", 2, "Q", "unknown ACL flag"},
		{"D:PP", 3, "P", "duplicate ACL flag"},
		{"D:AIAI", 4, "AI", "duplicate ACL flag"},
		{"D:NO_ACCESS_CONTROLNO_ACCESS_CONTROL", 19, "NO_ACCESS_CONTROL", "duplicate ACL flag"},
		{"D:NO_ACCESS_CONTROL(A;;CC;;;SY)", 19, "(A", "ACE after NO_ACCESS_CONTROL"},
		{"O:", 2, "", "missing owner SID"},
		{"O:G:SY", 2, "", "missing owner SID"},
		{"G:", 2, "", "missing group SID"},
		{"O:S-1-5-bad", 2, "S-1-5-bad", "invalid owner SID"},
		{"O:BAG:xx", 6, "xx", "invalid group SID"},
		{"O:BAO:SY", 4, "O:", "duplicate section"},
		{"D:D:", 2, "D:", "duplicate section"},
		{"D:(A;;CC;;;SY) ", 14, " ", "expected an ACE"},
		{" D:", 0, " D", "expected a section"},
	}
	for _, tc := range tests {
		sd, err := ParseSDDL(tc.in)
		require.Nil(t, sd, tc.in)
		require.Error(t, err, tc.in)
		var se *SDDLError
		require.True(t, errors.As(err, &se), "%q: %T", tc.in, err)
		require.Equal(t, tc.offset, se.Offset, "%q: %v", tc.in, err)
		require.Equal(t, tc.token, se.Token, "%q: %v", tc.in, err)
		require.Contains(t, se.Msg, tc.msg, tc.in)
		require.True(t, strings.HasPrefix(err.Error(), "sddl: at offset "), err.Error())
	}
	require.Panics(t, func() { MustParseSDDL("D:(X;;CC;;;SY)") })
}

func TestSDDLErrorFormat(t *testing.T) {
	t.Parallel()
	_, err := ParseSDDL("D:P(X;;CC;;;SY)")
	require.EqualError(t, err, `sddl: at offset 4: unknown ACE type "X"`)

	_, err = ParseSDDL("D:(A;;CC;;;S-1-5-x)")
	require.ErrorIs(t, err, ErrInvalidSID)
	require.EqualError(t, err, `sddl: at offset 11: invalid ACE SID "S-1-5-x": invalid SID: "S-1-5-x": subauthority 1 ("x") is not a decimal number`)

	_, err = ParseSDDL("")
	require.EqualError(t, err, "sddl: at offset 0: empty SDDL string (use D:NO_ACCESS_CONTROL for a NULL DACL)")
}

func TestSDDLFormatterEdgeCases(t *testing.T) {
	t.Parallel()
	// A DACL flag without SE_DACL_PRESENT and without a DACL still shows in the text.
	sd := &SecurityDescriptor{Control: SE_DACL_PROTECTED}
	require.Equal(t, "D:PNO_ACCESS_CONTROL", sd.SDDL())
	// A DACL without the PRESENT bit prints the same as with it.
	require.Equal(t, "D:(A;;CC;;;WD)", (&SecurityDescriptor{DACL: &ACL{ACEs: []ACE{{Type: ACCESS_ALLOWED_ACE_TYPE, Mask: 1, SID: SIDEveryone()}}}}).SDDL())
	// Bits SDDL cannot express are left out.
	require.Equal(t, "", (&SecurityDescriptor{Control: SE_SELF_RELATIVE | SE_OWNER_DEFAULTED}).SDDL())
	require.Equal(t, "(A;OICI;FA;;;SY)", ACE{Type: ACCESS_ALLOWED_ACE_TYPE, Flags: OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE, Mask: FILE_ALL_ACCESS, SID: SIDLocalSystem()}.String())
	require.Equal(t, "(ML;;0x8;;;LW)", ACE{Type: SYSTEM_MANDATORY_LABEL_ACE_TYPE, Mask: 8, SID: SIDIntegrity(IntegrityLow)}.String())
	require.Equal(t, "ACCESS_DENIED_ACE_TYPE", ACCESS_DENIED_ACE_TYPE.String())
	require.Equal(t, "ACEType(0x9)", ACEType(9).String())
}

// FuzzSDDLRoundTrip checks that ParseSDDL never panics, that every error is an *SDDLError
// with an offset inside the input, and that whatever parses survives a round trip.
func FuzzSDDLRoundTrip(f *testing.F) {
	for _, seed := range []string{
		"D:P(A;;0x1f0001;;;SY)(A;;0x1f0001;;;BA)",
		"O:BAG:SYD:PAI(A;OICI;FA;;;SY)(D;;WD;;;BG)S:(ML;;NWNR;;;LW)(AU;SAFA;SD;;;WD)",
		"D:NO_ACCESS_CONTROL",
		"D:(A;;CC;;;S-1-5-21-1-2-3-1001)",
		"S:(ML;;1;;;S-1-16-8192)",
		"D:(A;;CC;;;SY",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sd, err := ParseSDDL(s)
		if err != nil {
			var se *SDDLError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %T is not *SDDLError", s, err)
			}
			if se.Offset < 0 || se.Offset > len(s) {
				t.Fatalf("%q: offset %d outside the input", s, se.Offset)
			}
			return
		}
		if err := sd.Validate(); err != nil {
			t.Fatalf("%q parsed into an invalid descriptor: %v", s, err)
		}
		text := sd.SDDL()
		again, err := ParseSDDL(text)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, text, err)
		}
		require.Equal(t, sd, again, "%q -> %q", s, text)
		AccessCheck(sd, TokenStandardUser(), MAXIMUM_ALLOWED, PortGenericMapping())
	})
}
