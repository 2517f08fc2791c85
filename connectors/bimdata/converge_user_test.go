package bimdata

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
)

// seedInvitations stores invitations 1..4: alice's primary email (1, 4), bob (2),
// alice's second email (3), with the given statuses.
func seedInvitations(s1, s2, s3, s4 string) func(*fake.Server) {
	return func(srv *fake.Server) {
		srv.AddInvitation(fake.Invitation{ID: 1, Email: "alice@example.com", Status: s1})
		srv.AddInvitation(fake.Invitation{ID: 2, Email: "bob@example.com", Status: s2})
		srv.AddInvitation(fake.Invitation{ID: 3, Email: "A.Liddell@example.com", Status: s3})
		srv.AddInvitation(fake.Invitation{ID: 4, Email: "alice@example.com", Status: s4})
	}
}

func withUsers(seed func(*fake.Server), emails ...string) func(*fake.Server) {
	return func(srv *fake.Server) {
		seed(srv)
		for _, e := range emails {
			srv.AddUser(fake.User{Email: e})
		}
	}
}

const (
	P = fake.StatusPending
	A = fake.StatusAccepted
	D = fake.StatusDenied
)

var aliceEmails = []string{"alice@example.com", "a.liddell@example.com"}

// TestConvergeUser runs every starting state through a dry run, a convergence
// (retried on retryable errors like the bridge) and a second convergence, and
// checks the downstream state and the exact number of writes.
func TestConvergeUser(t *testing.T) {
	t.Parallel()
	present := stateRecord(userState{Email: "alice@example.com", Emails: aliceEmails, Status: statePresent})
	removed := stateRecord(userState{Email: "alice@example.com", Emails: aliceEmails, Status: stateRemoved})
	created := []string{"create user alice@example.com", "accept invitation 1 (alice@example.com)", "accept invitation 3 (A.Liddell@example.com)"}
	removal := []string{"delete user alice@example.com", "deny invitation 1 (alice@example.com)", "deny invitation 3 (A.Liddell@example.com)"}

	for _, tc := range []struct {
		name       string
		seed       func(*fake.Server)
		user       *connectors.User // nil: deleted
		prev       connectors.Record
		fault      func(*fake.Server)
		wantOps    []string
		wantWrites int
		// wantDups is 0 except where the API offers no way to look first: it has
		// no route to read a user, so after a crash that lost the record the
		// create (answered 200) or the delete (of an absent user) is repeated.
		wantDups      int
		wantUsers     []string
		wantStatuses  map[int]string
		wantErrs      int
		wantRetry     time.Duration
		wantStateStat string
	}{
		{
			name: "empty downstream", seed: seedInvitations(P, P, P, A), user: alice(true),
			wantOps: created, wantWrites: 3, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "already converged", seed: withUsers(seedInvitations(A, P, A, A), "alice@example.com"), user: alice(true), prev: present,
			wantWrites: 0, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "drifted: a new pending invitation", seed: withUsers(seedInvitations(P, P, A, A), "alice@example.com"), user: alice(true), prev: present,
			wantOps: created[1:2], wantWrites: 1, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "drifted: email changed", seed: withUsers(seedInvitations(P, P, A, A), "old@example.com"), user: alice(true),
			prev:    stateRecord(userState{Email: "old@example.com", Status: statePresent}),
			wantOps: []string{created[0], created[1]}, wantWrites: 2, wantUsers: []string{"old@example.com", "alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "reactivated after removal", seed: seedInvitations(A, P, A, A), user: alice(true), prev: removed,
			wantOps: created[:1], wantWrites: 1, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "crash after create, record lost", seed: withUsers(seedInvitations(P, P, P, A), "alice@example.com"), user: alice(true),
			wantOps: created, wantWrites: 3, wantDups: 1, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "crash after one accept, record kept", seed: withUsers(seedInvitations(A, P, P, A), "alice@example.com"), user: alice(true), prev: present,
			wantOps: created[2:], wantWrites: 1, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "5xx once", seed: seedInvitations(P, P, P, A), user: alice(true),
			fault:   func(s *fake.Server) { s.FailNext(1, 503) },
			wantOps: created, wantWrites: 3, wantUsers: []string{"alice@example.com"}, wantErrs: 1,
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "429 with Retry-After", seed: seedInvitations(P, P, P, A), user: alice(true),
			fault:   func(s *fake.Server) { s.RateLimitNext(1, 3*time.Second) },
			wantOps: created, wantWrites: 3, wantUsers: []string{"alice@example.com"}, wantErrs: 1, wantRetry: 3 * time.Second,
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "5xx on an accept after the create", seed: seedInvitations(P, P, P, A), user: alice(true),
			fault:   func(s *fake.Server) { s.FailNextOn("POST", "/identity-provider/invitation/3/accept", 1, 502) },
			wantOps: created, wantWrites: 3, wantUsers: []string{"alice@example.com"}, wantErrs: 1,
			wantStatuses: map[int]string{1: A, 2: P, 3: A, 4: A}, wantStateStat: statePresent,
		},
		{
			name: "deactivated", seed: withUsers(seedInvitations(P, P, P, A), "alice@example.com", "bob@example.com"), user: alice(false), prev: present,
			wantOps: removal, wantWrites: 3, wantUsers: []string{"bob@example.com"},
			wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantStateStat: stateRemoved,
		},
		{
			name: "deactivated, already converged", seed: seedInvitations(D, P, D, A), user: alice(false), prev: removed,
			wantWrites: 0, wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantStateStat: stateRemoved,
		},
		{
			name: "deactivated, crash after the delete", seed: seedInvitations(P, P, D, A), user: alice(false), prev: present,
			wantOps: removal[:2], wantWrites: 2, wantDups: 1,
			wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantStateStat: stateRemoved,
		},
		{
			name: "deactivated, 5xx on a deny", seed: withUsers(seedInvitations(P, P, P, A), "alice@example.com"), user: alice(false), prev: present,
			fault:   func(s *fake.Server) { s.FailNextOn("POST", "/identity-provider/invitation/1/deny", 1, 500) },
			wantOps: removal, wantWrites: 3, wantErrs: 1,
			wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantStateStat: stateRemoved,
		},
		{
			name: "deleted", seed: withUsers(seedInvitations(P, P, P, A), "alice@example.com"), prev: present,
			wantOps: removal, wantWrites: 3,
			wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantStateStat: stateRemoved,
		},
		{
			name: "deleted, 429 on the delete", seed: withUsers(seedInvitations(P, P, P, A), "alice@example.com"), prev: present,
			fault:   func(s *fake.Server) { s.RateLimitNext(1, time.Second) },
			wantOps: removal, wantWrites: 3, wantErrs: 1, wantRetry: time.Second,
			wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantStateStat: stateRemoved,
		},
		{
			name: "deleted without a record", seed: withUsers(seedInvitations(P, P, P, A), "alice@example.com"),
			wantWrites: 0, wantUsers: []string{"alice@example.com"},
			wantStatuses: map[int]string{1: P, 2: P, 3: P, 4: A},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dir *directory
			if tc.user != nil {
				dir = newDirectory(*tc.user)
			} else {
				dir = newDirectory()
			}
			e := newEnv(t, envOpts{dir: dir})
			tc.seed(e.srv)
			subject := userSubject(tc.user, "u1")
			before := statuses(e.srv)

			// A dry run writes nothing and reports the actions of the real run.
			dryRec, dryActions, err := e.conn.Converge(context.Background(), subject, tc.prev, connectors.Options{DryRun: true})
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if e.srv.Writes() != 0 || !mapsEqual(statuses(e.srv), before) {
				t.Fatalf("dry run wrote: %d writes", e.srv.Writes())
			}
			if string(dryRec.State) != string(tc.prev.State) {
				t.Fatalf("dry run changed the record: %s", dryRec.State)
			}

			// Start cold: the real run must not depend on what the dry run listed.
			e.conn.cache.invalidate()
			e.srv.ResetCounters()
			if tc.fault != nil {
				tc.fault(e.srv)
			}
			rec, actions, errs := converge(t, e.conn, subject, tc.prev, connectors.Options{})
			if len(errs) != tc.wantErrs {
				t.Fatalf("%d retried errors (%v), want %d", len(errs), errs, tc.wantErrs)
			}
			if tc.wantRetry > 0 && connectors.RetryAfterOf(errs[0]) != tc.wantRetry {
				t.Fatalf("retry after %s, want %s (%v)", connectors.RetryAfterOf(errs[0]), tc.wantRetry, errs[0])
			}
			if got := actionOps(actions); !slices.Equal(got, tc.wantOps) {
				t.Fatalf("actions %q, want %q", got, tc.wantOps)
			}
			if got := actionOps(dryActions); !slices.Equal(got, tc.wantOps) {
				t.Fatalf("dry-run actions %q, want %q", got, tc.wantOps)
			}
			if e.srv.Writes() != tc.wantWrites || e.srv.DuplicateWrites() != tc.wantDups {
				t.Fatalf("writes %d dups %d, want %d %d; requests %+v", e.srv.Writes(), e.srv.DuplicateWrites(), tc.wantWrites, tc.wantDups, e.srv.Requests())
			}
			if got := userEmailsOf(e.srv); !slices.Equal(got, tc.wantUsers) {
				t.Fatalf("users %q, want %q", got, tc.wantUsers)
			}
			if got := statuses(e.srv); !mapsEqual(got, tc.wantStatuses) {
				t.Fatalf("invitations %v, want %v", got, tc.wantStatuses)
			}
			if st := decodeState(t, rec); st.Status != tc.wantStateStat {
				t.Fatalf("record state %+v, want status %q", st, tc.wantStateStat)
			}

			// Converging again, warm or cold cache, makes no write.
			for _, cold := range []bool{false, true} {
				if cold {
					e.conn.cache.invalidate()
				}
				writes, dups := e.srv.Writes(), e.srv.DuplicateWrites()
				rec2, actions2, errs2 := converge(t, e.conn, subject, rec, connectors.Options{})
				if len(errs2) != 0 || len(actions2) != 0 || e.srv.Writes() != writes || e.srv.DuplicateWrites() != dups {
					t.Fatalf("second convergence (cold %v): errs %v actions %q writes %d→%d", cold, errs2, actionOps(actions2), writes, e.srv.Writes())
				}
				if string(rec2.State) != string(rec.State) {
					t.Fatalf("second convergence changed the record: %s → %s", rec.State, rec2.State)
				}
			}
		})
	}
}

