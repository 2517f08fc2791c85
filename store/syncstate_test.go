package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

func mustPutSync(t testing.TB, s *Store, tenant string, st *SyncState) {
	t.Helper()
	if err := s.PutSync(context.Background(), tenant, st); err != nil {
		t.Fatalf("put sync %s/%s: %v", st.Connector, st.Subject, err)
	}
}

func mustCounts(t testing.TB, s *Store, tenant string) map[string]map[string]int {
	t.Helper()
	c, err := s.SyncCounts(context.Background(), tenant)
	if err != nil {
		t.Fatalf("sync counts: %v", err)
	}
	return c
}

// recount derives the counts from the stored states themselves.
func recount(t testing.TB, s *Store, tenant string, connectors []string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, c := range connectors {
		err := s.ScanSync(context.Background(), tenant, c, func(st *SyncState) error {
			if out[c] == nil {
				out[c] = map[string]int{}
			}
			out[c][st.Status]++
			return nil
		})
		if err != nil {
			t.Fatalf("scan sync %s: %v", c, err)
		}
	}
	return out
}

func TestSyncRoundTrip(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		if _, err := s.GetSync(ctx, "acme", "bimdata", "User|u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetSync of nothing = %v, want ErrNotFound", err)
		}
		in := &SyncState{
			Connector: "bimdata", Subject: "User|u1",
			Record:      json.RawMessage(`{"ids":[],"n":12345678901234567890}`),
			AppliedHash: "h1", Status: SyncRetrying, Attempts: 3, LastError: "503 from downstream",
			NextRetry: clk.Now().Add(time.Minute), InFlightHash: "h2",
		}
		mustPutSync(t, s, "acme", in)
		if !in.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("UpdatedAt = %v, want the store clock %v", in.UpdatedAt, clk.Now())
		}
		got, err := s.GetSync(ctx, "acme", "bimdata", "User|u1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Record) != string(in.Record) {
			t.Fatalf("Record = %s, want it byte for byte %s", got.Record, in.Record)
		}
		got.Record, in.Record = nil, nil
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("GetSync = %+v\nwant %+v", got, in)
		}
		if _, err := s.GetSync(ctx, "globex", "bimdata", "User|u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another tenant sees the state: %v", err)
		}

		mustPutSync(t, s, "acme", &SyncState{Connector: "odm", Subject: "User|u1", Status: SyncSynced})
		mustPutSync(t, s, "acme", &SyncState{Connector: "odm", Subject: "User|u2", Status: SyncSynced})
		all, err := s.GetSyncs(ctx, "acme", "User|u1", []string{"bimdata", "odm", "authress"})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all["bimdata"].Status != SyncRetrying || all["odm"].Status != SyncSynced || all["odm"].Connector != "odm" {
			t.Fatalf("GetSyncs = %v", all)
		}
		if none, err := s.GetSyncs(ctx, "acme", "User|u1", nil); err != nil || len(none) != 0 {
			t.Fatalf("GetSyncs(no connectors) = %v, %v", none, err)
		}

		var scanned []string
		if err := s.ScanSync(ctx, "acme", "odm", func(st *SyncState) error {
			scanned = append(scanned, st.Subject)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(scanned)
		if !slices.Equal(scanned, []string{"User|u1", "User|u2"}) {
			t.Fatalf("ScanSync visited %v", scanned)
		}
		stop := errors.New("stop")
		if err := s.ScanSync(ctx, "acme", "odm", func(*SyncState) error { return stop }); err != stop {
			t.Fatalf("ScanSync returned %v, want fn's error", err)
		}

		if err := s.DeleteSync(ctx, "acme", "bimdata", "User|u1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSync(ctx, "acme", "bimdata", "User|u1"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.GetSync(ctx, "acme", "bimdata", "User|u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetSync after delete = %v", err)
		}
	})
}

func TestSyncRejectsBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		for _, tc := range []struct {
			name   string
			tenant string
			st     *SyncState
		}{
			{"nil", "acme", nil},
			{"no tenant", "", &SyncState{Connector: "c", Subject: "User|u", Status: SyncSynced}},
			{"no connector", "acme", &SyncState{Subject: "User|u", Status: SyncSynced}},
			{"bar in connector", "acme", &SyncState{Connector: "a|b", Subject: "User|u", Status: SyncSynced}},
			{"no subject", "acme", &SyncState{Connector: "c", Status: SyncSynced}},
			{"unknown status", "acme", &SyncState{Connector: "c", Subject: "User|u", Status: "done"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.PutSync(context.Background(), tc.tenant, tc.st); err == nil {
					t.Fatal("PutSync accepted it")
				}
			})
		}
		if c := mustCounts(t, s, "acme"); len(c) != 0 {
			t.Fatalf("counts after rejected writes = %v", c)
		}
	})
}

