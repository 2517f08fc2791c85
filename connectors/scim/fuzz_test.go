package scim_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// FuzzFilterEscaping: whatever the userName, the adapter's filter finds the user
// the fake holds, so a converged user costs no write.
func FuzzFilterEscaping(f *testing.F) {
	for _, s := range []string{"alice", `o"brien`, `a\b`, `\"`, `x" or userName eq "y`, "tab\there", "日本", `)]`, `"`} {
		f.Add(s)
	}
	h := newHarness(f, setup{})
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || strings.TrimSpace(name) == "" {
			t.Skip()
		}
		u, ok := h.srv.UserByName(name)
		if !ok {
			u = h.srv.Seed(fake.User{UserName: name, Active: true})
		}
		before := h.srv.Writes()
		want := connectors.User{ID: "s", UserName: name, Active: true}
		r, _, err := h.c.Converge(context.Background(), userSubject(want), connectors.Record{}, connectors.Options{})
		if err != nil {
			t.Fatalf("converge %q: %v", name, err)
		}
		if h.srv.Writes() != before || r.IDs["user"] != u.ID {
			t.Fatalf("userName %q: not found by filter (record %v, writes %d)", name, r, h.srv.Writes()-before)
		}
	})
}
