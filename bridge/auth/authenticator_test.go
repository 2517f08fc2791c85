package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
)

const (
	acmeOld    = "acme-old-token-0123456789"
	acmeNew    = "acme-new-token-9876543210"
	globexTok  = "globex-token-abcdefghijkl"
	futureTok  = "future-token-abcdefghijklm"
	expiredTok = "expired-token-abcdefghijkl"
	oktaPass   = "okta-password-0123456789"
	oktaPass2  = "okta-password-rotated-42"
)

// fixture builds the tenants most tests use: acme with two tokens valid at
// once (one as a digest), an expired one and a future one; globex with one
// token and a Basic user (two passwords).
func fixture(t *testing.T, c *fakeclock.Clock, opts Options) *Authenticator {
	t.Helper()
	now := c.Now()
	opts.Tenants = []Tenant{
		{ID: "acme", Credentials: Credentials{Tokens: []Token{
			{Name: "okta-2026", Value: acmeOld, Window: Window{Expires: now.Add(24 * time.Hour)}},
			{Name: "okta-2027", Value: Digest(acmeNew), Window: Window{NotBefore: now.Add(-time.Hour)}},
			{Name: "old", Value: Digest(expiredTok), Window: Window{Expires: now.Add(-time.Second)}},
			{Name: "next", Value: futureTok, Window: Window{NotBefore: now.Add(time.Hour)}},
		}}},
		{ID: "globex", Credentials: Credentials{
			Tokens: []Token{{Value: globexTok, short: true}},
			Basic: []BasicCredential{
				{Name: "okta-basic", Username: "okta", Password: Digest(oktaPass)},
				{Username: "okta", Password: oktaPass2},
			},
		}},
	}
	opts.ByCredential = true
	opts.Now = c.Now
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBearerAndBasic(t *testing.T) {
	t.Parallel()
	c := newClock()
	a := fixture(t, c, Options{})
	globexName := "scim_tokens[0]" // its position: nothing of the token
	tests := []struct {
		name     string
		authz    string
		want     Identity
		wantErr  error
		wantChal string // substring of the first challenge
	}{
		{"plaintext token", "Bearer " + acmeOld, Identity{Tenant: "acme", Method: MethodBearer, Name: "okta-2026", Expires: c.Now().Add(24 * time.Hour)}, nil, ""},
		{"digest token (rotation: both valid)", "Bearer " + acmeNew, Identity{Tenant: "acme", Method: MethodBearer, Name: "okta-2027"}, nil, ""},
		{"scheme is case-insensitive", "bEaReR " + acmeNew, Identity{Tenant: "acme", Method: MethodBearer, Name: "okta-2027"}, nil, ""},
		{"other tenant, unnamed", "Bearer " + globexTok, Identity{Tenant: "globex", Method: MethodBearer, Name: globexName}, nil, ""},
		{"basic digest password", basicHeader("okta", oktaPass), Identity{Tenant: "globex", Method: MethodBasic, Name: "okta-basic"}, nil, ""},
		{"basic plaintext password (rotated)", basicHeader("okta", oktaPass2), Identity{Tenant: "globex", Method: MethodBasic, Name: "basic:okta/basic_auth[1]"}, nil, ""},
		{"expired token", "Bearer " + expiredTok, Identity{}, ErrExpired, `error="invalid_token", error_description="the credential has expired"`},
		{"not yet valid token", "Bearer " + futureTok, Identity{}, ErrNotYetValid, `error="invalid_token"`},
		{"unknown token", "Bearer nope-nope-nope-nope-nope", Identity{}, ErrInvalid, `error="invalid_token"`},
		{"the digest itself is no token", "Bearer " + Digest(acmeNew), Identity{}, ErrInvalid, `error="invalid_token"`},
		{"no header", "", Identity{}, ErrNoCredentials, `Bearer realm="scim-bridge"`},
		{"empty bearer", "Bearer ", Identity{}, ErrMalformed, `Bearer realm="scim-bridge"`},
		{"unknown scheme", "Digest abc", Identity{}, ErrNoCredentials, `Bearer realm="scim-bridge"`},
		{"basic wrong password", basicHeader("okta", oktaPass+"x"), Identity{}, ErrInvalid, `Bearer realm="scim-bridge"`},
		{"basic wrong user", basicHeader("okta2", oktaPass), Identity{}, ErrInvalid, `Bearer realm="scim-bridge"`},
		{"basic password of nobody", basicHeader("okta", acmeOld), Identity{}, ErrInvalid, ""},
		{"basic not base64", "Basic !!!", Identity{}, ErrMalformed, `Bearer realm="scim-bridge"`},
		{"basic without colon", "Basic " + "b2t0YQ==", Identity{}, ErrMalformed, ""},
		{"bearer token sent as basic password", basicHeader("x", acmeOld), Identity{}, ErrInvalid, ""},
		// two headers, the first valid: ambiguous, never the first one's tenant
		{"two Authorization headers", "Bearer " + acmeNew + "\nBearer junk-junk-junk-junk", Identity{}, ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second, two := strings.Cut(tt.authz, "\n")
			r := request(first, "192.0.2.1")
			if two {
				r.Header.Add("Authorization", second)
			}
			got, err := a.Authenticate(r)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if got != tt.want {
					t.Fatalf("identity = %+v, want %+v", got, tt.want)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want *Error wrapping %v", err, tt.wantErr)
			}
			if ae.Status != http.StatusUnauthorized {
				t.Fatalf("status = %d", ae.Status)
			}
			w := httptest.NewRecorder()
			ae.SetHeaders(w.Header())
			ch := w.Header().Values("WWW-Authenticate")
			if len(ch) == 0 || !strings.Contains(ch[0], tt.wantChal) {
				t.Fatalf("WWW-Authenticate = %q, want it to contain %q", ch, tt.wantChal)
			}
			if len(ch) != 2 || ch[1] != `Basic realm="scim-bridge", charset="UTF-8"` {
				t.Fatalf("want a Bearer and a Basic challenge (a tenant accepts Basic), got %q", ch)
			}
			if w.Header().Get("Retry-After") != "" {
				t.Fatal("Retry-After on a 401")
			}
		})
	}
}

