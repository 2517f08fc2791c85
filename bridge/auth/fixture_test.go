package auth

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/internal/jwkstest"
)

// newClock returns the package's test clock, standing still until moved.
func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(buf *syncBuffer) zerolog.Logger {
	return zerolog.New(buf).Level(zerolog.DebugLevel)
}

// The keys, key set server and signing of the JWT tests (shared with the
// bridge's tests through internal/jwkstest).
var rsaKeys = jwkstest.Keys

type jwksServer = jwkstest.Server

var newJWKSServer = jwkstest.NewServer

const (
	testEntraTenant = "cbb1a5ac-f33b-45fa-9bf5-f37db0fed422"
	testIssuer      = "https://sts.windows.net/" + testEntraTenant + "/"
)

// entraToken is the claims of a test token, shaped like Entra's.
type entraToken = jwkstest.EntraClaims

// validClaims returns claims Entra would send at now.
func validClaims(now time.Time) entraToken {
	return jwkstest.EntraToken(now, testEntraTenant, EntraCustomAppAudience)
}

// signRS256 signs claims with key under kid.
func signRS256(t testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	t.Helper()
	return jwkstest.Sign(t, key, kid, claims)
}

// rawJWT assembles header.payload.signature from parts (for forged tokens).
func rawJWT(t *testing.T, header, claims any, sign func(signingInput string) []byte) string {
	t.Helper()
	return jwkstest.Forge(t, header, claims, sign)
}

// request returns a GET with the given Authorization header (none if empty)
// from addr.
func request(authz, addr string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if addr != "" {
		r.RemoteAddr = net.JoinHostPort(addr, "40000")
	}
	return r
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