func mapsEqual(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCreateUserBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		user        connectors.User
		first, last string
	}{
		{"name parts", connectors.User{Email: "a@example.com", GivenName: "Ann", FamilyName: "Lee", DisplayName: "X Y"}, "Ann", "Lee"},
		{"display name", connectors.User{Email: "b@example.com", DisplayName: "Bob van Dam"}, "Bob", "van Dam"},
		{"email only", connectors.User{Emails: []string{" c.d@example.com "}}, "c.d", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			u := tc.user
			u.ID, u.Active = "x", true
			rec, _, errs := converge(t, e.conn, userSubject(&u, "x"), connectors.Record{}, connectors.Options{})
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			users := e.srv.Users()
			if len(users) != 1 || users[0].Firstname == nil || *users[0].Firstname != tc.first || users[0].Lastname == nil || *users[0].Lastname != tc.last {
				t.Fatalf("users %+v, want %q %q", users, tc.first, tc.last)
			}
			if rec.IDs[idUser] != "1" {
				t.Fatalf("record ids %v, want the BIMData user id", rec.IDs)
			}
		})
	}
}

func TestUserWithoutEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, active := range []bool{true, false} {
		u := &connectors.User{ID: "x", UserName: "x", Active: active}
		rec, actions, err := e.conn.Converge(context.Background(), userSubject(u, "x"), connectors.Record{}, connectors.Options{})
		if err != nil || len(actions) != 0 || rec.State != nil {
			t.Fatalf("active %v: rec %+v actions %v err %v", active, rec, actions, err)
		}
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
}

