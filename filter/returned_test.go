package filter

import (
	"testing"

	"github.com/elimity-com/scim/schema"
)

// TestReturned: RFC 7643 §7 "returned" is honoured by Project for every
// attribute and sub-attribute, core or extension: always (kept whatever
// attributes and excludedAttributes say), never (never kept, and writeOnly
// implies it), request (kept only when named), default.
func TestReturned(t *testing.T) {
	t.Parallel()
	const urn = "urn:example:scim:schemas:extension:ret:1.0:User"
	ext, err := Extension{ID: urn, Name: "Returned", Attributes: []Attribute{
		{Name: "always", Type: "string", Returned: "always"},
		{Name: "never", Type: "string", Returned: "never"},
		{Name: "request", Type: "string", Returned: "request"},
		{Name: "dflt", Type: "string"},
		{Name: "secret", Type: "string", Mutability: "writeOnly"},
		{Name: "box", Type: "complex", MultiValued: true, SubAttributes: []Attribute{
			{Name: "value", Type: "string", Returned: "always"},
			{Name: "hidden", Type: "string", Returned: "never"},
			{Name: "asked", Type: "string", Returned: "request"},
			{Name: "plain", Type: "string"},
		}},
	}}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewExtendedResourceSchema(schema.CoreUserSchema(), SchemaExtension{Schema: ext})
	if err != nil {
		t.Fatal(err)
	}
	res := decode(t, `{"id":"1","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+urn+`"],"userName":"u","password":"p","title":"T",
	  "`+urn+`":{"always":"A","never":"N","request":"R","dflt":"D","secret":"S","box":[{"value":"v","hidden":"h","asked":"a","plain":"p"}]}}`)
	core := `"id":"1","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + urn + `"]`
	tests := []struct {
		name                 string
		attributes, excluded []string
		want                 string
	}{
		{name: "default view",
			want: `{` + core + `,"userName":"u","title":"T","` + urn + `":{"always":"A","dflt":"D","box":[{"value":"v","plain":"p"}]}}`},
		{name: "attributes naming others keep always ones",
			attributes: []string{"title"},
			want:       `{` + core + `,"title":"T","` + urn + `":{"always":"A","box":[{"value":"v"}]}}`},
		{name: "request attributes when named, never ones never",
			attributes: []string{urn + ":request", urn + ":never", urn + ":secret", "password", urn + ":box.asked", urn + ":box.hidden"},
			want:       `{` + core + `,"` + urn + `":{"always":"A","request":"R","box":[{"value":"v","asked":"a"}]}}`},
		{name: "whole complex attribute named",
			attributes: []string{urn + ":box"},
			want:       `{` + core + `,"` + urn + `":{"always":"A","box":[{"value":"v","plain":"p"}]}}`},
		{name: "excluded cannot drop always ones",
			excluded: []string{urn + ":always", "id", "schemas", urn + ":box.value", urn + ":box.plain", "userName"},
			want:     `{` + core + `,"title":"T","` + urn + `":{"always":"A","dflt":"D","box":[{"value":"v"}]}}`},
		{name: "excluded extension keeps its always ones",
			excluded: []string{urn},
			want:     `{` + core + `,"userName":"u","title":"T","` + urn + `":{"always":"A","box":[{"value":"v"}]}}`},
		{name: "excluded complex attribute keeps its always sub-attributes",
			excluded: []string{urn + ":box"},
			want:     `{` + core + `,"userName":"u","title":"T","` + urn + `":{"always":"A","dflt":"D","box":[{"value":"v"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Project(rs, res, tt.attributes, tt.excluded)
			if !sameJSON(t, got, tt.want) {
				t.Errorf("got  %s\nwant %s", toJSON(t, got), tt.want)
			}
		})
	}
	for _, expr := range []string{urn + `:secret eq "S"`, urn + `:box.hidden pr`, urn + `:box[hidden eq "h"]`} {
		if _, err := Compile(rs, expr); scimType(err) != ScimTypeInvalidFilter {
			t.Errorf("Compile(%s) = %v, want invalidFilter (never returned)", expr, err)
		}
	}
}
