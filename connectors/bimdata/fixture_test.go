package bimdata

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
)

const testToken = "test-token-0123456789abcdef"

// directory is an in-memory connectors.Directory.
type directory struct {
	mu    sync.Mutex
	users []connectors.User
	calls int
}

func newDirectory(users ...connectors.User) *directory { return &directory{users: users} }

func (d *directory) UserByEmail(_ context.Context, email string) (*connectors.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	for _, u := range d.users {
		for _, e := range append([]string{u.Email}, u.Emails...) {
			if strings.EqualFold(e, email) {
				cp := u
				return &cp, nil
			}
		}
	}
	return nil, nil
}

// env is one fake server and one adapter pointed at it.
type env struct {
	srv  *fake.Server
	conn *connector
	url  string
}

type envOpts struct {
	fake  fake.Options
	cfg   func(*Config)
	dir   connectors.Directory
	now   func() time.Time
	debug *strings.Builder
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	o.fake.Token = testToken
	srv := fake.New(o.fake)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	cfg := &Config{Base: connectors.Base{Name: "bimdata", Type: Type, URL: hs.URL, Token: testToken}}
	if o.cfg != nil {
		o.cfg(cfg)
	}
	logger := zerolog.Nop()
	if o.debug != nil {
		logger = zerolog.New(o.debug).Level(zerolog.DebugLevel)
	}
	c, err := cfg.Open(context.Background(), connectors.Deps{Tenant: "t1", Directory: o.dir, Client: hs.Client(), Logger: logger, Now: o.now, Throttle: conntest.NoThrottle{}})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return &env{srv: srv, conn: c.(*connector), url: hs.URL}
}

// converge converges like the bridge: on a retryable or rate-limited error it
// stores the returned record and tries again (without sleeping: the test checks
// the Retry-After instead).
func converge(t *testing.T, c connectors.Connector, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, []error) {
	t.Helper()
	var errs []error
	var all []connectors.Action
	for attempt := 0; attempt < 5; attempt++ {
		rec, actions, err := c.Converge(context.Background(), s, prev, opts)
		all = append(all, actions...)
		if err == nil {
			return rec, all, errs
		}
		errs = append(errs, err)
		switch connectors.ClassOf(err) {
		case connectors.Retryable, connectors.RateLimited:
			prev = rec
		default:
			t.Fatalf("converge: non-retryable error: %v", err)
		}
	}
	t.Fatalf("converge: still failing after 5 attempts: %v", errs)
	return connectors.Record{}, nil, nil
}

func userSubject(u *connectors.User, id string) connectors.Subject {
	return connectors.Subject{Kind: connectors.SubjectUser, ID: id, User: u}
}

func alice(active bool) *connectors.User {
	return &connectors.User{
		ID: "u1", UserName: "alice", GivenName: "Alice", FamilyName: "Liddell",
		Email: "alice@example.com", Emails: []string{"alice@example.com", "a.liddell@example.com"}, Active: active,
	}
}

func stateRecord(st userState) connectors.Record { return st.record("") }

func decodeState(t *testing.T, rec connectors.Record) userState {
	t.Helper()
	var st userState
	if len(rec.State) > 0 {
		if err := json.Unmarshal(rec.State, &st); err != nil {
			t.Fatalf("record state %s: %v", rec.State, err)
		}
	}
	return st
}

func actionOps(actions []connectors.Action) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = string(a.Op) + " " + a.Object
	}
	return out
}

func statuses(srv *fake.Server) map[int]string {
	out := map[int]string{}
	for _, inv := range srv.Invitations() {
		out[inv.ID] = inv.Status
	}
	return out
}

func userEmailsOf(srv *fake.Server) []string {
	var out []string
	for _, u := range srv.Users() {
		out = append(out, u.Email)
	}
	return out
}

func countRequests(srv *fake.Server, method, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
