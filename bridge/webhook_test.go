package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/bridge/webhook"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// newHookConnector is a fake connector that maps webhook events to subjects:
//
//	user.changed       {"user": "<id>"}   -> the user
//	invitation.created {"id": <n>}        -> object "invitation:<n>"
//	tenant.changed     {}                 -> the tenant
//
// and any other type to nothing. Malformed data is an error.
func newHookConnector(name string) *fakeconn.EventConnector {
	return &fakeconn.EventConnector{Connector: &fakeconn.Connector{ConnName: name}, HandleEventFunc: hookEvents}
}

func hookEvents(_ context.Context, eventType string, data json.RawMessage) ([]connectors.Subject, error) {
	switch eventType {
	case "user.changed":
		var d struct {
			User string `json:"user"`
		}
		if err := json.Unmarshal(data, &d); err != nil || d.User == "" {
			return nil, errors.New("user.changed: want {\"user\": \"<id>\"}")
		}
		return []connectors.Subject{{Kind: connectors.SubjectUser, ID: d.User}}, nil
	case "invitation.created":
		var d struct {
			ID *int `json:"id"`
		}
		if err := json.Unmarshal(data, &d); err != nil || d.ID == nil {
			return nil, errors.New("invitation.created: want {\"id\": <n>}")
		}
		return []connectors.Subject{{Kind: connectors.SubjectObject, ID: fmt.Sprintf("invitation:%d", *d.ID)}}, nil
	case "tenant.changed":
		return []connectors.Subject{{Kind: connectors.SubjectTenant}}, nil
	}
	return nil, nil
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWebhookReceiver(t *testing.T) {
	t.Parallel()
	const (
		secret       = "whsec-acme-hooks-0123456789"
		plainSecret  = "whsec-acme-plain-0123456789"
		globexSecret = "whsec-globex-hooks-0123456789"
	)
	backends(t, func(t *testing.T, redisURL string) {
		now := time.Now().UTC()
		acmeHooks := newHookConnector("hooks")
		globexHooks := newHookConnector("hooks")
		logs := &syncBuffer{}
		ts := newTestServer(t, redisURL, func(o *Options) {
			o.Now = func() time.Time { return now }
			o.Logger = zerolog.New(logs)
			o.Tenants[0].Connectors = []connectors.Connector{acmeHooks, newHookConnector("nosecret"), &fakeconn.Connector{ConnName: "plain"}}
			o.Tenants[0].WebhookSecrets = map[string]string{"hooks": secret, "plain": plainSecret}
			o.Tenants[1].Connectors = []connectors.Connector{globexHooks}
			o.Tenants[1].WebhookSecrets = map[string]string{"hooks": globexSecret}
		})
		st := ts.b.Store()
		ctx := context.Background()

		type hookReply struct {
			Status int
			State  string
			Raw    string
		}
		post := func(t *testing.T, path string, body io.Reader, sig string) hookReply {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, ts.srv.URL+path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if sig != "" {
				req.Header.Set(SignatureHeader, sig)
			}
			resp, err := ts.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var out struct {
				Status string `json:"status"`
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				return hookReply{Status: resp.StatusCode, Raw: string(raw)} // not the receiver's answer (mux 404 / 405)
			}
			{
				if err := json.Unmarshal(raw, &out); err != nil {
					t.Errorf("webhook reply %d is not JSON: %s", resp.StatusCode, raw)
				}
			}
			return hookReply{Status: resp.StatusCode, State: out.Status, Raw: string(raw)}
		}
		signed := func(t *testing.T, path, sec string, body []byte) hookReply {
			t.Helper()
			return post(t, path, bytes.NewReader(body), Sign(sec, body, now))
		}
		event := func(id, typ, data string) []byte {
			return []byte(fmt.Sprintf(`{"id":%q,"type":%q,"data":%s}`, id, typ, data))
		}
		pending := func(t *testing.T, tenant string) int {
			t.Helper()
			qs, err := st.QueueStats(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			return qs.Pending
		}
		// claimAll takes every due key of tenant off the queue.
		claimAll := func(t *testing.T, tenant string) []store.WorkKey {
			t.Helper()
			cs, err := st.Claim(ctx, tenant, "webhook-test", time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			var keys []store.WorkKey
			for _, c := range cs {
				keys = append(keys, c.Key)
				if err := st.Ack(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			return keys
		}
		userEvent := event("evt-1", "user.changed", `{"user":"u-1"}`)

		t.Run("unknown tenant or connector", func(t *testing.T) {
			for _, p := range []string{"/webhooks/nope/hooks", "/webhooks/acme/nope", "/webhooks/acme/nosecret", "/webhooks/globex/plain"} {
				if r := signed(t, p, secret, userEvent); r.Status != http.StatusNotFound || r.State != "rejected" {
					t.Errorf("POST %s: %d %s, want 404 rejected", p, r.Status, r.Raw)
				}
			}
			if r := post(t, "/webhooks/acme", bytes.NewReader(userEvent), Sign(secret, userEvent, now)); r.Status != http.StatusNotFound {
				t.Errorf("POST /webhooks/acme: %d", r.Status)
			}
			req, _ := http.NewRequest(http.MethodGet, ts.srv.URL+"/webhooks/acme/hooks", nil)
			resp, err := ts.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("GET webhook: %d, want 405", resp.StatusCode)
			}
		})

		t.Run("bad signatures", func(t *testing.T) {
			for _, c := range []struct {
				name string
				sig  string
				body []byte
			}{
				{"forged", Sign("guessed-secret", userEvent, now), userEvent},
				{"another connector's secret", Sign(plainSecret, userEvent, now), userEvent},
				{"another tenant's secret", Sign(globexSecret, userEvent, now), userEvent},
				{"tampered", Sign(secret, userEvent, now), event("evt-1", "user.changed", `{"user":"u-2"}`)},
				{"stale", Sign(secret, userEvent, now.Add(-6*time.Minute)), userEvent},
				{"future", Sign(secret, userEvent, now.Add(6*time.Minute)), userEvent},
				{"missing", "", userEvent},
				{"malformed", "t=1,v1=abc", userEvent},
			} {
				t.Run(c.name, func(t *testing.T) {
					r := post(t, "/webhooks/acme/hooks", bytes.NewReader(c.body), c.sig)
					if r.Status != http.StatusUnauthorized || r.State != "rejected" {
						t.Errorf("%d %s, want 401 rejected", r.Status, r.Raw)
					}
				})
			}
			if n := acmeHooks.Events(); n != 0 {
				t.Errorf("the connector saw %d events that failed verification", n)
			}
			if n := pending(t, "acme"); n != 0 {
				t.Errorf("%d keys queued by rejected webhooks", n)
			}
		})

		t.Run("oversized", func(t *testing.T) {
			big := event("evt-big", "user.changed", `{"user":"u-1","pad":"`+strings.Repeat("x", webhook.MaxBody)+`"}`)
			if r := signed(t, "/webhooks/acme/hooks", secret, big); r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("oversized: %d %s", r.Status, r.Raw)
			}
			chunked := io.MultiReader(bytes.NewReader(big))
			if r := post(t, "/webhooks/acme/hooks", chunked, Sign(secret, big, now)); r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("oversized chunked: %d %s", r.Status, r.Raw)
			}
		})

		t.Run("malformed envelope", func(t *testing.T) {
			for _, body := range []string{
				`not json`, `[]`, `{"type":"user.changed","data":{"user":"u-1"}}`, `{"id":"evt-x","data":{}}`,
				`{"id":"","type":"user.changed"}`, `{"id":5,"type":"user.changed"}`,
			} {
				if r := signed(t, "/webhooks/acme/hooks", secret, []byte(body)); r.Status != http.StatusBadRequest || r.State != "rejected" {
					t.Errorf("body %s: %d %s, want 400 rejected", body, r.Status, r.Raw)
				}
			}
			// Data the connector cannot read is refused, and the event id is not
			// burnt: the sender's corrected retry goes through.
			bad := event("evt-retry", "user.changed", `{"nobody":1}`)
			if r := signed(t, "/webhooks/acme/hooks", secret, bad); r.Status != http.StatusBadRequest {
				t.Errorf("bad data: %d %s, want 400", r.Status, r.Raw)
			}
			good := event("evt-retry", "user.changed", `{"user":"u-retry"}`)
			if r := signed(t, "/webhooks/acme/hooks", secret, good); r.Status != http.StatusAccepted {
				t.Errorf("retry after bad data: %d %s, want 202", r.Status, r.Raw)
			}
			if keys := claimAll(t, "acme"); !slices.Equal(keys, []store.WorkKey{{Tenant: "acme", Kind: store.WorkUser, ID: "u-retry"}}) {
				t.Errorf("queued %v", keys)
			}
		})

		t.Run("accepted, then duplicate", func(t *testing.T) {
			r := signed(t, "/webhooks/acme/hooks", secret, userEvent)
			if r.Status != http.StatusAccepted || r.State != "accepted" {
				t.Fatalf("%d %s, want 202 accepted", r.Status, r.Raw)
			}
			if n := pending(t, "acme"); n != 1 {
				t.Errorf("pending %d, want 1", n)
			}
			keys := claimAll(t, "acme")
			if !slices.Equal(keys, []store.WorkKey{{Tenant: "acme", Kind: store.WorkUser, ID: "u-1"}}) {
				t.Errorf("queued %v, want the user u-1", keys)
			}
			seen := acmeHooks.Events()
			// The same event again, even freshly signed, is a duplicate: no second mark.
			for i := range 2 {
				r := post(t, "/webhooks/acme/hooks", bytes.NewReader(userEvent), Sign(secret, userEvent, now.Add(time.Duration(i)*time.Second)))
				if r.Status != http.StatusOK || r.State != "duplicate" {
					t.Errorf("replay: %d %s, want 200 duplicate", r.Status, r.Raw)
				}
			}
			if n := pending(t, "acme"); n != 0 {
				t.Errorf("replay queued %d keys", n)
			}
			if acmeHooks.Events() != seen {
				t.Errorf("replay reached the connector")
			}
			// The id is de-duplicated per connector and per tenant, not globally.
			if r := signed(t, "/webhooks/acme/plain", plainSecret, userEvent); r.Status != http.StatusAccepted {
				t.Errorf("same id on another connector: %d %s", r.Status, r.Raw)
			}
			if r := signed(t, "/webhooks/globex/hooks", globexSecret, userEvent); r.Status != http.StatusAccepted {
				t.Errorf("same id in another tenant: %d %s", r.Status, r.Raw)
			}
			if keys := claimAll(t, "globex"); !slices.Equal(keys, []store.WorkKey{{Tenant: "globex", Kind: store.WorkUser, ID: "u-1"}}) {
				t.Errorf("globex queued %v", keys)
			}
			if n := pending(t, "acme"); n != 0 {
				t.Errorf("a connector without an event handler queued %d keys", n)
			}
		})

		t.Run("subject kinds", func(t *testing.T) {
			for _, c := range []struct {
				body []byte
				want []store.WorkKey
			}{
				{event("evt-inv", "invitation.created", `{"id":42}`), []store.WorkKey{{Tenant: "acme", Kind: store.WorkObject, ID: "hooks/invitation:42"}}},
				{event("evt-ten", "tenant.changed", `{}`), []store.WorkKey{{Tenant: "acme", Kind: store.WorkTenant, ID: "acme"}}},
				{event("evt-unknown", "something.else", `{}`), nil},
				{[]byte(`{"id":"evt-nodata","type":"something.else"}`), nil},
			} {
				if r := signed(t, "/webhooks/acme/hooks", secret, c.body); r.Status != http.StatusAccepted {
					t.Errorf("%s: %d %s, want 202", c.body, r.Status, r.Raw)
				}
				if keys := claimAll(t, "acme"); !slices.Equal(keys, c.want) {
					t.Errorf("%s queued %v, want %v", c.body, keys, c.want)
				}
			}
		})

		for _, s := range []string{secret, plainSecret, globexSecret} {
			if strings.Contains(logs.String(), s) {
				t.Errorf("logs contain a webhook secret")
			}
		}
	})
}
