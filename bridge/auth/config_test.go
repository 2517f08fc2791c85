package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// fieldErrors returns "key: msg" of every *FieldError in err (fails on others).
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("not a *FieldError: %v", e)
		}
		out = append(out, fe.Key+": "+fe.Msg)
	}
	return out
}

func TestTokenYAML(t *testing.T) {
	t.Parallel()
	src := `
scim_tokens:
  - plain-token-0123456789
  - name: okta-2027
    token: sha256:` + strings.Repeat("ab", 32) + `
    not_before: 2026-12-01T00:00:00Z
    expires: 2027-06-01
basic_auth:
  - username: okta
    password: sha256:` + strings.Repeat("cd", 32) + `
    expires: 2027-01-01T00:00:00Z
entra:
  tenant_id: ` + testEntraTenant + `
  audiences: [` + EntraCustomAppAudience + `]
`
	var c Credentials
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Token{
		{Value: "plain-token-0123456789", short: true},
		{Name: "okta-2027", Value: "sha256:" + strings.Repeat("ab", 32), Window: Window{
			NotBefore: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Expires: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)}},
	}
	if !slices.EqualFunc(c.Tokens, want, func(a, b Token) bool {
		return a.Name == b.Name && a.Value == b.Value && a.short == b.short && a.NotBefore.Equal(b.NotBefore) && a.Expires.Equal(b.Expires)
	}) {
		t.Fatalf("tokens %+v", c.Tokens)
	}
	if len(c.Basic) != 1 || c.Basic[0].Username != "okta" || c.Basic[0].Expires.IsZero() {
		t.Fatalf("basic %+v", c.Basic)
	}
	if c.Entra == nil || c.Entra.issuer() != testIssuer || c.Entra.jwksURL() != EntraDefaultJWKSURL {
		t.Fatalf("entra %+v", c.Entra)
	}

	for _, bad := range []string{
		"scim_tokens: [{name: x, tokn: abcdefghijklmnopq}]", // typo
		"scim_tokens: [[a, b]]",
		"scim_tokens: [{token: abcdefghijklmnopq, expires: tomorrow}]",
	} {
		var c Credentials
		if err := yaml.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestCredentialsValidate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	good := "good-token-0123456789"
	tests := []struct {
		name string
		c    Credentials
		want []string
	}{
		{"tokens ok", Credentials{Tokens: []Token{{Value: good}, {Value: Digest("x"), Name: "b"}}}, nil},
		{"basic only", Credentials{Basic: []BasicCredential{{Username: "okta", Password: Digest("p")}}}, nil},
		{"entra only, defaults", Credentials{Entra: &EntraConfig{TenantID: testEntraTenant}}, nil},
		{"nothing", Credentials{}, []string{"scim_tokens: at least one credential is required: scim_tokens, basic_auth or entra"}},
		{"short plaintext (short form)", Credentials{Tokens: []Token{{Value: "tiny", short: true}}},
			[]string{"scim_tokens[0]: is too short: a token needs at least 16 characters (or give its sha256: digest)"}},
		{"blank and padded", Credentials{Tokens: []Token{{Value: "  "}, {Value: " " + good}}},
			[]string{"scim_tokens[0].token: is required", "scim_tokens[1].token: must not start or end with white space"}},
		{"bad digests", Credentials{Tokens: []Token{{Value: "sha256:abc"}, {Value: "SHA256:" + strings.Repeat("zz", 32)}}},
			[]string{"scim_tokens[0].token: a digest must be sha256: followed by 64 hexadecimal digits", "scim_tokens[1].token: a digest must be sha256: followed by 64 hexadecimal digits"}},
		{"same token twice, once as digest", Credentials{Tokens: []Token{{Value: good}, {Value: strings.ToUpper(Digest(good)[:7]) + Digest(good)[7:]}}},
			[]string{"scim_tokens[1].token: duplicate token (same as scim_tokens[0])"}},
		{"names", Credentials{Tokens: []Token{{Value: good, Name: "a b"}, {Value: Digest("1"), Name: "x"}, {Value: Digest("2"), Name: "x"}},
			Basic: []BasicCredential{{Name: "x", Username: "u", Password: Digest("p")}}},
			[]string{"scim_tokens[0].name: " + nameRule, `scim_tokens[2].name: duplicate name "x" (also at scim_tokens[1].name)`, `basic_auth[0].name: duplicate name "x" (also at scim_tokens[1].name)`}},
		{"window", Credentials{Tokens: []Token{{Value: good, Window: Window{NotBefore: t0, Expires: t0}}}},
			[]string{"scim_tokens[0].expires: must be after not_before"}},
		{"basic problems", Credentials{Basic: []BasicCredential{{Password: Digest("p")}, {Username: "a:b", Password: "short"}, {Username: "u"}}},
			[]string{"basic_auth[0].username: is required", "basic_auth[1].username: must not contain ':' (RFC 7617)",
				"basic_auth[1].password: is too short: a password needs at least 16 characters (or give its sha256: digest)", "basic_auth[2].password: is required"}},
		{"basic rotation: one user, two passwords", Credentials{Basic: []BasicCredential{{Username: "u", Password: Digest("1")}, {Username: "u", Password: Digest("2")}}}, nil},
		{"basic twice", Credentials{Basic: []BasicCredential{{Username: "u", Password: Digest("1")}, {Username: "u", Password: Digest("1")}}},
			[]string{"basic_auth[1]: duplicate username and password (same as basic_auth[0])"}},
		{"entra problems", Credentials{Entra: &EntraConfig{TenantID: "contoso.onmicrosoft.com", Audiences: []string{""}, JWKSURL: "http://keys.example.com/keys", Issuer: "sts.windows.net"}},
			[]string{"entra.tenant_id: must be the Entra tenant id, a GUID such as 00000000-0000-0000-0000-000000000000",
				"entra.audiences[0]: must not be blank or start or end with white space",
				"entra.jwks_url: must be https (http only for a loopback host)",
				"entra.issuer: must be an absolute https URL (compared exactly with the iss claim)"}},
		{"entra missing tenant, loopback keys ok", Credentials{Entra: &EntraConfig{JWKSURL: "http://127.0.0.1:9999/keys"}},
			[]string{"entra.tenant_id: is required (the Entra tenant id, a GUID)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fieldErrors(t, tt.c.Validate())
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, msg := range got {
				for _, tok := range tt.c.Tokens {
					if len(tok.Value) > 3 && strings.TrimSpace(tok.Value) != "" && strings.Contains(msg, strings.TrimSpace(tok.Value)) {
						t.Fatalf("message quotes a token: %s", msg)
					}
				}
			}
		})
	}
}

