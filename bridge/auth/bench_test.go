package auth

import (
	"fmt"
	"strconv"
	"testing"
)

// benchAuthenticator has n tenants of two digest tokens each.
func benchAuthenticator(b *testing.B, n int, lim *Limiter) (*Authenticator, string) {
	b.Helper()
	var tenants []Tenant
	var last string
	for i := range n {
		t1, d1 := NewToken()
		_, d2 := NewToken()
		tenants = append(tenants, Tenant{ID: "t" + strconv.Itoa(i), Credentials: Credentials{Tokens: []Token{{Value: d1}, {Value: d2}}}})
		last = t1
	}
	a, err := New(Options{Tenants: tenants, ByCredential: true, Limiter: lim})
	if err != nil {
		b.Fatal(err)
	}
	return a, last
}

// BenchmarkBearer measures the hot path of every SCIM request: one SHA-256
// and a constant-time comparison with every token of the scope.
func BenchmarkBearer(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		for _, scope := range []string{"credential", "url"} {
			b.Run(fmt.Sprintf("tenants=%d/tenant-from=%s", n, scope), func(b *testing.B) {
				a, tok := benchAuthenticator(b, n, NewLimiter(LimiterOptions{}))
				r := request("Bearer "+tok, "192.0.2.1")
				tenant := "t" + strconv.Itoa(n-1)
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if scope == "url" {
						_, err = a.AuthenticateTenant(r, tenant)
					} else {
						_, err = a.Authenticate(r)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkBasic(b *testing.B) {
	a, err := New(Options{Tenants: []Tenant{{ID: "okta", Credentials: Credentials{
		Basic: []BasicCredential{{Username: "okta", Password: Digest(oktaPass)}}}}}, ByCredential: true})
	if err != nil {
		b.Fatal(err)
	}
	r := request(basicHeader("okta", oktaPass), "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEntraJWT measures a JWT whose key is cached (RSA verification
// dominates).
func BenchmarkEntraJWT(b *testing.B) {
	f := newEntraFixture(b)
	r := request("Bearer "+signRS256(b, f.keys[0], "k1", validClaims(f.clock.Now())), "")
	if _, err := f.a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
