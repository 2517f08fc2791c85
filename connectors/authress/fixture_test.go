package authress_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	"github.com/scim-bridge/scim-bridge/connectors/authress/fake"
	"github.com/scim-bridge/scim-bridge/connectors/conntest"
)

const (
	testTenant = "acme"
	testName   = "authress"
	testToken  = "sc_key_adapter_0123456789"
	testSecret = "okta-client-secret-abcdef"
	authURL    = "https://acme.okta.example/oauth2/v1/authorize"
	tokenURL   = "https://acme.okta.example/oauth2/v1/token"
	clientID   = "okta-client-1"
)

var tenantSubject = connectors.Subject{Kind: connectors.SubjectTenant, ID: testTenant}

// baseConfig is the connector entry of the tests, pointed at url.
func baseConfig(url string) *authress.Config {
	return &authress.Config{
		Base: connectors.Base{Name: testName, Type: authress.Type, URL: url, Token: testToken},
		Connection: authress.ConnectionSpec{
			Type:              "oauth2",
			AuthenticationURL: authURL,
			TokenURL:          tokenURL,
			ClientID:          clientID,
			ClientSecret:      testSecret,
		},
	}
}

// env is one fake Authress and the means to open adapters against it.
type env struct {
	t    testing.TB
	srv  *fake.Server
	url  string
	http *http.Client
	cfg  func(*authress.Config)
	logs *strings.Builder
	// listBase is subtracted by listCalls: list calls made while setting up.
	listBase int
}

type envOpts struct {
	fake fake.Options
	cfg  func(*authress.Config)
	// wrap, when set, sits in front of the fake's handler.
	wrap func(*fake.Server, http.Handler) http.Handler
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	o.fake.Token = testToken
	srv := fake.New(o.fake)
	var h http.Handler = srv.Handler()
	if o.wrap != nil {
		h = o.wrap(srv, h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, url: hs.URL, http: hs.Client(), cfg: o.cfg, logs: &strings.Builder{}}
}

// open returns an adapter for the env's configuration, further changed by mods.
func (e *env) open(mods ...func(*authress.Config)) connectors.Connector {
	e.t.Helper()
	cfg := baseConfig(e.url)
	if e.cfg != nil {
		e.cfg(cfg)
	}
	for _, m := range mods {
		m(cfg)
	}
	c, err := cfg.Open(context.Background(), connectors.Deps{
		Tenant: testTenant,
		Client: e.http,
		Logger: zerolog.New(e.logs).Level(zerolog.DebugLevel),
		// This suite retries after a 429 itself, without waiting.
		Throttle: conntest.NoThrottle{},
	})
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	return c
}

// converge converges like the bridge: a retryable or rate-limited error is
// retried (without sleeping; the Retry-After is checked instead) with the
// record the failed attempt returned. It returns the final record and every
// action of every attempt.
func (e *env) converge(c connectors.Connector, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action) {
	e.t.Helper()
	var all []connectors.Action
	for attempt := 0; attempt < 5; attempt++ {
		rec, acts, err := c.Converge(context.Background(), tenantSubject, prev, opts)
		all = append(all, acts...)
		if err == nil {
			return rec, all
		}
		switch connectors.ClassOf(err) {
		case connectors.Retryable:
		case connectors.RateLimited:
			if connectors.RetryAfterOf(err) <= 0 {
				e.t.Fatalf("rate-limited error without Retry-After: %v", err)
			}
		default:
			e.t.Fatalf("converge: %v", err)
		}
		prev = rec
	}
	e.t.Fatalf("converge did not succeed in 5 attempts")
	return prev, nil
}

// count counts logged requests with this method whose path starts with prefix.
func (e *env) count(method, prefix string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

// listCalls counts list requests (GET on the collection itself).
func (e *env) listCalls() int {
	n := -e.listBase
	for _, r := range e.srv.Requests() {
		if r.Method == "GET" && r.Path == "/v1/connections" {
			n++
		}
	}
	return n
}

// ours returns the connections carrying this connector's marker.
func (e *env) ours() []fake.Connection {
	var out []fake.Connection
	for _, c := range e.srv.Connections() {
		if c.Tags[authress.TagTenant] == testTenant && c.Tags[authress.TagConnector] == testName {
			out = append(out, c)
		}
	}
	return out
}

// desired is the connection the base configuration describes, as stored.
func desired(tags map[string]string) fake.Connection {
	return fake.Connection{
		Type:              "OAUTH2",
		AuthenticationURL: authURL,
		TokenURL:          tokenURL,
		ClientID:          clientID,
		ClientSecret:      testSecret,
		Tags:              tags,
	}
}

func marker(tenant, name string) map[string]string {
	return map[string]string{authress.TagTenant: tenant, authress.TagConnector: name}
}

func ops(acts []connectors.Action) string {
	var s []string
	for _, a := range acts {
		s = append(s, string(a.Op))
	}
	return strings.Join(s, ",")
}

// waitNothing is a short context for calls that must not block.
func waitNothing() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// TestAcceptHeader: every request asks for the document's media type
// (application/links+json), plain JSON still acceptable.
func TestAcceptHeader(t *testing.T) {
	t.Parallel()
	var accepts []string
	var mu sync.Mutex
	e := newEnv(t, envOpts{wrap: func(_ *fake.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			accepts = append(accepts, r.Method+" "+r.Header.Get("Accept"))
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}})
	e.converge(e.open(), connectors.Record{}, connectors.Options{})
	mu.Lock()
	defer mu.Unlock()
	if len(accepts) == 0 {
		t.Fatal("no request")
	}
	for _, a := range accepts {
		if !strings.HasSuffix(a, " application/links+json, application/json") {
			t.Errorf("request %q", a)
		}
	}
}
