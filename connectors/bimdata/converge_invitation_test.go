package bimdata

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
)

func TestConvergeInvitation(t *testing.T) {
	t.Parallel()
	active := connectors.User{ID: "u1", UserName: "alice", Email: "alice@example.com", Emails: []string{"alice@example.com", "al@example.com"}, Active: true}
	inactive := connectors.User{ID: "u2", UserName: "carol", Email: "carol@example.com", Active: false}
	dir := newDirectory(active, inactive)

	for _, tc := range []struct {
		name       string
		inv        *fake.Invitation // nil: no invitation 7
		cfg        func(*Config)
		fault      func(*fake.Server)
		wantOps    []string
		wantStatus string
		wantWrites int
		wantErrs   int
		wantRecord string // record status; "" for an empty record
	}{
		{name: "active user: accept", inv: &fake.Invitation{ID: 7, Email: "Alice@Example.com"},
			wantOps: []string{"accept invitation 7 (Alice@Example.com)"}, wantStatus: A, wantWrites: 1, wantRecord: A},
		{name: "active user's other email: accept", inv: &fake.Invitation{ID: 7, Email: "al@example.com"},
			wantOps: []string{"accept invitation 7 (al@example.com)"}, wantStatus: A, wantWrites: 1, wantRecord: A},
		{name: "unknown email: deny", inv: &fake.Invitation{ID: 7, Email: "mallory@example.com"},
			wantOps: []string{"deny invitation 7 (mallory@example.com)"}, wantStatus: D, wantWrites: 1, wantRecord: D},
		{name: "inactive user: deny", inv: &fake.Invitation{ID: 7, Email: "carol@example.com"},
			wantOps: []string{"deny invitation 7 (carol@example.com)"}, wantStatus: D, wantWrites: 1, wantRecord: D},
		{name: "unknown email, ignore policy", inv: &fake.Invitation{ID: 7, Email: "mallory@example.com"},
			cfg: func(c *Config) { c.UnknownInvitations = PolicyIgnore }, wantStatus: P, wantRecord: P},
		{name: "ignore policy still accepts", inv: &fake.Invitation{ID: 7, Email: "alice@example.com"},
			cfg:     func(c *Config) { c.UnknownInvitations = PolicyIgnore },
			wantOps: []string{"accept invitation 7 (alice@example.com)"}, wantStatus: A, wantWrites: 1, wantRecord: A},
		{name: "already accepted", inv: &fake.Invitation{ID: 7, Email: "alice@example.com", Status: A}, wantStatus: A, wantRecord: A},
		{name: "already denied, unknown email", inv: &fake.Invitation{ID: 7, Email: "mallory@example.com", Status: D}, wantStatus: D, wantRecord: D},
		{name: "gone", wantRecord: ""},
		{name: "5xx on the get", inv: &fake.Invitation{ID: 7, Email: "alice@example.com"},
			fault:   func(s *fake.Server) { s.FailNext(1, 500) },
			wantOps: []string{"accept invitation 7 (alice@example.com)"}, wantStatus: A, wantWrites: 1, wantErrs: 1, wantRecord: A},
		{name: "429 on the accept", inv: &fake.Invitation{ID: 7, Email: "alice@example.com"},
			fault:   func(s *fake.Server) { s.FailNextOn("POST", "/identity-provider/invitation/7/accept", 1, 429) },
			wantOps: []string{"accept invitation 7 (alice@example.com)"}, wantStatus: A, wantWrites: 1, wantErrs: 1, wantRecord: A},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{dir: dir, cfg: tc.cfg})
			if tc.inv != nil {
				e.srv.AddInvitation(*tc.inv)
			}
			s := InvitationSubject(7)

			dryRec, dryActions, err := e.conn.Converge(context.Background(), s, connectors.Record{}, connectors.Options{DryRun: true})
			if err != nil || e.srv.Writes() != 0 || dryRec.State != nil {
				t.Fatalf("dry run: err %v writes %d record %s", err, e.srv.Writes(), dryRec.State)
			}
			if got := actionOps(dryActions); !slices.Equal(got, tc.wantOps) {
				t.Fatalf("dry-run actions %q, want %q", got, tc.wantOps)
			}
			if tc.fault != nil {
				tc.fault(e.srv)
			}
			rec, actions, errs := converge(t, e.conn, s, connectors.Record{}, connectors.Options{})
			if len(errs) != tc.wantErrs {
				t.Fatalf("errors %v, want %d", errs, tc.wantErrs)
			}
			if got := actionOps(actions); !slices.Equal(got, tc.wantOps) {
				t.Fatalf("actions %q, want %q", got, tc.wantOps)
			}
			if e.srv.Writes() != tc.wantWrites || e.srv.DuplicateWrites() != 0 {
				t.Fatalf("writes %d dups %d, want %d 0", e.srv.Writes(), e.srv.DuplicateWrites(), tc.wantWrites)
			}
			if inv, ok := e.srv.Invitation(7); ok && inv.Status != tc.wantStatus {
				t.Fatalf("status %q, want %q", inv.Status, tc.wantStatus)
			}
			var st invitationState
			if rec.State != nil {
				st = decodeInvitationState(t, rec)
			}
			if st.Status != tc.wantRecord {
				t.Fatalf("record %s, want status %q", rec.State, tc.wantRecord)
			}
			if tc.wantRecord != "" && rec.IDs[idInvitation] != "7" {
				t.Fatalf("record ids %v", rec.IDs)
			}
			_, actions, errs = converge(t, e.conn, s, rec, connectors.Options{})
			if len(errs) != 0 || len(actions) != 0 || e.srv.Writes() != tc.wantWrites {
				t.Fatalf("second convergence: errs %v actions %q writes %d", errs, actionOps(actions), e.srv.Writes())
			}
		})
	}
}

