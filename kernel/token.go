package kernel

import (
	"fmt"
	"strings"
)

// This file holds access tokens: immutable values built by [TokenBuilder] or taken from the
// presets ([TokenSystem], [TokenAdmin], …). Every token has the Windows default mandatory
// policy TOKEN_MANDATORY_POLICY_NO_WRITE_UP (see the access check in access.go).

// GroupAttributes are the SE_GROUP_* attributes of a token group.
type GroupAttributes uint32

// Group attributes (winnt.h).
const (
	SE_GROUP_MANDATORY          GroupAttributes = 0x00000001
	SE_GROUP_ENABLED_BY_DEFAULT GroupAttributes = 0x00000002
	SE_GROUP_ENABLED            GroupAttributes = 0x00000004
	SE_GROUP_OWNER              GroupAttributes = 0x00000008
	SE_GROUP_USE_FOR_DENY_ONLY  GroupAttributes = 0x00000010
	SE_GROUP_INTEGRITY          GroupAttributes = 0x00000020
	SE_GROUP_INTEGRITY_ENABLED  GroupAttributes = 0x00000040
	SE_GROUP_RESOURCE           GroupAttributes = 0x20000000
	SE_GROUP_LOGON_ID           GroupAttributes = 0xC0000000

	validGroupAttributes = SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED |
		SE_GROUP_OWNER | SE_GROUP_USE_FOR_DENY_ONLY | SE_GROUP_RESOURCE | SE_GROUP_LOGON_ID

	// seGroupDefault is what a normal group of a logon token has: mandatory, enabled by
	// default, enabled (0x7).
	seGroupDefault = SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED
)

// Group is one group SID of a token with its attributes.
type Group struct {
	SID        SID
	Attributes GroupAttributes
}

// Enabled reports whether the group counts for allow ACEs (SE_GROUP_ENABLED and not deny-only).
func (g Group) Enabled() bool {
	return g.Attributes&SE_GROUP_ENABLED != 0 && g.Attributes&SE_GROUP_USE_FOR_DENY_ONLY == 0
}

// DenyOnly reports whether the group is SE_GROUP_USE_FOR_DENY_ONLY.
func (g Group) DenyOnly() bool { return g.Attributes&SE_GROUP_USE_FOR_DENY_ONLY != 0 }

// Privilege is one privilege of a token: its name ("SeDebugPrivilege") and whether it is
// enabled. A privilege that is present but disabled does not count (see [Token.HasPrivilege]).
type Privilege struct {
	Name    string
	Enabled bool
}

// Privilege names (winnt.h SE_*_NAME).
const (
	SE_ASSIGNPRIMARYTOKEN_NAME    = "SeAssignPrimaryTokenPrivilege"
	SE_AUDIT_NAME                 = "SeAuditPrivilege"
	SE_BACKUP_NAME                = "SeBackupPrivilege"
	SE_CHANGE_NOTIFY_NAME         = "SeChangeNotifyPrivilege"
	SE_CREATE_GLOBAL_NAME         = "SeCreateGlobalPrivilege"
	SE_CREATE_PAGEFILE_NAME       = "SeCreatePagefilePrivilege"
	SE_CREATE_PERMANENT_NAME      = "SeCreatePermanentPrivilege"
	SE_CREATE_SYMBOLIC_LINK_NAME  = "SeCreateSymbolicLinkPrivilege"
	SE_CREATE_TOKEN_NAME          = "SeCreateTokenPrivilege"
	SE_DEBUG_NAME                 = "SeDebugPrivilege"
	SE_DELEGATE_SESSION_USER_NAME = "SeDelegateSessionUserImpersonatePrivilege"
	SE_ENABLE_DELEGATION_NAME     = "SeEnableDelegationPrivilege"
	SE_IMPERSONATE_NAME           = "SeImpersonatePrivilege"
	SE_INC_BASE_PRIORITY_NAME     = "SeIncreaseBasePriorityPrivilege"
	SE_INCREASE_QUOTA_NAME        = "SeIncreaseQuotaPrivilege"
	SE_INC_WORKING_SET_NAME       = "SeIncreaseWorkingSetPrivilege"
	SE_LOAD_DRIVER_NAME           = "SeLoadDriverPrivilege"
	SE_LOCK_MEMORY_NAME           = "SeLockMemoryPrivilege"
	SE_MACHINE_ACCOUNT_NAME       = "SeMachineAccountPrivilege"
	SE_MANAGE_VOLUME_NAME         = "SeManageVolumePrivilege"
	SE_PROF_SINGLE_PROCESS_NAME   = "SeProfileSingleProcessPrivilege"
	SE_RELABEL_NAME               = "SeRelabelPrivilege"
	SE_REMOTE_SHUTDOWN_NAME       = "SeRemoteShutdownPrivilege"
	SE_RESTORE_NAME               = "SeRestorePrivilege"
	SE_SECURITY_NAME              = "SeSecurityPrivilege"
	SE_SHUTDOWN_NAME              = "SeShutdownPrivilege"
	SE_SYNC_AGENT_NAME            = "SeSyncAgentPrivilege"
	SE_SYSTEM_ENVIRONMENT_NAME    = "SeSystemEnvironmentPrivilege"
	SE_SYSTEM_PROFILE_NAME        = "SeSystemProfilePrivilege"
	SE_SYSTEMTIME_NAME            = "SeSystemtimePrivilege"
	SE_TAKE_OWNERSHIP_NAME        = "SeTakeOwnershipPrivilege"
	SE_TCB_NAME                   = "SeTcbPrivilege"
	SE_TIME_ZONE_NAME             = "SeTimeZonePrivilege"
	SE_TRUSTED_CREDMAN_NAME       = "SeTrustedCredManAccessPrivilege"
	SE_UNDOCK_NAME                = "SeUndockPrivilege"
	SE_UNSOLICITED_INPUT_NAME     = "SeUnsolicitedInputPrivilege"
)

