package filter

import (
	"strings"
	"testing"
)

const (
	storedGroup = `{"displayName": "Tour Guides", "members": [
	  {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
	  {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}]}`
	storedUser = `{"userName": "bjensen", "externalId": "701984", "active": true, "displayName": "Babs Jensen",
	  "name": {"givenName": "Barbara", "familyName": "Jensen"},
	  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
	  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true}],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984",
	    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}}}`
	bareUser = `{"userName": "jdoe", "active": true}`
)

type patchCase struct {
	name    string
	rs      *ResourceSchema
	start   string // stored attributes
	ops     string // JSON array of operations
	want    string // resulting attributes; ignored when err is set
	changed bool
	err     string // scimType expected
}

func patchBody(ops string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`)
}

func runPatchCases(t *testing.T, cases []patchCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := decode(t, tt.start)
			before := toJSON(t, res)
			ops, err := ParsePatch(tt.rs, patchBody(tt.ops))
			var out map[string]any
			changed := false
			if err == nil {
				out, changed, err = Apply(tt.rs, res, ops)
				checkNaive(t, tt.rs, res, ops, out, changed, err)
			}
			if after := toJSON(t, res); after != before {
				t.Fatalf("input modified:\n%s\n%s", before, after)
			}
			if tt.err != "" {
				if got := scimType(err); got != tt.err {
					t.Fatalf("error %v, want scimType %s", err, tt.err)
				}
				if out != nil {
					t.Errorf("resource returned with an error: %v", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !sameJSON(t, out, tt.want) {
				t.Errorf("got  %s\nwant %s", toJSON(t, out), tt.want)
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}

// TestRFC7644PatchExamples follows the examples of RFC 7644 §3.5.2.1-3.
func TestRFC7644PatchExamples(t *testing.T) {
	t.Parallel()
	runPatchCases(t, rfcPatchCases)
}

var rfcPatchCases = []patchCase{
	{
		name: "3.5.2.1 add a member", rs: groupRS, start: storedGroup, changed: true,
		ops: `[{"op":"add","path":"members","value":[{"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210","value":"08e1d05d-121c-4561-8b96-473d93df9210"}]}]`,
		want: `{"displayName":"Tour Guides","members":[
		  {"value":"2819c223-7f76-453a-919d-413861904646","display":"Babs Jensen"},
		  {"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"},
		  {"value":"08e1d05d-121c-4561-8b96-473d93df9210","display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210"}]}`,
	},
	{
		name: "3.5.2.1 add without path", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}]`,
		want: `{"userName":"jdoe","active":true,"emails":[{"value":"babs@jensen.org","type":"home"}],"nickName":"Babs"}`,
	},
	{
		name: "3.5.2.1 add to a complex attribute merges", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"add","path":"name","value":{"middleName":"Jane","givenName":"Babs"}}]`,
		want: strings.Replace(storedUser, `"givenName": "Barbara"`, `"givenName":"Babs","middleName":"Jane"`, 1),
	},
	{
		name: "3.5.2.2 remove one member", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"}]}`,
	},
	{
		name: "3.5.2.2 remove all members", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"remove","path":"members"}]`,
		want: `{"displayName":"Tour Guides"}`,
	},
	{
		name: "3.5.2.2 remove several members", rs: groupRS, start: storedGroup, changed: true,
		ops: `[{"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
		       {"op":"remove","path":"members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]"}]`,
		want: `{"displayName":"Tour Guides"}`,
	},
	{
		name: "3.5.2.2 remove and add replaces all members", rs: groupRS, start: storedGroup, changed: true,
		ops: `[{"op":"remove","path":"members"},
		       {"op":"add","path":"members","value":[{"display":"James Smith","value":"08e1d05d-121c-4561-8b96-473d93df9210"},{"display":"Babs Jensen","value":"2819c223-7f76-453a-919d-413861904646"}]}]`,
		want: `{"displayName":"Tour Guides","members":[{"display":"James Smith","value":"08e1d05d-121c-4561-8b96-473d93df9210"},{"display":"Babs Jensen","value":"2819c223-7f76-453a-919d-413861904646"}]}`,
	},
	{
		name: "3.5.2.2 remove with a complex filter", rs: userRS, changed: true,
		start: `{"userName":"b","emails":[{"value":"b@example.com","type":"work"},{"value":"b@example.org","type":"work"},{"value":"b@jensen.org","type":"home"}]}`,
		ops:   `[{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}]`,
		want:  `{"userName":"b","emails":[{"value":"b@example.org","type":"work"},{"value":"b@jensen.org","type":"home"}]}`,
	},
	{
		name: "3.5.2.2 remove a sub-attribute of matching elements", rs: userRS, changed: true,
		start: `{"userName":"b","emails":[{"value":"b@example.com","type":"work","display":"B"},{"value":"b@jensen.org","type":"home","display":"H"}]}`,
		ops:   `[{"op":"remove","path":"emails[type eq \"work\"].display"}]`,
		want:  `{"userName":"b","emails":[{"value":"b@example.com","type":"work"},{"value":"b@jensen.org","type":"home","display":"H"}]}`,
	},
	{
		name: "3.5.2.2 remove a single-valued attribute", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"remove","path":"displayName"},{"op":"remove","path":"name.familyName"}]`,
		want: strings.NewReplacer(`"displayName": "Babs Jensen",`, ``, `, "familyName": "Jensen"`, ``).Replace(storedUser),
	},
	{
		name: "3.5.2.3 replace all members", rs: groupRS, start: storedGroup, changed: true,
		ops: `[{"op":"replace","path":"members","value":[
		  {"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646","value":"2819c223-7f76-453a-919d-413861904646"},
		  {"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210","value":"08e1d05d-121c-4561-8b96-473d93df9210"}]}]`,
		want: `{"displayName":"Tour Guides","members":[
		  {"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646","value":"2819c223-7f76-453a-919d-413861904646"},
		  {"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210","value":"08e1d05d-121c-4561-8b96-473d93df9210"}]}`,
	},
	{
		name: "3.5.2.3 replace a filtered element", rs: userRS, changed: true,
		start: `{"userName":"b","addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd"}]}`,
		ops:   `[{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}]`,
		want:  `{"userName":"b","addresses":[{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd"}]}`,
	},
	{
		name: "3.5.2.3 replace a sub-attribute of a filtered element", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}]`,
		want: strings.Replace(storedUser, "100 Universal City Plaza", "1010 Broadway Ave", 1),
	},
	{
		name: "3.5.2.3 replace without path", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"replace","value":{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}]`,
		want: `{"userName":"jdoe","active":true,"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"nickName":"Babs"}`,
	},
	{
		name: "3.5.2.3 replace a complex attribute keeps unspecified sub-attributes", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","path":"name","value":{"familyName":"Doe"}}]`,
		want: strings.Replace(storedUser, `"familyName": "Jensen"`, `"familyName":"Doe"`, 1),
	},
	{
		name: "3.5.2.3 replace a multi-valued attribute without filter", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","path":"emails","value":[{"value":"new@example.com","type":"home"}]}]`,
		want: strings.Replace(storedUser, `{"value": "bjensen@example.com", "type": "work", "primary": true}`, `{"value":"new@example.com","type":"home"}`, 1),
	},
	{
		name: "extension object as path", rs: userRS, start: storedUser, changed: true,
		ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"department":"Ops","costCenter":"4130"}},
		       {"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
		want: strings.Replace(storedUser, `"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}`, `"department":"Ops","costCenter":"4130"`, 1),
	},
	{
		name: "remove the extension object", rs: userRS, start: storedUser, changed: true,
		ops: `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
		want: `{"userName": "bjensen", "externalId": "701984", "active": true, "displayName": "Babs Jensen",
		  "name": {"givenName": "Barbara", "familyName": "Jensen"},
		  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
		  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true}]}`,
	},
	{
		name: "sub-attribute of all elements", rs: userRS, changed: true,
		start: `{"userName":"b","emails":[{"value":"a@x"},{"value":"b@x"}]}`,
		ops:   `[{"op":"replace","path":"emails.type","value":"other"}]`,
		want:  `{"userName":"b","emails":[{"value":"a@x","type":"other"},{"value":"b@x","type":"other"}]}`,
	},
}

// TestEntraPatches covers Microsoft Entra ID in its default mode (op names
// capitalised, booleans as strings) and with the aadOptscim062020 flag.
func TestEntraPatches(t *testing.T) {
	t.Parallel()
	runPatchCases(t, entraPatchCases)
}

const entraUID = "2819c223-7f76-453a-919d-413861904646"

var entraPatchCases = []patchCase{
	{
		name: "default: Replace active False", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"Replace","path":"active","value":"False"}]`,
		want: `{"userName":"jdoe","active":false}`,
	},
	{
		name: "default: Add work email creates the element", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@y.com"}]`,
		want: `{"userName":"jdoe","active":true,"emails":[{"type":"work","value":"x@y.com"}]}`,
	},
	{
		name: "default: Add work email next to a home email", rs: userRS, changed: true,
		start: `{"userName":"jdoe","emails":[{"type":"home","value":"h@y.com"}]}`,
		ops:   `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@y.com"},{"op":"Add","path":"emails[type eq \"work\"].primary","value":"True"}]`,
		want:  `{"userName":"jdoe","emails":[{"type":"home","value":"h@y.com"},{"type":"work","value":"x@y.com","primary":true}]}`,
	},
	{
		name: "default: Replace existing work email", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"}]`,
		want: strings.Replace(storedUser, "bjensen@example.com", "new@example.com", 1),
	},
	{
		name: "default: Replace name.givenName", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"Replace","path":"name.givenName","value":"X"}]`,
		want: strings.Replace(storedUser, `"givenName": "Barbara"`, `"givenName":"X"`, 1),
	},
	{
		name: "default: Replace name.givenName creates name", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"Replace","path":"name.givenName","value":"X"}]`,
		want: `{"userName":"jdoe","active":true,"name":{"givenName":"X"}}`,
	},
	{
		name: "default: Replace externalId", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"Replace","path":"externalId","value":"8a1b"}]`,
		want: strings.Replace(storedUser, `"externalId": "701984"`, `"externalId":"8a1b"`, 1),
	},
	{
		name: "default: Add manager as a plain id", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr-id"}]`,
		want: `{"userName":"jdoe","active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"mgr-id"}}}`,
	},
	{
		name: "default: Replace manager with a plain id drops the old display name", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr-2"}]`,
		want: strings.Replace(storedUser, `{"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}`, `{"value":"mgr-2"}`, 1),
	},
	{
		name: "default: Remove manager by value filter", rs: userRS, start: storedUser, changed: true,
		ops: `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"]"}]`,
		want: strings.Replace(storedUser, `"employeeNumber": "701984",
	    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}`, `"employeeNumber": "701984"`, 1),
	},
	{
		name: "default: Remove manager by another value is a no-op", rs: userRS, start: storedUser, changed: false,
		ops:  `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"someone-else\"]"}]`,
		want: storedUser,
	},
	{
		name: "default: Replace department creates the extension", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Eng"}]`,
		want: `{"userName":"jdoe","active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng"}}`,
	},
	{
		name: "default: typical three operations", rs: userRS, start: storedUser, changed: true,
		ops: `[{"op":"Replace","path":"displayName","value":"Barbara Jensen"},
		       {"op":"Replace","path":"active","value":"False"},
		       {"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0100"}]`,
		want: strings.NewReplacer(`"Babs Jensen"`, `"Barbara Jensen"`, `"active": true`, `"active":false, "phoneNumbers":[{"type":"mobile","value":"+1 555 0100"}]`).Replace(storedUser),
	},
	{
		name: "default: path-less Replace with string boolean", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"Replace","value":{"active":"False","displayName":"B"}}]`,
		want: strings.NewReplacer(`"Babs Jensen"`, `"B"`, `"active": true`, `"active":false`).Replace(storedUser),
	},
	{
		name: "default: Add members", rs: groupRS, start: storedGroup, changed: true,
		ops: `[{"op":"Add","path":"members","value":[{"value":"u-3"}]}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"2819c223-7f76-453a-919d-413861904646","display":"Babs Jensen"},
		  {"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"},{"value":"u-3"}]}`,
	},
	{
		name: "default: Add an existing member is a no-op", rs: groupRS, start: storedGroup, changed: false,
		ops:  `[{"op":"Add","path":"members","value":[{"value":"` + entraUID + `"}]}]`,
		want: storedGroup,
	},
	{
		name: "default: Remove members by value removes only those", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"Remove","path":"members","value":[{"value":"` + entraUID + `"}]}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"}]}`,
	},
	{
		name: "default: Remove a member twice is a no-op", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"Remove","path":"members","value":[{"value":"` + entraUID + `"}]},{"op":"Remove","path":"members","value":[{"value":"` + entraUID + `"}]}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"}]}`,
	},
	{
		name: "default: Replace displayName of a group", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"Replace","path":"displayName","value":"Guides"}]`,
		want: strings.Replace(storedGroup, `"Tour Guides"`, `"Guides"`, 1),
	},
	{
		name: "aadOptscim062020: replace active without path", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","value":{"active":false}}]`,
		want: strings.Replace(storedUser, `"active": true`, `"active":false`, 1),
	},
	{
		name: "aadOptscim062020: remove member by filter", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"remove","path":"members[value eq \"` + entraUID + `\"]"}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"}]}`,
	},
	{
		name: "aadOptscim062020: dotted names without path", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","value":{"name.givenName":"X","name.familyName":"Y"}}]`,
		want: strings.Replace(storedUser, `"name": {"givenName": "Barbara", "familyName": "Jensen"}`, `"name":{"givenName":"X","familyName":"Y"}`, 1),
	},
	{
		name: "value-filter paths as keys without path", rs: userRS, changed: true,
		start: `{"userName":"jdoe","emails":[{"type":"work","value":"old@y.com"}]}`,
		ops:   `[{"op":"Replace","value":{"emails[type eq \"work\"].value":"new@y.com","addresses[type eq \"work\"].streetAddress":"1 Road","name.givenName":"N"}}]`,
		want:  `{"userName":"jdoe","name":{"givenName":"N"},"emails":[{"type":"work","value":"new@y.com"}],"addresses":[{"type":"work","streetAddress":"1 Road"}]}`,
	},
	{
		name: "aadOptscim062020: URN-qualified names without path", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Eng","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"value":"m"},"urn:ietf:params:scim:schemas:core:2.0:User:title":"T"}}]`,
		want: `{"userName":"jdoe","active":true,"title":"T","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","manager":{"value":"m"}}}`,
	},
	{
		name: "aadOptscim062020: extension object without path", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"9"}}}]`,
		want: strings.Replace(storedUser, `"employeeNumber": "701984"`, `"employeeNumber":"9"`, 1),
	},
	{
		name: "aadOptscim062020: add members", rs: groupRS, start: `{"displayName":"G"}`, changed: true,
		ops:  `[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"},{"value":"u1"}]}]`,
		want: `{"displayName":"G","members":[{"value":"u1"},{"value":"u2"}]}`,
	},
}

