package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestAuditAppendListFilterPage(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		base := time.Now().Add(-40 * time.Second).Truncate(time.Millisecond)
		var es []AuditEntry
		for i := range 30 {
			e := AuditEntry{Time: base.Add(time.Duration(i) * time.Second), Kind: AuditDownstream,
				Subject: fmt.Sprintf("User|u%d", i%3), Connector: []string{"odm", "bimdata"}[i%2], Outcome: "synced", Attempt: i}
			if i%5 == 0 {
				e.Outcome = "dead"
			}
			es = append(es, e)
		}
		es = append(es, AuditEntry{Kind: AuditSCIM, Subject: "User|u0", Method: "POST", Status: 201})
		if err := s.AppendAudit(ctx, "acme", AuditRetention{}, es...); err != nil {
			t.Fatal(err)
		}
		// Another tenant's entries stay apart.
		if err := s.AppendAudit(ctx, "other", AuditRetention{}, AuditEntry{Kind: AuditSCIM, Subject: "User|u0"}); err != nil {
			t.Fatal(err)
		}

		all, next, err := s.ListAudit(ctx, "acme", AuditQuery{Limit: 1000})
		if err != nil || next != "" || len(all) != 31 {
			t.Fatalf("all: %d entries, next %q, err %v; want 31", len(all), next, err)
		}
		if all[0].Kind != AuditSCIM || all[0].ID == "" {
			t.Fatalf("newest first: got %+v", all[0])
		}

		cases := []struct {
			name string
			q    AuditQuery
			want int
		}{
			{"subject", AuditQuery{Subject: "User|u1"}, 10},
			{"subject+connector", AuditQuery{Subject: "User|u1", Connector: "odm"}, 5},
			{"connector", AuditQuery{Connector: "bimdata"}, 15},
			{"outcome", AuditQuery{Outcome: "dead"}, 6},
			{"status as outcome", AuditQuery{Outcome: "201"}, 1},
			{"kind", AuditQuery{Kind: AuditSCIM}, 1},
			{"time range", AuditQuery{Since: base.Add(10 * time.Second), Until: base.Add(19 * time.Second), Kind: AuditDownstream}, 10},
		}
		for _, c := range cases {
			got, _, err := s.ListAudit(ctx, "acme", c.q)
			if err != nil || len(got) != c.want {
				t.Errorf("%s: %d entries (err %v), want %d", c.name, len(got), err, c.want)
			}
			for _, e := range got {
				if !c.q.matches(&e) {
					t.Errorf("%s: entry %+v does not match", c.name, e)
				}
			}
		}

		// Paging walks every entry exactly once, newest first.
		seen := map[string]bool{}
		var cursor, last string
		pages := 0
		for {
			page, nxt, err := s.ListAudit(ctx, "acme", AuditQuery{Limit: 7, Before: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range page {
				if seen[e.ID] {
					t.Fatalf("entry %s twice", e.ID)
				}
				if last != "" && compareStreamIDs(e.ID, last) >= 0 {
					t.Fatalf("not newest first: %s after %s", e.ID, last)
				}
				seen[e.ID], last = true, e.ID
			}
			if nxt == "" {
				break
			}
			cursor = nxt
		}
		if len(seen) != 31 || pages != 5 {
			t.Fatalf("paging saw %d entries in %d pages, want 31 in 5", len(seen), pages)
		}
		if _, _, err := s.ListAudit(ctx, "acme", AuditQuery{Before: "nonsense"}); err == nil {
			t.Fatal("invalid cursor accepted")
		}
	})
}

