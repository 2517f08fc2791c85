package config

import (
	"strconv"
	"strings"
)

// Key paths name a value in messages the way one would point at it in the
// file: tenants[0].connectors[1].url, groups["Design Team"][0].role.

// parentPath strips the last segment of a key path: "a.b[2]" -> "a.b" -> "a" -> "".
func parentPath(p string) string {
	last, quoted := 0, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if quoted {
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
			continue
		}
		switch c {
		case '"':
			quoted = true
		case '.', '[':
			last = i
		}
	}
	return p[:last]
}

// fieldPath joins a struct key to a path: "tenants[0]" + "id" -> "tenants[0].id".
func fieldPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapKeyPath joins a map key to a path: `groups` + `Design Team` -> `groups["Design Team"]`.
func mapKeyPath(path, key string) string { return path + "[" + strconv.Quote(key) + "]" }

// indexPath joins a list index to a path: "tenants" + 2 -> "tenants[2]".
func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// anyKeyPath joins a key of a mapping whose Go type is unknown: as a field
// when it looks like an identifier, else quoted.
func anyKeyPath(path, key string) string {
	if isPlainKey(key) {
		return fieldPath(path, key)
	}
	return mapKeyPath(path, key)
}

// isPlainKey reports whether key is a letter or _ followed by letters, digits, _ or -.
func isPlainKey(key string) bool {
	for i, c := range key {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || (c != '-' && (c < '0' || c > '9'))) {
			return false
		}
	}
	return key != ""
}

// tenantPath returns the "tenants[N]" prefix of a key path below a tenant, or "".
func tenantPath(path string) string {
	if !strings.HasPrefix(path, "tenants[") {
		return ""
	}
	end := strings.IndexByte(path, ']')
	return path[:end+1]
}

// keySegment is one step of a key path: a name or an index.
type keySegment struct {
	name    string
	index   int
	isIndex bool
}

// parseKey splits `a.b["c d"][0].e` into segments; it stops at the first
// malformed part and returns what it parsed. `[*]` is the index -1.
func parseKey(key string) []keySegment {
	var segs []keySegment
	for i := 0; i < len(key); {
		switch key[i] {
		case '.':
			i++
		case '[':
			rest := key[i+1:]
			if strings.HasPrefix(rest, `"`) {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil || !strings.HasPrefix(rest[len(q):], "]") {
					return segs
				}
				name, _ := strconv.Unquote(q)
				segs = append(segs, keySegment{name: name})
				i += 1 + len(q) + 1
				continue
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return segs
			}
			inner := strings.Trim(rest[:end], `'`)
			if idx, err := strconv.Atoi(inner); err == nil && idx >= 0 {
				segs = append(segs, keySegment{index: idx, isIndex: true})
			} else if inner == "*" {
				segs = append(segs, keySegment{index: -1, isIndex: true})
			} else {
				segs = append(segs, keySegment{name: inner})
			}
			i += 1 + end + 1
		default:
			end := strings.IndexAny(key[i:], ".[")
			if end < 0 {
				end = len(key) - i
			}
			segs = append(segs, keySegment{name: key[i : i+end]})
			i += end
		}
	}
	return segs
}
