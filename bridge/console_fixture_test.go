package bridge

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
)

// Secrets of the console fixture: none may ever show in a page, the audit
// trail or the logs.
const (
	consoleAdminToken = "admin-token-SECRET-0123456789"
	consoleReadToken  = "reader-token-SECRET-0123456789"
	consoleHookSecret = "webhook-SECRET-0123456789"
	consolePassword   = "password-SECRET-hunter2"
)

// appFake is a downstream whose failures and drift a test sets per userName.
type appFake struct {
	mu      sync.Mutex
	failing map[string]bool // userName → answer 400
	drifted map[string]bool // userName → the downstream differs (seen by dry runs)
	applied map[string]int  // userName → successful writes
}

func newAppFake() *appFake {
	return &appFake{failing: map[string]bool{}, drifted: map[string]bool{}, applied: map[string]int{}}
}

func (f *appFake) set(m map[string]bool, userName string, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m[userName] = v
}

func (f *appFake) converge(_ context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	if s.User == nil {
		return prev, nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := s.User.UserName
	if f.failing[name] {
		return prev, nil, &connectors.Error{Class: connectors.Permanent, Op: "POST /users", Status: 400, Msg: "email domain not allowed"}
	}
	rec := connectors.Record{IDs: map[string]string{"user": "app-" + s.User.ID[:8]}}
	if opts.DryRun {
		if f.drifted[name] {
			return rec, []connectors.Action{{Op: connectors.OpUpdate, Object: "user " + rec.IDs["user"], Reason: "role drifted to viewer downstream"}}, nil
		}
		return rec, nil, nil
	}
	f.drifted[name] = false
	f.applied[name]++
	return rec, []connectors.Action{{Op: connectors.OpCreate, Object: "user " + rec.IDs["user"]}}, nil
}

func (f *appFake) isDrifted(userName string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drifted[userName]
}

// consoleEnv is a running bridge with the console enabled, one tenant "acme"
// with the fake "app" (webhooks enabled), and every log line kept.
type consoleEnv struct {
	b    *Bridge
	srv  *httptest.Server
	app  *appFake
	conn *fakeconn.EventConnector
	logs *syncBuffer
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	env := &consoleEnv{app: newAppFake(), logs: &syncBuffer{}}
	env.conn = &fakeconn.EventConnector{Connector: &fakeconn.Connector{
		ConnName: "app", Kinds: []connectors.SubjectKind{connectors.SubjectUser}, ConvergeFunc: env.app.converge,
	}}
	opts := Options{
		Store:          openStore(t, ""),
		Logger:         zerolog.New(env.logs).Level(zerolog.DebugLevel),
		AdminToken:     consoleAdminToken,
		AdminReadToken: auth.Token{Value: consoleReadToken},
		Tenants: []TenantOptions{{
			ID: "acme", SCIMTokens: []string{testToken}, DeletionThreshold: 10,
			Connectors:     []connectors.Connector{env.conn},
			WebhookSecrets: map[string]string{"app": consoleHookSecret},
		}},
		// The refusal tests send many bad tokens: keep the limiter out of their way.
		Limiter: auth.NewLimiter(auth.LimiterOptions{MaxFailures: 100_000}),
		fanout:  fanout.Options{BackoffBase: time.Millisecond},
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	env.b = b
	env.srv = httptest.NewServer(b.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; env.srv.Close(); b.Close() })
	return env
}

// scim sends one SCIM request and returns the status and decoded body.
func (env *consoleEnv) scim(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	ts := &testServer{t: t, b: env.b, srv: env.srv}
	code, _, out := ts.do(testToken, method, path, body)
	return code, out
}

// createUser creates a user with a password (which must never show anywhere).
func (env *consoleEnv) createUser(t *testing.T, userName string) string {
	t.Helper()
	doc := userDoc(userName)
	doc["password"] = consolePassword
	code, out := env.scim(t, http.MethodPost, "/Users", doc)
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %v", userName, code, out)
	}
	return out["id"].(string)
}

// webhook posts one signed event (and one with a bad signature).
func (env *consoleEnv) webhooks(t *testing.T) {
	t.Helper()
	body := []byte(`{"id":"evt-1","type":"user.updated","data":{}}`)
	for _, sig := range []string{Sign(consoleHookSecret, body, time.Now()), "t=1,v1=00"} {
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/acme/app", bytes.NewReader(body))
		req.Header.Set(SignatureHeader, sig)
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// secrets lists every secret of the fixture.
func consoleSecrets() []string {
	return []string{consoleAdminToken, consoleReadToken, consoleHookSecret, consolePassword, testToken, "SECRET"}
}

// assertNoSecret fails when text holds any secret of the fixture.
func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range consoleSecrets() {
		if strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("%s contains a secret (%q…) near %q", where, s[:6], text[max(0, i-80):min(len(text), i+40)])
		}
	}
}
