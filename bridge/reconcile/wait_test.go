package reconcile

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/store"
)

// syncStates is a Store that only answers GetSync, from a map the test changes.
type syncStates struct {
	Store
	mu     sync.Mutex
	states map[string]*store.SyncState // connector + " " + subject
	asked  map[string]int
}

func (s *syncStates) GetSync(_ context.Context, _, connector, subject string) (*store.SyncState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[connector+" "+subject]++
	if st := s.states[connector+" "+subject]; st != nil {
		return st, nil
	}
	return nil, store.ErrNotFound
}

func (s *syncStates) set(key string, st *store.SyncState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[key] = st
}

func TestWaitRepaired(t *testing.T) {
	t.Parallel()
	plan := func() *Plan {
		return &Plan{Tenant: "acme", Items: []PlanItem{
			{Connector: "odm", Subject: "User|1"},
			{Connector: "odm", Subject: "User|1"}, // a second change of one subject: one wait
			{Connector: "bimdata", Subject: "User|2"},
			{Connector: "odm", Subject: OrphanSubject}, // pruned during the run: never waited for
		}}
	}
	t.Run("all synced", func(t *testing.T) {
		t.Parallel()
		st := &syncStates{states: map[string]*store.SyncState{}, asked: map[string]int{}}
		st.set("odm User|1", &store.SyncState{Status: store.SyncSynced})
		rc := New(Options{Store: st})
		go func() {
			time.Sleep(150 * time.Millisecond)
			st.set("bimdata User|2", &store.SyncState{Status: store.SyncSynced})
		}()
		p := plan()
		if !rc.WaitRepaired(context.Background(), p) || len(p.Errors) != 0 {
			t.Errorf("WaitRepaired = false or errors %v; want true", p.Errors)
		}
		if st.asked["odm orphan"] != 0 {
			t.Error("waited for an orphan")
		}
	})
	t.Run("one dead", func(t *testing.T) {
		t.Parallel()
		st := &syncStates{states: map[string]*store.SyncState{}, asked: map[string]int{}}
		st.set("odm User|1", &store.SyncState{Status: store.SyncDead, LastError: "400 refused"})
		st.set("bimdata User|2", &store.SyncState{Status: store.SyncSynced})
		p := plan()
		if New(Options{Store: st}).WaitRepaired(context.Background(), p) {
			t.Error("WaitRepaired = true with a dead subject")
		}
		if !slices.Equal(p.Errors, []string{"odm User|1: not repaired: 400 refused"}) {
			t.Errorf("errors %q", p.Errors)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		st := &syncStates{states: map[string]*store.SyncState{}, asked: map[string]int{}}
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		p := plan()
		if New(Options{Store: st}).WaitRepaired(ctx, p) {
			t.Error("WaitRepaired = true while nothing converged")
		}
		if !slices.Contains(p.Errors, "repairs did not converge in time") {
			t.Errorf("errors %q", p.Errors)
		}
	})
}
