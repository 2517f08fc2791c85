package scim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

const testToken = "odm-token-0123456789abcdef"

// harness is one fake downstream and an adapter pointed at it.
type harness struct {
	srv *fake.Server
	c   connectors.Connector
}

type setup struct {
	matchBy      string
	prune        bool
	showInactive bool
	maxPageSize  int
	dir          connectors.Directory
	// wrap, when set, stands between the adapter and the fake (to record or
	// change requests).
	wrap func(http.Handler) http.Handler
	// log, when set, receives the adapter's log lines (JSON).
	log io.Writer
}

func newHarness(t testing.TB, st setup) *harness {
	t.Helper()
	srv := fake.New(fake.Options{Token: testToken, ShowInactive: st.showInactive, MaxPageSize: st.maxPageSize})
	h := srv.Handler()
	if st.wrap != nil {
		h = st.wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	cfg := &scim.Config{
		Base:    connectors.Base{Name: "odm", Type: "scim", URL: ts.URL + fake.DefaultBasePath, Token: testToken, RateLimit: 10000, Burst: 1000},
		MatchBy: st.matchBy,
		Prune:   st.prune,
	}
	logger := zerolog.Nop()
	if st.log != nil {
		logger = zerolog.New(st.log)
	}
	c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "acme", Client: ts.Client(), Logger: logger, Throttle: conntest.NoThrottle{}, Directory: st.dir})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{srv: srv, c: c}
}

func userSubject(u connectors.User) connectors.Subject {
	return connectors.Subject{Kind: connectors.SubjectUser, ID: u.ID, User: &u}
}

func deletedSubject(id string) connectors.Subject {
	return connectors.Subject{Kind: connectors.SubjectUser, ID: id}
}

func rec(id string) connectors.Record {
	if id == "" {
		return connectors.Record{}
	}
	return connectors.Record{IDs: map[string]string{scim.IDKey: id}}
}

// convergeRetrying converges like the bridge: retryable and rate-limited errors
// are retried (at once: the test does not sleep), anything else fails the test.
// It returns the final record, every action reported, and the errors retried.
func convergeRetrying(t *testing.T, c connectors.Connector, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, []error) {
	t.Helper()
	var acts []connectors.Action
	var errs []error
	for range 5 {
		r, a, err := c.Converge(context.Background(), s, prev, opts)
		acts = append(acts, a...)
		prev = r
		if err == nil {
			return r, acts, errs
		}
		switch connectors.ClassOf(err) {
		case connectors.Retryable, connectors.RateLimited:
			errs = append(errs, err)
		default:
			t.Fatalf("converge: %v", err)
		}
	}
	t.Fatalf("converge did not succeed after 5 attempts: %v", errs)
	return prev, acts, errs
}

func ops(acts []connectors.Action) []string {
	out := []string{}
	for _, a := range acts {
		out = append(out, string(a.Op))
	}
	return out
}

var alice = connectors.User{ID: "scim-1", UserName: "alice", ExternalID: "ext-alice", DisplayName: "Alice A", Email: "alice@example.com", Active: true}

func with(u connectors.User, fn func(*connectors.User)) connectors.User {
	fn(&u)
	return u
}

// downstream is the ODM account of u: its login is u's email.
func downstream(u connectors.User, active bool) fake.User {
	return fake.User{UserName: u.UserName, ExternalID: u.ExternalID, DisplayName: u.DisplayName, Email: u.Email, Active: active}
}

var inactiveAlice = with(alice, func(u *connectors.User) { u.Active = false })

type convergeCase struct {
	name    string
	matchBy string
	// seed prepares the downstream and returns the record the bridge holds.
	seed    func(s *fake.Server) connectors.Record
	subject connectors.Subject
	faults  func(s *fake.Server)
	// writes and acts are the expected successful writes and action ops; the
	// *Shown variants apply when the fake shows inactive users (nil: the same).
	writes, writesShown int
	acts, actsShown     []string
	// dry is the ops a dry run from the same state reports (nil: acts).
	dry, dryShown []string
	check         func(t *testing.T, s *fake.Server, acts []connectors.Action, errs []error)
}

