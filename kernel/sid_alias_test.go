package kernel

import "testing"

// The alias table is one-to-one, and each row reads back both ways through the exported API.
func TestSIDAliasTableRoundTrips(t *testing.T) {
	aliases, sids := map[string]bool{}, map[string]bool{}
	for _, a := range sidAliases {
		if aliases[a.alias] || sids[a.sid] {
			t.Fatalf("%s / %s listed twice", a.alias, a.sid)
		}
		aliases[a.alias], sids[a.sid] = true, true
		s, err := ParseSID(a.alias)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != a.sid || s.Alias() != a.alias {
			t.Errorf("%s: ParseSID gives %s with alias %q, want %s", a.alias, s, s.Alias(), a.sid)
		}
		if back, err := ParseSID(a.sid); err != nil || back.Alias() != a.alias {
			t.Errorf("%s: alias of %s is %q (%v)", a.sid, back, back.Alias(), err)
		}
	}
	if len(sidAliases) < 40 {
		t.Fatalf("%d aliases", len(sidAliases))
	}
}
