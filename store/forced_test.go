package store

import (
	"context"
	"testing"
)

// TestForceConverge: a forced convergence marks the key dirty and is taken
// once, per connector.
func TestForceConverge(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		k := WorkKey{Tenant: "acme", Kind: WorkUser, ID: "u1"}
		if err := s.ForceConverge(ctx, "acme", k, "bim", "odm"); err != nil {
			t.Fatal(err)
		}
		qs, err := s.QueueStats(ctx, "acme")
		if err != nil || qs.Pending != 1 {
			t.Fatalf("queue %+v, %v; want the key pending", qs, err)
		}
		got, err := s.TakeForced(ctx, "acme", k.Subject(), []string{"bim", "odm", "other"})
		if err != nil || len(got) != 2 || !got["bim"] || !got["odm"] {
			t.Fatalf("taken %v, %v; want bim and odm", got, err)
		}
		if got, err := s.TakeForced(ctx, "acme", k.Subject(), []string{"bim", "odm"}); err != nil || len(got) != 0 {
			t.Fatalf("taken twice: %v, %v", got, err)
		}
		// No connector: only a mark.
		if err := s.ForceConverge(ctx, "acme", WorkKey{Tenant: "acme", Kind: WorkUser, ID: "u2"}); err != nil {
			t.Fatal(err)
		}
		if qs, err := s.QueueStats(ctx, "acme"); err != nil || qs.Pending != 2 {
			t.Fatalf("queue %+v, %v; want both keys pending", qs, err)
		}
		// Kept again by a worker that could not act on it: taken once more.
		if err := s.KeepForced(ctx, "acme", k.Subject(), "bim"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.TakeForced(ctx, "acme", k.Subject(), []string{"bim", "odm"}); err != nil || len(got) != 1 || !got["bim"] {
			t.Fatalf("taken after KeepForced: %v, %v; want bim", got, err)
		}
		// With the sync states, in one read: taken once too.
		if err := s.PutSync(ctx, "acme", &SyncState{Connector: "odm", Subject: k.Subject(), Status: SyncSynced}); err != nil {
			t.Fatal(err)
		}
		if err := s.KeepForced(ctx, "acme", k.Subject(), "odm"); err != nil {
			t.Fatal(err)
		}
		for want := range 2 {
			states, got, err := s.GetSyncsTakingForced(ctx, "acme", k.Subject(), []string{"bim", "odm"})
			if err != nil || len(states) != 1 || states["odm"].Status != SyncSynced || got["odm"] != (want == 0) || got["bim"] {
				t.Fatalf("read %d: states %v, forced %v, %v", want, states, got, err)
			}
		}
	})
}
