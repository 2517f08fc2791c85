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
	"gopkg.in/yaml.v3"
)

// MinTokenLength is the shortest bearer token accepted (SCIM tokens and the admin token).
const MinTokenLength = 16

// configIDPattern is the shape of tenant ids and connector names: they become Redis
// hash tags and URL path segments.
var configIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

const configIDRule = "must be 1 to 64 letters, digits, '.', '_' or '-'"

var configLogLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}

// validate checks the decoded configuration (defaults applied).
func (l *configLoader) validate(c *Config) {
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		l.fail("listen", "must be host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)")
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		l.fail("listen", "the port must be a number from 0 to 65535")
	} else if strings.ContainsAny(host, " /") {
		l.fail("listen", "must be host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)")
	}
	l.validateRedis(c.Redis)
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			l.fail("public_url", "must be an absolute http(s) URL, e.g. https://scim.example.com/scim/v2")
		case u.User != nil:
			l.fail("public_url", "must not contain credentials")
		case u.RawQuery != "" || u.Fragment != "":
			l.fail("public_url", "must not have a query or a fragment")
		}
	}
	if c.MaxBodyBytes < 0 {
		l.fail("max_body_bytes", "must be positive (0 means the default, 1048576)")
	}
	if c.MaxResults < 0 {
		l.fail("max_results", "must be positive (0 means the default, 1000)")
	}
	if c.Workers < 0 {
		l.fail("workers", "must be positive (0 means the default, 32)")
	}
	if !slices.Contains(configLogLevels, c.Log.Level) {
		l.fail("log.level", "must be one of "+strings.Join(configLogLevels, ", "))
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		l.fail("log.format", "must be json or console")
	}
	if c.AdminToken != "" {
		l.addSecret(c.AdminToken, 1)
		l.checkToken("admin_token", c.AdminToken)
	}
	l.validateTenants(c)
}

func (l *configLoader) validateRedis(raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		l.fail("redis", "must be a URL: redis://[user:password@]host:port[/db], rediss://... or unix:///path/to/socket (empty: embedded store)")
		return
	}
	if p, ok := u.User.Password(); ok {
		l.addSecret(p, 1)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
		l.fail("redis", "the scheme must be redis://, rediss:// or unix:// (empty: embedded store)")
		return
	}
	if err := store.CheckURL(raw); err != nil {
		// go-redis messages may quote parts of the URL; say what is expected instead.
		l.fail("redis", "is not a valid Redis URL: redis://[user:password@]host:port[/db][?options], with ?addr=host2:port&addr=... for a cluster or ?master_name=M&addr=... for Sentinel; rediss://... or unix:///path/to/socket")
	}
}

// checkToken applies the rules every bearer token follows; messages never quote it.
func (l *configLoader) checkToken(path, tok string) bool {
	switch {
	case strings.TrimSpace(tok) == "":
		l.fail(path, "must not be empty")
	case strings.TrimSpace(tok) != tok:
		l.fail(path, "must not start or end with white space")
	case utf8.RuneCountInString(tok) < MinTokenLength:
		l.fail(path, fmt.Sprintf("is too short: a token needs at least %d characters", MinTokenLength))
	default:
		return true
	}
	return false
}

// checkID applies the tenant id / connector name rules to the value at path.
func (l *configLoader) checkID(path, id string) bool {
	switch {
	case id == "":
		l.fail(path, "is required")
	case !configIDPattern.MatchString(id):
		l.fail(path, configIDRule)
	case id == "." || id == "..":
		l.fail(path, `must not be "." or ".."`)
	default:
		return true
	}
	return false
}

func (l *configLoader) validateTenants(c *Config) {
	type owner struct {
		tenant int
		path   string
	}
	tenantIDs := map[string]string{} // lower-case id -> path of its first use
	tokens := map[string]owner{}     // token -> first use
	for i := range c.Tenants {
		t := &c.Tenants[i]
		tp := indexPath("tenants", i)
		idPath := fieldPath(tp, "id")
		if l.checkID(idPath, t.ID) {
			key := strings.ToLower(t.ID)
			if first, dup := tenantIDs[key]; dup {
				l.fail(idPath, fmt.Sprintf("duplicate tenant id %s (first at line %d; ids are compared ignoring case)", l.show(idPath, t.ID), l.lineOf(first)))
			} else {
				tenantIDs[key] = idPath
			}
		}
		tokPath := fieldPath(tp, "scim_tokens")
		if len(t.SCIMTokens) == 0 {
			l.fail(tokPath, "at least one token is required (the bearer token this tenant's IdP sends)")
		}
		for j, tok := range t.SCIMTokens {
			l.addSecret(tok, 1)
			p := indexPath(tokPath, j)
			if !l.checkToken(p, tok) {
				continue
			}
			first, dup := tokens[tok]
			switch {
			case !dup:
				tokens[tok] = owner{tenant: i, path: p}
			case first.tenant == i:
				l.fail(p, fmt.Sprintf("duplicate token (also at line %d)", l.lineOf(first.path)))
			default:
				l.fail(p, fmt.Sprintf("this token is also a token of tenant %s (line %d); a token must resolve to exactly one tenant",
					l.show(fieldPath(indexPath("tenants", first.tenant), "id"), c.Tenants[first.tenant].ID), l.lineOf(first.path)))
			}
		}
		if t.DeletionThreshold < 0 {
			l.fail(fieldPath(tp, "deletion_threshold"), "must be positive (0 means the default, 500)")
		}
		names := map[string]string{}
		for j := range t.Connectors {
			entry := indexPath(fieldPath(tp, "connectors"), j)
			if n := l.nodes[entry]; n == nil || n.Kind != yaml.MappingNode {
				continue // reported by the decoder
			}
			namePath := fieldPath(entry, "name")
			name := t.Connectors[j].Name
			if !l.checkID(namePath, name) {
				continue
			}
			key := strings.ToLower(name)
			if first, dup := names[key]; dup {
				l.fail(namePath, fmt.Sprintf("duplicate connector name %s in this tenant (first at line %d; names are compared ignoring case)", l.show(namePath, name), l.lineOf(first)))
			} else {
				names[key] = namePath
			}
		}
	}
	if c.AdminToken != "" {
		if first, ok := tokens[c.AdminToken]; ok {
			l.fail("admin_token", fmt.Sprintf("must differ from every SCIM token (it equals one at line %d)", l.lineOf(first.path)))
		}
	}
}
