package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

// Console sessions are stateless: the cookie holds "<role>.<expiry>.<nonce>.<mac>"
// with an HMAC-SHA256 under a key derived from Options.SessionSecret (itself
// derived from the admin tokens' configuration) salted with
// Options.SessionSalt (a random value kept in the store, never in the
// configuration), so every replica accepts them, a restart keeps them,
// rotating the admin tokens ends them all, and reading the configuration is
// not enough to forge one. The
// CSRF token of a session is another MAC over its nonce.

const (
	sessionCookie = "sb_admin_session"
	loginCookie   = "sb_admin_login"
	sessionTTL    = 8 * time.Hour
)

type session struct {
	role  role
	nonce string
	csrf  string
	exp   time.Time // when the cookie stops being accepted
}

// sessionKey derives the signing key from the session secret.
func sessionKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("scim-bridge console session v1"))
	return m.Sum(nil)
}

// saltRefresh is how long a replica signs with the salt it read before it
// reads it again: a salt deleted (to end every session) or lost with Redis's
// data is replaced on every replica within this time, so they never keep
// signing with different keys.
const saltRefresh = time.Minute

// signingKey is the salted signing key and when its salt was read.
type signingKey struct {
	key  []byte
	read time.Time
}

// loadKey salts the signing key with the store's console salt, read again
// every saltRefresh; while the store cannot be read the key in use stays.
func (c *console) loadKey(ctx context.Context) error {
	if c.api.opts.SessionSalt == nil {
		return nil
	}
	now := c.api.now()
	cur := c.key.Load()
	if cur != nil && now.Sub(cur.read) < saltRefresh && !now.Before(cur.read) {
		return nil
	}
	salt, err := c.api.opts.SessionSalt(ctx)
	if err != nil {
		if cur != nil {
			return nil
		}
		return fmt.Errorf("read the console salt: %w", err)
	}
	m := hmac.New(sha256.New, c.base)
	m.Write([]byte("salt\x00"))
	m.Write(salt)
	c.key.CompareAndSwap(cur, &signingKey{key: m.Sum(nil), read: now})
	return nil
}

func (c *console) mac(parts ...string) string {
	m := hmac.New(sha256.New, c.key.Load().key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSession issues a session cookie for r, signed in with the credential id:
// it ends with the credential's own expiry when that comes first, and is
// accepted only while that credential is (see session).
func (c *console) newSession(w http.ResponseWriter, r *http.Request, rl role, id auth.Identity) {
	now := c.api.now()
	end := now.Add(sessionTTL)
	if !id.Expires.IsZero() && id.Expires.Before(end) {
		end = id.Expires
	}
	exp := strconv.FormatInt(end.Unix(), 10)
	nonce := randomHex(16)
	rs := strconv.Itoa(int(rl))
	cred := base64.RawURLEncoding.EncodeToString([]byte(id.Name))
	val := rs + "." + exp + "." + nonce + "." + cred + "." + c.mac("session", rs, exp, nonce, cred)
	http.SetCookie(w, c.cookie(r, sessionCookie, val, max(1, int(end.Sub(now)/time.Second))))
}

func (c *console) cookie(r *http.Request, name, val string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: val, Path: "/admin/", MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil || c.api.opts.Secure, SameSite: http.SameSiteStrictMode,
	}
}

// session returns the valid session of r, if any.
func (c *console) session(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 5 {
		return nil, false
	}
	rs, exp, nonce, cred, mac := parts[0], parts[1], parts[2], parts[3], parts[4]
	if !hmac.Equal([]byte(mac), []byte(c.mac("session", rs, exp, nonce, cred))) {
		return nil, false
	}
	now := c.api.now()
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() >= e {
		return nil, false
	}
	n, _ := strconv.Atoi(rs)
	rl := role(n)
	if rl != roleAdmin && rl != roleReader {
		return nil, false
	}
	name, err := base64.RawURLEncoding.DecodeString(cred)
	if err != nil || !c.credentialValid(string(name), now) {
		return nil, false // the credential was removed, renamed, or has expired
	}
	if revoked, err := c.api.opts.Store.ConsoleSessionRevoked(r.Context(), nonce); err != nil || revoked {
		return nil, false
	}
	return &session{role: rl, nonce: nonce, csrf: c.mac("csrf", nonce), exp: time.Unix(e, 0)}, true
}

// credentialValid reports whether the admin credential named name is
// configured and within its validity window at now.
func (c *console) credentialValid(name string, now time.Time) bool {
	for _, ci := range c.api.opts.Auth.Inventory() {
		if ci.Name != name {
			continue
		}
		return ci.Window.Contains(now)
	}
	return false
}

// loginCSRF returns the CSRF token of the login form, setting the pre-login
// cookie it is bound to when r has none.
func (c *console) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	nonce := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == 32 {
		nonce = ck.Value
	} else {
		nonce = randomHex(16)
		http.SetCookie(w, c.cookie(r, loginCookie, nonce, 3600))
	}
	return c.mac("login", nonce)
}

// checkLoginCSRF verifies the login form's token against its cookie.
func (c *console) checkLoginCSRF(r *http.Request) bool {
	ck, err := r.Cookie(loginCookie)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.mac("login", ck.Value)))
}
