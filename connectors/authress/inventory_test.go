package authress_test

import (
	"context"
	"errors"
	"testing"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	"github.com/scim-bridge/scim-bridge/connectors/authress/fake"
)

func TestInventory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{
		fake: fake.Options{PageSize: 2},
		cfg:  func(c *authress.Config) { c.ConnectionID = "con_pinned" },
	})
	own := e.srv.Put(desired(marker(testTenant, testName))).ConnectionID
	orphan := fake.Connection{Type: "OAUTH2", AuthenticationURL: "https://gone.example", ClientID: "gone",
		Tags: marker("gone-tenant", testName)}
	orphanID := e.srv.Put(orphan).ConnectionID
	sibling := e.srv.Put(fake.Connection{Type: "OAUTH2", AuthenticationURL: "https://entra.example", ClientID: "e",
		Tags: marker(testTenant, "entra")}).ConnectionID
	hand := e.srv.Put(fake.Connection{Type: "SAML", AuthenticationURL: "https://hand.example",
		Tags: map[string]string{"team": "x"}}).ConnectionID
	e.srv.Put(fake.Connection{ConnectionID: "con_pinned", Type: "OAUTH2", AuthenticationURL: "https://p.example"})

	type seen struct {
		subject   string
		connector string
		managed   bool
	}
	got := map[string]seen{}
	inv := e.open().(connectors.Inventory)
	err := inv.Inventory(context.Background(), func(o connectors.Observed) error {
		s := seen{managed: o.Managed, connector: o.Connector}
		if o.Subject != nil {
			if o.Subject.Kind != connectors.SubjectTenant || o.Subject.User != nil {
				t.Fatalf("subject %+v", o.Subject)
			}
			s.subject = o.Subject.ID
		}
		got[o.ObjectID] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]seen{
		own:          {testTenant, testName, true},
		orphanID:     {"gone-tenant", testName, true},
		sibling:      {testTenant, "entra", true}, // the reconciler knows whether "entra" still exists
		hand:         {"", "", false},
		"con_pinned": {testTenant, "", false},
	}
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("%s: observed %+v, want %+v", id, got[id], w)
		}
	}
	if n := e.listCalls(); n != 3 {
		t.Fatalf("%d list calls, want 3 pages of 2", n)
	}
	if e.srv.Writes() != 0 {
		t.Fatal("inventory wrote")
	}

	// The callback's error stops the listing and is returned.
	stop := errors.New("enough")
	calls := 0
	err = inv.Inventory(context.Background(), func(connectors.Observed) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestInventoryErrorsAreClassified(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{fake: fake.Options{PageSize: 1}})
	e.srv.Put(desired(nil))
	e.srv.Put(desired(nil))
	e.srv.FailNext(1, 503)
	inv := e.open().(connectors.Inventory)
	err := inv.Inventory(context.Background(), func(connectors.Observed) error { return nil })
	if connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("err %v, want retryable", err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	orphan := fake.Connection{Type: "OAUTH2", AuthenticationURL: "https://gone.example", ClientID: "gone",
		Tags: marker("gone-tenant", testName)}
	for _, tc := range []struct {
		name      string
		prune     bool
		conn      *fake.Connection // nil: the connection is absent
		dryRun    bool
		wantOps   string
		wantGone  bool
		wantWrite int
	}{
		{name: "managed orphan", prune: true, conn: &orphan, wantOps: "delete", wantGone: true, wantWrite: 1},
		{name: "managed orphan, dry run", prune: true, conn: &orphan, dryRun: true, wantOps: "delete"},
		{name: "prune off", prune: false, conn: &orphan},
		{name: "hand-made connection", prune: true, conn: &fake.Connection{Type: "SAML", AuthenticationURL: "https://h"}},
		{name: "own live connection", prune: true, conn: ptr(desired(marker(testTenant, testName)))},
		{name: "already gone", prune: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *authress.Config) { c.Prune = tc.prune }})
			id := "con_absent"
			if tc.conn != nil {
				id = e.srv.Put(*tc.conn).ConnectionID
			}
			p := e.open().(connectors.Pruner)
			acts, err := p.Prune(context.Background(), connectors.Observed{
				Subject:  &connectors.Subject{Kind: connectors.SubjectTenant, ID: "gone-tenant"},
				ObjectID: id, Managed: true,
			}, connectors.Options{DryRun: tc.dryRun})
			if err != nil {
				t.Fatal(err)
			}
			if got := ops(acts); got != tc.wantOps {
				t.Fatalf("actions %q, want %q", got, tc.wantOps)
			}
			if _, exists := e.srv.Get(id); tc.conn != nil && exists == tc.wantGone {
				t.Fatalf("exists=%v, want gone=%v", exists, tc.wantGone)
			}
			if e.srv.Writes() != tc.wantWrite || e.srv.DuplicateWrites() != 0 {
				t.Fatalf("writes %d (duplicates %d), want %d", e.srv.Writes(), e.srv.DuplicateWrites(), tc.wantWrite)
			}
		})
	}
}

func TestPruneErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *authress.Config) { c.Prune = true }})
	p := e.open().(connectors.Pruner)
	if _, err := p.Prune(context.Background(), connectors.Observed{}, connectors.Options{}); connectors.ClassOf(err) != connectors.Permanent {
		t.Fatalf("empty id: %v", err)
	}
	id := e.srv.Put(fake.Connection{Type: "OAUTH2", Tags: marker("gone", "x")}).ConnectionID
	e.srv.FailNext(1, 500)
	if _, err := p.Prune(context.Background(), connectors.Observed{ObjectID: id}, connectors.Options{}); connectors.ClassOf(err) != connectors.Retryable {
		t.Fatalf("5xx: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
