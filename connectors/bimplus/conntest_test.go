package bimplus

import (
	"context"
	"net/http"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
)

func TestSharedSuite(t *testing.T) {
	t.Parallel()
	conntest.Run(t, conntest.Harness{
		Open: func(t *testing.T, url, token, _ string, deps connectors.Deps) connectors.Connector {
			cfg := &Config{
				Base:   connectors.Base{Name: "bimplus", Type: "bimplus", URL: url, Token: token},
				Team:   "acme",
				Groups: testGroups(),
			}
			c, err := cfg.Open(context.Background(), deps)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Subject: alice("Design Team"),
		Fake: func(t *testing.T) http.Handler {
			srv := fake.New(fake.Options{Token: conntest.Token, Team: "acme"})
			srv.AddTeamMember("alice@example.com")
			for _, p := range []string{projA, projB, projC} {
				srv.AddProject(p)
			}
			return srv.Handler()
		},
		FakePath: "/v2",
	})
}
