package audit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/fakeclock"
	"github.com/scim-bridge/scim-bridge/store"
)

// TestRejectGate: the first unauthenticated delivery of each client address
// (IPv6: /64) in a minute passes, for at most maxRejectAddrs addresses per
// tenant; a new minute starts afresh.
func TestRejectGate(t *testing.T) {
	t.Parallel()
	var g rejectGate
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("203.0.113.7")
	steps := []struct {
		tenant string
		addr   string
		at     time.Duration
		want   bool
	}{
		{"acme", "203.0.113.7", 0, true},
		{"acme", "203.0.113.7", time.Second, false},
		{"acme", "203.0.113.8", time.Second, true},
		{"globex", "203.0.113.7", time.Second, true},
		{"acme", "2001:db8:1:2::1", 2 * time.Second, true},
		{"acme", "2001:db8:1:2:ffff::9", 3 * time.Second, false}, // the same /64
		{"acme", "2001:db8:1:3::1", 3 * time.Second, true},
		{"acme", "203.0.113.7", 59 * time.Second, false},
		{"acme", "203.0.113.7", 60 * time.Second, true}, // a new window
		{"acme", "203.0.113.7", 61 * time.Second, false},
	}
	for i, s := range steps {
		if got := g.allow(s.tenant, netip.MustParseAddr(s.addr), t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%s from %s at +%v): %v, want %v", i, s.tenant, s.addr, s.at, got, s.want)
		}
	}
	// Many addresses: maxRejectAddrs of them a window, per tenant.
	now := t0.Add(time.Hour)
	passed := 0
	for i := range 1000 {
		b := a.As4()
		b[2], b[3] = byte(i>>8), byte(i)
		if g.allow("acme", netip.AddrFrom4(b), now) {
			passed++
		}
	}
	if passed != maxRejectAddrs {
		t.Errorf("%d of 1000 addresses recorded in one window, want %d", passed, maxRejectAddrs)
	}
	if !g.allow("globex", a, now) {
		t.Error("another tenant's first reject refused")
	}
}

// TestWebhooksRecordRejectsBounded: deliveries the receiver did not verify
// are recorded in the webhook receipts alone (IndexOnly), once per address
// and minute; verified ones as every entry, each.
func TestWebhooksRecordRejectsBounded(t *testing.T) {
	t.Parallel()
	sink := &memSink{}
	clk := fakeclock.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	r := New(Options{Sink: sink, Now: clk.Now, Linger: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	receiver := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body) // as the receiver does: the middleware passes the body on
		if !strings.Contains(req.Header.Get("X-Sig"), "good") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":"rejected","detail":"signature mismatch"}`))
			return
		}
		NoteWebhookVerified(req.Context())
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{tenant}/{connector}", r.Webhooks(func(string, string) bool { return true }, receiver))
	post := func(sig, from string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/acme/app", strings.NewReader(`{"id":"e1","type":"t"}`))
		req.Header.Set("X-Sig", sig)
		req.RemoteAddr = from + ":4711"
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 100 {
		if code := post("bad", "198.51.100.1"); code != http.StatusUnauthorized {
			t.Fatalf("forged delivery: %d", code)
		}
	}
	post("bad", "198.51.100.2")
	post("good", "198.51.100.1")
	post("good", "198.51.100.1")
	clk.Advance(time.Minute)
	post("bad", "198.51.100.1")
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	r.Flush(fctx)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var rejected, indexOnly, accepted int
	for _, e := range sink.entries["acme"] {
		switch e.Outcome {
		case "rejected":
			rejected++
			if e.IndexOnly && e.Kind == store.AuditWebhook && e.Action == "" {
				indexOnly++
			}
		case "accepted":
			accepted++
			if e.IndexOnly || e.Action != "event e1 (t)" {
				t.Errorf("verified delivery recorded as %+v", e)
			}
		}
	}
	if rejected != 3 || indexOnly != 3 || accepted != 2 {
		t.Errorf("recorded %d rejected (%d index-only) and %d accepted deliveries, want 3 (3) and 2", rejected, indexOnly, accepted)
	}
}

// TestAddrKeyIPv4Mapped: an IPv4 client seen as an IPv4-mapped IPv6 address
// is keyed as that IPv4 address, not lumped into one /64 with every other.
func TestAddrKeyIPv4Mapped(t *testing.T) {
	t.Parallel()
	a, b := netip.MustParseAddr("::ffff:198.51.100.7"), netip.MustParseAddr("::ffff:203.0.113.9")
	if addrKey(a) == addrKey(b) {
		t.Fatalf("two IPv4 clients share the key %v", addrKey(a))
	}
	if addrKey(a) != addrKey(netip.MustParseAddr("198.51.100.7")) {
		t.Fatalf("mapped %v keyed %v, want its IPv4 /32", a, addrKey(a))
	}
}
