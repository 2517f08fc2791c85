package connectors

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Common returns the keys every connector entry has. It is promoted to every
// adapter Config that embeds Base, so the bridge can read name, type and
// webhook_secret without knowing the adapter.
func (b Base) Common() Base { return b }

// Validate checks the keys every connector entry shares and returns one
// *FieldError per problem, in this order of keys (nil when all is well):
//
//   - name: not blank, when "name" is in require;
//   - type: when set and wantType is not empty, equal to wantType;
//   - url: not empty, when "url" is in require; when set, an absolute http or
//     https URL with a host and without a query or fragment (adapters append
//     their routes to it);
//   - token: not blank, when "token" is in require;
//   - webhook_secret: not blank, when "webhook_secret" is in require;
//   - max_concurrency, rate, rate_limit and burst: not negative (0 means
//     DefaultMaxConcurrency, a learned pace, a learned pace and 1); rate and
//     its older name rate_limit not both set;
//   - timeout: when set, a positive Go duration (time.ParseDuration).
//
// require names the string keys that must be set: any of "name", "type", "url",
// "token" and "webhook_secret"; naming another key is reported as an error of
// that key, so a typo fails the adapter's tests. Messages never quote the token,
// the webhook secret or the URL (which may carry credentials).
//
// Adapters call it first in their Config.Validate and append the checks of
// their own keys.
func (b Base) Validate(wantType string, require ...string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	missing := func(key, v string) bool {
		return slices.Contains(require, key) && strings.TrimSpace(v) == ""
	}
	if missing("name", b.Name) {
		bad("name", "is required")
	}
	switch {
	case missing("type", b.Type):
		bad("type", "is required")
	case wantType != "" && b.Type != "" && b.Type != wantType:
		bad("type", "must be %q, got %q", wantType, b.Type)
	}
	switch {
	case missing("url", b.URL):
		bad("url", "is required")
	case b.URL != "":
		if msg := checkBaseURL(b.URL); msg != "" {
			bad("url", "%s", msg)
		}
	}
	if missing("token", b.Token) {
		bad("token", "is required")
	}
	if missing("webhook_secret", b.WebhookSecret) {
		bad("webhook_secret", "is required")
	}
	if b.MaxConcurrency < 0 {
		bad("max_concurrency", "must not be negative (0 means the default, %d)", DefaultMaxConcurrency)
	}
	if b.Rate < 0 {
		bad("rate", "must not be negative (0 means none: the pace is learned from the API's 429 answers)")
	}
	if b.RateLimit < 0 {
		bad("rate_limit", "must not be negative")
	}
	if b.Rate > 0 && b.RateLimit > 0 {
		bad("rate_limit", "is the older name of rate: set only rate")
	}
	if b.Burst < 0 {
		bad("burst", "must not be negative")
	}
	if b.Timeout != "" {
		if d, err := time.ParseDuration(b.Timeout); err != nil || d <= 0 {
			bad("timeout", "must be a positive Go duration such as 15s, got %q", b.Timeout)
		}
	}
	for _, key := range require {
		switch key {
		case "name", "type", "url", "token", "webhook_secret":
		default:
			bad(key, "cannot be required through connectors.Base: not one of its string keys")
		}
	}
	return errs
}

// checkBaseURL returns why v cannot be an adapter's base URL, or "".
func checkBaseURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http(s) URL, e.g. https://api.example.com"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "must not carry a query or fragment"
	}
	return ""
}
