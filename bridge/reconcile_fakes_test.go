package bridge

// Fixture of the reconciliation and webhook tests: a bridge on the downstream
// fakes of fakes_test.go, with the knobs those tests need (admin token,
// deletion threshold, webhook secret, adapter options), and snapshots of what
// a run must not change.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/store"
)

const (
	rcAdminToken    = "rc-admin-token-0123456789"
	rcWebhookSecret = "rc-bimdata-webhook-secret-0123456789"
)

// rcConfig tunes rcStart.
type rcConfig struct {
	// Connectors of tenant acme; nil means all four.
	Connectors []string
	// DeletionThreshold of tenant acme; 0 means the default.
	DeletionThreshold int
	// AdminToken enables the admin endpoints.
	AdminToken string
	// WebhookSecret enables the bimdata webhook endpoint.
	WebhookSecret string
	// InvitationCache is bimdata's invitation_cache ("" means its default).
	InvitationCache string
	// PruneUnmanaged is bimplus's prune_unmanaged; ODMPrune and AuthressPrune
	// are the prune keys of the scim and authress adapters.
	PruneUnmanaged bool
	ODMPrune       bool
	AuthressPrune  bool
}

// rcStart builds a bridge on url whose tenant acme converges the fakes of ds as
// cfg says. Its workers do not run until f.run.
func rcStart(tb testing.TB, url string, ds *downstream, cfg rcConfig) *fanEnv {
	tb.Helper()
	names := cfg.Connectors
	if names == nil {
		names = allConnectors
	}
	var st *store.Store
	ts := newTestServer(tb, url, func(o *Options) {
		st = o.Store
		o.AdminToken = cfg.AdminToken
		t := &o.Tenants[0]
		t.DeletionThreshold = cfg.DeletionThreshold
		if cfg.WebhookSecret != "" {
			t.WebhookSecrets = map[string]string{connBIMData: cfg.WebhookSecret}
		}
		for _, c := range ds.configs(names...) {
			switch c := c.(type) {
			case *bimdata.Config:
				c.InvitationCache = cfg.InvitationCache
				c.WebhookSecret = cfg.WebhookSecret
			case *bimplus.Config:
				c.PruneUnmanaged = cfg.PruneUnmanaged
			case *scim.Config:
				c.Prune = cfg.ODMPrune
			case *authress.Config:
				c.Prune = cfg.AuthressPrune
			}
			conn, err := c.Open(context.Background(), connectors.Deps{
				Tenant: "acme", Directory: NewDirectory(o.Store, "acme"), Logger: zerolog.Nop(),
			})
			if err != nil {
				tb.Fatalf("open connector: %v", err)
			}
			t.Connectors = append(t.Connectors, conn)
		}
	})
	return &fanEnv{testServer: ts, ds: ds, st: st}
}

// rcWrites returns the counted writes of every fake, by connector name.
func rcWrites(ds *downstream) map[string]int {
	return map[string]int{
		connBIMData:  ds.bimdata.Writes(),
		connBimplus:  ds.bimplus.Writes(),
		connAuthress: ds.authress.Writes(),
		connODM:      ds.odm.Writes(),
	}
}

// rcWritesSince returns the writes each fake counted since before.
func rcWritesSince(ds *downstream, before map[string]int) map[string]int {
	out := map[string]int{}
	for name, n := range rcWrites(ds) {
		if d := n - before[name]; d != 0 {
			out[name] = d
		}
	}
	return out
}

// rcSyncSnapshot renders every sync state of tenant acme (without UpdatedAt) and
// the queue, for "nothing changed" comparisons.
func rcSyncSnapshot(tb testing.TB, f *fanEnv) []string {
	tb.Helper()
	ctx := context.Background()
	var out []string
	for _, name := range allConnectors {
		err := f.st.ScanSync(ctx, "acme", name, func(s *store.SyncState) error {
			out = append(out, fmt.Sprintf("%s %s status=%s applied=%s inflight=%s attempts=%d record=%s",
				s.Connector, s.Subject, s.Status, s.AppliedHash, s.InFlightHash, s.Attempts, s.Record))
			return nil
		})
		if err != nil {
			tb.Fatalf("scan sync of %s: %v", name, err)
		}
	}
	sort.Strings(out)
	qs, err := f.st.QueueStats(ctx, "acme")
	if err != nil {
		tb.Fatalf("queue stats: %v", err)
	}
	return append(out, fmt.Sprintf("queue pending=%d leased=%d", qs.Pending, qs.Leased))
}

// rcItemKeys renders plan items as sorted "connector subject op object" lines.
func rcItemKeys(items []PlanItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Connector + " " + it.Subject + " " + string(it.Op) + " " + it.Object
	}
	sort.Strings(out)
	return out
}

// rcHasItem reports whether plan has an item of connector for subject with op.
func rcHasItem(p *Plan, connector, subject, op string) bool {
	for _, it := range p.Items {
		if it.Connector == connector && it.Subject == subject && string(it.Op) == op {
			return true
		}
	}
	return false
}

// rcSynced waits until every connector has want synced subjects and the queue is drained.
func rcSynced(tb testing.TB, f *fanEnv, want map[string]int) {
	tb.Helper()
	eventually(tb, 15*time.Second, func() error { return f.allSynced(tb, want) })
}

// rcUserID creates a SCIM user for email (active or not) and returns its id.
func rcUserID(tb testing.TB, f *fanEnv, email string, active bool) string {
	tb.Helper()
	body := scimUser(email, "Given", "Family")
	body["active"] = active
	return f.mustCreateID(tb, "/Users", body)
}

// rcPost sends an admin or webhook request and returns status and body.
func rcPost(tb testing.TB, f *fanEnv, path, token string, body []byte, headers ...string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("POST %s: read answer: %v", path, err)
	}
	return resp.StatusCode, data
}
