package bimdata

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
)

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	var c Config
	src := `
name: bimdata
type: bimdata
url: http://127.0.0.1:9001
token: secret-token
webhook_secret: hook-secret
rate_limit: 5
burst: 2
timeout: 3s
unknown_invitations: ignore
on_deactivate: ignore
invitation_cache: 500ms
`
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Base:               connectors.Base{Name: "bimdata", Type: "bimdata", URL: "http://127.0.0.1:9001", Token: "secret-token", WebhookSecret: "hook-secret", RateLimit: 5, Burst: 2, Timeout: "3s"},
		UnknownInvitations: PolicyIgnore, OnDeactivate: PolicyIgnore, InvitationCache: "500ms",
	}
	if c != want {
		t.Fatalf("decoded %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Open(context.Background(), connectors.Deps{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	impl := conn.(*connector)
	if impl.denyUnknown || impl.deleteOnDeac || impl.cache.ttl != 500*time.Millisecond || impl.api.c.Timeout != 3*time.Second || conn.Name() != "bimdata" {
		t.Fatalf("options not applied: %+v", impl)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Base: connectors.Base{Name: "b", URL: "https://api.example.com/", Token: "t"}}
	conn, err := c.Open(context.Background(), connectors.Deps{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	impl := conn.(*connector)
	if !impl.denyUnknown || !impl.deleteOnDeac || impl.cache.ttl != DefaultInvitationCache || impl.api.c.Timeout != connectors.DefaultTimeout || impl.api.c.BaseURL != "https://api.example.com" {
		t.Fatalf("defaults not applied: deny %v delete %v ttl %s timeout %s base %q", impl.denyUnknown, impl.deleteOnDeac, impl.cache.ttl, impl.api.c.Timeout, impl.api.c.BaseURL)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() Config {
		return Config{Base: connectors.Base{Name: "bimdata", Type: "bimdata", URL: "http://127.0.0.1:9001", Token: "t"}}
	}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		keys []string
	}{
		{"valid", func(*Config) {}, nil},
		{"valid, zero cache", func(c *Config) { c.InvitationCache = "0s" }, nil},
		{"missing everything", func(c *Config) { *c = Config{} }, []string{"name", "url", "token"}},
		{"wrong type", func(c *Config) { c.Type = "bimplus" }, []string{"type"}},
		{"relative url", func(c *Config) { c.URL = "/api" }, []string{"url"}},
		{"ftp url", func(c *Config) { c.URL = "ftp://x" }, []string{"url"}},
		{"url with query", func(c *Config) { c.URL = "http://x/?a=1" }, []string{"url"}},
		{"blank token", func(c *Config) { c.Token = "  " }, []string{"token"}},
		{"bad numbers", func(c *Config) { c.RateLimit, c.Burst = -1, -1 }, []string{"rate_limit", "burst"}},
		{"bad timeout", func(c *Config) { c.Timeout = "soon" }, []string{"timeout"}},
		{"negative timeout", func(c *Config) { c.Timeout = "-1s" }, []string{"timeout"}},
		{"bad policies", func(c *Config) { c.UnknownInvitations, c.OnDeactivate = "accept", "deny" }, []string{"unknown_invitations", "on_deactivate"}},
		{"bad cache", func(c *Config) { c.InvitationCache = "-2s" }, []string{"invitation_cache"}},
		{"unparsable cache", func(c *Config) { c.InvitationCache = "2" }, []string{"invitation_cache"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.mut(&c)
			err := c.Validate()
			var keys []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *connectors.FieldError
					if !errors.As(e, &fe) {
						t.Fatalf("not a FieldError: %v", e)
					}
					keys = append(keys, fe.Key)
				}
			}
			if !slices.Equal(keys, tc.keys) {
				t.Fatalf("keys %q, want %q (%v)", keys, tc.keys, err)
			}
			if _, oerr := c.Open(context.Background(), connectors.Deps{Logger: zerolog.Nop()}); (oerr != nil) != (tc.keys != nil) {
				t.Fatalf("Open error %v, want one exactly when Validate fails", oerr)
			}
		})
	}
}