func convergeCases() []convergeCase {
	seedOne := func(u fake.User, record bool) func(*fake.Server) connectors.Record {
		return func(s *fake.Server) connectors.Record {
			got := s.Seed(u)
			if record {
				return rec(got.ID)
			}
			return connectors.Record{}
		}
	}
	weird := with(alice, func(u *connectors.User) { u.UserName = `o"brien\x y`; u.ExternalID = `ext"\` })
	return []convergeCase{
		{name: "empty: create", seed: seedOne(fake.User{UserName: "bob", Active: true}, false), subject: userSubject(alice), writes: 1, acts: []string{"create"}},
		{name: "converged with record", seed: seedOne(downstream(alice, true), true), subject: userSubject(alice), acts: []string{}},
		{name: "converged without record", seed: seedOne(downstream(alice, true), false), subject: userSubject(alice), acts: []string{}},
		{name: "crash after POST before record: found by filter", seed: seedOne(downstream(alice, true), false), subject: userSubject(alice), acts: []string{},
			check: func(t *testing.T, s *fake.Server, _ []connectors.Action, _ []error) {
				for _, r := range s.Requests() {
					if r.Method == http.MethodPost {
						t.Fatalf("POST after a crash: %+v", s.Requests())
					}
				}
			}},
		{name: "POST answer lost (502 after apply): retried without a second POST", seed: func(*fake.Server) connectors.Record { return connectors.Record{} },
			subject: userSubject(alice), faults: func(s *fake.Server) { s.FailNextAfterApply(http.MethodPost, 1, http.StatusBadGateway) },
			writes: 1, acts: []string{}, dry: []string{"create"},
			check: func(t *testing.T, s *fake.Server, _ []connectors.Action, errs []error) {
				posts := 0
				for _, r := range s.Requests() {
					if r.Method == http.MethodPost {
						posts++
					}
				}
				if posts != 1 || len(errs) != 1 {
					t.Fatalf("%d POSTs, errors %v", posts, errs)
				}
			}},
		{name: "drift: reactivated by hand while SCIM user inactive", seed: seedOne(downstream(alice, true), true), subject: userSubject(inactiveAlice), writes: 1, acts: []string{"delete"}},
		{name: "drift without record: found by filter, deactivated", seed: seedOne(downstream(alice, true), false), subject: userSubject(inactiveAlice), writes: 1, acts: []string{"delete"}},
		{name: "inactive on both sides", seed: seedOne(downstream(alice, false), true), subject: userSubject(inactiveAlice), acts: []string{}},
		{name: "inactive on both sides, attributes differ: left alone", seed: seedOne(fake.User{UserName: "alice", DisplayName: "Old", Active: false}, true), subject: userSubject(inactiveAlice), acts: []string{},
			check: func(t *testing.T, s *fake.Server, _ []connectors.Action, _ []error) {
				if u, _ := s.UserByName("alice"); u.DisplayName != "Old" {
					t.Fatalf("inactive user edited: %+v", u)
				}
			}},
		{name: "inactive SCIM user absent downstream", seed: seedOne(fake.User{UserName: "bob", Active: true}, false), subject: userSubject(inactiveAlice), acts: []string{}},
		{name: "rename: one PATCH of userName", seed: seedOne(downstream(with(alice, func(u *connectors.User) { u.UserName = "alice.old" }), true), true), subject: userSubject(alice), writes: 1, acts: []string{"update"},
			check: func(t *testing.T, s *fake.Server, acts []connectors.Action, _ []error) {
				if acts[0].Reason != "userName differ" {
					t.Fatalf("reason %q", acts[0].Reason)
				}
				if _, ok := s.UserByName("alice.old"); ok {
					t.Fatal("old login still there")
				}
			}},
		{name: "case-only rename", seed: seedOne(downstream(with(alice, func(u *connectors.User) { u.UserName = "ALICE" }), true), true), subject: userSubject(alice), writes: 1, acts: []string{"update"}},
		{name: "attributes drift: one PATCH with only them", seed: seedOne(fake.User{UserName: "alice", DisplayName: "Wrong", Active: true}, true), subject: userSubject(alice), writes: 1, acts: []string{"update"},
			check: func(t *testing.T, _ *fake.Server, acts []connectors.Action, _ []error) {
				if acts[0].Reason != "externalId, displayName differ" {
					t.Fatalf("reason %q", acts[0].Reason)
				}
			}},
		{name: "attribute cleared: PATCH remove", seed: seedOne(downstream(alice, true), true), subject: userSubject(with(alice, func(u *connectors.User) { u.DisplayName = "" })), writes: 1, acts: []string{"update"}},
		{name: "409 on POST: externalId held by the old login, converged by PATCH",
			seed:    seedOne(fake.User{UserName: "alice.old", ExternalID: "ext-alice", DisplayName: "Alice A", Active: true}, false),
			subject: userSubject(alice), writes: 1, acts: []string{"update"}, dry: []string{"create"},
			check: func(t *testing.T, s *fake.Server, _ []connectors.Action, _ []error) {
				if n := len(s.Users()); n != 1 {
					t.Fatalf("%d users after 409 handling", n)
				}
				var saw409 bool
				for _, r := range s.Requests() {
					saw409 = saw409 || r.Status == http.StatusConflict
				}
				if !saw409 {
					t.Fatal("the starting state did not provoke a 409")
				}
			}},
		{name: "deleted SCIM user, downstream active: DELETE", seed: seedOne(downstream(alice, true), true), subject: deletedSubject("scim-1"), writes: 1, acts: []string{"delete"}},
		{name: "deleted SCIM user, downstream already inactive", seed: seedOne(downstream(alice, false), true), subject: deletedSubject("scim-1"), acts: []string{}},
		{name: "deleted SCIM user, downstream gone", seed: func(*fake.Server) connectors.Record { return rec("424242") }, subject: deletedSubject("scim-1"), acts: []string{}},
		{name: "deleted SCIM user without record: no request", seed: seedOne(downstream(alice, true), false), subject: deletedSubject("scim-1"), acts: []string{},
			check: func(t *testing.T, s *fake.Server, _ []connectors.Action, _ []error) {
				if n := len(s.Requests()); n != 0 {
					t.Fatalf("%d requests", n)
				}
			}},
		{name: "reactivated SCIM user with record", seed: seedOne(fake.User{UserName: "alice", ExternalID: "ext-alice", DisplayName: "Old", Active: false}, true), subject: userSubject(alice), writes: 1, acts: []string{"update"}},
		{name: "reactivated SCIM user without record", seed: seedOne(fake.User{UserName: "alice", ExternalID: "ext-alice", DisplayName: "Old", Email: alice.Email, Active: false}, false), subject: userSubject(alice),
			writes: 1, acts: []string{"create"}, actsShown: []string{"update"},
			check: func(t *testing.T, s *fake.Server, _ []connectors.Action, _ []error) {
				// hidden: the POST of its login updated (reactivated) it
				if n := len(s.Users()); n != 1 {
					t.Fatalf("%d accounts: %+v", n, s.Users())
				}
			}},
		{name: "stale record: downstream user gone", seed: func(*fake.Server) connectors.Record { return rec("424242") }, subject: userSubject(alice), writes: 1, acts: []string{"create"}, dry: []string{"update"}},
		{name: "5xx once", seed: func(*fake.Server) connectors.Record { return connectors.Record{} }, subject: userSubject(alice), faults: func(s *fake.Server) { s.FailNext(1, 503) }, writes: 1, acts: []string{"create"},
			check: func(t *testing.T, _ *fake.Server, _ []connectors.Action, errs []error) {
				if len(errs) != 1 || connectors.ClassOf(errs[0]) != connectors.Retryable {
					t.Fatalf("errors %v", errs)
				}
			}},
		{name: "429 with Retry-After", seed: seedOne(downstream(alice, true), true), subject: userSubject(inactiveAlice), faults: func(s *fake.Server) { s.RateLimitNext(1, 2*time.Second) }, writes: 1, acts: []string{"delete"},
			check: func(t *testing.T, _ *fake.Server, _ []connectors.Action, errs []error) {
				if len(errs) != 1 || connectors.ClassOf(errs[0]) != connectors.RateLimited || connectors.RetryAfterOf(errs[0]) != 2*time.Second {
					t.Fatalf("errors %v", errs)
				}
			}},
		{name: "filter escaping: create", seed: func(*fake.Server) connectors.Record { return connectors.Record{} }, subject: userSubject(weird), writes: 1, acts: []string{"create"}},
		{name: "filter escaping: found by filter after a crash", seed: seedOne(downstream(weird, true), false), subject: userSubject(weird), acts: []string{}},
		{name: "filter escaping: match_by externalId", matchBy: "externalId", seed: seedOne(downstream(weird, true), false), subject: userSubject(weird), acts: []string{}},
		{name: "match_by externalId: renamed login found by externalId", matchBy: "externalId",
			seed: seedOne(downstream(with(alice, func(u *connectors.User) { u.UserName = "alice.old" }), true), false), subject: userSubject(alice), writes: 1, acts: []string{"update"}},
		{name: "match_by externalId: no externalId falls back to userName", matchBy: "externalId",
			seed: seedOne(fake.User{UserName: "alice", Active: true}, false), subject: userSubject(with(alice, func(u *connectors.User) { u.ExternalID = ""; u.DisplayName = "" })), acts: []string{}},
	}
}

// checkDesired asserts the downstream matches the subject.
func checkDesired(t *testing.T, s *fake.Server, subj connectors.Subject, prev connectors.Record) {
	t.Helper()
	if subj.User == nil {
		if u, ok := s.User(prev.IDs[scim.IDKey]); ok && u.Active {
			t.Fatalf("deleted SCIM user still active downstream: %+v", u)
		}
		return
	}
	want := subj.User
	var got []fake.User
	for _, u := range s.Users() {
		if u.UserName == want.UserName {
			got = append(got, u)
		}
	}
	if !want.Active {
		for _, u := range got {
			if u.Active {
				t.Fatalf("inactive SCIM user active downstream: %+v", u)
			}
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("%d downstream users named %q: %+v", len(got), want.UserName, s.Users())
	}
	u := got[0]
	if u.ExternalID != want.ExternalID || u.DisplayName != want.DisplayName || !u.Active {
		t.Fatalf("downstream %+v, want %+v", u, *want)
	}
}

func TestConverge(t *testing.T) {
	t.Parallel()
	for _, shown := range []bool{false, true} {
		for _, tc := range convergeCases() {
			t.Run(fmt.Sprintf("showInactive=%v/%s", shown, tc.name), func(t *testing.T) {
				t.Parallel()
				wantWrites, wantActs, wantDry := tc.writes, tc.acts, tc.dry
				if shown {
					if tc.actsShown != nil {
						wantActs = tc.actsShown
					}
					if tc.dryShown != nil {
						wantDry = tc.dryShown
					}
				}
				if wantDry == nil {
					wantDry = wantActs
				}
				st := setup{matchBy: tc.matchBy, showInactive: shown}

				// Dry run from the same starting state: no write, the same plan.
				dry := newHarness(t, st)
				dprev := tc.seed(dry.srv)
				_, dacts, err := dry.c.Converge(context.Background(), tc.subject, dprev, connectors.Options{DryRun: true})
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
				if dry.srv.Writes() != 0 {
					t.Fatalf("dry run wrote %d times", dry.srv.Writes())
				}
				if !slices.Equal(ops(dacts), wantDry) {
					t.Fatalf("dry run actions %v, want %v", ops(dacts), wantDry)
				}

				h := newHarness(t, st)
				prev := tc.seed(h.srv)
				if tc.faults != nil {
					tc.faults(h.srv)
				}
				r, acts, errs := convergeRetrying(t, h.c, tc.subject, prev, connectors.Options{})
				if got := h.srv.Writes(); got != wantWrites {
					t.Fatalf("%d writes, want %d; requests %+v", got, wantWrites, h.srv.Requests())
				}
				if d := h.srv.DuplicateWrites(); d != 0 {
					t.Fatalf("%d duplicate writes; requests %+v", d, h.srv.Requests())
				}
				if !slices.Equal(ops(acts), wantActs) {
					t.Fatalf("actions %v, want %v", acts, wantActs)
				}
				if tc.faults == nil && len(errs) == 0 && slices.Equal(wantDry, wantActs) {
					for i := range acts {
						if acts[i] != dacts[i] {
							t.Fatalf("dry run action %+v, real %+v", dacts[i], acts[i])
						}
					}
				}
				checkDesired(t, h.srv, tc.subject, prev)
				if tc.subject.User != nil && tc.subject.User.Active {
					id := r.IDs[scim.IDKey]
					if u, ok := h.srv.User(id); !ok || u.UserName != tc.subject.User.UserName {
						t.Fatalf("record %v does not name the user", r)
					}
				}
				if tc.check != nil {
					tc.check(t, h.srv, acts, errs)
				}

				// Converging again makes no write and reports nothing.
				before := h.srv.Writes()
				_, again, err := h.c.Converge(context.Background(), tc.subject, r, connectors.Options{})
				if err != nil {
					t.Fatalf("second converge: %v", err)
				}
				if h.srv.Writes() != before || len(again) != 0 {
					t.Fatalf("second converge: %d writes, actions %v", h.srv.Writes()-before, again)
				}
			})
		}
	}
}

// TestLostCreateThenRename: a POST whose answer is lost (applied, then 502)
// and a rename before the retry leave one downstream account, renamed, not a
// second one; and a deactivation (or delete) before the retry deactivates the
// account the lost POST created. The keys of the POST are saved before it is
// sent (Options.Save), as the bridge stores them.
func TestLostCreateThenRename(t *testing.T) {
	for _, tc := range []struct {
		name  string
		then  func(connectors.User) connectors.Subject
		check func(t *testing.T, s *fake.Server)
	}{
		{"renamed", func(u connectors.User) connectors.Subject {
			u.UserName = "alice.renamed"
			return userSubject(u)
		}, func(t *testing.T, s *fake.Server) {
			if us := s.Users(); len(us) != 1 || us[0].UserName != "alice.renamed" || !us[0].Active {
				t.Fatalf("downstream %+v, want one active alice.renamed", us)
			}
		}},
		{"renamed and deactivated", func(u connectors.User) connectors.Subject {
			u.UserName, u.Active = "alice.renamed", false
			return userSubject(u)
		}, func(t *testing.T, s *fake.Server) {
			if us := s.Users(); len(us) != 1 || us[0].Active {
				t.Fatalf("downstream %+v, want the one account, inactive", us)
			}
		}},
		{"deleted", func(u connectors.User) connectors.Subject { return deletedSubject(u.ID) }, func(t *testing.T, s *fake.Server) {
			if us := s.Users(); len(us) != 1 || us[0].Active {
				t.Fatalf("downstream %+v, want the one account, inactive", us)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{showInactive: true})
			var saved connectors.Record
			opts := connectors.Options{Applied: func(_ context.Context, r connectors.Record, _ connectors.Action) error {
				saved = r
				return nil
			}}
			h.srv.FailNextAfterApply(http.MethodPost, 1, http.StatusBadGateway)
			r, _, err := h.c.Converge(context.Background(), userSubject(alice), connectors.Record{}, opts)
			if connectors.ClassOf(err) != connectors.Retryable || len(r.State) == 0 || len(saved.State) == 0 {
				t.Fatalf("lost POST: err %v, record %+v, saved %+v; want a retryable error and the POST's keys kept", err, r, saved)
			}
			r, _, errs := convergeRetrying(t, h.c, tc.then(alice), r, opts)
			if len(errs) != 0 {
				t.Fatalf("retry: %v", errs)
			}
			if n := h.srv.Writes(); n < 1 {
				t.Fatalf("%d writes", n)
			}
			posts := 0
			for _, q := range h.srv.Requests() {
				if q.Method == http.MethodPost {
					posts++
				}
			}
			if posts != 1 {
				t.Fatalf("%d POSTs, want 1 (the lost one)", posts)
			}
			tc.check(t, h.srv)
			_ = r
		})
	}
}

// TestPostedKeysNeverTakeAnotherAccount: the keys of a POST whose answer was
// lost match only the account that POST would have made. An account made by
// hand, or for another user, under a name this user once had (another
// externalId) is neither renamed into this user nor deactivated by its
// delete; a POST the server refused keeps no keys.
func TestPostedKeysNeverTakeAnotherAccount(t *testing.T) {
	lost := func(t *testing.T, h *harness, status int) connectors.Record {
		t.Helper()
		h.srv.FailNextMethod(http.MethodPost, 1, status) // refused before anything was applied
		r, _, err := h.c.Converge(context.Background(), userSubject(alice), connectors.Record{}, connectors.Options{})
		if err == nil {
			t.Fatal("the POST did not fail")
		}
		return r
	}
	other := fake.User{UserName: "alice", ExternalID: "hr-999", DisplayName: "Someone Else", Active: true}

	t.Run("renamed: a hand-made account under the old name is left alone", func(t *testing.T) {
		h := newHarness(t, setup{showInactive: true})
		r := lost(t, h, http.StatusServiceUnavailable)
		if len(r.State) == 0 {
			t.Fatalf("a 503 kept no keys: %+v", r)
		}
		h.srv.Seed(other)
		renamed := with(alice, func(u *connectors.User) { u.UserName = "alice.smith" })
		if _, _, err := h.c.Converge(context.Background(), userSubject(renamed), r, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
		if u, ok := h.srv.UserByName("alice"); !ok || u.ExternalID != "hr-999" || u.DisplayName != "Someone Else" || !u.Active {
			t.Fatalf("the other account was changed: %+v (found %v)", u, ok)
		}
		if _, ok := h.srv.UserByName("alice.smith"); !ok {
			t.Fatal("the renamed user was not created")
		}
	})
	t.Run("deleted: another user's account under the old name stays active", func(t *testing.T) {
		h := newHarness(t, setup{showInactive: true})
		r := lost(t, h, http.StatusServiceUnavailable)
		h.srv.Seed(other)
		if _, _, err := h.c.Converge(context.Background(), deletedSubject(alice.ID), r, connectors.Options{}); err != nil {
			t.Fatal(err)
		}
		if u, _ := h.srv.UserByName("alice"); !u.Active {
			t.Fatalf("the other user's account was deactivated: %+v", u)
		}
	})
	t.Run("a refused POST keeps no keys", func(t *testing.T) {
		h := newHarness(t, setup{})
		if r := lost(t, h, http.StatusBadRequest); len(r.State) != 0 {
			t.Fatalf("a 400 kept keys: %s", r.State)
		}
	})
}

// userNames is a directory of SCIM users by userName.
type userNames map[string]connectors.User

func (d userNames) UserByEmail(context.Context, string) (*connectors.User, error) { return nil, nil }

func (d userNames) UserByUserName(_ context.Context, userName string) (*connectors.User, error) {
	if u, ok := d[strings.ToLower(userName)]; ok {
		return &u, nil
	}
	return nil, nil
}

// TestConflictNeverTakesAnotherUsersAccount: two SCIM users may share an
// externalId (it is not unique); when the second one's POST answers 409
// because the downstream holds that externalId under the first one's login,
// the first one's account is not renamed into the second: the 409 stands. An
// account whose login no SCIM user has any more (the user's own former login)
// is still adopted.
func TestConflictNeverTakesAnotherUsersAccount(t *testing.T) {
	ext1 := connectors.User{ID: "scim-1", UserName: "ext1", ExternalID: "DUP-1", Active: true}
	ext2 := connectors.User{ID: "scim-2", UserName: "ext2", ExternalID: "DUP-1", Active: true}
	h := newHarness(t, setup{dir: userNames{"ext1": ext1, "ext2": ext2}})
	h.srv.Seed(fake.User{UserName: "ext1", ExternalID: "DUP-1", Active: true})
	_, _, err := h.c.Converge(context.Background(), userSubject(ext2), connectors.Record{}, connectors.Options{})
	if connectors.StatusOf(err) != http.StatusConflict {
		t.Fatalf("second user: %v, want the 409", err)
	}
	if u, ok := h.srv.UserByName("ext1"); !ok || !u.Active {
		t.Fatalf("the first user's account was changed: %+v (found %v)", u, ok)
	}
	// The user's own former login (no SCIM user has it now) is adopted.
	h2 := newHarness(t, setup{dir: userNames{"ext2": ext2}})
	h2.srv.Seed(fake.User{UserName: "ext1", ExternalID: "DUP-1", Active: true})
	if _, _, err := h2.c.Converge(context.Background(), userSubject(ext2), connectors.Record{}, connectors.Options{}); err != nil {
		t.Fatalf("former login: %v", err)
	}
	if _, ok := h2.srv.UserByName("ext2"); !ok {
		t.Fatal("the former login was not renamed")
	}
}

// failingNames is a directory whose store is down.
type failingNames struct{}

func (failingNames) UserByEmail(context.Context, string) (*connectors.User, error) { return nil, nil }
func (failingNames) UserByUserName(context.Context, string) (*connectors.User, error) {
	return nil, errors.New("store unavailable")
}

// TestConflictOwnerLookupFailureIsRetried: when the bridge's directory cannot
// tell who owns a login after a 409, the convergence is retried, not parked.
func TestConflictOwnerLookupFailureIsRetried(t *testing.T) {
	ext2 := connectors.User{ID: "scim-2", UserName: "ext2", ExternalID: "DUP-1", Active: true}
	h := newHarness(t, setup{dir: failingNames{}})
	h.srv.Seed(fake.User{UserName: "ext1", ExternalID: "DUP-1", Active: true})
	_, _, err := h.c.Converge(context.Background(), userSubject(ext2), connectors.Record{}, connectors.Options{})
	if connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("err %v (class %v), want retryable", err, connectors.ClassOf(err))
	}
}
