// Package bearer checks bearer tokens (RFC 6750). Tokens are kept only as SHA-256
// digests and compared in constant time against every configured digest, so
// neither a token nor which owner matched leaks through timing.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Index resolves a bearer token to the name of its owner (a tenant id).
type Index struct {
	digests [][sha256.Size]byte
	owners  []string
}

// Add registers token for owner.
func (ix *Index) Add(owner, token string) {
	ix.digests = append(ix.digests, sha256.Sum256([]byte(token)))
	ix.owners = append(ix.owners, owner)
}

// Resolve returns the owner of token; ok is false for an empty or unknown token.
// Every digest is compared, whatever matched.
func (ix *Index) Resolve(token string) (owner string, ok bool) {
	if token == "" {
		return "", false
	}
	d := sha256.Sum256([]byte(token))
	for i := range ix.digests {
		if subtle.ConstantTimeCompare(d[:], ix.digests[i][:]) == 1 {
			owner, ok = ix.owners[i], true
		}
	}
	return owner, ok
}

// Secret is one token kept as its digest (e.g. the admin token).
type Secret struct {
	digest [sha256.Size]byte
}

// NewSecret keeps token's digest.
func NewSecret(token string) Secret { return Secret{digest: sha256.Sum256([]byte(token))} }

// Matches reports in constant time whether token is the secret; never for "".
func (s Secret) Matches(token string) bool {
	d := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1 && token != ""
}

// FromRequest extracts the token of an "Authorization: Bearer <token>" header,
// "" when there is none. The scheme is matched case-insensitively (RFC 6750
// §2.1, RFC 9110 §11.1).
func FromRequest(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}