func TestAuthenticateTenant(t *testing.T) {
	t.Parallel()
	c := newClock()
	a := fixture(t, c, Options{})
	tests := []struct {
		tenant, authz string
		ok            bool
		basicOffered  bool
	}{
		{"acme", "Bearer " + acmeOld, true, false},
		{"globex", "Bearer " + globexTok, true, true},
		{"globex", basicHeader("okta", oktaPass), true, true},
		{"acme", "Bearer " + globexTok, false, false},         // another tenant's token
		{"acme", basicHeader("okta", oktaPass), false, false}, // acme has no Basic
		{"nobody", "Bearer " + acmeOld, false, true},          // unknown tenant
	}
	for _, tt := range tests {
		id, err := a.AuthenticateTenant(request(tt.authz, ""), tt.tenant)
		if tt.ok {
			if err != nil || id.Tenant != tt.tenant {
				t.Errorf("%s %q: id %+v err %v", tt.tenant, tt.authz, id, err)
			}
			continue
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Errorf("%s %q: err %v, want a 401", tt.tenant, tt.authz, err)
			continue
		}
		basic := false
		for _, c := range ae.Challenges() {
			basic = basic || strings.HasPrefix(c, "Basic ")
		}
		if basic != tt.basicOffered {
			t.Errorf("%s: challenges %q, Basic offered = %v, want %v", tt.tenant, ae.Challenges(), basic, tt.basicOffered)
		}
	}
}

func TestRotationOverTime(t *testing.T) {
	t.Parallel()
	c := newClock()
	a := fixture(t, c, Options{})
	check := func(tok string, want bool) {
		t.Helper()
		_, err := a.Authenticate(request("Bearer "+tok, ""))
		if (err == nil) != want {
			t.Fatalf("at %s token valid = %v, want %v (%v)", c.Now(), err == nil, want, err)
		}
	}
	check(acmeOld, true)
	check(acmeNew, true)
	check(futureTok, false)
	c.Advance(time.Hour) // not_before reached: exactly at the instant it becomes valid
	check(futureTok, true)
	c.Advance(23 * time.Hour) // okta-2026 expires exactly now
	check(acmeOld, false)
	check(acmeNew, true)
}

