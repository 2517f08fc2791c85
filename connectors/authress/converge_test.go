package authress_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	"github.com/scim-bridge/scim-bridge/connectors/authress/fake"
)

// convergeCase is a starting downstream state and what one convergence (retried
// like the bridge retries) must do from it.
type convergeCase struct {
	name string
	opts envOpts
	// setup prepares the downstream and returns the record the bridge holds.
	setup      func(e *env) connectors.Record
	wantWrites int    // writes of the convergence under test
	wantPOSTs  int    // creates among them (attempted, lost answers included)
	wantOps    string // ops of the returned actions, comma-separated
	wantReason string // substring of the last action's reason
	check      func(t *testing.T, e *env)
}

// convergeOnce converges from an empty record and returns the record.
func convergeOnce(e *env, mods ...func(*authress.Config)) connectors.Record {
	rec, _ := e.converge(e.open(mods...), connectors.Record{}, connectors.Options{})
	return rec
}

func ourID(e *env) string {
	ours := e.ours()
	if len(ours) != 1 {
		e.t.Fatalf("%d connections carry the marker, want 1", len(ours))
	}
	return ours[0].ConnectionID
}

func convergeCases() []convergeCase {
	unmanaged := func(n int) fake.Connection {
		return fake.Connection{Type: "OAUTH2", AuthenticationURL: "https://other.example/authorize",
			TokenURL: "https://other.example/token", ClientID: fmt.Sprintf("other-%d", n), ClientSecret: "other-secret"}
	}
	var untouched []fake.Connection // snapshot of the "unmanaged connections" case
	return []convergeCase{
		{
			name:       "empty",
			setup:      func(*env) connectors.Record { return connectors.Record{} },
			wantWrites: 1, wantPOSTs: 1, wantOps: "create",
		},
		{
			name:  "already converged",
			setup: func(e *env) connectors.Record { return convergeOnce(e) },
		},
		{
			name: "tokenUrl drifted by hand",
			setup: func(e *env) connectors.Record {
				rec := convergeOnce(e)
				e.srv.Update(ourID(e), func(c *fake.Connection) {
					c.TokenURL = "https://evil.example/token"
					c.Data = &fake.ConnectionData{Name: "named by hand"}
				})
				return rec
			},
			wantWrites: 1, wantOps: "update", wantReason: "tokenUrl",
			check: func(t *testing.T, e *env) {
				if c := e.ours()[0]; c.Data == nil || c.Data.Name != "named by hand" {
					t.Fatalf("an unmanaged field was lost by the update: %+v", c.Data)
				}
			},
		},
		{
			name: "secret changed in the configuration",
			opts: envOpts{cfg: func(c *authress.Config) { c.Connection.ClientSecret = "rotated-secret-0987" }},
			setup: func(e *env) connectors.Record {
				return convergeOnce(e, func(c *authress.Config) { c.Connection.ClientSecret = testSecret })
			},
			wantWrites: 1, wantOps: "update", wantReason: "clientSecret changed in the configuration",
		},
		{
			name: "secret changed by hand (API echoes secrets)",
			opts: envOpts{fake: fake.Options{ExposeSecrets: true}},
			setup: func(e *env) connectors.Record {
				rec := convergeOnce(e)
				e.srv.Update(ourID(e), func(c *fake.Connection) { c.ClientSecret = "changed-by-hand" })
				return rec
			},
			wantWrites: 1, wantOps: "update", wantReason: "clientSecret changed downstream",
		},
		{
			name: "crash after the create, before the record",
			setup: func(e *env) connectors.Record {
				e.srv.Put(desired(marker(testTenant, testName)))
				return connectors.Record{}
			},
			// Found by its marker; the write-only secret cannot be verified: one PUT.
			wantWrites: 1, wantOps: "update", wantReason: "cannot be verified",
		},
		{
			name: "crash after the create, API echoes secrets",
			opts: envOpts{fake: fake.Options{ExposeSecrets: true}},
			setup: func(e *env) connectors.Record {
				e.srv.Put(desired(marker(testTenant, testName)))
				return connectors.Record{}
			},
		},
		{
			name: "answer of the create lost",
			setup: func(e *env) connectors.Record {
				e.srv.FailAfterWriteNext(1, http.StatusBadGateway)
				return connectors.Record{}
			},
			// The lost POST was applied; the retry finds it and verifies the secret.
			wantWrites: 2, wantPOSTs: 1, wantOps: "update",
		},
		{
			name: "recorded connection deleted by hand",
			setup: func(e *env) connectors.Record {
				rec := convergeOnce(e)
				e.srv.Remove(ourID(e))
				return rec
			},
			wantWrites: 1, wantPOSTs: 1, wantOps: "create",
		},
		{
			name: "5xx once",
			setup: func(e *env) connectors.Record {
				e.srv.FailNext(1, http.StatusInternalServerError)
				return connectors.Record{}
			},
			wantWrites: 1, wantPOSTs: 1, wantOps: "create",
		},
		{
			name: "5xx once on a drifted connection",
			setup: func(e *env) connectors.Record {
				rec := convergeOnce(e)
				e.srv.Update(ourID(e), func(c *fake.Connection) { c.ClientID = "wrong" })
				e.srv.FailNext(1, http.StatusServiceUnavailable)
				return rec
			},
			wantWrites: 1, wantOps: "update", wantReason: "clientId",
		},
		{
			name: "429 with Retry-After",
			setup: func(e *env) connectors.Record {
				e.srv.RateLimitNext(1, 3*time.Second)
				return connectors.Record{}
			},
			wantWrites: 1, wantPOSTs: 1, wantOps: "create",
		},
		{
			name: "cursor pagination: ours on the last page",
			opts: envOpts{fake: fake.Options{PageSize: 2, ExposeSecrets: true}},
			setup: func(e *env) connectors.Record {
				for i := range 4 {
					e.srv.Put(unmanaged(i))
				}
				e.srv.Put(desired(marker(testTenant, testName)))
				return connectors.Record{}
			},
			check: func(t *testing.T, e *env) {
				if n := e.listCalls(); n != 3 {
					t.Fatalf("%d list calls, want 3 pages of 2", n)
				}
			},
		},
		{
			name: "unmanaged connections untouched",
			opts: envOpts{fake: fake.Options{PageSize: 2}},
			setup: func(e *env) connectors.Record {
				e.srv.Put(unmanaged(1))
				e.srv.Put(unmanaged(2))
				other := desired(marker("other-tenant", testName))
				other.ClientID = "other-tenant-client"
				e.srv.Put(other) // bridge-made, but another tenant's
				untouched = e.srv.Connections()
				return connectors.Record{}
			},
			wantWrites: 1, wantPOSTs: 1, wantOps: "create",
			check: func(t *testing.T, e *env) {
				for _, want := range untouched {
					got, ok := e.srv.Get(want.ConnectionID)
					if !ok || !reflect.DeepEqual(got, want) {
						t.Fatalf("connection %s changed: %+v, was %+v", want.ConnectionID, got, want)
					}
				}
			},
		},
		{
			name: "hand-made connection for the same client is adopted",
			setup: func(e *env) connectors.Record {
				c := desired(map[string]string{"team": "identity"})
				c.Data = &fake.ConnectionData{Name: "Okta (by hand)"}
				e.srv.Put(c)
				return connectors.Record{}
			},
			wantWrites: 1, wantOps: "update", wantReason: "tags",
			check: func(t *testing.T, e *env) {
				c := e.ours()[0]
				if c.Tags["team"] != "identity" || c.Data == nil || c.Data.Name != "Okta (by hand)" {
					t.Fatalf("adopted connection lost hand-set fields: %+v", c)
				}
			},
		},
		{
			name: "pinned connection_id",
			opts: envOpts{cfg: func(c *authress.Config) { c.ConnectionID = "con_pinned" }},
			setup: func(e *env) connectors.Record {
				c := desired(nil)
				c.ConnectionID = "con_pinned"
				c.TokenURL = "https://old.example/token"
				e.srv.Put(c)
				return connectors.Record{}
			},
			wantWrites: 1, wantOps: "update", wantReason: "tokenUrl",
			check: func(t *testing.T, e *env) {
				if n := e.listCalls(); n != 0 {
					t.Fatalf("%d list calls for a pinned connection", n)
				}
				if id := ourID(e); id != "con_pinned" {
					t.Fatalf("converged %s, want con_pinned", id)
				}
			},
		},
		{
			name: "marker removed by hand",
			opts: envOpts{fake: fake.Options{ExposeSecrets: true}},
			setup: func(e *env) connectors.Record {
				rec := convergeOnce(e)
				e.srv.Update(ourID(e), func(c *fake.Connection) { c.Tags = map[string]string{"team": "x"} })
				return rec
			},
			wantWrites: 1, wantOps: "update", wantReason: "tags",
			check: func(t *testing.T, e *env) {
				if e.ours()[0].Tags["team"] != "x" {
					t.Fatalf("a foreign tag was dropped")
				}
			},
		},
		{
			name: "connection deleted between read and update",
			opts: envOpts{wrap: func(s *fake.Server, h http.Handler) http.Handler {
				var once sync.Once
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPut {
						once.Do(func() { s.Remove(strings.TrimPrefix(r.URL.Path, "/v1/connections/")) })
					}
					h.ServeHTTP(w, r)
				})
			}},
			setup: func(e *env) connectors.Record {
				rec := convergeOnce(e)
				e.srv.Update(ourID(e), func(c *fake.Connection) { c.TokenURL = "https://drift.example" })
				return rec
			},
			wantWrites: 1, wantPOSTs: 1, wantOps: "create", wantReason: "vanished",
		},
		{
			name: "saml connection without a secret",
			opts: envOpts{cfg: func(c *authress.Config) {
				c.Connection = authress.ConnectionSpec{
					Type:                "saml",
					AuthenticationURL:   "https://idp.example/saml/sso",
					IssuerURL:           "urn:example:idp",
					ProviderCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
					Data:                authress.DataSpec{Name: "ACME SAML"},
				}
			}},
			setup:      func(*env) connectors.Record { return connectors.Record{} },
			wantWrites: 1, wantPOSTs: 1, wantOps: "create",
		},
	}
}

