package bridge

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"

	"github.com/scim-bridge/scim-bridge/bridge/metrics"
	"github.com/scim-bridge/scim-bridge/filter"
)

// auditWriters counts the goroutines running an audit writer.
func auditWriters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("bridge/audit.(*Recorder).Run(")) {
			n++
		}
	}
	return n
}

// TestNewFailureStopsAuditWriter: when New fails after it started the audit
// writer (here: a tenant's extension reuses the enterprise URN, refused by the
// SCIM server built after the writer), the writer is stopped, and the metrics
// registry can serve the next bridge.
//
// Not parallel: the count of audit writers must not see other tests' bridges
// (parallel tests wait until every sequential one has finished).
func TestNewFailureStopsAuditWriter(t *testing.T) {
	st := openStore(t, "")
	m := metrics.New()
	before := auditWriters()
	const attempts = 3
	for range attempts {
		_, err := New(Options{Store: st, Metrics: m, Tenants: []TenantOptions{{
			ID: "x", SCIMTokens: []string{"x-token-0123456789"},
			UserExtensions: []filter.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
		}}})
		if err == nil {
			t.Fatal("New accepted an extension reusing the enterprise URN")
		}
	}
	// Stopping is synchronous; the loop only tolerates a writer of an
	// earlier test still returning.
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := auditWriters()
		if after <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit writers still running after %d failed New (%d before): the writer leaks", after, attempts, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := New(Options{Store: st, Metrics: m, Tenants: []TenantOptions{{ID: "x", SCIMTokens: []string{"x-token-0123456789"}}}})
	if err != nil {
		t.Fatalf("New with the registry of the failed attempts: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
