package authress

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
)

// recordKey is the Record.IDs key of the connection id.
const recordKey = "connection"

// state is the adapter-private part of the Record. The API may never return the
// client secret (or return it masked), so drift of the secret is judged against
// what the adapter itself applied:
//   - SecretSHA256 is the hash of the configured secret last written to
//     ConnectionID: a configured secret with another hash is a change to apply;
//   - EchoSHA256 is the hash of the clientSecret the API answered right after
//     that write ("" when it answered none): an answer that differs from both
//     the configured secret and this echo means the secret was changed by hand.
//
// Without a state for the connection (a crash before the record was stored, a
// store emptied by a restart, an adopted connection) a secret the API does not
// return cannot be verified, and the adapter writes it once.
type state struct {
	ConnectionID string `json:"connectionId,omitempty"`
	SecretSHA256 string `json:"secretSha256,omitempty"`
	EchoSHA256   string `json:"echoSha256,omitempty"`
}

// parseState reads a Record.State; anything unreadable is an empty state.
func parseState(raw json.RawMessage) state {
	var s state
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &s); err != nil {
			return state{}
		}
	}
	return s
}

func (s state) encode() json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	return b
}

// secretHash is a domain-separated SHA-256 of a secret, hex encoded; "" for "".
func secretHash(secret string) string {
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("scim-bridge/authress/clientSecret\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// equalConstantTime compares two secrets without leaking where they differ.
func equalConstantTime(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// secretDrift says whether the configured secret must be written to the
// connection id whose answer carried echo as clientSecret, and why.
func secretDrift(configured, echo, id string, prev state) (bool, string) {
	if configured == "" {
		return false, "" // the secret is not managed
	}
	if echo != "" && equalConstantTime(echo, configured) {
		return false, ""
	}
	if prev.ConnectionID != id || prev.SecretSHA256 == "" {
		return true, "clientSecret cannot be verified: no record of the applied secret"
	}
	if subtle.ConstantTimeCompare([]byte(prev.SecretSHA256), []byte(secretHash(configured))) != 1 {
		return true, "clientSecret changed in the configuration"
	}
	if echo != "" && secretHash(echo) != prev.EchoSHA256 {
		return true, "clientSecret changed downstream"
	}
	return false, ""
}

// appliedState is the state after the configured secret is known to be in place
// on connection id, whose latest answer carried echo as clientSecret.
func appliedState(configured, echo, id string) state {
	return state{ConnectionID: id, SecretSHA256: secretHash(configured), EchoSHA256: secretHash(echo)}
}
