package filter

import (
	"encoding/json"
	"fmt"
	"testing"
)

// The tests of this file count element examinations (patcher.visits: one
// per check of an element against an added value, a value filter or a given
// value), not time: the work of normalizing or patching a list must grow
// linearly with the list and the request. Each also runs the naive mode
// (every lookup a scan, as the code stood before the indexes) to show that
// the counter sees quadratic work where there is some.

// growth returns visits(2n) / visits(n) for a workload.
func growth(t *testing.T, n int, naive bool, work func(p *patcher, n int) error) float64 {
	t.Helper()
	count := func(n int) int {
		p := newPatcher(nil, nil)
		p.naive = naive
		if err := work(p, n); err != nil {
			t.Fatal(err)
		}
		return p.visits
	}
	a, b := count(n), count(2*n)
	if a == 0 {
		t.Fatalf("no work counted for n=%d", n)
	}
	return float64(b) / float64(a)
}

// duplicatedEmails is manyEmails(n) followed by n/2 of the same emails in
// upper case, which merge into the first ones.
func duplicatedEmails(n int) map[string]any {
	res := manyEmails(n)
	emails := res["emails"].([]any)
	for i := 0; i < n/2; i++ {
		emails = append(emails, map[string]any{"value": fmt.Sprintf("USER%06d@EXAMPLE.COM", i), "type": "work", "display": "again"})
	}
	res["emails"] = emails
	return res
}

func TestLinearWork(t *testing.T) {
	t.Parallel()
	storedGroup := func(n int) map[string]any {
		g := mustNormalize(t, groupRS, manyMembers(n))
		return g
	}
	patchOps := func(rs *ResourceSchema, n int, op func(i int) string) []Operation {
		ops, err := ParsePatch(rs, opsBody(func(i int) string {
			if i >= n {
				return ""
			}
			return op(i)
		}))
		if err != nil {
			t.Fatal(err)
		}
		return ops
	}
	workloads := []struct {
		name string
		work func(p *patcher, n int) error
	}{
		{"normalize emails", func(p *patcher, n int) error {
			p.rs, p.res = userRS.impl, map[string]any{}
			_, err := p.normalize(duplicatedEmails(n))
			return err
		}},
		{"normalize members", func(p *patcher, n int) error {
			p.rs, p.res = groupRS.impl, map[string]any{}
			g := manyMembers(n)
			ms := g["members"].([]any)
			g["members"] = append(ms, ms[:n/2]...)
			_, err := p.normalize(g)
			return err
		}},
		{"remove members by filter, one operation each", func(p *patcher, n int) error {
			p.rs, p.res = groupRS.impl, cloneMap(storedGroup(n))
			_, err := p.run(patchOps(groupRS, n/4, func(i int) string {
				return fmt.Sprintf(`{"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-%012d\"]"}`, 2*i)
			}))
			return err
		}},
		{"remove members by value, one operation each", func(p *patcher, n int) error {
			p.rs, p.res = groupRS.impl, cloneMap(storedGroup(n))
			_, err := p.run(patchOps(groupRS, n/4, func(i int) string {
				return fmt.Sprintf(`{"op":"remove","path":"members","value":[{"value":"2819c223-7f76-453a-919d-%012d"}]}`, 2*i)
			}))
			return err
		}},
		{"add primary emails, one operation each", func(p *patcher, n int) error {
			p.rs, p.res = userRS.impl, cloneMap(manyEmails(n))
			_, err := p.run(patchOps(userRS, n/4, func(i int) string {
				return fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"new%d@example.com","primary":true}]}`, i)
			}))
			return err
		}},
		{"replace filtered emails", func(p *patcher, n int) error {
			p.rs, p.res = userRS.impl, cloneMap(manyEmails(n))
			_, err := p.run(patchOps(userRS, n/4, func(i int) string {
				return fmt.Sprintf(`{"op":"replace","path":"emails[value eq \"user%06d@example.com\"].primary","value":"True"}`, 3*i)
			}))
			return err
		}},
	}
	for _, w := range workloads {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			if g := growth(t, 1000, false, w.work); g > 2.2 {
				t.Errorf("doubling the input multiplies the work by %.2f, want linear (≤ 2.2)", g)
			}
			if g := growth(t, 1000, true, w.work); g < 3.5 {
				t.Errorf("naive mode: doubling the input multiplies the work by %.2f only; the counter misses the quadratic cost", g)
			}
		})
	}
}

// TestScanBudget: work no index answers is bounded, and past the budget the
// request fails with 400 tooMany instead of burning CPU.
func TestScanBudget(t *testing.T) {
	t.Parallel()
	g := mustNormalize(t, groupRS, manyMembers(20000))
	ops, err := ParsePatch(groupRS, opsBody(func(i int) string {
		return fmt.Sprintf(`{"op":"remove","path":"members[display co \"%d\"]"}`, i)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Apply(groupRS, g, ops); scimType(err) != ScimTypeTooMany {
		t.Fatalf("error %v, want tooMany", err)
	}
	// A few scans of a big list stay allowed.
	if _, _, err := Apply(groupRS, g, ops[:8]); err != nil {
		t.Fatal(err)
	}
}

// TestGenericPathLimit: paths that need the generic parser are limited per
// request.
func TestGenericPathLimit(t *testing.T) {
	t.Parallel()
	body := opsBody(func(i int) string {
		if i > MaxGenericPaths {
			return ""
		}
		return fmt.Sprintf(`{"op":"remove","path":"members[value eq \"a%d\" or value eq \"b\"]"}`, i)
	})
	if _, err := ParsePatch(groupRS, body); scimType(err) != ScimTypeTooMany {
		t.Fatalf("%d generic paths: error %v, want tooMany", MaxGenericPaths+1, err)
	}
}

// TestCheckAttrAgreesWithCoerce: the check ParsePatch runs on values fails
// exactly when the coercion Apply runs does, with the same error.
func TestCheckAttrAgreesWithCoerce(t *testing.T) {
	t.Parallel()
	defs := []*attrDef{groupRS.impl.attr("members"), userRS.impl.attr("emails"), userRS.impl.attr("active"), acmeRS.impl.ext(acmeURN).attr("skills"), acmeRS.impl.ext(acmeURN).attr("site")}
	values := []string{`["u1","u2"]`, `[1]`, `[true]`, `[null,"x"]`, `[["x"]]`, `[{"value":"a"}]`, `[{"value":1}]`, `"x"`, `{"value":"a"}`, `[]`, `null`, `[{"value":"a","primary":"yes"}]`, `["True"]`, `[{}]`}
	for _, d := range defs {
		for _, v := range values {
			var x any
			if err := json.Unmarshal([]byte(v), &x); err != nil {
				t.Fatal(err)
			}
			_, cerr := coerceAttr(d, x)
			kerr := checkAttr(d, x)
			if fmt.Sprint(cerr) != fmt.Sprint(kerr) {
				t.Errorf("%s %s: coerce %v, check %v", d.fullPath(), v, cerr, kerr)
			}
		}
	}
}