func TestAuditRetention(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ret := AuditRetention{MaxLen: 100, PerSubject: 10}
		for i := range 30 {
			batch := make([]AuditEntry, 50)
			for j := range batch {
				batch[j] = AuditEntry{Kind: AuditSCIM, Subject: "User|busy", Status: i}
			}
			if err := s.AppendAudit(ctx, "acme", ret, batch...); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.rdb.XLen(ctx, auditKey("acme")).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Approximate trimming keeps at least MaxLen and at most a node's worth more.
		if n < 100 || n > 100+200 {
			t.Fatalf("tenant stream holds %d entries, want about 100", n)
		}
		ns, _ := s.rdb.XLen(ctx, auditSubjectKey("acme", "User|busy")).Result()
		if ns < 10 || ns > 10+200 {
			t.Fatalf("subject stream holds %d entries, want about 10", ns)
		}
		if ttl := s.rdb.PTTL(ctx, auditSubjectKey("acme", "User|busy")).Val(); ttl <= 0 {
			t.Fatalf("subject stream has no TTL (%v)", ttl)
		}

		// Age: entries older than MaxAge go (whole stream nodes at a time).
		oldMS := time.Now().Add(-2 * time.Hour).UnixMilli()
		for i := range 300 {
			id := fmt.Sprintf("%d-%d", oldMS, i+1)
			if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: auditKey("aged"), ID: id, Values: []any{"e", `{"kind":"scim"}`}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendAudit(ctx, "aged", AuditRetention{MaxAge: time.Hour}, AuditEntry{Kind: AuditSCIM, Status: 204}); err != nil {
			t.Fatal(err)
		}
		if n := s.rdb.XLen(ctx, auditKey("aged")).Val(); n > 201 {
			t.Fatalf("after an age trim the stream holds %d entries, want at most 201", n)
		}
		got, _, err := s.ListAudit(ctx, "aged", AuditQuery{Outcome: "204"})
		if err != nil || len(got) != 1 {
			t.Fatalf("fresh entry under MaxAge: %d entries, err %v", len(got), err)
		}
	})
}

func TestDueAt(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		k := WorkKey{Tenant: "acme", Kind: WorkUser, ID: "u1"}
		if _, ok, leased, err := s.DueAt(ctx, k); err != nil || ok || leased {
			t.Fatalf("unqueued key: ok %v leased %v err %v", ok, leased, err)
		}
		if err := s.MarkDirty(ctx, "acme", k); err != nil {
			t.Fatal(err)
		}
		due, ok, leased, err := s.DueAt(ctx, k)
		if err != nil || !ok || leased || due.IsZero() {
			t.Fatalf("queued key: due %v ok %v leased %v err %v", due, ok, leased, err)
		}
		if _, err := s.Claim(ctx, "acme", "me", time.Minute, 10); err != nil {
			t.Fatal(err)
		}
		if _, _, leased, err := s.DueAt(ctx, k); err != nil || !leased {
			t.Fatalf("claimed key: leased %v err %v", leased, err)
		}
	})
}

// TestAuditScanBudget: a filter that leaves most entries out reads at most
// auditScanBudget entries per call and hands back a cursor to go on from; the
// rare kinds and the failures come from their own streams at once.
// xrangeCounter is a redis.Hook counting the stream range reads.
type xrangeCounter struct{ n atomic.Int64 }

func (c *xrangeCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *xrangeCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.HasSuffix(cmd.Name(), "range") && strings.HasPrefix(cmd.Name(), "x") {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *xrangeCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestAuditScanBudget(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		reads := &xrangeCounter{}
		s.rdb.AddHook(reads)
		ret := AuditRetention{}
		if err := s.AppendAudit(ctx, "acme", ret,
			AuditEntry{Kind: AuditDownstream, Connector: "odm", Outcome: "synced"},
			AuditEntry{Kind: AuditWebhook, Connector: "odm", Outcome: "rejected", Reason: "bad signature"},
			AuditEntry{Kind: AuditDownstream, Connector: "odm", Outcome: "dead"}); err != nil {
			t.Fatal(err)
		}
		filler := make([]AuditEntry, auditScanBudget+500)
		for i := range filler {
			filler[i] = AuditEntry{Kind: AuditSCIM, Status: 200}
		}
		if err := s.AppendAudit(ctx, "acme", ret, filler...); err != nil {
			t.Fatal(err)
		}
		reads.n.Store(0)
		got, next, err := s.ListAudit(ctx, "acme", AuditQuery{Connector: "odm", Outcome: "synced"})
		if err != nil || len(got) != 0 || next == "" {
			t.Fatalf("first call: %d entries, next %q, err %v; want none yet and a cursor", len(got), next, err)
		}
		// A filtered scan reads its budget in two ranges at most (the
		// embedded store copies the whole stream for each range it serves).
		if n := reads.n.Load(); n > 2 {
			t.Errorf("the scan read the stream %d times, want at most twice", n)
		}
		got, next, err = s.ListAudit(ctx, "acme", AuditQuery{Connector: "odm", Outcome: "synced", Before: next})
		if err != nil || len(got) != 1 || next != "" {
			t.Fatalf("second call: %d entries, next %q, err %v; want the entry and the end", len(got), next, err)
		}
		for _, q := range []AuditQuery{{Kind: AuditWebhook}, {Outcome: "dead"}, {Kind: AuditDownstream, Outcome: "dead", Connector: "odm"}} {
			got, _, err := s.ListAudit(ctx, "acme", q)
			if err != nil || len(got) != 1 {
				t.Errorf("%+v: %d entries, err %v; want 1 at once", q, len(got), err)
			}
		}
	})
}

