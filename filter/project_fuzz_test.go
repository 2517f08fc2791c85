package filter

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/elimity-com/scim/schema"
)

// hiddenURN is an extension declaring returned never and request attributes
// and sub-attributes, as a tenant may.
const hiddenURN = "urn:example:scim:schemas:extension:hidden:1.0:User"

// hiddenRS is the core User with the enterprise extension and hiddenURN.
func hiddenRS(tb testing.TB) *ResourceSchema {
	tb.Helper()
	ext, err := Extension{ID: hiddenURN, Name: "Hidden", Attributes: []Attribute{
		{Name: "badge", Type: "string"},
		{Name: "pin", Type: "string", Returned: "never"},
		{Name: "clearance", Type: "string", Returned: "request"},
		{Name: "token", Type: "string", Mutability: "writeOnly"},
		{Name: "since", Type: "dateTime", Returned: "always"},
		{Name: "keys", Type: "complex", MultiValued: true, SubAttributes: []Attribute{
			{Name: "value", Type: "string", Returned: "always"},
			{Name: "secret", Type: "string", Returned: "never"},
			{Name: "scope", Type: "string", Returned: "request"},
			{Name: "label", Type: "string"},
		}},
		{Name: "desk", Type: "complex", SubAttributes: []Attribute{
			{Name: "room", Type: "string"},
			{Name: "code", Type: "string", Returned: "request"},
		}},
		{Name: "office", Type: "complex", SubAttributes: []Attribute{
			{Name: "building", Type: "string"},
			{Name: "floor", Type: "integer"},
		}},
	}}.Schema()
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreUserSchema(),
		SchemaExtension{Schema: schema.ExtensionEnterpriseUser()}, SchemaExtension{Schema: ext})
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// oddIDsRS has extension ids that differ only in case and, when nonASCII
// is set, one that is not ASCII: the case-insensitive lookup of extension
// keys must find the same one as ResourceSchema's index.
func oddIDsRS(tb testing.TB, nonASCII bool) *ResourceSchema {
	tb.Helper()
	ids := []string{"urn:example:Odd:1.0", "urn:example:odd:1.0", "urn:x"}
	if nonASCII {
		ids[2] = "urn:exämple:\u212a"
	}
	var exts []schema.Schema
	for i, id := range ids {
		e, err := Extension{ID: "urn:example:placeholder", Name: "Odd", Attributes: []Attribute{
			{Name: "a", Type: "string", Returned: []string{"default", "never", "request"}[i]},
			{Name: "b", Type: "complex", SubAttributes: []Attribute{{Name: "c", Type: "string"}}},
		}}.Schema()
		if err != nil {
			tb.Fatal(err)
		}
		e.ID = id
		exts = append(exts, e)
	}
	return NewResourceSchema(schema.CoreUserSchema(), exts...)
}

// projectSeeds are views for FuzzProjectDefaultEquivalence besides the
// Okta, Entra and RFC ones: what the default projection removes or copies.
var projectSeeds = []string{
	`{}`,
	`{"id":"1","password":"p","userName":"u","emails":[],"name":{},"phoneNumbers":null,"x-unknown":{"a":[]}}`,
	`{"id":"1","name":null,"emails":[{},{"value":"a@b"},null,"bare",[]],"addresses":{"locality":"x"},"groups":[{"value":"g","$ref":"r"}]}`,
	`{"schemas":[],"meta":{"created":"x","unknown":{}},"x509Certificates":[{"value":"AAEC","primary":true,"extra":[1,{"a":null}]}]}`,
	`{"` + enterpriseURN + `":{}, "urn:unknown:ext":{"a":1}}`,
	`{"` + enterpriseURN + `":"flat"}`,
	`{"` + enterpriseURN + `":{"EmployeeNumber":"7","manager":{"value":"m","$ref":"r","displayName":"d"},"other":null}}`,
	`{"` + enterpriseURN + `":{"manager":{},"costCenter":null}}`,
	`{"` + strings.ToUpper(enterpriseURN) + `":{"manager":{"value":"m"},"division":["a"]}}`,
	`{"` + hiddenURN + `":{"badge":"b","since":"2026-01-01T00:00:00Z","keys":[{"value":"k","label":"l"}],"desk":{"room":"r"},"office":{"building":"B","floor":3}}}`,
	`{"` + hiddenURN + `":{"badge":"b","pin":"1234","clearance":"top","token":"t","keys":[{"value":"k","secret":"s","scope":"x"},{"secret":"s"}],"desk":{"code":"c"}}}`,
	`{"` + hiddenURN + `":{"pin":"1234"},"userName":"u"}`,
	`{"` + hiddenURN + `":{"badge":"b","keys":[{"value":"k","label":"l"},{"value":"k2","scope":"x"}]}}`,
	`{"` + hiddenURN + `":{"desk":{"room":"r","code":"c"}}}`,
	`{"` + hiddenURN + `":{"keys":[{"secret":"s"}]}}`,
	`{"` + hiddenURN + `":{"KEYS":[{"VALUE":"k","Secret":"s"}],"Office":{}}}`,
	`{"id":"g","displayName":"Tour Guides","members":[{"value":"u1","display":"B","type":"User","$ref":"r"},{}],"meta":{"resourceType":"Group"}}`,
	`{"id":"w","secret":"s","label":"l","sizes":[1,2],"enabled":true,"blob":null}`,
	`{"urn:\u0130etf:params:scim:schemas:extension:enterprise:2.0:User":{"division":"d"},"userName":"u"}`,
	`{"urn:example:ODD:1.0":{"a":"x","b":{"c":"y"}},"urn:example:Odd:1.0":{"b":{"c":"z"}},"URN:X":{"a":"1"},"urn:x":{"b":{}}}`,
	`{"urn:ex\u00c4mple:\u212a":{"a":"x"},"urn:exämple:k":{"b":{"c":"y"}},"urn:\u212a":{"a":"1"},"\u212a":{"a":"2"}}`,
	`{"urn:example:odd:1.0":{"a":"x","A":"y"},"urn:x":{"a":"1","b":{"c":"y","C":"z"}}}`,
}

