package bridge

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, url string) {
		ts := newTestServer(t, url)
		if st, _, _ := ts.do(testToken, http.MethodPost, "/Users", map[string]any{"userName": "m@example.com"}); st != http.StatusCreated {
			t.Fatalf("create: %d", st)
		}
		ts.do("wrong-token", http.MethodGet, "/Users", nil)
		ts.do(testToken, "BREW", "/Users", nil)
		resp, err := ts.srv.Client().Post(ts.srv.URL+"/webhooks/nobody/nothing-"+strings.Repeat("x", 10), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		resp, err = ts.srv.Client().Get(ts.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		text := string(body)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{
			"# TYPE scim_bridge_scim_requests_total counter",
			`scim_bridge_scim_requests_total{method="POST",code="201"} 1`,
			`scim_bridge_scim_requests_total{method="GET",code="401"} 1`,
			`scim_bridge_scim_requests_total{method="other",code="405"} 1`,
			`scim_bridge_webhooks_total{tenant="unknown",connector="unknown",code="404"} 1`,
			`scim_bridge_queue_pending{tenant="acme"} 1`,
			`scim_bridge_queue_pending{tenant="globex"} 0`,
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("metrics lack %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "nothing-") || strings.Contains(text, testToken) {
			t.Errorf("metrics carry caller-chosen or secret text:\n%s", text)
		}
	})
}
