package bimplus

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
)

func TestInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Groups["Ghost"] = []Grant{{Project: "99999999-0000-4000-8000-000000000000", Role: "Project_Viewer"}}
	})
	e.set(t, projA, e.alice, "Project_Editor")
	e.set(t, projA, e.bob, "Project_Viewer")
	e.set(t, projB, e.bob, "Project_Admin")
	e.set(t, projC, e.alice, "Project_Admin") // unmapped: not inventoried
	var got []connectors.Observed
	err := e.conn.(connectors.Inventory).Inventory(context.Background(), func(o connectors.Observed) error {
		got = append(got, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []connectors.Observed{
		{Email: "alice@example.com", ObjectID: "project/" + projA + "/member/" + e.alice},
		{Email: "bob@example.com", ObjectID: "project/" + projA + "/member/" + e.bob},
		{Email: "bob@example.com", ObjectID: "project/" + projB + "/member/" + e.bob},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("inventory\n got %+v\nwant %+v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err = e.conn.(connectors.Inventory).Inventory(context.Background(), func(connectors.Observed) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("callback error: err %v after %d calls", err, n)
	}
	e.srv.FailNext(1, 500)
	err = e.conn.(connectors.Inventory).Inventory(context.Background(), func(connectors.Observed) error { return nil })
	if connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("5xx: %v", err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.set(t, projA, e.bob, "Project_Viewer")
		acts, err := e.conn.(connectors.Pruner).Prune(ctx, connectors.Observed{ObjectID: "project/" + projA + "/member/" + e.bob}, connectors.Options{})
		if err != nil || len(acts) != 0 || len(e.srv.Requests()) != 0 {
			t.Fatalf("acts %v err %v requests %v", acts, err, e.srv.Requests())
		}
	})
	t.Run("prune_unmanaged", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.PruneUnmanaged = true })
		e.set(t, projA, e.bob, "Project_Viewer")
		e.set(t, projC, e.bob, "Project_Viewer")
		p := e.conn.(connectors.Pruner)
		o := connectors.Observed{Email: "bob@example.com", ObjectID: "project/" + projA + "/member/" + e.bob}
		acts, err := p.Prune(ctx, o, connectors.Options{DryRun: true})
		if err != nil || len(acts) != 1 || e.srv.Writes() != 0 {
			t.Fatalf("dry run: acts %v err %v writes %d", acts, err, e.srv.Writes())
		}
		acts2, err := p.Prune(ctx, o, connectors.Options{})
		if err != nil || !slices.Equal(acts, acts2) || e.srv.Writes() != 1 {
			t.Fatalf("prune: acts %v err %v writes %d", acts2, err, e.srv.Writes())
		}
		if _, ok := e.srv.RoleOf(projA, e.bob); ok {
			t.Fatal("membership still there")
		}
		// Already gone: no write; unmapped project: untouched; malformed id: permanent.
		if acts, err := p.Prune(ctx, o, connectors.Options{}); err != nil || len(acts) != 0 {
			t.Fatalf("second prune: %v %v", acts, err)
		}
		if acts, err := p.Prune(ctx, connectors.Observed{ObjectID: "project/" + projC + "/member/" + e.bob}, connectors.Options{}); err != nil || len(acts) != 0 {
			t.Fatalf("unmapped project: %v %v", acts, err)
		}
		if _, ok := e.srv.RoleOf(projC, e.bob); !ok {
			t.Fatal("pruned an unmapped project")
		}
		if _, err := p.Prune(ctx, connectors.Observed{ObjectID: "user/17"}, connectors.Options{}); connectors.ClassOf(err) != connectors.Permanent {
			t.Fatalf("malformed id: %v", err)
		}
		if e.srv.Writes() != 1 || e.srv.DuplicateWrites() != 0 {
			t.Fatalf("writes %d duplicates %d", e.srv.Writes(), e.srv.DuplicateWrites())
		}
	})
}

func TestProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pr := e.conn.(connectors.Projector)
	s := alice("Reviewers", "Design Team", "Unmapped")
	s.User.Email = "Alice@Example.com"
	got := pr.Project(s)
	want := projection{Email: "alice@example.com", Active: true, Roles: []projectedRole{
		{Project: projA, Role: "Project_Editor"},
		{Project: projB, Role: "Project_Viewer"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("projection %+v, want %+v", got, want)
	}
	// Attributes the adapter ignores do not change the projection.
	s2 := alice("Design Team", "Reviewers")
	s2.User.DisplayName = "Alice A."
	if !reflect.DeepEqual(pr.Project(s2), want) {
		t.Fatal("projection depends on ignored attributes")
	}
	s.User.Active = false
	if p := pr.Project(s).(projection); p.Active || len(p.Roles) != 0 {
		t.Fatalf("inactive projection %+v", p)
	}
	if p := pr.Project(connectors.Subject{Kind: connectors.SubjectUser, ID: "gone"}).(projection); !reflect.DeepEqual(p, projection{}) {
		t.Fatalf("deleted projection %+v", p)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	m := map[string]managedMembership{projA: {"m1", "Project_Editor"}, projB: {"m1", "Project_Admin"}}
	r := encodeRecord(m)
	if r.IDs["project:"+projA] != "m1" || len(r.IDs) != 2 {
		t.Fatalf("IDs %v", r.IDs)
	}
	if got := decodeRecord(r); !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip %v", got)
	}
	if got := decodeRecord(connectors.Record{IDs: map[string]string{"user": "x", "project:" + projA: "m1"}, State: []byte("{bad")}); !reflect.DeepEqual(got, map[string]managedMembership{projA: {Member: "m1"}}) {
		t.Fatalf("tolerant decode %v", got)
	}
	if r := encodeRecord(nil); r.IDs != nil || r.State != nil {
		t.Fatalf("empty record %+v", r)
	}
}
