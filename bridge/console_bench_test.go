//go:build linux

package bridge

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// The audit and console benchmarks. Run:
//
//	go test -run '^$' -bench 'AuditWriteCost|ConsolePages' -benchtime 2s -count 5 ./bridge/
//
// BenchmarkAuditWriteCost compares SCIM write throughput through the handler
// with the audit trail (audit=on) and through the bare SCIM endpoint of the
// same bridge (audit=off); the cost is 1 - on/off. It also reports the CPU
// time per request (cpu-µs/op: this process — client, bridge and, on the
// embedded store, Redis — plus redis-server's, the audit's background writes
// included), which a busy machine disturbs less than throughput; its ratio
// overstates the denominator by the client's share. BenchmarkConsolePages
// renders each console page server-side on a tenant of
// SCIM_BRIDGE_BENCH_USERS users (default 100,000) with a full audit stream.

func BenchmarkAuditWriteCost(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		env := newBenchEnv(b, redisURL, map[string]int{"acme": 1000})
		ids := env.users["acme"]
		audited := env.ts.srv.URL
		mux := http.NewServeMux()
		mux.Handle("/scim/", env.ts.b.scim) // the same endpoint without the audit middleware
		bare := httptest.NewServer(mux)
		b.Cleanup(bare.Close)
		serverCPU := redisServerCPU(b, redisURL)
		var done int
		for _, mode := range []struct {
			name, url string
		}{{"audit=off", bare.URL}, {"audit=on", audited}, {"audit=off#2", bare.URL}, {"audit=on#2", audited}} {
			b.Run(mode.name, func(b *testing.B) {
				env.ts.srv.URL = mode.url
				defer func() { env.ts.srv.URL = audited }()
				dropped := env.ts.b.Audit().Dropped()
				base := done
				cpu0, rcpu0 := processCPU(b), serverCPU()
				runParallel(b, func(i int) error {
					k := base + i
					u := k % len(ids)
					return env.do("acme", http.MethodPatch, "/Users/"+ids[u], entraPatch(u, (k/len(ids))%2 == 0), http.StatusOK)
				})
				done += b.N
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				env.ts.b.Audit().Flush(ctx)
				cancel()
				rcpu := serverCPU() - rcpu0
				b.ReportMetric(float64((processCPU(b)-cpu0+rcpu).Microseconds())/float64(b.N), "cpu-µs/op")
				b.ReportMetric(float64(rcpu.Microseconds())/float64(b.N), "redis-cpu-µs/op")
				b.ReportMetric(float64(env.ts.b.Audit().Dropped()-dropped)/float64(b.N), "dropped/op")
			})
		}
	})
}

// benchConsoleUsers is the size of the console benchmark's tenant.
func benchConsoleUsers(b *testing.B) int {
	if v := os.Getenv("SCIM_BRIDGE_BENCH_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("SCIM_BRIDGE_BENCH_USERS=%q: want a number ≥ 10", v)
		}
		return n
	}
	return 100_000
}

func BenchmarkConsolePages(b *testing.B) {
	n := benchConsoleUsers(b)
	benchBackends(b, func(b *testing.B, redisURL string) {
		ctx := context.Background()
		env := newBenchEnv(b, redisURL, map[string]int{"acme": n})
		st := env.ts.b.Store()
		ids := env.users["acme"]
		// A full audit stream (the default retention), 200 dead letters and a group.
		batch := make([]store.AuditEntry, 0, 1000)
		for i := range store.DefaultAuditMaxLen {
			batch = append(batch, store.AuditEntry{Kind: store.AuditDownstream, Subject: "User|" + ids[i%n], Connector: "app",
				Outcome: store.SyncSynced, Action: "create user", DurationMS: 12, Attempt: 1})
			if len(batch) == cap(batch) {
				if err := st.AppendAudit(ctx, "acme", store.AuditRetention{}, batch...); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		for i := range 200 {
			if err := st.PutSync(ctx, "acme", &store.SyncState{Connector: "app", Subject: "User|" + ids[i], Status: store.SyncDead, LastError: "POST /users: status 400 (permanent): refused", Attempts: 1}); err != nil {
				b.Fatal(err)
			}
		}
		env.ts.b.admin = nil // rebuilt below with the admin token
		opts := env.ts.b.opts
		opts.AdminToken = consoleAdminToken
		opts.Metrics = nil
		opts.Tenants = []TenantOptions{{ID: "acme", SCIMTokens: []string{"bench-token-acme-0123456789"}, Connectors: nil}}
		br, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close() })
		h := br.Handler()
		cookie := benchLogin(b, h)
		target := ids[n/2]
		pages := []struct{ name, path string }{
			{"overview", "/admin/"},
			{"explain-userName", "/admin/explain?tenant=acme&q=" + url.QueryEscape(fmt.Sprintf("user%06d", n/2))},
			{"explain-id", "/admin/explain?tenant=acme&q=" + target},
			{"dead-letters", "/admin/dead?tenant=acme"},
			{"audit", "/admin/audit?tenant=acme"},
			{"audit-subject", "/admin/audit?tenant=acme&subject=" + url.QueryEscape("User|"+target)},
			{"audit-failures", "/admin/audit?tenant=acme&outcome=dead"},
			{"audit-connector-scan", "/admin/audit?tenant=acme&connector=nomatch"},
			{"webhooks", "/admin/webhooks?tenant=acme"},
			{"reconcile", "/admin/reconcile?tenant=acme"},
		}
		for _, p := range pages {
			b.Run(p.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, p.path, nil)
					req.Header.Set("Cookie", cookie)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", p.path, rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
			})
		}
	})
}

// benchLogin logs in through h and returns the session's Cookie header.
func benchLogin(b *testing.B, h http.Handler) string {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/login", nil))
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.Fatal("no csrf on the login page")
	}
	var pre string
	for _, c := range rec.Result().Cookies() {
		pre = c.Name + "=" + c.Value
	}
	form := url.Values{"csrf": {m[1]}, "token": {consoleAdminToken}}
	req := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", pre)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sb_admin_session" {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("login failed: %d", rec.Code)
	return ""
}
