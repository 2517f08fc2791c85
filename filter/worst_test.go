package filter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Inputs of the worst shapes a request within a 1 MiB body can take, shared
// by the benchmarks (BenchmarkWorst*, each well under 200 ms of CPU per
// operation) and the operation-count tests.

const maxBody = 1 << 20

// manyEmails is a user carrying n work emails.
func manyEmails(n int) map[string]any {
	emails := make([]any, n)
	for i := range emails {
		emails[i] = map[string]any{"value": fmt.Sprintf("user%06d@example.com", i), "type": "work", "primary": i%2 == 0}
	}
	return map[string]any{"userName": "many", "emails": emails}
}

// manyMembers is a group of n members.
func manyMembers(n int) map[string]any {
	members := make([]any, n)
	for i := range members {
		members[i] = map[string]any{"value": fmt.Sprintf("2819c223-7f76-453a-919d-%012d", i)}
	}
	return map[string]any{"displayName": "big", "members": members}
}

// opsBody builds a PATCH body of as many operations made by op(i) as fit in
// a 1 MiB body, or until op returns "".
func opsBody(op func(i int) string) []byte {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`)
	for i := 0; ; i++ {
		o := op(i)
		if o == "" || b.Len()+len(o)+3 > maxBody {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(o)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// worstFilters are filters of MaxFilterLength bytes or MaxFilterDepth levels.
func worstFilters() map[string]string {
	fill := func(term, sep string) string { return fillTo(MaxFilterLength, term, sep) }
	return map[string]string{
		"or-chain":       fill(`userName eq "u%d"`, " or "),
		"and-chain":      fill(`emails.value co "%d"`, " and "),
		"value-filters":  fill(`emails[type eq "work" and value sw "%d"]`, " or "),
		"wide-valfilter": "emails[" + fillTo(MaxFilterLength-len("emails[]"), `value eq "v%d"`, " or ") + "]",
		"deep-parens":    strings.Repeat("(", MaxFilterDepth) + `userName eq "x"` + strings.Repeat(")", MaxFilterDepth),
		"deep-not":       strings.Repeat("not (", MaxFilterDepth) + `userName eq "x"` + strings.Repeat(")", MaxFilterDepth),
		"nested-mixed":   strings.Repeat(`(userName eq "a" or (`, 16) + `title pr` + strings.Repeat(`))`, 16),
	}
}

// fillTo joins term(i) for i = 0, 1, ... with sep up to max bytes.
func fillTo(max int, term, sep string) string {
	var b strings.Builder
	for i := 0; ; i++ {
		t := fmt.Sprintf(term, i)
		if b.Len()+len(sep)+len(t) > max {
			return b.String()
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(t)
	}
}

// loopCPU runs f b.N times and reports the process CPU time per run
// (cpu-ms/op, garbage collection included): wall time is not CPU time on a
// shared machine.
func loopCPU(b *testing.B, f func()) {
	b.Helper()
	start := processCPU(b)
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(processCPU(b)-start)/float64(n)/1e6, "cpu-ms/op")
	}
}

func mustNormalize(tb testing.TB, rs *ResourceSchema, res map[string]any) map[string]any {
	tb.Helper()
	out, err := Normalize(rs, res)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkWorstNormalize normalizes a POST body of 20,000 emails and one
// of 100,000 members.
func BenchmarkWorstNormalize(b *testing.B) {
	for _, c := range []struct {
		name string
		rs   *ResourceSchema
		res  map[string]any
	}{
		{"20k-emails", userRS, manyEmails(20000)},
		{"100k-members", groupRS, manyMembers(100000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			loopCPU(b, func() { mustNormalize(b, c.rs, c.res) })
		})
	}
}

// BenchmarkWorstPatchAdd100kMembers adds a value list of 100,000 members to
// a group holding 100,000 others. 100,000 members fit in 1 MiB only as bare
// ids ("members":["u00001",...]), which stand for {"value": id}.
func BenchmarkWorstPatchAdd100kMembers(b *testing.B) {
	stored := mustNormalize(b, groupRS, manyMembers(100000))
	var vals []string
	for i := range 100000 {
		vals = append(vals, fmt.Sprintf(`"u%05d"`, i))
	}
	body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[` + strings.Join(vals, ",") + `]}]}`)
	if len(body) > maxBody {
		b.Fatalf("body of %d bytes", len(body))
	}
	b.ReportAllocs()
	loopCPU(b, func() { benchPatch(b, groupRS, stored, body) })
}

