package bimplus

import (
	"context"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
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
	})
}
