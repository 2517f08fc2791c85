package filter

import (
	"errors"
	"testing"
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
