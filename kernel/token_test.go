package kernel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTokenPresets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tok       *Token
		user      SID
		level     IntegrityLevel
		elevated  bool
		memberOf  []SID // as allow-ACE member
		denyOnly  []SID // matches deny ACEs only
		notMember []SID
		enabled   []string
		disabled  []string
	}{
		{
			name: "SYSTEM", tok: TokenSystem(), user: SIDLocalSystem(), level: IntegritySystem, elevated: true,
			memberOf:  []SID{SIDLocalSystem(), SIDAdministrators(), SIDEveryone(), SIDAuthenticatedUsers()},
			notMember: []SID{SIDUsers(), SIDInteractive(), SIDAnonymous()},
			enabled:   []string{SE_TCB_NAME, SE_DEBUG_NAME, SE_LOAD_DRIVER_NAME, SE_SECURITY_NAME, SE_TAKE_OWNERSHIP_NAME, SE_CHANGE_NOTIFY_NAME},
		},
		{
			name: "admin (elevated)", tok: TokenAdmin(), user: SIDAdminUser(), level: IntegrityHigh, elevated: true,
			memberOf:  []SID{SIDAdminUser(), SIDAdministrators(), SIDUsers(), SIDEveryone(), SIDAuthenticatedUsers(), SIDInteractive()},
			notMember: []SID{SIDLocalSystem(), SIDStandardUser()},
			enabled:   []string{SE_CHANGE_NOTIFY_NAME, SE_IMPERSONATE_NAME, SE_CREATE_GLOBAL_NAME},
			disabled:  []string{SE_DEBUG_NAME, SE_LOAD_DRIVER_NAME, SE_SECURITY_NAME, SE_TAKE_OWNERSHIP_NAME},
		},
		{
			name: "admin (filtered)", tok: TokenFilteredAdmin(), user: SIDAdminUser(), level: IntegrityMedium,
			memberOf:  []SID{SIDAdminUser(), SIDUsers(), SIDEveryone(), SIDAuthenticatedUsers(), SIDInteractive()},
			denyOnly:  []SID{SIDAdministrators()},
			notMember: []SID{SIDLocalSystem()},
			enabled:   []string{SE_CHANGE_NOTIFY_NAME},
			disabled:  []string{SE_SHUTDOWN_NAME, SE_UNDOCK_NAME, SE_INC_WORKING_SET_NAME, SE_TIME_ZONE_NAME},
		},
		{
			name: "user", tok: TokenStandardUser(), user: SIDStandardUser(), level: IntegrityMedium,
			memberOf:  []SID{SIDStandardUser(), SIDUsers(), SIDEveryone(), SIDAuthenticatedUsers(), SIDInteractive()},
			notMember: []SID{SIDAdministrators(), SIDAdminUser()},
			enabled:   []string{SE_CHANGE_NOTIFY_NAME},
			disabled:  []string{SE_SHUTDOWN_NAME},
		},
		{
			name: "user (low integrity)", tok: TokenLowIntegrity(), user: SIDStandardUser(), level: IntegrityLow,
			memberOf:  []SID{SIDStandardUser(), SIDUsers(), SIDEveryone()},
			notMember: []SID{SIDAdministrators()},
			enabled:   []string{SE_CHANGE_NOTIFY_NAME},
		},
		{
			name: "anonymous", tok: TokenAnonymous(), user: SIDAnonymous(), level: IntegrityUntrusted,
			memberOf:  []SID{SIDAnonymous()},
			notMember: []SID{SIDEveryone(), SIDAuthenticatedUsers(), SIDUsers(), SIDNetwork()},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.name, tc.tok.Name())
			require.Equal(t, tc.user, tc.tok.User())
			require.Equal(t, tc.level, tc.tok.IntegrityLevel())
			require.Equal(t, tc.elevated, tc.tok.IsElevated())
			for _, s := range tc.memberOf {
				require.True(t, tc.tok.IsMember(s, false), "allow member %v", s)
				require.True(t, tc.tok.IsMember(s, true), "deny member %v", s)
			}
			for _, s := range tc.denyOnly {
				require.False(t, tc.tok.IsMember(s, false), "deny-only %v must not grant", s)
				require.True(t, tc.tok.IsMember(s, true), "deny-only %v must match deny ACEs", s)
			}
			for _, s := range tc.notMember {
				require.False(t, tc.tok.IsMember(s, false), "%v", s)
				require.False(t, tc.tok.IsMember(s, true), "%v", s)
			}
			for _, p := range tc.enabled {
				require.True(t, tc.tok.HasPrivilege(p), p)
			}
			for _, p := range tc.disabled {
				require.False(t, tc.tok.HasPrivilege(p), p)
				found := false
				for _, q := range tc.tok.Privileges() {
					found = found || q.Name == p
				}
				require.True(t, found, "%s must be present but disabled", p)
			}
			for _, g := range tc.tok.Groups() {
				require.False(t, g.SID.IsIntegritySID(), "the label is not a group")
			}
			require.NotEmpty(t, tc.tok.String())
		})
	}
	require.Empty(t, TokenAnonymous().Privileges())
	require.Empty(t, TokenAnonymous().Groups())
}

