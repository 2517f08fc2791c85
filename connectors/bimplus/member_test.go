package bimplus

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
)

func TestMemberIDByEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("team listing when no project shows the user", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		rec, _, err := e.conn.Converge(ctx, alice("Design Team"), connectors.Record{}, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.count("GET", "/v2/acme/members"); n != 1 {
			t.Fatalf("GET /members %d times, want 1", n)
		}
		if rec.IDs["project:"+projA] != e.alice {
			t.Fatalf("record IDs %v, want project:%s → %s", rec.IDs, projA, e.alice)
		}
		var post []string
		for _, r := range e.srv.Requests() {
			post = append(post, r.Method+" "+r.Path)
		}
		if got := strings.Join(post, ", "); got != "GET /v2/acme/roles, GET /v2/acme/projects/"+projA+"/members, GET /v2/acme/members, POST /v2/acme/projects/"+projA+"/members" {
			t.Fatalf("requests: %s", got)
		}
	})
	t.Run("project listing already shows the member id", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.set(t, projA, e.alice, "Project_Editor")
		if _, _, err := e.conn.Converge(ctx, alice("Design Team", "Leads"), connectors.Record{}, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
		if n := e.count("GET", "/v2/acme/members"); n != 0 {
			t.Fatalf("GET /members %d times, want 0", n)
		}
		if r, _ := e.srv.RoleOf(projB, e.alice); r != "Project_Admin" {
			t.Fatalf("role on B %q", r)
		}
	})
	t.Run("not a team member is permanent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		s := alice("Design Team")
		s.User.Email = "carol@example.com"
		_, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{})
		if connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(err.Error(), "carol@example.com") {
			t.Fatalf("err %v, want a permanent error naming the email", err)
		}
		if e.srv.Writes() != 0 {
			t.Fatal("wrote without a member id")
		}
	})
	t.Run("user without email is permanent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		s := alice("Design Team")
		s.User.Email = ""
		_, _, err := e.conn.Converge(ctx, s, connectors.Record{}, connectors.Options{})
		if connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(err.Error(), "no email") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("minimal reads: one GET per project concerned", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		if _, _, err := e.conn.Converge(ctx, alice("Design Team", "Leads"), connectors.Record{}, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{projA, projB} {
			if n := e.count("GET", "/v2/acme/projects/"+p+"/members"); n != 1 {
				t.Errorf("GET members of %s %d times, want 1", p, n)
			}
		}
		if n := e.count("GET", "/v2/acme/projects/"+projC+"/members"); n != 0 {
			t.Errorf("read unmapped project %d times", n)
		}
	})
}

func TestWrongSubjectKind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, _, err := e.conn.Converge(context.Background(), connectors.Subject{Kind: connectors.SubjectTenant, ID: "t1"}, connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("err %v", err)
	}
}

func TestConcurrentConverge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	users := []connectors.Subject{alice("Design Team", "Leads")}
	bob := alice("Reviewers")
	bob.ID, bob.User.ID, bob.User.Email = "u-bob", "u-bob", "bob@example.com"
	users = append(users, bob)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, _, err := e.conn.Converge(context.Background(), users[i%2], connectors.Record{}, connectors.Options{DryRun: true}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.count("GET", "/v2/acme/roles"); n != 1 {
		t.Fatalf("GET /roles %d times across concurrent convergences, want 1", n)
	}
}
