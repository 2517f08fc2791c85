package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// groupGated is a fake connector that only provisions members of "Design"
// and says so (connectors.Relevance).
type groupGated struct{ *fakeconn.Connector }

func (g groupGated) Relevant(s connectors.Subject) (bool, string) {
	if s.User != nil && slices.Contains(s.User.Groups, "Design") {
		return true, ""
	}
	return false, "user in no mapped group (mapped: Design)"
}

// TestExplainVerdicts: explain answers for a user that is synced, one that is
// dead, one waiting on a throttle and one in no mapped group, each with the
// right reason, on every backend.
func TestExplainVerdicts(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		var st *store.Store
		outcome := func(ctx context.Context, userName string) error {
			switch {
			case strings.HasPrefix(userName, "dead"):
				return &connectors.Error{Class: connectors.Permanent, Op: "POST /users", Status: 400, Msg: "email domain not allowed"}
			case strings.HasPrefix(userName, "throttled"):
				// As a real connector's throttle (bridge.NewThrottle) does: every replica holds off.
				if err := st.Throttle("acme", "app").Hold(ctx, time.Now().Add(time.Hour), true); err != nil {
					return err
				}
				return &connectors.Error{Class: connectors.RateLimited, Op: "POST /users", Status: 429, RetryAfter: time.Hour, Msg: "slow down"}
			}
			return nil
		}
		app := &fakeconn.Connector{
			ConnName: "app", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
			ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
				if s.User == nil {
					return prev, nil, nil
				}
				if err := outcome(ctx, s.User.UserName); err != nil {
					return prev, nil, err
				}
				return connectors.Record{IDs: map[string]string{"user": "d-" + s.User.ID}}, []connectors.Action{{Op: connectors.OpCreate, Object: "user " + s.User.UserName}}, nil
			},
		}
		gated := groupGated{&fakeconn.Connector{ConnName: "roles", Kinds: []connectors.SubjectKind{connectors.SubjectUser}}}
		ts := newTestServer(t, url, func(o *Options) {
			o.Tenants[0].Connectors = []connectors.Connector{app, gated}
			o.fanout = fanout.Options{BackoffBase: time.Millisecond}
		})
		st = ts.b.Store()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ts.b.Run(ctx) }()
		defer func() { cancel(); <-done }()

		ids := map[string]string{}
		create := func(names ...string) {
			for _, n := range names {
				st, _, body := ts.do(testToken, "POST", "/Users", userDoc(n+"@example.com"))
				if st != 201 {
					t.Fatalf("create %s: %d %v", n, st, body)
				}
				ids[n] = body["id"].(string)
			}
		}
		check := func(name, app, roles, why string) {
			t.Helper()
			eventually(t, 10*time.Second, func() error {
				ts.b.Audit().Flush(ctx)
				rep, err := ts.b.Explain(ctx, "acme", name+"@example.com")
				if err != nil {
					return err
				}
				got := map[string]ConnectorReportView{}
				for _, c := range rep.Connectors {
					got[c.Connector] = ConnectorReportView{c.Verdict, c.Why + " " + c.RetryReason}
				}
				if got["app"].Verdict != app || got["roles"].Verdict != roles {
					return fmt.Errorf("%s: verdicts %+v, want app %s, roles %s", name, got, app, roles)
				}
				all := got["app"].Why + got["roles"].Why
				if !strings.Contains(all, why) {
					return fmt.Errorf("%s: why %q, want it to mention %q", name, all, why)
				}
				if rep.ID != ids[name] || rep.Name != name+"@example.com" {
					return fmt.Errorf("%s: report of %s %s", name, rep.ID, rep.Name)
				}
				if len(rep.Audit) == 0 || rep.Audit[0].Kind != store.AuditSCIM || rep.Audit[0].Change != "created" {
					return fmt.Errorf("%s: audit %+v, want the creation first", name, rep.Audit)
				}
				return nil
			})
		}
		create("synced", "dead", "lonely")
		if st, _, body := ts.do(testToken, "POST", "/Groups", map[string]any{
			"schemas": []string{GroupSchema}, "displayName": "Design",
			"members": []map[string]any{{"value": ids["synced"]}, {"value": ids["dead"]}},
		}); st != 201 {
			t.Fatalf("create group: %d %v", st, body)
		}
		check("synced", store.SyncSynced, store.SyncSynced, "downstream matches")
		check("dead", store.SyncDead, store.SyncSynced, "email domain not allowed")
		check("lonely", store.SyncSynced, "not-applicable", "no mapped group")
		// A 429 with Retry-After holds the user who got it; once the
		// connector's throttle holds every request (429s in a row), one
		// created afterwards waits without an attempt of its own.
		create("throttled")
		check("throttled", "throttled", "not-applicable", "Retry-After")
		if err := ts.b.Store().Throttle("acme", "app").Hold(ctx, time.Now().Add(time.Hour), true); err != nil {
			t.Fatal(err)
		}
		create("waiting")
		check("waiting", "throttled", "not-applicable", "rate-limited this connector")
		// The dead one names its error class; the synced one its downstream id.
		rep, _ := ts.b.Explain(ctx, "acme", ids["dead"])
		if c := rep.Connectors[0]; c.ErrorClass != "permanent" || c.Attempts != 1 {
			t.Errorf("dead: class %q attempts %d", c.ErrorClass, c.Attempts)
		}
		rep, _ = ts.b.Explain(ctx, "acme", "synced@example.com")
		if c := rep.Connectors[0]; c.Downstream["user"] != "d-"+ids["synced"] || c.AppliedHash != c.DesiredHash {
			t.Errorf("synced: %+v", c)
		}
		if len(rep.Groups) != 1 || rep.Groups[0].DisplayName != "Design" {
			t.Errorf("synced: groups %+v", rep.Groups)
		}
		// A group by displayName; an unknown query.
		if rep, err := ts.b.Explain(ctx, "acme", "Design"); err != nil || rep.Kind != "Group" || rep.Members != 2 {
			t.Errorf("group: %+v, %v", rep, err)
		}
		if _, err := ts.b.Explain(ctx, "acme", "nobody@example.com"); err == nil {
			t.Error("unknown subject explained")
		}
	})
}