// The per-status counters follow every transition, delete and replay, and
// always equal a recount of the stored states.
func TestSyncCountsFollowTransitions(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		put := func(conn, subj, status string) {
			mustPutSync(t, s, "acme", &SyncState{Connector: conn, Subject: subj, Status: status})
		}
		steps := []struct {
			name string
			do   func()
			want map[string]map[string]int
		}{
			{"first", func() { put("odm", "User|u1", SyncPending) },
				map[string]map[string]int{"odm": {SyncPending: 1}}},
			{"same status again", func() { put("odm", "User|u1", SyncPending) },
				map[string]map[string]int{"odm": {SyncPending: 1}}},
			{"to synced", func() { put("odm", "User|u1", SyncSynced) },
				map[string]map[string]int{"odm": {SyncSynced: 1}}},
			{"second subject", func() { put("odm", "User|u2", SyncRetrying) },
				map[string]map[string]int{"odm": {SyncSynced: 1, SyncRetrying: 1}}},
			{"other connector", func() { put("bimdata", "User|u1", SyncDead) },
				map[string]map[string]int{"odm": {SyncSynced: 1, SyncRetrying: 1}, "bimdata": {SyncDead: 1}}},
			{"retrying to dead", func() { put("odm", "User|u2", SyncDead) },
				map[string]map[string]int{"odm": {SyncSynced: 1, SyncDead: 1}, "bimdata": {SyncDead: 1}}},
			{"replay", func() {
				if err := s.Replay(ctx, "acme", "odm", "User|u2"); err != nil {
					t.Fatal(err)
				}
			}, map[string]map[string]int{"odm": {SyncSynced: 1, SyncPending: 1}, "bimdata": {SyncDead: 1}}},
			{"delete", func() {
				if err := s.DeleteSync(ctx, "acme", "bimdata", "User|u1"); err != nil {
					t.Fatal(err)
				}
			}, map[string]map[string]int{"odm": {SyncSynced: 1, SyncPending: 1}}},
		}
		for _, st := range steps {
			st.do()
			if got := mustCounts(t, s, "acme"); !reflect.DeepEqual(got, st.want) {
				t.Fatalf("after %s: counts = %v, want %v", st.name, got, st.want)
			}
		}

		// Random transitions from concurrent writers, then a recount.
		conns := []string{"odm", "bimdata", "bimplus"}
		statuses := []string{SyncSynced, SyncPending, SyncRetrying, SyncDead}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for range 150 {
					conn, subj := conns[r.IntN(len(conns))], fmt.Sprintf("User|u%d", r.IntN(20))
					var err error
					switch r.IntN(10) {
					case 0:
						err = s.DeleteSync(ctx, "acme", conn, subj)
					case 1:
						if err = s.Replay(ctx, "acme", conn, subj); errors.Is(err, ErrNotFound) {
							err = nil
						}
					default:
						err = s.PutSync(ctx, "acme", &SyncState{Connector: conn, Subject: subj, Status: statuses[r.IntN(len(statuses))]})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, want := mustCounts(t, s, "acme"), recount(t, s, "acme", conns)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("counts = %v, recount = %v", got, want)
		}
		dead, err := s.ListDead(ctx, "acme", 0)
		if err != nil {
			t.Fatal(err)
		}
		nDead := 0
		for _, c := range want {
			nDead += c[SyncDead]
		}
		if len(dead) != nDead {
			t.Fatalf("ListDead has %d, recount %d dead", len(dead), nDead)
		}
		for _, d := range dead {
			if d.Status != SyncDead {
				t.Fatalf("ListDead returned %s/%s in status %q", d.Connector, d.Subject, d.Status)
			}
		}
	})
}

