package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// isLoginLookup reports whether r is a lookup with the vendor's login filter
// (emails[...]), as the fake logs it.
func isLoginLookup(r fake.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Query, "emails%5B")
}

// postBodies records the body of every POST the adapter sends.
type postBodies struct {
	mu     sync.Mutex
	bodies []map[string]json.RawMessage
}

func (p *postBodies) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			var m map[string]json.RawMessage
			_ = json.Unmarshal(b, &m)
			p.mu.Lock()
			p.bodies = append(p.bodies, m)
			p.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

func (p *postBodies) all() []map[string]json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.bodies)
}

// TestCreateSendsOneWorkEmail: POST /Users carries exactly one email, the
// user's primary one as its work email (the vendor: "Only one email can be
// specified"; the login filter is emails[type eq "work" ...]); a user without
// an email sends none, unless its userName is itself an email address.
func TestCreateSendsOneWorkEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		user   connectors.User
		emails string // the POST's emails, compact JSON; "" for none
		stored string // the email the fake keeps
	}{
		{"primary email", alice, `[{"value":"alice@example.com","type":"work","primary":true}]`, "alice@example.com"},
		{"several emails: the primary one only", with(alice, func(u *connectors.User) { u.Emails = []string{alice.Email, "alice@home.io"} }),
			`[{"value":"alice@example.com","type":"work","primary":true}]`, "alice@example.com"},
		{"no email", with(alice, func(u *connectors.User) { u.Email = "" }), "", ""},
		{"no email, userName an address", connectors.User{ID: "scim-7", UserName: "bjensen@example.com", Active: true},
			`[{"value":"bjensen@example.com","type":"work","primary":true}]`, "bjensen@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var posts postBodies
			h := newHarness(t, setup{wrap: posts.wrap})
			if _, _, err := h.c.Converge(context.Background(), userSubject(tc.user), connectors.Record{}, connectors.Options{}); err != nil {
				t.Fatal(err)
			}
			bodies := posts.all()
			if len(bodies) != 1 {
				t.Fatalf("%d POSTs, want 1", len(bodies))
			}
			raw, ok := bodies[0]["emails"]
			if tc.emails == "" {
				if ok {
					t.Fatalf("a user without an email POSTed emails %s", raw)
				}
			} else {
				var got bytes.Buffer
				if err := json.Compact(&got, raw); err != nil || got.String() != tc.emails {
					t.Fatalf("emails %s, want %s", raw, tc.emails)
				}
			}
			if u, ok := h.srv.UserByName(tc.user.UserName); !ok || u.Email != tc.stored {
				t.Fatalf("stored %+v (found %v), want email %q", u, ok, tc.stored)
			}
			// A user without a work email has no login to look up.
			lookups := 0
			for _, r := range h.srv.Requests() {
				if isLoginLookup(r) {
					lookups++
				}
			}
			if want := min(1, len(tc.stored)); lookups != want {
				t.Fatalf("%d login lookups, want %d; requests %+v", lookups, want, h.srv.Requests())
			}
		})
	}
}

// TestAdoptsAccountWithTheSameLogin: an ODM account whose login (work email)
// is the SCIM user's, under another userName, is what a POST would update (the
// vendor: "updates the existing user ... if the user has the same login"). It is
// found by the login filter and adopted: PATCHed to the user's userName,
// externalId and displayName (and reactivated when shown inactive), its id
// recorded; never duplicated, never a permanent error. A deactivated account the
// server hides is reached by the POST of its login instead.
func TestAdoptsAccountWithTheSameLogin(t *testing.T) {
	t.Parallel()
	account := fake.User{UserName: "a.smith", ExternalID: "hr-17", DisplayName: "A. Smith", Email: alice.Email}
	for _, tc := range []struct {
		name   string
		st     setup
		active bool
		acts   []string
		method string // the one write
	}{
		{"active", setup{}, true, []string{"update"}, http.MethodPatch},
		{"active, inactive shown", setup{showInactive: true}, true, []string{"update"}, http.MethodPatch},
		{"active, match_by externalId", setup{matchBy: scim.MatchByExternalID}, true, []string{"update"}, http.MethodPatch},
		{"active, the directory knows the user", setup{dir: userNames{"alice": alice}}, true, []string{"update"}, http.MethodPatch},
		{"deactivated, shown", setup{showInactive: true}, false, []string{"update"}, http.MethodPatch},
		{"deactivated, hidden: the POST of its login updates it", setup{}, false, []string{"create"}, http.MethodPost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seed := account
			seed.Active = tc.active

			dry := newHarness(t, tc.st)
			dry.srv.Seed(seed)
			_, dacts, err := dry.c.Converge(context.Background(), userSubject(alice), connectors.Record{}, connectors.Options{DryRun: true})
			if err != nil || !slices.Equal(ops(dacts), tc.acts) || dry.srv.Writes() != 0 {
				t.Fatalf("dry run: err %v, actions %v, %d writes; want %v and none", err, ops(dacts), dry.srv.Writes(), tc.acts)
			}

			h := newHarness(t, tc.st)
			id := h.srv.Seed(seed).ID
			r, acts, err := h.c.Converge(context.Background(), userSubject(alice), connectors.Record{}, connectors.Options{})
			if err != nil {
				t.Fatalf("converge: %v (class %v)", err, connectors.ClassOf(err))
			}
			if !slices.Equal(ops(acts), tc.acts) {
				t.Fatalf("actions %+v, want %v", acts, tc.acts)
			}
			var writes []fake.Request
			for _, q := range h.srv.Requests() {
				if q.Method != http.MethodGet {
					writes = append(writes, q)
				}
			}
			if len(writes) != 1 || writes[0].Method != tc.method || h.srv.Writes() != 1 || h.srv.DuplicateWrites() != 0 {
				t.Fatalf("writes %+v (%d, %d duplicate), want one %s; requests %+v", writes, h.srv.Writes(), h.srv.DuplicateWrites(), tc.method, h.srv.Requests())
			}
			want := fake.User{ID: id, UserName: alice.UserName, ExternalID: alice.ExternalID, DisplayName: alice.DisplayName, Email: alice.Email, Active: true}
			if us := h.srv.Users(); len(us) != 1 || us[0] != want {
				t.Fatalf("downstream %+v, want only %+v", us, want)
			}
			if r.IDs[scim.IDKey] != id {
				t.Fatalf("record %+v, want account %s", r, id)
			}
			h.srv.ResetCounters()
			if _, again, err := h.c.Converge(context.Background(), userSubject(alice), r, connectors.Options{}); err != nil || len(again) != 0 || h.srv.Writes() != 0 {
				t.Fatalf("second converge: err %v, actions %v, %d writes", err, again, h.srv.Writes())
			}
		})
	}
}

