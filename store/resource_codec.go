package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
)

// encodedDoc is a resource as the write scripts receive it.
type encodedDoc struct {
	ix    string // index values line (see resource_scripts.go)
	attrs string // JSON of the attributes (a group's without "members")
	// members is the document's fourth line: for a group "=" when its
	// "members" attribute is present (else ""); for a user its display as a
	// JSON string (see userDisplay), read by the member scripts.
	members    string
	entries    []string // a group's member entries "<id>\0<Kind>\0<display>", one per id
	display    string   // a group's displayName as given
	uniqueName string   // lower-cased userName (user) or displayName (group); "" = none
	externalID string   // case-exact; "" = none
	emails     []string // a user's lower-cased emails.value, sorted, distinct
}

// encodeDoc splits r into what the scripts store. Attribute values are encoded
// with encoding/json; index values and member entries are derived here so the
// scripts never parse attributes.
func encodeDoc(r *Resource) (encodedDoc, error) {
	var d encodedDoc
	attrs := r.Attrs
	switch r.Kind {
	case KindUser:
		if _, ok := attrs["groups"]; ok { // derived, never stored
			attrs = withoutKey(attrs, "groups")
		}
		d.uniqueName = strings.ToLower(stringAttr(r.Attrs, "userName"))
		d.emails = emailsOf(r.Attrs)
		d.members = string(AppendJSONString(nil, userDisplay(r.Attrs)))
	case KindGroup:
		if members, ok := attrs["members"]; ok {
			attrs = withoutKey(attrs, "members")
			d.members = "="
			ms, err := membersOf(members)
			if err != nil {
				return d, fmt.Errorf("encode group %s: %w", r.ID, err)
			}
			d.entries = make([]string, len(ms))
			for i, m := range ms {
				d.entries[i] = m.entry()
			}
		}
		d.display = stringAttr(r.Attrs, "displayName")
		d.uniqueName = strings.ToLower(d.display)
	}
	d.externalID = stringAttr(r.Attrs, "externalId")
	d.ix = encodeIndexLine(d.uniqueName, d.externalID, d.emails)
	if attrs == nil {
		attrs = map[string]any{}
	}
	a, err := marshalAttrs(attrs)
	if err != nil {
		return d, fmt.Errorf("encode %s %s attributes: %w", r.Kind, r.ID, err)
	}
	d.attrs = a
	return d, nil
}

// encodeIndexLine writes the index values line, a JSON array of strings.
func encodeIndexLine(uniqueName, externalID string, emails []string) string {
	n := len(uniqueName) + len(externalID) + 8
	for _, e := range emails {
		n += len(e) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	b = AppendJSONString(b, uniqueName)
	b = append(b, ',')
	b = AppendJSONString(b, externalID)
	for _, e := range emails {
		b = append(b, ',')
		b = AppendJSONString(b, e)
	}
	b = append(b, ']')
	return string(b)
}

// membersOf reads a group's "members" attribute: one Member per distinct
// value (the first wins), its kind from "type" ("Group" in any case, else
// User, RFC 7643 §4.2).
func membersOf(v any) ([]Member, error) {
	var out []Member
	seen := make(map[string]bool)
	for _, m := range complexValues(v) {
		id := stringAttr(m, "value")
		if id == "" || seen[id] {
			continue
		}
		if strings.ContainsRune(id, 0) {
			return nil, fmt.Errorf("invalid member id %q", id)
		}
		seen[id] = true
		kind := KindUser
		if strings.EqualFold(stringAttr(m, "type"), "group") {
			kind = KindGroup
		}
		out = append(out, Member{ID: id, Kind: kind, Display: stringAttr(m, "display")})
	}
	return out, nil
}

// decodedDoc is a stored document read back.
type decodedDoc struct {
	r   *Resource
	seq int64
	// setMembers: the group's members attribute is present and its members are
	// in the members set (not yet in r.Attrs).
	setMembers bool
}

// decodeDoc builds a resource from its stored document (see resource_scripts.go
// for the format) with dec, which may be reused for the next document. A group
// of the former layout gets its members from the document; one of the current
// layout gets none (setMembers tells whether the set must be read).
func decodeDoc(dec *filter.JSONDecoder, kind Kind, id, doc string) (decodedDoc, error) {
	header, body, ok := strings.Cut(doc, "\n")
	if !ok {
		return decodedDoc{}, fmt.Errorf("decode %s %s: no header", kind, id)
	}
	var nums [4]int64
	for i := range nums {
		var field string
		var err error
		field, header, _ = strings.Cut(header, " ")
		if nums[i], err = strconv.ParseInt(field, 10, 64); err != nil {
			return decodedDoc{}, fmt.Errorf("decode %s %s header: %w", kind, id, err)
		}
	}
	r := &Resource{
		ID: id, Kind: kind, Version: nums[0],
		Created:      time.Unix(0, nums[1]).UTC(),
		LastModified: time.Unix(0, nums[2]).UTC(),
	}
	out := decodedDoc{r: r, seq: nums[3]}
	_, body, ok = strings.Cut(body, "\n") // index values: for the scripts
	if !ok {
		return decodedDoc{}, fmt.Errorf("decode %s %s: no attributes", kind, id)
	}
	attrs, members, hasMembers := strings.Cut(body, "\n")
	var err error
	if r.Attrs, err = dec.DecodeObject(attrs); err != nil {
		return decodedDoc{}, fmt.Errorf("decode %s %s attributes: %w", kind, id, err)
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	switch {
	case !hasMembers || kind == KindUser: // a user's fourth line is its display
	case members == "=":
		out.setMembers = true
	default: // the former layout: the members JSON
		m, err := dec.DecodeArray(members)
		if err != nil {
			return decodedDoc{}, fmt.Errorf("decode %s %s members: %w", kind, id, err)
		}
		if m == nil {
			m = []any{}
		}
		r.Attrs["members"] = m
	}
	return out, nil
}

// userDisplay is what a group shows as the "display" of a user member (RFC
// 7643 §4.2): its displayName, else its userName.
func userDisplay(attrs map[string]any) string {
	if d := stringAttr(attrs, "displayName"); d != "" {
		return d
	}
	return stringAttr(attrs, "userName")
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