// seIsKnownPrivilege reports whether name is one of the SE_*_NAME privileges above.
func seIsKnownPrivilege(name string) bool {
	switch name {
	case SE_ASSIGNPRIMARYTOKEN_NAME, SE_AUDIT_NAME, SE_BACKUP_NAME, SE_CHANGE_NOTIFY_NAME,
		SE_CREATE_GLOBAL_NAME, SE_CREATE_PAGEFILE_NAME, SE_CREATE_PERMANENT_NAME,
		SE_CREATE_SYMBOLIC_LINK_NAME, SE_CREATE_TOKEN_NAME, SE_DEBUG_NAME,
		SE_DELEGATE_SESSION_USER_NAME, SE_ENABLE_DELEGATION_NAME, SE_IMPERSONATE_NAME,
		SE_INC_BASE_PRIORITY_NAME, SE_INCREASE_QUOTA_NAME, SE_INC_WORKING_SET_NAME,
		SE_LOAD_DRIVER_NAME, SE_LOCK_MEMORY_NAME, SE_MACHINE_ACCOUNT_NAME, SE_MANAGE_VOLUME_NAME,
		SE_PROF_SINGLE_PROCESS_NAME, SE_RELABEL_NAME, SE_REMOTE_SHUTDOWN_NAME, SE_RESTORE_NAME,
		SE_SECURITY_NAME, SE_SHUTDOWN_NAME, SE_SYNC_AGENT_NAME, SE_SYSTEM_ENVIRONMENT_NAME,
		SE_SYSTEM_PROFILE_NAME, SE_SYSTEMTIME_NAME, SE_TAKE_OWNERSHIP_NAME, SE_TCB_NAME,
		SE_TIME_ZONE_NAME, SE_TRUSTED_CREDMAN_NAME, SE_UNDOCK_NAME, SE_UNSOLICITED_INPUT_NAME:
		return true
	}
	return false
}

// Token is an access token. It is immutable: all fields are unexported and every accessor
// returns a copy, so a *Token can be shared between processes, goroutines and tests. To get a
// changed token, build a new one ([TokenBuilder], [Token.WithPrivilegeEnabled]).
//
// Methods on a nil *Token do not panic: they return zero values (no user, no groups, Untrusted,
// not a member of anything).
type Token struct {
	user       SID
	groups     []Group
	integrity  IntegrityLevel
	privileges []Privilege
	name       string
	elevated   bool
}

// User returns the token's user SID.
func (t *Token) User() SID {
	if t == nil {
		return SID{}
	}
	return t.user
}

// Groups returns a copy of the token's groups (the integrity label is not among them; see
// [Token.IntegrityLevel]).
func (t *Token) Groups() []Group {
	if t == nil {
		return nil
	}
	out := make([]Group, len(t.groups))
	copy(out, t.groups)
	return out
}

