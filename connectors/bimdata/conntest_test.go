package bimdata

import (
	"context"
	"net/http"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T, url, token, secret string, deps connectors.Deps) connectors.Connector {
		t.Helper()
		c := &Config{Base: connectors.Base{Name: "bimdata", Type: Type, URL: url, Token: token, WebhookSecret: secret}}
		conn, err := c.Open(context.Background(), deps)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return conn
	}
	t.Run("OnFake", func(t *testing.T) {
		t.Parallel()
		conntest.Run(t, conntest.Harness{
			Open:    open,
			Subject: userSubject(alice(true), "u1"),
			Fake: func(t *testing.T) http.Handler {
				return fake.New(fake.Options{Token: conntest.Token}).Handler()
			},
		})
	})
	for _, tc := range []struct {
		name    string
		subject connectors.Subject
		prev    connectors.Record
	}{
		// Its first call is create_user.
		{"ActiveUser", userSubject(alice(true), "u1"), connectors.Record{}},
		// Its first call is delete_user.
		{"DeletedUser", userSubject(nil, "u1"), stateRecord(userState{Email: "alice@example.com", Status: statePresent})},
		// Its first call lists the pending invitations.
		{"ConvergedUser", userSubject(alice(true), "u1"), stateRecord(userState{Email: "alice@example.com", Status: statePresent})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prev := tc.prev
			conntest.Run(t, conntest.Harness{
				Open: func(t *testing.T, url, token, secret string, deps connectors.Deps) connectors.Connector {
					return withPrev{open(t, url, token, secret, deps), prev}
				},
				Subject: tc.subject,
			})
		})
	}
}

// withPrev hands a fixed previous record to every convergence, so the shared
// suite exercises the delete and list routes too.
type withPrev struct {
	connectors.Connector
	prev connectors.Record
}

func (w withPrev) Converge(ctx context.Context, s connectors.Subject, _ connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	return w.Connector.Converge(ctx, s, w.prev, opts)
}
