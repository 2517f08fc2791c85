package filter

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rs     *ResourceSchema
		filter string
		want   []Lookup // nil: needs a scan
	}{
		{userRS, `userName eq "BJensen"`, []Lookup{{"userName", []string{"bjensen"}}}},
		{userRS, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "A"`, []Lookup{{"userName", []string{"a"}}}},
		{userRS, `externalId eq "AbC"`, []Lookup{{"externalId", []string{"AbC"}}}},
		{userRS, `id eq "X-1"`, []Lookup{{"id", []string{"X-1"}}}},
		{userRS, `emails.value eq "A@B.c"`, []Lookup{{"emails.value", []string{"a@b.c"}}}},
		{userRS, `emails eq "A@B.c"`, []Lookup{{"emails.value", []string{"a@b.c"}}}},
		{userRS, `emails[value eq "A@x"]`, []Lookup{{"emails.value", []string{"a@x"}}}},
		{userRS, `emails[value eq "x" and type eq "work"]`, []Lookup{{"emails.value", []string{"x"}}}},
		{userRS, `emails[value eq "x" or value eq "y"]`, []Lookup{{"emails.value", []string{"x", "y"}}}},
		{userRS, `userName eq "a" and title pr`, []Lookup{{"userName", []string{"a"}}}},
		{userRS, `title pr and externalId eq "e"`, []Lookup{{"externalId", []string{"e"}}}},
		{userRS, `userName eq "a" or userName eq "B" or userName eq "a"`, []Lookup{{"userName", []string{"a", "b"}}}},
		{userRS, `userName eq "a" or externalId eq "b"`, []Lookup{{"userName", []string{"a"}}, {"externalId", []string{"b"}}}},
		{userRS, `(userName eq "a" or userName eq "b") and externalId eq "c"`, []Lookup{{"externalId", []string{"c"}}}},
		{userRS, `userName eq "a" and (externalId eq "b" or id eq "c")`, []Lookup{{"userName", []string{"a"}}}},
		{userRS, `emails[type eq "work"]`, nil},
		{userRS, `userName eq "a" or title pr`, nil},
		{userRS, `not (userName eq "a")`, nil},
		{userRS, `userName ne "a"`, nil},
		{userRS, `userName sw "a"`, nil},
		{userRS, `userName eq null`, nil},
		{userRS, `displayName eq "x"`, nil},
		{userRS, `emails.type eq "work"`, nil},
		{userRS, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, nil},
		{groupRS, `displayName eq "Tour Guides"`, []Lookup{{"displayName", []string{"tour guides"}}}},
		{groupRS, `members[value eq "U1"]`, []Lookup{{"members.value", []string{"U1"}}}},
		{groupRS, `members.value eq "U1" and displayName sw "T"`, []Lookup{{"members.value", []string{"U1"}}}},
		{groupRS, `externalId eq "G"`, []Lookup{{"externalId", []string{"G"}}}},
		{groupRS, `members[display eq "x"]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, ok := mustCompile(t, tt.rs, tt.filter).Plan()
			if tt.want == nil {
				if ok {
					t.Errorf("planned %v, want a scan", got)
				}
				return
			}
			if !ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan() = %v, %v; want %v", got, ok, tt.want)
			}
		})
	}
}

// indexKeys is a fake store index: the keys under which a resource is found.
func indexKeys(res map[string]any) map[string][]string {
	keys := map[string][]string{}
	str := func(v any) (string, bool) { s, ok := v.(string); return s, ok }
	if s, ok := str(res["id"]); ok {
		keys["id"] = append(keys["id"], s)
	}
	if s, ok := str(res["externalId"]); ok {
		keys["externalId"] = append(keys["externalId"], s)
	}
	if s, ok := str(res["userName"]); ok {
		keys["userName"] = append(keys["userName"], strings.ToLower(s))
	}
	if s, ok := str(res["displayName"]); ok {
		keys["displayName"] = append(keys["displayName"], strings.ToLower(s))
	}
	for _, attr := range []string{"emails", "members"} {
		list, _ := res[attr].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			if s, ok := str(m["value"]); ok {
				if attr == "emails" {
					s = strings.ToLower(s)
				}
				keys[attr+".value"] = append(keys[attr+".value"], s)
			}
		}
	}
	return keys
}

// planCovers reports whether a resource matching f is found by its plan.
func planCovers(lookups []Lookup, res map[string]any) bool {
	keys := indexKeys(res)
	for _, l := range lookups {
		for _, v := range l.Values {
			if slices.Contains(keys[l.Attr], v) {
				return true
			}
		}
	}
	return false
}

// TestPlanIsSuperset: every resource that matches is among the candidates.
func TestPlanIsSuperset(t *testing.T) {
	t.Parallel()
	population := samples(t)
	population = append(population,
		map[string]any{"userName": "İstanbul", "emails": []any{map[string]any{"value": "K@x.org"}}},
		map[string]any{"userName": "straße", "externalId": "ΣΑΣ"},
	)
	filters := []string{
		`userName eq "BJENSEN"`, `userName eq "i̇stanbul"`, `userName eq "STRASSE"`, `userName eq "Straße"`,
		`emails.value eq "k@x.org"`, `emails eq "\u212a@x.org"`, `externalId eq "ΣΑΣ"`,
		`emails[value eq "BJENSEN@example.com" and type eq "work"]`, `id eq "a1" or userName eq "jsmith"`,
		`externalId eq "701984" and active eq true`,
	}
	for _, s := range filters {
		f := mustCompile(t, userRS, s)
		lookups, ok := f.Plan()
		if !ok {
			t.Errorf("%s: no plan", s)
			continue
		}
		for i, r := range population {
			if f.Match(r) && !planCovers(lookups, r) {
				t.Errorf("%s matches resource %d, which plan %v misses", s, i, lookups)
			}
		}
	}
	group := decode(t, groupJSON)
	f := mustCompile(t, groupRS, `members[value eq "902c246b-6245-4190-8e05-00816be7344a"]`)
	l, _ := f.Plan()
	if !f.Match(group) || !planCovers(l, group) {
		t.Errorf("group member lookup %v does not find the group", l)
	}
}
