package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// DigestPrefix starts a secret given as its SHA-256 digest.
const DigestPrefix = "sha256:"

// tokenPrefix starts every token NewToken makes, so secret scanners and
// humans recognise one.
const tokenPrefix = "sbt_"

// NewToken returns a fresh random bearer token (128 bits from crypto/rand,
// base32, behind the prefix "sbt_") and the digest line to put in the
// configuration instead of it ("sha256:<64 hex digits>"). The token is shown
// once to the operator, who pastes it into the IdP; the configuration keeps
// only the digest.
func NewToken() (token, digest string) {
	token = tokenPrefix + rand.Text()
	return token, Digest(token)
}

// Digest returns the configuration form of a token or password:
// "sha256:" and the lower-case hex SHA-256 digest of its UTF-8 bytes.
func Digest(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return DigestPrefix + hex.EncodeToString(d[:])
}

func hasDigestPrefix(v string) bool {
	return len(v) >= len(DigestPrefix) && strings.EqualFold(v[:len(DigestPrefix)], DigestPrefix)
}

var errBadDigest = errors.New("not sha256: and 64 hexadecimal digits")

// parseSecret returns the SHA-256 digest a configured secret stands for: the
// decoded digest of "sha256:<hex>", or the digest of a plaintext secret.
func parseSecret(v string) ([32]byte, error) {
	var d [32]byte
	if !hasDigestPrefix(v) {
		return sha256.Sum256([]byte(v)), nil
	}
	h := v[len(DigestPrefix):]
	if len(h) != hex.EncodedLen(len(d)) {
		return d, errBadDigest
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return d, errBadDigest
	}
	return d, nil
}

// positionName is the label of a credential configured without a name: the
// list it sits in and its position there ("scim_tokens[0]"), so that logs,
// status and the audit trail can tell credentials apart and say the same on
// every restart and replica. It is deliberately not derived from the secret:
// even a few hex digits of an unsalted digest would let anyone who reads a log
// test guessed tokens offline, out of reach of the failure limiter. The
// brackets keep it apart from every configured name (namePattern has none).
// Reordering the list changes it; a name keeps a label through such edits.
func positionName(list string, i int) string {
	return list + "[" + strconv.Itoa(i) + "]"
}
