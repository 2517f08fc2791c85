package filter

import (
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rs   *ResourceSchema
		in   string
		want string
	}{
		{
			name: "canonical names and coercion", rs: userRS,
			in:   `{"USERNAME":"b","Name":{"GivenName":"x"},"EMAILS":[{"VALUE":"a@b","Primary":"True"}],"active":"False"}`,
			want: `{"userName":"b","name":{"givenName":"x"},"emails":[{"value":"a@b","primary":true}],"active":false}`,
		},
		{
			name: "read-only, unknown and server attributes dropped", rs: userRS,
			in: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"x","meta":{"version":"1"},"groups":[{"value":"g"}],"foo":1,"userName":"b","externalId":"E",
			  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m","displayName":"M"},"bar":2}}`,
			want: `{"userName":"b","externalId":"E","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`,
		},
		{
			name: "unassigned values dropped", rs: userRS,
			in:   `{"userName":"b","nickName":null,"emails":[],"name":{"givenName":null},"phoneNumbers":[null],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`,
			want: `{"userName":"b"}`,
		},
		{
			name: "single object for a multi-valued attribute", rs: userRS,
			in:   `{"userName":"b","emails":{"value":"a@b","type":"work"}}`,
			want: `{"userName":"b","emails":[{"value":"a@b","type":"work"}]}`,
		},
		{
			name: "bare values for a complex multi-valued attribute", rs: userRS,
			in:   `{"userName":"b","emails":["a@b","c@d"]}`,
			want: `{"userName":"b","emails":[{"value":"a@b"},{"value":"c@d"}]}`,
		},
		{
			name: "first primary wins", rs: userRS,
			in:   `{"userName":"b","emails":[{"value":"a@b","primary":true},{"value":"c@d","primary":"true"}]}`,
			want: `{"userName":"b","emails":[{"value":"a@b","primary":true},{"value":"c@d","primary":false}]}`,
		},
		{
			name: "duplicates merged", rs: userRS,
			in:   `{"userName":"b","emails":[{"value":"a@b","type":"work"},{"value":"A@B","type":"Work","display":"A"}]}`,
			want: `{"userName":"b","emails":[{"value":"a@b","type":"work","display":"A"}]}`,
		},
		{
			name: "duplicate members dropped", rs: groupRS,
			in:   `{"displayName":"G","members":[{"value":"u1","display":"one"},{"value":"u1","display":"uno"},{"value":"u2"}]}`,
			want: `{"displayName":"G","members":[{"value":"u1","display":"one"},{"value":"u2"}]}`,
		},
		{
			name: "URN keys", rs: userRS,
			in:   `{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"b","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"Department":"D"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter":"C","name.familyName":"F"}`,
			want: `{"userName":"b","name":{"familyName":"F"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","costCenter":"C"}}`,
		},
		{
			name: "manager as a plain id", rs: userRS,
			in:   `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"}}`,
			want: `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m-1"}}}`,
		},
		{
			name: "numbers", rs: widgetRS,
			in:   `{"count":"42","weight":1e2,"sizes":"7","expires":"2026-01-01T00:00:00Z","blob":"QUJD"}`,
			want: `{"count":42,"weight":100,"sizes":[7],"expires":"2026-01-01T00:00:00Z","blob":"QUJD"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := decode(t, tt.in)
			before := toJSON(t, in)
			out, err := Normalize(tt.rs, in)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, out, tt.want) {
				t.Errorf("got  %s\nwant %s", toJSON(t, out), tt.want)
			}
			if toJSON(t, in) != before {
				t.Error("input modified")
			}
			again, err := Normalize(tt.rs, out)
			if err != nil || toJSON(t, again) != toJSON(t, out) {
				t.Errorf("not idempotent: %s, %v", toJSON(t, again), err)
			}
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rs *ResourceSchema
		in string
	}{
		{userRS, `{"active":"maybe"}`},
		{userRS, `{"userName":5}`},
		{userRS, `{"name":"x"}`},
		{userRS, `{"name":{"givenName":true}}`},
		{userRS, `{"emails":[{"value":"a","primary":"yes"}]}`},
		{userRS, `{"emails":[["a@b"]]}`},
		{userRS, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`},
		{userRS, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":1}}`},
		{widgetRS, `{"count":1.5}`},
		{widgetRS, `{"count":"1e999"}`},
		{widgetRS, `{"expires":"soon"}`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			out, err := Normalize(tt.rs, decode(t, tt.in))
			if scimType(err) != ScimTypeInvalidValue || out != nil {
				t.Errorf("got %v, %v; want invalidValue", out, err)
			}
		})
	}
}
