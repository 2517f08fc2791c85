package config

import (
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// TestCredentialForms loads every form of credential: plain and mapping
// tokens (plaintext and digest, with names and windows), Basic users, an
// Entra configuration, and the admin token as a string and a list.
func TestCredentialForms(t *testing.T) {
	t.Parallel()
	digest := auth.Digest("okta-token-0123456789")
	yml := `admin_token: {name: admin-2026, token: "` + auth.Digest("admin-token-0123456789") + `", expires: 2027-01-01T00:00:00Z}
admin_tokens:
  - "admin-token-next-0123456789"
tenants:
  - id: acme
    scim_tokens:
      - "plain-token-0123456789"
      - name: okta-2027
        token: ` + digest + `
        not_before: 2026-12-01T00:00:00Z
        expires: 2027-12-01T00:00:00Z
    basic_auth:
      - username: okta
        password: ` + auth.Digest("basic-password-0123456789") + `
        name: okta-basic
  - id: contoso
    entra:
      tenant_id: 11111111-2222-3333-4444-555555555555
      jwks_url: http://127.0.0.1:9999/keys
`
	c, err := LoadBytes("b.yaml", []byte(yml), nil, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	acme := c.Tenants[0]
	if len(acme.Tokens) != 2 || acme.Tokens[0] != plainToken("plain-token-0123456789") {
		t.Fatalf("tokens %+v", acme.Tokens)
	}
	want := auth.Token{Name: "okta-2027", Value: digest, Window: auth.Window{
		NotBefore: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Expires: time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC)}}
	if got := acme.Tokens[1]; got.Name != want.Name || got.Value != want.Value || !got.NotBefore.Equal(want.NotBefore) || !got.Expires.Equal(want.Expires) {
		t.Errorf("token %+v, want %+v", got, want)
	}
	if b := acme.Basic; len(b) != 1 || b[0].Username != "okta" || b[0].Name != "okta-basic" {
		t.Errorf("basic_auth %+v", b)
	}
	if e := c.Tenants[1].Entra; e == nil || e.TenantID != "11111111-2222-3333-4444-555555555555" || e.JWKSURL != "http://127.0.0.1:9999/keys" {
		t.Errorf("entra %+v", e)
	}
	admin := c.AdminCredentials()
	if len(admin) != 2 || admin[0].Name != "admin-2026" || admin[1].Value != "admin-token-next-0123456789" {
		t.Errorf("admin tokens %+v", admin)
	}
}

// TestCredentialErrors checks that problems of credentials name the key and
// the line, and that no token or password appears in any message.
func TestCredentialErrors(t *testing.T) {
	t.Parallel()
	secrets := []string{"short-secret", "basic-password-0123456789", "admin-token-0123456789"}
	yml := `admin_tokens:
  - admin-token-0123456789
  - {token: admin-token-0123456789}
tenants:
  - id: acme
    scim_tokens:
      - name: "bad name"
        token: short-secret
        expires: tomorrow
      - nmae: x
        token: sha256:1234
      - token: admin-token-0123456789
        not_before: 2027-01-01T00:00:00Z
        expires: 2026-01-01T00:00:00Z
    basic_auth:
      - username: "a:b"
        password: basic-password-0123456789
    entra:
      tenant_id: contoso
      jwks_url: http://keys.example.com/keys
`
	_, err := LoadBytes("b.yaml", []byte(yml), nil, testRegistry())
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, w := range []string{
		"b.yaml:3: admin_tokens[1].token: duplicate token (same as admin_tokens[0] (line 2))",
		"b.yaml:7: tenants[0].scim_tokens[0].name: must be 1 to 64 letters",
		"b.yaml:8: tenants[0].scim_tokens[0].token: is too short",
		"b.yaml:9: tenants[0].scim_tokens[0].expires: must be a timestamp such as 2026-01-31T09:00:00Z",
		`b.yaml:10: tenants[0].scim_tokens[1].nmae: unknown key (did you mean "name"?)`,
		"b.yaml:11: tenants[0].scim_tokens[1].token: a digest must be sha256: followed by 64 hexadecimal digits",
		"b.yaml:14: tenants[0].scim_tokens[2].expires: must be after not_before",
		"b.yaml:16: tenants[0].basic_auth[0].username: must not contain ':'",
		"b.yaml:19: tenants[0].entra.tenant_id: must be the Entra tenant id",
		"b.yaml:20: tenants[0].entra.jwks_url: must be https",
		"admin_tokens[0]: must differ from every SCIM token and Basic password (it equals the one at tenants[0].scim_tokens[2], line 12)",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	for _, s := range secrets {
		if strings.Contains(got, s) {
			t.Errorf("message shows the secret %q:\n%s", s, got)
		}
	}
}

// TestAdminTokenFromEnvironmentAndDigest checks the operator's usual set-up:
// the file holds the admin token's digest, SCIM_BRIDGE_ADMIN_TOKEN its
// plaintext (for the CLI): one admin token, not a duplicate.
func TestAdminTokenFromEnvironmentAndDigest(t *testing.T) {
	t.Parallel()
	const tok = "admin-token-0123456789"
	yml := "admin_tokens: [\"" + auth.Digest(tok) + "\", \"admin-next-0123456789\"]\n"
	c, err := LoadBytes("b.yaml", []byte(yml), envFunc(map[string]string{"SCIM_BRIDGE_ADMIN_TOKEN": tok}), testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AdminCredentials(); len(got) != 2 || got[0].Value != auth.Digest(tok) {
		t.Errorf("admin tokens %+v", got)
	}
	c, err = LoadBytes("b.yaml", []byte(yml), envFunc(map[string]string{"SCIM_BRIDGE_ADMIN_TOKEN": "admin-other-0123456789"}), testRegistry())
	if err != nil || len(c.AdminCredentials()) != 3 {
		t.Errorf("a different token from the environment is a third admin token: %v", err)
	}
}

// TestAdminTokenIsNoBasicPassword: an admin token (or the read-only one) that
// is also a tenant's Basic password, plaintext or digest on either side, is
// refused at the admin key, naming the password's key and line, never the
// secret: whoever holds the IdP's credential would hold the admin API too.
func TestAdminTokenIsNoBasicPassword(t *testing.T) {
	t.Parallel()
	const (
		shared   = "shared-password-0123456789"
		next     = "next-password-0123456789"
		readOnly = "read-only-password-0123456789"
	)
	yml := `admin_token: "` + shared + `"
admin_tokens:
  - name: ops
    token: "` + auth.Digest(next) + `"
admin_read_token: "` + readOnly + `"
tenants:
  - id: acme
    scim_tokens: ["acme-token-0123456789"]
    basic_auth:
      - username: okta
        password: "` + auth.Digest(shared) + `"
      - username: okta
        password: "` + next + `"
      - username: other
        password: "` + auth.Digest(readOnly) + `"
`
	_, err := LoadBytes("b.yaml", []byte(yml), nil, testRegistry())
	if err == nil {
		t.Fatal("an admin token equal to a Basic password was accepted")
	}
	got := err.Error()
	want := []string{
		"b.yaml:1: admin_token: must differ from every SCIM token and Basic password (it equals the Basic password at tenants[0].basic_auth[0].password, line 11)",
		"b.yaml:4: admin_tokens[0].token: must differ from every SCIM token and Basic password (it equals the Basic password at tenants[0].basic_auth[1].password, line 13)",
		"b.yaml:5: admin_read_token: must differ from every SCIM token and Basic password (it equals the Basic password at tenants[0].basic_auth[2].password, line 15)",
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, s := range []string{shared, next, readOnly, strings.TrimPrefix(auth.Digest(shared), auth.DigestPrefix), strings.TrimPrefix(auth.Digest(readOnly), auth.DigestPrefix)} {
		if strings.Contains(got, s) {
			t.Errorf("message shows a secret or its digest:\n%s", got)
		}
	}
}
