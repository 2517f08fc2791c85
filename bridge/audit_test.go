package bridge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// auditOf flushes the recorder and returns the subject's entries, oldest first.
func auditOf(t *testing.T, b *Bridge, tenantID string, q store.AuditQuery) []store.AuditEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Audit().Flush(ctx)
	es, _, err := b.Store().ListAudit(ctx, tenantID, q)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func TestAuditSCIMWrites(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		for _, redact := range []bool{false, true} {
			ts := newTestServer(t, url, func(o *Options) { o.Audit.RedactPersonal = redact })
			code, hdr, u := ts.do(testToken, http.MethodPost, "/Users", map[string]any{
				"schemas": []string{UserSchema}, "userName": "ada@example.com", "password": "hunter2-secret-pw",
				"emails": []map[string]any{{"value": "ada@example.com", "primary": true}},
			}, "X-Request-Id", "req-1")
			if code != http.StatusCreated || hdr.Get("X-Request-Id") != "req-1" {
				t.Fatalf("create: %d, request id %q", code, hdr.Get("X-Request-Id"))
			}
			id := u["id"].(string)
			code, _, g := ts.do(testToken, http.MethodPost, "/Groups", map[string]any{
				"schemas": []string{GroupSchema}, "displayName": fmt.Sprintf("Design %v", redact),
			})
			if code != http.StatusCreated {
				t.Fatalf("create group: %d", code)
			}
			gid := g["id"].(string)
			ts.do(testToken, http.MethodPatch, "/Groups/"+gid, map[string]any{
				"schemas": []string{PatchOpSchema},
				"Operations": []map[string]any{
					{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}},
					{"op": "replace", "path": "displayName", "value": fmt.Sprintf("Design Team %v", redact)},
				},
			})
			ts.do(testToken, http.MethodPatch, "/Users/"+id, map[string]any{
				"schemas": []string{PatchOpSchema}, "Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false, "displayName": "Ada"}}},
			})
			ts.do(testToken, http.MethodPut, "/Users/"+id, map[string]any{
				"schemas": []string{UserSchema}, "userName": "ada@example.com", "displayName": "Ada L.",
			})
			ts.do(testToken, http.MethodDelete, "/Users/"+id, nil)
			ts.do("wrong-token-0123456789", http.MethodDelete, "/Users/"+id, nil)
			ts.do(testToken, http.MethodGet, "/Users", nil)

			es := auditOf(t, ts.b, "acme", store.AuditQuery{Subject: "User|" + id})
			want := []struct {
				method, change string
				status         int
			}{{"POST", "created", 201}, {"PATCH", "2 attributes replaced", 200}, {"PUT", "replaced", 200}, {"DELETE", "deleted", 204}}
			if len(es) != len(want) {
				t.Fatalf("redact=%v: %d entries for the user, want %d: %+v", redact, len(es), len(want), es)
			}
			for i, w := range want {
				e := es[i]
				if e.Kind != store.AuditSCIM || e.Method != w.method || e.Change != w.change || e.Status != w.status || e.ResourceType != "User" || e.ResourceID != id {
					t.Errorf("entry %d = %+v, want %+v", i, e, w)
				}
			}
			if es[0].RequestID != "req-1" {
				t.Errorf("request id %q", es[0].RequestID)
			}
			for _, i := range []int{0, 2} { // POST, PUT
				if got := es[i].Name; (got == "") != redact {
					t.Errorf("redact=%v: entry %d name %q", redact, i, got)
				}
			}
			ge := auditOf(t, ts.b, "acme", store.AuditQuery{Subject: "Group|" + gid})
			if len(ge) != 2 || ge[1].Change != "1 attributes replaced, 1 members added" {
				t.Errorf("group entries %+v", ge)
			}
			all := auditOf(t, ts.b, "acme", store.AuditQuery{Limit: 1000})
			raw := ""
			for _, e := range all {
				raw += e.Name + e.Change + e.Error + e.Identity + e.Reason + e.Action
			}
			if strings.Contains(raw, "hunter2") || strings.Contains(raw, testToken) {
				t.Errorf("a secret reached the audit trail: %q", raw)
			}
			if other := auditOf(t, ts.b, "globex", store.AuditQuery{}); len(other) != 0 {
				t.Errorf("globex got %d entries", len(other))
			}
		}
	})
}

