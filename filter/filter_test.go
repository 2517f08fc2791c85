package filter

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// rfcFilterExamples are the example filters of RFC 7644 §3.4.2.2, with the
// sample users each one matches.
var rfcFilterExamples = []struct {
	filter string
	want   []string
}{
	{`userName eq "bjensen"`, []string{"bjensen"}},
	{`name.familyName co "O'Malley"`, []string{"alice"}},
	{`userName sw "J"`, []string{"jsmith"}},
	{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, []string{"jsmith"}},
	{`title pr`, []string{"bjensen"}},
	// alice's lastModified is the same instant as bjensen's, written in +02:00.
	{`meta.lastModified gt "2011-05-13T04:42:34Z"`, []string{"jsmith"}},
	{`meta.lastModified ge "2011-05-13T04:42:34Z"`, []string{"alice", "bjensen", "jsmith"}},
	{`meta.lastModified lt "2011-05-13T04:42:34Z"`, []string{}},
	{`meta.lastModified le "2011-05-13T04:42:34Z"`, []string{"alice", "bjensen"}},
	{`title pr and userType eq "Employee"`, []string{"bjensen"}},
	{`title pr or userType eq "Intern"`, []string{"bjensen", "jsmith"}},
	{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, []string{"bjensen"}},
	{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, []string{"alice", "bjensen"}},
	// drift has no userType and no usable emails.
	{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, []string{"drift"}},
	{`userType eq "Employee" and (emails.type eq "work")`, []string{"alice", "bjensen"}},
	{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, []string{"bjensen"}},
	{`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, []string{"bjensen", "jsmith"}},
}

// TestRFC7644FilterExamples runs every example filter of RFC 7644 §3.4.2.2
// against the sample users.
func TestRFC7644FilterExamples(t *testing.T) {
	t.Parallel()
	res := users(t)
	for _, tt := range rfcFilterExamples {
		t.Run(tt.filter, func(t *testing.T) {
			f := mustCompile(t, userRS, tt.filter)
			if got := matching(f, res); !slices.Equal(got, tt.want) {
				t.Errorf("matches %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStringTruthTable checks every operator on a string attribute that is
// not caseExact (userName) and one that is (externalId), holding "MiXeD".
func TestStringTruthTable(t *testing.T) {
	t.Parallel()
	res := map[string]any{"userName": "MiXeD", "externalId": "MiXeD"}
	tests := []struct {
		op, value     string
		caseIgnoring  bool // userName, caseExact false
		caseSensitive bool // externalId, caseExact true
	}{
		{"eq", "MiXeD", true, true},
		{"eq", "mixed", true, false},
		{"eq", "MIXED", true, false},
		{"eq", "mix", false, false},
		{"ne", "mixed", false, true},
		{"ne", "MiXeD", false, false},
		{"ne", "other", true, true},
		{"co", "xe", true, false},
		{"co", "Xe", true, true},
		{"co", "", true, true},
		{"sw", "mi", true, false},
		{"sw", "Mi", true, true},
		{"sw", "MiXeD", true, true},
		{"ew", "ED", true, false},
		{"ew", "eD", true, true},
		{"gt", "MIXED", false, true},
		{"ge", "mixed", true, false},
		{"lt", "mixed", false, true},
		{"le", "MIXED", true, false},
		{"lt", "n", true, true},
		{"gt", "N", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.op+" "+tt.value, func(t *testing.T) {
			for _, c := range []struct {
				attr string
				want bool
			}{{"userName", tt.caseIgnoring}, {"externalId", tt.caseSensitive}} {
				f := mustCompile(t, userRS, c.attr+" "+tt.op+" "+quote(tt.value))
				if got := f.Match(res); got != c.want {
					t.Errorf("%s: got %v, want %v", f, got, c.want)
				}
			}
		})
	}
	for _, attr := range []string{"userName", "externalId"} {
		if !mustCompile(t, userRS, attr+" pr").Match(res) {
			t.Errorf("%s pr: got false", attr)
		}
	}
}

// TestIdIsCaseExact: id and externalId are caseExact (RFC 7643 §3.1).
func TestIdIsCaseExact(t *testing.T) {
	t.Parallel()
	res := map[string]any{"id": "AbC"}
	if mustCompile(t, userRS, `id eq "abc"`).Match(res) {
		t.Error(`id eq "abc" matched "AbC"`)
	}
	if !mustCompile(t, userRS, `ID EQ "AbC"`).Match(res) {
		t.Error(`ID EQ "AbC" did not match "AbC"`)
	}
}

// TestTypedTruthTable checks comparisons of booleans, numbers, dateTimes,
// binary and references.
func TestTypedTruthTable(t *testing.T) {
	t.Parallel()
	res := map[string]any{
		"count":   float64(42),
		"weight":  2.5,
		"sizes":   []any{float64(1), float64(10)},
		"enabled": true,
		"expires": "2026-01-01T01:00:00+01:00",
		"blob":    "QUJD",
		"link":    "https://Example.com/X",
		"label":   "Hello",
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{`count eq 42`, true},
		{`count eq 42.0`, true},
		{`count eq "42"`, true},
		{`count ne 42`, false},
		{`count gt 41`, true},
		{`count gt 42`, false},
		{`count ge 42`, true},
		{`count lt 4.2e1`, false},
		{`count le 42`, true},
		{`weight gt 2`, true},
		{`weight lt -1`, false},
		{`sizes gt 5`, true},
		{`sizes lt 1`, false},
		{`sizes eq 10`, true},
		{`sizes ne 10`, false},
		{`sizes ne 3`, true},
		{`enabled eq true`, true},
		{`enabled eq TRUE`, true},
		{`enabled eq false`, false},
		{`enabled ne false`, true},
		{`enabled eq "True"`, true},
		{`enabled eq "FALSE"`, false},
		{`expires eq "2026-01-01T00:00:00Z"`, true},
		{`expires gt "2025-12-31T23:59:59Z"`, true},
		{`expires lt "2026-01-01T00:00:00.001Z"`, true},
		{`expires le "2025-12-31T23:00:00-01:00"`, true},
		{`expires sw "2026-01-01t"`, true},
		{`blob eq "QUJD"`, true},
		{`blob eq "qujd"`, false},
		{`link eq "https://example.com/X"`, false},
		{`link co "Example"`, true},
		{`label eq "hello"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := mustCompile(t, widgetRS, tt.filter).Match(res); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMissingAndNull: a missing attribute matches nothing but "ne" (it is not
// equal); null compares with unassigned (RFC 7643 §2.5).
func TestMissingAndNull(t *testing.T) {
	t.Parallel()
	res := map[string]any{"userName": "u", "title": "", "emails": []any{}, "name": map[string]any{"givenName": nil}}
	tests := []struct {
		filter string
		want   bool
	}{
		{`nickName eq "x"`, false},
		{`nickName ne "x"`, true},
		{`nickName pr`, false},
		{`nickName co ""`, false},
		{`nickName gt "a"`, false},
		{`title pr`, false},
		{`emails pr`, false},
		{`emails.value ne "x"`, true},
		{`name pr`, false},
		{`name.givenName pr`, false},
		{`nickName eq null`, true},
		{`nickName ne null`, false},
		{`userName eq null`, false},
		{`userName ne null`, true},
		{`emails[type eq "work"]`, false},
		{`not (emails[type eq "work"])`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ne "1"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := mustCompile(t, userRS, tt.filter).Match(res); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTypeDrift: values of unexpected types never match and never panic.
func TestTypeDrift(t *testing.T) {
	t.Parallel()
	drift := decode(t, driftJSON)
	tests := []struct {
		filter string
		want   bool
	}{
		{`userName eq "42"`, false},
		{`userName ne "42"`, true},
		{`userName pr`, false},
		{`id eq "7"`, false},
		{`active eq true`, false},
		{`active ne true`, true},
		{`name.givenName pr`, false},
		{`emails.value co "not"`, false},
		{`emails co "not"`, false},
		{`ims.value eq "5"`, false},
		{`ims[type eq "true"]`, false},
		{`ims pr`, false},
		{`title pr`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr`, false},
		{`title eq "a"`, false},
		{`meta.lastModified gt "2000-01-01T00:00:00Z"`, false},
		{`meta.created lt "2100-01-01T00:00:00Z"`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, false},
		{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, false},
		{`schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := mustCompile(t, userRS, tt.filter).Match(drift); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if mustCompile(t, userRS, `userName eq "x"`).Match(nil) {
		t.Error("nil resource matched")
	}
}

// TestValuePathPerElement: both conditions of a value filter apply to the same
// element, unlike two conditions on sub-attributes.
func TestValuePathPerElement(t *testing.T) {
	t.Parallel()
	alice := decode(t, aliceJSON)
	if mustCompile(t, userRS, `emails[type eq "work" and value co "@example.com"]`).Match(alice) {
		t.Error("value path matched conditions met by two different elements")
	}
	if !mustCompile(t, userRS, `emails.type eq "work" and emails.value co "@example.com"`).Match(alice) {
		t.Error("sub-attribute conditions did not match across elements")
	}
	if !mustCompile(t, userRS, `emails[type eq "work" and primary eq true and value ew ".org"]`).Match(alice) {
		t.Error("three-term value filter did not match")
	}
	if !mustCompile(t, userRS, `emails[(type eq "home" or type eq "other") and value sw "alice@"]`).Match(alice) {
		t.Error("grouped value filter did not match")
	}
	if !mustCompile(t, userRS, `emails[not (type eq "work")]`).Match(alice) {
		t.Error("negated value filter did not match the home email")
	}
	if !mustCompile(t, userRS, `name[givenName eq "alice" and familyName sw "o'"]`).Match(alice) {
		t.Error("value filter on a single-valued complex attribute did not match")
	}
}

// TestExtensionAndMeta covers URN-qualified attributes and meta.
func TestExtensionAndMeta(t *testing.T) {
	t.Parallel()
	res := users(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, []string{"bjensen"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`, []string{"bjensen"}},
		{`URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq "tour operations"`, []string{"bjensen"}},
		{`employeeNumber pr`, []string{"bjensen"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr`, []string{"bjensen"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName sw "john"]`, []string{"bjensen"}},
		{`meta.resourceType eq "User"`, []string{"alice", "bjensen", "jsmith"}},
		{`meta.resourceType eq "user"`, []string{}},
		{`meta.created lt "2011-01-01T00:00:01Z" and meta.lastModified gt "2011-01-01T00:00:00Z"`, []string{"alice", "bjensen"}},
		{`meta.version eq "W/\"3694e05e9dff591\""`, []string{"bjensen"}},
		{`groups.value eq "e9e30dba-f08f-4109-8486-d5c6a331660a"`, []string{"bjensen"}},
		{`groups[display eq "tour guides"]`, []string{"bjensen"}},
		{`active eq false`, []string{"jsmith"}},
		{`active eq "False"`, []string{"jsmith"}},
		{`active ne true`, []string{"alice", "drift", "jsmith"}},
		{`USERNAME Eq "BJENSEN" AnD ExternalID eq "701984"`, []string{"bjensen"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := matching(mustCompile(t, userRS, tt.filter), res); !slices.Equal(got, tt.want) {
				t.Errorf("matches %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCompileErrors: ill-typed and malformed filters are 400 invalidFilter.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rs     *ResourceSchema
		filter string
		detail string // substring of the detail
	}{
		{userRS, ``, "empty"},
		{userRS, `   `, "empty"},
		{userRS, `userName`, "syntax"},
		{userRS, `userName eq`, "syntax"},
		{userRS, `userName xx "a"`, "syntax"},
		{userRS, `userName eq "a" and`, "syntax"},
		{userRS, `userName eq "unterminated`, "syntax"},
		{userRS, `(userName eq "a"`, "syntax"},
		{userRS, `userName eq 'a'`, "syntax"},
		{userRS, `foo eq "x"`, "unknown attribute"},
		{userRS, `name.foo eq "x"`, "unknown attribute"},
		{userRS, `userName.foo eq "x"`, "no sub-attributes"},
		{userRS, `emails[foo eq "x"]`, "unknown sub-attribute"},
		{userRS, `userName[value eq "x"]`, "not a complex attribute"},
		{userRS, `urn:example:unknown:1.0:Thing:attr eq "x"`, "unknown schema"},
		{userRS, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq "x"`, "only the pr operator"},
		{userRS, `name eq "x"`, "needs a sub-attribute"},
		{userRS, `active gt true`, "only eq, ne and pr"},
		{userRS, `active co "t"`, "only eq, ne and pr"},
		{userRS, `active eq "maybe"`, "non-boolean"},
		{userRS, `active eq 1`, "non-boolean"},
		{userRS, `userName gt true`, "non-string"},
		{userRS, `userName eq 42`, "non-string"},
		{userRS, `emails.value eq 5`, "non-string"},
		{userRS, `userName co null`, "null"},
		{userRS, `meta.lastModified gt "yesterday"`, "xsd:dateTime"},
		{userRS, `meta.lastModified gt 5`, "non-string"},
		{userRS, `x509Certificates.value gt "AAAA"`, "binary"},
		{userRS, `password eq "secret"`, "cannot be filtered"},
		{userRS, `emails[value eq "x"].value eq "y" and active eq true`, "syntax"}, // the Entra sub-attribute form is accepted alone only (subattr_rewrite.go)
		{userRS, `emails[type eq "work" and emails[value eq "x"]]`, "syntax"},
		{groupRS, `userName eq "x"`, "unknown attribute"},
		{widgetRS, `count co 4`, "cannot be compared with co"},
		{widgetRS, `count eq "four"`, "non-numeric"},
		{widgetRS, `count gt 1e999`, "non-numeric"},
		{widgetRS, `blob lt "x"`, "binary"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := Compile(tt.rs, tt.filter)
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Status != http.StatusBadRequest || e.ScimType != ScimTypeInvalidFilter {
				t.Errorf("got %d %s, want 400 invalidFilter", e.Status, e.ScimType)
			}
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("detail %q does not mention %q", e.Detail, tt.detail)
			}
		})
	}
}

// TestLimits: length and nesting are bounded before parsing.
func TestLimits(t *testing.T) {
	t.Parallel()
	nested := func(depth int) string {
		return strings.Repeat("(", depth) + `userName eq "x"` + strings.Repeat(")", depth)
	}
	if _, err := Compile(userRS, nested(MaxFilterDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxFilterDepth, err)
	}
	_, err := Compile(userRS, nested(MaxFilterDepth+1))
	if e, ok := AsError(err); !ok || e.ScimType != ScimTypeInvalidFilter || !strings.Contains(e.Detail, "nests deeper") {
		t.Errorf("depth %d: got %v", MaxFilterDepth+1, err)
	}
	nots := strings.Repeat("not (", MaxFilterDepth+1) + `title pr` + strings.Repeat(")", MaxFilterDepth+1)
	if _, err := Compile(userRS, nots); scimType(err) != ScimTypeInvalidFilter {
		t.Errorf("nested not: got %v", err)
	}
	// Brackets inside string literals do not count.
	if _, err := Compile(userRS, `userName eq "`+strings.Repeat("(", 100)+`"`); err != nil {
		t.Errorf("parentheses in a literal: %v", err)
	}
	long := `userName eq "` + strings.Repeat("a", MaxFilterLength) + `"`
	_, err = Compile(userRS, long)
	if e, ok := AsError(err); !ok || e.ScimType != ScimTypeInvalidFilter || !strings.Contains(e.Detail, "longer than") {
		t.Errorf("long filter: got %v", err)
	}
	// A long chain of "or" is flat, not deep.
	var terms []string
	for i := 0; i < 100; i++ {
		terms = append(terms, `id eq "`+strings.Repeat("x", i%7)+`"`)
	}
	if _, err := Compile(userRS, strings.Join(terms, " or ")); err != nil {
		t.Errorf("100 terms: %v", err)
	}
}

// TestCanonicalString: String is canonical, and compiling it again gives the
// same filter.
func TestCanonicalString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`USERNAME EQ "Bjensen"`, `userName eq "Bjensen"`},
		{`userName eq "a" and (externalId eq "b" and id eq "c")`, `userName eq "a" and externalId eq "b" and id eq "c"`},
		{`(userName eq "a" or id eq "b") and title pr`, `(userName eq "a" or id eq "b") and title pr`},
		{`userName eq "a" or (id eq "b" and title pr)`, `userName eq "a" or id eq "b" and title pr`},
		{`not(title pr)`, `not (title pr)`},
		{`emails co "x"`, `emails.value co "x"`},
		{`emails[ type eq "work" ]`, `emails[type eq "work"]`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "B"`, `name.givenName sw "B"`},
		{`employeeNumber eq "1"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`},
		{`active eq "True"`, `active eq true`},
		{`userName eq "tab\there \"quoted\" \\ \u00e9"`, `userName eq "tab\there \"quoted\" \\ é"`},
		{`userName eq null`, `userName eq null`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f := mustCompile(t, userRS, tt.in)
			if got := f.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
			if again := mustCompile(t, userRS, f.String()).String(); again != f.String() {
				t.Errorf("recompiled String() = %s", again)
			}
		})
	}
}

func TestNilSchema(t *testing.T) {
	t.Parallel()
	if _, err := Compile(nil, `userName eq "x"`); err == nil {
		t.Error("Compile with nil schema succeeded")
	}
	if _, _, err := Apply(nil, nil, nil); err == nil {
		t.Error("Apply with nil schema succeeded")
	}
	if _, err := Normalize(nil, nil); err == nil {
		t.Error("Normalize with nil schema succeeded")
	}
	if _, err := ParsePatch(nil, nil); err == nil {
		t.Error("ParsePatch with nil schema succeeded")
	}
	if _, err := Comparator(nil, "userName"); err == nil {
		t.Error("Comparator with nil schema succeeded")
	}
	if Project(nil, map[string]any{}, nil, nil) != nil {
		t.Error("Project with nil schema returned a resource")
	}
}
