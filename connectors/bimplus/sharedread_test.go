package bimplus

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestProjectMembersSharedAndFreshAfterWrite: convergences that need the same
// project's members at once cost one listing, and a listing asked for after a
// membership write of the project sees it.
func TestProjectMembersSharedAndFreshAfterWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.conn.(*connector).api
	path := a.membersPath(projA)
	e.srv.Latency(100 * time.Millisecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := a.listMembers(context.Background(), projA); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.count("GET", "/v2"+path); n != 1 {
		t.Fatalf("%d listings of the project for 8 concurrent readers, want 1", n)
	}
	e.srv.Latency(0)
	roles, err := e.conn.(*connector).resolveRoles(context.Background(), []string{"Project_Editor"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.addMember(context.Background(), projA, e.alice, roles["Project_Editor"].ID); err != nil {
		t.Fatal(err)
	}
	ms, err := a.listMembers(context.Background(), projA)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range ms {
		found = found || m.Member.ID == e.alice
	}
	if !found {
		t.Fatalf("listing after the write %+v misses it", ms)
	}
}