// TestOktaPatches covers Okta's deactivation and group push.
func TestOktaPatches(t *testing.T) {
	t.Parallel()
	runPatchCases(t, oktaPatchCases)
}

var oktaPatchCases = []patchCase{
	{
		name: "deactivate with id in the value", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","value":{"id":"2819c223-7f76-453a-919d-413861904646","active":false}}]`,
		want: strings.Replace(storedUser, `"active": true`, `"active":false`, 1),
	},
	{
		name: "deactivate twice is a no-op", rs: userRS, start: strings.Replace(storedUser, `"active": true`, `"active":false`, 1), changed: false,
		ops:  `[{"op":"replace","value":{"id":"2819c223-7f76-453a-919d-413861904646","active":false}}]`,
		want: strings.Replace(storedUser, `"active": true`, `"active":false`, 1),
	},
	{
		name: "group rename with id in the value", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"replace","value":{"id":"e9e30dba","displayName":"Tour Guides EU","schemas":["x"],"meta":{"version":"1"}}}]`,
		want: strings.Replace(storedGroup, `"Tour Guides"`, `"Tour Guides EU"`, 1),
	},
	{
		name: "group push adds a member", rs: groupRS, start: storedGroup, changed: true,
		ops: `[{"op":"add","path":"members","value":[{"value":"u1","display":"a@b.c"}]}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"2819c223-7f76-453a-919d-413861904646","display":"Babs Jensen"},
		  {"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy Pepperidge"},{"value":"u1","display":"a@b.c"}]}`,
	},
	{
		name: "group push re-adds a member with a new display", rs: groupRS, start: storedGroup, changed: false,
		ops:  `[{"op":"add","path":"members","value":[{"value":"2819c223-7f76-453a-919d-413861904646","display":"babs@example.com"}]}]`,
		want: storedGroup,
	},
	{
		name: "group push removes a member", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"remove","path":"members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]"}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"2819c223-7f76-453a-919d-413861904646","display":"Babs Jensen"}]}`,
	},
	{
		name: "group push removes an absent member", rs: groupRS, start: storedGroup, changed: false,
		ops:  `[{"op":"remove","path":"members[value eq \"u-unknown\"]"}]`,
		want: storedGroup,
	},
	{
		name: "group push removes the last member", rs: groupRS, start: `{"displayName":"G","members":[{"value":"u1"}]}`, changed: true,
		ops:  `[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
		want: `{"displayName":"G"}`,
	},
}

// TestPatchSemantics covers primary exclusivity, de-duplication and no-ops.
func TestPatchSemantics(t *testing.T) {
	t.Parallel()
	runPatchCases(t, semanticPatchCases)
}

var semanticPatchCases = []patchCase{
	{
		name: "new primary email clears the old one", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"add","path":"emails","value":{"value":"b@home.org","type":"home","primary":"true"}}]`,
		want: strings.Replace(storedUser, `{"value": "bjensen@example.com", "type": "work", "primary": true}`, `{"value":"bjensen@example.com","type":"work","primary":false},{"value":"b@home.org","type":"home","primary":true}`, 1),
	},
	{
		name: "primary through a filter", rs: userRS, changed: true,
		start: `{"userName":"b","emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`,
		ops:   `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`,
		want:  `{"userName":"b","emails":[{"value":"w@x","type":"work","primary":false},{"value":"h@x","type":"home","primary":true}]}`,
	},
	{
		name: "two primaries in a replaced list keep the first", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"replace","path":"emails","value":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}]`,
		want: `{"userName":"jdoe","active":true,"emails":[{"value":"a@x","primary":true},{"value":"b@x","primary":false}]}`,
	},
	{
		name: "adding an existing email is a no-op", rs: userRS, start: storedUser, changed: false,
		ops:  `[{"op":"add","path":"emails","value":[{"value":"BJensen@Example.com","type":"work"}]}]`,
		want: storedUser,
	},
	{
		name: "adding an existing email merges new sub-attributes", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"add","path":"emails","value":[{"value":"bjensen@example.com","type":"work","display":"Work"}]}]`,
		want: strings.Replace(storedUser, `"type": "work", "primary": true}`, `"type": "work", "primary": true, "display":"Work"}`, 1),
	},
	{
		name: "same values replaced is a no-op", rs: userRS, start: storedUser, changed: false,
		ops: `[{"op":"replace","path":"active","value":"TRUE"},{"op":"replace","path":"userName","value":"bjensen"},
		       {"op":"replace","path":"emails","value":[{"value":"bjensen@example.com","type":"work","primary":true}]}]`,
		want: storedUser,
	},
	{
		name: "remove of an absent attribute is a no-op", rs: userRS, start: bareUser, changed: false,
		ops:  `[{"op":"remove","path":"nickName"},{"op":"remove","path":"emails[type eq \"work\"]"},{"op":"remove","path":"name.givenName"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]`,
		want: bareUser,
	},
	{
		name: "replace with null removes", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"replace","path":"displayName","value":null}]`,
		want: strings.Replace(storedUser, `"displayName": "Babs Jensen",`, ``, 1),
	},
	{
		name: "add to a filtered element merges", rs: userRS, start: storedUser, changed: true,
		ops:  `[{"op":"add","path":"addresses[type eq \"work\"]","value":{"region":"CA"}}]`,
		want: strings.Replace(storedUser, `"locality": "Hollywood"`, `"locality": "Hollywood", "region":"CA"`, 1),
	},
	{
		name: "replace of a filtered sub-attribute with no match and a conjunction creates", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"replace","path":"addresses[type eq \"work\" and country eq \"US\"].locality","value":"NYC"}]`,
		want: `{"userName":"jdoe","active":true,"addresses":[{"type":"work","country":"US","locality":"NYC"}]}`,
	},
	{
		name: "case-insensitive attribute names", rs: userRS, start: bareUser, changed: true,
		ops:  `[{"op":"add","path":"NAME.GIVENNAME","value":"G"},{"op":"add","path":"Emails[Type eq \"work\"].Value","value":"w@x"}]`,
		want: `{"userName":"jdoe","active":true,"name":{"givenName":"G"},"emails":[{"type":"work","value":"w@x"}]}`,
	},
	{
		name: "unknown attributes without path are ignored", rs: userRS, start: bareUser, changed: false,
		ops:  `[{"op":"add","value":{"favouriteColour":"blue","groups":[{"value":"g"}]}}]`,
		want: bareUser,
	},
	{
		name: "numbers and booleans as strings", rs: widgetRS, start: `{}`, changed: true,
		ops:  `[{"op":"add","value":{"count":"42","weight":"2.5","enabled":"True","sizes":["1",2]}}]`,
		want: `{"count":42,"weight":2.5,"enabled":true,"sizes":[1,2]}`,
	},
	{
		name: "immutable attribute may be set once", rs: widgetRS, start: `{}`, changed: true,
		ops:  `[{"op":"add","path":"serial","value":"S1"},{"op":"replace","path":"serial","value":"S1"}]`,
		want: `{"serial":"S1"}`,
	},
	{
		name: "whole members replaced although sub-attributes are immutable", rs: groupRS, start: storedGroup, changed: true,
		ops:  `[{"op":"replace","path":"members","value":[{"value":"u9","display":"Nine"}]}]`,
		want: `{"displayName":"Tour Guides","members":[{"value":"u9","display":"Nine"}]}`,
	},
}

