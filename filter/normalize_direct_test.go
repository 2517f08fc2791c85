package filter

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// normalizeSchemas are the schemas the equivalence checks run every body
// against.
var normalizeSchemas = []*ResourceSchema{userRS, groupRS, widgetRS, acmeRS}

// emailsBody returns a body with n emails, every third one primary.
func emailsBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"userName":"many","emails":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"u%d@example.com","type":"work","primary":%v}`, i%(n/2+1), i%3 == 0)
	}
	b.WriteString(`]}`)
	return b.String()
}

// directCases are bodies the direct normalizer answers (direct) or leaves
// to the patcher.
var directCases = []struct {
	rs     *ResourceSchema
	body   string
	direct bool
}{
	{userRS, oktaUserBody, true},
	{userRS, entraUserBody, true},
	{acmeRS, entraUserBody, true},
	{groupRS, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"u1","display":"one"},{"value":"u1"},"u2"]}`, true},
	{userRS, `{"USERNAME":"b","Name":{"GivenName":"x"},"EMAILS":[{"VALUE":"a@b","Primary":"True"}],"active":"False"}`, true},
	{userRS, `{"userName":"b","emails":[{"value":"a@b","type":"work"},{"value":"A@B","type":"Work","display":"A","primary":true},{"value":"c@d","primary":true}]}`, true},
	{userRS, `{"userName":"b","emails":{"value":"a@b"},"phoneNumbers":["1","2"],"x509Certificates":[null,{}]}`, true},
	{userRS, `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m","department":"","costCenter":"C","division":""}}`, true},
	{userRS, `{"userName":"b","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"Department":"D"},"urn:ietf:params:scim:schemas:core:2.0:User:displayName":"B"}`, true},
	{userRS, `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":""}}`, true},
	{userRS, emailsBody(maxDirectElems), true},
	{userRS, emailsBody(maxDirectElems + 1), false},
	{userRS, `{"userName":"b","USERNAME":"c"}`, false},
	{userRS, `{"userName":"b","urn:ietf:params:scim:schemas:core:2.0:User:userName":"c"}`, false},
	{userRS, `{"userName":"b","name.givenName":"x"}`, false},
	{userRS, `{"userName":"b","department":"D"}`, false},
	{userRS, `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D"}`, false},
	{userRS, `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager.value":"m"}}`, false},
	{userRS, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{},"URN:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`, false},
	{userRS, `{"name":{"givenName":"a","GIVENNAME":"b"}}`, false},
	{userRS, `{"userName":"b","active":"maybe"}`, false},
	{widgetRS, `{"serial":"a","SERIAL":"b"}`, false},
}

// checkNormalize fails unless Normalize gives the patcher's result and error
// for res, leaving res untouched, and the direct normalizer, when it
// answers, gives the same result. It reports whether the direct normalizer
// answered.
func checkNormalize(t *testing.T, rs *ResourceSchema, res map[string]any) bool {
	t.Helper()
	before := toJSON(t, res)
	want, wantErr := newPatcher(rs.impl, map[string]any{}).normalize(res)
	direct, ok := rs.impl.normalizeDirect(res)
	if ok && (wantErr != nil || !reflect.DeepEqual(direct, want)) {
		t.Fatalf("direct normalizer answered %s, the patcher %s, %v", toJSON(t, direct), toJSON(t, want), wantErr)
	}
	got, err := Normalize(rs, res)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Normalize gave %s, the patcher %s", toJSON(t, got), toJSON(t, want))
	}
	e, _ := AsError(err)
	we, _ := AsError(wantErr)
	if (err == nil) != (wantErr == nil) || (err != nil && (e == nil || we == nil || *e != *we)) {
		t.Fatalf("Normalize failed with %v, the patcher with %v", err, wantErr)
	}
	if after := toJSON(t, res); after != before {
		t.Fatalf("input modified: %s", after)
	}
	return ok
}

func TestNormalizeDirect(t *testing.T) {
	t.Parallel()
	for _, tt := range directCases {
		name := tt.body
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			if got := checkNormalize(t, tt.rs, decode(t, tt.body)); got != tt.direct {
				t.Errorf("direct normalizer answered: %v, want %v", got, tt.direct)
			}
		})
	}
}

