package scim_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// The people of the tests below: ada and carol are provisioned through the
// bridge (ids 1001 and 1002); after the downstream restarts or is restored,
// frank and gina hold those ids.
var (
	ada   = connectors.User{ID: "scim-ada", UserName: "ada@acme.test", ExternalID: "hr-ada", DisplayName: "Ada", Email: "ada@acme.test", Active: true}
	carol = connectors.User{ID: "scim-carol", UserName: "carol@acme.test", DisplayName: "Carol", Email: "carol@acme.test", Active: true}
	frank = fake.User{ID: "1001", UserName: "frank@acme.test", ExternalID: "hr-frank", DisplayName: "Frank", Email: "frank@acme.test", Active: true}
	gina  = fake.User{ID: "1002", UserName: "gina@acme.test", DisplayName: "Gina", Email: "gina@acme.test", Active: true}
)

// logBuffer collects the adapter's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// provision converges each user from no record and returns the records, by
// SCIM id, checking the ids the downstream gave (1001, 1002, ...).
func provision(t *testing.T, h *harness, users ...connectors.User) map[string]connectors.Record {
	t.Helper()
	out := map[string]connectors.Record{}
	for i, u := range users {
		r, _, err := h.c.Converge(context.Background(), userSubject(u), connectors.Record{}, connectors.Options{})
		if err != nil {
			t.Fatalf("provision %s: %v", u.UserName, err)
		}
		if want := fmt.Sprint(1001 + i); r.IDs[scim.IDKey] != want {
			t.Fatalf("provision %s: record %+v, want id %s", u.UserName, r, want)
		}
		out[u.ID] = r
	}
	return out
}

// earlierBuild is r as a build without written keys recorded it: the id alone.
func earlierBuild(r connectors.Record) connectors.Record { return rec(r.IDs[scim.IDKey]) }

// account is the downstream account of u under id.
func account(id string, u connectors.User, active bool) fake.User {
	a := downstream(u, active)
	a.ID = id
	return a
}

// writesTo returns the PATCH and DELETE requests to the user id.
func writesTo(s *fake.Server, id string) []fake.Request {
	var out []fake.Request
	for _, r := range s.Requests() {
		if (r.Method == http.MethodPatch || r.Method == http.MethodDelete) && r.Path == fake.DefaultBasePath+"/Users/"+id {
			out = append(out, r)
		}
	}
	return out
}

// unchanged fails unless the stored accounts are as restored.
func unchanged(t *testing.T, s *fake.Server, us ...fake.User) {
	t.Helper()
	for _, want := range us {
		if got, ok := s.User(want.ID); !ok || got != want {
			t.Fatalf("account %s changed: %+v, was %+v; requests %+v", want.ID, got, want, s.Requests())
		}
	}
}

