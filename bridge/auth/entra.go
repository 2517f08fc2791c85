package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultClockSkew is the leeway allowed on exp, nbf and iat.
const DefaultClockSkew = time.Minute

// maxJWTBytes bounds what is parsed at all; Entra's tokens are ~1.5 KB.
const maxJWTBytes = 16 << 10

// entraEntry is the Entra configuration of one tenant, resolved.
type entraEntry struct {
	tenant    int
	issuer    string
	audiences []string
	keys      *keySet
}

// entraClaims are the claims read from a verified token.
type entraClaims struct {
	jwt.Claims
	AppID string `json:"appid"` // v1 tokens: the client application
	AZP   string `json:"azp"`   // v2 tokens: the client application
	TID   string `json:"tid"`   // the Entra tenant
}

// looksLikeJWT reports whether a bearer value has the shape of a JWS compact
// serialization (three base64url parts), so opaque tokens skip JWT parsing.
func looksLikeJWT(s string) bool {
	return len(s) <= maxJWTBytes && strings.Count(s, ".") == 2 && strings.HasPrefix(s, "eyJ")
}

// verifyJWT verifies an Entra-issued token against the Entra entries of the
// scope and returns the matching entry, the client's label and the token's
// expiry. The error wraps ErrInvalid, ErrExpired or ErrNotYetValid; with the
// latter two (signature verified) the entry and label are returned too.
//
// Routing reads iss and aud before the signature is checked, only to choose
// which entry (issuer, audiences, key set) to verify against; everything is
// then checked again on the verified claims.
func verifyJWT(ctx context.Context, raw string, entries []*entraEntry, now time.Time, skew time.Duration) (entry *entraEntry, label string, exp time.Time, err error) {
	// The algorithm is pinned: a token whose header names any other ("none",
	// HS256, ES256...) fails to parse before any key is looked at.
	tok, perr := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if perr != nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: %v", ErrInvalid, perr)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: one signature with a kid is required", ErrInvalid)
	}
	var unverified jwt.Claims
	if err = tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: claims: %v", ErrInvalid, err)
	}
	for _, e := range entries {
		if e.issuer == unverified.Issuer && slices.ContainsFunc(e.audiences, unverified.Audience.Contains) {
			entry = e
			break
		}
	}
	if entry == nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: issuer %q with audience %q is not accepted", ErrInvalid,
			truncate(unverified.Issuer, 100), truncate(strings.Join(unverified.Audience, ","), 100))
	}
	key, err := entry.keys.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: %v", ErrInvalid, err)
	}
	var claims entraClaims
	if err = tok.Claims(key, &claims); err != nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: signature: %v", ErrInvalid, err)
	}
	if claims.Expiry == nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: no exp claim", ErrInvalid)
	}
	label, exp = clientLabel(&claims), claims.Expiry.Time()
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: entry.issuer, AnyAudience: entry.audiences, Time: now}, skew)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return entry, label, exp, fmt.Errorf("%w: jwt expired at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet):
		return entry, label, exp, fmt.Errorf("%w: jwt not valid before %s", ErrNotYetValid, claims.NotBefore.Time().UTC().Format(time.RFC3339))
	case err != nil:
		return nil, "", time.Time{}, fmt.Errorf("%w: jwt: %v", ErrInvalid, err)
	}
	return entry, label, exp, nil
}

// clientLabel names the verified client: "jwt:" and its application id
// (appid, else azp), else its subject; reduced to safe characters.
func clientLabel(c *entraClaims) string {
	id := c.AppID
	if id == "" {
		id = c.AZP
	}
	if id == "" {
		id = c.Subject
	}
	id = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, id)
	return "jwt:" + truncate(id, 64)
}