// TestDeleteAbsentUser: deprovisioning a user that BIMData does not have (no
// record, so the adapter cannot know) succeeds whether the server answers 204
// or 404, and the next convergence does not delete again.
func TestDeleteAbsentUser(t *testing.T) {
	t.Parallel()
	for _, status := range []int{204, 404} {
		t.Run(strings.ToLower(http2xx(status)), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{fake: fake.Options{DeleteAbsentStatus: status}, dir: newDirectory(*alice(false))})
			rec, actions, err := e.conn.Converge(context.Background(), userSubject(alice(false), "u1"), connectors.Record{}, connectors.Options{})
			if err != nil {
				t.Fatalf("converge: %v", err)
			}
			if got := actionOps(actions); !slices.Equal(got, []string{"delete user alice@example.com"}) {
				t.Fatalf("actions %q", got)
			}
			if st := decodeState(t, rec); !st.is(stateRemoved, "alice@example.com") {
				t.Fatalf("record %+v, want removed", st)
			}
			n := len(e.srv.Requests())
			if _, actions, err = e.conn.Converge(context.Background(), userSubject(alice(false), "u1"), rec, connectors.Options{}); err != nil || len(actions) != 0 {
				t.Fatalf("again: actions %q err %v", actionOps(actions), err)
			}
			if got := countRequests(e.srv, "DELETE", pathUser); got != 1 {
				t.Fatalf("%d deletes, want 1 (requests after the first run: %d)", got, len(e.srv.Requests())-n)
			}
		})
	}
}

