package bridge

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/filter"
)

const acmeUserExt = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// TestTenantExtensions: a tenant's declared extensions are its own (discovery,
// validation, filters, root search, /Bulk) and can be required.
func TestTenantExtensions(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL, withConfigExtensions(t, "extensions.yaml"))

		hasSchema := func(token, id string) bool {
			r := ts.callSCIM(t, token, http.MethodGet, "/Schemas", nil).expect(t, http.StatusOK)
			for _, s := range jlist(r.Body, "Resources") {
				if jstr(s, "id") == id {
					return true
				}
			}
			return false
		}
		if !hasSchema(testToken, acmeUserExt) {
			t.Error("acme's token: /Schemas lacks its extension")
		}
		if hasSchema("", acmeUserExt) || hasSchema(testToken2, acmeUserExt) {
			t.Error("acme's extension shown without its token")
		}
		ts.callSCIM(t, "", http.MethodGet, "/Schemas/"+acmeUserExt, nil).expectError(t, http.StatusNotFound, "")

		// Another tenant cannot write acme's extension: the schema is unknown there.
		doc := userDoc("ext.user", acmeUserExt, map[string]any{"costCenterCode": "CC-1"})
		doc["schemas"] = []string{UserSchema, acmeUserExt}
		ts.callSCIM(t, testToken2, http.MethodPost, "/Users", doc).expectError(t, http.StatusBadRequest, "invalidValue")
		id := jstr(ts.mustCreate(t, "/Users", doc), "id")

		// Root search and /Bulk use the tenant's schemas too.
		ids, _ := ts.listIDs(t, "/", "filter", acmeUserExt+`:costCenterCode eq "CC-1"`)
		if len(ids) != 1 || ids[0] != id {
			t.Errorf("root search on an extension attribute: %v", ids)
		}
		res := ts.bulkResults(t, bulkDoc(0, bulkOp("PATCH", "/Users/"+id, "", patchDoc("replace", acmeUserExt+":clearance", "7"))))
		if len(res) != 1 || res[0]["status"] != "200" {
			t.Fatalf("bulk %v", res)
		}
		ext, _ := ts.mustGet(t, "/Users/"+id)[acmeUserExt].(map[string]any)
		if v := ext["clearance"]; v != float64(7) {
			t.Errorf("clearance %v after bulk PATCH", v)
		}
		ts.callSCIM(t, testToken, http.MethodGet, "/Users?filter="+url.QueryEscape(acmeUserExt+`:nosuch eq "x"`), nil).
			expectError(t, http.StatusBadRequest, "invalidFilter")

		// An immutable attribute (RFC 7644 §3.5.1): a PUT may repeat it or leave
		// it out (kept), not change it; PATCH neither.
		hire := func(code string) map[string]any {
			d := userDoc("hire.user", acmeUserExt, map[string]any{"hireCode": code})
			d["schemas"] = []string{UserSchema, acmeUserExt}
			return d
		}
		hid := jstr(ts.mustCreate(t, "/Users", hire("H1")), "id")
		hireCode := func() any {
			ext, _ := ts.mustGet(t, "/Users/"+hid)[acmeUserExt].(map[string]any)
			return ext["hireCode"]
		}
		ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+hid, hire("H9")).expectError(t, http.StatusBadRequest, "mutability")
		ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+hid, hire("H1")).expect(t, http.StatusOK)
		ts.callSCIM(t, testToken, http.MethodPut, "/Users/"+hid, userDoc("hire.user", "displayName", "Hire")).expect(t, http.StatusOK)
		if v := hireCode(); v != "H1" {
			t.Errorf("hireCode %v after a PUT leaving it out, want H1 kept", v)
		}
		ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+hid, patchDoc("replace", acmeUserExt+":hireCode", "H9")).
			expectError(t, http.StatusBadRequest, "mutability")
		if v := hireCode(); v != "H1" {
			t.Errorf("hireCode %v, want H1", v)
		}
	})
}

func TestRequiredTenantExtension(t *testing.T) {
	t.Parallel()
	ext, err := filter.Extension{ID: "urn:example:hr:User", Name: "HR", Attributes: []filter.Attribute{
		{Name: "employeeCode", Type: "string", Required: true},
	}}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, "", func(o *Options) {
		o.Tenants[0].UserExtensions = []filter.SchemaExtension{{Schema: ext, Required: true}}
	})
	ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("req.none")).expectError(t, http.StatusBadRequest, "invalidValue")
	ts.callSCIM(t, testToken, http.MethodPost, "/Users", userDoc("req.empty", "urn:example:hr:User", map[string]any{"other": 1})).
		expectError(t, http.StatusBadRequest, "invalidValue")
	u := ts.mustCreate(t, "/Users", userDoc("req.ok", "urn:example:hr:User", map[string]any{"employeeCode": "E1"}))
	ts.callSCIM(t, testToken, http.MethodPatch, "/Users/"+jstr(u, "id"), patchDoc("remove", "urn:example:hr:User:employeeCode", nil)).
		expectError(t, http.StatusBadRequest, "invalidValue")
	rt := ts.callSCIM(t, testToken, http.MethodGet, "/ResourceTypes/User", nil).expect(t, http.StatusOK).Body
	found := false
	for _, e := range jlist(rt, "schemaExtensions") {
		found = found || (jstr(e, "schema") == "urn:example:hr:User" && lookupPath(e, "required") == true)
	}
	if !found {
		t.Errorf("ResourceTypes/User does not show the required extension: %v", rt["schemaExtensions"])
	}
	// The other tenant does not need it.
	ts.mustCreateAs(t, testToken2, "/Users", userDoc("req.none"))
	// A colliding declaration is refused when the bridge is built.
	_, err = New(Options{Store: openStore(t, ""), Tenants: []TenantOptions{{ID: "x", SCIMTokens: []string{"x-token-0123456789"},
		UserExtensions: []filter.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}}}})
	if err == nil {
		t.Error("an extension reusing the enterprise URN was accepted")
	}
}
