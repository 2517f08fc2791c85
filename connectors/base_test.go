package connectors_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
)

func TestBaseValidate(t *testing.T) {
	t.Parallel()
	const secret = "tok-SECRET-value"
	valid := func() connectors.Base {
		return connectors.Base{Name: "n", Type: "x", URL: "https://api.example.com/v2", Token: secret}
	}
	all := []string{"name", "url", "token"}
	for _, tc := range []struct {
		name     string
		mut      func(*connectors.Base)
		wantType string
		require  []string
		keys     []string // in the order Validate reports them
	}{
		{"valid", func(*connectors.Base) {}, "x", all, nil},
		{"valid with limits", func(b *connectors.Base) { b.RateLimit, b.Burst, b.Timeout = 5, 2, "1500ms" }, "x", all, nil},
		{"empty, all required", func(b *connectors.Base) { *b = connectors.Base{} }, "x", all, []string{"name", "url", "token"}},
		{"empty, nothing required", func(b *connectors.Base) { *b = connectors.Base{} }, "x", nil, nil},
		{"blank name and token", func(b *connectors.Base) { b.Name, b.Token = " ", "\t" }, "x", all, []string{"name", "token"}},
		{"name not required", func(b *connectors.Base) { b.Name = "" }, "x", []string{"url", "token"}, nil},
		{"wrong type", func(b *connectors.Base) { b.Type = "y" }, "x", all, []string{"type"}},
		{"any type", func(b *connectors.Base) { b.Type = "y" }, "", all, nil},
		{"type may be empty", func(b *connectors.Base) { b.Type = "" }, "x", all, nil},
		{"type required", func(b *connectors.Base) { b.Type = "" }, "x", []string{"type"}, []string{"type"}},
		{"webhook_secret required", func(*connectors.Base) {}, "x", []string{"webhook_secret"}, []string{"webhook_secret"}},
		{"relative url", func(b *connectors.Base) { b.URL = "/v2" }, "x", all, []string{"url"}},
		{"ftp url", func(b *connectors.Base) { b.URL = "ftp://host/v2" }, "x", all, []string{"url"}},
		{"no host", func(b *connectors.Base) { b.URL = "http:///v2" }, "x", all, []string{"url"}},
		{"unparsable url", func(b *connectors.Base) { b.URL = "http://[::1" }, "x", all, []string{"url"}},
		{"url with query", func(b *connectors.Base) { b.URL = "http://host/?a=1" }, "x", all, []string{"url"}},
		{"url with fragment", func(b *connectors.Base) { b.URL = "http://host/#f" }, "x", all, []string{"url"}},
		{"bad url checked when not required", func(b *connectors.Base) { b.URL = "/v2" }, "x", nil, []string{"url"}},
		{"negative limits", func(b *connectors.Base) { b.RateLimit, b.Burst = -1, -1 }, "x", all, []string{"rate_limit", "burst"}},
		{"timeout not a duration", func(b *connectors.Base) { b.Timeout = "soon" }, "x", all, []string{"timeout"}},
		{"timeout zero", func(b *connectors.Base) { b.Timeout = "0s" }, "x", all, []string{"timeout"}},
		{"timeout negative", func(b *connectors.Base) { b.Timeout = "-1s" }, "x", all, []string{"timeout"}},
		{"unknown required key", func(*connectors.Base) {}, "x", []string{"burst"}, []string{"burst"}},
		{"everything wrong, in key order", func(b *connectors.Base) {
			*b = connectors.Base{Type: "y", URL: "x", RateLimit: -1, Burst: -1, Timeout: "x"}
		}, "x", all, []string{"name", "type", "url", "token", "rate_limit", "burst", "timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := valid()
			tc.mut(&b)
			errs := b.Validate(tc.wantType, tc.require...)
			var keys []string
			for _, err := range errs {
				var fe *connectors.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("not a *FieldError: %v", err)
				}
				if fe.Msg == "" {
					t.Fatalf("%s: empty message", fe.Key)
				}
				if strings.Contains(fe.Msg, secret) {
					t.Fatalf("%s: message carries the token: %s", fe.Key, fe.Msg)
				}
				keys = append(keys, fe.Key)
			}
			if !slices.Equal(keys, tc.keys) {
				t.Fatalf("keys %q, want %q (%v)", keys, tc.keys, errors.Join(errs...))
			}
		})
	}
}

// TestBaseValidateURLWithCredentials: a URL that carries credentials is not
// repeated in the message.
func TestBaseValidateURLWithCredentials(t *testing.T) {
	t.Parallel()
	b := connectors.Base{URL: "ftp://user:pa55word@host/"}
	errs := b.Validate("")
	if len(errs) != 1 || strings.Contains(errs[0].Error(), "pa55word") {
		t.Fatalf("errors %v", errs)
	}
}
