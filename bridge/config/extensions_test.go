package config

import (
	"strings"
	"testing"
)

func TestSchemaExtensionsLoad(t *testing.T) {
	t.Parallel()
	cfg, err := Load(exampleFile(t, "extensions.yaml"), envFunc(nil), testRegistry())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	user, group, err := cfg.Tenants[0].Extensions()
	if err != nil {
		t.Fatal(err)
	}
	if len(user) != 1 || len(group) != 1 {
		t.Fatalf("extensions: %d user, %d group", len(user), len(group))
	}
	if user[0].Schema.ID != "urn:ietf:params:scim:schemas:extension:acme:2.0:User" || len(user[0].Schema.Attributes) != 9 {
		t.Errorf("user extension %s with %d attributes", user[0].Schema.ID, len(user[0].Schema.Attributes))
	}
	if a, ok := user[0].Schema.Attributes.ContainsAttribute("secretPin"); !ok || a.Returned() != "never" || a.Mutability() != "writeOnly" {
		t.Errorf("secretPin characteristics lost")
	}
}

func TestSchemaExtensionErrors(t *testing.T) {
	t.Parallel()
	const ext = okTenant + "    schema_extensions:\n"
	for _, c := range []struct {
		name string
		yaml string
		want []string
	}{
		{"bad attribute type names key and line", ext + `      - resource_type: User
        id: urn:acme:User
        name: A
        attributes:
          - {name: a, type: string}
          - {name: b, type: text}
`, []string{`b.yaml:10: tenants[0].schema_extensions[0].attributes[1].type: unknown type "text" (want one of string, boolean, decimal, integer, dateTime, binary, reference, complex)`}},
		{"resource type and missing name", ext + `      - resource_type: Device
        id: urn:acme:Device
        attributes: [{name: a, type: string}]
`, []string{
			"b.yaml:5: tenants[0].schema_extensions[0].resource_type: must be User or Group",
			"b.yaml:5: tenants[0].schema_extensions[0].name: a name is required",
		}},
		{"colliding ids", ext + `      - resource_type: User
        id: urn:acme:User
        name: A
        attributes: [{name: a, type: string}]
      - resource_type: Group
        id: URN:ACME:USER
        name: B
        attributes: [{name: a, type: string}]
      - resource_type: User
        id: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
        name: C
        attributes: [{name: a, type: string}]
`, []string{
			"b.yaml:10: tenants[0].schema_extensions[1].id: collides with the extension at line 6 (ids are compared ignoring case and may not be a prefix of one another)",
			"b.yaml:14: tenants[0].schema_extensions[2].id: collides with the built-in schema urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		}},
		{"unknown key", ext + `      - resource_type: User
        id: urn:acme:User
        name: A
        atributes: [{name: a, type: string}]
`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBytes("b.yaml", []byte(c.yaml), envFunc(nil), testRegistry())
			if err == nil {
				t.Fatal("no error")
			}
			got := Errors(err)
			if c.want == nil {
				found := false
				for _, e := range got {
					found = found || (e.Line == 8 && strings.Contains(e.Msg, `did you mean "attributes"`))
				}
				if !found {
					t.Errorf("unknown key not reported at line 8: %v", err)
				}
				return
			}
			if len(got) != len(c.want) {
				t.Fatalf("errors:\n%v\nwant:\n%v", err, c.want)
			}
			for i, e := range got {
				if e.Error() != c.want[i] {
					t.Errorf("error %d:\n got %s\nwant %s", i, e.Error(), c.want[i])
				}
			}
		})
	}
}
