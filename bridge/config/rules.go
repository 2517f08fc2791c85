package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/store"
)

// rules are the checks of the configuration, in the order they are tried.
// A new key gets its rules here: one line per thing that must hold, with the
// message an operator reads at that key (validate.go runs them).
func rules() []rule {
	positive := func(def int) string { return fmt.Sprintf("must be positive (0 means the default, %d)", def) }
	return []rule{
		{"listen", hostPort, msgListen},
		{"listen", portNumber, "the port must be a number from 0 to 65535"},
		{"listen", text(func(s string) bool { host, _, _ := net.SplitHostPort(s); return !strings.ContainsAny(host, " /") }), msgListen},

		{"redis", optional(parsesAsURL), "must be a URL: redis://[user:password@]host:port[/db], rediss://... or unix:///path/to/socket (empty: embedded store)"},
		{"redis", optional(urlScheme("redis", "rediss", "unix")), "the scheme must be redis://, rediss:// or unix:// (empty: embedded store)"},
		// store.CheckURL's messages may quote parts of the URL: say what is expected instead.
		{"redis", optional(text(func(s string) bool { return store.CheckURL(s) == nil })), "is not a valid Redis URL: redis://[user:password@]host:port[/db][?options], with ?addr=host2:port&addr=... for a cluster or ?master_name=M&addr=... for Sentinel; rediss://... or unix:///path/to/socket"},

		{"public_url", optional(absoluteHTTP), "must be an absolute http(s) URL, e.g. https://scim.example.com/scim/v2"},
		{"public_url", optional(urlWithout(func(u *url.URL) bool { return u.User != nil })), "must not contain credentials"},
		{"public_url", optional(urlWithout(func(u *url.URL) bool { return u.RawQuery != "" || u.Fragment != "" })), "must not have a query or a fragment"},

		{"max_body_bytes", notNegative, positive(DefaultMaxBodyBytes)},
		{"max_results", notNegative, positive(DefaultMaxResults)},
		{"workers", notNegative, positive(DefaultWorkers)},
		{"max_concurrent_requests", notNegative, positive(DefaultMaxConcurrentRequests)},

		{"log.level", oneOf(logLevels...), "must be one of " + strings.Join(logLevels, ", ")},
		{"log.format", oneOf("json", "console"), "must be json or console"},

		{"admin_token", optional(notBlank), "must not be empty"},
		{"admin_token", optional(trimmed), "must not start or end with white space"},
		{"admin_token", optional(longToken), msgShort},

		{"tenants[*].id", required, "is required"},
		{"tenants[*].id", text(idPattern.MatchString), msgIDRule},
		{"tenants[*].id", notDots, `must not be "." or ".."`},
		{"tenants[*].id", distinct(tenantIDs, anywhere), "duplicate tenant id {value} (first at line {line}; ids are compared ignoring case)"},
		{"tenants[*].scim_tokens", notEmptyList, "at least one token is required (the bearer token this tenant's IdP sends)"},
		{"tenants[*].scim_tokens[*]", notBlank, "must not be empty"},
		{"tenants[*].scim_tokens[*]", trimmed, "must not start or end with white space"},
		{"tenants[*].scim_tokens[*]", longToken, msgShort},
		{"tenants[*].scim_tokens[*]", distinct(scimTokens, otherTenant), "this token is also a token of tenant {tenant} (line {line}); a token must resolve to exactly one tenant"},
		{"tenants[*].scim_tokens[*]", distinct(scimTokens, sameTenant), "duplicate token (also at line {line})"},
		{"tenants[*].deletion_threshold", notNegative, positive(DefaultDeletionThreshold)},
		{"tenants[*].connectors[*].name", required, "is required"},
		{"tenants[*].connectors[*].name", text(idPattern.MatchString), msgIDRule},
		{"tenants[*].connectors[*].name", notDots, `must not be "." or ".."`},
		{"tenants[*].connectors[*].name", distinct(connectorNames, anywhere), "duplicate connector name {value} in this tenant (first at line {line}; names are compared ignoring case)"},

		// After the tenants: it needs every SCIM token seen.
		{"admin_token", optional(notIn(scimTokens)), "must differ from every SCIM token (it equals one at line {line})"},
	}
}

// Messages shared by several rules.
const (
	msgListen = "must be host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)"
	msgIDRule = "must be 1 to 64 letters, digits, '.', '_' or '-'"
)

var msgShort = fmt.Sprintf("is too short: a token needs at least %d characters", MinTokenLength)

// idPattern is the shape of tenant ids and connector names: they become Redis
// hash tags and URL path segments.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

var logLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}

// Sets of keys whose values must differ.
var (
	tenantIDs      = set{name: "tenant ids", fold: true}
	scimTokens     = set{name: "SCIM tokens"}
	connectorNames = set{name: "connector names", fold: true, perTenant: true}
)

// text adapts a test of a string to a check.
func text(ok func(string) bool) check { return func(v *value) bool { return ok(v.v.String()) } }

// optional passes a zero value (absent, empty, 0) and checks the others.
func optional(c check) check { return func(v *value) bool { return v.v.IsZero() || c(v) } }

// oneOf accepts the listed strings.
func oneOf(allowed ...string) check {
	return text(func(s string) bool { return slices.Contains(allowed, s) })
}

var (
	required     = text(func(s string) bool { return s != "" })
	notBlank     = text(func(s string) bool { return strings.TrimSpace(s) != "" })
	trimmed      = text(func(s string) bool { return strings.TrimSpace(s) == s })
	longToken    = text(func(s string) bool { return utf8.RuneCountInString(s) >= MinTokenLength })
	notDots      = text(func(s string) bool { return s != "." && s != ".." })
	notNegative  = check(func(v *value) bool { return v.v.Int() >= 0 })
	notEmptyList = check(func(v *value) bool { return v.v.Len() > 0 })
	hostPort     = text(func(s string) bool { _, _, err := net.SplitHostPort(s); return err == nil })
	portNumber   = text(func(s string) bool {
		_, port, _ := net.SplitHostPort(s)
		_, err := strconv.ParseUint(port, 10, 16)
		return err == nil
	})
	parsesAsURL  = text(func(s string) bool { _, err := url.Parse(s); return err == nil })
	absoluteHTTP = text(func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	})
)

// urlScheme accepts URLs of the given schemes.
func urlScheme(schemes ...string) check {
	return text(func(s string) bool { u, err := url.Parse(s); return err == nil && slices.Contains(schemes, u.Scheme) })
}

// urlWithout accepts URLs for which bad is false.
func urlWithout(bad func(*url.URL) bool) check {
	return text(func(s string) bool { u, err := url.Parse(s); return err == nil && !bad(u) })
}

// distinct fails when an earlier key of s holds the same value and clash says
// the two keys conflict; the message's {line} and {tenant} are that key's.
func distinct(s set, clash func(self, first string) bool) check {
	return func(v *value) bool {
		first, seen := v.run.first(s, v, true)
		if !seen || first == v.path || !clash(v.path, first) {
			return true
		}
		v.other = first
		return false
	}
}

// notIn fails when a key of s holds the same value.
func notIn(s set) check {
	return func(v *value) bool {
		first, seen := v.run.first(s, v, false)
		v.other = first
		return !seen
	}
}

// Clash rules of distinct.
func anywhere(_, _ string) bool           { return true }
func sameTenant(self, first string) bool  { return tenantPath(self) == tenantPath(first) }
func otherTenant(self, first string) bool { return tenantPath(self) != tenantPath(first) }