func TestValidateTokens(t *testing.T) {
	t.Parallel()
	got := fieldErrors(t, ValidateTokens([]Token{{Value: "admin-token-0123456789"}, {Value: "admin-token-0123456789", Name: "b"}}))
	if want := []string{"[1].token: duplicate token (same as [0])"}; !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if err := ValidateTokens(nil); err != nil {
		t.Fatal(err)
	}
}

func TestValidateTenants(t *testing.T) {
	t.Parallel()
	tok := "shared-token-0123456789"
	entra := &EntraConfig{TenantID: testEntraTenant}
	tenants := []Tenant{
		{ID: "a", Credentials: Credentials{Tokens: []Token{{Value: tok}}, Basic: []BasicCredential{{Username: "okta", Password: Digest("pw")}}, Entra: entra}},
		{ID: "b", Credentials: Credentials{Tokens: []Token{{Value: Digest(tok)}}, Basic: []BasicCredential{{Username: "okta", Password: "pw-pw-pw-pw-pw-pw-pw"}}, Entra: entra}},
		{ID: "c", Credentials: Credentials{Basic: []BasicCredential{{Username: "okta", Password: "pw"}}}},
	}
	byURL := fieldErrors(t, ValidateTenants(tenants, false))
	wantURL := []string{
		"tenants[1].scim_tokens[0]: this token is also a token at tenants[0].scim_tokens[0]; a token must belong to exactly one tenant",
		"tenants[2].basic_auth[0].password: is too short: a password needs at least 16 characters (or give its sha256: digest)",
	}
	if !slices.Equal(byURL, wantURL) {
		t.Fatalf("by URL:\n  %s", strings.Join(byURL, "\n  "))
	}
	byCred := fieldErrors(t, ValidateTenants(tenants, true))
	wantCred := []string{
		wantURL[0],
		"tenants[1].entra: the same Entra tenant and audience are accepted by tenants[0].entra; with the tenant taken from the credential, a JWT could not tell them apart (serve tenants under their own URL, or give each app its own audience)",
		wantURL[1],
		"tenants[2].basic_auth[0]: the same username and password are also used at tenants[0].basic_auth[0]; with the tenant taken from the credential, they must belong to one tenant",
	}
	if !slices.Equal(byCred, wantCred) {
		t.Fatalf("by credential:\n  %s", strings.Join(byCred, "\n  "))
	}
	if _, err := New(Options{Tenants: tenants, ByCredential: true}); err == nil {
		t.Fatal("New accepted ambiguous credentials")
	}
}