func TestAuditBulkOperations(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		ts := newTestServer(t, url, func(*Options) {})
		existing := jstr(ts.mustCreate(t, "/Users", userDoc("bulk.existing")), "id")
		res := ts.bulkResults(t, bulkDoc(0,
			bulkOp("POST", "/Users", "u1", userDoc("bulk.new")),
			bulkOp("POST", "/Groups", "g1", map[string]any{"schemas": []string{GroupSchema}, "displayName": "Bulk Team",
				"members": []map[string]any{{"value": "bulkId:u1"}}}),
			bulkOp("PATCH", "/Users/bulkId:u1", "", map[string]any{"schemas": []string{PatchOpSchema},
				"Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": "New"}}}),
			bulkOp("POST", "/Users", "dup", userDoc("bulk.existing")),
			bulkOp("DELETE", "/Users/"+existing, "", nil),
		))
		if len(res) != 5 {
			t.Fatalf("%d results", len(res))
		}
		uid := strings.TrimPrefix(res[0]["location"].(string)[strings.LastIndex(res[0]["location"].(string), "/"):], "/")
		gid := strings.TrimPrefix(res[1]["location"].(string)[strings.LastIndex(res[1]["location"].(string), "/"):], "/")
		es := auditOf(t, ts.b, "acme", store.AuditQuery{Kind: store.AuditSCIM, Limit: 100})
		if len(es) != 6 { // the single create, then one per bulk operation
			t.Fatalf("%d entries, want 6: %+v", len(es), es)
		}
		want := []struct {
			method, rtype, id, name, bulkID, change string
			status                                  int
		}{
			{"POST", "User", uid, "bulk.new", "u1", "created", 201},
			{"POST", "Group", gid, "Bulk Team", "g1", "created", 201},
			{"PATCH", "User", uid, "bulk.new", "", "1 attributes replaced", 200},
			{"POST", "User", "", "", "dup", "", 409},
			{"DELETE", "User", existing, "", "", "deleted", 204},
		}
		rid := es[1].RequestID
		for i, w := range want {
			e := es[i+1]
			if e.Method != w.method || e.ResourceType != w.rtype || e.ResourceID != w.id || e.Name != w.name ||
				e.BulkID != w.bulkID || e.Change != w.change || e.Status != w.status || e.RequestID != rid || e.Identity == "" {
				t.Errorf("bulk entry %d = %+v, want %+v", i, e, w)
			}
		}
		if rid == "" || rid == es[0].RequestID {
			t.Errorf("bulk request id %q (single write's %q)", rid, es[0].RequestID)
		}
		if h := auditOf(t, ts.b, "acme", store.AuditQuery{Subject: "User|" + uid}); len(h) != 2 || h[1].Method != "PATCH" {
			t.Errorf("the new user's history: %+v", h)
		}
	})
}

// TestAuditRetries: a dead-letter retry from the console, the admin API and
// the CLI (in-process) is an admin entry naming who asked, never the token.
func TestAuditRetries(t *testing.T) {
	env := newConsoleEnv(t)
	env.app.set(env.app.failing, "dl@example.com", true)
	id := env.createUser(t, "dl@example.com")
	subject := "User|" + id
	dead := func() {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			st, err := env.b.Store().GetSync(context.Background(), "acme", "app", subject)
			if err != nil || st.Status != store.SyncDead {
				return fmt.Errorf("%+v %v", st, err)
			}
			return nil
		})
	}
	dead()
	c := newConsoleClient(t, env.srv)
	if code := c.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	c.get("/admin/dead?tenant=acme")
	if code, _, _ := c.post("/admin/dead/retry", url.Values{"tenant": {"acme"}, "connector": {"app"}, "subject": {subject}, "csrf": {c.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("console retry: %d", code)
	}
	dead()
	if code, body := apiCall(t, env.srv, consoleAdminToken, http.MethodPost, "/admin/api/retry?tenant=acme&connector=app"); code != http.StatusOK {
		t.Fatalf("api retry: %d %s", code, body)
	}
	dead()
	if n, err := env.b.Replay(context.Background(), "acme", "app", subject); err != nil || n != 1 {
		t.Fatalf("in-process retry: %d %v", n, err)
	}
	es := auditOf(t, env.b, "acme", store.AuditQuery{Kind: store.AuditAdmin})
	want := []struct{ trigger, subject, action string }{
		{"console", subject, "retry dead letter"},
		{"api:", "", "retry dead letters"},
		{"cli", subject, "retry dead letter"},
	}
	if len(es) != len(want) {
		t.Fatalf("%d admin entries, want %d: %+v", len(es), len(want), es)
	}
	for i, w := range want {
		e := es[i]
		if !strings.HasPrefix(e.Trigger, w.trigger) || e.Subject != w.subject || e.Action != w.action || e.Connector != "app" ||
			e.Outcome != "requeued" || e.Counts["requeued"] != 1 {
			t.Errorf("admin entry %d = %+v, want %+v", i, e, w)
		}
		assertNoSecret(t, "admin entry", fmt.Sprintf("%+v", e))
	}
	if es[1].Trigger == "api:" {
		t.Errorf("the API retry names no credential: %+v", es[1])
	}
	if h := auditOf(t, env.b, "acme", store.AuditQuery{Subject: subject, Kind: store.AuditAdmin}); len(h) != 2 {
		t.Errorf("the subject's history holds %d retries, want 2", len(h))
	}
}