func TestByCredentialRequired(t *testing.T) {
	t.Parallel()
	a, err := New(Options{Tenants: []Tenant{{ID: "acme", Credentials: Credentials{Tokens: []Token{{Value: acmeOld}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate(request("Bearer "+acmeOld, ""))
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusInternalServerError {
		t.Fatalf("Authenticate without ByCredential: %v", err)
	}
	if _, err := a.AuthenticateTenant(request("Bearer "+acmeOld, ""), "acme"); err != nil {
		t.Fatal(err)
	}
}

func TestExpiredIsLoggedWithNameAndTenant(t *testing.T) {
	t.Parallel()
	c := newClock()
	var logs syncBuffer
	a := fixture(t, c, Options{Logger: testLogger(&logs)})
	for range 5 {
		if _, err := a.Authenticate(request("Bearer "+expiredTok, "")); !errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v", err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Fatalf("want one log line for repeated attempts within a minute, got %d:\n%s", n, out)
	}
	for _, want := range []string{`"tenant":"acme"`, `"credential":"old"`, `"level":"warn"`, "expired"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log %q lacks %s", out, want)
		}
	}
	c.Advance(expiredLogEvery)
	_, _ = a.Authenticate(request("Bearer "+expiredTok, ""))
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Fatalf("want a second line after a minute, got %d", n)
	}
}

// TestNoSecretInErrorsOrLogs runs every failure path with logging at debug
// and checks that no token, password or digest hex shows up anywhere.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	c := newClock()
	var logs syncBuffer
	lim := NewLimiter(LimiterOptions{MaxFailures: 3, Now: c.Now})
	a := fixture(t, c, Options{Logger: testLogger(&logs), Limiter: lim})
	secrets := []string{acmeOld, acmeNew, globexTok, futureTok, expiredTok, oktaPass, oktaPass2,
		"guess-guess-guess-guess", strings.TrimPrefix(Digest(acmeNew), DigestPrefix)}
	headers := []string{
		"Bearer " + expiredTok, "Bearer " + futureTok, "Bearer guess-guess-guess-guess",
		basicHeader("okta", "guess-guess-guess-guess"), basicHeader("okta", oktaPass+"x"),
		"Bearer " + acmeOld + "x", "Basic " + oktaPass, "Bearer " + Digest(acmeNew),
	}
	var texts []string
	for _, h := range headers {
		for _, addr := range []string{"192.0.2.7", "198.51.100.7"} {
			_, err := a.Authenticate(request(h, addr))
			if err == nil {
				t.Fatalf("%q succeeded", h)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("not an *Error: %v", err)
			}
			w := httptest.NewRecorder()
			ae.SetHeaders(w.Header())
			texts = append(texts, err.Error(), ae.Detail, strings.Join(w.Header().Values("WWW-Authenticate"), " "))
		}
	}
	texts = append(texts, logs.String())
	if !strings.Contains(logs.String(), "too many failed") {
		t.Fatalf("the limiter's block was not logged: %s", logs.String())
	}
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("secret %q found in %q", s, text)
			}
		}
	}
}

