package bearer

import (
	"net/http"
	"testing"
)

func TestIndex(t *testing.T) {
	t.Parallel()
	var ix Index
	ix.Add("acme", "tok-acme")
	ix.Add("acme", "tok-acme-2")
	ix.Add("globex", "tok-globex")
	for token, want := range map[string]string{"tok-acme": "acme", "tok-acme-2": "acme", "tok-globex": "globex", "tok-nope": "", "": ""} {
		got, ok := ix.Resolve(token)
		if got != want || ok != (want != "") {
			t.Errorf("Resolve(%q) = %q, %v; want %q", token, got, ok, want)
		}
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()
	s := NewSecret("admin-token")
	if !s.Matches("admin-token") || s.Matches("admin-token ") || s.Matches("") {
		t.Error("Secret matches the wrong tokens")
	}
	if NewSecret("").Matches("") {
		t.Error("an empty secret matches the empty token")
	}
}

func TestFromRequest(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer abc":   "abc",
		"BEARER  abc ": "abc",
		"Basic abc":    "",
		"Bearer":       "",
		"":             "",
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if got := FromRequest(r); got != want {
			t.Errorf("FromRequest(%q) = %q, want %q", header, got, want)
		}
	}
}
