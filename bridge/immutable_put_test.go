package bridge

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/filter"
)

const immUserExt = "urn:example:params:scim:schemas:extension:imm:2.0:User"
const immGroupExt = "urn:example:params:scim:schemas:extension:imm:2.0:Group"

func immServer(t *testing.T) *testServer {
	t.Helper()
	ue, err := filter.Extension{ID: immUserExt, Name: "ImmUser", Attributes: []filter.Attribute{
		{Name: "hireCode", Type: "string", Mutability: "immutable"},
		{Name: "badges", Type: "string", MultiValued: true, Mutability: "immutable"},
		{Name: "site", Type: "complex", SubAttributes: []filter.Attribute{
			{Name: "code", Type: "string", Mutability: "immutable"},
			{Name: "floor", Type: "integer"},
		}},
		{Name: "note", Type: "string"},
	}}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	ge, err := filter.Extension{ID: immGroupExt, Name: "ImmGroup", Attributes: []filter.Attribute{
		{Name: "costCode", Type: "string", Mutability: "immutable"},
	}}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	return newTestServer(t, "", func(o *Options) {
		o.Tenants[0].UserExtensions = []filter.SchemaExtension{{Schema: ue}}
		o.Tenants[0].GroupExtensions = []filter.SchemaExtension{{Schema: ge}}
	})
}

func immUser(name string, ext map[string]any) map[string]any {
	d := userDoc(name)
	if ext != nil {
		d[immUserExt] = ext
		d["schemas"] = []string{UserSchema, immUserExt}
	}
	return d
}

// A PUT changing an immutable sub-attribute is refused, as the PATCH is.
func TestPutImmutableSubAttribute(t *testing.T) {
	ts := immServer(t)
	id := jstr(ts.mustCreate(t, "/Users", immUser("sub.user", map[string]any{"site": map[string]any{"code": "A", "floor": 1}})), "id")
	ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+id, patchDoc("replace", immUserExt+":site.code", "B")).
		expectError(t, http.StatusBadRequest, "mutability")
	r := ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+id, immUser("sub.user", map[string]any{"site": map[string]any{"code": "B", "floor": 2}}))
	got := lookupPath(ts.mustGet(t, "/Users/"+id), immUserExt+".site.code")
	if r.Status != http.StatusBadRequest {
		t.Errorf("PUT changing immutable site.code: %d, stored code now %v (PATCH of the same change is 400 mutability)", r.Status, got)
	}
}

// A PUT repeating a multi-valued immutable attribute in another order.
func TestPutImmutableMultiValuedReordered(t *testing.T) {
	ts := immServer(t)
	id := jstr(ts.mustCreate(t, "/Users", immUser("mv.user", map[string]any{"badges": []any{"a", "b"}})), "id")
	r := ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+id, immUser("mv.user", map[string]any{"badges": []any{"b", "a"}}))
	if r.Status != http.StatusOK {
		t.Errorf("PUT repeating badges in another order: %d %s", r.Status, r.Raw)
	}
}

// PUTs without If-Match never answer 412 under contention (503 after the
// retries, as PATCH).
func TestPutImmutableContentionNo412(t *testing.T) {
	ts := immServer(t)
	id := jstr(ts.mustCreate(t, "/Users", immUser("busy.user", map[string]any{"hireCode": "H1"})), "id")
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				r, err := ts.sendSCIM(testToken, http.MethodPut, "/Users/"+id, immUser("busy.user", map[string]any{"note": fmt.Sprint(g, i)}))
				if err != nil {
					continue
				}
				mu.Lock()
				codes[r.Status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("answers %v", codes)
	if codes[http.StatusPreconditionFailed] > 0 {
		t.Errorf("%d PUTs without If-Match answered 412", codes[http.StatusPreconditionFailed])
	}
}

// Group PUT: two concurrent PUTs setting an immutable value to X and to Y
// never both succeed (a lost race checks again, never writes blindly).
func TestGroupPutImmutableRace(t *testing.T) {
	ts := immServer(t)
	violations := 0
	for i := 0; i < 60 && violations == 0; i++ {
		name := fmt.Sprintf("g%d", i)
		gid := jstr(ts.mustCreate(t, "/Groups", groupDoc(name)), "id")
		doc := func(code string) map[string]any {
			d := groupDoc(name)
			d["schemas"] = []string{GroupSchema, immGroupExt}
			d[immGroupExt] = map[string]any{"costCode": code}
			return d
		}
		var wg sync.WaitGroup
		st := make([]int, 2)
		for j, code := range []string{"X", "Y"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := ts.sendSCIM(testToken, http.MethodPut, "/Groups/"+gid, doc(code))
				if err == nil {
					st[j] = r.Status
				}
			}()
		}
		wg.Wait()
		if st[0] == http.StatusOK && st[1] == http.StatusOK {
			violations++
			t.Errorf("iteration %d: two PUTs setting immutable costCode to X and Y both answered 200; stored %v",
				i, lookupPath(ts.mustGet(t, "/Groups/"+gid), immGroupExt+".costCode"))
		}
	}
}
