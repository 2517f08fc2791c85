package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// encodedDoc is a resource as the write scripts receive it.
type encodedDoc struct {
	ix         string   // index values line (see resource_scripts.go)
	attrs      string   // JSON of the attributes (a group's without "members")
	members    string   // JSON of a group's "members"; "" when the attribute is absent
	display    string   // a group's displayName as given
	uniqueName string   // lower-cased userName (user) or displayName (group); "" = none
	externalID string   // case-exact; "" = none
	emails     []string // a user's lower-cased emails.value, sorted, distinct
}

// encodeDoc splits r into what the scripts store. Attribute values are encoded
// with encoding/json; index values are derived here so the scripts never parse
// attributes (a group's member entries excepted, see entriesOf in the scripts).
func encodeDoc(r *Resource) (encodedDoc, error) {
	var d encodedDoc
	attrs := r.Attrs
	var members any
	hasMembers := false
	switch r.Kind {
	case KindUser:
		if _, ok := attrs["groups"]; ok { // derived, never stored
			attrs = withoutKey(attrs, "groups")
		}
		d.uniqueName = strings.ToLower(stringAttr(r.Attrs, "userName"))
		d.emails = emailsOf(r.Attrs)
	case KindGroup:
		members, hasMembers = attrs["members"]
		if hasMembers {
			attrs = withoutKey(attrs, "members")
		}
		d.display = stringAttr(r.Attrs, "displayName")
		d.uniqueName = strings.ToLower(d.display)
	}
	d.externalID = stringAttr(r.Attrs, "externalId")
	ix, err := json.Marshal(append([]string{d.uniqueName, d.externalID}, d.emails...))
	if err != nil {
		return d, fmt.Errorf("encode %s %s index values: %w", r.Kind, r.ID, err)
	}
	d.ix = string(ix)
	if attrs == nil {
		attrs = map[string]any{}
	}
	a, err := json.Marshal(attrs)
	if err != nil {
		return d, fmt.Errorf("encode %s %s attributes: %w", r.Kind, r.ID, err)
	}
	d.attrs = string(a)
	if hasMembers {
		if members == nil {
			members = []any{}
		}
		m, err := json.Marshal(members)
		if err != nil {
			return d, fmt.Errorf("encode %s %s members: %w", r.Kind, r.ID, err)
		}
		d.members = string(m)
	}
	return d, nil
}

// decodeDoc builds a resource from its stored document (see resource_scripts.go
// for the format) with dec, which may be reused for the next document.
func decodeDoc(dec *jsonDecoder, kind Kind, id, doc string) (r *Resource, seq int64, err error) {
	header, body, ok := strings.Cut(doc, "\n")
	if !ok {
		return nil, 0, fmt.Errorf("decode %s %s: no header", kind, id)
	}
	var nums [4]int64
	for i := range nums {
		var field string
		field, header, _ = strings.Cut(header, " ")
		if nums[i], err = strconv.ParseInt(field, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("decode %s %s header: %w", kind, id, err)
		}
	}
	r = &Resource{
		ID: id, Kind: kind, Version: nums[0],
		Created:      time.Unix(0, nums[1]).UTC(),
		LastModified: time.Unix(0, nums[2]).UTC(),
	}
	_, body, ok = strings.Cut(body, "\n") // index values: for the scripts
	if !ok {
		return nil, 0, fmt.Errorf("decode %s %s: no attributes", kind, id)
	}
	attrs, members, hasMembers := strings.Cut(body, "\n")
	if r.Attrs, err = dec.decodeObject(attrs); err != nil {
		return nil, 0, fmt.Errorf("decode %s %s attributes: %w", kind, id, err)
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	if hasMembers {
		m, err := dec.decodeArray(members)
		if err != nil {
			return nil, 0, fmt.Errorf("decode %s %s members: %w", kind, id, err)
		}
		if m == nil {
			m = []any{}
		}
		r.Attrs["members"] = m
	}
	return r, nums[3], nil
}

// withoutKey returns a shallow copy of m without k.
func withoutKey(m map[string]any, k string) map[string]any {
	out := make(map[string]any, len(m))
	for key, v := range m {
		if key != k {
			out[key] = v
		}
	}
	return out
}

// stringAttr returns m[k] when it is a string, else "".
func stringAttr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// complexValues returns the maps of a multi-valued complex attribute, whatever
// Go shape the caller used ([]any of maps, or []map[string]any).
func complexValues(v any) []map[string]any {
	switch vs := v.(type) {
	case []map[string]any:
		return vs
	case []any:
		out := make([]map[string]any, 0, len(vs))
		for _, x := range vs {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// emailsOf returns a user's lower-cased emails.value, sorted and de-duplicated.
func emailsOf(attrs map[string]any) []string {
	var out []string
	for _, m := range complexValues(attrs["emails"]) {
		if v := stringAttr(m, "value"); v != "" {
			out = append(out, strings.ToLower(v))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
