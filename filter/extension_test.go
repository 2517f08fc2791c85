package filter

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/elimity-com/scim/schema"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// acmeExtension is a custom extension as an operator declares it.
var acmeExtension = Extension{
	ID:   acmeURN,
	Name: "AcmeUser",
	Attributes: []Attribute{
		{Name: "costCenterCode", Type: "string", Required: true},
		{Name: "badgeNumber", Type: "integer", Uniqueness: "server"},
		{Name: "skills", Type: "string", MultiValued: true},
		{Name: "site", Type: "complex", SubAttributes: []Attribute{
			{Name: "code", Type: "string", Required: true, CaseExact: true},
			{Name: "name", Type: "string"},
		}},
		{Name: "contractor", Type: "boolean"},
		{Name: "level", Type: "string", CanonicalValues: []string{"Junior", "Senior"}},
		{Name: "pin", Type: "string", Returned: "never", Mutability: "writeOnly"},
		{Name: "clearance", Type: "string", Returned: "request"},
		{Name: "hired", Type: "dateTime", Mutability: "immutable"},
	},
}

// acmeRS is userRS with acmeExtension attached, optional.
var acmeRS = func() *ResourceSchema {
	s, err := acmeExtension.Schema()
	if err != nil {
		panic(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreUserSchema(), SchemaExtension{Schema: schema.ExtensionEnterpriseUser()}, SchemaExtension{Schema: s})
	if err != nil {
		panic(err)
	}
	return rs
}()

func acmeSchema(t testing.TB, required bool) *ResourceSchema {
	t.Helper()
	s, err := acmeExtension.Schema()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreUserSchema(),
		SchemaExtension{Schema: schema.ExtensionEnterpriseUser()},
		SchemaExtension{Schema: s, Required: required})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestExtensionSchema(t *testing.T) {
	t.Parallel()
	s, err := acmeExtension.Schema()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var served struct {
		ID         string           `json:"id"`
		Name       string           `json:"name"`
		Attributes []map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &served); err != nil {
		t.Fatal(err)
	}
	if served.ID != acmeURN || served.Name != "AcmeUser" || len(served.Attributes) != len(acmeExtension.Attributes) {
		t.Fatalf("served schema %s", raw)
	}
	byName := map[string]map[string]any{}
	for _, a := range served.Attributes {
		byName[a["name"].(string)] = a
	}
	for _, c := range []struct{ attr, key string }{
		{"badgeNumber", "type"}, {"badgeNumber", "uniqueness"}, {"skills", "multiValued"},
		{"costCenterCode", "required"}, {"pin", "returned"}, {"pin", "mutability"}, {"level", "canonicalValues"}, {"hired", "mutability"},
	} {
		if _, ok := byName[c.attr][c.key]; !ok {
			t.Errorf("served %s has no %s: %v", c.attr, c.key, byName[c.attr])
		}
	}
	want := map[string]any{"badgeNumber.type": "integer", "badgeNumber.uniqueness": "server", "skills.multiValued": true,
		"pin.returned": "never", "costCenterCode.mutability": "readWrite", "costCenterCode.returned": "default"}
	for k, v := range want {
		attr, key, _ := strings.Cut(k, ".")
		if got := byName[attr][key]; got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	subs, _ := byName["site"]["subAttributes"].([]any)
	if len(subs) != 2 {
		t.Errorf("site sub-attributes %v", byName["site"])
	}
}

func TestExtensionDefinitionErrors(t *testing.T) {
	t.Parallel()
	with := func(f func(e *Extension)) Extension {
		e := acmeExtension
		e.Attributes = slices.Clone(e.Attributes)
		f(&e)
		return e
	}
	tests := []struct {
		name string
		ext  Extension
		path string
	}{
		{"bad id", with(func(e *Extension) { e.ID = "acme user" }), "id"},
		{"id not a URN", with(func(e *Extension) { e.ID = "https://acme.example/User" }), "id"},
		{"no name", with(func(e *Extension) { e.Name = " " }), "name"},
		{"no attributes", with(func(e *Extension) { e.Attributes = nil }), "attributes"},
		{"bad type", with(func(e *Extension) { e.Attributes[1].Type = "int" }), "attributes[1].type"},
		{"bad name", with(func(e *Extension) { e.Attributes[0].Name = "1cost" }), "attributes[0].name"},
		{"duplicate name", with(func(e *Extension) { e.Attributes[2].Name = "CostCenterCode" }), "attributes[2].name"},
		{"bad mutability", with(func(e *Extension) { e.Attributes[0].Mutability = "readonly" }), "attributes[0].mutability"},
		{"bad returned", with(func(e *Extension) { e.Attributes[0].Returned = "sometimes" }), "attributes[0].returned"},
		{"bad uniqueness", with(func(e *Extension) { e.Attributes[0].Uniqueness = "tenant" }), "attributes[0].uniqueness"},
		{"unique boolean", with(func(e *Extension) { e.Attributes[4].Uniqueness = "server" }), "attributes[4].uniqueness"},
		{"complex without sub-attributes", with(func(e *Extension) { e.Attributes[3] = Attribute{Name: "site", Type: "complex"} }), "attributes[3].subAttributes"},
		{"sub-attributes of a string", with(func(e *Extension) { e.Attributes[0].SubAttributes = []Attribute{{Name: "x", Type: "string"}} }), "attributes[0].subAttributes"},
		{"nested complex", with(func(e *Extension) {
			e.Attributes[3] = Attribute{Name: "site", Type: "complex", SubAttributes: []Attribute{{Name: "geo", Type: "complex", SubAttributes: []Attribute{{Name: "lat", Type: "decimal"}}}}}
		}), "attributes[3].subAttributes[0].type"},
		{"bad sub-attribute type", with(func(e *Extension) {
			e.Attributes[3] = Attribute{Name: "site", Type: "complex", SubAttributes: []Attribute{{Name: "code", Type: "text"}}}
		}), "attributes[3].subAttributes[0].type"},
		{"canonical values of an integer", with(func(e *Extension) { e.Attributes[1].CanonicalValues = []string{"1"} }), "attributes[1].canonicalValues"},
		{"reference types of a string", with(func(e *Extension) { e.Attributes[0].ReferenceTypes = []string{"User"} }), "attributes[0].referenceTypes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ext.Schema()
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("error %v, want a *DefinitionError", err)
			}
			if de.Path != tt.path {
				t.Errorf("path %q, want %q (%v)", de.Path, tt.path, err)
			}
		})
	}
}