func TestConvergeStartingStates(t *testing.T) {
	t.Parallel()
	for _, tc := range convergeCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts)
			prev := tc.setup(e)
			writes0, posts0, lists0 := e.srv.Writes(), e.count("POST", "/v1/connections"), e.listCalls()
			e.listBase = lists0

			c := e.open()
			rec, acts := e.converge(c, prev, connectors.Options{})

			if got := e.srv.Writes() - writes0; got != tc.wantWrites {
				t.Fatalf("writes %d, want %d (requests %v)", got, tc.wantWrites, e.srv.Requests())
			}
			if got := e.count("POST", "/v1/connections") - posts0; got != tc.wantPOSTs {
				t.Fatalf("POSTs %d, want %d", got, tc.wantPOSTs)
			}
			if got := ops(acts); got != tc.wantOps {
				t.Fatalf("actions %q, want %q (%+v)", got, tc.wantOps, acts)
			}
			if tc.wantReason != "" && !strings.Contains(acts[len(acts)-1].Reason, tc.wantReason) {
				t.Fatalf("reason %q does not mention %q", acts[len(acts)-1].Reason, tc.wantReason)
			}
			if d := e.srv.DuplicateWrites(); d != 0 {
				t.Fatalf("%d duplicate writes", d)
			}
			id := ourID(e)
			if rec.IDs["connection"] != id {
				t.Fatalf("record %v, want connection %s", rec.IDs, id)
			}
			assertMatches(t, e, id)
			if tc.check != nil {
				tc.check(t, e)
			}

			// Level-triggered: converging again makes no write.
			writes1 := e.srv.Writes()
			rec2, acts2 := e.converge(e.open(), rec, connectors.Options{})
			if e.srv.Writes() != writes1 || len(acts2) != 0 {
				t.Fatalf("second convergence wrote %d times: %+v", e.srv.Writes()-writes1, acts2)
			}
			if rec2.IDs["connection"] != id {
				t.Fatalf("second record %v", rec2.IDs)
			}
		})
	}
}