func TestLimiterThroughAuthenticator(t *testing.T) {
	t.Parallel()
	c := newClock()
	lim := NewLimiter(LimiterOptions{MaxFailures: 10, Window: time.Minute, Now: c.Now})
	a := fixture(t, c, Options{Limiter: lim})
	attacker, idp := "203.0.113.9", "198.51.100.20"
	for i := range 10 {
		_, err := a.Authenticate(request("Bearer wrong-wrong-wrong-wrong", attacker))
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// The attacker is refused, even with a valid token...
	_, err := a.Authenticate(request("Bearer "+acmeOld, attacker))
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("11th attempt: %v, want 429", err)
	}
	w := httptest.NewRecorder()
	ae.SetHeaders(w.Header())
	if got := w.Header().Get("Retry-After"); got != "60" {
		t.Fatalf("Retry-After = %q, want 60", got)
	}
	// ...while the IdP on another address is not affected, nor are its failures.
	if _, err := a.Authenticate(request("Bearer "+acmeOld, idp)); err != nil {
		t.Fatalf("valid IdP blocked: %v", err)
	}
	if _, err := a.Authenticate(request("Bearer wrong-wrong-wrong-wrong", idp)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("other address: %v, want a plain 401", err)
	}
	c.Advance(30 * time.Second)
	_, err = a.Authenticate(request("Bearer "+acmeOld, attacker))
	if !errors.As(err, &ae) || ae.RetryAfter != 30*time.Second {
		t.Fatalf("half-way: %v", err)
	}
	c.Advance(30 * time.Second)
	if _, err := a.Authenticate(request("Bearer "+acmeOld, attacker)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestNewAdmin(t *testing.T) {
	t.Parallel()
	c := newClock()
	tokA, digA := NewToken()
	tokB, _ := NewToken()
	a, err := NewAdmin([]Token{
		{Name: "admin-1", Value: digA, Window: Window{Expires: c.Now().Add(time.Hour)}},
		{Name: "admin-2", Value: tokB},
	}, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tokA, tokB} {
		id, err := a.Authenticate(request("Bearer "+tok, ""))
		if err != nil || id.Tenant != AdminTenant {
			t.Fatalf("admin token: %+v %v", id, err)
		}
	}
	c.Advance(time.Hour)
	_, err = a.Authenticate(request("Bearer "+tokA, ""))
	var ae *Error
	if !errors.As(err, &ae) || !errors.Is(err, ErrExpired) || !strings.HasPrefix(ae.Challenges()[0], `Bearer realm="scim-bridge-admin", error="invalid_token"`) {
		t.Fatalf("expired admin token: %v %q", err, ae.Challenges())
	}
	if len(ae.Challenges()) != 1 {
		t.Fatalf("admin offers Bearer only: %q", ae.Challenges())
	}
	if _, err := NewAdmin(nil, Options{}); err == nil {
		t.Fatal("NewAdmin without tokens succeeded")
	}
	if _, err := NewAdmin([]Token{{Value: "tiny-secret"}}, Options{}); err == nil || strings.Contains(err.Error(), "tiny-secret") {
		t.Fatalf("short admin token: %v", err)
	}
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	tok, dig := NewToken()
	tok2, _ := NewToken()
	if tok == tok2 || !strings.HasPrefix(tok, tokenPrefix) || len(tok) < MinTokenLength+len(tokenPrefix) {
		t.Fatalf("tokens %q %q", tok, tok2)
	}
	if dig != Digest(tok) || checkSecret(dig, "token") != "" || checkSecret(tok, "token") != "" {
		t.Fatalf("digest %q of %q", dig, tok)
	}
	if Digest("abc") != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal("Digest is not SHA-256 hex (FIPS 180-2 test vector)")
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	want := Identity{Tenant: "acme", Method: MethodBasic, Name: "okta"}
	got, ok := FromContext(NewContext(t.Context(), want))
	if !ok || got != want {
		t.Fatalf("got %+v %v", got, ok)
	}
	if _, ok := FromContext(t.Context()); ok {
		t.Fatal("identity in an empty context")
	}
}

// TestConcurrentFailuresDoNotBlockOthers hammers the authenticator from
// attackers and IdPs at once: no IdP request may fail.
func TestConcurrentFailuresDoNotBlockOthers(t *testing.T) {
	t.Parallel()
	c := newClock()
	lim := NewLimiter(LimiterOptions{MaxFailures: 5, MaxAddresses: 64, Now: c.Now})
	a := fixture(t, c, Options{Limiter: lim})
	var wg sync.WaitGroup
	idpErrs := make(chan error, 4*200)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if g%2 == 0 { // attackers, each on many addresses
					addr := fmt.Sprintf("203.0.%d.%d", g, i%100)
					_, _ = a.Authenticate(request("Bearer guess-"+strconv.Itoa(i)+"-guess-guess", addr))
					continue
				}
				addr := fmt.Sprintf("198.51.100.%d", g)
				if _, err := a.Authenticate(request("Bearer "+acmeNew, addr)); err != nil {
					idpErrs <- err
				}
			}
		})
	}
	wg.Wait()
	close(idpErrs)
	for err := range idpErrs {
		t.Fatalf("IdP refused: %v", err)
	}
	if n := lim.Len(); n > 64 {
		t.Fatalf("limiter holds %d addresses", n)
	}
}

func TestInventory(t *testing.T) {
	t.Parallel()
	c := newClock()
	a := fixture(t, c, Options{})
	var got []string
	for _, ci := range a.Inventory() {
		got = append(got, fmt.Sprintf("%s %s %s %v", ci.Tenant, ci.Method, ci.Name, !ci.Expires.IsZero()))
	}
	want := []string{
		"acme bearer okta-2026 true", "acme bearer okta-2027 false", "acme bearer old true", "acme bearer next false",
		"globex bearer scim_tokens[0] false", "globex basic okta-basic false", "globex basic basic:okta/basic_auth[1] false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("inventory:\n%s", strings.Join(got, "\n"))
	}
}