func TestExtendedResourceSchemaCollisions(t *testing.T) {
	t.Parallel()
	s, err := acmeExtension.Schema()
	if err != nil {
		t.Fatal(err)
	}
	renamed := func(id string) SchemaExtension {
		c := s
		c.ID = id
		return SchemaExtension{Schema: c}
	}
	for _, exts := range [][]SchemaExtension{
		{{Schema: s}, renamed(strings.ToUpper(acmeURN))},
		{renamed(schema.UserSchema)},
		{renamed(schema.UserSchema + ":acme")},
		{{Schema: s}, renamed(acmeURN + ":More")},
		{renamed("not a urn")},
	} {
		if _, err := NewExtendedResourceSchema(schema.CoreUserSchema(), exts...); err == nil {
			t.Errorf("extensions %v accepted", exts)
		}
	}
	rs := acmeSchema(t, true)
	if got := rs.Extensions(); len(got) != 2 || got[0].Schema.ID != enterpriseURN || got[1].Schema.ID != acmeURN || got[0].Required || !got[1].Required {
		t.Errorf("Extensions() = %v", got)
	}
	if rs.Core().ID != schema.UserSchema {
		t.Errorf("Core() = %s", rs.Core().ID)
	}
}

// TestExtensionWrites: Okta sends the extension object in POST and PUT; Entra
// sends URN-qualified keys and strings for numbers and booleans.
func TestExtensionWrites(t *testing.T) {
	t.Parallel()
	rs := acmeSchema(t, false)
	tests := []struct {
		name, in, want, err string
	}{
		{
			name: "Okta object",
			in: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + acmeURN + `"],"userName":"a",
			  "` + acmeURN + `":{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris"},"contractor":false,"level":"senior","pin":"1234","hired":"2026-01-02T00:00:00Z"}}`,
			want: `{"userName":"a","` + acmeURN + `":{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris"},"contractor":false,"level":"Senior","pin":"1234","hired":"2026-01-02T00:00:00Z"}}`,
		},
		{
			name: "Entra qualified keys and strings",
			in: `{"userName":"a","` + acmeURN + `:costCenterCode":"CC1","` + acmeURN + `:badgeNumber":"42","` + acmeURN + `:contractor":"True",
			  "` + acmeURN + `:skills":"go","` + acmeURN + `:site.code":"PAR","COSTCENTERCODE":"CC2"}`,
			want: `{"userName":"a","` + acmeURN + `":{"costCenterCode":"CC1","badgeNumber":42,"contractor":true,"skills":["go"],"site":{"code":"PAR"}}}`,
		},
		{name: "not an integer", in: `{"userName":"a","` + acmeURN + `":{"badgeNumber":"4.5"}}`, err: ScimTypeInvalidValue},
		{name: "an integer beyond 2^53", in: `{"userName":"a","` + acmeURN + `":{"badgeNumber":9007199254740993}}`, err: ScimTypeInvalidValue},
		{name: "an integer beyond 2^53 as a string", in: `{"userName":"a","` + acmeURN + `":{"badgeNumber":"-1e21"}}`, err: ScimTypeInvalidValue},
		{name: "not a number", in: `{"userName":"a","` + acmeURN + `":{"badgeNumber":"abc"}}`, err: ScimTypeInvalidValue},
		{name: "not a boolean", in: `{"userName":"a","` + acmeURN + `":{"contractor":"yes"}}`, err: ScimTypeInvalidValue},
		{name: "not canonical", in: `{"userName":"a","` + acmeURN + `":{"level":"Principal"}}`, err: ScimTypeInvalidValue},
		{name: "not a dateTime", in: `{"userName":"a","` + acmeURN + `":{"hired":"yesterday"}}`, err: ScimTypeInvalidValue},
		{name: "list for a single value", in: `{"userName":"a","` + acmeURN + `":{"costCenterCode":["a","b"]}}`, err: ScimTypeInvalidValue},
		{name: "string for a complex", in: `{"userName":"a","` + acmeURN + `":{"site":["PAR"]}}`, err: ScimTypeInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(rs, decode(t, tt.in))
			if tt.err != "" {
				if scimType(err) != tt.err {
					t.Fatalf("error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, tt.want) {
				t.Errorf("got  %s\nwant %s", toJSON(t, got), tt.want)
			}
		})
	}
}

func TestExtensionRequired(t *testing.T) {
	t.Parallel()
	optional, required := acmeSchema(t, false), acmeSchema(t, true)
	tests := []struct {
		name  string
		rs    *ResourceSchema
		attrs string
		ok    bool
	}{
		{"optional extension absent", optional, `{"userName":"a"}`, true},
		{"required extension absent", required, `{"userName":"a"}`, false},
		{"required attribute of a present extension missing", optional, `{"userName":"a","` + acmeURN + `":{"badgeNumber":1}}`, false},
		{"required sub-attribute missing", optional, `{"userName":"a","` + acmeURN + `":{"costCenterCode":"c","site":{"name":"Paris"}}}`, false},
		{"required sub-attribute missing, other case", optional, `{"userName":"a","` + acmeURN + `":{"costCenterCode":"c","SITE":{"name":"Paris"}}}`, false},
		{"core required in other case", optional, `{"USERNAME":"a"}`, true},
		{"complete", required, `{"userName":"a","` + acmeURN + `":{"costCenterCode":"c","site":{"code":"PAR"}}}`, true},
		{"core required missing", optional, `{"` + acmeURN + `":{"costCenterCode":"c"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequired(tt.rs, decode(t, tt.attrs))
			if (err == nil) != tt.ok || (err != nil && scimType(err) != ScimTypeInvalidValue) {
				t.Errorf("CheckRequired = %v, want ok %v", err, tt.ok)
			}
		})
	}
	// A PATCH cannot remove a required attribute of an extension.
	stored := decode(t, `{"userName":"a","`+acmeURN+`":{"costCenterCode":"c"}}`)
	ops, err := ParsePatch(optional, patchBody(`[{"op":"remove","path":"`+acmeURN+`:costCenterCode"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Apply(optional, stored, ops); scimType(err) != ScimTypeInvalidValue {
		t.Errorf("removal of a required extension attribute: %v", err)
	}
}

func TestExtensionPatch(t *testing.T) {
	t.Parallel()
	rs := acmeSchema(t, false)
	start := `{"userName":"a","` + acmeURN + `":{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris"},"hired":"2026-01-02T00:00:00Z"}}`
	ext := func(body string) string { return `{"userName":"a","` + acmeURN + `":` + body + `}` }
	cases := []patchCase{
		{name: "Entra replace by URN path", rs: rs, start: start, changed: true,
			ops:  `[{"op":"Replace","path":"` + acmeURN + `:costCenterCode","value":"CC2"},{"op":"Replace","path":"` + acmeURN + `:badgeNumber","value":"7"}]`,
			want: ext(`{"costCenterCode":"CC2","badgeNumber":7,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris"},"hired":"2026-01-02T00:00:00Z"}`)},
		{name: "sub-attribute path", rs: rs, start: start, changed: true,
			ops:  `[{"op":"replace","path":"` + acmeURN + `:site.code","value":"LYS"},{"op":"remove","path":"` + acmeURN + `:site.name"}]`,
			want: ext(`{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","sql"],"site":{"code":"LYS"},"hired":"2026-01-02T00:00:00Z"}`)},
		{name: "multi-valued add and remove a value", rs: rs, start: start, changed: true,
			ops:  `[{"op":"add","path":"` + acmeURN + `:skills","value":["GO","rust"]},{"op":"remove","path":"` + acmeURN + `:skills","value":"sql"}]`,
			want: ext(`{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","rust"],"site":{"code":"PAR","name":"Paris"},"hired":"2026-01-02T00:00:00Z"}`)},
		{name: "Okta path-less replace of the extension object", rs: rs, start: start, changed: true,
			ops:  `[{"op":"replace","value":{"` + acmeURN + `":{"badgeNumber":43,"contractor":"False"}}}]`,
			want: ext(`{"costCenterCode":"CC1","badgeNumber":43,"contractor":false,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris"},"hired":"2026-01-02T00:00:00Z"}`)},
		{name: "path-less qualified keys", rs: rs, start: bareUser, changed: true,
			ops:  `[{"op":"add","value":{"` + acmeURN + `:costCenterCode":"X","` + acmeURN + `:site.code":"PAR"}}]`,
			want: `{"userName":"jdoe","active":true,"` + acmeURN + `":{"costCenterCode":"X","site":{"code":"PAR"}}}`},
		{name: "value filter on the complex attribute", rs: rs, start: start, changed: true,
			ops:  `[{"op":"replace","path":"` + acmeURN + `:site[code eq \"PAR\"].name","value":"Paris 1"}]`,
			want: ext(`{"costCenterCode":"CC1","badgeNumber":42,"skills":["go","sql"],"site":{"code":"PAR","name":"Paris 1"},"hired":"2026-01-02T00:00:00Z"}`)},
		{name: "wrong type", rs: rs, start: start, ops: `[{"op":"replace","path":"` + acmeURN + `:badgeNumber","value":"many"}]`, err: ScimTypeInvalidValue},
		{name: "not canonical", rs: rs, start: start, ops: `[{"op":"replace","path":"` + acmeURN + `:level","value":"Lead"}]`, err: ScimTypeInvalidValue},
		{name: "unknown attribute", rs: rs, start: start, ops: `[{"op":"replace","path":"` + acmeURN + `:shoeSize","value":"42"}]`, err: ScimTypeInvalidPath},
		{name: "immutable", rs: rs, start: start, ops: `[{"op":"replace","path":"` + acmeURN + `:hired","value":"2027-01-01T00:00:00Z"}]`, err: ScimTypeMutability},
	}
	runPatchCases(t, cases)
}

func TestExtensionFilterSortProject(t *testing.T) {
	t.Parallel()
	rs := acmeSchema(t, false)
	view := func(id, cc string, badge int, skills, site string) map[string]any {
		return decode(t, `{"id":"`+id+`","userName":"`+id+`","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+acmeURN+`"],
		  "`+acmeURN+`":{"costCenterCode":"`+cc+`","badgeNumber":`+string(rune('0'+badge))+`,"skills":`+skills+`,"site":`+site+`,"pin":"9999","clearance":"top"}}`)
	}
	res := map[string]map[string]any{
		"a": view("a", "CC1", 3, `["go"]`, `{"code":"PAR","name":"Paris"}`),
		"b": view("b", "cc2", 1, `["SQL","go"]`, `{"code":"par"}`),
		"c": decode(t, `{"id":"c","userName":"c"}`),
	}
	for expr, want := range map[string][]string{
		acmeURN + `:costCenterCode eq "cc1"`:                                      {"a"},
		`costCenterCode eq "CC2"`:                                                 {"b"},
		acmeURN + `:badgeNumber gt 1`:                                             {"a"},
		acmeURN + `:badgeNumber ge "1"`:                                           {"a", "b"},
		acmeURN + `:site.code eq "PAR"`:                                           {"a"},
		acmeURN + `:skills eq "sql"`:                                              {"b"},
		acmeURN + `:site[code eq "par" or name pr]`:                               {"a", "b"},
		acmeURN + ` pr`:                                                           {"a", "b"},
		`not (` + acmeURN + `:costCenterCode pr)`:                                 {"c"},
		acmeURN + `:costCenterCode pr and userName sw "a"`:                        {"a"},
		`urn:ietf:params:scim:schemas:extension:acme:2.0:User:site.name co "ari"`: {"a"},
	} {
		if got := matching(mustCompile(t, rs, expr), res); !slices.Equal(got, want) {
			t.Errorf("%s matches %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{acmeURN + `:pin eq "1"`, acmeURN + `:badgeNumber co "1"`, acmeURN + `:nothing pr`} {
		if _, err := Compile(rs, bad); scimType(err) != ScimTypeInvalidFilter {
			t.Errorf("Compile(%s): %v, want invalidFilter", bad, err)
		}
	}
	cmp, err := Comparator(rs, acmeURN+":badgeNumber")
	if err != nil {
		t.Fatal(err)
	}
	list := []map[string]any{res["c"], res["a"], res["b"]}
	slices.SortFunc(list, cmp)
	if list[0]["id"] != "b" || list[1]["id"] != "a" || list[2]["id"] != "c" {
		t.Errorf("sorted by badgeNumber: %v %v %v", list[0]["id"], list[1]["id"], list[2]["id"])
	}
	for _, tt := range []struct {
		attrs, excluded []string
		want            string
	}{
		{attrs: []string{acmeURN + ":costCenterCode", acmeURN + ":site.code"},
			want: `{"id":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + acmeURN + `"],"` + acmeURN + `":{"costCenterCode":"CC1","site":{"code":"PAR"}}}`},
		{attrs: []string{acmeURN + ":clearance", acmeURN + ":pin"},
			want: `{"id":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + acmeURN + `"],"` + acmeURN + `":{"clearance":"top"}}`},
		{excluded: []string{acmeURN + ":skills", "userName"},
			want: `{"id":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + acmeURN + `"],"` + acmeURN + `":{"costCenterCode":"CC1","badgeNumber":3,"site":{"code":"PAR","name":"Paris"}}}`},
		{want: `{"id":"a","userName":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + acmeURN + `"],"` + acmeURN + `":{"costCenterCode":"CC1","badgeNumber":3,"skills":["go"],"site":{"code":"PAR","name":"Paris"}}}`},
	} {
		if got := Project(rs, res["a"], tt.attrs, tt.excluded); !sameJSON(t, got, tt.want) {
			t.Errorf("Project(%v, %v) = %s\nwant %s", tt.attrs, tt.excluded, toJSON(t, got), tt.want)
		}
	}
}

// TestEnterpriseWithoutConfiguration: the enterprise extension keeps working
// when declared extensions are added beside it.
func TestEnterpriseWithoutConfiguration(t *testing.T) {
	t.Parallel()
	rs := acmeSchema(t, false)
	f := mustCompile(t, rs, enterpriseURN+`:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d" and employeeNumber eq "701984"`)
	if !f.Match(decode(t, bjensenJSON)) {
		t.Error("enterprise filter does not match bjensen")
	}
	got, err := Normalize(rs, decode(t, `{"userName":"a","`+enterpriseURN+`":{"manager":"m1","department":"D"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, got, `{"userName":"a","`+enterpriseURN+`":{"manager":{"value":"m1"},"department":"D"}}`) {
		t.Errorf("got %s", toJSON(t, got))
	}
}

func TestExtensionIndexed(t *testing.T) {
	t.Parallel()
	s, err := acmeExtension.Schema()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreUserSchema(), SchemaExtension{Schema: s, Indexed: []string{"costCenterCode", "site.code"}})
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]Lookup{
		acmeURN + `:costCenterCode eq "CC1"`:             {Attr: acmeURN + ":costCenterCode", Values: []string{"cc1"}},
		`costCenterCode eq "CC1" and userName sw "a"`:    {Attr: acmeURN + ":costCenterCode", Values: []string{"cc1"}},
		acmeURN + `:site.code eq "PAR"`:                  {Attr: acmeURN + ":site.code", Values: []string{"PAR"}},
		acmeURN + `:site[code eq "PAR" and name co "x"]`: {Attr: acmeURN + ":site.code", Values: []string{"PAR"}},
	} {
		got, ok := mustCompile(t, rs, expr).Plan()
		if !ok || len(got) != 1 || got[0].Attr != want.Attr || !slices.Equal(got[0].Values, want.Values) {
			t.Errorf("Plan(%s) = %v %v, want %v", expr, got, ok, want)
		}
	}
	if _, ok := mustCompile(t, rs, acmeURN+`:badgeNumber eq 3`).Plan(); ok {
		t.Error("badgeNumber is not indexed")
	}
	for _, bad := range [][]string{{"nothing"}, {"badgeNumber"}, {"site"}, {"urn:other:x"}} {
		if _, err := NewExtendedResourceSchema(schema.CoreUserSchema(), SchemaExtension{Schema: s, Indexed: bad}); err == nil {
			t.Errorf("Indexed %v accepted", bad)
		}
	}
}

// TestGroupExtension: an extension attached to Group works beside members.
func TestGroupExtension(t *testing.T) {
	t.Parallel()
	const urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"
	s, err := Extension{ID: urn, Name: "AcmeGroup", Attributes: []Attribute{
		{Name: "costCenterCode", Type: "string"}, {Name: "owners", Type: "reference", MultiValued: true, ReferenceTypes: []string{"User"}},
	}}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreGroupSchema(), SchemaExtension{Schema: s, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Normalize(rs, decode(t, `{"displayName":"G","members":[{"value":"u1"},{"value":"u1"},"u2"],"`+urn+`":{"costCenterCode":"CC","owners":"u1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"displayName":"G","members":[{"value":"u1"},{"value":"u2"}],"` + urn + `":{"costCenterCode":"CC","owners":["u1"]}}`; !sameJSON(t, g, want) {
		t.Errorf("got %s, want %s", toJSON(t, g), want)
	}
	if err := CheckRequired(rs, g); err != nil {
		t.Error(err)
	}
	if err := CheckRequired(rs, decode(t, `{"displayName":"G"}`)); scimType(err) != ScimTypeInvalidValue {
		t.Errorf("required group extension missing: %v", err)
	}
	g["id"] = "g1"
	if !mustCompile(t, rs, `members[value eq "u2"] and `+urn+`:owners eq "u1"`).Match(g) {
		t.Error("filter on members and the extension does not match")
	}
}