// projectShapes turns some values of a decoded view into Go shapes JSON
// does not produce but a caller may hand Project: bit 0 makes empty maps
// nil, bit 1 empty lists nil, bit 2 lists of strings []string, bit 3 lists
// of objects []map[string]any.
func projectShapes(v any, shape uint8) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && shape&1 != 0 {
			return map[string]any(nil)
		}
		for k, e := range x {
			x[k] = projectShapes(e, shape)
		}
		return x
	case []any:
		if len(x) == 0 && shape&2 != 0 {
			return []any(nil)
		}
		var strs []string
		var maps []map[string]any
		for i, e := range x {
			x[i] = projectShapes(e, shape)
			if s, ok := x[i].(string); ok {
				strs = append(strs, s)
			}
			if m, ok := x[i].(map[string]any); ok {
				maps = append(maps, m)
			}
		}
		switch {
		case len(strs) == len(x) && shape&4 != 0:
			return strs
		case len(maps) == len(x) && shape&8 != 0:
			return maps
		}
		return x
	}
	return v
}

// ambiguousExts lists the extension keys of res holding two keys for one
// attribute (employeeNumber and EmployeeNumber): the projection keeps one
// of them under the canonical name, whichever map iteration gives last, so
// two runs of the same implementation may differ there.
func ambiguousExts(rs *ResourceSchema, res map[string]any) []string {
	var out []string
	for k, v := range res {
		e := rs.impl.ext(k)
		m, ok := v.(map[string]any)
		if e == nil || !ok {
			continue
		}
		seen := map[*attrDef]bool{}
		for ak := range m {
			if a := e.attr(ak); a != nil {
				if seen[a] {
					out = append(out, k)
					break
				}
				seen[a] = true
			}
		}
	}
	return out
}

// sameProjection fails unless got and want are deeply equal, but for the
// content of the ambiguous extension keys, which both must hold or lack.
func sameProjection(t *testing.T, what string, got, want map[string]any, ambiguous []string) {
	t.Helper()
	for _, k := range ambiguous {
		_, g := got[k]
		_, w := want[k]
		if g != w {
			t.Fatalf("%s: extension %s present %v, want %v", what, k, g, w)
		}
		got, want = maps.Clone(got), maps.Clone(want)
		delete(got, k)
		delete(want, k)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ngot  %#v\nwant %#v", what, got, want)
	}
}

// FuzzProjectDefaultEquivalence holds Project to the result of
// projectReference, the implementation that copied everything: for the
// default projection (no attributes, no excludedAttributes), which shares
// what it keeps whole, and for attributes and excludedAttributes lists. It
// also checks that Project leaves its input as it was.
func FuzzProjectDefaultEquivalence(f *testing.F) {
	schemas := []*ResourceSchema{userRS, hiddenRS(f), groupRS, widgetRS, oddIDsRS(f, false), oddIDsRS(f, true)}
	for i, view := range append([]string{oktaUserView, entraUserView, bjensenJSON, groupJSON}, projectSeeds...) {
		for pick := range uint8(len(schemas)) {
			f.Add(view, "", pick, uint8(0))
			f.Add(view, "", pick, uint8(15))
		}
		f.Add(view, "password,emails.value,"+hiddenURN+":keys.scope", uint8(i), uint8(i))
		f.Add(view, "name.givenName,"+enterpriseURN+",groups,unknown", uint8(i), uint8(15-i%16))
	}
	f.Fuzz(func(t *testing.T, view, names string, pick, shape uint8) {
		defer watchdog(view)()
		res, err := DecodeJSONObject(view)
		if err != nil {
			return
		}
		input, _ := DecodeJSONObject(view)
		res = projectShapes(res, shape).(map[string]any)
		input = projectShapes(input, shape).(map[string]any)
		rs := schemas[int(pick)%len(schemas)]
		ambiguous := ambiguousExts(rs, res)

		sameProjection(t, "default", Project(rs, res, nil, nil), projectReference(rs, input, nil, nil), ambiguous)
		sameProjection(t, "default, empty lists", Project(rs, res, []string{}, []string{}), projectReference(rs, input, nil, nil), ambiguous)
		if names != "" {
			list := strings.Split(names, ",")
			sameProjection(t, "attributes", Project(rs, res, list, nil), projectReference(rs, input, list, nil), ambiguous)
			sameProjection(t, "excludedAttributes", Project(rs, res, nil, list), projectReference(rs, input, nil, list), ambiguous)
			sameProjection(t, "both", Project(rs, res, list, list), projectReference(rs, input, list, list), ambiguous)
		}
		if !reflect.DeepEqual(res, input) {
			t.Fatalf("Project changed its input:\ngot  %#v\nwant %#v", res, input)
		}
	})
}