// IntegrityLevel returns the token's mandatory integrity level.
func (t *Token) IntegrityLevel() IntegrityLevel {
	if t == nil {
		return IntegrityUntrusted
	}
	return t.integrity
}

// Privileges returns a copy of the token's privileges, enabled or not.
func (t *Token) Privileges() []Privilege {
	if t == nil {
		return nil
	}
	out := make([]Privilege, len(t.privileges))
	copy(out, t.privileges)
	return out
}

// HasPrivilege reports whether the token holds the privilege name and it is enabled, as
// SePrivilegeCheck does.
func (t *Token) HasPrivilege(name string) bool {
	if t == nil {
		return false
	}
	for _, p := range t.privileges {
		if p.Name == name {
			return p.Enabled
		}
	}
	return false
}

// IsMember reports whether sid is the token's user or one of its groups, as the access check
// sees it. For allow ACEs (forDeny false) a group counts when it is enabled and not deny-only;
// for deny ACEs (forDeny true) enabled and deny-only groups count.
func (t *Token) IsMember(sid SID, forDeny bool) bool {
	if t == nil || sid.IsZero() {
		return false
	}
	if sid == t.user {
		return true
	}
	for _, g := range t.groups {
		if g.SID != sid {
			continue
		}
		if g.Enabled() || (forDeny && g.DenyOnly()) {
			return true
		}
	}
	return false
}

// Name returns the label used in traces ("SYSTEM", "admin (elevated)", …).
func (t *Token) Name() string {
	if t == nil {
		return "<nil token>"
	}
	return t.name
}

// IsElevated reports whether the token is elevated (TokenElevation).
func (t *Token) IsElevated() bool { return t != nil && t.elevated }

// String describes the token on one line, e.g.
// token "SYSTEM" user=SY integrity=System groups=[BA(enabled,owner) WD AU] privileges=3/3 enabled.
func (t *Token) String() string {
	if t == nil {
		return "<nil token>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "token %q user=%s integrity=%v", t.name, t.user.sdString(), t.integrity)
	if t.elevated {
		b.WriteString(" elevated")
	}
	b.WriteString(" groups=[")
	for i, g := range t.groups {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.SID.sdString())
		var notes []string
		switch {
		case g.DenyOnly():
			notes = append(notes, "deny-only")
		case !g.Enabled():
			notes = append(notes, "disabled")
		}
		if g.Attributes&SE_GROUP_OWNER != 0 {
			notes = append(notes, "owner")
		}
		if len(notes) > 0 {
			b.WriteString("(" + strings.Join(notes, ",") + ")")
		}
	}
	enabled := 0
	for _, p := range t.privileges {
		if p.Enabled {
			enabled++
		}
	}
	fmt.Fprintf(&b, "] privileges=%d/%d enabled", enabled, len(t.privileges))
	return b.String()
}

// WithPrivilegeEnabled returns a copy of t with the privilege name enabled, as
// AdjustTokenPrivileges does for a process that holds it (fltmc enables SeLoadDriverPrivilege
// before FilterLoad, for instance). It is an error if t does not hold the privilege at all.
func (t *Token) WithPrivilegeEnabled(name string) (*Token, error) {
	if t == nil {
		return nil, fmt.Errorf("kernel: WithPrivilegeEnabled: nil token")
	}
	out := t.clone()
	for i := range out.privileges {
		if out.privileges[i].Name == name {
			out.privileges[i].Enabled = true
			return out, nil
		}
	}
	return nil, fmt.Errorf("kernel: token %q does not hold %q (ERROR_NOT_ALL_ASSIGNED)", t.name, name)
}

func (t *Token) clone() *Token {
	out := *t
	out.groups = t.Groups()
	out.privileges = t.Privileges()
	return &out
}

// TokenBuilder builds a [Token]. Its methods chain; the first invalid input is remembered and
// returned by Build, so nothing is silently dropped.
type TokenBuilder struct {
	tok *Token
	err error
}

// NewTokenBuilder starts a token for user. Defaults: no groups, Medium integrity, no
// privileges, not elevated, name = the user SID.
func NewTokenBuilder(user SID) *TokenBuilder {
	b := &TokenBuilder{tok: &Token{user: user, integrity: IntegrityMedium, name: user.String()}}
	switch {
	case user.IsZero():
		b.err = fmt.Errorf("kernel: token builder: zero user SID")
	case user.IsIntegritySID():
		b.err = fmt.Errorf("kernel: token builder: user %v is an integrity label", user)
	}
	return b
}

