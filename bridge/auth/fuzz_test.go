package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzAuthorizationHeader feeds arbitrary Authorization headers: no panic,
// every error an *Error with a 401 or 429, and no error text quoting the
// credential part of the header.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, seed := range []string{
		"Bearer " + acmeOld, "Bearer", "Bearer  ", "Basic", "Basic Og==", "Basic " + strings.Repeat("A", 1000),
		basicHeader("okta", oktaPass), basicHeader(":", ":"), "bearer eyJ.eyJ.x", "Bearer eyJhbGciOiJub25lIn0.e30.",
		"Negotiate abc", "\x00\xff", "Bearer sha256:" + strings.Repeat("0", 64),
	} {
		f.Add(seed)
	}
	c := newClock()
	var a *Authenticator
	f.Fuzz(func(t *testing.T, h string) {
		if a == nil {
			a = fixture(t, c, Options{Limiter: NewLimiter(LimiterOptions{MaxFailures: 1 << 30})})
		}
		r := request("", "192.0.2.1")
		r.Header["Authorization"] = []string{h}
		_, err := a.Authenticate(r)
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || (ae.Status != http.StatusUnauthorized && ae.Status != http.StatusTooManyRequests) {
			t.Fatalf("error %v", err)
		}
		_, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		if len(cred) >= 8 && (strings.Contains(err.Error(), cred) || strings.Contains(ae.Detail, cred) ||
			strings.Contains(strings.Join(ae.Challenges(), " "), cred)) {
			t.Fatalf("error quotes the credential: %v", err)
		}
	})
}
