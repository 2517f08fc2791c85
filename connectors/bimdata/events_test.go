package bimdata

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
)

func TestHandleEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		name, typ, data string
		want            []connectors.Subject
		wantErr         bool
	}{
		{"created", EventInvitationCreated, `{"id": 42, "email": "a@example.com", "status": "P"}`, []connectors.Subject{{Kind: connectors.SubjectObject, ID: "invitation:42"}}, false},
		{"created, quoted id", EventInvitationCreated, `{"id": "43", "email": "a@example.com"}`, []connectors.Subject{{Kind: connectors.SubjectObject, ID: "invitation:43"}}, false},
		{"created, nested", EventInvitationCreated, `{"invitation": {"id": 44, "email": "a@example.com", "status": "P"}}`, []connectors.Subject{{Kind: connectors.SubjectObject, ID: "invitation:44"}}, false},
		{"unknown type", "invitation.deleted", `{"id": 42}`, nil, false},
		{"unknown type, junk data", "user.created", `not json`, nil, false},
		{"no id", EventInvitationCreated, `{"email": "a@example.com"}`, nil, true},
		{"bad id", EventInvitationCreated, `{"id": "x1"}`, nil, true},
		{"not json", EventInvitationCreated, `{"id":`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.conn.HandleEvent(context.Background(), tc.typ, json.RawMessage(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil && connectors.ClassOf(err) != connectors.Permanent {
				t.Fatalf("class %s, want permanent", connectors.ClassOf(err))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("subjects %+v, want %+v", got, tc.want)
			}
		})
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("HandleEvent made %d requests, want none", n)
	}
}

// TestEventThenConverge follows a webhook to the end: the event names the
// invitation, and converging that subject accepts it.
func TestEventThenConverge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{dir: newDirectory(*alice(true))})
	inv := e.srv.AddInvitation(fake.Invitation{Email: "alice@example.com"})
	data, _ := json.Marshal(inv)
	subjects, err := e.conn.HandleEvent(context.Background(), EventInvitationCreated, data)
	if err != nil || len(subjects) != 1 {
		t.Fatalf("subjects %v err %v", subjects, err)
	}
	if _, _, errs := converge(t, e.conn, subjects[0], connectors.Record{}, connectors.Options{}); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got, _ := e.srv.Invitation(inv.ID); got.Status != fake.StatusAccepted {
		t.Fatalf("status %q, want accepted", got.Status)
	}
}

func TestInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{dir: newDirectory(*alice(true))})
	seedInvitations(P, P, D, A)(e.srv)
	e.srv.AddInvitation(fake.Invitation{ID: 9, Email: "carol@example.com"})

	var got []connectors.Observed
	if err := e.conn.Inventory(context.Background(), func(o connectors.Observed) error {
		got = append(got, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, email string }{{"invitation:1", "alice@example.com"}, {"invitation:2", "bob@example.com"}, {"invitation:9", "carol@example.com"}}
	if len(got) != len(want) {
		t.Fatalf("observed %+v", got)
	}
	for i, w := range want {
		o := got[i]
		if o.Subject == nil || o.Subject.Kind != connectors.SubjectObject || o.Subject.ID != w.id || o.Subject.User != nil || o.ObjectID != w.id || o.Email != w.email || o.Managed {
			t.Fatalf("observed[%d] = %+v (subject %+v), want %s %s", i, o, o.Subject, w.id, w.email)
		}
	}
	if q := e.srv.Requests()[0].Query; q != "status=P" {
		t.Fatalf("list query %q, want status=P", q)
	}

	// The listing fed the cache: a user convergence right after lists nothing.
	lists := countRequests(e.srv, "GET", pathInvitations)
	if _, _, errs := converge(t, e.conn, userSubject(alice(true), "u1"), stateRecord(userState{Email: "alice@example.com", Status: statePresent}), connectors.Options{}); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := countRequests(e.srv, "GET", pathInvitations); got != lists {
		t.Fatalf("%d listings after the inventory's, want none", got-lists)
	}

	t.Run("callback error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := e.conn.Inventory(context.Background(), func(connectors.Observed) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("err %v after %d calls", err, n)
		}
	})
	t.Run("downstream error is classified", func(t *testing.T) {
		e.srv.FailNext(1, 503)
		err := e.conn.Inventory(context.Background(), func(connectors.Observed) error { return nil })
		if connectors.ClassOf(err) != connectors.Retryable {
			t.Fatalf("err %v", err)
		}
	})
}