func (b *TokenBuilder) fail(format string, args ...any) *TokenBuilder {
	if b.err == nil {
		b.err = fmt.Errorf("kernel: token builder: "+format, args...)
	}
	return b
}

// Group adds a group with the given attributes. Typical attributes: SE_GROUP_MANDATORY |
// SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED (0x7), plus SE_GROUP_OWNER for
// Administrators. SE_GROUP_ENABLED together with SE_GROUP_USE_FOR_DENY_ONLY, unknown bits, the
// integrity bits (use Integrity), a zero SID, the user SID, an integrity SID or a SID added
// twice are errors.
func (b *TokenBuilder) Group(sid SID, attrs GroupAttributes) *TokenBuilder {
	if b == nil {
		return nil
	}
	switch {
	case sid.IsZero():
		return b.fail("group with zero SID")
	case sid.IsIntegritySID():
		return b.fail("group %v is an integrity label; use Integrity", sid)
	case sid == b.tok.user:
		return b.fail("group %v is the token user", sid)
	case attrs&(SE_GROUP_INTEGRITY|SE_GROUP_INTEGRITY_ENABLED) != 0:
		return b.fail("group %v: integrity attributes belong to the label; use Integrity", sid)
	case attrs&^validGroupAttributes != 0:
		return b.fail("group %v: unknown attributes %#x", sid, uint32(attrs&^validGroupAttributes))
	case attrs&SE_GROUP_ENABLED != 0 && attrs&SE_GROUP_USE_FOR_DENY_ONLY != 0:
		return b.fail("group %v: SE_GROUP_ENABLED and SE_GROUP_USE_FOR_DENY_ONLY together", sid)
	}
	for _, g := range b.tok.groups {
		if g.SID == sid {
			return b.fail("group %v added twice", sid)
		}
	}
	b.tok.groups = append(b.tok.groups, Group{SID: sid, Attributes: attrs})
	return b
}

// DenyOnlyGroup adds a group with SE_GROUP_USE_FOR_DENY_ONLY only: it matches deny ACEs and
// never grants, like BUILTIN\Administrators in a UAC-filtered token.
func (b *TokenBuilder) DenyOnlyGroup(sid SID) *TokenBuilder {
	return b.Group(sid, SE_GROUP_USE_FOR_DENY_ONLY)
}

// Integrity sets the token's integrity level (default Medium).
func (b *TokenBuilder) Integrity(level IntegrityLevel) *TokenBuilder {
	if b == nil {
		return nil
	}
	b.tok.integrity = level
	return b
}

// Privilege adds a privilege, enabled or not. Unknown names and duplicates are errors.
func (b *TokenBuilder) Privilege(name string, enabled bool) *TokenBuilder {
	if b == nil {
		return nil
	}
	if !seIsKnownPrivilege(name) {
		return b.fail("unknown privilege %q", name)
	}
	for _, p := range b.tok.privileges {
		if p.Name == name {
			return b.fail("privilege %q added twice", name)
		}
	}
	b.tok.privileges = append(b.tok.privileges, Privilege{Name: name, Enabled: enabled})
	return b
}

// Name sets the label used in traces. It must not be empty.
func (b *TokenBuilder) Name(name string) *TokenBuilder {
	if b == nil {
		return nil
	}
	if strings.TrimSpace(name) == "" {
		return b.fail("empty token name")
	}
	b.tok.name = name
	return b
}

// Elevated sets TokenElevation.
func (b *TokenBuilder) Elevated(elevated bool) *TokenBuilder {
	if b == nil {
		return nil
	}
	b.tok.elevated = elevated
	return b
}

// Build returns the token, or the first error any builder call recorded. The builder can be
// used again afterwards; the returned token does not change.
func (b *TokenBuilder) Build() (*Token, error) {
	if b == nil {
		return nil, fmt.Errorf("kernel: token builder: nil builder")
	}
	if b.err != nil {
		return nil, b.err
	}
	return b.tok.clone(), nil
}

// mustBuild is Build for the presets, whose input is known to be valid.
func (b *TokenBuilder) mustBuild() *Token {
	t, err := b.Build()
	if err != nil {
		panic("kernel: bad preset token: " + err.Error())
	}
	return t
}

// Well-known user SIDs of the emulated machine (domain S-1-5-21-1000-1000-1000).

