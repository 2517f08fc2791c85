package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/scim"
	"github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// noExtAlice is alice as an IdP that sends no externalId provisions her.
var noExtAlice = with(alice, func(u *connectors.User) { u.ExternalID = "" })

// requests returns the logged requests with that method.
func requests(s *fake.Server, method string) []fake.Request {
	var out []fake.Request
	for _, r := range s.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// savingOpts returns Options whose Applied keeps the latest record stored, as
// the bridge does.
func savingOpts(saved *connectors.Record) connectors.Options {
	return connectors.Options{Applied: func(_ context.Context, r connectors.Record, _ connectors.Action) error {
		*saved = r
		return nil
	}}
}

// TestLostCreateWithoutExternalID: the POST of a user without externalId is
// applied downstream but its answer is lost (502 after apply); before the next
// attempt the user is deleted, deactivated or renamed in the bridge. The next
// convergence finds the account that POST made, by the userName-only key saved
// before it, and converges it: deactivated, or renamed by PATCH, never left
// active nor duplicated by a second POST. It holds whether the bridge stored
// the record the failed convergence returned, only the one saved before the
// POST (a crash while the POST was in flight), or a record of an earlier build
// carrying the same key.
func TestLostCreateWithoutExternalID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// then is the SCIM user at the next attempt (nil: deleted) and the
		// directory's users then.
		then func() (*connectors.User, userNames)
		// deactivated: the account ends inactive; else active under then's userName.
		deactivated bool
		// method is the write the retry makes to the account.
		method string
	}{
		{"deleted", func() (*connectors.User, userNames) { return nil, userNames{} }, true, http.MethodDelete},
		{"renamed", func() (*connectors.User, userNames) {
			u := with(noExtAlice, func(u *connectors.User) { u.UserName = "alice.smith" })
			return &u, userNames{"alice.smith": u}
		}, false, http.MethodPatch},
		{"set inactive", func() (*connectors.User, userNames) {
			u := with(noExtAlice, func(u *connectors.User) { u.Active = false })
			return &u, userNames{"alice": u}
		}, true, http.MethodDelete},
		{"renamed and set inactive", func() (*connectors.User, userNames) {
			u := with(noExtAlice, func(u *connectors.User) { u.UserName, u.Active = "alice.smith", false })
			return &u, userNames{"alice.smith": u}
		}, true, http.MethodDelete},
	}
	for _, shown := range []bool{false, true} {
		for _, from := range []string{"returned record", "saved before the POST", "record of an earlier build"} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("showInactive=%v/%s/%s", shown, from, tc.name), func(t *testing.T) {
					t.Parallel()
					dir := userNames{"alice": noExtAlice}
					h := newHarness(t, setup{showInactive: shown, dir: dir})
					var saved connectors.Record
					opts := savingOpts(&saved)

					h.srv.FailNextAfterApply(http.MethodPost, 1, http.StatusBadGateway)
					r, _, err := h.c.Converge(context.Background(), userSubject(noExtAlice), connectors.Record{}, opts)
					if connectors.ClassOf(err) != connectors.Retryable {
						t.Fatalf("lost POST: err %v, want a retryable error", err)
					}
					us := h.srv.Users()
					if len(us) != 1 || !us[0].Active {
						t.Fatalf("downstream after the lost POST %+v, want one active account", us)
					}
					account := us[0].ID
					prev := map[string]connectors.Record{
						"returned record":            r,
						"saved before the POST":      saved,
						"record of an earlier build": {State: json.RawMessage(`{"posted":[{"userName":"alice"}]}`)},
					}[from]
					if len(prev.State) == 0 {
						// not fatal: what the retry then does shows the harm
						t.Errorf("%s keeps no POST keys: %+v", from, prev)
					}

					want, now := tc.then()
					clear(dir)
					for k, v := range now {
						dir[k] = v
					}
					subj := deletedSubject(noExtAlice.ID)
					if want != nil {
						subj = userSubject(*want)
					}
					h.srv.ResetCounters()
					r, acts, errs := convergeRetrying(t, h.c, subj, prev, opts)
					if len(errs) != 0 {
						t.Fatalf("retry: %v", errs)
					}
					if n := len(requests(h.srv, http.MethodPost)); n != 0 {
						t.Fatalf("%d POSTs after the lost one; requests %+v", n, h.srv.Requests())
					}
					writes := requests(h.srv, tc.method)
					if len(writes) != 1 || writes[0].Path != fake.DefaultBasePath+"/Users/"+account {
						t.Fatalf("%s requests %+v, want one for account %s; all %+v", tc.method, writes, account, h.srv.Requests())
					}
					if h.srv.Writes() != 1 || len(acts) != 1 {
						t.Fatalf("%d writes, actions %+v; want one", h.srv.Writes(), acts)
					}
					us = h.srv.Users()
					if len(us) != 1 || us[0].ID != account {
						t.Fatalf("downstream %+v, want the one account %s", us, account)
					}
					if tc.deactivated && us[0].Active {
						t.Fatalf("account %+v still active", us[0])
					}
					if !tc.deactivated && (!us[0].Active || us[0].UserName != want.UserName) {
						t.Fatalf("account %+v, want active %q", us[0], want.UserName)
					}
					if got := r.IDs[scim.IDKey]; got != account {
						t.Fatalf("record %+v does not name account %s", r, account)
					}

					// Converging again makes no write.
					h.srv.ResetCounters()
					if _, again, err := h.c.Converge(context.Background(), subj, r, opts); err != nil || len(again) != 0 || h.srv.Writes() != 0 {
						t.Fatalf("second converge: err %v, actions %v, %d writes", err, again, h.srv.Writes())
					}
				})
			}
		}
	}
}

