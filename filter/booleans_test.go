package filter

import (
	"slices"
	"testing"
)

// Microsoft Entra ID and its validator send booleans as the strings "True",
// "False", "true" and "false". They are accepted wherever the schema says
// boolean and become real booleans; anything else is 400 invalidValue (in a
// filter, invalidFilter).

func TestStringBooleansOnWrite(t *testing.T) {
	t.Parallel()
	rs := acmeSchema(t, false)
	for _, tt := range []struct{ in, want string }{
		{`{"userName":"a","active":"True"}`, `{"userName":"a","active":true}`},
		{`{"userName":"a","active":"False"}`, `{"userName":"a","active":false}`},
		{`{"userName":"a","active":"true"}`, `{"userName":"a","active":true}`},
		{`{"userName":"a","active":"false"}`, `{"userName":"a","active":false}`},
		{`{"userName":"a","emails":[{"value":"a@x","primary":"True"},{"value":"b@x","primary":"False"}]}`,
			`{"userName":"a","emails":[{"value":"a@x","primary":true},{"value":"b@x","primary":false}]}`},
		{`{"userName":"a","` + acmeURN + `":{"contractor":"True"}}`, `{"userName":"a","` + acmeURN + `":{"contractor":true}}`},
		{`{"userName":"a","` + acmeURN + `:contractor":"false"}`, `{"userName":"a","` + acmeURN + `":{"contractor":false}}`},
	} {
		got, err := Normalize(rs, decode(t, tt.in))
		if err != nil {
			t.Errorf("Normalize(%s): %v", tt.in, err)
			continue
		}
		if !sameJSON(t, got, tt.want) {
			t.Errorf("Normalize(%s) = %s, want %s", tt.in, toJSON(t, got), tt.want)
		}
	}
	for _, bad := range []string{`"yes"`, `"1"`, `""`, `1`, `0`, `"Truee"`, `" true"`, `["true"]`, `{"value":true}`} {
		for _, in := range []string{
			`{"userName":"a","active":` + bad + `}`,
			`{"userName":"a","emails":[{"value":"a@x","primary":` + bad + `}]}`,
			`{"userName":"a","` + acmeURN + `":{"contractor":` + bad + `}}`,
		} {
			if _, err := Normalize(rs, decode(t, in)); scimType(err) != ScimTypeInvalidValue {
				t.Errorf("Normalize(%s): %v, want invalidValue", in, err)
			}
		}
	}
}

func TestStringBooleansInPatch(t *testing.T) {
	t.Parallel()
	rs := acmeSchema(t, false)
	start := `{"userName":"a","active":true,"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`
	runPatchCases(t, []patchCase{
		{name: "path value", rs: rs, start: start, changed: true,
			ops:  `[{"op":"Replace","path":"active","value":"False"}]`,
			want: `{"userName":"a","active":false,"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`},
		{name: "path-less replace map", rs: rs, start: start, changed: true,
			ops:  `[{"op":"Replace","value":{"active":"false","` + acmeURN + `:contractor":"True"}}]`,
			want: `{"userName":"a","active":false,"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}],"` + acmeURN + `":{"contractor":true}}`},
		{name: "path-less extension object", rs: rs, start: start, changed: true,
			ops:  `[{"op":"add","value":{"` + acmeURN + `":{"contractor":"False"}}}]`,
			want: `{"userName":"a","active":true,"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}],"` + acmeURN + `":{"contractor":false}}`},
		{name: "value filter on a boolean and value of a sub-attribute", rs: rs, start: start, changed: true,
			ops:  `[{"op":"replace","path":"emails[type eq \"home\" and primary ne \"True\"].primary","value":"True"}]`,
			want: `{"userName":"a","active":true,"emails":[{"value":"w@x","type":"work","primary":false},{"value":"h@x","type":"home","primary":true}]}`},
		{name: "value filter on a boolean", rs: rs, start: start, changed: true,
			ops:  `[{"op":"remove","path":"emails[primary eq \"True\"]"}]`,
			want: `{"userName":"a","active":true,"emails":[{"value":"h@x","type":"home"}]}`},
		{name: "elements of a value list", rs: rs, start: start, changed: true,
			ops:  `[{"op":"add","path":"emails","value":[{"value":"n@x","primary":"True"}]}]`,
			want: `{"userName":"a","active":true,"emails":[{"value":"w@x","type":"work","primary":false},{"value":"h@x","type":"home"},{"value":"n@x","primary":true}]}`},
		{name: "remove with an equal value", rs: rs, start: start, changed: true,
			ops:  `[{"op":"remove","path":"active","value":"True"}]`,
			want: `{"userName":"a","emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`},
		{name: "not a boolean", rs: rs, start: start, ops: `[{"op":"replace","path":"active","value":"yes"}]`, err: ScimTypeInvalidValue},
		{name: "not a boolean without path", rs: rs, start: start, ops: `[{"op":"replace","value":{"active":"1"}}]`, err: ScimTypeInvalidValue},
		{name: "not a boolean in an element", rs: rs, start: start, ops: `[{"op":"add","path":"emails","value":[{"value":"n@x","primary":"no"}]}]`, err: ScimTypeInvalidValue},
		{name: "not a boolean in a value filter", rs: rs, start: start, ops: `[{"op":"remove","path":"emails[primary eq \"yes\"]"}]`, err: ScimTypeInvalidPath},
	})
}

func TestStringBooleansInFilters(t *testing.T) {
	t.Parallel()
	res := users(t)
	for expr, want := range map[string][]string{
		`active eq "True"`:                              {"bjensen"},
		`active eq "true"`:                              {"bjensen"},
		`active eq "False"`:                             {"jsmith"},
		`active ne "false"`:                             {"alice", "bjensen", "drift"},
		`emails[primary eq "True"]`:                     {"alice", "bjensen"},
		`emails[type eq "work" and primary eq "False"]`: {},
		`emails.primary eq "true"`:                      {"alice", "bjensen"},
	} {
		if got := matching(mustCompile(t, userRS, expr), res); !slices.Equal(got, want) {
			t.Errorf("%s matches %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{`active eq "yes"`, `active eq 1`, `active eq "1"`, `active gt "True"`, `emails[primary eq "no"]`, `active co "true"`} {
		if _, err := Compile(userRS, bad); scimType(err) != ScimTypeInvalidFilter {
			t.Errorf("Compile(%s) = %v, want invalidFilter", bad, err)
		}
	}
	// The canonical form holds a real boolean.
	if got := mustCompile(t, userRS, `active eq "False"`).String(); got != `active eq false` {
		t.Errorf("canonical form %s", got)
	}
}
