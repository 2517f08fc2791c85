package connectors

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// epochCutoff tells a reset given as unix seconds from one given as a delay:
// no API asks for a delay of more than a few days.
const epochCutoff = 1 << 30

// HoldOf returns how long an answer asks the client to send nothing at all:
//
//   - a 429 or 503 with Retry-After (delay-seconds or HTTP-date, RFC 9110
//     §10.2.3): that delay;
//   - any answer whose rate-limit headers say no request remains: the delay
//     until they reset. Read are RateLimit-Remaining with RateLimit-Reset
//     (draft-ietf-httpapi-ratelimit-headers, delay-seconds), the combined
//     RateLimit field of later drafts (remaining=/r= and reset=/t=), and
//     X-RateLimit-Remaining with X-RateLimit-Reset (delay-seconds, or unix
//     seconds as GitHub and others send it).
//
// The longest of these wins; 0 means no hold.
func HoldOf(status int, h http.Header, now time.Time) time.Duration {
	var hold time.Duration
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		hold = ParseRetryAfter(h.Get("Retry-After"), now)
	}
	for _, p := range [][2]string{{"RateLimit-Remaining", "RateLimit-Reset"}, {"X-RateLimit-Remaining", "X-RateLimit-Reset"}} {
		if remaining, ok := headerInt(h.Get(p[0])); ok && remaining <= 0 {
			hold = max(hold, resetDelay(h.Get(p[1]), now))
		}
	}
	if v := h.Get("RateLimit"); v != "" {
		params := map[string]string{}
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok {
				params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
		remaining, ok := headerInt(first(params["remaining"], params["r"]))
		if ok && remaining <= 0 {
			hold = max(hold, resetDelay(first(params["reset"], params["t"]), now))
		}
	}
	return hold
}

// resetDelay reads a reset as delay-seconds, or as unix seconds when large.
func resetDelay(v string, now time.Time) time.Duration {
	n, ok := headerInt(v)
	switch {
	case !ok || n <= 0:
		return 0
	case n >= epochCutoff:
		return max(0, time.Unix(n, 0).Sub(now))
	default:
		return time.Duration(n) * time.Second
	}
}

func headerInt(v string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n, err == nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
