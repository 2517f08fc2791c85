package connectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what the bridge does with a failed convergence.
type Class int

// Error classes.
const (
	// Retryable: 5xx, 408, 409, timeouts, connection errors. Retried with backoff.
	Retryable Class = iota + 1
	// RateLimited: 429; retried after Error.RetryAfter (or backoff when absent).
	RateLimited
	// Permanent: other 4xx (not 404, 408, 409, 429) and malformed answers.
	// Goes to the dead-letter set.
	Permanent
	// NotFound: 404. Adapters usually handle it themselves (the object is gone);
	// the bridge treats an unhandled one as retryable.
	NotFound
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case RateLimited:
		return "rate-limited"
	case Permanent:
		return "permanent"
	case NotFound:
		return "not-found"
	}
	return "unknown"
}

// Error is a classified downstream failure. Msg is the downstream's own message
// (trimmed, never containing request credentials).
type Error struct {
	Class      Class
	Op         string // e.g. "POST /identity-provider/user"
	Status     int    // HTTP status, 0 for transport errors
	RetryAfter time.Duration
	Msg        string
	Err        error // underlying transport error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	b.WriteString(" (")
	b.WriteString(e.Class.String())
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	b.WriteString(")")
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf classifies any error: an *Error anywhere in the chain gives its class;
// context cancellation, timeouts and network errors are Retryable; anything else
// is Permanent (a bug or a malformed answer will not fix itself).
func ClassOf(err error) Class {
	if err == nil {
		return 0
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Class
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne) {
		return Retryable
	}
	return Permanent
}

// RetryAfterOf returns the Retry-After carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.RetryAfter
	}
	return 0
}

// IsNotFound reports whether err is a downstream 404.
func IsNotFound(err error) bool { return ClassOf(err) == NotFound }

// StatusError is an *Error with Status set, for errors.As.
func StatusOf(err error) int {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// ClassifyStatus maps an HTTP status to its class (0 for 2xx/3xx):
// 429 RateLimited, 404 NotFound, 408, 409 and 5xx Retryable, other 4xx
// Permanent. A 409 says the downstream's state changed under the request (a
// concurrent write, a create that landed before its answer was lost): the
// next attempt reads that state again, so a conflict the adapter does not
// resolve itself is retried with backoff (and parked after the attempts run
// out), not parked at once.
func ClassifyStatus(status int) Class {
	switch {
	case status < 400:
		return 0
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status == http.StatusNotFound:
		return NotFound
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status >= 500:
		return Retryable
	default:
		return Permanent
	}
}

// ParseRetryAfter reads a Retry-After header (delay-seconds or HTTP-date, RFC 9110
// §10.2.3) relative to now; 0 when absent or unparsable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