// SIDAdminUser returns the user SID of [TokenAdmin] and [TokenFilteredAdmin]:
// S-1-5-21-1000-1000-1000-1000, an interactive user in the Administrators group.
func SIDAdminUser() SID { return mustSID(5, 21, 1000, 1000, 1000, 1000) }

// SIDStandardUser returns the user SID of [TokenStandardUser] and [TokenLowIntegrity]:
// S-1-5-21-1000-1000-1000-1001.
func SIDStandardUser() SID { return mustSID(5, 21, 1000, 1000, 1000, 1001) }

// Privilege sets of the presets, as whoami /priv shows them on Windows.
func seStandardUserPrivileges(b *TokenBuilder) *TokenBuilder {
	return b.
		Privilege(SE_SHUTDOWN_NAME, false).
		Privilege(SE_CHANGE_NOTIFY_NAME, true).
		Privilege(SE_UNDOCK_NAME, false).
		Privilege(SE_INC_WORKING_SET_NAME, false).
		Privilege(SE_TIME_ZONE_NAME, false)
}

// TokenSystem returns a LocalSystem token: user SY; groups BA (enabled, owner), WD and AU;
// System integrity; elevated; and the privileges of a SYSTEM process. Decision: all of them
// are enabled (on Windows a few, such as SeLoadDriverPrivilege, start disabled and services
// enable them), so SYSTEM passes every privilege check.
func TokenSystem() *Token {
	b := NewTokenBuilder(SIDLocalSystem()).
		Name("SYSTEM").
		Group(SIDAdministrators(), SE_GROUP_ENABLED_BY_DEFAULT|SE_GROUP_ENABLED|SE_GROUP_OWNER).
		Group(SIDEveryone(), seGroupDefault).
		Group(SIDAuthenticatedUsers(), seGroupDefault).
		Integrity(IntegritySystem).
		Elevated(true)
	for _, p := range []string{
		SE_CREATE_TOKEN_NAME, SE_ASSIGNPRIMARYTOKEN_NAME, SE_LOCK_MEMORY_NAME, SE_INCREASE_QUOTA_NAME,
		SE_TCB_NAME, SE_SECURITY_NAME, SE_TAKE_OWNERSHIP_NAME, SE_LOAD_DRIVER_NAME,
		SE_SYSTEM_PROFILE_NAME, SE_SYSTEMTIME_NAME, SE_PROF_SINGLE_PROCESS_NAME,
		SE_INC_BASE_PRIORITY_NAME, SE_CREATE_PAGEFILE_NAME, SE_CREATE_PERMANENT_NAME,
		SE_BACKUP_NAME, SE_RESTORE_NAME, SE_SHUTDOWN_NAME, SE_DEBUG_NAME, SE_AUDIT_NAME,
		SE_SYSTEM_ENVIRONMENT_NAME, SE_CHANGE_NOTIFY_NAME, SE_UNDOCK_NAME, SE_MANAGE_VOLUME_NAME,
		SE_IMPERSONATE_NAME, SE_CREATE_GLOBAL_NAME, SE_INC_WORKING_SET_NAME, SE_TIME_ZONE_NAME,
		SE_CREATE_SYMBOLIC_LINK_NAME, SE_DELEGATE_SESSION_USER_NAME,
	} {
		b.Privilege(p, true)
	}
	return b.mustBuild()
}

