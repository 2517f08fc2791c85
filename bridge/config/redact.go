package config

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// Secrets never reach a message: every string below is replaced by
// "[redacted]" in the messages of a load. A string is a secret when it is the
// value of a key tagged `config:"secret"` (or of an item below such a key), of a
// key whose name says so (isSecretKey, for connector sections), the password
// of a URL, or a value taken from the environment.

// minRedact is the length from which a value from the environment is redacted
// from messages (shorter ones are not secrets and would mangle the text).
const minRedact = 6

// noteString records the secrets a decoded string at path holds.
func (l *loader) noteString(path, s string) {
	if l.isSecret(path) {
		l.addSecret(s, 4)
	}
	if strings.Contains(s, "@") {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil {
			if p, ok := u.User.Password(); ok {
				l.addSecret(p, 1)
			}
		}
	}
}

// isSecret reports whether the value at path is a credential: below a key
// tagged `config:"secret"`, or named like one.
func (l *loader) isSecret(path string) bool {
	for p := path; ; p = parentPath(p) {
		if l.secretKeys[p] {
			return true
		}
		if p == "" {
			return isSecretKey(path)
		}
	}
}

// addSecret marks s as a string no message may contain. Strings shorter than
// minLen (at least 4) are not secrets worth mangling messages for.
func (l *loader) addSecret(s string, minLen int) {
	if s = strings.TrimSpace(s); len(s) >= max(minLen, 4) {
		l.secrets[s] = true
	}
}

// secretList returns the secrets, longest first, so that a secret containing
// another is redacted whole.
func (l *loader) secretList() []string {
	out := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return out
}

// redact replaces each occurrence of secret in msg that stands as a value:
// quoted, delimited ("u:secret@host", "=secret") or at least longWordSecret
// bytes long (no word of a message is that long: such a secret is replaced
// even glued to other letters, as in "${TOKEN}x" quoted back by a connector's
// check). Left alone are occurrences inside a longer word, and a short secret
// of letters only standing as a word of prose (after a space, before a space
// or punctuation): the text of the message, not the value. A token "short" is
// reported as "is too short: a token needs at least 16 characters", not "is
// too [redacted]: ...". The price: a short letters-only secret that an
// adapter's message prints bare between spaces stays in it. This package's
// own messages never print a credential in the first place (no rule shows
// one, auth.FieldError never quotes one), and SCIM tokens, Basic passwords and
// admin tokens need at least 16 characters anyway.
func redact(msg, secret string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, secret)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(secret)
		inWord := len(secret) < longWordSecret && ((i > 0 && isWordByte(msg[i-1]) && isWordByte(secret[0])) ||
			(end < len(msg) && isWordByte(msg[end]) && isWordByte(secret[len(secret)-1])))
		if inWord || isProseWord(msg, i, end) {
			b.WriteString(msg[:i+1])
			msg = msg[i+1:]
			continue
		}
		b.WriteString(msg[:i])
		b.WriteString("[redacted]")
		msg = msg[end:]
	}
}

// isProseWord reports whether msg[i:end], shorter than longWordSecret and made
// of letters only, stands as a word of the message's text: at its start or
// after a space or '(', and at its end or before a space or one of ":,.;)".
// Quotes, '=', '@', '/' and the like around it make it a value instead.
func isProseWord(msg string, i, end int) bool {
	if end-i >= longWordSecret {
		return false
	}
	for j := i; j < end; j++ {
		if c := msg[j] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	before := i == 0 || msg[i-1] == ' ' || msg[i-1] == '('
	after := end == len(msg) || strings.IndexByte(" :,.;)", msg[end]) >= 0
	return before && after
}

// longWordSecret: see redact.
const longWordSecret = 16

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isSecretKey reports whether a key path names a credential, by its last named
// key (list indexes skipped): token, secret, password, key or credential, but
// not a URL such as tokenUrl.
func isSecretKey(path string) bool {
	for path != "" {
		last := strings.ToLower(path[len(parentPath(path)):])
		if strings.HasPrefix(last, "[") && !strings.HasPrefix(last, `["`) {
			path = parentPath(path)
			continue
		}
		if strings.Contains(last, "url") {
			return false
		}
		for _, w := range []string{"token", "secret", "password", "key", "credential"} {
			if strings.Contains(last, w) {
				return true
			}
		}
		return false
	}
	return false
}
