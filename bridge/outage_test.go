package bridge

// Issue 11, defect 4: while Redis is down or loading its data set after a
// restart, the SCIM endpoint answers 503 with Retry-After (a SCIM error body),
// /readyz is false, the workers pause, and everything resumes by itself when
// Redis is back.

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

func TestRedisOutageAnswers503AndResumes(t *testing.T) {
	t.Parallel()
	proxy := startRedisProxy(t, redistest.Start(t))
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser}}
	ts := newTestServer(t, proxy.URL(), func(o *Options) {
		o.Tenants[0].Connectors = []connectors.Connector{conn}
		o.fanout.BackoffBase = 20 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ts.b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	create := func(name string) (int, http.Header, map[string]any) {
		return ts.do(testToken, http.MethodPost, "/Users", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name, "active": true,
		})
	}
	readyz := func() int {
		resp, err := ts.srv.Client().Get(ts.srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	code, _, body := create("before@example.com")
	if code != http.StatusCreated {
		t.Fatalf("create before the outage: %d %v", code, body)
	}
	before := body["id"].(string)
	eventually(t, 10*time.Second, func() error {
		if conn.Calls(before) == 0 {
			return fmt.Errorf("user %s not converged", before)
		}
		return nil
	})

	for _, mode := range []struct {
		name string
		mode proxyMode
	}{{"loading", proxyLoading}, {"down", proxyDown}} {
		proxy.set(mode.mode)
		code, h, body := create("during-" + mode.name + "@example.com")
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("Redis %s: create answered %d (Retry-After %q), want 503 with Retry-After", mode.name, code, h.Get("Retry-After"))
		}
		if s, _ := body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || body["status"] != "503" {
			t.Errorf("Redis %s: body %v, want a SCIM error with status 503", mode.name, body)
		}
		if code, _, _ := ts.do(testToken, http.MethodGet, "/Users/"+before, nil); code != http.StatusServiceUnavailable {
			t.Errorf("Redis %s: get answered %d, want 503", mode.name, code)
		}
		if c := readyz(); c != http.StatusServiceUnavailable {
			t.Errorf("Redis %s: /readyz %d, want 503", mode.name, c)
		}
	}

	proxy.set(proxyUp) // Redis is back: nothing is restarted on the bridge's side
	var after string
	eventually(t, 15*time.Second, func() error {
		code, _, body := create("after@example.com")
		switch code {
		case http.StatusCreated:
			after = body["id"].(string)
			return nil
		case http.StatusConflict: // an earlier attempt got through
			return nil
		}
		return fmt.Errorf("create after the outage: %d %v", code, body)
	})
	if after == "" {
		_, _, body := ts.do(testToken, http.MethodGet, `/Users?filter=userName eq "after@example.com"`, nil)
		after = body["Resources"].([]any)[0].(map[string]any)["id"].(string)
	}
	eventually(t, 15*time.Second, func() error {
		if conn.Calls(after) == 0 {
			return fmt.Errorf("user %s created after the outage not converged: the workers did not resume", after)
		}
		if c := readyz(); c != http.StatusOK {
			return fmt.Errorf("/readyz %d after the outage", c)
		}
		return nil
	})
}
