package bimplus

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// scenario is a starting downstream state and what one convergence must do.
type scenario struct {
	name    string
	cfg     func(*Config)
	subject func(e *env) connectors.Subject
	// setup seeds the downstream and returns the record of the last convergence.
	setup  func(t *testing.T, e *env) connectors.Record
	faults func(e *env)
	// writes is the exact number of successful writes the convergence makes.
	writes int
	// errs is the number of retryable errors the bridge sees on the way.
	errs int
	// want is the final role per project of each member (by email).
	want func(e *env) map[string]map[string]string
	// record is the role per project the returned record manages.
	record map[string]string
}

func scenarios() []scenario {
	noRecord := func(*testing.T, *env) connectors.Record { return connectors.Record{} }
	return []scenario{
		{
			name:    "empty: union across groups, highest privilege wins",
			subject: func(*env) connectors.Subject { return alice("Design Team", "Leads", "Reviewers") },
			setup:   noRecord,
			writes:  2,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor", projB: "Project_Admin"}}
			},
			record: map[string]string{projA: "Project_Editor", projB: "Project_Admin"},
		},
		{
			name:    "already converged",
			subject: func(*env) connectors.Subject { return alice("Design Team", "Leads") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				e.set(t, projB, e.alice, "Project_Admin")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}, projB: {e.alice, "Project_Admin"}})
			},
			writes: 0,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor", projB: "Project_Admin"}}
			},
			record: map[string]string{projA: "Project_Editor", projB: "Project_Admin"},
		},
		{
			name:    "already converged without a record: adopted, no write",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				return connectors.Record{}
			},
			writes: 0,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "drift: role changed by hand is put back",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Admin")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}})
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "role change: moved from Reviewers to Design Team → PUT and DELETE",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Viewer")
				e.set(t, projB, e.alice, "Project_Viewer")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Viewer"}, projB: {e.alice, "Project_Viewer"}})
			},
			writes: 2,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "leaving the group → DELETE",
			subject: func(*env) connectors.Subject { return alice() },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}})
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {}}
			},
			record: map[string]string{},
		},
		{
			name: "inactive user: managed memberships removed, hand-made one kept",
			subject: func(*env) connectors.Subject {
				s := alice("Design Team", "Leads")
				s.User.Active = false
				return s
			},
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				e.set(t, projB, e.alice, "Project_Admin")
				e.set(t, projC, e.alice, "Project_Admin")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}, projB: {e.alice, "Project_Admin"}})
			},
			writes: 2,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projC: "Project_Admin"}}
			},
			record: map[string]string{},
		},
		{
			name:    "deleted user: managed memberships removed by recorded member id",
			subject: func(*env) connectors.Subject { return connectors.Subject{Kind: connectors.SubjectUser, ID: "u-alice"} },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				e.set(t, projC, e.alice, "Project_Viewer")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}})
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projC: "Project_Viewer"}}
			},
			record: map[string]string{},
		},
		{
			name:    "hand-added member on an unmapped project untouched",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projC, e.alice, "Project_Admin")
				e.set(t, projC, e.bob, "Project_Viewer")
				return connectors.Record{}
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor", projC: "Project_Admin"}, e.bob: {projC: "Project_Viewer"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "hand-added member on a mapped project, no mapped group: untouched",
			subject: func(*env) connectors.Subject { return alice() },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projB, e.alice, "Project_Viewer")
				return connectors.Record{}
			},
			writes: 0,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projB: "Project_Viewer"}}
			},
			record: map[string]string{},
		},
		{
			name:    "prune_unmanaged: hand-added member on a mapped project removed, unmapped kept",
			cfg:     func(c *Config) { c.PruneUnmanaged = true },
			subject: func(*env) connectors.Subject { return alice() },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projB, e.alice, "Project_Viewer")
				e.set(t, projC, e.alice, "Project_Viewer")
				e.set(t, projB, e.bob, "Project_Viewer")
				return connectors.Record{}
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projC: "Project_Viewer"}, e.bob: {projB: "Project_Viewer"}}
			},
			record: map[string]string{},
		},
		{
			name:    "managed member removed by hand is added back",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}})
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "partially applied before a crash: first POST done, record lost",
			subject: func(*env) connectors.Subject { return alice("Design Team", "Leads") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				return connectors.Record{}
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor", projB: "Project_Admin"}}
			},
			record: map[string]string{projA: "Project_Editor", projB: "Project_Admin"},
		},
		{
			name:    "partially applied before a crash: PUT done, DELETE not",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				e.set(t, projB, e.alice, "Project_Viewer")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Viewer"}, projB: {e.alice, "Project_Viewer"}})
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "POST applied but its answer lost (502): no second POST",
			subject: func(*env) connectors.Subject { return alice("Design Team", "Leads") },
			setup:   noRecord,
			faults:  func(e *env) { e.srv.FailAfterApply("POST", 1, 502) },
			writes:  2,
			errs:    1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor", projB: "Project_Admin"}}
			},
			record: map[string]string{projA: "Project_Editor", projB: "Project_Admin"},
		},
		{
			name:    "5xx once on a write",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Viewer")
				return connectors.Record{}
			},
			faults: func(e *env) { e.srv.FailNextMethod("PUT", 1, 500) },
			writes: 1,
			errs:   1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "5xx once on the first read",
			subject: func(*env) connectors.Subject { return alice("Design Team", "Leads") },
			setup:   noRecord,
			faults:  func(e *env) { e.srv.FailNext(1, 503) },
			writes:  2,
			errs:    1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor", projB: "Project_Admin"}}
			},
			record: map[string]string{projA: "Project_Editor", projB: "Project_Admin"},
		},
		{
			name:    "429 with Retry-After",
			subject: func(*env) connectors.Subject { return alice("Design Team") },
			setup:   noRecord,
			faults:  func(e *env) { e.srv.RateLimitNext(2, 3*time.Second) },
			writes:  1,
			errs:    2,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name: "email changed to another member: old membership removed, new one added",
			subject: func(*env) connectors.Subject {
				s := alice("Design Team")
				s.User.Email = "bob@example.com"
				return s
			},
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projA, e.alice, "Project_Editor")
				return record(map[string]managedMembership{projA: {e.alice, "Project_Editor"}})
			},
			writes: 2,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {}, e.bob: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name: "email and group name match case-insensitively",
			subject: func(*env) connectors.Subject {
				s := alice("design team")
				s.User.Email = "ALICE@Example.COM"
				return s
			},
			setup:  noRecord,
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {projA: "Project_Editor"}}
			},
			record: map[string]string{projA: "Project_Editor"},
		},
		{
			name:    "project no longer mapped: managed membership removed",
			subject: func(*env) connectors.Subject { return alice() },
			setup: func(t *testing.T, e *env) connectors.Record {
				e.set(t, projC, e.alice, "Project_Viewer")
				return record(map[string]managedMembership{projC: {e.alice, "Project_Viewer"}})
			},
			writes: 1,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {}}
			},
			record: map[string]string{},
		},
		{
			name:    "managed project deleted downstream (404): nothing to remove",
			subject: func(*env) connectors.Subject { return alice() },
			setup: func(t *testing.T, e *env) connectors.Record {
				return record(map[string]managedMembership{"11111111-2222-4333-8444-555555555555": {e.alice, "Project_Viewer"}})
			},
			writes: 0,
			want: func(e *env) map[string]map[string]string {
				return map[string]map[string]string{e.alice: {}}
			},
			record: map[string]string{},
		},
	}
}

