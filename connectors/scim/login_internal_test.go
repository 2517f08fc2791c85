package scim

import (
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// TestWorkEmail: the email a POST sends is the user's primary email, trimmed;
// without one, the userName only when it is itself a bare address.
func TestWorkEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		u    *connectors.User
		want string
	}{
		{"none", nil, ""},
		{"primary email", &connectors.User{UserName: "alice", Email: "alice@example.com", Emails: []string{"alice@example.com", "a@home.io"}}, "alice@example.com"},
		{"trimmed", &connectors.User{UserName: "alice", Email: "  alice@example.com "}, "alice@example.com"},
		{"email beside an address userName", &connectors.User{UserName: "a@x.io", Email: "b@x.io"}, "b@x.io"},
		{"userName an address", &connectors.User{UserName: "bjensen@example.com"}, "bjensen@example.com"},
		{"userName not an address", &connectors.User{UserName: "bjensen"}, ""},
		{"userName with a display name", &connectors.User{UserName: "Barbara <bjensen@example.com>"}, ""},
		{"userName with a space", &connectors.User{UserName: "b jensen@example.com"}, ""},
		{"userName a domain", &connectors.User{UserName: "@example.com"}, ""},
	} {
		if got := workEmail(tc.u); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLoginFilter(t *testing.T) {
	t.Parallel()
	if got, want := loginFilter(`o"b\@x.io`), `emails[type eq "work" and value eq "o\"b\\@x.io"]`; got != want {
		t.Fatalf("loginFilter = %s, want %s", got, want)
	}
}