// TokenAdmin returns the elevated token of an interactive administrator (UAC "Run as
// administrator"): user [SIDAdminUser]; groups BA (mandatory, enabled, owner), BU, WD, AU, IU;
// High integrity; elevated. It holds the administrator privileges (SeDebugPrivilege,
// SeLoadDriverPrivilege, SeSecurityPrivilege, SeTakeOwnershipPrivilege, …) but, as on Windows,
// only SeChangeNotifyPrivilege, SeImpersonatePrivilege and SeCreateGlobalPrivilege are enabled;
// use [Token.WithPrivilegeEnabled] to emulate AdjustTokenPrivileges.
func TokenAdmin() *Token {
	b := NewTokenBuilder(SIDAdminUser()).
		Name("admin (elevated)").
		Group(SIDAdministrators(), seGroupDefault|SE_GROUP_OWNER).
		Group(SIDUsers(), seGroupDefault).
		Group(SIDEveryone(), seGroupDefault).
		Group(SIDAuthenticatedUsers(), seGroupDefault).
		Group(SIDInteractive(), seGroupDefault).
		Integrity(IntegrityHigh).
		Elevated(true)
	for _, p := range []Privilege{
		{SE_INCREASE_QUOTA_NAME, false}, {SE_SECURITY_NAME, false}, {SE_TAKE_OWNERSHIP_NAME, false},
		{SE_LOAD_DRIVER_NAME, false}, {SE_SYSTEM_PROFILE_NAME, false}, {SE_SYSTEMTIME_NAME, false},
		{SE_PROF_SINGLE_PROCESS_NAME, false}, {SE_INC_BASE_PRIORITY_NAME, false},
		{SE_CREATE_PAGEFILE_NAME, false}, {SE_BACKUP_NAME, false}, {SE_RESTORE_NAME, false},
		{SE_SHUTDOWN_NAME, false}, {SE_DEBUG_NAME, false}, {SE_SYSTEM_ENVIRONMENT_NAME, false},
		{SE_CHANGE_NOTIFY_NAME, true}, {SE_REMOTE_SHUTDOWN_NAME, false}, {SE_UNDOCK_NAME, false},
		{SE_MANAGE_VOLUME_NAME, false}, {SE_IMPERSONATE_NAME, true}, {SE_CREATE_GLOBAL_NAME, true},
		{SE_INC_WORKING_SET_NAME, false}, {SE_TIME_ZONE_NAME, false},
		{SE_CREATE_SYMBOLIC_LINK_NAME, false}, {SE_DELEGATE_SESSION_USER_NAME, false},
	} {
		b.Privilege(p.Name, p.Enabled)
	}
	return b.mustBuild()
}

// TokenFilteredAdmin returns the UAC-filtered token of the same administrator (a process not
// run as administrator): BA is SE_GROUP_USE_FOR_DENY_ONLY, so it matches deny ACEs only and
// never grants; BU, WD, AU, IU enabled; Medium integrity; not elevated; only the standard-user
// privileges (SeChangeNotifyPrivilege enabled; SeShutdown, SeUndock, SeIncreaseWorkingSet,
// SeTimeZone disabled).
func TokenFilteredAdmin() *Token {
	return seStandardUserPrivileges(NewTokenBuilder(SIDAdminUser()).
		Name("admin (filtered)").
		DenyOnlyGroup(SIDAdministrators()).
		Group(SIDUsers(), seGroupDefault).
		Group(SIDEveryone(), seGroupDefault).
		Group(SIDAuthenticatedUsers(), seGroupDefault).
		Group(SIDInteractive(), seGroupDefault).
		Integrity(IntegrityMedium)).
		mustBuild()
}

// TokenStandardUser returns the token of an interactive standard user: user
// [SIDStandardUser]; groups BU, WD, AU, IU; Medium integrity; the standard-user privileges.
func TokenStandardUser() *Token {
	return seStandardUserPrivileges(NewTokenBuilder(SIDStandardUser()).
		Name("user").
		Group(SIDUsers(), seGroupDefault).
		Group(SIDEveryone(), seGroupDefault).
		Group(SIDAuthenticatedUsers(), seGroupDefault).
		Group(SIDInteractive(), seGroupDefault).
		Integrity(IntegrityMedium)).
		mustBuild()
}

// TokenLowIntegrity returns the standard user at Low integrity (a sandboxed process, as
// Protected Mode IE was): same user, groups and privileges as [TokenStandardUser].
func TokenLowIntegrity() *Token {
	return seStandardUserPrivileges(NewTokenBuilder(SIDStandardUser()).
		Name("user (low integrity)").
		Group(SIDUsers(), seGroupDefault).
		Group(SIDEveryone(), seGroupDefault).
		Group(SIDAuthenticatedUsers(), seGroupDefault).
		Group(SIDInteractive(), seGroupDefault).
		Integrity(IntegrityLow)).
		mustBuild()
}

// TokenAnonymous returns the anonymous logon token: user AN (S-1-5-7), Untrusted integrity,
// no privileges. Decision: it has no groups. In particular Everyone (WD) is not included,
// which is the Windows default since Windows XP SP2 / Server 2003 (the policy "Network access:
// Let Everyone permissions apply to anonymous users" is disabled), so an ACE for WD does not
// let anonymous callers in.
func TokenAnonymous() *Token {
	return NewTokenBuilder(SIDAnonymous()).
		Name("anonymous").
		Integrity(IntegrityUntrusted).
		mustBuild()
}