// TestDirectNormalizable: schemas whose names collide ignoring case, or
// whose extension ids do not resolve to their objects, always take the
// patcher.
func TestDirectNormalizable(t *testing.T) {
	t.Parallel()
	for _, rs := range normalizeSchemas {
		if !rs.impl.direct {
			t.Errorf("schema %s does not take the direct normalizer", rs.impl.coreID)
		}
	}
	core := schema.CoreUserSchema()
	inside := schema.Schema{ID: core.ID + ":x", Name: optional.NewString("X"), Attributes: []schema.CoreAttribute{
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "code"})),
	}}
	// The library's constructors refuse such names, its JSON form does not.
	var folded schema.Schema
	if err := json.Unmarshal([]byte(`{"id":"urn:example:scim:schemas:Folded","name":"Folded","attributes":[
	  {"name":"code","type":"string"},{"name":"CODE","type":"string"}]}`), &folded); err != nil {
		t.Fatal(err)
	}
	for name, rs := range map[string]*ResourceSchema{
		"extension inside the core schema": NewResourceSchema(core, inside),
		"attributes equal ignoring case":   NewResourceSchema(core, folded),
	} {
		if rs.impl.direct {
			t.Errorf("%s: takes the direct normalizer", name)
		}
		checkNormalize(t, rs, decode(t, `{"userName":"u","`+core.ID+`:x":{"code":"d"},"urn:example:scim:schemas:Folded":{"code":"e","CODE":"f"}}`))
	}
}

// normalizeSeeds are bodies for FuzzNormalizeEquivalence besides
// directCases: IdP bodies, wrong types, nulls, duplicates, several
// primaries, mixed case, URN-qualified keys and extension attributes.
var normalizeSeeds = []string{
	bjensenJSON, jsmithJSON, aliceJSON, driftJSON, groupJSON, storedUser, bareUser, storedGroup,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"x","meta":{"version":"1"},"groups":[{"value":"g"}],"foo":1,"userName":"b","externalId":"E",
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m","displayName":"M"},"bar":2}}`,
	`{"userName":"b","nickName":null,"emails":[],"name":{"givenName":null},"phoneNumbers":[null],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`,
	`{"userName":"b","emails":["a@b","c@d"],"ims":"x","roles":{"value":"r"},"entitlements":[["e"]]}`,
	`{"userName":"b","emails":[{"value":"a@b","primary":true},{"value":"c@d","primary":"true"},{"value":"A@B","primary":"TRUE","type":"home"}]}`,
	`{"userName":"b","emails":[{"value":"a@b","type":"work"},{"value":"A@B","type":"Work","display":"A"},{"value":"a@b","type":"WORK","primary":true}]}`,
	`{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"b","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"Department":"D"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter":"C","name.familyName":"F"}`,
	`{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1","employeeNumber":"","organization":"O","costCenter":""}}`,
	`{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":""},"Division":"","department":null}}`,
	`{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":[{"value":"m"}]}}`,
	`{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`,
	`{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":1}}`,
	`{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D","a.b":"c","x.y.z":1,"$ref":"r"}}`,
	`{"userName":"a","emails":[{"value":"a@x","primary":true},{"value":"b@x","type":"work"}],
	  "urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"costCenterCode":"CC1","badgeNumber":"42","skills":["go","sql","GO"],"site":{"code":"PAR","name":"Paris"},"level":"senior","hired":"2026-01-02T00:00:00Z","pin":"1234","clearance":"","contractor":"False"}}`,
	`{"userName":"a","urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"level":"Expert"}}`,
	`{"userName":"a","costCenterCode":"C","skills":"one","urn:ietf:params:scim:schemas:extension:acme:2.0:User:site.code":"X"}`,
	`{"displayName":"G","members":[{"value":"u1","display":"one"},{"value":"u1","display":"uno"},{"value":"u2"},"u3",null,{"display":"no value"}]}`,
	`{"displayName":"","members":{"value":"u1"},"Members":[{"value":"u2"}]}`,
	`{"count":"42","weight":1e2,"sizes":"7","expires":"2026-01-01T00:00:00Z","blob":"QUJD","code":"","label":"L","serial":"S","secret":"s","enabled":"yes"}`,
	`{"count":1.5}`, `{"count":"1e999"}`, `{"expires":"soon"}`, `{"sizes":[1,"2",1,2.0,null]}`, `{"serial":"a","SERIAL":null}`,
	`{"userName":5}`, `{"name":"x"}`, `{"name":{"givenName":true}}`, `{"active":"maybe"}`, `{"emails":[{"value":"a","primary":"yes"}]}`,
	`{"ÜSERNAME":"a","user\u212aame":"b","userName ":"c","":"d","$ref":"e","urn:":"f","urn::x":"g"}`,
	`{}`,
	emailsBody(maxDirectElems + 10),
	emailsBody(200),
}

// FuzzNormalizeEquivalence: whatever the body, Normalize (the direct
// normalizer where it answers) gives the patcher's result and error.
func FuzzNormalizeEquivalence(f *testing.F) {
	for _, tt := range directCases {
		f.Add(tt.body)
	}
	for _, s := range normalizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		defer watchdog(body)()
		res, err := DecodeJSONObject(body)
		if err != nil {
			return
		}
		for _, rs := range normalizeSchemas {
			checkNormalize(t, rs, res)
		}
	})
}
