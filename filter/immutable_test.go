package filter

import (
	"errors"
	"testing"

	"github.com/elimity-com/scim/schema"
)

// TestKeepImmutable: a replacement keeps an immutable value it leaves out,
// refuses a different one (400 mutability), accepts the same one, and sets
// one that was never set; core and extension attributes alike.
func TestKeepImmutable(t *testing.T) {
	if userRS.HasImmutable() || groupRS.HasImmutable() {
		t.Fatal("the core User and Group schemas declare no immutable attribute")
	}
	if !acmeRS.HasImmutable() || !widgetRS.HasImmutable() {
		t.Fatal("HasImmutable misses an immutable attribute")
	}
	const hired = "2020-01-01T00:00:00Z"
	old := map[string]any{"userName": "a", acmeURN: map[string]any{"hired": hired, "skills": []any{"go"}}}
	for _, tc := range []struct {
		name string
		next map[string]any
		want any // the hired value after, or an error scimType
	}{
		{"left out: kept", map[string]any{"userName": "b"}, hired},
		{"extension given without it: kept", map[string]any{"userName": "b", acmeURN: map[string]any{"skills": []any{"rust"}}}, hired},
		{"same value", map[string]any{"userName": "b", acmeURN: map[string]any{"hired": hired}}, hired},
		{"another value", map[string]any{"userName": "b", acmeURN: map[string]any{"hired": "2021-01-01T00:00:00Z"}}, ScimTypeMutability},
	} {
		err := acmeRS.KeepImmutable(old, tc.next)
		if s, isErr := tc.want.(string); isErr && s == ScimTypeMutability {
			var e *Error
			if !errors.As(err, &e) || e.ScimType != ScimTypeMutability {
				t.Errorf("%s: %v, want mutability", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		ext, _ := tc.next[acmeURN].(map[string]any)
		if ext["hired"] != tc.want {
			t.Errorf("%s: hired %v, want %v", tc.name, ext["hired"], tc.want)
		}
	}
	next := map[string]any{"userName": "b", acmeURN: map[string]any{"hired": hired}}
	if err := acmeRS.KeepImmutable(map[string]any{"userName": "a"}, next); err != nil {
		t.Errorf("never set before: %v", err)
	}
	// A core immutable attribute (the widget's serial).
	if err := widgetRS.KeepImmutable(map[string]any{"serial": "S1"}, map[string]any{"serial": "S2"}); err == nil {
		t.Error("core immutable changed: no error")
	}
	w := map[string]any{"label": "x"}
	if err := widgetRS.KeepImmutable(map[string]any{"serial": "S1"}, w); err != nil || w["serial"] != "S1" {
		t.Errorf("core immutable left out: %v, %v", err, w)
	}
}

// TestKeepImmutableSubAndMulti: a multi-valued immutable attribute compares
// as a set; an immutable sub-attribute of a single-valued complex attribute
// is kept and checked like a top-level one.
func TestKeepImmutableSubAndMulti(t *testing.T) {
	const urn = "urn:example:params:scim:schemas:extension:imm:2.0:User"
	ext := Extension{ID: urn, Name: "Imm", Attributes: []Attribute{
		{Name: "badges", Type: "string", MultiValued: true, Mutability: "immutable"},
		{Name: "site", Type: "complex", SubAttributes: []Attribute{
			{Name: "code", Type: "string", Mutability: "immutable"},
			{Name: "name", Type: "string"},
		}},
	}}
	sch, err := ext.Schema()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreUserSchema(), SchemaExtension{Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.HasImmutable() {
		t.Fatal("HasImmutable misses the immutable attributes")
	}
	old := map[string]any{urn: map[string]any{"badges": []any{"a", "b"}, "site": map[string]any{"code": "S1", "name": "HQ"}}}
	reordered := map[string]any{urn: map[string]any{"badges": []any{"b", "a"}, "site": map[string]any{"code": "S1", "name": "Main"}}}
	if err := rs.KeepImmutable(old, reordered); err != nil {
		t.Errorf("the same badges in another order: %v", err)
	}
	for name, next := range map[string]map[string]any{
		"another badge":     {urn: map[string]any{"badges": []any{"a", "c"}}},
		"another site code": {urn: map[string]any{"site": map[string]any{"code": "S2"}}},
	} {
		var e *Error
		if err := rs.KeepImmutable(old, next); !errors.As(err, &e) || e.ScimType != ScimTypeMutability {
			t.Errorf("%s: %v, want mutability", name, err)
		}
	}
	kept := map[string]any{urn: map[string]any{"site": map[string]any{"name": "Renamed"}}}
	if err := rs.KeepImmutable(old, kept); err != nil {
		t.Fatal(err)
	}
	site, _ := kept[urn].(map[string]any)["site"].(map[string]any)
	if site["code"] != "S1" || site["name"] != "Renamed" || len(kept[urn].(map[string]any)["badges"].([]any)) != 2 {
		t.Errorf("left out: %v, want the code and the badges kept, the name replaced", kept)
	}
}
