package filter

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// watchdog crashes the fuzz worker, naming the input, when one input takes
// longer than a few seconds: a hang is a failure too.
func watchdog(input any) (stop func() bool) {
	return time.AfterFunc(10*time.Second, func() {
		panic(fmt.Sprintf("input took more than 10s: %q", input))
	}).Stop
}

var knownScimTypes = map[string]bool{
	ScimTypeInvalidFilter: true, ScimTypeInvalidPath: true, ScimTypeNoTarget: true, ScimTypeInvalidValue: true,
	ScimTypeMutability: true, ScimTypeInvalidSyntax: true, ScimTypeTooMany: true,
}

// checkClientError fails unless err is a 400 *Error with a known scimType.
func checkClientError(t *testing.T, err error, what string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Status != http.StatusBadRequest || !knownScimTypes[e.ScimType] || e.Detail == "" {
		t.Fatalf("%s: error %#v is not a 400 SCIM error", what, err)
	}
}

// extraFilterSeeds are inputs for FuzzFilter besides the other test tables.
var extraFilterSeeds = []string{
	`userName eq "a\"b\\c\u00e9\uFFFD"`,
	`count ge -1.5e-3 and weight lt 1E+2`,
	`members[value eq "u1"] or displayName sw "t"`,
	`not (not (userName pr))`,
	`emails[type eq "work" and value co "x" and primary eq true]`,
	`emails[not (type eq "work")] and name[givenName pr]`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x" or displayName pr]`,
	`meta.lastModified gt "2011-05-13T04:42:34.123+02:00"`,
	`userName eq null or nickName ne null`,
	`((((userName eq "x"))))`,
}

// FuzzFilter compiles arbitrary strings against three schemas: errors are
// 400 invalidFilter, compiled filters print in a canonical form that
// compiles to itself, never panic on the sample resources and plan lookups
// that find every match.
func FuzzFilter(f *testing.F) {
	for _, tt := range rfcFilterExamples {
		f.Add(tt.filter)
	}
	for _, tt := range fastPathCases {
		f.Add(tt.in)
	}
	for _, s := range extraFilterSeeds {
		f.Add(s)
	}
	smp := samples(f)
	f.Fuzz(func(t *testing.T, s string) {
		defer watchdog(s)()
		for _, rs := range []*ResourceSchema{userRS, groupRS, widgetRS, acmeRS} {
			flt, err := Compile(rs, s)
			if err != nil {
				checkClientError(t, err, "Compile")
				if scimType(err) != ScimTypeInvalidFilter {
					t.Fatalf("Compile(%q): scimType %s", s, scimType(err))
				}
				continue
			}
			canon := flt.String()
			if len(canon) > MaxFilterLength {
				// Canonical forms can be longer than their source (escaped
				// invalid UTF-8, URN-qualified names); the limit applies.
				continue
			}
			again, err := Compile(rs, canon)
			if err != nil {
				t.Fatalf("canonical form %q of %q does not compile: %v", canon, s, err)
			}
			if again.String() != canon {
				t.Fatalf("canonical form of %q is not stable: %q then %q", s, canon, again.String())
			}
			lookups, planned := flt.Plan()
			for i, r := range smp {
				m := flt.Match(r)
				if m != again.Match(r) {
					t.Fatalf("%q and its canonical form %q disagree on sample %d", s, canon, i)
				}
				if m && planned && !planCovers(lookups, r) {
					t.Fatalf("%q matches sample %d, which plan %v misses", s, i, lookups)
				}
			}
		}
	})
}

// fuzzTargets are the resources FuzzPatch applies operations to.
var fuzzTargets = []struct {
	rs  *ResourceSchema
	res string
}{
	{userRS, storedUser},
	{userRS, bareUser},
	{groupRS, storedGroup},
	{widgetRS, `{"count":1,"serial":"S","sizes":[1,2],"enabled":false}`},
	{acmeRS, `{"userName":"a","emails":[{"value":"a@x","primary":true},{"value":"b@x","type":"work"}],
	  "urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris"},"level":"Senior","hired":"2026-01-02T00:00:00Z"}}`},
}

// FuzzPatch parses arbitrary PATCH bodies and applies them: no panic, errors
// are 400 SCIM errors, the input is never modified (atomicity: on error
// nothing is returned), changed tells the truth and the result is a valid
// resource.
func FuzzPatch(f *testing.F) {
	for _, group := range [][]patchCase{rfcPatchCases, entraPatchCases, oktaPatchCases, semanticPatchCases, errorPatchCases} {
		for i, tt := range group {
			f.Add(patchBody(tt.ops), uint8(i))
		}
	}
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"Op":"Add","Value":{"count":"7"}}]}`), uint8(3))
	f.Add([]byte(`{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"add","path":"sizes","value":["3",4]}]}`), uint8(3))
	f.Add([]byte(`[]`), uint8(0))
	f.Add(patchBody(`[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:acme:2.0:User:site.code","value":"LYS"},{"op":"add","path":"urn:ietf:params:scim:schemas:extension:acme:2.0:User:skills","value":["GO","x"]}]`), uint8(4))
	f.Add(patchBody(`[{"op":"add","path":"emails","value":[{"value":"A@X","primary":"True"},{"value":"c@x","type":"work"}]},{"op":"remove","path":"emails[value eq \"b@x\"]"},{"op":"remove","path":"emails","value":{"type":"work"}}]`), uint8(4))
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		defer watchdog(body)()
		target := fuzzTargets[int(which)%len(fuzzTargets)]
		ops, err := ParsePatch(target.rs, body)
		if err != nil {
			checkClientError(t, err, "ParsePatch")
			return
		}
		res, err := Normalize(target.rs, decode(t, target.res))
		if err != nil {
			t.Fatal(err)
		}
		before := toJSON(t, res)
		out, changed, err := Apply(target.rs, res, ops)
		checkNaive(t, target.rs, res, ops, out, changed, err)
		if after := toJSON(t, res); after != before {
			t.Fatalf("input modified by %s:\n%s\n%s", body, before, after)
		}
		if err != nil {
			checkClientError(t, err, "Apply")
			if out != nil {
				t.Fatalf("Apply returned a resource with error %v", err)
			}
			return
		}
		if got := toJSON(t, out) != before; got != changed {
			t.Fatalf("changed = %v but the resource %s", changed, map[bool]string{true: "changed", false: "did not change"}[got])
		}
		if _, err := Normalize(target.rs, out); err != nil {
			t.Fatalf("result of %s is not a valid resource: %v\n%s", body, err, toJSON(t, out))
		}
	})
}

// checkNaive fails when Apply without indexes (every lookup a scan of the
// list, as the code stood before the indexes) gives another result than
// Apply: the indexes are shortcuts and must not change any answer.
func checkNaive(t *testing.T, rs *ResourceSchema, res map[string]any, ops []Operation, out map[string]any, changed bool, err error) {
	t.Helper()
	p := newPatcher(rs.impl, cloneMap(res))
	p.naive = true
	nout, nchanged, nerr := p.applyAll(res, ops)
	if scimType(err) != scimType(nerr) || (err == nil) != (nerr == nil) {
		t.Fatalf("indexed error %v, naive error %v", err, nerr)
	}
	if err != nil {
		return
	}
	if a, b := toJSON(t, out), toJSON(t, nout); a != b || changed != nchanged {
		t.Fatalf("indexed and naive results differ:\n%s (changed %v)\n%s (changed %v)", a, changed, b, nchanged)
	}
}
