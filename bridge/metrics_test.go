package bridge

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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
		// The exposition writes labels in name order.
		for _, want := range []string{
			"# TYPE scim_bridge_scim_requests_total counter",
			`scim_bridge_scim_requests_total{code="201",method="POST"} 1`,
			`scim_bridge_scim_requests_total{code="401",method="GET"} 1`,
			`scim_bridge_scim_requests_total{code="405",method="other"} 1`,
			`scim_bridge_webhooks_total{code="404",connector="unknown",tenant="unknown"} 1`,
			`scim_bridge_queue_pending{tenant="acme"} 1`,
			`scim_bridge_queue_pending{tenant="globex"} 0`,
			`scim_bridge_queue_leased{tenant="acme"} 0`,
			"# TYPE scim_bridge_scim_request_duration_seconds histogram",
			`scim_bridge_scim_request_duration_seconds_count{code="201",method="POST",route="/Users"} 1`,
			`scim_bridge_scim_request_duration_seconds_count{code="401",method="GET",route="/Users"} 1`,
			`scim_bridge_scim_request_duration_seconds_count{code="405",method="other",route="/Users"} 1`,
			"# TYPE go_goroutines gauge",
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

// TestMetricsOfFanout: convergences and the connectors' downstream requests
// land in the histograms of the bridge's registry.
func TestMetricsOfFanout(t *testing.T) {
	t.Parallel()
	ds := startDownstream(t)
	f := newFanout(t, "", ds, fanoutConfig{})
	f.run(t)
	ds.memberOf("metrics@example.com")
	id := f.mustCreateID(t, "/Users", scimUser("metrics@example.com", "Met", "Rics"))
	f.mustCreateID(t, "/Groups", scimGroup(groupDesign, id)) // so Bimplus gets a call too
	eventually(t, 10*time.Second, func() error {
		return f.allSynced(t, map[string]int{connBIMData: 1, connBimplus: 1, connAuthress: 1, connODM: 1})
	})

	resp, err := f.srv.Client().Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, c := range allConnectors {
		for _, re := range []string{
			`(?m)^scim_bridge_downstream_request_duration_seconds_count\{connector="` + c + `",status_class="2xx"\} [1-9]`,
			`(?m)^scim_bridge_convergence_duration_seconds_count\{connector="` + c + `",outcome="synced",tenant="acme"\} [1-9]`,
			`(?m)^scim_bridge_convergences_total\{connector="` + c + `",outcome="synced",tenant="acme"\} [1-9]`,
			`(?m)^scim_bridge_sync_subjects\{connector="` + c + `",status="synced",tenant="acme"\} 1$`,
		} {
			if !regexp.MustCompile(re).MatchString(text) {
				t.Errorf("metrics lack %s:\n%s", re, text)
			}
		}
	}
	for _, want := range []string{"# TYPE go_goroutines gauge", "# TYPE process_cpu_seconds_total counter"} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}
