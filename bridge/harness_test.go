package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

const (
	// contentTypeSCIM is the media type of every SCIM body (RFC 7644 §3.1).
	contentTypeSCIM = "application/scim+json"

	testToken  = "test-token-acme-0123456789"
	testToken2 = "test-token-globex-0123456789"
)

// backends runs fn on the embedded store and on a real redis-server.
func backends(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("embedded", func(t *testing.T) { fn(t, "") })
	t.Run("redis", func(t *testing.T) { fn(t, redistest.Start(t)) })
}

func openStore(tb testing.TB, url string) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), store.Options{URL: url, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// testServer runs a bridge with tenants acme and globex on an httptest server.
type testServer struct {
	t   testing.TB
	b   *Bridge
	srv *httptest.Server
}

func newTestServer(tb testing.TB, url string, mutate ...func(*Options)) *testServer {
	tb.Helper()
	opts := Options{
		Store:  openStore(tb, url),
		Logger: zerolog.Nop(),
		Tenants: []TenantOptions{
			{ID: "acme", SCIMTokens: []string{testToken}},
			{ID: "globex", SCIMTokens: []string{testToken2}},
		},
		// Tests of refused credentials make many failures from 127.0.0.1;
		// the limiter's own test sets a strict one.
		Limiter: auth.NewLimiter(auth.LimiterOptions{MaxFailures: 1 << 20}),
	}
	for _, m := range mutate {
		m(&opts)
	}
	b, err := New(opts)
	if err != nil {
		tb.Fatalf("new bridge: %v", err)
	}
	srv := httptest.NewServer(b.Handler())
	tb.Cleanup(srv.Close)
	return &testServer{t: tb, b: b, srv: srv}
}

// do sends a SCIM request with the given token and returns status, headers and
// the decoded JSON body (nil when empty).
func (ts *testServer) do(token, method, path string, body any, headers ...string) (int, http.Header, map[string]any) {
	ts.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			ts.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.srv.URL+"/scim/v2"+path, rd)
	if err != nil {
		ts.t.Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			ts.t.Fatalf("%s %s: response is not JSON (%d): %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, resp.Header, out
}
