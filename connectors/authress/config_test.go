package authress_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*authress.Config)
		keys []string
	}{
		{"valid", func(*authress.Config) {}, nil},
		{"valid saml", func(c *authress.Config) {
			c.Connection = authress.ConnectionSpec{Type: "SAML", AuthenticationURL: "https://idp/sso", IssuerURL: "urn:x"}
		}, nil},
		{"missing base keys", func(c *authress.Config) { c.Name, c.URL, c.Token = "", "", "" }, []string{"name", "url", "token"}},
		{"wrong type", func(c *authress.Config) { c.Type = "bimdata" }, []string{"type"}},
		{"relative url", func(c *authress.Config) { c.URL = "/v1" }, []string{"url"}},
		{"url with query", func(c *authress.Config) { c.URL = "https://acme.api.authress.io/?a=1" }, []string{"url"}},
		{"blank token", func(c *authress.Config) { c.Token = " " }, []string{"token"}},
		{"bad limits", func(c *authress.Config) { c.Timeout, c.RateLimit, c.Burst, c.PageSize = "soon", -1, -1, -1 },
			[]string{"timeout", "rate_limit", "burst", "page_size"}},
		{"bad connection_id", func(c *authress.Config) { c.ConnectionID = "a/b" }, []string{"connection_id"}},
		{"unknown connection type", func(c *authress.Config) { c.Connection.Type = "ldap" }, []string{"connection.type"}},
		{"oauth2 without urls and client", func(c *authress.Config) {
			c.Connection.AuthenticationURL, c.Connection.TokenURL, c.Connection.ClientID = "", "", ""
		}, []string{"connection.authenticationUrl", "connection.tokenUrl", "connection.clientId"}},
		{"not urls", func(c *authress.Config) {
			c.Connection.AuthenticationURL, c.Connection.TokenURL = "acme.okta.com/authorize", "ftp://x/token"
			c.Connection.Data.OIDCUserEndpointURL = "::"
		}, []string{"connection.authenticationUrl", "connection.tokenUrl", "connection.data.oidcUserEndpointUrl"}},
		{"content type", func(c *authress.Config) { c.Connection.Data.SupportedContentType = "text/xml" },
			[]string{"connection.data.supportedContentType"}},
		{"reserved tag", func(c *authress.Config) {
			c.Connection.Tags = map[string]string{"scim-bridge/tenant": "x", "": "y", "ok": "z"}
		}, []string{`connection.tags[""]`, `connection.tags["scim-bridge/tenant"]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig("https://acme.api.authress.io")
			tc.mod(cfg)
			err := cfg.Validate()
			var keys []string
			for _, e := range unjoin(err) {
				var fe *connectors.FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("not a *FieldError: %v", e)
				}
				keys = append(keys, fe.Key)
			}
			slices.Sort(keys)
			want := slices.Clone(tc.keys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Fatalf("keys %q, want %q (err: %v)", keys, want, err)
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	cfg := baseConfig("https://acme.api.authress.io")
	if _, err := cfg.Open(context.Background(), connectors.Deps{}); err == nil {
		t.Fatal("open without a tenant succeeded")
	}
	cfg.Token = ""
	if _, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "t"}); err == nil {
		t.Fatal("open of an invalid config succeeded")
	}
}

// TestYAML decodes the DESIGN.md example entry.
func TestYAML(t *testing.T) {
	t.Parallel()
	const doc = `
name: authress
type: authress
url: http://127.0.0.1:9003
token: "tok"
prune: true
connection_id: con_1
page_size: 25
connection:
  type: oauth2
  authenticationUrl: https://acme.okta.com/oauth2/v1/authorize
  tokenUrl: https://acme.okta.com/oauth2/v1/token
  clientId: abc
  clientSecret: "shh"
  data: {name: ACME Okta, trustIdentityUserId: false}
  defaultConnectionProperties: {scope: ""}
  tags: {team: identity}
`
	var cfg authress.Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := cfg.Connection
	if cfg.Name != "authress" || cfg.URL != "http://127.0.0.1:9003" || !cfg.Prune || cfg.ConnectionID != "con_1" ||
		cfg.PageSize != 25 || c.ClientSecret != "shh" || c.Data.Name != "ACME Okta" ||
		c.Data.TrustIdentityUserID == nil || *c.Data.TrustIdentityUserID ||
		c.DefaultConnectionProperties.Scope == nil || *c.DefaultConnectionProperties.Scope != "" || c.Tags["team"] != "identity" {
		t.Fatalf("decoded %+v", cfg)
	}
}

// TestProject: the projection changes with the configuration (a rotated secret
// included) and never carries the secret.
func TestProject(t *testing.T) {
	t.Parallel()
	project := func(secret string) string {
		cfg := baseConfig("https://acme.api.authress.io")
		cfg.Connection.ClientSecret = secret
		c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: testTenant})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(c.(connectors.Projector).Project(tenantSubject))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a, b, a2 := project(testSecret), project("another-secret-123"), project(testSecret)
	if a != a2 || a == b {
		t.Fatalf("projections: %s / %s / %s", a, a2, b)
	}
	if strings.Contains(a, testSecret) {
		t.Fatalf("projection carries the secret: %s", a)
	}
}
