package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/explain"
	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

// TestExplainDeletedUser: a deleted user whose removal downstream waits
// behind a throttle is explained by its id, or "User|<id>": deleted, no
// resource, the connector's state and the audit trail, as for a live user (a
// bare 404 it was). Its e-mail finds nothing, and the 404 says to use the id;
// an id nothing knows is a 404 still. The same holds for a deleted group.
func TestExplainDeletedUser(t *testing.T) {
	backends(t, func(t *testing.T, redisURL string) {
		var st *store.Store
		app := &fakeconn.Connector{
			ConnName: "app", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
			ConvergeFunc: func(ctx context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
				if s.User != nil {
					return connectors.Record{IDs: map[string]string{"user": "d-" + s.User.ID}}, []connectors.Action{{Op: connectors.OpCreate, Object: "user"}}, nil
				}
				// The removal is refused with a 429: the connector is held.
				if err := st.Throttle("acme", "app").Hold(ctx, time.Now().Add(time.Hour), true); err != nil {
					return prev, nil, err
				}
				return prev, nil, &connectors.Error{Class: connectors.RateLimited, Op: "DELETE /users", Status: 429, RetryAfter: time.Hour, Msg: "slow down"}
			},
		}
		ts := newTestServer(t, redisURL, func(o *Options) {
			o.AdminToken = consoleAdminToken
			o.Tenants[0].Connectors = []connectors.Connector{app}
			o.fanout = fanout.Options{BackoffBase: time.Millisecond}
		})
		st = ts.b.Store()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ts.b.Run(ctx) }()
		defer func() { cancel(); <-done }()

		code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc("gone@example.com"))
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, body)
		}
		id := body["id"].(string)
		eventually(t, 10*time.Second, func() error {
			rep, err := ts.b.Explain(ctx, "acme", id)
			if err != nil {
				return err
			}
			if v := rep.Connectors[0].Verdict; v != store.SyncSynced {
				return fmt.Errorf("before the delete: %s", v)
			}
			return nil
		})
		// The subject form names a live user too.
		if rep, err := ts.b.Explain(ctx, "acme", "User|"+id); err != nil || rep.Deleted || rep.ID != id || rep.Resource == nil {
			t.Fatalf("User|<id> of a live user: %+v, %v", rep, err)
		}
		if code, _, body := ts.do(testToken, http.MethodDelete, "/Users/"+id, nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d %v", code, body)
		}
		for _, q := range []string{id, "User|" + id} {
			eventually(t, 10*time.Second, func() error {
				ts.b.Audit().Flush(ctx)
				rep, err := ts.b.Explain(ctx, "acme", q)
				if err != nil {
					return err
				}
				c := rep.Connectors[0]
				switch {
				case !rep.Deleted || rep.Resource != nil || rep.ID != id || rep.Kind != "User" || rep.Subject != "User|"+id:
					return fmt.Errorf("%s: report %+v, want user %s deleted, without resource", q, rep, id)
				case rep.Name != "gone@example.com":
					return fmt.Errorf("%s: name %q, want the userName its audit entries recorded", q, rep.Name)
				case c.Verdict != "throttled" || c.HeldUntil.IsZero():
					return fmt.Errorf("%s: connector %+v, want its removal throttled", q, c)
				case len(rep.Audit) < 2 || rep.Audit[len(rep.Audit)-1].Kind != store.AuditDownstream || !hasChange(rep.Audit, "deleted"):
					return fmt.Errorf("%s: audit %+v, want the delete and the refused removal", q, rep.Audit)
				}
				return nil
			})
		}
		_, err := ts.b.Explain(ctx, "acme", "gone@example.com")
		if !errors.Is(err, explain.ErrNotFound) || !strings.Contains(err.Error(), "by its id") {
			t.Errorf("the deleted user's e-mail: %v, want not found, pointing at the id", err)
		}
		for _, q := range []string{"no-such-id", "User|no-such-id", "Group|no-such-id"} {
			if _, err := ts.b.Explain(ctx, "acme", q); !errors.Is(err, explain.ErrNotFound) {
				t.Errorf("%s: %v, want not found", q, err)
			}
		}
		code, apiBody := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/api/explain?tenant=acme&q="+url.QueryEscape("User|"+id))
		if code != http.StatusOK || !strings.Contains(apiBody, `"deleted": true`) {
			t.Errorf("API explain of the deleted user: %d %.300s", code, apiBody)
		}

		// A group, deleted: explained by its id too.
		code, _, body = ts.do(testToken, http.MethodPost, "/Groups", scimGroup("Gone Group"))
		if code != http.StatusCreated {
			t.Fatalf("create group: %d %v", code, body)
		}
		gid := body["id"].(string)
		if code, _, body := ts.do(testToken, http.MethodDelete, "/Groups/"+gid, nil); code != http.StatusNoContent {
			t.Fatalf("delete group: %d %v", code, body)
		}
		ts.b.Audit().Flush(ctx)
		rep, err := ts.b.Explain(ctx, "acme", gid)
		if err != nil || !rep.Deleted || rep.Kind != "Group" || rep.Name != "Gone Group" || len(rep.Audit) != 2 {
			t.Errorf("deleted group: %+v, %v", rep, err)
		}
	})
}

// hasChange reports whether a SCIM write entry of es made that change.
func hasChange(es []store.AuditEntry, change string) bool {
	for _, e := range es {
		if e.Kind == store.AuditSCIM && e.Change == change {
			return true
		}
	}
	return false
}

// TestConsoleExplainDeleted: the console's explain page of a deleted user
// shows it deleted, with its connectors and audit entries; its e-mail gets
// a 404 page that says to search by id.
func TestConsoleExplainDeleted(t *testing.T) {
	env := newConsoleEnv(t)
	id := env.createUser(t, "leaver")
	if code, body := env.scim(t, http.MethodDelete, "/Users/"+id, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %v", code, body)
	}
	c := newConsoleClient(t, env.srv)
	if code := c.login(consoleReadToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	eventually(t, 10*time.Second, func() error {
		env.b.Audit().Flush(context.Background())
		code, body, _ := c.get("/admin/explain?tenant=acme&q=" + url.QueryEscape(id))
		if code != http.StatusOK || !strings.Contains(body, "(deleted)") || !strings.Contains(body, `id="connectors"`) || !strings.Contains(body, "deleted</td>") {
			return fmt.Errorf("explain page of the deleted user: %d\n%.2000s", code, body)
		}
		return nil
	})
	code, body, _ := c.get("/admin/explain?tenant=acme&q=leaver%40example.com")
	if code != http.StatusNotFound || !strings.Contains(body, "by its id") {
		t.Errorf("explain of the deleted user's e-mail: %d, want a 404 pointing at the id\n%.1000s", code, body)
	}
}