// TestPatchErrors covers the error cases and their scimType.
func TestPatchErrors(t *testing.T) {
	t.Parallel()
	runPatchCases(t, errorPatchCases)
}

var errorPatchCases = []patchCase{
	{name: "op move", rs: userRS, start: bareUser, ops: `[{"op":"move","path":"active","value":true}]`, err: ScimTypeInvalidSyntax},
	{name: "op missing", rs: userRS, start: bareUser, ops: `[{"path":"active","value":true}]`, err: ScimTypeInvalidSyntax},
	{name: "operation not an object", rs: userRS, start: bareUser, ops: `["replace"]`, err: ScimTypeInvalidSyntax},
	{name: "no operations", rs: userRS, start: bareUser, ops: `[]`, err: ScimTypeInvalidSyntax},
	{name: "operations not a list", rs: userRS, start: bareUser, ops: `{"op":"add"}`, err: ScimTypeInvalidSyntax},
	{name: "unknown path", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"favouriteColour","value":"blue"}]`, err: ScimTypeInvalidPath},
	{name: "unknown sub-attribute", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"name.nick","value":"x"}]`, err: ScimTypeInvalidPath},
	{name: "malformed path", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"emails[type eq","value":"x"}]`, err: ScimTypeInvalidPath},
	{name: "malformed value-filter key without path", rs: userRS, start: bareUser, ops: `[{"op":"replace","value":{"emails[type eq":"x"}}]`, err: ScimTypeInvalidPath},
	{name: "unknown attribute in value filter", rs: userRS, start: bareUser, ops: `[{"op":"remove","path":"emails[foo eq \"x\"]"}]`, err: ScimTypeInvalidPath},
	{name: "ill-typed value filter", rs: userRS, start: bareUser, ops: `[{"op":"remove","path":"emails[primary gt true]"}]`, err: ScimTypeInvalidPath},
	{name: "value filter on a simple attribute", rs: userRS, start: bareUser, ops: `[{"op":"remove","path":"userName[value eq \"x\"]"}]`, err: ScimTypeInvalidPath},
	{name: "path not a string", rs: userRS, start: bareUser, ops: `[{"op":"remove","path":5}]`, err: ScimTypeInvalidPath},
	{name: "id is readOnly", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"id","value":"x"}]`, err: ScimTypeMutability},
	{name: "meta is readOnly", rs: userRS, start: bareUser, ops: `[{"op":"remove","path":"meta"}]`, err: ScimTypeMutability},
	{name: "meta.lastModified is readOnly", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"meta.lastModified","value":"2026-01-01T00:00:00Z"}]`, err: ScimTypeMutability},
	{name: "groups is readOnly", rs: userRS, start: bareUser, ops: `[{"op":"add","path":"groups","value":[{"value":"g"}]}]`, err: ScimTypeMutability},
	{name: "schemas is readOnly", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"schemas","value":["x"]}]`, err: ScimTypeMutability},
	{name: "manager.displayName is readOnly", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}]`, err: ScimTypeMutability},
	{name: "add without value", rs: userRS, start: bareUser, ops: `[{"op":"add","path":"nickName"}]`, err: ScimTypeInvalidValue},
	{name: "replace without value or path", rs: userRS, start: bareUser, ops: `[{"op":"replace"}]`, err: ScimTypeInvalidValue},
	{name: "boolean that is not one", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"active","value":"maybe"}]`, err: ScimTypeInvalidValue},
	{name: "userName as a number", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"userName","value":5}]`, err: ScimTypeInvalidValue},
	{name: "path-less value not an object", rs: userRS, start: bareUser, ops: `[{"op":"add","value":"x"}]`, err: ScimTypeInvalidValue},
	{name: "path-less bad boolean", rs: userRS, start: bareUser, ops: `[{"op":"replace","value":{"active":"maybe"}}]`, err: ScimTypeInvalidValue},
	{name: "complex attribute given a list", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"name","value":["x"]}]`, err: ScimTypeInvalidValue},
	{name: "integer with a fraction", rs: widgetRS, start: `{}`, ops: `[{"op":"add","path":"count","value":1.5}]`, err: ScimTypeInvalidValue},
	{name: "bad dateTime", rs: widgetRS, start: `{}`, ops: `[{"op":"add","path":"expires","value":"tomorrow"}]`, err: ScimTypeInvalidValue},
	{name: "bad binary", rs: widgetRS, start: `{}`, ops: `[{"op":"add","path":"blob","value":"not base64!"}]`, err: ScimTypeInvalidValue},
	{name: "remove without path", rs: userRS, start: bareUser, ops: `[{"op":"remove"}]`, err: ScimTypeNoTarget},
	{name: "remove of a required attribute", rs: userRS, start: storedUser, ops: `[{"op":"remove","path":"userName"}]`, err: ScimTypeInvalidValue},
	{name: "replace of a required attribute with null", rs: groupRS, start: storedGroup, ops: `[{"op":"replace","path":"displayName","value":null}]`, err: ScimTypeInvalidValue},
	{name: "change of an immutable member sub-attribute", rs: groupRS, start: storedGroup, ops: `[{"op":"replace","path":"members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].display","value":"Mandy"}]`, err: ScimTypeMutability},
	{name: "change of an immutable attribute", rs: widgetRS, start: `{"serial":"S1"}`, ops: `[{"op":"replace","path":"serial","value":"S2"}]`, err: ScimTypeMutability},
	{name: "removal of an immutable attribute", rs: widgetRS, start: `{"serial":"S1"}`, ops: `[{"op":"remove","path":"serial"}]`, err: ScimTypeMutability},
	{name: "replace with a filter that cannot create", rs: userRS, start: bareUser, ops: `[{"op":"replace","path":"emails[type pr].value","value":"x@y"}]`, err: ScimTypeNoTarget},
	{name: "replace with an or filter that matches nothing", rs: userRS, start: storedUser, ops: `[{"op":"replace","path":"emails[type eq \"home\" or type eq \"other\"].value","value":"x@y"}]`, err: ScimTypeNoTarget},
	{name: "replace of a member that is not one", rs: groupRS, start: storedGroup, ops: `[{"op":"replace","path":"members[value eq \"nobody\"]","value":{"value":"u20"}}]`, err: ScimTypeNoTarget},
	{name: "add through a value filter naming a value that is absent", rs: userRS, start: storedUser, ops: `[{"op":"add","path":"emails[value eq \"none@x.com\"].type","value":"home"}]`, err: ScimTypeNoTarget},
	{name: "replace of another manager", rs: userRS, start: storedUser, ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"x\"].value","value":"y"}]`, err: ScimTypeNoTarget},
	{
		name: "atomic: a failing second operation keeps the first out", rs: userRS, start: storedUser,
		ops: `[{"op":"replace","path":"displayName","value":"changed"},{"op":"replace","path":"active","value":"maybe"}]`, err: ScimTypeInvalidValue,
	},
}

func TestParsePatchStructure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, err string
	}{
		{"not JSON", `{`, ScimTypeInvalidSyntax},
		{"not an object", `[1]`, ScimTypeInvalidSyntax},
		{"no schemas", `{"Operations":[{"op":"add","path":"nickName","value":"x"}]}`, ScimTypeInvalidSyntax},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Operations":[{"op":"add","path":"nickName","value":"x"}]}`, ScimTypeInvalidSyntax},
		{"lower-case operations key", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"op":"add","path":"nickName","value":"x"}]}`, ""},
		{"capitalised keys", `{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"Op":"Add","Path":"nickName","Value":"x"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := ParsePatch(userRS, []byte(tt.body))
			if got := scimType(err); got != tt.err || (tt.err != "" && err == nil) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if tt.err == "" && (len(ops) != 1 || ops[0].Op != OpAdd || ops[0].Path != "nickName" || ops[0].Value != "x") {
				t.Errorf("ops = %+v", ops)
			}
		})
	}
	e, _ := AsError(func() error { _, err := ParsePatch(userRS, []byte(`{}`)); return err }())
	if e == nil || e.Status != 400 {
		t.Errorf("status %v, want 400", e)
	}
}

