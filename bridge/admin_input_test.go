package bridge

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/store"
)

// adminError decodes the "error" of an admin API answer.
func adminError(t *testing.T, body string) string {
	t.Helper()
	var out struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Error == "" {
		t.Errorf("not an admin error body: %s", body)
	}
	return out.Error
}

// TestAdminAuditBadQueries: a cursor, time or kind the audit trail cannot
// read is a 400 with a message of the bridge's (never Redis's words), quoting
// the value cut short, on every backend; a 500 it was.
func TestAdminAuditBadQueries(t *testing.T) {
	backends(t, func(t *testing.T, redisURL string) {
		ts := newTestServer(t, redisURL, func(o *Options) { o.AdminToken = consoleAdminToken })
		if code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc("probe")); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, body)
		}
		auditOf(t, ts.b, "acme", store.AuditQuery{}) // written
		huge := strings.Repeat("7", 20_000)
		for _, q := range []string{
			"before=garbage", "before=-", "before=%2B", "before=%00", "before=1796351335962",
			"before=1-99999999999999999999999", "before=0-0", "before=" + huge,
			"until=1969-01-01T00:00:00Z", "since=1969-12-31T23:00", "until=0001-01-01T00:00:00Z",
			"subject=User%7Cx&until=1969-01-01", "kind=bogus", "kind=" + huge,
		} {
			code, body := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/api/audit?tenant=acme&"+q)
			msg := adminError(t, body)
			switch {
			case code != http.StatusBadRequest:
				t.Errorf("%.60s: %d %.200s, want 400", q, code, body)
			case strings.Contains(msg, "ERR"):
				t.Errorf("%.60s: Redis's words in %q", q, msg)
			case len(body) > 1024:
				t.Errorf("%.60s: the answer echoes the value whole (%d bytes)", q, len(body))
			}
		}
		_, body := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/api/audit?tenant=acme&kind=bogus")
		if msg := adminError(t, body); !strings.Contains(msg, "scim, downstream, webhook, reconcile, admin") {
			t.Errorf("kind=bogus: %q, want the kinds accepted listed", msg)
		}
		// A cursor handed out still pages.
		code, body := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/api/audit?tenant=acme&kind=scim&before=18446744073709551615-0")
		if code != http.StatusOK || !strings.Contains(body, `"kind": "scim"`) {
			t.Errorf("a valid cursor: %d %s", code, body)
		}
	})
}

// TestAdminExplainQueries: an empty query is a 400 (it was a 404, as if
// something had been looked for); an oversized one is quoted cut short.
func TestAdminExplainQueries(t *testing.T) {
	ts := newTestServer(t, "", func(o *Options) { o.AdminToken = consoleAdminToken })
	for _, q := range []string{"", "%20%20", "&q="} {
		code, body := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/api/explain?tenant=acme&q="+q)
		if code != http.StatusBadRequest {
			t.Errorf("q=%q: %d %s, want 400", q, code, body)
		}
	}
	huge := strings.Repeat("x", 20_000)
	code, body := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/api/explain?tenant=acme&q="+huge)
	if code != http.StatusNotFound || len(body) > 1024 {
		t.Errorf("oversized q: %d, %d bytes, want 404 with the query cut short", code, len(body))
	}
	if msg := adminError(t, body); !strings.Contains(msg, "by its id") {
		t.Errorf("404 %q, want it to say a deleted user is explained by its id", msg)
	}
	code, body = apiCall(t, ts.srv, consoleAdminToken, http.MethodPost, "/admin/api/reconcile?tenant=acme&dry_run="+huge)
	if code != http.StatusBadRequest || len(body) > 1024 {
		t.Errorf("oversized dry_run: %d, %d bytes, want 400 with the value cut short", code, len(body))
	}
}

// TestConsoleBadInput: the console answers a cursor it cannot read with a
// 400 page (a 500 it was) and a tenant that does not exist with a 404 page,
// not the first tenant's page.
func TestConsoleBadInput(t *testing.T) {
	env := newConsoleEnv(t)
	c := newConsoleClient(t, env.srv)
	if code := c.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	for _, p := range []string{"/admin/audit?tenant=acme&before=garbage", "/admin/audit?tenant=acme&before=0-0",
		"/admin/audit?tenant=acme&until=1969-01-01T00:00:00Z", "/admin/audit?tenant=acme&kind=bogus", "/admin/webhooks?tenant=acme&before=-"} {
		code, body, _ := c.get(p)
		if code != http.StatusBadRequest || strings.Contains(body, "ERR ") {
			t.Errorf("GET %s: %d, want a 400 page\n%.500s", p, code, body)
		}
	}
	for _, p := range []string{"/admin/audit?tenant=nope", "/admin/dead?tenant=nope", "/admin/webhooks?tenant=nope",
		"/admin/explain?tenant=nope&q=x", "/admin/reconcile?tenant=nope"} {
		code, body, _ := c.get(p)
		if code != http.StatusNotFound || !strings.Contains(body, "Unknown tenant") {
			t.Errorf("GET %s: %d, want a 404 page naming the unknown tenant\n%.500s", p, code, body)
		}
	}
	if code, body, _ := c.post("/admin/dead/retry", url.Values{"csrf": {c.csrf}, "tenant": {"nope"}}); code != http.StatusNotFound {
		t.Errorf("retry of an unknown tenant's dead letters: %d, want 404\n%.500s", code, body)
	}
	if code, _, _ := c.get("/admin/audit"); code != http.StatusOK {
		t.Errorf("GET /admin/audit (no tenant named: the first): %d, want 200", code)
	}
}
