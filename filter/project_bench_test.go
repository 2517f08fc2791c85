package filter

import "testing"

// oktaUserView is a user as the bridge renders it for Okta: the stored
// attributes Okta provisions plus schemas, id, meta and the derived groups.
const oktaUserView = `{
  "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id":"0b4b5a3e-5e0d-4c1f-8f7a-2f3e1c9d4a11",
  "externalId":"00u1ab2cd3EF4gh5i6j7",
  "meta":{"resourceType":"User","created":"2026-11-02T09:14:07.123Z","lastModified":"2026-12-01T16:40:55.004Z",
    "location":"https://scim.example.com/scim/v2/Users/0b4b5a3e-5e0d-4c1f-8f7a-2f3e1c9d4a11","version":"W/\"17\""},
  "userName":"isabel.ferreira@example.com",
  "name":{"givenName":"Isabel","familyName":"Ferreira","middleName":"M","honorificPrefix":"Dr."},
  "displayName":"Isabel Ferreira",
  "nickName":"Bel",
  "title":"Structural Engineer",
  "userType":"Employee",
  "preferredLanguage":"pt-PT",
  "locale":"pt_PT",
  "timezone":"Europe/Lisbon",
  "active":true,
  "emails":[{"value":"isabel.ferreira@example.com","type":"work","primary":true},{"value":"isabel@home.example.org","type":"home"}],
  "phoneNumbers":[{"value":"+351 21 555 0101","type":"work","primary":true},{"value":"+351 91 555 0102","type":"mobile"}],
  "addresses":[{"streetAddress":"Avenida da Liberdade 110","locality":"Lisboa","region":"Lisboa","postalCode":"1269-046","country":"PT","type":"work","primary":true}],
  "groups":[
    {"value":"7d1c0e8a-1b2c-4d3e-9f00-aa11bb22cc33","display":"Engineering","$ref":"https://scim.example.com/scim/v2/Groups/7d1c0e8a-1b2c-4d3e-9f00-aa11bb22cc33","type":"direct"},
    {"value":"8e2d1f9b-2c3d-4e4f-a011-bb22cc33dd44","display":"Lisbon Office","$ref":"https://scim.example.com/scim/v2/Groups/8e2d1f9b-2c3d-4e4f-a011-bb22cc33dd44","type":"direct"},
    {"value":"9f3e2a0c-3d4e-4f50-b122-cc33dd44ee55","display":"BIM Viewers","$ref":"https://scim.example.com/scim/v2/Groups/9f3e2a0c-3d4e-4f50-b122-cc33dd44ee55","type":"direct"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
    "employeeNumber":"40213","costCenter":"CC-310","organization":"Example Engineering","division":"Structures","department":"Bridges",
    "manager":{"value":"1c2d3e4f-5a6b-4c7d-8e9f-001122334455","$ref":"https://scim.example.com/scim/v2/Users/1c2d3e4f-5a6b-4c7d-8e9f-001122334455","displayName":"Rui Almeida"}}
}`

// entraUserView is a user as the bridge renders it for Microsoft Entra ID.
const entraUserView = `{
  "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id":"5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c",
  "externalId":"b7c1f0a2-4d5e-4c3b-9a8f-7e6d5c4b3a21",
  "meta":{"resourceType":"User","created":"2026-10-21T07:02:44.511Z","lastModified":"2026-12-02T11:19:03.870Z",
    "location":"https://scim.example.com/scim/v2/Users/5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c","version":"W/\"9\""},
  "userName":"jonas.becker@contoso.example",
  "active":true,
  "displayName":"Jonas Becker",
  "title":"Project Manager",
  "preferredLanguage":"de-DE",
  "name":{"formatted":"Jonas Becker","familyName":"Becker","givenName":"Jonas"},
  "emails":[{"type":"work","value":"jonas.becker@contoso.example","primary":true}],
  "phoneNumbers":[{"type":"work","value":"+49 30 5550 1234"},{"type":"mobile","value":"+49 151 5550 9876"},{"type":"fax","value":"+49 30 5550 1299"}],
  "addresses":[{"type":"work","formatted":"Friedrichstraße 68, 10117 Berlin, DE","streetAddress":"Friedrichstraße 68","locality":"Berlin","region":"BE","postalCode":"10117","country":"DE","primary":true}],
  "groups":[
    {"value":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","display":"Project Managers","$ref":"https://scim.example.com/scim/v2/Groups/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","type":"direct"},
    {"value":"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e","display":"Berlin","$ref":"https://scim.example.com/scim/v2/Groups/b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e","type":"direct"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
    "employeeNumber":"E-77120","department":"Delivery","costCenter":"4711","organization":"Contoso","division":"Infrastructure",
    "manager":{"value":"c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f","$ref":"https://scim.example.com/scim/v2/Users/c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f","displayName":"Petra Schulz"}}
}`

// BenchmarkProjectDefault projects full user views without attributes or
// excludedAttributes, as the bridge does for almost every response.
func BenchmarkProjectDefault(b *testing.B) {
	for _, c := range []struct{ name, view string }{{"okta", oktaUserView}, {"entra", entraUserView}} {
		b.Run(c.name, func(b *testing.B) {
			res := decode(b, c.view)
			b.ReportAllocs()
			for b.Loop() {
				if p := Project(userRS, res, nil, nil); len(p) != len(res) {
					b.Fatalf("projection kept %d of %d attributes", len(p), len(res))
				}
			}
		})
	}
}
