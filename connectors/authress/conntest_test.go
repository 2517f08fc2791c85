package authress_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress/fake"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
)

// TestSharedSuite runs the suite every connector runs: error classes, transport
// errors, and no credential (token or client secret) in errors or logs.
func TestSharedSuite(t *testing.T) {
	t.Parallel()
	conntest.Run(t, conntest.Harness{
		Open: func(t *testing.T, url, token, secret string, deps connectors.Deps) connectors.Connector {
			cfg := baseConfig(url)
			cfg.Token = token
			cfg.Connection.ClientSecret = secret
			c, err := cfg.Open(context.Background(), deps)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return c
		},
		Subject: connectors.Subject{Kind: connectors.SubjectTenant, ID: "t1"},
		Fake: func(t *testing.T) http.Handler {
			return fake.New(fake.Options{Token: conntest.Token}).Handler()
		},
	})
}

// TestSecretNotInErrors: an API that echoes the request body (which carries the
// clientSecret) in its error answers must not leak the secret through the error.
func TestSecretNotInErrors(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"POST", "PUT"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == "GET" && r.URL.Path == "/v1/connections":
					fmt.Fprint(w, `{"connections":[],"pagination":{}}`)
				case r.Method == "GET":
					fmt.Fprint(w, `{"connectionId":"con_1","type":"OAUTH2"}`)
				case r.Method == method:
					b, _ := io.ReadAll(r.Body)
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"title":"invalid connection","echo":%q}`, b)
				default:
					w.WriteHeader(http.StatusTeapot)
				}
			}))
			defer srv.Close()
			cfg := baseConfig(srv.URL)
			var logs strings.Builder
			c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: testTenant,
				Logger: zerolog.New(&logs).Level(zerolog.TraceLevel)})
			if err != nil {
				t.Fatal(err)
			}
			prev := connectors.Record{}
			if method == "PUT" {
				prev.IDs = map[string]string{"connection": "con_1"}
			}
			_, _, err = c.Converge(context.Background(), tenantSubject, prev, connectors.Options{})
			if connectors.ClassOf(err) != connectors.Permanent {
				t.Fatalf("err %v, want a permanent error", err)
			}
			if !strings.Contains(err.Error(), "invalid connection") {
				t.Fatalf("the downstream message is lost: %v", err)
			}
			for _, s := range []string{testSecret, testToken} {
				if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
					t.Fatalf("credential leaked: %v / %s", err, logs.String())
				}
			}
		})
	}
}
