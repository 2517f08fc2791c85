package bimplus

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// fakeDirectory is an in-memory connectors.UsersByEmailDirectory that counts
// its UsersByEmail lookups.
type fakeDirectory struct {
	mu      sync.Mutex
	users   map[string]connectors.User // by id
	lookups int
	err     error // returned by UsersByEmail when set
}

var _ connectors.UsersByEmailDirectory = (*fakeDirectory)(nil)

func newFakeDirectory(users ...connectors.User) *fakeDirectory {
	d := &fakeDirectory{users: map[string]connectors.User{}}
	for _, u := range users {
		d.put(u)
	}
	return d
}

func (d *fakeDirectory) put(u connectors.User) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[u.ID] = u
}

func (d *fakeDirectory) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.users, id)
}

// update changes the stored user id with fn.
func (d *fakeDirectory) update(id string, fn func(*connectors.User)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.users[id]
	fn(&u)
	d.users[id] = u
}

// subject is the user subject of id as the bridge would hand it (User nil
// once deleted).
func (d *fakeDirectory) subject(id string) connectors.Subject {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := connectors.Subject{Kind: connectors.SubjectUser, ID: id}
	if u, ok := d.users[id]; ok {
		u.Groups = slices.Clone(u.Groups)
		s.User = &u
	}
	return s
}

func (d *fakeDirectory) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lookups
}

func (d *fakeDirectory) UserByEmail(ctx context.Context, email string) (*connectors.User, error) {
	us, err := d.UsersByEmail(ctx, email)
	if err != nil || len(us) == 0 {
		return nil, err
	}
	return &us[0], nil
}

func (d *fakeDirectory) UsersByEmail(_ context.Context, email string) ([]connectors.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if d.err != nil {
		return nil, d.err
	}
	var out []connectors.User
	for _, id := range slices.Sorted(maps.Keys(d.users)) {
		u := d.users[id]
		if strings.EqualFold(u.Email, email) || slices.ContainsFunc(u.Emails, func(e string) bool { return strings.EqualFold(e, email) }) {
			out = append(out, u)
		}
	}
	return out, nil
}

// sharedEnv is an env whose adapter has a directory, with the record of each
// user kept as the bridge keeps it.
type sharedEnv struct {
	*env
	dir  *fakeDirectory
	recs map[string]connectors.Record
}

// The two users sharing alice's member: u-alice, and u-alice2, a second IdP
// account whose email differs only in case.
func sharedUsers() (a, b connectors.User) {
	a = connectors.User{ID: "u-alice", UserName: "alice@example.com", Email: "alice@example.com", Emails: []string{"alice@example.com"}, Active: true}
	b = connectors.User{ID: "u-alice2", UserName: "alice.second", Email: "Alice@Example.com", Emails: []string{"Alice@Example.com"}, Active: true}
	return a, b
}

func newSharedEnv(t *testing.T, mutate func(*Config), users ...connectors.User) *sharedEnv {
	t.Helper()
	e := newEnv(t, mutate)
	dir := newFakeDirectory(users...)
	e.dir = dir
	e.conn = e.open()
	return &sharedEnv{env: e, dir: dir, recs: map[string]connectors.Record{}}
}

// run converges user id as the bridge would (retrying retryable errors) and
// keeps its record; it returns the writes it made.
func (e *sharedEnv) run(t *testing.T, id string) int {
	t.Helper()
	before := e.srv.Writes()
	rec, _, _ := converge(t, e.conn, e.dir.subject(id), e.recs[id])
	e.recs[id] = rec
	return e.srv.Writes() - before
}

// plan is the dry run of user id: the actions it would take.
func (e *sharedEnv) plan(t *testing.T, id string) []connectors.Action {
	t.Helper()
	_, acts, err := e.conn.Converge(context.Background(), e.dir.subject(id), e.recs[id], connectors.Options{DryRun: true})
	if err != nil {
		t.Fatalf("dry run of %s: %v", id, err)
	}
	return acts
}

