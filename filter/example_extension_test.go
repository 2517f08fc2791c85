package filter_test

import (
	"encoding/json"
	"fmt"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

// A tenant's custom extension, declared as configuration would, attached to
// the User resource type beside the enterprise extension: values are checked
// and coerced on write, and the attributes filter, patch and project like
// core ones.
func ExampleNewExtendedResourceSchema() {
	const acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
	declared := filter.Extension{
		ID:   acme,
		Name: "AcmeUser",
		Attributes: []filter.Attribute{
			{Name: "costCenterCode", Type: "string", Required: true},
			{Name: "badgeNumber", Type: "integer"},
			{Name: "site", Type: "complex", SubAttributes: []filter.Attribute{{Name: "code", Type: "string"}}},
		},
	}
	s, err := declared.Schema() // also what /Schemas serves
	if err != nil {
		fmt.Println(err)
		return
	}
	users, err := filter.NewExtendedResourceSchema(schema.CoreUserSchema(),
		filter.SchemaExtension{Schema: schema.ExtensionEnterpriseUser()},
		filter.SchemaExtension{Schema: s, Indexed: []string{"costCenterCode"}})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Entra: URN-qualified keys, numbers and booleans as strings.
	var body map[string]any
	_ = json.Unmarshal([]byte(`{"userName":"bjensen","active":"True",
	  "`+acme+`:costCenterCode":"CC-7","`+acme+`:badgeNumber":"1234","`+acme+`:site.code":"PAR"}`), &body)
	stored, err := filter.Normalize(users, body)
	fmt.Println(jsonText(stored), err)
	fmt.Println(filter.CheckRequired(users, map[string]any{"userName": "x", acme: map[string]any{"badgeNumber": 1.0}}))

	f, _ := filter.Compile(users, `costCenterCode eq "cc-7" and `+acme+`:badgeNumber gt 1000`)
	lookups, _ := f.Plan()
	fmt.Println(f, lookups)

	ops, _ := filter.ParsePatch(users, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	  "Operations":[{"op":"Replace","path":"`+acme+`:site.code","value":"LYS"}]}`))
	patched, _, err := filter.Apply(users, stored, ops)
	fmt.Println(jsonText(filter.Project(users, patched, []string{acme + ":site"}, nil)), err)

	_, err = filter.Extension{ID: acme, Name: "Bad", Attributes: []filter.Attribute{{Name: "level", Type: "int"}}}.Schema()
	fmt.Println(err)
	// Output:
	// {"active":true,"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"badgeNumber":1234,"costCenterCode":"CC-7","site":{"code":"PAR"}},"userName":"bjensen"} <nil>
	// scim invalidValue: attribute "urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenterCode" is required
	// urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenterCode eq "cc-7" and urn:ietf:params:scim:schemas:extension:acme:2.0:User:badgeNumber gt 1000 [{urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenterCode [cc-7]}]
	// {"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"site":{"code":"LYS"}}} <nil>
	// attributes[0].type: unknown type "int" (want one of string, boolean, decimal, integer, dateTime, binary, reference, complex)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