// TestLoginOfAnotherSCIMUserIsNotTaken: an account with the user's login whose
// userName another SCIM user has is that user's: it is neither adopted nor
// POSTed over (the POST would update it); the convergence fails, retryable, and
// so it does, the account untouched, when the directory cannot tell.
func TestLoginOfAnotherSCIMUserIsNotTaken(t *testing.T) {
	t.Parallel()
	bob := connectors.User{ID: "scim-2", UserName: "bob", Email: alice.Email, Active: true}
	for name, dir := range map[string]connectors.Directory{
		"another SCIM user has the account's userName": userNames{"alice": alice, "bob": bob},
		"the directory fails":                          failingNames{},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{dir: dir})
			before := h.srv.Seed(fake.User{UserName: "bob", Email: alice.Email, Active: true})
			_, _, err := h.c.Converge(context.Background(), userSubject(alice), connectors.Record{}, connectors.Options{})
			if connectors.ClassOf(err) != connectors.Retryable {
				t.Fatalf("err %v (class %v), want a retryable error", err, connectors.ClassOf(err))
			}
			if h.srv.Writes() != 0 {
				t.Fatalf("%d writes; requests %+v", h.srv.Writes(), h.srv.Requests())
			}
			if us := h.srv.Users(); len(us) != 1 || us[0] != before {
				t.Fatalf("downstream %+v, want only %+v", us, before)
			}
		})
	}
}

// TestLoginLookupRefused: a SCIM server that refuses the value path filter
// (400 invalidFilter; ODM documents it and never does) gets the POST as before.
func TestLoginLookupRefused(t *testing.T) {
	t.Parallel()
	refuse := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Query().Get("filter"), "[") {
				w.Header().Set("Content-Type", fake.ContentType)
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidFilter"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarness(t, setup{wrap: refuse})
	_, acts, err := h.c.Converge(context.Background(), userSubject(alice), connectors.Record{}, connectors.Options{})
	if err != nil || !slices.Equal(ops(acts), []string{"create"}) {
		t.Fatalf("err %v, actions %v", err, acts)
	}
	if _, ok := h.srv.UserByLogin(alice.Email); !ok {
		t.Fatalf("not created: %+v", h.srv.Users())
	}
}

// TestPostedKeyCarriesTheLogin: the key saved before a POST carries its work
// email, and a userName-only key with an email matches only an account that
// carries that email (PATCH cannot change it): an account under the POST's
// userName with another login is someone else's, and is left alone when the
// user is renamed or deleted.
func TestPostedKeyCarriesTheLogin(t *testing.T) {
	t.Parallel()
	renamed := with(noExtAlice, func(u *connectors.User) { u.UserName = "alice.smith" })
	for name, tc := range map[string]struct {
		subj connectors.Subject
		dir  userNames
	}{
		"renamed": {userSubject(renamed), userNames{"alice.smith": renamed}},
		"deleted": {deletedSubject(noExtAlice.ID), userNames{}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{showInactive: true, dir: tc.dir})
			h.srv.FailNextMethod(http.MethodPost, 1, http.StatusServiceUnavailable)
			r, _, err := h.c.Converge(context.Background(), userSubject(noExtAlice), connectors.Record{}, connectors.Options{})
			if connectors.ClassOf(err) != connectors.Retryable {
				t.Fatalf("503 on POST: %v", err)
			}
			if want := `{"posted":[{"userName":"alice","email":"alice@example.com"}]}`; string(r.State) != want {
				t.Fatalf("state %s, want %s", r.State, want)
			}
			other := h.srv.Seed(fake.User{UserName: "alice", DisplayName: "Another Alice", Email: "alice@elsewhere.io", Active: true})
			if _, _, err := h.c.Converge(context.Background(), tc.subj, r, connectors.Options{}); err != nil {
				t.Fatal(err)
			}
			if u, _ := h.srv.User(other.ID); u != other {
				t.Fatalf("the other login's account changed: %+v, was %+v", u, other)
			}
			if tc.subj.User != nil {
				if u, ok := h.srv.UserByLogin(noExtAlice.Email); !ok || u.UserName != "alice.smith" || !u.Active {
					t.Fatalf("renamed user: %+v (found %v)", u, ok)
				}
			}
		})
	}
}
