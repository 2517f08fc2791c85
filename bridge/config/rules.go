package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
		{"bulk_max_operations", notNegative, positive(DefaultBulkMaxOperations)},
		{"bulk_max_payload_bytes", notNegative, positive(DefaultBulkMaxPayloadBytes)},
		{"cursor_timeout", notNegative, "must be positive (0 means the default, 1h)"},
		{"cursor_secret", optional(text(func(s string) bool { return len(s) >= MinTokenLength })), fmt.Sprintf("is too short: the secret needs at least %d characters", MinTokenLength)},
		{"location_proxies[*]", text(isPrefix), "must be an IP address or a CIDR prefix such as 10.0.0.0/8"},
		{"settle_max", notShorterThan("settle"), "must not be shorter than settle"},

		{"auth_limit.max_failures", notNegative, positive(DefaultAuthMaxFailures)},
		{"auth_limit.window", notNegative, "must be positive (0 means the default, 1m)"},
		{"auth_limit.exempt[*]", text(isPrefix), "must be an IP address or a CIDR prefix such as 20.190.128.0/18"},
		{"auth_limit.trusted_proxies[*]", text(isPrefix), "must be an IP address or a CIDR prefix such as 10.0.0.0/8"},

		{"log.level", oneOf(logLevels...), "must be one of " + strings.Join(logLevels, ", ")},
		{"log.format", oneOf("json", "console"), "must be json or console"},

		{"audit.max_len", notNegative, positive(DefaultAuditMaxLen)},
		{"audit.max_age", notNegative, "must not be negative (0 keeps entries until max_len)"},

		{"tenants[*].id", required, "is required"},
		{"tenants[*].id", text(idPattern.MatchString), msgIDRule},
		{"tenants[*].id", notDots, `must not be "." or ".."`},
		{"tenants[*].id", distinct(tenantIDs, anywhere), "duplicate tenant id {value} (first at line {line}; ids are compared ignoring case)"},
		{"tenants[*].deletion_threshold", notNegative, positive(DefaultDeletionThreshold)},
		{"tenants[*].settle_max", notShorterThan("settle"), "must not be shorter than settle (this tenant's, or the top-level one)"},
		{"tenants[*].connectors[*].name", required, "is required"},
		{"tenants[*].connectors[*].name", text(idPattern.MatchString), msgIDRule},
		{"tenants[*].connectors[*].name", notDots, `must not be "." or ".."`},
		{"tenants[*].connectors[*].name", distinct(connectorNames, anywhere), "duplicate connector name {value} in this tenant (first at line {line}; names are compared ignoring case)"},
	}
}

// Messages shared by several rules.
const (
	msgListen = "must be host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)"
	msgIDRule = "must be 1 to 64 letters, digits, '.', '_' or '-'"
)

// idPattern is the shape of tenant ids and connector names: they become Redis
// hash tags and URL path segments.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

var logLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}

// Sets of keys whose values must differ.
var (
	tenantIDs      = set{name: "tenant ids", fold: true}
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
	required    = text(func(s string) bool { return s != "" })
	notDots     = text(func(s string) bool { return s != "." && s != ".." })
	notNegative = check(func(v *value) bool { return v.v.Int() >= 0 })
	hostPort    = text(func(s string) bool { _, _, err := net.SplitHostPort(s); return err == nil })
	portNumber  = text(func(s string) bool {
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

// notShorterThan accepts a duration at least as long as the sibling key's.
func notShorterThan(sibling string) check {
	return func(v *value) bool {
		p := sibling
		if i := strings.LastIndexByte(v.path, '.'); i >= 0 {
			p = v.path[:i+1] + sibling
		}
		o := v.run.lookup(p)
		return !o.IsValid() || v.v.Int() >= o.Int()
	}
}

// isPrefix accepts an IP address or a CIDR prefix.
func isPrefix(s string) bool { _, ok := parsePrefix(s); return ok }

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

// Clash rules of distinct.
func anywhere(_, _ string) bool { return true }