// TestAuditBatchesOfSeveralTenants: one call writes several tenants' entries,
// each to its own trail, subject streams and index streams.
func TestAuditBatchesOfSeveralTenants(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		err := s.AppendAuditBatches(ctx, AuditRetention{MaxAge: time.Hour},
			AuditBatch{Tenant: "acme", Entries: []AuditEntry{{Kind: AuditSCIM, Subject: "User|a1", Status: 201}, {Kind: AuditAdmin, Action: "retry dead letters", Trigger: "cli"}}},
			AuditBatch{Tenant: "empty"},
			AuditBatch{Tenant: "globex", Entries: []AuditEntry{{Kind: AuditDownstream, Subject: "User|g1", Outcome: SyncDead}}},
		)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			tenant string
			q      AuditQuery
			want   int
		}{
			{"acme", AuditQuery{}, 2}, {"acme", AuditQuery{Subject: "User|a1"}, 1}, {"acme", AuditQuery{Kind: AuditAdmin}, 1},
			{"acme", AuditQuery{Subject: "User|g1"}, 0}, {"globex", AuditQuery{}, 1}, {"globex", AuditQuery{Outcome: SyncDead}, 1},
			{"globex", AuditQuery{Kind: AuditAdmin}, 0}, {"empty", AuditQuery{}, 0},
		} {
			es, _, err := s.ListAudit(ctx, c.tenant, c.q)
			if err != nil || len(es) != c.want {
				t.Errorf("%s %+v: %d entries (%v), want %d", c.tenant, c.q, len(es), err, c.want)
			}
		}
		if err := s.AppendAuditBatches(ctx, AuditRetention{}, AuditBatch{Entries: []AuditEntry{{}}}); err == nil {
			t.Error("a batch without a tenant was accepted")
		}
	})
}

// TestAuditBadQueries: a query no stream range can express is refused with
// ErrBadAuditQuery, in the store's words (never Redis's), quoting what was
// sent cut short; a canonical or merely odd but valid cursor still reads.
func TestAuditBadQueries(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.AppendAudit(ctx, "acme", AuditRetention{}, AuditEntry{Kind: AuditSCIM, Status: 201}); err != nil {
			t.Fatal(err)
		}
		huge := strings.Repeat("9", 10_000)
		for _, c := range []struct {
			name string
			q    AuditQuery
		}{
			{"garbage", AuditQuery{Before: "garbage"}},
			{"minus", AuditQuery{Before: "-"}},
			{"plus", AuditQuery{Before: "+"}},
			{"nul", AuditQuery{Before: "\x00"}},
			{"ms only", AuditQuery{Before: "1796351335962"}},
			{"oversized seq", AuditQuery{Before: "1-99999999999999999999999"}},
			{"zero", AuditQuery{Before: "0-0"}},
			{"zero, padded", AuditQuery{Before: "00-000"}},
			{"huge", AuditQuery{Before: huge}},
			{"signed", AuditQuery{Before: "+1-1"}},
			{"until before 1970", AuditQuery{Until: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}},
			{"since before 1970", AuditQuery{Since: time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC)}},
			{"subject until before 1970", AuditQuery{Subject: "User|u1", Until: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}},
			{"unknown kind", AuditQuery{Kind: "bogus"}},
			{"huge kind", AuditQuery{Kind: huge}},
		} {
			_, _, err := s.ListAudit(ctx, "acme", c.q)
			switch {
			case !errors.Is(err, ErrBadAuditQuery):
				t.Errorf("%s: err %v, want ErrBadAuditQuery", c.name, err)
			case strings.Contains(err.Error(), "ERR"):
				t.Errorf("%s: Redis's words in %q", c.name, err)
			case len(err.Error()) > 300:
				t.Errorf("%s: the error quotes the value whole (%d bytes)", c.name, len(err.Error()))
			}
		}
		if _, _, err := s.ListAudit(ctx, "acme", AuditQuery{Kind: "bogus"}); err == nil || !strings.Contains(err.Error(), "scim, downstream, webhook, reconcile, admin") {
			t.Errorf("unknown kind: %v, want the kinds listed", err)
		}
		for _, before := range []string{"0-1", "0001-01", "18446744073709551615-18446744073709551615"} {
			got, _, err := s.ListAudit(ctx, "acme", AuditQuery{Before: before})
			if err != nil {
				t.Errorf("before %s: %v", before, err)
			}
			if want := before[0] == '1'; (len(got) == 1) != want {
				t.Errorf("before %s: %d entries", before, len(got))
			}
		}
		if got, _, err := s.ListAudit(ctx, "acme", AuditQuery{Since: time.UnixMilli(0), Until: time.Now().Add(time.Hour)}); err != nil || len(got) != 1 {
			t.Errorf("since the epoch: %d entries, err %v", len(got), err)
		}
	})
}