// ConnectorReportView is the part of a connector report a test compares.
type ConnectorReportView struct{ Verdict, Why string }

// TestExplainWaitingOnThrottle: a user waiting on its connector's hold (set
// by any replica's throttle; no attempt of the user's, nothing about it in
// the audit trail) is explained from the hold itself: throttled, next try
// when the hold ends, and why.
func TestExplainWaitingOnThrottle(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		app := &fakeconn.Connector{ConnName: "app", Kinds: []connectors.SubjectKind{connectors.SubjectUser}}
		ts := newTestServer(t, url, func(o *Options) {
			o.Tenants[0].Connectors = []connectors.Connector{app}
			o.fanout = fanout.Options{BackoffBase: time.Millisecond}
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ts.b.Run(ctx) }()
		defer func() { cancel(); <-done }()
		until := time.Now().Add(40 * time.Minute).Truncate(time.Millisecond)
		if err := ts.b.Store().Throttle("acme", "app").Hold(ctx, until, true); err != nil {
			t.Fatal(err)
		}
		code, _, body := ts.do(testToken, "POST", "/Users", userDoc("held@example.com"))
		if code != 201 {
			t.Fatalf("create: %d %v", code, body)
		}
		eventually(t, 10*time.Second, func() error {
			rep, err := ts.b.Explain(ctx, "acme", "held@example.com")
			if err != nil {
				return err
			}
			if !rep.Queue.Queued || !rep.Queue.Due.After(time.Now().Add(30*time.Minute)) {
				return fmt.Errorf("not yet deferred by the worker: %+v", rep.Queue)
			}
			c := rep.Connectors[0]
			switch {
			case c.Verdict != "throttled":
				return fmt.Errorf("verdict %q (%s), want throttled", c.Verdict, c.Why)
			case !c.HeldUntil.Equal(until):
				return fmt.Errorf("held until %v, want %v", c.HeldUntil, until)
			case c.NextRetry.Before(until) || !c.NextRetry.Equal(rep.Queue.Due):
				return fmt.Errorf("next retry %v, want the queue's due %v (not before the hold's end %v)", c.NextRetry, rep.Queue.Due, until)
			case !strings.HasPrefix(c.RetryReason, "throttle:") || !strings.Contains(c.RetryReason, until.UTC().Format(time.RFC3339)):
				return fmt.Errorf("retry reason %q, want the throttle until %s", c.RetryReason, until.UTC().Format(time.RFC3339))
			case !strings.Contains(c.Why, "without an attempt"):
				return fmt.Errorf("why %q", c.Why)
			}
			return nil
		})
		if n := app.Calls(body["id"].(string)); n != 0 {
			t.Errorf("the held connector was called %d times", n)
		}
	})
}
