package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

type memSink struct {
	mu      sync.Mutex
	entries map[string][]store.AuditEntry
	fail    bool
	block   chan struct{}
}

func (m *memSink) AppendAudit(_ context.Context, tenant string, _ store.AuditRetention, es ...store.AuditEntry) error {
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("redis down")
	}
	if m.entries == nil {
		m.entries = map[string][]store.AuditEntry{}
	}
	m.entries[tenant] = append(m.entries[tenant], es...)
	return nil
}

func TestRecordNeverBlocks(t *testing.T) {
	sink := &memSink{block: make(chan struct{})}
	drops := 0
	r := New(Options{Sink: sink, Buffer: 4, OnDrop: func(string) { drops++ }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	start := time.Now()
	for range 100 {
		r.Record("acme", store.AuditEntry{Kind: store.AuditSCIM})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 records with a stuck sink took %v", d)
	}
	// The buffer and the batch being written hold some; the rest was dropped.
	if r.Dropped() == 0 || uint64(drops) != r.Dropped() {
		t.Fatalf("dropped %d (OnDrop %d)", r.Dropped(), drops)
	}
	close(sink.block)
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	r.Flush(fctx)
	cancel()
	<-done
	if got := uint64(len(sink.entries["acme"])) + r.Dropped(); got != 100 {
		t.Fatalf("written + dropped = %d, want 100", got)
	}
}

func TestFailedWritesAreCounted(t *testing.T) {
	sink := &memSink{fail: true}
	r := New(Options{Sink: sink})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	r.Record("acme", store.AuditEntry{})
	r.Record("acme", store.AuditEntry{})
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	r.Flush(fctx)
	cancel()
	<-done
	if r.Dropped() != 2 {
		t.Fatalf("dropped %d, want 2", r.Dropped())
	}
}

func TestRedactPersonal(t *testing.T) {
	e := store.AuditEntry{Name: "Ada Lovelace", Error: "POST /users: status 400: ada@example.com is not allowed",
		Action: "create invitation for bob.smith+x@corp.example.org", Reason: "no e-mail here"}
	redact(&e)
	if e.Name != "" || e.Error != "POST /users: status 400: [email] is not allowed" ||
		e.Action != "create invitation for [email]" || e.Reason != "no e-mail here" {
		t.Fatalf("redacted: %+v", e)
	}
}

func TestChangeSummary(t *testing.T) {
	cases := []struct {
		method, body, want string
	}{
		{"POST", "", "created"},
		{"PUT", "", "replaced"},
		{"DELETE", "", "deleted"},
		{"PATCH", `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, "1 attributes replaced"},
		{"PATCH", `{"Operations":[{"op":"replace","value":{"name.givenName":"x","displayName":"y"}}]}`, "2 attributes replaced"},
		{"PATCH", `{"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"remove","path":"members[value eq \"c\"]"}]}`, "2 members added, 1 members removed"},
		{"PATCH", `{"Operations":[{"op":"add","value":{"members":[{"value":"a"}]}}]}`, "1 members added"},
		{"PATCH", `not json`, "patched"},
	}
	for _, c := range cases {
		if got := changeSummary(c.method, []byte(c.body)); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.body, got, c.want)
		}
	}
}