func TestTokenPresetsAreFresh(t *testing.T) {
	t.Parallel()
	a, b := TokenAdmin(), TokenAdmin()
	require.NotSame(t, a, b)
	require.Equal(t, a, b)
}

func TestTokenAccessorsReturnCopies(t *testing.T) {
	t.Parallel()
	tok := TokenAdmin()
	groups := tok.Groups()
	groups[0].Attributes = 0
	groups[0].SID = SIDGuests()
	privs := tok.Privileges()
	for i := range privs {
		privs[i].Enabled = true
	}
	require.True(t, tok.IsMember(SIDAdministrators(), false))
	require.False(t, tok.IsMember(SIDGuests(), true))
	require.False(t, tok.HasPrivilege(SE_DEBUG_NAME))
}

func TestTokenString(t *testing.T) {
	t.Parallel()
	require.Equal(t,
		`token "admin (filtered)" user=S-1-5-21-1000-1000-1000-1000 integrity=Medium groups=[BA(deny-only) BU WD AU IU] privileges=1/5 enabled`,
		TokenFilteredAdmin().String())
	require.Equal(t,
		`token "SYSTEM" user=SY integrity=System elevated groups=[BA(owner) WD AU] privileges=29/29 enabled`,
		TokenSystem().String())
}

func TestTokenNil(t *testing.T) {
	t.Parallel()
	var tok *Token
	require.True(t, tok.User().IsZero())
	require.Nil(t, tok.Groups())
	require.Nil(t, tok.Privileges())
	require.Equal(t, IntegrityUntrusted, tok.IntegrityLevel())
	require.False(t, tok.HasPrivilege(SE_TCB_NAME))
	require.False(t, tok.IsMember(SIDEveryone(), true))
	require.False(t, tok.IsElevated())
	require.Equal(t, "<nil token>", tok.Name())
	require.Equal(t, "<nil token>", tok.String())
	_, err := tok.WithPrivilegeEnabled(SE_TCB_NAME)
	require.Error(t, err)
}

func TestTokenIsMemberZeroSID(t *testing.T) {
	t.Parallel()
	require.False(t, TokenSystem().IsMember(SID{}, true))
}

func TestTokenWithPrivilegeEnabled(t *testing.T) {
	t.Parallel()
	admin := TokenAdmin()
	enabled, err := admin.WithPrivilegeEnabled(SE_LOAD_DRIVER_NAME)
	require.NoError(t, err)
	require.True(t, enabled.HasPrivilege(SE_LOAD_DRIVER_NAME))
	require.False(t, admin.HasPrivilege(SE_LOAD_DRIVER_NAME), "the original is unchanged")

	_, err = TokenStandardUser().WithPrivilegeEnabled(SE_LOAD_DRIVER_NAME)
	require.ErrorContains(t, err, "does not hold")
}

func TestTokenBuilder(t *testing.T) {
	t.Parallel()
	tok, err := NewTokenBuilder(MustParseSID("S-1-5-21-1-2-3-1005")).
		Name("service account").
		Group(SIDUsers(), SE_GROUP_MANDATORY|SE_GROUP_ENABLED_BY_DEFAULT|SE_GROUP_ENABLED).
		Group(SIDService(), SE_GROUP_ENABLED).
		Group(SIDNetwork(), SE_GROUP_MANDATORY). // present, not enabled
		DenyOnlyGroup(SIDAdministrators()).
		Integrity(IntegritySystem).
		Privilege(SE_IMPERSONATE_NAME, true).
		Privilege(SE_BACKUP_NAME, false).
		Elevated(true).
		Build()
	require.NoError(t, err)
	require.Equal(t, "service account", tok.Name())
	require.Equal(t, IntegritySystem, tok.IntegrityLevel())
	require.True(t, tok.IsElevated())
	require.True(t, tok.IsMember(SIDService(), false))
	require.False(t, tok.IsMember(SIDNetwork(), false), "a disabled group grants nothing")
	require.False(t, tok.IsMember(SIDNetwork(), true), "and denies nothing")
	require.False(t, tok.IsMember(SIDAdministrators(), false))
	require.True(t, tok.IsMember(SIDAdministrators(), true))
	require.True(t, tok.HasPrivilege(SE_IMPERSONATE_NAME))
	require.False(t, tok.HasPrivilege(SE_BACKUP_NAME))
	require.False(t, tok.HasPrivilege(SE_DEBUG_NAME))
	require.Equal(t, []Group{
		{SIDUsers(), SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED},
		{SIDService(), SE_GROUP_ENABLED},
		{SIDNetwork(), SE_GROUP_MANDATORY},
		{SIDAdministrators(), SE_GROUP_USE_FOR_DENY_ONLY},
	}, tok.Groups())

	def, err := NewTokenBuilder(SIDStandardUser()).Build()
	require.NoError(t, err)
	require.Equal(t, IntegrityMedium, def.IntegrityLevel())
	require.Equal(t, SIDStandardUser().String(), def.Name())
	require.False(t, def.IsElevated())
}

