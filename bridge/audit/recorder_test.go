package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

type memSink struct {
	mu      sync.Mutex
	entries map[string][]store.AuditEntry
	fail    bool
	block   chan struct{}
}

func (m *memSink) AppendAuditBatches(_ context.Context, _ store.AuditRetention, bs ...store.AuditBatch) error {
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
	for _, b := range bs {
		m.entries[b.Tenant] = append(m.entries[b.Tenant], b.Entries...)
	}
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

func TestPatchSummary(t *testing.T) {
	cases := []struct {
		ops  []filter.Operation
		want string
	}{
		{nil, "patched"},
		{[]filter.Operation{{Op: "replace", Path: "active", Value: false}}, "1 attributes replaced"},
		{[]filter.Operation{{Op: "replace", Value: map[string]any{"name.givenName": "x", "displayName": "y"}}}, "2 attributes replaced"},
		{[]filter.Operation{
			{Op: "add", Path: "members", Value: []any{map[string]any{"value": "a"}, map[string]any{"value": "b"}}},
			{Op: "remove", Path: `members[value eq "c"]`},
		}, "2 members added, 1 members removed"},
		{[]filter.Operation{{Op: "add", Value: map[string]any{"members": []any{map[string]any{"value": "a"}}}}}, "1 members added"},
		{[]filter.Operation{{Op: "replace", Path: "membersOf"}, {Op: "Remove", Path: "Members"}}, "1 attributes replaced, 1 members removed"},
	}
	for _, c := range cases {
		if got := patchSummary(c.ops); got != c.want {
			t.Errorf("%+v: %q, want %q", c.ops, got, c.want)
		}
	}
}

func TestSCIMResource(t *testing.T) {
	cases := []struct{ method, path, rtype, id string }{
		{"POST", "/scim/v2/Users", "User", ""},
		{"POST", "/scim/v2/users/", "User", ""},
		{"PATCH", "/scim/v2/Groups/g1", "Group", "g1"},
		{"DELETE", "/scim/v2/GROUPS/g1/", "Group", "g1"},
		{"POST", "/scim/v2/Users/.search", "", ""},
		{"PUT", "/scim/v2/Users", "", ""},
		{"POST", "/scim/v2/Bulk", "", ""},
		{"PATCH", "/scim/v2/Users/u1/x", "", ""},
		{"POST", "/other/Users", "", ""},
	}
	for _, c := range cases {
		if rt, id := scimResource(c.method, c.path); rt != c.rtype || id != c.id {
			t.Errorf("%s %s: %q %q, want %q %q", c.method, c.path, rt, id, c.rtype, c.id)
		}
	}
}
