package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{0: "error", 200: "2xx", 204: "2xx", 304: "3xx", 404: "4xx", 429: "4xx", 503: "5xx", 700: "error"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

type fakeStats struct{ err error }

func (f fakeStats) QueueStats(context.Context, string) (store.QueueStats, error) {
	return store.QueueStats{Pending: 3}, f.err
}

func (f fakeStats) SyncCounts(context.Context, string) (map[string]map[string]int, error) {
	return map[string]map[string]int{"c1": {store.SyncSynced: 2}}, f.err
}

func scrape(t *testing.T, m *Metrics) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	m := New()
	if err := m.WatchStore(fakeStats{}, []TenantConnectors{{Tenant: "acme", Connectors: []string{"c1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchStore(fakeStats{}, nil); err == nil {
		t.Error("a second WatchStore on one registry succeeded")
	}
	m.SCIMRequest("BREW", "/Users", 405, time.Millisecond)
	m.Downstream("c1")(0, time.Second)
	code, text := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d", code)
	}
	for _, want := range []string{
		`scim_bridge_scim_requests_total{code="405",method="other"} 1`,
		`scim_bridge_downstream_request_duration_seconds_count{connector="c1",status_class="error"} 1`,
		`scim_bridge_queue_pending{tenant="acme"} 3`,
		`scim_bridge_sync_subjects{connector="c1",status="synced",tenant="acme"} 2`,
		`scim_bridge_sync_subjects{connector="c1",status="dead",tenant="acme"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, text)
		}
	}
}

// TestHandlerStoreDown: a scrape whose store gauges cannot be read fails as a
// whole with 503 rather than reporting zeros.
func TestHandlerStoreDown(t *testing.T) {
	t.Parallel()
	m := New()
	if err := m.WatchStore(fakeStats{err: errors.New("redis down")}, []TenantConnectors{{Tenant: "acme"}}); err != nil {
		t.Fatal(err)
	}
	if code, body := scrape(t, m); code != http.StatusServiceUnavailable || strings.Contains(body, "redis down") {
		t.Errorf("scrape with the store down: %d %q, want 503 without the cause", code, body)
	}
}