func http2xx(status int) string {
	if status == 204 {
		return "answered_204"
	}
	return "answered_404"
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	present := stateRecord(userState{Email: "alice@example.com", Emails: aliceEmails, Status: statePresent})
	for _, tc := range []struct {
		name          string
		cfg           func(*Config)
		wantOps       []string
		wantUsers     []string
		wantStatuses  map[int]string
		wantRequests  int
		wantStateStat string
	}{
		{
			name: "unknown_invitations ignore", cfg: func(c *Config) { c.UnknownInvitations = PolicyIgnore },
			wantOps: []string{"delete user alice@example.com"}, wantUsers: nil,
			wantStatuses: map[int]string{1: P, 2: P, 3: P, 4: A}, wantRequests: 1, wantStateStat: stateRemoved,
		},
		{
			name: "on_deactivate ignore", cfg: func(c *Config) { c.OnDeactivate = PolicyIgnore },
			wantOps: []string{"deny invitation 1 (alice@example.com)", "deny invitation 3 (A.Liddell@example.com)"},
			// The listing, then each invitation re-read right before its answer.
			wantUsers: []string{"alice@example.com"}, wantStatuses: map[int]string{1: D, 2: P, 3: D, 4: A}, wantRequests: 5,
			wantStateStat: statePresent,
		},
		{
			name: "both ignore", cfg: func(c *Config) { c.OnDeactivate, c.UnknownInvitations = PolicyIgnore, PolicyIgnore },
			wantUsers: []string{"alice@example.com"}, wantStatuses: map[int]string{1: P, 2: P, 3: P, 4: A}, wantRequests: 0,
			wantStateStat: statePresent,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: tc.cfg, dir: newDirectory(*alice(false))})
			withUsers(seedInvitations(P, P, P, A), "alice@example.com")(e.srv)
			rec, actions, errs := converge(t, e.conn, userSubject(alice(false), "u1"), present, connectors.Options{})
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			if got := actionOps(actions); !slices.Equal(got, tc.wantOps) {
				t.Fatalf("actions %q, want %q", got, tc.wantOps)
			}
			if got := userEmailsOf(e.srv); !slices.Equal(got, tc.wantUsers) {
				t.Fatalf("users %q, want %q", got, tc.wantUsers)
			}
			if got := statuses(e.srv); !mapsEqual(got, tc.wantStatuses) {
				t.Fatalf("invitations %v, want %v", got, tc.wantStatuses)
			}
			if got := len(e.srv.Requests()); got != tc.wantRequests {
				t.Fatalf("%d requests, want %d: %+v", got, tc.wantRequests, e.srv.Requests())
			}
			if st := decodeState(t, rec); st.Status != tc.wantStateStat {
				t.Fatalf("record %+v, want %q", st, tc.wantStateStat)
			}
		})
	}
}

