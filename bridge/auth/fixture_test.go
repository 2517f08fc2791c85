package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rs/zerolog"
)

// clock is the one test clock of the package.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
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

// rsaKeys are made once per test binary: 2048-bit generation is slow.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
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

// jwksServer serves a JWK Set that tests change, counting requests.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	set  jose.JSONWebKeySet
	hits atomic.Int64
	gate chan struct{} // when not nil, each request waits for it to close
}

func newJWKSServer(t testing.TB) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
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

// publish replaces the served keys with kid -> key.
func (s *jwksServer) publish(keys map[string]*rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = jose.JSONWebKeySet{}
	for kid, k := range keys {
		s.set.Keys = append(s.set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
}

const (
	testEntraTenant = "cbb1a5ac-f33b-45fa-9bf5-f37db0fed422"
	testIssuer      = "https://sts.windows.net/" + testEntraTenant + "/"
)

// entraToken is the claims of a test token, shaped like Entra's.
type entraToken struct {
	jwt.Claims
	AppID string `json:"appid,omitempty"`
	TID   string `json:"tid,omitempty"`
}

// validClaims returns claims Entra would send at now.
func validClaims(now time.Time) entraToken {
	return entraToken{
		Claims: jwt.Claims{
			Issuer:    testIssuer,
			Audience:  jwt.Audience{EntraCustomAppAudience},
			IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			Expiry:    jwt.NewNumericDate(now.Add(time.Hour)),
		},
		AppID: "00000014-0000-0000-c000-000000000000",
		TID:   testEntraTenant,
	}
}

// signRS256 signs claims with key under kid.
func signRS256(t testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
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

// rawJWT assembles header.payload.signature from parts (for forged tokens).
func rawJWT(t *testing.T, header, claims any, sign func(signingInput string) []byte) string {
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