// TestApplyWithoutParsePatch: ops built in code are validated the same way.
func TestApplyWithoutParsePatch(t *testing.T) {
	t.Parallel()
	res := decode(t, bareUser)
	if _, _, err := Apply(userRS, res, []Operation{{Op: "Delete", Path: "active"}}); scimType(err) != ScimTypeInvalidSyntax {
		t.Errorf("unknown op: %v", err)
	}
	if _, _, err := Apply(userRS, res, []Operation{{Op: "replace", Path: "id", Value: "x"}}); scimType(err) != ScimTypeMutability {
		t.Errorf("readOnly path: %v", err)
	}
	if _, _, err := Apply(userRS, res, []Operation{{Op: "remove"}}); scimType(err) != ScimTypeNoTarget {
		t.Errorf("remove without path: %v", err)
	}
	out, changed, err := Apply(userRS, res, []Operation{{Op: "Add", Path: "emails", Value: []map[string]any{{"value": "a@b"}}}})
	if err != nil || !changed || !sameJSON(t, out, `{"userName":"jdoe","active":true,"emails":[{"value":"a@b"}]}`) {
		t.Errorf("got %v %v %v", toJSON(t, out), changed, err)
	}
	out, changed, err = Apply(userRS, res, nil)
	if err != nil || changed || !sameJSON(t, out, bareUser) {
		t.Errorf("no operations: %v %v %v", out, changed, err)
	}
	out["userName"] = "mutated"
	if res["userName"] != "jdoe" {
		t.Error("output aliases the input")
	}
}
