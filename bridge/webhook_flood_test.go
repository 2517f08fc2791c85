package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// TestWebhookRejectFloodBounded: deliveries nobody authenticated (a bad
// signature: anyone can send one) are each answered 401 and counted, but
// leave the tenant's audit trail alone (it is bounded by length: they pushed
// the real entries out) and cost one receipt entry and one log line per
// client address and minute; a signed delivery is recorded as before.
func TestWebhookRejectFloodBounded(t *testing.T) {
	const secret = "whsec-acme-flood-0123456789"
	backends(t, func(t *testing.T, redisURL string) {
		now := time.Now().UTC()
		logs := &syncBuffer{}
		ts := newTestServer(t, redisURL, func(o *Options) {
			o.Now = func() time.Time { return now }
			o.Logger = zerolog.New(logs)
			o.Tenants[0].Connectors = []connectors.Connector{newHookConnector("hooks")}
			o.Tenants[0].WebhookSecrets = map[string]string{"hooks": secret}
		})
		ctx := context.Background()
		if code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc("kept")); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, body)
		}
		auditOf(t, ts.b, "acme", store.AuditQuery{})
		mainLen := func() int64 {
			t.Helper()
			ts.b.Audit().Flush(ctx)
			n, err := ts.b.Store().Client().XLen(ctx, "sb:{acme}:audit").Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := mainLen()
		if before == 0 {
			t.Fatal("the SCIM write is not in the tenant's stream: wrong key?")
		}
		post := func(body []byte, sig string) int {
			req, _ := http.NewRequest(http.MethodPost, ts.srv.URL+"/webhooks/acme/hooks", bytes.NewReader(body))
			req.Header.Set(SignatureHeader, sig)
			resp, err := ts.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		body := []byte(`{"id":"evt-forged","type":"user.changed","data":{"user":"u1"}}`)
		const flood = 500
		for i := range flood {
			sig := Sign("not-the-secret", body, now)
			if i%2 == 1 {
				sig = "t=1,v1=00"
			}
			if code := post(body, sig); code != http.StatusUnauthorized {
				t.Fatalf("forged delivery %d: %d, want 401", i, code)
			}
		}
		if after := mainLen(); after != before {
			t.Errorf("the tenant's stream went from %d to %d entries with %d forged deliveries, want unchanged", before, after, flood)
		}
		receipts, _, err := ts.b.Store().ListAudit(ctx, "acme", store.AuditQuery{Kind: store.AuditWebhook, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(receipts) != 1 || receipts[0].Outcome != "rejected" || receipts[0].Status != http.StatusUnauthorized {
			t.Errorf("%d webhook receipts, want the first rejection alone", len(receipts))
			if len(receipts) > 0 {
				t.Logf("newest receipt: %+v", receipts[0])
			}
		}
		if n := strings.Count(logs.String(), `"webhook rejected"`); n != 1 {
			t.Errorf("%d log lines of rejections, want 1 a minute", n)
		}
		_, metrics := apiGet(t, ts, "/metrics")
		if want := `scim_bridge_webhooks_total{code="401",connector="hooks",tenant="acme"} 500`; !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}

		// A signed delivery is recorded as before, in the tenant's stream too.
		good := []byte(`{"id":"evt-1","type":"user.changed","data":{"user":"u1"}}`)
		if code := post(good, Sign(secret, good, now)); code != http.StatusAccepted {
			t.Fatalf("signed delivery: %d, want 202", code)
		}
		if after := mainLen(); after != before+1 {
			t.Errorf("after a signed delivery the tenant's stream holds %d entries, want %d", after, before+1)
		}
		receipts = auditOf(t, ts.b, "acme", store.AuditQuery{Kind: store.AuditWebhook})
		if last := receipts[len(receipts)-1]; last.Outcome != "accepted" || !strings.Contains(last.Action, "evt-1") {
			t.Errorf("last receipt %+v, want the accepted evt-1", last)
		}
	})
}

// apiGet fetches a path of the bridge without credentials.
func apiGet(t *testing.T, ts *testServer, path string) (int, string) {
	t.Helper()
	resp, err := ts.srv.Client().Get(ts.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWebhookRejectsAttributedThroughProxies: behind a trusted proxy, forged
// deliveries are bounded per client (the address the proxy saw), not per
// proxy: two clients each get their first rejection recorded.
func TestWebhookRejectsAttributedThroughProxies(t *testing.T) {
	t.Parallel()
	const secret = "whsec-acme-proxy-0123456789"
	ts := newTestServer(t, "", func(o *Options) {
		o.Tenants[0].Connectors = []connectors.Connector{newHookConnector("hooks")}
		o.Tenants[0].WebhookSecrets = map[string]string{"hooks": secret}
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	ctx := context.Background()
	body := []byte(`{"id":"evt-forged","type":"user.changed","data":{"user":"u1"}}`)
	for _, client := range []string{"198.51.100.7", "198.51.100.7", "203.0.113.9"} {
		req, _ := http.NewRequest(http.MethodPost, ts.srv.URL+"/webhooks/acme/hooks", bytes.NewReader(body))
		req.Header.Set(SignatureHeader, "t=1,v1=00")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := ts.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("forged delivery from %s: %d, want 401", client, resp.StatusCode)
		}
	}
	ts.b.Audit().Flush(ctx)
	receipts, _, err := ts.b.Store().ListAudit(ctx, "acme", store.AuditQuery{Kind: store.AuditWebhook, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != 2 {
		t.Fatalf("%d receipts of forged deliveries from two clients behind the proxy, want 2 (one each)", len(receipts))
	}
}
