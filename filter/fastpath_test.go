package filter

import (
	"fmt"
	"testing"
)

// fastPathCases are inputs for the equivalence checks, with whether the fast
// path is expected to take them.
var fastPathCases = []struct {
	in   string
	fast bool
}{
	{`userName eq "bjensen"`, true},
	{`userName eq "BJensen@Example.com"`, true},
	{`externalId eq "701984"`, true},
	{`displayName eq "Tour Guides"`, true},
	{`emails.value eq "bjensen@example.com"`, true},
	{`emails[value eq "bjensen@example.com"]`, true},
	{`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, true},
	{`id eq "2819c223-7f76-453a-919d-413861904646"`, true},
	{`userName eq "a" and externalId eq "b"`, true},
	{`userName EQ "a" AND externalId Eq "b"`, true},
	{`title pr`, true},
	{`title PR and userType eq "Employee"`, true},
	{`active eq true`, true},
	{`active eq False`, true},
	{`active eq "True"`, true},
	{`userName sw "J"`, true},
	{`name.familyName co "O'Malley"`, true},
	{`meta.lastModified gt "2011-05-13T04:42:34Z"`, true},
	{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, true},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`, true},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr`, true},
	{`emails[type eq "work" and value co "@example.com"]`, true},
	{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, true},
	{`emails[type eq "work"] and title pr`, true},
	{`emails[primary eq true]`, true},
	{`userName eq "Zoë ☃"`, true},
	{`userName eq ""`, true},
	{`foo eq "x"`, true},
	{`userName gt true`, true},
	{`not eq "x"`, true},
	{`and eq "x" and or eq "y"`, true},
	{`userName eq "a\"b"`, false},
	{`userName eq "a\\b"`, false},
	{`userName  eq "a"`, false},
	{`userName eq  "a"`, false},
	{`userName eq "a"  and id eq "b"`, false},
	{`userName eq "a" or id eq "b"`, false},
	{`userName eq "a" and id eq "b" and title pr`, false},
	{`(userName eq "a")`, false},
	{`not (title pr)`, false},
	{`userName eq null`, false},
	{`count eq 42`, false},
	{`emails [value eq "x"]`, false},
	{`emails[ value eq "x"]`, false},
	{`emails[value eq "x" ]`, false},
	{`emails[value eq "x" or type eq "y"]`, false},
	{`emails.value[value eq "x"]`, false},
	{`members.$ref eq "x"`, false},
	{`userName eq "a"and id eq "b"`, false},
	{`title prx`, false},
	{`title pr and`, false},
	{`userName eq "x`, false},
	{`userName eq "tab	"`, false},
	{`userName eq "\xff"`, false},
	{`userName eq "` + "\uFFFD" + `"`, false},
	{`urn::x:userName eq "a"`, false},
	{`my_urn:userName eq "a"`, false},
	{`userName eq truex`, false},
	{`emails[value eq "x"]x`, false},
	{`a.b.c eq "x"`, false},
	{`1abc eq "x"`, false},
}

var pathCases = []struct {
	in   string
	fast bool
}{
	{`active`, true},
	{`name.givenName`, true},
	{`members`, true},
	{`emails[type eq "work"].value`, true},
	{`emails[type eq "work"]`, true},
	{`members[value eq "2819c223"]`, true},
	{`addresses[type eq "work" and primary eq true].streetAddress`, true},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, true},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, true},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x"]`, true},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, true},
	{`emails[type eq "work"].value.x`, false},
	{`emails[type eq "work"]value`, false},
	{`emails[type eq "work" or type eq "home"]`, false},
	{`emails[type eq "a\"b"].value`, false},
	{`name.givenName[value eq "x"]`, false},
	{`members[value eq "x"].$ref`, false},
}

// checkFastFilter fails when the fast path accepts s but the generic path
// compiles it differently: other syntax tree, canonical form, error or match
// results on the sample resources.
func checkFastFilter(t testing.TB, s string, samples []map[string]any) {
	t.Helper()
	fast, ok := fastFilter(s)
	if !ok {
		return
	}
	slow, err := slowFilter(s)
	if err != nil {
		t.Fatalf("fast path accepted %q, generic parser rejected it: %v", s, err)
	}
	if fmt.Sprint(fast) != fmt.Sprint(slow) {
		t.Fatalf("syntax trees differ for %q: fast %v, generic %v", s, fast, slow)
	}
	for _, rs := range []*ResourceSchema{userRS, groupRS} {
		fc := compiler{rs: rs.impl, scimType: ScimTypeInvalidFilter}
		fn, ferr := fc.expr(fast, nil)
		sn, serr := fc.expr(slow, nil)
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Fatalf("errors differ for %q: fast %v, generic %v", s, ferr, serr)
		}
		if ferr != nil {
			continue
		}
		if fn.String() != sn.String() {
			t.Fatalf("canonical forms differ for %q: fast %s, generic %s", s, fn, sn)
		}
		for i, r := range samples {
			if a, b := rs.impl.eval(fn, r), rs.impl.eval(sn, r); a != b {
				t.Fatalf("match differs for %q on sample %d: fast %v, generic %v", s, i, a, b)
			}
		}
	}
}

// checkFastPath is checkFastFilter for PATCH paths.
func checkFastPath(t testing.TB, s string) {
	t.Helper()
	fast, ok := fastPath(s)
	if !ok {
		return
	}
	slow, err := slowPath(s)
	if err != nil {
		t.Fatalf("fast path accepted path %q, generic parser rejected it: %v", s, err)
	}
	if fmt.Sprint(fast) != fmt.Sprint(slow) {
		t.Fatalf("paths differ for %q: fast %v, generic %v", s, fast, slow)
	}
}

func samples(t testing.TB) []map[string]any {
	return []map[string]any{
		decode(t, bjensenJSON), decode(t, jsmithJSON), decode(t, aliceJSON), decode(t, driftJSON), decode(t, groupJSON),
		{"userName": "Zoë ☃", "active": "True", "emails": []any{map[string]any{"value": "x", "primary": true}}},
		{"userName": "", "foo": "x", "not": "x", "and": "x", "or": "y"},
	}
}

func TestFastPathEquivalence(t *testing.T) {
	t.Parallel()
	smp := samples(t)
	for _, tt := range fastPathCases {
		t.Run(tt.in, func(t *testing.T) {
			if _, ok := fastFilter(tt.in); ok != tt.fast {
				t.Errorf("fast path took it: %v, want %v", ok, tt.fast)
			}
			checkFastFilter(t, tt.in, smp)
		})
	}
	for _, tt := range pathCases {
		t.Run("path "+tt.in, func(t *testing.T) {
			if _, ok := fastPath(tt.in); ok != tt.fast {
				t.Errorf("fast path took it: %v, want %v", ok, tt.fast)
			}
			checkFastPath(t, tt.in)
		})
	}
}

// FuzzFastPathEquivalence: whatever the input, when the fast path accepts it,
// the generic parser gives the same compiled filter.
func FuzzFastPathEquivalence(f *testing.F) {
	for _, tt := range fastPathCases {
		f.Add(tt.in)
	}
	for _, tt := range pathCases {
		f.Add(tt.in)
	}
	smp := samples(f)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > MaxFilterLength || nesting(s) > MaxFilterDepth {
			return
		}
		defer watchdog(s)()
		checkFastFilter(t, s, smp)
		checkFastPath(t, s)
	})
}
