package filter_test

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

var (
	users  = filter.NewResourceSchema(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	groups = filter.NewResourceSchema(schema.CoreGroupSchema())
)

// The filter grammar of RFC 7644 §3.4.2.2, shown by the canonical form each
// filter compiles to, and the errors ill-formed or ill-typed filters get.
func Example_grammar() {
	for _, expr := range []string{
		`userName eq "bjensen"`,
		`USERNAME Eq "bjensen"`, // names and operators in any case
		`title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`(title pr and userType eq "Employee") or userName sw "J"`,
		`emails[type eq "work" and value co "@example.com"]`,
		`name.familyName co "O'Malley"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915"`,
		`employeeNumber eq "701984"`, // unqualified extension attribute
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`active eq "True"`, // Entra's string booleans
		`nickName eq null`,
		`active gt true`,
		`userName gt 42`,
		`favouriteColour eq "blue"`,
		`userName eq`,
	} {
		f, err := filter.Compile(users, expr)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(f)
	}
	// Output:
	// userName eq "bjensen"
	// userName eq "bjensen"
	// title pr and userType eq "Employee"
	// title pr or userType eq "Intern"
	// userType ne "Employee" and not (emails.value co "example.com" or emails.value co "example.org")
	// title pr and userType eq "Employee" or userName sw "J"
	// emails[type eq "work" and value co "@example.com"]
	// name.familyName co "O'Malley"
	// userName sw "J"
	// urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915"
	// urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"
	// meta.lastModified gt "2011-05-13T04:42:34Z"
	// active eq true
	// nickName eq null
	// error: scim invalidFilter: active: boolean attributes support only eq, ne and pr, not gt
	// error: scim invalidFilter: userName: string attribute compared with a non-string value
	// error: scim invalidFilter: unknown attribute "favouriteColour"
	// error: scim invalidFilter: malformed filter "userName eq": syntax error
}

func ExampleFilter_Match() {
	var user map[string]any
	_ = json.Unmarshal([]byte(`{
	  "id": "2819c223", "userName": "bjensen", "active": true,
	  "emails": [{"value": "bjensen@example.com", "type": "work"}, {"value": "babs@jensen.org", "type": "home"}],
	  "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"}
	}`), &user)
	for _, expr := range []string{
		`userName eq "BJENSEN"`, // userName is not caseExact
		`id eq "2819C223"`,      // id is caseExact
		`emails[type eq "work" and value ew "jensen.org"]`,
		`emails.type eq "work" and emails.value ew "jensen.org"`,
		`meta.lastModified gt "2011-05-13T06:00:00+02:00"`,
		`title ne "Boss"`, // missing attributes are "not equal"
	} {
		f, _ := filter.Compile(users, expr)
		fmt.Println(f.Match(user), expr)
	}
	// Output:
	// true userName eq "BJENSEN"
	// false id eq "2819C223"
	// false emails[type eq "work" and value ew "jensen.org"]
	// true emails.type eq "work" and emails.value ew "jensen.org"
	// true meta.lastModified gt "2011-05-13T06:00:00+02:00"
	// true title ne "Boss"
}

func ExampleFilter_Plan() {
	for _, expr := range []string{
		`userName eq "BJensen"`,
		`externalId eq "AB-1" and active eq true`,
		`emails[type eq "work" and value eq "B@Example.com"]`,
		`userName eq "a" or userName eq "b"`,
		`userName sw "a"`,
	} {
		f, _ := filter.Compile(users, expr)
		lookups, ok := f.Plan()
		fmt.Println(lookups, ok)
	}
	// Output:
	// [{userName [bjensen]}] true
	// [{externalId [AB-1]}] true
	// [{emails.value [b@example.com]}] true
	// [{userName [a b]}] true
	// [] false
}

func ExampleApply() {
	stored := map[string]any{
		"userName": "bjensen",
		"active":   true,
		"emails":   []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
	}
	body := []byte(`{
	  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	  "Operations": [
	    {"op": "Replace", "path": "active", "value": "False"},
	    {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "babs@jensen.org"},
	    {"op": "Replace", "path": "name.givenName", "value": "Barbara"},
	    {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "26118915"}
	  ]
	}`)
	ops, err := filter.ParsePatch(users, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, changed, err := filter.Apply(users, stored, ops)
	b, _ := json.Marshal(out)
	fmt.Println(changed, err)
	fmt.Println(string(b))
	_, _, err = filter.Apply(users, stored, []filter.Operation{{Op: "remove"}})
	fmt.Println(err)
	// Output:
	// true <nil>
	// {"active":false,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"},{"type":"home","value":"babs@jensen.org"}],"name":{"givenName":"Barbara"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"26118915"}},"userName":"bjensen"}
	// scim noTarget: operation 1: remove needs a path
}

func ExampleParsePatch() {
	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members[value eq \"u1\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"members"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"id","value":"x"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members[foo eq \"x\"].value","value":"x"}]}`,
		`{"Operations":[]}`,
	} {
		ops, err := filter.ParsePatch(groups, []byte(body))
		fmt.Println(ops, err)
	}
	// Output:
	// [{remove members[value eq "u1"] <nil>}] <nil>
	// [] scim invalidSyntax: operation 1: op must be add, replace or remove, not "move"
	// [] scim mutability: operation 1: attribute "id" is readOnly
	// [] scim invalidPath: operation 1: path "members[foo eq \"x\"].value": unknown sub-attribute "foo" of "members"
	// [] scim invalidSyntax: schemas must contain "urn:ietf:params:scim:api:messages:2.0:PatchOp"
}

func ExampleNormalize() {
	var in map[string]any
	_ = json.Unmarshal([]byte(`{
	  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "ignored",
	  "USERNAME": "bjensen", "active": "True", "favouriteColour": "blue",
	  "emails": {"value": "b@example.com", "primary": "true"},
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "26118915"}
	}`), &in)
	out, err := filter.Normalize(users, in)
	b, _ := json.Marshal(out)
	fmt.Println(string(b), err)
	_, err = filter.Normalize(users, map[string]any{"active": "maybe"})
	fmt.Println(err)
	// Output:
	// {"active":true,"emails":[{"primary":true,"value":"b@example.com"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"26118915"}},"userName":"bjensen"} <nil>
	// scim invalidValue: attribute "active" must be a boolean
}

func ExampleProject() {
	user := map[string]any{
		"schemas":  []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"id":       "2819c223",
		"userName": "bjensen",
		"password": "secret",
		"name":     map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":   []any{map[string]any{"value": "b@example.com", "type": "work"}},
	}
	show := func(m map[string]any) { b, _ := json.Marshal(m); fmt.Println(string(b)) }
	show(filter.Project(users, user, []string{"userName", "name.givenName"}, nil))
	show(filter.Project(users, user, nil, []string{"emails", "id"}))
	// Output:
	// {"id":"2819c223","name":{"givenName":"Barbara"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}
	// {"id":"2819c223","name":{"familyName":"Jensen","givenName":"Barbara"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}
}

func ExampleComparator() {
	list := []map[string]any{
		{"userName": "carol"},
		{"userName": "Bob"},
		{},
		{"userName": "alice"},
	}
	cmp, _ := filter.Comparator(users, "userName")
	slices.SortStableFunc(list, cmp)
	for _, u := range list {
		fmt.Println(u["userName"])
	}
	_, err := filter.Comparator(users, "shoeSize")
	fmt.Println(err)
	// Output:
	// alice
	// Bob
	// carol
	// <nil>
	// scim invalidPath: sortBy "shoeSize": unknown attribute "shoeSize"
}
