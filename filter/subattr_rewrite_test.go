package filter

import (
	"testing"

	"github.com/elimity-com/scim/schema"
)

func TestRewriteValuePathSub(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`emails[type eq "work"].value eq "a@b.c"`, `emails[type eq "work" and value eq "a@b.c"]`, true},
		{`emails[type eq "work"].value pr`, `emails[type eq "work" and value pr]`, true},
		{`emails[type eq "w]ork"].value eq "x"`, `emails[type eq "w]ork" and value eq "x"]`, true},
		{`addresses[type eq "work"].postalCode sw "9"`, `addresses[type eq "work" and postalCode sw "9"]`, true},
		{`emails[type eq "work"].value eq "x" and active eq true`, "", false},
		{`emails[type eq "work"].value eq "x" or userName eq "y"`, "", false},
		{`emails[type eq "work"].value`, "", false},
		{`emails[type eq "work"].value foo "x"`, "", false},
		{`(emails[type eq "work"]).value eq "x"`, "", false},
		{`emails[type eq "work"] eq "x"`, "", false},
		{`emails[type eq "work"].value eq "unterminated`, "", false},
	} {
		got, ok := rewriteValuePathSub(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("rewriteValuePathSub(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestValuePathSubAttributeFilter: the Entra form matches exactly like the RFC
// form it stands for.
func TestValuePathSubAttributeFilter(t *testing.T) {
	t.Parallel()
	rs := NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	entra, err := Compile(rs, `emails[type eq "work"].value eq "ada@example.com"`)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	rfc, err := Compile(rs, `emails[type eq "work" and value eq "ada@example.com"]`)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if entra.String() != rfc.String() {
		t.Fatalf("canonical forms differ: %s vs %s", entra, rfc)
	}
	work := map[string]any{"id": "1", "userName": "ada", "emails": []any{
		map[string]any{"type": "work", "value": "ada@example.com"}}}
	home := map[string]any{"id": "2", "userName": "bob", "emails": []any{
		map[string]any{"type": "home", "value": "ada@example.com"}}}
	if !entra.Match(work) || entra.Match(home) {
		t.Fatalf("match: work %v (want true), home %v (want false)", entra.Match(work), entra.Match(home))
	}
	if _, err := Compile(rs, `emails[type eq "work"].value eq "x" and active eq true`); err == nil {
		t.Fatal("a trailing clause after the rewritten comparison must stay a syntax error")
	}
}

// TestRemoveManagerWithListValue: Entra's list-wrapped value removes a
// single-valued complex attribute when it designates the current value.
func TestRemoveManagerWithListValue(t *testing.T) {
	t.Parallel()
	rs := NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	const ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	user := func() map[string]any {
		return map[string]any{"userName": "ada", ext: map[string]any{"department": "R&D", "manager": map[string]any{"value": "m1"}}}
	}
	for _, tc := range []struct {
		name    string
		value   any
		removed bool
	}{
		{"list naming the manager", []any{map[string]any{"value": "m1"}}, true},
		{"list naming another", []any{map[string]any{"value": "m2"}}, false},
		{"list with a null value", []any{map[string]any{"value": nil}}, true},
		{"plain object", map[string]any{"value": "m1"}, true},
		{"plain string", "m1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := Apply(rs, user(), []Operation{{Op: "Remove", Path: ext + ":manager", Value: tc.value}})
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			_, has := out[ext].(map[string]any)["manager"]
			if changed != tc.removed || has == tc.removed {
				t.Fatalf("changed %v, manager present %v; want removed %v", changed, has, tc.removed)
			}
		})
	}
}