// TestRecordedIDHeldByAnotherAccount: the downstream restarted (ids begin
// again at 1001) or was restored from a backup, and the id recorded for ada
// now holds frank's account. A convergence of ada (a displayName change, or a
// deactivation) never writes to frank's account: the recorded id is dropped,
// ada is looked up by her keys as without a record, and her own account is
// created, or adopted where it now is. It holds for records with written keys
// and records of an earlier build, whether the fake hides inactive users or
// shows them; a dry run plans the same; the recorded id's new holder is
// logged and named in the reasons; a second convergence writes nothing.
func TestRecordedIDHeldByAnotherAccount(t *testing.T) {
	t.Parallel()
	renamed := with(ada, func(u *connectors.User) { u.DisplayName = "Ada Lovelace" })
	inactive := with(ada, func(u *connectors.User) { u.Active = false })
	for _, shown := range []bool{false, true} {
		for _, from := range []string{"record", "record of an earlier build"} {
			for _, tc := range []struct {
				name string
				// own is ada's own account after the restore, if any.
				own *fake.User
			}{
				{name: "restarted: her account is gone"},
				{name: "restored: her account under another id", own: ptr(account("1005", ada, true))},
				{name: "restored: her account deactivated under another id", own: ptr(account("1005", ada, false))},
			} {
				for _, want := range []connectors.User{renamed, inactive} {
					t.Run(fmt.Sprintf("showInactive=%v/%s/%s/active=%v", shown, from, tc.name, want.Active), func(t *testing.T) {
						t.Parallel()
						var logs logBuffer
						h := newHarness(t, setup{showInactive: shown, log: &logs})
						recs := provision(t, h, ada, carol)
						prev := recs[ada.ID]
						if from != "record" {
							prev = earlierBuild(prev)
						}
						restored := []fake.User{frank, gina}
						if tc.own != nil {
							restored = append(restored, *tc.own)
						}
						h.srv.Restore(restored...)
						h.srv.ResetCounters()

						_, dacts, err := h.c.Converge(context.Background(), userSubject(want), prev, connectors.Options{DryRun: true})
						if err != nil || h.srv.Writes() != 0 {
							t.Fatalf("dry run: err %v, %d writes", err, h.srv.Writes())
						}
						r, acts, errs := convergeRetrying(t, h.c, userSubject(want), prev, connectors.Options{})
						if len(errs) != 0 {
							t.Fatalf("errors %v", errs)
						}
						unchanged(t, h.srv, frank, gina)
						if w := writesTo(h.srv, frank.ID); len(w) != 0 {
							t.Fatalf("writes to frank's account %+v", w)
						}
						if !slices.Equal(ops(dacts), ops(acts)) {
							t.Fatalf("dry run planned %v, converge did %v", ops(dacts), ops(acts))
						}
						for _, a := range acts {
							if !strings.Contains(a.Reason, `recorded user 1001 is now another account ("frank@acme.test")`) {
								t.Fatalf("reason %q does not name the recorded id's new holder", a.Reason)
							}
						}
						if l := logs.String(); !strings.Contains(l, "holds another account") || !strings.Contains(l, `"id":"1001"`) {
							t.Fatalf("no log line names the recorded id's new holder: %s", l)
						}
						var hers []fake.User
						for _, u := range h.srv.Users() {
							if u.UserName == ada.UserName {
								hers = append(hers, u)
							}
						}
						switch {
						case want.Active:
							if len(hers) != 1 || !hers[0].Active || hers[0].DisplayName != want.DisplayName {
								t.Fatalf("ada's accounts %+v, want one, active, %q", hers, want.DisplayName)
							}
							if tc.own != nil && hers[0].ID != tc.own.ID {
								t.Fatalf("ada's account is %s, want her own %s adopted", hers[0].ID, tc.own.ID)
							}
							if got := r.IDs[scim.IDKey]; got != hers[0].ID {
								t.Fatalf("record %+v, want ada's account %s", r, hers[0].ID)
							}
						default:
							for _, u := range hers {
								if u.Active {
									t.Fatalf("ada's account %+v still active", u)
								}
							}
							if tc.own == nil && len(hers) != 0 {
								t.Fatalf("an account was made for inactive ada: %+v", hers)
							}
						}

						// Converging again writes nothing and leaves frank alone.
						h.srv.ResetCounters()
						_, again, err := h.c.Converge(context.Background(), userSubject(want), r, connectors.Options{})
						if err != nil || len(again) != 0 || h.srv.Writes() != 0 {
							t.Fatalf("second converge: err %v, actions %v, %d writes", err, again, h.srv.Writes())
						}
						unchanged(t, h.srv, frank, gina)
					})
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestDeletedUserRecordedIDHeldByAnotherAccount: carol is deleted in the
// bridge after the downstream restarted or was restored, and the id recorded
// for her now holds gina's account. Gina's account stays active; when carol's
// own account is elsewhere, the keys last written to it find it and it is
// deactivated instead. A record of an earlier build (no keys) cannot look
// carol up, but still leaves the account of another SCIM user alone.
func TestDeletedUserRecordedIDHeldByAnotherAccount(t *testing.T) {
	t.Parallel()
	ginaSCIM := connectors.User{ID: "scim-gina", UserName: gina.UserName, Email: gina.Email, Active: true}
	for _, shown := range []bool{false, true} {
		for _, tc := range []struct {
			name        string
			earlier     bool // the record is of an earlier build
			dir         userNames
			own         *fake.User // carol's own account after the restore
			deactivated string     // the id of the account to deactivate; "" for none
		}{
			{name: "restarted: her account is gone", dir: userNames{}},
			{name: "restarted, gina a SCIM user", dir: userNames{gina.UserName: ginaSCIM}},
			{name: "restored: her account under another id", dir: userNames{gina.UserName: ginaSCIM},
				own: ptr(account("1007", carol, true)), deactivated: "1007"},
			{name: "restored: her account under another id, gina unknown to the bridge", dir: userNames{},
				own: ptr(account("1007", carol, true)), deactivated: "1007"},
			{name: "record of an earlier build, gina a SCIM user", earlier: true, dir: userNames{gina.UserName: ginaSCIM}},
		} {
			t.Run(fmt.Sprintf("showInactive=%v/%s", shown, tc.name), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, setup{showInactive: shown, dir: tc.dir})
				prev := provision(t, h, ada, carol)[carol.ID]
				if tc.earlier {
					prev = earlierBuild(prev)
				}
				restored := []fake.User{frank, gina}
				if tc.own != nil {
					restored = append(restored, *tc.own)
				}
				h.srv.Restore(restored...)
				h.srv.ResetCounters()

				r, acts, errs := convergeRetrying(t, h.c, deletedSubject(carol.ID), prev, connectors.Options{})
				if len(errs) != 0 {
					t.Fatalf("errors %v", errs)
				}
				unchanged(t, h.srv, frank, gina)
				if w := writesTo(h.srv, gina.ID); len(w) != 0 {
					t.Fatalf("writes to gina's account %+v", w)
				}
				if tc.deactivated == "" {
					if len(acts) != 0 || h.srv.Writes() != 0 {
						t.Fatalf("actions %+v, %d writes; want none", acts, h.srv.Writes())
					}
				} else {
					if w := writesTo(h.srv, tc.deactivated); len(w) != 1 || w[0].Method != http.MethodDelete || h.srv.Writes() != 1 {
						t.Fatalf("requests %+v, want one DELETE of %s", h.srv.Requests(), tc.deactivated)
					}
					if u, _ := h.srv.User(tc.deactivated); u.Active {
						t.Fatalf("carol's account %+v still active", u)
					}
					if len(acts) != 1 || acts[0].Op != connectors.OpDelete || !strings.Contains(acts[0].Reason, "is now another account") {
						t.Fatalf("actions %+v", acts)
					}
				}

				h.srv.ResetCounters()
				_, again, err := h.c.Converge(context.Background(), deletedSubject(carol.ID), r, connectors.Options{})
				if err != nil || len(again) != 0 || h.srv.Writes() != 0 {
					t.Fatalf("second converge: err %v, actions %v, %d writes", err, again, h.srv.Writes())
				}
				unchanged(t, h.srv, frank, gina)
			})
		}
	}
}

// TestRenameInProgressStillTheUsers: the account at the recorded id carries
// none of the desired user's keys any more, only the ones the adapter last
// wrote there (the user was renamed in the IdP, its externalId and email
// changed too, or it has neither): it is still the user's, renamed (or
// deactivated) in place, with no second account.
func TestRenameInProgressStillTheUsers(t *testing.T) {
	t.Parallel()
	bob := connectors.User{ID: "scim-bob", UserName: "bob", DisplayName: "Bob", Active: true}
	for _, tc := range []struct {
		name       string
		was, now   connectors.User
		wantMethod string
	}{
		{"userName only", bob, with(bob, func(u *connectors.User) { u.UserName = "bob.smith" }), http.MethodPatch},
		{"userName only, and set inactive", bob, with(bob, func(u *connectors.User) { u.UserName, u.Active = "bob.smith", false }), http.MethodDelete},
		{"every key", alice, with(alice, func(u *connectors.User) {
			u.UserName, u.ExternalID, u.Email = "alice.smith", "ext-alice-2", "alice.smith@example.com"
		}), http.MethodPatch},
	} {
		for _, shown := range []bool{false, true} {
			t.Run(fmt.Sprintf("showInactive=%v/%s", shown, tc.name), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, setup{showInactive: shown})
				prev := provision(t, h, tc.was)[tc.was.ID]
				h.srv.ResetCounters()
				r, acts, errs := convergeRetrying(t, h.c, userSubject(tc.now), prev, connectors.Options{})
				if len(errs) != 0 {
					t.Fatalf("errors %v", errs)
				}
				if n := len(requests(h.srv, http.MethodPost)); n != 0 {
					t.Fatalf("%d POSTs: the account was not recognised; requests %+v", n, h.srv.Requests())
				}
				if w := writesTo(h.srv, "1001"); len(w) != 1 || w[0].Method != tc.wantMethod || len(acts) != 1 {
					t.Fatalf("writes %+v, actions %+v; want one %s of 1001", w, acts, tc.wantMethod)
				}
				name := tc.now.UserName
				if !tc.now.Active {
					name = tc.was.UserName // a deactivation leaves the attributes alone
				}
				us := h.srv.Users()
				if len(us) != 1 || us[0].UserName != name || us[0].Active != tc.now.Active {
					t.Fatalf("downstream %+v, want the one account, %q, active=%v", us, name, tc.now.Active)
				}
				if r.IDs[scim.IDKey] != "1001" {
					t.Fatalf("record %+v", r)
				}
				h.srv.ResetCounters()
				if _, again, err := h.c.Converge(context.Background(), userSubject(tc.now), r, connectors.Options{}); err != nil || len(again) != 0 || h.srv.Writes() != 0 {
					t.Fatalf("second converge: err %v, actions %v, %d writes", err, again, h.srv.Writes())
				}
			})
		}
	}
}

// TestEarlierBuildRecordStillWorks: a record of an earlier build names an id
// and nothing else. The account there is the user's when it carries one of
// the desired user's keys (userName, externalId or login): it is converged in
// place as before, and the record then carries the keys written, so a second
// convergence reads the same account and writes nothing.
func TestEarlierBuildRecordStillWorks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		seed       fake.User
		subject    connectors.Subject
		wantMethod string
	}{
		{"same userName", fake.User{UserName: "alice", DisplayName: "Wrong", Active: true}, userSubject(alice), http.MethodPatch},
		{"same externalId (renamed)", downstream(with(alice, func(u *connectors.User) { u.UserName, u.Email = "alice.old", "" }), true),
			userSubject(alice), http.MethodPatch},
		{"same login (renamed)", downstream(with(noExtAlice, func(u *connectors.User) { u.UserName = "alice.old" }), true),
			userSubject(noExtAlice), http.MethodPatch},
		{"same userName, set inactive", downstream(alice, true), userSubject(inactiveAlice), http.MethodDelete},
		{"deleted", downstream(alice, true), deletedSubject(alice.ID), http.MethodDelete},
	} {
		for _, shown := range []bool{false, true} {
			t.Run(fmt.Sprintf("showInactive=%v/%s", shown, tc.name), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, setup{showInactive: shown, dir: userNames{}})
				id := h.srv.Seed(tc.seed).ID
				r, acts, errs := convergeRetrying(t, h.c, tc.subject, rec(id), connectors.Options{})
				if len(errs) != 0 {
					t.Fatalf("errors %v", errs)
				}
				if n := len(requests(h.srv, http.MethodPost)); n != 0 {
					t.Fatalf("%d POSTs: the account was not recognised; requests %+v", n, h.srv.Requests())
				}
				if w := writesTo(h.srv, id); len(w) != 1 || w[0].Method != tc.wantMethod || len(acts) != 1 {
					t.Fatalf("writes %+v, actions %+v; want one %s of %s", w, acts, tc.wantMethod, id)
				}
				if u := tc.subject.User; u != nil && u.Active {
					if got, _ := h.srv.User(id); got.UserName != u.UserName || got.ExternalID != u.ExternalID || got.DisplayName != u.DisplayName {
						t.Fatalf("account %+v, want %+v", got, *u)
					}
				}
				if r.IDs[scim.IDKey] != id || len(r.State) == 0 {
					t.Fatalf("record %+v (state %s), want %s and the keys written", r, r.State, id)
				}
				h.srv.ResetCounters()
				if _, again, err := h.c.Converge(context.Background(), tc.subject, r, connectors.Options{}); err != nil || len(again) != 0 || h.srv.Writes() != 0 {
					t.Fatalf("second converge: err %v, actions %v, %d writes", err, again, h.srv.Writes())
				}
			})
		}
	}
}
