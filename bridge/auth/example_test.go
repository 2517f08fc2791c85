package auth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// Example shows the wiring of the SCIM endpoint: authenticate, and on failure
// write the headers of the *auth.Error and a SCIM error body (RFC 7644 §3.12)
// with its status and detail.
func Example() {
	a, err := auth.New(auth.Options{
		Tenants: []auth.Tenant{{ID: "acme", Credentials: auth.Credentials{Tokens: []auth.Token{
			{Name: "okta-2026", Value: auth.Digest("acme-secret-token-0123")},
			{Name: "okta-2025", Value: "acme-older-token-0123", Window: auth.Window{Expires: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		}}}},
		ByCredential: true,
		Logger:       zerolog.Nop(),
		Limiter:      auth.NewLimiter(auth.LimiterOptions{}),
	})
	if err != nil {
		panic(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Authenticate(r) // or a.AuthenticateTenant(r, tenantFromURL)
		var ae *auth.Error
		if errors.As(err, &ae) {
			ae.SetHeaders(w.Header())
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(ae.Status)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
				"status":  fmt.Sprint(ae.Status),
				"detail":  ae.Detail,
			})
			return
		}
		fmt.Fprintf(w, "tenant %s via %s %s\n", id.Tenant, id.Method, id.Name)
	})
	for _, authz := range []string{"Bearer acme-secret-token-0123", "Bearer acme-older-token-0123", ""} {
		r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Header().Values("WWW-Authenticate"), " ", w.Body.String())
	}
	// Output:
	// 200 [] tenant acme via bearer okta-2026
	// 401 [Bearer realm="scim-bridge", error="invalid_token", error_description="the credential has expired"] {"detail":"the credential has expired","schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}
	// 401 [Bearer realm="scim-bridge"] {"detail":"authentication required","schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}
}

// ExampleNewToken shows the digest workflow: the operator pastes the token
// into the IdP and only the digest line into the configuration.
func ExampleNewToken() {
	token, digest := auth.NewToken()
	fmt.Println(len(token) > 16, digest == auth.Digest(token))
	fmt.Println(auth.Digest("abc"))
	// Output:
	// true true
	// sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
}