func decodeInvitationState(t *testing.T, rec connectors.Record) invitationState {
	t.Helper()
	var st invitationState
	if err := jsonUnmarshal(rec.State, &st); err != nil {
		t.Fatalf("record %s: %v", rec.State, err)
	}
	return st
}

func TestConvergeInvitationErrors(t *testing.T) {
	t.Parallel()
	t.Run("bad subject ids are permanent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{dir: newDirectory()})
		for _, id := range []string{"", "invitation:", "invitation:abc", "invitation:-1", "invitation:0", "user:7", "7"} {
			_, _, err := e.conn.Converge(context.Background(), connectors.Subject{Kind: connectors.SubjectObject, ID: id}, connectors.Record{}, connectors.Options{})
			if connectors.ClassOf(err) != connectors.Permanent {
				t.Errorf("%q: err %v, want permanent", id, err)
			}
		}
		if n := len(e.srv.Requests()); n != 0 {
			t.Fatalf("%d requests for malformed ids", n)
		}
	})
	t.Run("no directory is permanent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		e.srv.AddInvitation(fake.Invitation{ID: 7, Email: "alice@example.com"})
		_, _, err := e.conn.Converge(context.Background(), InvitationSubject(7), connectors.Record{}, connectors.Options{})
		if connectors.ClassOf(err) != connectors.Permanent || e.srv.Writes() != 0 {
			t.Fatalf("err %v writes %d", err, e.srv.Writes())
		}
	})
	t.Run("directory failure is retryable", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("store down")
		e := newEnv(t, envOpts{dir: failingDirectory{boom}})
		e.srv.AddInvitation(fake.Invitation{ID: 7, Email: "alice@example.com"})
		_, _, err := e.conn.Converge(context.Background(), InvitationSubject(7), connectors.Record{}, connectors.Options{})
		if connectors.ClassOf(err) != connectors.Retryable || !errors.Is(err, boom) || e.srv.Writes() != 0 {
			t.Fatalf("err %v writes %d", err, e.srv.Writes())
		}
	})
	t.Run("other subject kinds are permanent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		_, _, err := e.conn.Converge(context.Background(), connectors.Subject{Kind: connectors.SubjectTenant, ID: "t1"}, connectors.Record{}, connectors.Options{})
		if connectors.ClassOf(err) != connectors.Permanent {
			t.Fatalf("err %v", err)
		}
		if e.conn.Handles(connectors.SubjectTenant) || !e.conn.Handles(connectors.SubjectUser) || !e.conn.Handles(connectors.SubjectObject) {
			t.Fatal("Handles: want user and object only")
		}
	})
}

type failingDirectory struct{ err error }

func (d failingDirectory) UserByEmail(context.Context, string) (*connectors.User, error) {
	return nil, d.err
}
