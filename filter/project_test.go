package filter

import (
	"slices"
	"testing"
)

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestProject(t *testing.T) {
	t.Parallel()
	const ent = enterpriseURN
	tests := []struct {
		name                 string
		attributes, excluded []string
		want                 string // for attributes; keys checked for excluded
	}{
		{
			name: "one attribute", attributes: []string{"userName"},
			want: `{"id":"2819c223-7f76-453a-919d-413861904646","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"bjensen"}`,
		},
		{
			name: "sub-attributes", attributes: []string{"name.givenName", "EMAILS.VALUE", "meta.lastModified"},
			want: `{"id":"2819c223-7f76-453a-919d-413861904646","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			  "name":{"givenName":"Barbara"},"emails":[{"value":"bjensen@example.com"},{"value":"babs@jensen.org"}],"meta":{"lastModified":"2011-05-13T04:42:34Z"}}`,
		},
		{
			name: "URN-qualified", attributes: []string{ent + ":employeeNumber", ent + ":manager.value", "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "password", "unknown"},
			want: `{"id":"2819c223-7f76-453a-919d-413861904646","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			  "displayName":"Babs Jensen","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`,
		},
		{
			name: "whole extension", attributes: []string{ent},
			want: `{"id":"2819c223-7f76-453a-919d-413861904646","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations",
			  "manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := decode(t, bjensenJSON)
			got := Project(userRS, res, tt.attributes, tt.excluded)
			if !sameJSON(t, got, tt.want) {
				t.Errorf("got  %s\nwant %s", toJSON(t, got), tt.want)
			}
		})
	}

	res := decode(t, bjensenJSON)
	before := toJSON(t, res)
	all := Project(userRS, res, nil, nil)
	if _, ok := all["password"]; ok {
		t.Error("password returned")
	}
	if len(all) != len(res)-1 {
		t.Errorf("default projection kept %v", keysOf(all))
	}
	ex := Project(userRS, res, nil, []string{"id", "emails", "name.familyName", ent + ":manager", "groups"})
	for _, k := range []string{"emails", "groups", "password"} {
		if _, ok := ex[k]; ok {
			t.Errorf("%s not excluded", k)
		}
	}
	if ex["id"] != res["id"] {
		t.Error("id excluded although returned always")
	}
	if n := ex["name"].(map[string]any); n["familyName"] != nil || n["givenName"] != "Barbara" {
		t.Errorf("name = %v", n)
	}
	if e := ex[ent].(map[string]any); e["manager"] != nil || e["employeeNumber"] != "701984" {
		t.Errorf("extension = %v", e)
	}
	ex["name"].(map[string]any)["givenName"] = "mutated"
	if toJSON(t, res) != before {
		t.Error("input modified through the projection")
	}

	group := decode(t, groupJSON)
	g := Project(groupRS, group, nil, []string{"members"})
	if _, ok := g["members"]; ok || g["displayName"] != "Tour Guides" {
		t.Errorf("group projection = %v", g)
	}

	w := map[string]any{"id": "w", "secret": "s", "label": "l"}
	if p := Project(widgetRS, w, nil, nil); p["secret"] != nil || p["label"] != "l" {
		t.Errorf("returned:request attribute by default: %v", p)
	}
	if p := Project(widgetRS, w, []string{"secret"}, nil); p["secret"] != "s" || p["label"] != nil || p["id"] != "w" {
		t.Errorf("returned:request attribute when asked: %v", p)
	}
}
