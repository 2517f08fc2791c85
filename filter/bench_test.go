package filter

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkCompileFastPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(userRS, `userName eq "bjensen@example.com"`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileGeneric(b *testing.B) {
	const expr = `userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`
	if _, ok := fastFilter(expr); ok {
		b.Fatal("benchmark filter takes the fast path")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(userRS, expr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch evaluates the lookup Entra and Okta send before every
// create, against a full user view.
func BenchmarkMatch(b *testing.B) {
	f := mustCompile(b, userRS, `userName eq "BJensen" and emails[type eq "work" and value eq "bjensen@example.com"]`)
	res := decode(b, bjensenJSON)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(res) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkApplyPatch applies a typical three-operation Entra PATCH to a user.
func BenchmarkApplyPatch(b *testing.B) {
	ops, err := ParsePatch(userRS, patchBody(`[
	  {"op":"Replace","path":"active","value":"False"},
	  {"op":"Add","path":"emails[type eq \"work\"].value","value":"babs@example.org"},
	  {"op":"Replace","path":"name.givenName","value":"Babs"}]`))
	if err != nil {
		b.Fatal(err)
	}
	res, err := Normalize(userRS, decode(b, storedUser))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, changed, err := Apply(userRS, res, ops); err != nil || !changed {
			b.Fatal(changed, err)
		}
	}
}

func BenchmarkParsePatch(b *testing.B) {
	body := patchBody(`[
	  {"op":"Replace","path":"active","value":"False"},
	  {"op":"Add","path":"emails[type eq \"work\"].value","value":"babs@example.org"},
	  {"op":"Replace","path":"name.givenName","value":"Babs"}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePatch(userRS, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParsePatchMembers50 parses Okta's membership push: one add of 50
// members, each an object with value and display.
func BenchmarkParsePatchMembers50(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`)
	for i := range 50 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"value":"%08d-d645-4333-bcd9-561a9b397437","display":"user%06d@example.com"}`, i, i)
	}
	sb.WriteString(`]}]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePatch(groupRS, body); err != nil {
			b.Fatal(err)
		}
	}
}