// TestEmailTakenOver: an IdP deleted alice and created her again under another
// id. Deprovisioning the old subject must leave the new owner's BIMData user and
// invitations alone.
func TestEmailTakenOver(t *testing.T) {
	t.Parallel()
	reborn := *alice(true)
	reborn.ID = "u2"
	e := newEnv(t, envOpts{dir: newDirectory(reborn)})
	withUsers(seedInvitations(P, P, P, A), "alice@example.com")(e.srv)
	prev := stateRecord(userState{Email: "alice@example.com", Emails: aliceEmails, Status: statePresent})

	rec, actions, errs := converge(t, e.conn, userSubject(nil, "u1"), prev, connectors.Options{})
	if len(errs) != 0 || len(actions) != 0 || e.srv.Writes() != 0 {
		t.Fatalf("errs %v actions %q writes %d, want nothing", errs, actionOps(actions), e.srv.Writes())
	}
	if st := decodeState(t, rec); !st.is(stateReleased, "alice@example.com") {
		t.Fatalf("record %+v, want released", st)
	}
	// The new owner converges as usual: its create is answered 200 (the user is
	// there), and the invitations are accepted.
	_, actions, errs = converge(t, e.conn, userSubject(&reborn, "u2"), connectors.Record{}, connectors.Options{})
	if len(errs) != 0 || len(actions) != 3 {
		t.Fatalf("new owner: errs %v actions %q", errs, actionOps(actions))
	}
}

func TestUnreadableRecordIsEmpty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rec, actions, err := e.conn.Converge(context.Background(), userSubject(alice(true), "u1"), connectors.Record{State: []byte(`{not json`)}, connectors.Options{})
	if err != nil || len(actions) != 1 || decodeState(t, rec).Status != statePresent {
		t.Fatalf("rec %s actions %q err %v", rec.State, actionOps(actions), err)
	}
}

func TestDebugLogOneLinePerWrite(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	e := newEnv(t, envOpts{debug: &logs})
	seedInvitations(P, P, P, A)(e.srv)
	if _, _, errs := converge(t, e.conn, userSubject(alice(true), "u1"), connectors.Record{}, connectors.Options{}); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := strings.Count(logs.String(), "\n"); got != e.srv.Writes() {
		t.Fatalf("%d log lines for %d writes:\n%s", got, e.srv.Writes(), logs.String())
	}
	if strings.Contains(logs.String(), testToken) {
		t.Fatal("log leaks the token")
	}
}