// TestAuditIndexOnly: an IndexOnly entry (a webhook delivery nobody
// authenticated) lands in its index stream alone, never in the tenant's
// stream whose length bounds the trail; a kind without an index stream
// ignores the flag.
func TestAuditIndexOnly(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		rejects := make([]AuditEntry, 50)
		for i := range rejects {
			rejects[i] = AuditEntry{Kind: AuditWebhook, Connector: "app", Outcome: "rejected", Status: 401, IndexOnly: true}
		}
		if err := s.AppendAudit(ctx, "acme", AuditRetention{}, rejects...); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAudit(ctx, "acme", AuditRetention{}, AuditEntry{Kind: AuditSCIM, Status: 201, IndexOnly: true}); err != nil {
			t.Fatal(err)
		}
		if n := s.rdb.XLen(ctx, auditKey("acme")).Val(); n != 1 {
			t.Errorf("the tenant's stream holds %d entries, want 1 (the SCIM write)", n)
		}
		got, _, err := s.ListAudit(ctx, "acme", AuditQuery{Kind: AuditWebhook, Limit: 1000})
		if err != nil || len(got) != 50 {
			t.Errorf("webhook receipts: %d (%v), want 50", len(got), err)
		}
	})
}

// TestAuditRefusedWriteMakesNoSubjectStream: a SCIM write refused for a
// made-up id creates no subject stream (a client could create keys at will);
// a refused write of a subject that has a stream joins it; and a subject
// first seen refused, then written, gets its stream with a TTL.
func TestAuditRefusedWriteMakesNoSubjectStream(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var made []AuditEntry
		for i := range 20 {
			made = append(made, AuditEntry{Kind: AuditSCIM, Method: "PATCH", Subject: fmt.Sprintf("User|made-up-%d", i), Status: 404},
				AuditEntry{Kind: AuditSCIM, Method: "PUT", Subject: fmt.Sprintf("User|made-up-%d", i), Status: 400})
		}
		if err := s.AppendAudit(ctx, "acme", AuditRetention{}, made...); err != nil {
			t.Fatal(err)
		}
		if n := s.rdb.Exists(ctx, auditSubjectKey("acme", "User|made-up-0"), auditSubjectKey("acme", "User|made-up-19")).Val(); n != 0 {
			t.Errorf("%d subject streams for made-up ids", n)
		}
		if n := s.rdb.XLen(ctx, auditKey("acme")).Val(); n != 40 {
			t.Errorf("the tenant's stream holds %d entries, want the 40 refused writes", n)
		}
		if err := s.AppendAudit(ctx, "acme", AuditRetention{},
			AuditEntry{Kind: AuditSCIM, Method: "POST", Subject: "User|made-up-0", Status: 201},
			AuditEntry{Kind: AuditSCIM, Method: "PATCH", Subject: "User|made-up-0", Status: 400}); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.ListAudit(ctx, "acme", AuditQuery{Subject: "User|made-up-0"})
		if err != nil || len(got) != 2 || got[0].Status != 400 || got[1].Status != 201 {
			t.Errorf("subject stream: %+v (%v), want the 201 and the 400 after it", got, err)
		}
		if ttl := s.rdb.PTTL(ctx, auditSubjectKey("acme", "User|made-up-0")).Val(); ttl <= 0 {
			t.Errorf("the subject stream has no TTL (%v)", ttl)
		}
	})
}
