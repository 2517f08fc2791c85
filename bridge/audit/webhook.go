package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/httpstatus"
	"github.com/scim-bridge/scim-bridge/store"
)

// Webhooks wraps the webhook receiver (mounted at
// /webhooks/{tenant}/{connector}) so every receipt of a known tenant and
// connector is recorded: accepted, duplicate or rejected with the reason. The
// event id and type are recorded only once the receiver verified the
// signature; the body itself never is.
//
// A delivery the receiver did not authenticate (NoteWebhookVerified not
// called: a bad or missing signature, a body too large to verify) costs
// nothing of the tenant's trail: anyone can send one, and the trail is
// bounded by length. It is recorded only in the webhook receipts' own stream
// (store.AuditEntry.IndexOnly), and only the first one per client address
// (IPv6: per /64) and minute, for at most maxRejectAddrs addresses a minute
// per tenant; the receiver's metric (scim_bridge_webhooks_total by code)
// counts every one.
func (r *Recorder) Webhooks(known func(tenant, connector string) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tenant, conn := req.PathValue("tenant"), req.PathValue("connector")
		if r == nil || !known(tenant, conn) {
			next.ServeHTTP(w, req)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(req.Body, maxCapture))
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), req.Body), req.Body}
		cw := &captureWriter{Recorder: httpstatus.Recorder{ResponseWriter: w}}
		ctx, sl := withSlot(req.Context())
		next.ServeHTTP(cw, req.WithContext(ctx))
		if !sl.verified && !r.rejects.allow(tenant, r.clientAddr(req), r.opts.Now()) {
			return
		}
		var answer struct {
			Status string `json:"status"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(cw.body.Bytes(), &answer)
		e := store.AuditEntry{Kind: store.AuditWebhook, Connector: conn, Outcome: answer.Status, Status: cw.Code, Reason: answer.Detail, IndexOnly: !sl.verified}
		if sl.verified && (answer.Status == "accepted" || answer.Status == "duplicate") {
			var ev struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}
			if json.Unmarshal(body, &ev) == nil {
				e.Action = "event " + clip(ev.ID) + " (" + clip(ev.Type) + ")"
			}
		}
		if e.Outcome == "" {
			e.Outcome = "rejected"
		}
		r.Record(tenant, e)
	})
}

// NoteWebhookVerified tells the audit middleware serving ctx that the
// webhook delivery's signature was verified: its sender is authenticated and
// its receipt is recorded like any entry. Without the middleware it does
// nothing.
func NoteWebhookVerified(ctx context.Context) {
	if s := slotOf(ctx); s != nil {
		s.verified = true
	}
}

// clientAddr is the address a delivery is attributed to: Options.ClientAddr,
// else the connection's peer.
func (r *Recorder) clientAddr(req *http.Request) netip.Addr {
	if r.opts.ClientAddr != nil {
		return r.opts.ClientAddr(req)
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// Bounds of the unauthenticated webhook deliveries recorded (see Webhooks).
const (
	rejectWindow = time.Minute
	// maxRejectAddrs bounds the client addresses whose first reject a window
	// records, per tenant: a sender of many addresses (an IPv6 range, a
	// botnet) gets no more entries written than that.
	maxRejectAddrs = 16
)

// rejectGate decides which unauthenticated deliveries are recorded: the first
// of each client address in a window of rejectWindow, for at most
// maxRejectAddrs addresses per tenant. Its memory is bounded the same way
// (tenants are the configured ones: Webhooks records known ones only).
type rejectGate struct {
	mu    sync.Mutex
	start time.Time                            // of the current window
	seen  map[string]map[netip.Prefix]struct{} // by tenant
}

// allow reports whether a reject of tenant from addr at now is recorded.
func (g *rejectGate) allow(tenant string, addr netip.Addr, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil || now.Sub(g.start) >= rejectWindow || now.Before(g.start) {
		g.seen, g.start = map[string]map[netip.Prefix]struct{}{}, now
	}
	key := addrKey(addr)
	seen := g.seen[tenant]
	if _, ok := seen[key]; ok || len(seen) >= maxRejectAddrs {
		return false
	}
	if seen == nil {
		seen = map[netip.Prefix]struct{}{}
		g.seen[tenant] = seen
	}
	seen[key] = struct{}{}
	return true
}

// addrKey is the unit a client address counts as: an IPv4 address, an IPv6
// /64 (what one host commonly holds, as the auth limiter counts it).
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap() // an IPv4-mapped address is the IPv4 client, not a /64
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // the zero Addr (no address known) gives the zero Prefix: one key
	return p
}

// clip bounds a sender-chosen string recorded in the trail.
func clip(s string) string {
	if len(s) > 128 {
		return strings.ToValidUTF8(s[:128], "") + "…"
	}
	return s
}
