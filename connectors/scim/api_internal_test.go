package scim

import "testing"

func TestEqFilter(t *testing.T) {
	t.Parallel()
	cases := []struct{ attr, value, want string }{
		{"userName", "bjensen", `userName eq "bjensen"`},
		{"userName", `o"brien`, `userName eq "o\"brien"`},
		{"userName", `back\slash`, `userName eq "back\\slash"`},
		{"externalId", `\"`, `externalId eq "\\\""`},
		{"userName", "tab\tnew\nline\x01", `userName eq "tab\tnew\nline\u0001"`},
		{"userName", "jörg 日本", `userName eq "jörg 日本"`},
	}
	for _, tc := range cases {
		if got := eqFilter(tc.attr, tc.value); got != tc.want {
			t.Errorf("eqFilter(%q, %q) = %s, want %s", tc.attr, tc.value, got, tc.want)
		}
	}
}

func TestQueryEscape(t *testing.T) {
	t.Parallel()
	if got := queryEscape(`a b+c&d="e"`); got != "a%20b%2Bc%26d%3D%22e%22" {
		t.Fatalf("queryEscape = %s", got)
	}
}
