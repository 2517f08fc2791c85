package bridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenIndex resolves a bearer token to its tenant. Tokens are kept only as SHA-256
// digests and compared in constant time against every configured digest, so
// neither the token nor which tenant matched leaks through timing.
type tokenIndex struct {
	digests [][sha256.Size]byte
	tenants []*tenant
}

func newTokenIndex(tenants []*tenant) *tokenIndex {
	ti := &tokenIndex{}
	for _, t := range tenants {
		for _, tok := range t.tokens {
			ti.digests = append(ti.digests, sha256.Sum256([]byte(tok)))
			ti.tenants = append(ti.tenants, t)
		}
	}
	return ti
}

// resolve returns the tenant of token, or nil.
func (ti *tokenIndex) resolve(token string) *tenant {
	if token == "" {
		return nil
	}
	d := sha256.Sum256([]byte(token))
	var found *tenant
	for i := range ti.digests {
		if subtle.ConstantTimeCompare(d[:], ti.digests[i][:]) == 1 {
			found = ti.tenants[i]
		}
	}
	return found
}

// bearer extracts the token of an "Authorization: Bearer <token>" header. The
// scheme is matched case-insensitively (RFC 6750 §2.1, RFC 9110 §11.1).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}
