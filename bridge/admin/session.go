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
}

// sessionKey derives the signing key from the session secret.
func sessionKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("scim-bridge console session v1"))
	return m.Sum(nil)
}

// loadKey salts the signing key with the store's console salt, once.
func (c *console) loadKey(ctx context.Context) error {
	if c.key.Load() != nil {
		return nil
	}
	salt, err := c.api.opts.SessionSalt(ctx)
	if err != nil {
		return fmt.Errorf("read the console salt: %w", err)
	}
	m := hmac.New(sha256.New, c.base)
	m.Write([]byte("salt\x00"))
	m.Write(salt)
	k := m.Sum(nil)
	c.key.CompareAndSwap(nil, &k)
	return nil
}

func (c *console) mac(parts ...string) string {
	m := hmac.New(sha256.New, *c.key.Load())
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSession issues a session cookie for r.
func (c *console) newSession(w http.ResponseWriter, r *http.Request, rl role) {
	exp := strconv.FormatInt(c.api.now().Add(sessionTTL).Unix(), 10)
	nonce := randomHex(16)
	rs := strconv.Itoa(int(rl))
	val := rs + "." + exp + "." + nonce + "." + c.mac("session", rs, exp, nonce)
	http.SetCookie(w, c.cookie(r, sessionCookie, val, int(sessionTTL/time.Second)))
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
	if len(parts) != 4 {
		return nil, false
	}
	rs, exp, nonce, mac := parts[0], parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(mac), []byte(c.mac("session", rs, exp, nonce))) {
		return nil, false
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || c.api.now().Unix() > e {
		return nil, false
	}
	n, _ := strconv.Atoi(rs)
	rl := role(n)
	if rl != roleAdmin && rl != roleReader {
		return nil, false
	}
	return &session{role: rl, nonce: nonce, csrf: c.mac("csrf", nonce)}, true
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