func benchPatch(b *testing.B, rs *ResourceSchema, stored map[string]any, body []byte) {
	ops, err := ParsePatch(rs, body)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := Apply(rs, stored, ops); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWorstPatchManyOps runs as many operations as fit in 1 MiB against
// a group of 100,000 members or a user of 20,000 emails.
func BenchmarkWorstPatchManyOps(b *testing.B) {
	group := mustNormalize(b, groupRS, manyMembers(100000))
	user := mustNormalize(b, userRS, manyEmails(20000))
	blanks := make([]any, 200000)
	for i := range blanks {
		blanks[i] = ""
	}
	acme := mustNormalize(b, acmeRS, map[string]any{"userName": "a", acmeURN: map[string]any{"skills": blanks}})
	cases := []struct {
		name   string
		rs     *ResourceSchema
		stored map[string]any
		op     func(i int) string
	}{
		{"remove-member-by-filter", groupRS, group, func(i int) string {
			return fmt.Sprintf(`{"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-%012d\"]"}`, i*5)
		}},
		{"remove-member-by-value", groupRS, group, func(i int) string {
			return fmt.Sprintf(`{"op":"Remove","path":"members","value":[{"value":"2819c223-7f76-453a-919d-%012d"}]}`, i*5)
		}},
		{"add-member", groupRS, group, func(i int) string {
			return fmt.Sprintf(`{"op":"Add","path":"members","value":[{"value":"new-%d"}]}`, i)
		}},
		{"add-primary-email", userRS, user, func(i int) string {
			return fmt.Sprintf(`{"op":"add","path":"emails","value":{"value":"n%d@x.org","primary":true}}`, i)
		}},
		{"replace-filtered-email", userRS, user, func(i int) string {
			return fmt.Sprintf(`{"op":"replace","path":"emails[value eq \"user%06d@example.com\"].type","value":"home"}`, i)
		}},
		{"generic-parser-paths", groupRS, group, func(i int) string {
			if i >= MaxGenericPaths {
				return fmt.Sprintf(`{"op":"remove","path":"members[value eq \"a%d\"]"}`, i)
			}
			return fmt.Sprintf(`{"op":"remove","path":"members[value eq \"a%d\" or value eq \"b\"]"}`, i)
		}},
		{"scanning-filter", groupRS, group, func(i int) string {
			return fmt.Sprintf(`{"op":"remove","path":"members[display co \"%d\"]"}`, i)
		}},
		{"extension-ops-beside-a-long-list", acmeRS, acme, func(i int) string {
			return fmt.Sprintf(`{"op":"replace","path":"`+acmeURN+`:costCenterCode","value":"%d"}`, i)
		}},
		{"long-urn-paths", userRS, user, func(i int) string {
			return `{"op":"add","path":"` + strings.Repeat("urn:a", 300) + fmt.Sprintf(`:userName","value":"%d"}`, i)
		}},
	}
	for _, c := range cases {
		body := opsBody(c.op)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			loopCPU(b, func() {
				ops, err := ParsePatch(c.rs, body)
				if err != nil {
					if scimType(err) == ScimTypeInvalidPath {
						return // the long URN is refused, which is the point
					}
					b.Fatal(err)
				}
				if _, _, err := Apply(c.rs, c.stored, ops); err != nil && scimType(err) != ScimTypeTooMany {
					b.Fatal(err)
				}
			})
		})
	}
}

func BenchmarkWorstFilter(b *testing.B) {
	user := mustNormalize(b, userRS, manyEmails(20000))
	for name, expr := range worstFilters() {
		b.Run("compile/"+name, func(b *testing.B) {
			b.ReportAllocs()
			loopCPU(b, func() {
				if _, err := Compile(userRS, expr); err != nil {
					b.Fatal(err)
				}
			})
		})
		f := mustCompile(b, userRS, expr)
		b.Run("match-20k-emails/"+name, func(b *testing.B) {
			loopCPU(b, func() { f.Match(user) })
		})
	}
}

func BenchmarkWorstProject(b *testing.B) {
	user := mustNormalize(b, userRS, manyEmails(20000))
	var long []string
	for i := 0; len(strings.Join(long, ",")) < maxBody/2; i++ {
		long = append(long, strings.Repeat("urn:x", 50)+fmt.Sprintf(":a%d", i), "emails.value")
	}
	b.Run("attributes", func(b *testing.B) {
		loopCPU(b, func() { Project(userRS, user, []string{"emails.value", "userName"}, nil) })
	})
	b.Run("excluded", func(b *testing.B) {
		loopCPU(b, func() { Project(userRS, user, nil, []string{"emails.type"}) })
	})
	b.Run("long-names", func(b *testing.B) {
		loopCPU(b, func() { Project(userRS, user, long, nil) })
	})
}

// BenchmarkWorstDeepJSON normalizes a user whose attributes hold JSON nested
// as deep as encoding/json allows.
func BenchmarkWorstDeepJSON(b *testing.B) {
	const depth = 9990
	raw := `{"userName":"u","name":{"givenName":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `},"favourite":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + `}`
	var res map[string]any
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	loopCPU(b, func() {
		if _, err := Normalize(userRS, res); err == nil {
			b.Fatal("nested list accepted as a givenName")
		}
	})
}