// expectRoles fails unless alice's member has exactly these roles (by project).
func (e *sharedEnv) expectRoles(t *testing.T, when string, want map[string]string) {
	t.Helper()
	if got := e.roles(e.alice); !maps.Equal(got, want) {
		t.Fatalf("%s: alice's member has roles %v, want %v", when, got, want)
	}
}

// expectSettled converges both users again, in both orders, and fails on any
// write or planned action: the membership does not flap.
func (e *sharedEnv) expectSettled(t *testing.T, when string, want map[string]string, ids ...string) {
	t.Helper()
	for round, order := range [][]string{ids, {ids[1], ids[0]}} {
		for _, id := range order {
			if acts := e.plan(t, id); len(acts) != 0 {
				t.Fatalf("%s: round %d: dry run of %s plans %v, want nothing", when, round+2, id, acts)
			}
			if n := e.run(t, id); n != 0 {
				t.Fatalf("%s: round %d: converging %s wrote %d times, want none (roles now %v)", when, round+2, id, n, e.roles(e.alice))
			}
		}
	}
	e.expectRoles(t, when+", settled", want)
}

// TestSharedEmailUnion: two SCIM users share alice's email, A in Design Team
// (Project_Editor on projA), B in Reviewers (Project_Viewer on projA and
// projB) and then changed to each variant. Whichever order they converge
// in, the member gets the union (Editor on projA), keeps it, and later
// convergences write nothing.
func TestSharedEmailUnion(t *testing.T) {
	t.Parallel()
	variants := []struct {
		name   string
		change func(d *fakeDirectory) // applied to B after the first round
		want   map[string]string      // alice's member once B changed
	}{
		{"B in a viewers group", func(*fakeDirectory) {}, map[string]string{projA: "Project_Editor", projB: "Project_Viewer"}},
		{"B in no mapped group", func(d *fakeDirectory) {
			d.update("u-alice2", func(u *connectors.User) { u.Groups = []string{"Unmapped"} })
		}, map[string]string{projA: "Project_Editor"}},
		{"B inactive", func(d *fakeDirectory) {
			d.update("u-alice2", func(u *connectors.User) { u.Active = false })
		}, map[string]string{projA: "Project_Editor"}},
		{"B deleted", func(d *fakeDirectory) { d.remove("u-alice2") }, map[string]string{projA: "Project_Editor"}},
	}
	for _, v := range variants {
		for _, order := range [][]string{{"u-alice", "u-alice2"}, {"u-alice2", "u-alice"}} {
			t.Run(v.name+"/"+order[0]+" first", func(t *testing.T) {
				t.Parallel()
				a, b := sharedUsers()
				a.Groups, b.Groups = []string{"Design Team"}, []string{"Reviewers"}
				e := newSharedEnv(t, nil, a, b)
				for _, id := range order {
					e.run(t, id)
				}
				e.expectRoles(t, "both converged", map[string]string{projA: "Project_Editor", projB: "Project_Viewer"})
				e.expectSettled(t, "both converged", map[string]string{projA: "Project_Editor", projB: "Project_Viewer"}, order...)

				v.change(e.dir)
				for _, id := range order {
					e.run(t, id)
					if got := e.roles(e.alice); got[projA] != "Project_Editor" {
						t.Fatalf("B changed, %s converged: alice's member has roles %v, want Project_Editor on projA", id, got)
					}
				}
				e.expectRoles(t, "B changed, both converged", v.want)
				e.expectSettled(t, "B changed", v.want, order...)
			})
		}
	}
}