// TestUnnamedCredentialLabels: a credential without a name is labelled by its
// position in the configuration, never by anything derived from its secret (a
// digest prefix in a log would let its readers test guessed tokens offline,
// out of reach of the limiter), and the label is the same on every restart.
func TestUnnamedCredentialLabels(t *testing.T) {
	t.Parallel()
	c := newClock()
	digestTok, digestLine := NewToken()
	tenants := func() []Tenant {
		return []Tenant{{ID: "acme", Credentials: Credentials{
			Tokens: []Token{{Name: "named", Value: acmeOld}, {Value: acmeNew, short: true}, {Value: digestLine}},
			Basic:  []BasicCredential{{Username: "okta", Password: oktaPass}, {Username: "okta", Password: Digest(oktaPass2)}, {Username: "other", Password: futureTok}},
		}}}
	}
	a, err := New(Options{Tenants: tenants(), ByCredential: true, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	again, err := New(Options{Tenants: tenants(), ByCredential: true, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := NewAdmin([]Token{{Value: expiredTok}, {Name: "ops", Value: globexTok}, {Value: Digest(digestTok + "x")}}, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		a      *Authenticator
		authz  string
		secret string
		want   string
	}{
		{a, "Bearer " + acmeOld, acmeOld, "named"},
		{a, "Bearer " + acmeNew, acmeNew, "scim_tokens[1]"},
		{a, "Bearer " + digestTok, digestTok, "scim_tokens[2]"},
		{again, "Bearer " + digestTok, digestTok, "scim_tokens[2]"},
		{a, basicHeader("okta", oktaPass), oktaPass, "basic:okta/basic_auth[0]"},
		{a, basicHeader("okta", oktaPass2), oktaPass2, "basic:okta/basic_auth[1]"},
		{a, basicHeader("other", futureTok), futureTok, "basic:other"},
		{admin, "Bearer " + expiredTok, expiredTok, "admin[0]"},
		{admin, "Bearer " + globexTok, globexTok, "ops"},
	} {
		id, err := tt.a.Authenticate(request(tt.authz, ""))
		if err != nil {
			t.Fatalf("%s: %v", tt.want, err)
		}
		if id.Name != tt.want {
			t.Errorf("label %q, want %q", id.Name, tt.want)
		}
		hexDigest := strings.TrimPrefix(Digest(tt.secret), DigestPrefix)
		for i := 0; i+6 <= len(hexDigest); i++ {
			if strings.Contains(id.Name, hexDigest[i:i+6]) {
				t.Fatalf("label %q holds part of the secret's digest", id.Name)
			}
		}
	}
	for _, ci := range append(a.Inventory(), admin.Inventory()...) {
		if strings.Contains(ci.Name, DigestPrefix) {
			t.Errorf("inventory label %q is derived from a digest", ci.Name)
		}
	}
}

// TestChallengeFollowsScheme: the error parameters of a 401 go with the
// scheme the client used (RFC 6750 §3, RFC 7617 §2): a refused bearer token
// gets error="invalid_token" on the Bearer challenge, a refused Basic
// password gets the plain challenges, and no credentials no error code.
func TestChallengeFollowsScheme(t *testing.T) {
	t.Parallel()
	c := newClock()
	gone := Window{Expires: c.Now()}
	a, err := New(Options{Now: c.Now, ByCredential: true, Tenants: []Tenant{{ID: "globex", Credentials: Credentials{
		Tokens: []Token{{Value: globexTok}, {Value: expiredTok, Window: gone}},
		Basic:  []BasicCredential{{Username: "okta", Password: oktaPass}, {Username: "gone", Password: oktaPass2, Window: gone}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	const (
		bearer    = `Bearer realm="scim-bridge"`
		bearerErr = `Bearer realm="scim-bridge", error="invalid_token", error_description="invalid credentials"`
		expired   = `Bearer realm="scim-bridge", error="invalid_token", error_description="the credential has expired"`
		basic     = `Basic realm="scim-bridge", charset="UTF-8"`
	)
	for _, tt := range []struct {
		name, authz string
		want        []string
	}{
		{"wrong bearer token", "Bearer wrong-wrong-wrong-wrong", []string{bearerErr, basic}},
		{"expired bearer token", "Bearer " + expiredTok, []string{expired, basic}},
		{"wrong Basic password", basicHeader("okta", oktaPass+"x"), []string{bearer, basic}},
		{"Basic, not base64", "Basic !!!", []string{bearer, basic}},
		{"expired Basic password", basicHeader("gone", oktaPass2), []string{bearer, basic}},
		{"none", "", []string{bearer, basic}},
	} {
		_, err := a.Authenticate(request(tt.authz, ""))
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Fatalf("%s: %v, want a 401", tt.name, err)
		}
		if got := ae.Challenges(); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: challenges\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}