func TestTokenBuilderReuse(t *testing.T) {
	t.Parallel()
	b := NewTokenBuilder(SIDStandardUser()).Group(SIDUsers(), SE_GROUP_ENABLED)
	first, err := b.Build()
	require.NoError(t, err)
	b.Group(SIDEveryone(), SE_GROUP_ENABLED)
	second, err := b.Build()
	require.NoError(t, err)
	require.Len(t, first.Groups(), 1, "a built token does not change when the builder does")
	require.Len(t, second.Groups(), 2)
}

func TestTokenBuilderErrors(t *testing.T) {
	t.Parallel()
	user := SIDStandardUser()
	tests := []struct {
		name string
		b    *TokenBuilder
		msg  string
	}{
		{"zero user", NewTokenBuilder(SID{}), "zero user SID"},
		{"integrity user", NewTokenBuilder(SIDIntegrity(IntegrityLow)), "is an integrity label"},
		{"zero group", NewTokenBuilder(user).Group(SID{}, SE_GROUP_ENABLED), "zero SID"},
		{"integrity group", NewTokenBuilder(user).Group(SIDIntegrity(IntegrityHigh), SE_GROUP_ENABLED), "use Integrity"},
		{"integrity attrs", NewTokenBuilder(user).Group(SIDUsers(), SE_GROUP_INTEGRITY|SE_GROUP_INTEGRITY_ENABLED), "use Integrity"},
		{"user as group", NewTokenBuilder(user).Group(user, SE_GROUP_ENABLED), "is the token user"},
		{"unknown attrs", NewTokenBuilder(user).Group(SIDUsers(), 0x1000), "unknown attributes"},
		{"enabled and deny-only", NewTokenBuilder(user).Group(SIDUsers(), SE_GROUP_ENABLED|SE_GROUP_USE_FOR_DENY_ONLY), "together"},
		{"duplicate group", NewTokenBuilder(user).Group(SIDUsers(), SE_GROUP_ENABLED).DenyOnlyGroup(SIDUsers()), "added twice"},
		{"unknown privilege", NewTokenBuilder(user).Privilege("SeMagicPrivilege", true), `unknown privilege "SeMagicPrivilege"`},
		{"duplicate privilege", NewTokenBuilder(user).Privilege(SE_DEBUG_NAME, true).Privilege(SE_DEBUG_NAME, false), "added twice"},
		{"empty name", NewTokenBuilder(user).Name(" "), "empty token name"},
		{"first error wins", NewTokenBuilder(user).Privilege("x", true).Name(""), `unknown privilege "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.b.Build()
			require.Nil(t, tok)
			require.ErrorContains(t, err, tc.msg)
		})
	}
	var nilBuilder *TokenBuilder
	tok, err := nilBuilder.Group(SIDUsers(), 0).DenyOnlyGroup(SIDUsers()).Integrity(IntegrityLow).
		Privilege(SE_DEBUG_NAME, true).Name("x").Elevated(true).Build()
	require.Nil(t, tok)
	require.Error(t, err)
}

func TestTokenGroupHelpers(t *testing.T) {
	t.Parallel()
	require.True(t, Group{Attributes: SE_GROUP_ENABLED}.Enabled())
	require.False(t, Group{Attributes: SE_GROUP_ENABLED_BY_DEFAULT}.Enabled())
	require.False(t, Group{Attributes: SE_GROUP_USE_FOR_DENY_ONLY}.Enabled())
	require.True(t, Group{Attributes: SE_GROUP_USE_FOR_DENY_ONLY}.DenyOnly())
}