// TestSharedEmailGroupLeft: when A leaves its group, B's viewer role remains
// (whichever of the two converges first); when B wants nothing either, the
// membership is removed.
func TestSharedEmailGroupLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		bGroups []string
		want    map[string]string
	}{
		{"B in a viewers group", []string{"Reviewers"}, map[string]string{projA: "Project_Viewer", projB: "Project_Viewer"}},
		{"B in no mapped group", nil, map[string]string{}},
	} {
		for _, order := range [][]string{{"u-alice", "u-alice2"}, {"u-alice2", "u-alice"}} {
			t.Run(tc.name+"/"+order[0]+" first", func(t *testing.T) {
				t.Parallel()
				a, b := sharedUsers()
				a.Groups, b.Groups = []string{"Design Team"}, tc.bGroups
				e := newSharedEnv(t, nil, a, b)
				e.run(t, "u-alice")
				e.run(t, "u-alice2")
				e.dir.update("u-alice", func(u *connectors.User) { u.Groups = nil })
				for _, id := range order {
					e.run(t, id)
				}
				e.expectRoles(t, "A left Design Team", tc.want)
				e.expectSettled(t, "A left Design Team", tc.want, order...)
			})
		}
	}
	t.Run("then B leaves too", func(t *testing.T) {
		t.Parallel()
		a, b := sharedUsers()
		a.Groups, b.Groups = []string{"Design Team"}, []string{"Reviewers"}
		e := newSharedEnv(t, nil, a, b)
		e.run(t, "u-alice2")
		e.run(t, "u-alice")
		e.dir.update("u-alice", func(u *connectors.User) { u.Groups = nil })
		e.run(t, "u-alice")
		e.expectRoles(t, "A left", map[string]string{projA: "Project_Viewer", projB: "Project_Viewer"})
		e.dir.update("u-alice2", func(u *connectors.User) { u.Active = false })
		if n := e.run(t, "u-alice2"); n != 2 {
			t.Fatalf("B deactivated: %d writes, want 2 deletes", n)
		}
		e.expectRoles(t, "B deactivated", map[string]string{})
		e.expectSettled(t, "B deactivated", map[string]string{}, "u-alice", "u-alice2")
	})
}

// TestSharedEmailPrune: prune_unmanaged does not remove a membership another
// user with the same email asks for.
func TestSharedEmailPrune(t *testing.T) {
	t.Parallel()
	a, b := sharedUsers()
	a.Groups = []string{"Leads"} // Project_Admin on projB
	e := newSharedEnv(t, func(c *Config) { c.PruneUnmanaged = true }, a, b)
	e.run(t, "u-alice")
	if n := e.run(t, "u-alice2"); n != 0 {
		t.Fatalf("B (no group) wrote %d times under prune_unmanaged, want none (roles %v)", n, e.roles(e.alice))
	}
	e.expectRoles(t, "B converged", map[string]string{projB: "Project_Admin"})
	e.expectSettled(t, "B converged", map[string]string{projB: "Project_Admin"}, "u-alice", "u-alice2")
}

// TestSharedEmailChanged: B, sharing alice's member, moves to bob's email:
// the membership of alice's member that B's record manages stays, at the
// role A wants, and bob's member gets B's role.
func TestSharedEmailChanged(t *testing.T) {
	t.Parallel()
	a, b := sharedUsers()
	a.Groups, b.Groups = []string{"Reviewers"}, []string{"Design Team"}
	e := newSharedEnv(t, nil, a, b)
	e.run(t, "u-alice")
	e.run(t, "u-alice2")
	e.expectRoles(t, "both converged", map[string]string{projA: "Project_Editor", projB: "Project_Viewer"})

	e.dir.update("u-alice2", func(u *connectors.User) { u.Email, u.Emails = "bob@example.com", []string{"bob@example.com"} })
	e.run(t, "u-alice2")
	e.expectRoles(t, "B moved to bob's email", map[string]string{projA: "Project_Viewer", projB: "Project_Viewer"})
	if got := e.roles(e.bob); !maps.Equal(got, map[string]string{projA: "Project_Editor"}) {
		t.Fatalf("bob's member has roles %v, want Project_Editor on projA", got)
	}
	e.expectSettled(t, "B moved", map[string]string{projA: "Project_Viewer", projB: "Project_Viewer"}, "u-alice", "u-alice2")
}

