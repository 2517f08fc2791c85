package filter

import "testing"

// IdP bodies Normalize sees on every create and PUT, as Okta and Microsoft
// Entra ID send them.
const (
	oktaUserBody = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
	  "userName":"test.user@okta.local",
	  "name":{"givenName":"Test","familyName":"User"},
	  "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
	  "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
	  "groups":[],"password":"1mz050nq","active":true}`
	entraUserBody = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	  "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
	  "userName":"Test_User_dfeef4c5-5681-4387-b016-bdf221e82081@contoso.test",
	  "active":"True","displayName":"Test User","title":"Engineer","preferredLanguage":"en-US",
	  "emails":[{"primary":true,"type":"work","value":"Test_User_11bb6@contoso.test"}],
	  "meta":{"resourceType":"User"},
	  "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
	  "phoneNumbers":[{"type":"work","value":"+1 555 0100"},{"type":"mobile","value":"+1 555 0101"}],
	  "addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Redmond","region":"WA","postalCode":"98052","country":"US","primary":"True"}],
	  "roles":[],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Engineering","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`
)

// BenchmarkNormalize normalizes the user bodies of a create by Okta and by
// Entra.
func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, body string }{{"okta", oktaUserBody}, {"entra", entraUserBody}} {
		b.Run(bc.name, func(b *testing.B) {
			res := decode(b, bc.body)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(userRS, res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