// assertMatches checks the stored connection against the env's configuration.
func assertMatches(t *testing.T, e *env, id string) {
	t.Helper()
	cfg := baseConfig(e.url)
	if e.cfg != nil {
		e.cfg(cfg)
	}
	want := cfg.Connection
	got, ok := e.srv.Get(id)
	if !ok {
		t.Fatalf("connection %s missing", id)
	}
	if !strings.EqualFold(got.Type, want.Type) || got.AuthenticationURL != want.AuthenticationURL ||
		got.TokenURL != want.TokenURL || got.ClientID != want.ClientID || got.IssuerURL != want.IssuerURL ||
		got.ProviderCertificate != want.ProviderCertificate {
		t.Fatalf("connection %+v does not match spec %+v", got, want)
	}
	if want.ClientSecret != "" && got.ClientSecret != want.ClientSecret {
		t.Fatalf("stored secret is not the configured one")
	}
	if want.Data.Name != "" && (got.Data == nil || got.Data.Name != want.Data.Name) {
		t.Fatalf("data %+v, want name %q", got.Data, want.Data.Name)
	}
	if got.Tags[authress.TagTenant] != testTenant || got.Tags[authress.TagConnector] != testName {
		t.Fatalf("marker missing: %v", got.Tags)
	}
}

// TestDryRun: a dry run makes no write and reports the actions the real run makes.
func TestDryRun(t *testing.T) {
	t.Parallel()
	for _, tc := range convergeCases() {
		if tc.opts.wrap != nil || strings.Contains(tc.name, "lost") {
			continue // faults that fire on writes cannot fire in a dry run
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dry, real := newEnv(t, tc.opts), newEnv(t, tc.opts)
			dryPrev, realPrev := tc.setup(dry), tc.setup(real)

			w0 := dry.srv.Writes()
			dryRec, dryActs := dry.converge(dry.open(), dryPrev, connectors.Options{DryRun: true})
			if dry.srv.Writes() != w0 {
				t.Fatalf("dry run wrote %d times", dry.srv.Writes()-w0)
			}
			if !reflect.DeepEqual(dryRec, dryPrev) {
				t.Fatalf("dry run changed the record: %+v", dryRec)
			}
			_, realActs := real.converge(real.open(), realPrev, connectors.Options{})
			if len(dryActs) != len(realActs) {
				t.Fatalf("dry run %+v, real %+v", dryActs, realActs)
			}
			for i := range dryActs {
				d, r := dryActs[i], realActs[i]
				if d.Op != r.Op || d.Reason != r.Reason ||
					strings.ReplaceAll(d.Object, dry.url, "") != strings.ReplaceAll(r.Object, real.url, "") {
					t.Fatalf("action %d: dry run %+v, real %+v", i, d, r)
				}
			}
		})
	}
}

func TestConvergeRejectsOtherSubjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c := e.open()
	if c.Handles(connectors.SubjectUser) || c.Handles(connectors.SubjectObject) || !c.Handles(connectors.SubjectTenant) {
		t.Fatalf("Handles: want tenant subjects only")
	}
	for _, s := range []connectors.Subject{
		{Kind: connectors.SubjectUser, ID: "u1"},
		{Kind: connectors.SubjectTenant, ID: "another-tenant"},
	} {
		ctx, cancel := waitNothing()
		_, _, err := c.Converge(ctx, s, connectors.Record{}, connectors.Options{})
		cancel()
		if connectors.ClassOf(err) != connectors.Permanent {
			t.Fatalf("subject %+v: err %v, want a permanent error", s, err)
		}
	}
	if len(e.srv.Requests()) != 0 {
		t.Fatalf("a rejected subject reached the API")
	}
}

// TestLogs: one debug line per write, and never a credential.
func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rec := convergeOnce(e)
	e.srv.Update(ourID(e), func(c *fake.Connection) { c.TokenURL = "https://drift.example" })
	e.converge(e.open(), rec, connectors.Options{})
	e.converge(e.open(), rec, connectors.Options{}) // converged: no line
	logs := e.logs.String()
	lines := strings.Count(logs, "\n")
	if lines != e.srv.Writes() {
		t.Fatalf("%d log lines for %d writes:\n%s", lines, e.srv.Writes(), logs)
	}
	for _, s := range []string{testToken, testSecret} {
		if strings.Contains(logs, s) {
			t.Fatalf("log leaks a credential:\n%s", logs)
		}
	}
}