// TestPostedNameKeyNeverTakesAnotherAccount: a userName-only key (a POST of a
// user without externalId, refused with 503 before anything was applied)
// matches only an account that POST could have made. An account under that
// name that carries an externalId, or whose login another SCIM user of the
// bridge has, is left as it is when the user is deleted, deactivated or
// renamed; and when the directory cannot tell who owns the login the
// convergence is retried, the account still untouched.
func TestPostedNameKeyNeverTakesAnotherAccount(t *testing.T) {
	t.Parallel()
	bob := connectors.User{ID: "scim-2", UserName: "alice", DisplayName: "Another Alice", Active: true}
	thens := map[string]connectors.Subject{
		"deleted":                  deletedSubject(noExtAlice.ID),
		"renamed":                  userSubject(with(noExtAlice, func(u *connectors.User) { u.UserName = "alice.smith" })),
		"renamed and set inactive": userSubject(with(noExtAlice, func(u *connectors.User) { u.UserName, u.Active = "alice.smith", false })),
	}
	for _, tc := range []struct {
		name  string
		seed  []fake.User
		dir   connectors.Directory
		class connectors.Class // of the retry's error; 0: none
	}{
		{name: "the account has an externalId",
			seed: []fake.User{{UserName: "alice", ExternalID: "hr-999", DisplayName: "Someone Else", Active: true}},
			dir:  userNames{}},
		{name: "another SCIM user has the login",
			seed: []fake.User{{UserName: "alice", DisplayName: "Another Alice", Active: true}},
			dir:  userNames{"alice": bob}},
		{name: "the directory fails",
			seed:  []fake.User{{UserName: "alice", DisplayName: "Unknown", Active: true}},
			dir:   failingNames{},
			class: connectors.Retryable},
	} {
		for then, subj := range thens {
			t.Run(tc.name+"/"+then, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, setup{showInactive: true, dir: tc.dir})
				h.srv.FailNextMethod(http.MethodPost, 1, http.StatusServiceUnavailable)
				r, _, err := h.c.Converge(context.Background(), userSubject(noExtAlice), connectors.Record{}, connectors.Options{})
				if err == nil || len(r.State) == 0 {
					t.Fatalf("503 on POST: err %v, record %+v; want an error and the POST's key kept", err, r)
				}
				var before []fake.User
				for _, u := range tc.seed {
					before = append(before, h.srv.Seed(u))
				}
				_, _, err = h.c.Converge(context.Background(), subj, r, connectors.Options{})
				if connectors.ClassOf(err) != tc.class {
					t.Fatalf("err %v (class %v), want class %v", err, connectors.ClassOf(err), tc.class)
				}
				for _, b := range before {
					if u, _ := h.srv.User(b.ID); u != b {
						t.Fatalf("account changed: %+v, was %+v", u, b)
					}
				}
				if tc.class == 0 && subj.User != nil && subj.User.Active {
					if _, ok := h.srv.UserByName(subj.User.UserName); !ok {
						t.Fatalf("renamed user not created: %+v", h.srv.Users())
					}
				}
			})
		}
	}
}

// TestRefusedCreateKeepsNoKeys: a POST the server refused (a 4xx other than
// 408 and 409) created nothing: the record it leaves holds no POST key, with or
// without an externalId.
func TestRefusedCreateKeepsNoKeys(t *testing.T) {
	t.Parallel()
	for _, u := range []connectors.User{alice, noExtAlice} {
		t.Run("externalId="+u.ExternalID, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{})
			h.srv.FailNextMethod(http.MethodPost, 1, http.StatusBadRequest)
			r, _, err := h.c.Converge(context.Background(), userSubject(u), connectors.Record{}, connectors.Options{})
			if connectors.StatusOf(err) != http.StatusBadRequest {
				t.Fatalf("err %v, want the 400", err)
			}
			if len(r.State) != 0 || len(r.IDs) != 0 {
				t.Fatalf("a refused POST left %+v (state %s)", r, r.State)
			}
		})
	}
}

// TestPostedKeysBounded: a user renamed between many lost creates keeps the
// keys of the latest few POSTs only, userName-only keys as well.
func TestPostedKeysBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	var r connectors.Record
	for i := range 8 {
		u := with(noExtAlice, func(u *connectors.User) { u.UserName = fmt.Sprint("alice", i) })
		h.srv.FailNextMethod(http.MethodPost, 1, http.StatusServiceUnavailable)
		var err error
		if r, _, err = h.c.Converge(context.Background(), userSubject(u), r, connectors.Options{}); connectors.ClassOf(err) != connectors.Retryable {
			t.Fatalf("POST %d: %v", i, err)
		}
	}
	var st struct {
		Posted []struct {
			UserName   string `json:"userName"`
			ExternalID string `json:"externalId"`
		} `json:"posted"`
	}
	if err := json.Unmarshal(r.State, &st); err != nil {
		t.Fatalf("state %s: %v", r.State, err)
	}
	var names []string
	for _, p := range st.Posted {
		names = append(names, p.UserName)
	}
	if got := strings.Join(names, ","); got != "alice3,alice4,alice5,alice6,alice7" {
		t.Fatalf("kept keys %s", got)
	}
}