func recordRoles(r connectors.Record) map[string]string {
	out := map[string]string{}
	for p, m := range decodeRecord(r) {
		out[p] = m.Role
	}
	return out
}

func TestConverge(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sc.cfg)
			prev := sc.setup(t, e)
			if sc.faults != nil {
				sc.faults(e)
			}
			s := sc.subject(e)
			rec, _, errs := converge(t, e.conn, s, prev)
			if len(errs) != sc.errs {
				t.Errorf("saw %d retryable errors, want %d: %v", len(errs), sc.errs, errs)
			}
			for _, err := range errs {
				if connectors.ClassOf(err) == connectors.RateLimited && connectors.RetryAfterOf(err) != 3*time.Second {
					t.Errorf("429: RetryAfter %s, want 3s", connectors.RetryAfterOf(err))
				}
			}
			if got := e.srv.Writes(); got != sc.writes {
				t.Errorf("Writes %d, want %d (log %+v)", got, sc.writes, e.srv.Requests())
			}
			if got := e.srv.DuplicateWrites(); got != 0 {
				t.Errorf("DuplicateWrites %d, want 0", got)
			}
			for member, want := range sc.want(e) {
				if got := e.roles(member); !maps.Equal(got, want) {
					t.Errorf("member %s: roles %v, want %v", member, got, want)
				}
			}
			if got := recordRoles(rec); !maps.Equal(got, sc.record) {
				t.Errorf("record roles %v, want %v", got, sc.record)
			}
			for k, id := range rec.IDs {
				if k == "" || id == "" {
					t.Errorf("record IDs has an empty entry %q=%q", k, id)
				}
			}

			// Converging again makes no write.
			before := e.srv.Writes()
			rec2, acts, err := e.conn.Converge(context.Background(), s, rec, connectors.Options{})
			if err != nil {
				t.Fatalf("second converge: %v", err)
			}
			if e.srv.Writes() != before || len(acts) != 0 {
				t.Errorf("second converge wrote %d times, actions %+v", e.srv.Writes()-before, acts)
			}
			if !reflect.DeepEqual(recordRoles(rec2), recordRoles(rec)) {
				t.Errorf("second converge changed the record: %v → %v", recordRoles(rec), recordRoles(rec2))
			}
		})
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		if sc.faults != nil {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sc.cfg)
			prev := sc.setup(t, e)
			s := sc.subject(e)
			before := map[string]map[string]string{e.alice: e.roles(e.alice), e.bob: e.roles(e.bob)}
			rec, planned, err := e.conn.Converge(context.Background(), s, prev, connectors.Options{DryRun: true})
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if e.srv.Writes() != 0 || e.srv.DuplicateWrites() != 0 {
				t.Fatalf("dry run wrote: %d writes", e.srv.Writes())
			}
			if !reflect.DeepEqual(rec, prev) {
				t.Errorf("dry run changed the record: %+v", rec)
			}
			for m, want := range before {
				if got := e.roles(m); !maps.Equal(got, want) {
					t.Errorf("dry run changed %s: %v → %v", m, want, got)
				}
			}
			if len(planned) != sc.writes {
				t.Errorf("dry run planned %d actions, want %d: %+v", len(planned), sc.writes, planned)
			}
			_, done, err := e.conn.Converge(context.Background(), s, prev, connectors.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(planned, done) {
				t.Errorf("dry run actions %+v, real run %+v", planned, done)
			}
		})
	}
}