// TestFormerPrimaryEmail: the BIMData user made for a former primary email
// stays while the SCIM user is active and is deleted with its deprovisioning,
// even when that delete fails at first, but never when the email came back as
// the primary or now belongs to another active SCIM user.
func TestFormerPrimaryEmail(t *testing.T) {
	t.Parallel()
	user := func(active bool, emails ...string) *connectors.User {
		u := alice(active)
		u.Email, u.Emails = emails[0], emails
		return u
	}
	presentAs := func(email string) connectors.Record {
		return stateRecord(userState{Email: email, Emails: []string{email}, Status: statePresent})
	}

	t.Run("kept while active, deleted with the deactivation", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{dir: newDirectory()})
		e.srv.AddUser(fake.User{Email: "old@example.com"})
		rec, actions, errs := converge(t, e.conn, userSubject(user(true, "new@example.com"), "u1"), presentAs("old@example.com"), connectors.Options{})
		if len(errs) != 0 || !slices.Equal(actionOps(actions), []string{"create user new@example.com"}) {
			t.Fatalf("errs %v actions %q", errs, actionOps(actions))
		}
		if st := decodeState(t, rec); !slices.Equal(st.Former, []string{"old@example.com"}) || !st.is(statePresent, "new@example.com") {
			t.Fatalf("record %+v, want old@example.com as former", st)
		}
		e.srv.FailNextOn("DELETE", "/identity-provider/user", 1, 503)
		rec, _, err := e.conn.Converge(context.Background(), userSubject(user(false, "new@example.com"), "u1"), rec, connectors.Options{})
		if err == nil {
			t.Fatal("the convergence whose DELETE answered 503 succeeded")
		}
		if st := decodeState(t, rec); !slices.Equal(st.Former, []string{"old@example.com"}) {
			t.Fatalf("after a failed delete the record is %+v, want old@example.com still as former", st)
		}
		rec, _, errs = converge(t, e.conn, userSubject(user(false, "new@example.com"), "u1"), rec, connectors.Options{})
		if len(errs) != 0 || len(userEmailsOf(e.srv)) != 0 {
			t.Fatalf("errs %v, BIMData users %q, want none", errs, userEmailsOf(e.srv))
		}
		if st := decodeState(t, rec); len(st.Former) != 0 || !st.is(stateRemoved, "new@example.com") {
			t.Fatalf("record %+v", st)
		}
	})

	t.Run("deleted with the SCIM user", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{dir: newDirectory()})
		e.srv.AddUser(fake.User{Email: "old@example.com"})
		e.srv.AddUser(fake.User{Email: "new@example.com"})
		prev := stateRecord(userState{Email: "new@example.com", Status: statePresent, Former: []string{"old@example.com"}})
		_, actions, errs := converge(t, e.conn, userSubject(nil, "u1"), prev, connectors.Options{})
		want := []string{"delete user new@example.com", "delete user old@example.com"}
		if len(errs) != 0 || !slices.Equal(actionOps(actions), want) || len(userEmailsOf(e.srv)) != 0 {
			t.Fatalf("errs %v actions %q users %q, want %q and none left", errs, actionOps(actions), userEmailsOf(e.srv), want)
		}
	})

	t.Run("the former email is the primary again", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{dir: newDirectory()})
		e.srv.AddUser(fake.User{Email: "old@example.com"})
		e.srv.AddUser(fake.User{Email: "new@example.com"})
		prev := stateRecord(userState{Email: "new@example.com", Status: statePresent, Former: []string{"old@example.com"}})
		rec, actions, errs := converge(t, e.conn, userSubject(user(true, "old@example.com"), "u1"), prev, connectors.Options{})
		if len(errs) != 0 || !slices.Equal(actionOps(actions), []string{"create user old@example.com"}) {
			t.Fatalf("errs %v actions %q", errs, actionOps(actions))
		}
		if st := decodeState(t, rec); !slices.Equal(st.Former, []string{"new@example.com"}) {
			t.Fatalf("record %+v, want new@example.com as the only former", st)
		}
	})

	t.Run("another active user owns the former email", func(t *testing.T) {
		t.Parallel()
		bob := connectors.User{ID: "u2", UserName: "bob", Email: "old@example.com", Emails: []string{"old@example.com"}, Active: true}
		e := newEnv(t, envOpts{dir: newDirectory(bob)})
		e.srv.AddUser(fake.User{Email: "old@example.com"})
		e.srv.AddUser(fake.User{Email: "new@example.com"})
		prev := stateRecord(userState{Email: "new@example.com", Status: statePresent, Former: []string{"old@example.com"}})
		rec, actions, errs := converge(t, e.conn, userSubject(user(false, "new@example.com"), "u1"), prev, connectors.Options{})
		if len(errs) != 0 || !slices.Equal(actionOps(actions), []string{"delete user new@example.com"}) {
			t.Fatalf("errs %v actions %q", errs, actionOps(actions))
		}
		if got := userEmailsOf(e.srv); !slices.Equal(got, []string{"old@example.com"}) {
			t.Fatalf("BIMData users %q, want bob's kept", got)
		}
		if st := decodeState(t, rec); len(st.Former) != 0 {
			t.Fatalf("record %+v", st)
		}
	})

	t.Run("on_deactivate ignore deletes nothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{dir: newDirectory(), cfg: func(c *Config) { c.OnDeactivate = PolicyIgnore }})
		e.srv.AddUser(fake.User{Email: "old@example.com"})
		e.srv.AddUser(fake.User{Email: "new@example.com"})
		prev := stateRecord(userState{Email: "new@example.com", Status: statePresent, Former: []string{"old@example.com"}})
		_, actions, errs := converge(t, e.conn, userSubject(user(false, "new@example.com"), "u1"), prev, connectors.Options{})
		if len(errs) != 0 || len(actions) != 0 || len(userEmailsOf(e.srv)) != 2 {
			t.Fatalf("errs %v actions %q users %q", errs, actionOps(actions), userEmailsOf(e.srv))
		}
	})
}