// TestSharedEmailLookups: the directory is asked only when the user's own
// plan writes something the union could change (a delete, or a role below
// the project's top one), once per convergence; users with unique emails
// that create top roles, and every settled convergence, cost no lookup.
func TestSharedEmailLookups(t *testing.T) {
	t.Parallel()
	a, _ := sharedUsers()
	bob := connectors.User{ID: "u-bob", UserName: "bob@example.com", Email: "bob@example.com", Active: true, Groups: []string{"Design Team", "Leads"}}
	a.Groups = []string{"Reviewers"}
	e := newSharedEnv(t, nil, a, bob)

	e.run(t, "u-bob") // Editor on projA, Admin on projB: the top roles
	if n := e.dir.count(); n != 0 {
		t.Fatalf("creating top roles: %d lookups, want 0", n)
	}
	e.run(t, "u-alice") // Viewer on projA and projB: below the top
	if n := e.dir.count(); n != 1 {
		t.Fatalf("creating viewer roles on two projects: %d lookups, want 1", n)
	}
	e.run(t, "u-alice")
	e.run(t, "u-bob")
	e.plan(t, "u-alice")
	if n := e.dir.count(); n != 1 {
		t.Fatalf("settled convergences: %d lookups in all, want still 1", n)
	}
	e.dir.update("u-bob", func(u *connectors.User) { u.Active = false })
	if w := e.run(t, "u-bob"); w != 2 {
		t.Fatalf("bob deactivated: %d writes, want 2", w)
	}
	if n := e.dir.count(); n != 2 {
		t.Fatalf("bob deactivated: %d lookups in all, want 2", n)
	}
}

// TestSharedEmailLookupFails: a directory that fails makes the convergence
// retryable, with no write.
func TestSharedEmailLookupFails(t *testing.T) {
	t.Parallel()
	a, b := sharedUsers()
	a.Groups, b.Groups = []string{"Design Team"}, []string{"Reviewers"}
	e := newSharedEnv(t, nil, a, b)
	e.run(t, "u-alice")
	e.dir.err = errors.New("store unavailable")
	_, _, err := e.conn.Converge(context.Background(), e.dir.subject("u-alice2"), connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Retryable || !strings.Contains(err.Error(), "store unavailable") {
		t.Fatalf("err %v, want a retryable error carrying the directory's", err)
	}
	e.expectRoles(t, "lookup failed", map[string]string{projA: "Project_Editor"})
}

// TestUniqueEmailUnchanged: with a directory in which no other user shares
// the subject's email, every convergence scenario makes the same writes, the
// same actions (reasons included), the same roles and the same record as
// without a directory.
func TestUniqueEmailUnchanged(t *testing.T) {
	t.Parallel()
	type outcome struct {
		writes  int
		planned []connectors.Action
		roles   map[string]map[string]string
		record  map[string]string
	}
	run := func(t *testing.T, sc scenario, withDir bool) (outcome, int) {
		e := newEnv(t, sc.cfg)
		dir := newFakeDirectory()
		if withDir {
			e.dir = dir
			e.conn = e.open()
		}
		prev := sc.setup(t, e)
		if sc.faults != nil {
			sc.faults(e)
		}
		s := sc.subject(e)
		if s.User != nil {
			dir.put(*s.User)
		}
		var out outcome
		if sc.faults == nil {
			_, acts, err := e.conn.Converge(context.Background(), s, prev, connectors.Options{DryRun: true})
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			out.planned = acts
		}
		rec, _, _ := converge(t, e.conn, s, prev)
		out.writes = e.srv.Writes()
		out.roles = map[string]map[string]string{e.alice: e.roles(e.alice), e.bob: e.roles(e.bob)}
		out.record = recordRoles(rec)
		return out, dir.count()
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			without, _ := run(t, sc, false)
			with, lookups := run(t, sc, true)
			if !reflect.DeepEqual(with, without) {
				t.Fatalf("with a directory: %+v\nwithout:          %+v", with, without)
			}
			if without.writes == 0 && lookups != 0 {
				t.Fatalf("%d directory lookups for a convergence with nothing to write, want 0", lookups)
			}
		})
	}
}
