package kernel

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// sidAliasesForTest lists every alias the emulator knows, with its SID.
func sidAliasesForTest() map[string]string {
	return map[string]string{
		"WD": "S-1-1-0", "CO": "S-1-3-0", "CG": "S-1-3-1", "OW": "S-1-3-4",
		"NU": "S-1-5-2", "IU": "S-1-5-4", "SU": "S-1-5-6", "AN": "S-1-5-7", "ED": "S-1-5-9",
		"PS": "S-1-5-10", "AU": "S-1-5-11", "RC": "S-1-5-12", "SY": "S-1-5-18", "LS": "S-1-5-19",
		"NS": "S-1-5-20", "WR": "S-1-5-33",
		"BA": "S-1-5-32-544", "BU": "S-1-5-32-545", "BG": "S-1-5-32-546", "PU": "S-1-5-32-547",
		"AO": "S-1-5-32-548", "SO": "S-1-5-32-549", "PO": "S-1-5-32-550", "BO": "S-1-5-32-551",
		"RE": "S-1-5-32-552", "RU": "S-1-5-32-554", "RD": "S-1-5-32-555", "NO": "S-1-5-32-556",
		"MU": "S-1-5-32-558", "LU": "S-1-5-32-559", "IS": "S-1-5-32-568", "CY": "S-1-5-32-569",
		"ER": "S-1-5-32-573", "RM": "S-1-5-32-580", "AC": "S-1-15-2-1",
		"LW": "S-1-16-4096", "ME": "S-1-16-8192", "MP": "S-1-16-8448", "HI": "S-1-16-12288",
		"SI": "S-1-16-16384",
	}
}

func TestSIDAliases(t *testing.T) {
	t.Parallel()
	for alias, canon := range sidAliasesForTest() {
		byAlias, err := ParseSID(alias)
		require.NoError(t, err, alias)
		byString, err := ParseSID(canon)
		require.NoError(t, err, canon)
		require.Equal(t, byString, byAlias, alias)
		require.True(t, byAlias == byString, alias)
		require.Equal(t, canon, byAlias.String(), alias)
		require.Equal(t, alias, byString.Alias(), canon)
	}
}

// TestSIDAliasTablesAgree tries every two-letter upper-case name: each one ParseSID accepts
// must come back from Alias, and the test list must know it.
func TestSIDAliasTablesAgree(t *testing.T) {
	t.Parallel()
	known := sidAliasesForTest()
	count := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			name := string([]rune{a, b})
			sid, err := ParseSID(name)
			if err != nil {
				require.ErrorIs(t, err, ErrInvalidSID)
				require.Empty(t, known[name], name)
				continue
			}
			count++
			require.Equal(t, name, sid.Alias(), name)
			require.Equal(t, known[name], sid.String(), name)
		}
	}
	require.Equal(t, len(known), count)
}

func TestSIDWellKnownConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sid  SID
		want string
	}{
		{SIDLocalSystem(), "SY"},
		{SIDAdministrators(), "BA"},
		{SIDUsers(), "BU"},
		{SIDGuests(), "BG"},
		{SIDEveryone(), "WD"},
		{SIDAuthenticatedUsers(), "AU"},
		{SIDInteractive(), "IU"},
		{SIDNetwork(), "NU"},
		{SIDService(), "SU"},
		{SIDNetworkService(), "NS"},
		{SIDLocalService(), "LS"},
		{SIDAnonymous(), "AN"},
		{SIDOwnerRights(), "OW"},
		{SIDCreatorOwner(), "CO"},
		{SIDRestricted(), "RC"},
		{SIDIntegrity(IntegrityLow), "LW"},
		{SIDIntegrity(IntegrityMedium), "ME"},
		{SIDIntegrity(IntegrityMediumPlus), "MP"},
		{SIDIntegrity(IntegrityHigh), "HI"},
		{SIDIntegrity(IntegritySystem), "SI"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.sid.Alias())
		require.Equal(t, MustParseSID(tc.want), tc.sid)
	}
	require.Equal(t, "S-1-16-0", SIDIntegrity(IntegrityUntrusted).String())
	require.Equal(t, "", SIDIntegrity(IntegrityUntrusted).Alias())
	require.True(t, SIDIntegrity(IntegrityUntrusted).IsIntegritySID())
	require.False(t, SIDEveryone().IsIntegritySID())
	require.Equal(t, SIDIntegrity(IntegrityHigh), IntegrityHigh.SID())
	require.Equal(t, "S-1-5-21-1000-1000-1000-1000", SIDAdminUser().String())
	require.Equal(t, "S-1-5-21-1000-1000-1000-1001", SIDStandardUser().String())
}

func TestSIDParseFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"S-1-5-18", "S-1-5-18"},
		{"s-1-5-18", "S-1-5-18"},
		{"S-1-5-21-3623811015-3361044348-30300820-1013", "S-1-5-21-3623811015-3361044348-30300820-1013"},
		{"S-1-0-0", "S-1-0-0"},
		{"S-1-5-4294967295", "S-1-5-4294967295"},
		{"S-1-0x5-18", "S-1-5-18"},
		{"S-1-0X000000000005-18", "S-1-5-18"},
		{"S-1-4294967296-1", "S-1-0x000100000000-1"},
		{"S-1-0x123456789ABC-7", "S-1-0x123456789ABC-7"},
		{"S-1-281474976710655-1", "S-1-0xFFFFFFFFFFFF-1"},
		{"S-1-5-007", "S-1-5-7"},
		{"S-1-1-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", "S-1-1-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15"},
	}
	for _, tc := range tests {
		sid, err := ParseSID(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, sid.String(), tc.in)
		again, err := ParseSID(sid.String())
		require.NoError(t, err)
		require.Equal(t, sid, again)
	}

	sid := MustParseSID("S-1-5-21-1-2-3-500")
	require.Equal(t, uint64(5), sid.IdentifierAuthority())
	require.Equal(t, []uint32{21, 1, 2, 3, 500}, sid.SubAuthorities())
	require.Equal(t, uint32(500), sid.RID())
	require.Equal(t, "", sid.Alias())
}

func TestSIDParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, msg string
	}{
		{"", "empty string"},
		{"XX", `unknown SID alias "XX"`},
		{"ba", `SDDL aliases are upper case: "BA"`},
		{"Q", `does not start with "S-"`},
		{"X-1-5-18", `does not start with "S-"`},
		{"S-1-5", "at least one subauthority"},
		{"S-1", "at least one subauthority"},
		{"S-2-5-18", "only revision 1 exists"},
		{"S-1-5-", "empty component"},
		{"S-1--18", "empty component"},
		{"S-1-5--18", "empty component"},
		{"S-1-x-18", `identifier authority "x" is not a decimal number`},
		{"S-1-281474976710656-1", "does not fit in 48 bits"},
		{"S-1-0x1000000000000-1", "not a 48-bit hex number"},
		{"S-1-0xZZ-1", "not a 48-bit hex number"},
		{"S-1-5-abc", `subauthority 1 ("abc") is not a decimal number`},
		{"S-1-5-18-+1", `subauthority 2 ("+1") is not a decimal number`},
		{"S-1-5-4294967296", "does not fit in 32 bits"},
		{"S-1-5- 18", "is not a decimal number"},
		{"S-1-1-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", "16 subauthorities, at most 15"},
	}
	for _, tc := range tests {
		_, err := ParseSID(tc.in)
		require.Error(t, err, tc.in)
		require.ErrorIs(t, err, ErrInvalidSID, tc.in)
		require.Contains(t, err.Error(), tc.msg, tc.in)
	}
	require.Panics(t, func() { MustParseSID("nope") })
}

func TestSIDNew(t *testing.T) {
	t.Parallel()
	sid, err := NewSID(5, 32, 544)
	require.NoError(t, err)
	require.Equal(t, SIDAdministrators(), sid)
	_, err = NewSID(5)
	require.ErrorIs(t, err, ErrInvalidSID)
	_, err = NewSID(1<<48, 1)
	require.ErrorIs(t, err, ErrInvalidSID)
	_, err = NewSID(5, make([]uint32, 16)...)
	require.ErrorIs(t, err, ErrInvalidSID)
}

func TestSIDZeroAndMapKey(t *testing.T) {
	t.Parallel()
	var zero SID
	require.True(t, zero.IsZero())
	require.Equal(t, "", zero.String())
	require.Equal(t, "", zero.Alias())
	require.Equal(t, uint32(0), zero.RID())
	require.Empty(t, zero.SubAuthorities())
	require.False(t, SIDEveryone().IsZero())

	m := map[SID]string{}
	m[MustParseSID("BA")] = "admins"
	m[MustParseSID("S-1-5-32-544")] = "administrators"
	m[SIDUsers()] = "users"
	require.Len(t, m, 2)
	require.Equal(t, "administrators", m[SIDAdministrators()])
	// S-1-5-32 is not S-1-5-32-544: the subauthority count is part of the identity.
	require.NotEqual(t, MustParseSID("S-1-5-32"), SIDAdministrators())
	require.NotEqual(t, MustParseSID("S-1-5-18-0"), SIDLocalSystem())
}

func TestSIDIntegrityLevelString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Untrusted", IntegrityUntrusted.String())
	require.Equal(t, "Low", IntegrityLow.String())
	require.Equal(t, "Medium", IntegrityMedium.String())
	require.Equal(t, "MediumPlus", IntegrityMediumPlus.String())
	require.Equal(t, "High", IntegrityHigh.String())
	require.Equal(t, "System", IntegritySystem.String())
	require.Equal(t, "Protected", IntegrityProtected.String())
	require.Equal(t, "IntegrityLevel(0x1234)", IntegrityLevel(0x1234).String())
	require.True(t, errors.Is(func() error { _, err := ParseSID("S-9"); return err }(), ErrInvalidSID))
}

// FuzzSIDParse checks that ParseSID never panics and that its output is canonical.
func FuzzSIDParse(f *testing.F) {
	for _, seed := range []string{"S-1-5-18", "BA", "S-1-0x123456789ABC-1", "S-1-5-21-1-2-3-4-5-6-7-8-9-10-11", "s-1-1-0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sid, err := ParseSID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSID) {
				t.Fatalf("%q: error does not wrap ErrInvalidSID: %v", s, err)
			}
			return
		}
		again, err := ParseSID(sid.String())
		if err != nil || again != sid {
			t.Fatalf("%q -> %q does not round-trip: %v", s, sid.String(), err)
		}
		if a := sid.Alias(); a != "" && MustParseSID(a) != sid {
			t.Fatalf("%q: alias %q names another SID", s, a)
		}
	})
}
