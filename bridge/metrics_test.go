package bridge

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
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

// TestMetricsOfReconcile: a fresh bridge lists the reconcile, queue-age,
// throttle and Redis series of every configured tenant and connector; a run
// counts on the replica that made it, while the time of the last successful
// run and a connector's hold are read from Redis by every replica; with Redis gone, /metrics still
// answers, with redis_up 0 and without the gauges read from Redis.
func TestMetricsOfReconcile(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	clk := fakeclock.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	replica := func() *testServer {
		st, err := store.Open(context.Background(), store.Options{URL: url, Logger: zerolog.Nop(), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newTestServer(t, url, func(o *Options) {
			o.Store, o.Now = st, clk.Now
			o.AdminToken = rcAdminToken
			o.Tenants[0].ReconcileEvery = time.Hour
			o.Tenants[0].Connectors = []connectors.Connector{
				&fakeconn.Connector{ConnName: "odm", Kinds: []connectors.SubjectKind{connectors.SubjectTenant}},
			}
		})
	}
	scrape := func(ts *testServer) string {
		t.Helper()
		resp, err := ts.srv.Client().Get(ts.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
		}
		return string(body)
	}
	expect := func(name, text string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(text, w+"\n") {
				t.Errorf("%s: metrics lack %q", name, w)
			}
		}
		if t.Failed() {
			t.Fatalf("%s:\n%s", name, text)
		}
	}
	a, b := replica(), replica()
	expect("fresh", scrape(a),
		`scim_bridge_redis_up 1`,
		`scim_bridge_reconcile_interval_seconds{tenant="acme"} 3600`,
		`scim_bridge_reconcile_interval_seconds{tenant="globex"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="ok",tenant="acme"} 0`,
		`scim_bridge_reconcile_runs_total{outcome="aborted",tenant="globex"} 0`,
		`scim_bridge_reconcile_last_success_timestamp_seconds{tenant="acme"} 0`,
		`scim_bridge_queue_oldest_pending_seconds{tenant="acme"} 0`,
		`scim_bridge_connector_throttled{connector="odm",tenant="acme"} 0`,
	)

	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/admin/reconcile?tenant=acme", nil)
	req.Header.Set("Authorization", "Bearer "+rcAdminToken)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin reconcile: %d", resp.StatusCode)
	}
	const success = `scim_bridge_reconcile_last_success_timestamp_seconds{tenant="acme"} 1.7962884e+09` // the clock's time
	expect("replica that ran", scrape(a), `scim_bridge_reconcile_runs_total{outcome="ok",tenant="acme"} 1`, success)
	expect("other replica", scrape(b), `scim_bridge_reconcile_runs_total{outcome="ok",tenant="acme"} 0`, success)

	// A SCIM write waits in the queue (no worker runs here): its age follows the clock.
	if st, _, _ := a.do(testToken, http.MethodPost, "/Users", map[string]any{"userName": "q@example.com"}); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	clk.Advance(2 * time.Minute)
	expect("queued", scrape(b), `scim_bridge_queue_oldest_pending_seconds{tenant="acme"} 120`)

	// A hold recorded through one replica (a 429 with Retry-After) is reported
	// by every replica while it lasts, and by none once it passed.
	if err := a.b.Store().Throttle("acme", "odm").Hold(context.Background(), clk.Now().Add(30*time.Second), true); err != nil {
		t.Fatal(err)
	}
	expect("held", scrape(b),
		`scim_bridge_connector_throttled{connector="odm",tenant="acme"} 1`,
		`scim_bridge_connector_held_until_seconds{connector="odm",tenant="acme"} 1.79628855e+09`, // the clock's time (advanced 2m above) + 30s
	)
	clk.Advance(30 * time.Second)
	expect("hold over", scrape(b),
		`scim_bridge_connector_throttled{connector="odm",tenant="acme"} 0`,
		`scim_bridge_connector_held_until_seconds{connector="odm",tenant="acme"} 0`,
	)

	if err := a.b.Store().Client().Do(context.Background(), "shutdown", "nosave").Err(); err == nil {
		t.Fatal("SHUTDOWN answered")
	}
	down := scrape(b)
	expect("redis down", down,
		`scim_bridge_redis_up 0`,
		`scim_bridge_reconcile_interval_seconds{tenant="acme"} 3600`,
	)
	for _, gone := range []string{"scim_bridge_queue_pending{", "scim_bridge_reconcile_last_success_timestamp_seconds{", "scim_bridge_sync_subjects{",
		"scim_bridge_connector_throttled{", "scim_bridge_connector_held_until_seconds{"} {
		if strings.Contains(down, "\n"+gone) {
			t.Errorf("with Redis down the scrape still reports %s", gone)
		}
	}
}