func TestDeadLetterListAndReplay(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		clk := useManualClock(s)
		dead := func(conn, subj string) {
			mustPutSync(t, s, "acme", &SyncState{Connector: conn, Subject: subj, Status: SyncDead, Attempts: 5,
				LastError: "400 bad request", NextRetry: clk.Now().Add(time.Hour)})
			clk.Advance(time.Second)
		}
		dead("odm", "User|u1")
		dead("bimdata", "User|u1")
		dead("odm", "Group|g1")
		dead("odm", "User|u2")
		mustPutSync(t, s, "acme", &SyncState{Connector: "odm", Subject: "User|u3", Status: SyncSynced})

		list, err := s.ListDead(ctx, "acme", 3)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range list {
			names = append(names, d.Connector+" "+d.Subject)
		}
		if want := []string{"odm User|u2", "odm Group|g1", "bimdata User|u1"}; !slices.Equal(names, want) {
			t.Fatalf("ListDead(3) = %v, want newest first %v", names, want)
		}
		if list[0].LastError != "400 bad request" || list[0].Attempts != 5 {
			t.Fatalf("dead letter lost its reason: %+v", list[0])
		}

		// Rewriting a dead state with another status takes it off the list.
		mustPutSync(t, s, "acme", &SyncState{Connector: "odm", Subject: "User|u2", Status: SyncRetrying})
		if all, _ := s.ListDead(ctx, "acme", 0); len(all) != 3 {
			t.Fatalf("after recovery ListDead has %d, want 3", len(all))
		}

		if err := s.Replay(ctx, "acme", "bimdata", "User|u1"); err != nil {
			t.Fatal(err)
		}
		st, err := s.GetSync(ctx, "acme", "bimdata", "User|u1")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != SyncPending || st.Attempts != 0 || !st.NextRetry.IsZero() || st.LastError != "400 bad request" {
			t.Fatalf("replayed state = %+v", st)
		}
		cs := mustClaim(t, s, "acme", "w", time.Minute, 10)
		if len(cs) != 1 || cs[0].Key != userKey("acme", "u1") {
			t.Fatalf("replay queued %+v, want User u1", cs)
		}
		if err := s.Ack(ctx, cs[0]); err != nil {
			t.Fatal(err)
		}
		if err := s.Replay(ctx, "acme", "bimdata", "User|nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Replay of nothing = %v, want ErrNotFound", err)
		}
		if err := s.Replay(ctx, "acme", "bimdata", "nokind"); err == nil {
			t.Fatal("Replay accepted a subject that is not a work key")
		}

		n, err := s.ReplayAll(ctx, "acme", "odm")
		if err != nil || n != 2 {
			t.Fatalf("ReplayAll = %d, %v; want 2", n, err)
		}
		if all, _ := s.ListDead(ctx, "acme", 0); len(all) != 0 {
			t.Fatalf("after ReplayAll ListDead = %d entries", len(all))
		}
		cs = mustClaim(t, s, "acme", "w", time.Minute, 10)
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.Key.Subject())
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"Group|g1", "User|u1"}) {
			t.Fatalf("ReplayAll queued %v", ids)
		}
		if n, err := s.ReplayAll(ctx, "acme", "odm"); err != nil || n != 0 {
			t.Fatalf("second ReplayAll = %d, %v", n, err)
		}
		want := map[string]map[string]int{"odm": {SyncPending: 2, SyncRetrying: 1, SyncSynced: 1}, "bimdata": {SyncPending: 1}}
		if got := mustCounts(t, s, "acme"); !reflect.DeepEqual(got, want) {
			t.Fatalf("counts = %v, want %v", got, want)
		}
	})
}

// ReplayAll works through more dead letters than one batch, and a connector
// whose name is a glob pattern replays only its own.
func TestDeadLetterReplayAllBatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *Store) {
		t.Parallel()
		ctx := context.Background()
		const n = 250
		for i := range n {
			mustPutSync(t, s, "acme", &SyncState{Connector: "o*", Subject: fmt.Sprintf("User|u%d", i), Status: SyncDead})
		}
		mustPutSync(t, s, "acme", &SyncState{Connector: "odm", Subject: "User|x", Status: SyncDead})
		got, err := s.ReplayAll(ctx, "acme", "o*")
		if err != nil || got != n {
			t.Fatalf("ReplayAll = %d, %v; want %d", got, err, n)
		}
		left, err := s.ListDead(ctx, "acme", 0)
		if err != nil || len(left) != 1 || left[0].Connector != "odm" {
			t.Fatalf("left dead = %v, %v; want only odm's", left, err)
		}
		if st := mustStats(t, s, "acme"); st.Pending != n {
			t.Fatalf("queued %d, want %d", st.Pending, n)
		}
	})
}
