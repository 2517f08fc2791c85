package auth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Outcomes of a failed authentication, for errors.Is on the *Error that
// Authenticate returns.
var (
	// ErrNoCredentials: no Authorization header, or a scheme not offered.
	ErrNoCredentials = errors.New("no credentials")
	// ErrMalformed: an Authorization header that cannot be parsed.
	ErrMalformed = errors.New("malformed authorization header")
	// ErrInvalid: credentials that match nothing configured, or a JWT that
	// fails verification.
	ErrInvalid = errors.New("invalid credentials")
	// ErrExpired: a known credential past its expiry (or a JWT past "exp").
	ErrExpired = errors.New("credential expired")
	// ErrNotYetValid: a known credential before its not_before (or a JWT
	// before "nbf").
	ErrNotYetValid = errors.New("credential not yet valid")
	// ErrRateLimited: too many failed attempts from the client's address.
	ErrRateLimited = errors.New("too many failed attempts")
)

// Error is a failed authentication as the HTTP layer renders it: Status (401;
// 429 when the source address is rate limited; 500 for a misuse of the API), the headers SetHeaders
// writes (WWW-Authenticate challenges per RFC 9110 §11.6.1, RFC 6750 §3 and
// RFC 7617 §2; Retry-After for 429) and Detail, a short text for the client
// (the SCIM error body's "detail", RFC 7644 §3.12). Error() adds the cause for
// the log. Neither ever contains a token, password or JWT.
type Error struct {
	// Status is http.StatusUnauthorized, http.StatusTooManyRequests or
	// http.StatusInternalServerError.
	Status int
	// Detail is safe to show to the client.
	Detail string
	// RetryAfter is set with status 429.
	RetryAfter time.Duration

	challenges []string
	cause      error
}

func (e *Error) Error() string {
	if e.cause == nil {
		return "authentication failed: " + e.Detail
	}
	return "authentication failed: " + e.cause.Error()
}

// Unwrap returns the cause, which wraps one of the Err* outcomes.
func (e *Error) Unwrap() error { return e.cause }

// SetHeaders writes the response headers of the failure: one WWW-Authenticate
// per offered scheme with status 401, Retry-After (whole seconds, at least 1)
// with status 429.
func (e *Error) SetHeaders(h http.Header) {
	for _, c := range e.challenges {
		h.Add("WWW-Authenticate", c)
	}
	if e.Status == http.StatusTooManyRequests {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
}

// Challenges returns the WWW-Authenticate values SetHeaders writes.
func (e *Error) Challenges() []string { return e.challenges }

// challenger builds the WWW-Authenticate challenges of one scope (a tenant,
// or every tenant): Bearer when tokens or JWTs are accepted, Basic when
// Basic credentials are.
type challenger struct {
	realm  string
	bearer bool
	basic  bool
}

// challenges returns the challenges for a failure. code is the RFC 6750 §3.1
// error code ("invalid_token") of the Bearer challenge, or "" when the
// request carried no usable bearer credentials (RFC 6750 §3.1: then no error
// code; so too when it used Basic, whose RFC 7617 challenge has no error
// parameters). desc must be plain ASCII without '"' or '\'.
func (c challenger) challenges(code, desc string) []string {
	var out []string
	if c.bearer || !c.basic {
		var b strings.Builder
		b.WriteString(`Bearer realm="`)
		b.WriteString(c.realm)
		b.WriteByte('"')
		if code != "" {
			b.WriteString(`, error="`)
			b.WriteString(code)
			b.WriteString(`", error_description="`)
			b.WriteString(desc)
			b.WriteByte('"')
		}
		out = append(out, b.String())
	}
	if c.basic {
		out = append(out, `Basic realm="`+c.realm+`", charset="UTF-8"`)
	}
	return out
}

// failure makes the *Error of a 401. used is the method of the refused
// credentials ("" when there were none usable): the error parameters go with
// the scheme the client used, so only a refused bearer token or JWT gets
// error="invalid_token" (RFC 6750 §3); a refused Basic credential gets the
// plain challenges (RFC 7617 §2 defines no error parameter), its reason
// being in Detail. kind is one of the Err* outcomes; cause (optional) adds
// detail for the log.
func (c challenger) failure(used Method, kind error, cause error) *Error {
	e := &Error{Status: http.StatusUnauthorized}
	code := "invalid_token"
	if used != MethodBearer && used != MethodJWT {
		code = ""
	}
	switch kind {
	case ErrNoCredentials:
		e.Detail, code = "authentication required", ""
	case ErrMalformed:
		e.Detail, code = "malformed Authorization header", ""
	case ErrExpired:
		e.Detail = "the credential has expired"
	case ErrNotYetValid:
		e.Detail = "the credential is not valid yet"
	default:
		e.Detail = "invalid credentials"
	}
	e.challenges = c.challenges(code, e.Detail)
	switch {
	case cause == nil:
		e.cause = kind
	case errors.Is(cause, kind):
		e.cause = cause
	default:
		e.cause = &wrapped{kind: kind, err: cause}
	}
	return e
}

// rateLimited makes the *Error of a 429.
func rateLimited(retry time.Duration) *Error {
	return &Error{
		Status:     http.StatusTooManyRequests,
		Detail:     "too many failed authentication attempts from this address; retry later",
		RetryAfter: retry,
		cause:      ErrRateLimited,
	}
}

// wrapped is "<kind>: <err>" matching both kind and err with errors.Is.
type wrapped struct {
	kind error
	err  error
}

func (w *wrapped) Error() string   { return w.kind.Error() + ": " + w.err.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.kind, w.err} }
