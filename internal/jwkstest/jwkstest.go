// Package jwkstest is for tests of JWT validation: RSA keys made once per
// test binary, a local server publishing a JSON Web Key Set (RFC 7517) the
// test changes, and RS256 signing of claims, including hand-forged tokens
// (alg "none", HS256...) no honest library would produce.
package jwkstest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Keys returns three 2048-bit RSA keys, the same ones for the whole test
// binary (generating them is slow).
var Keys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// Server serves a JWK Set on 127.0.0.1 and counts the requests (Hits).
type Server struct {
	*httptest.Server
	// Hits is the number of requests served so far.
	Hits atomic.Int64

	mu   sync.Mutex
	set  jose.JSONWebKeySet
	gate chan struct{}
}

// NewServer starts a Server publishing no key; it stops with the test.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Hits.Add(1)
		s.mu.Lock()
		gate := s.gate
		body, err := json.Marshal(s.set)
		s.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// Publish replaces the served keys with the public halves of kid -> key
// (alg RS256, use sig).
func (s *Server) Publish(keys map[string]*rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = jose.JSONWebKeySet{}
	for kid, k := range keys {
		s.set.Keys = append(s.set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
}

// SetGate makes every later request wait until gate is closed (nil: no wait).
func (s *Server) SetGate(gate chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = gate
}

// Sign returns claims signed with key under kid, RS256, compact form.
func Sign(t testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Forge assembles header.payload.signature by hand, the signature being
// sign(signing input): for tokens with alg "none", HS256 and the like.
func Forge(t testing.TB, header, claims any, sign func(signingInput string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(sign(in))
}

// EntraAppID is the appid claim of the tokens Entra's provisioning service
// sends (the application id of the service itself).
const EntraAppID = "00000014-0000-0000-c000-000000000000"

// EntraClaims are the claims of a token shaped like the ones Entra's
// provisioning service sends.
type EntraClaims struct {
	jwt.Claims
	AppID string `json:"appid,omitempty"`
	TID   string `json:"tid,omitempty"`
}

// EntraToken returns the claims Entra would send at now for the Entra
// tenant tenantID and the audience aud: issued and valid from a minute
// before now, expiring an hour after.
func EntraToken(now time.Time, tenantID, aud string) EntraClaims {
	return EntraClaims{
		Claims: jwt.Claims{
			Issuer:    "https://sts.windows.net/" + tenantID + "/",
			Audience:  jwt.Audience{aud},
			IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			Expiry:    jwt.NewNumericDate(now.Add(time.Hour)),
		},
		AppID: EntraAppID,
		TID:   tenantID,
	}
}
