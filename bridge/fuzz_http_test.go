package bridge

// FuzzHTTPHandler sends random methods, paths, headers and bodies through the
// whole HTTP handler (SCIM, admin, webhooks, health, metrics). Whatever the
// request: no panic, no 5xx other than 503 (store unavailable) and 501 (a
// SCIM feature this server declares unsupported, RFC 7644 §3.7), and every
// SCIM error is a SCIM error body. Run for a while with:
//
//	go test -run '^$' -fuzz FuzzHTTPHandler -fuzztime 30m ./bridge/

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

const (
	// fuzzRequestTimeout is far more than any request of a fuzzer's size needs.
	fuzzRequestTimeout = 10 * time.Second
	fuzzAdminToken     = "fuzz-admin-token-0123456789"
	fuzzHookSecret     = "whsec-fuzz-0123456789"
)

// fuzzTarget is one bridge shared by every input of a fuzzing process, with a
// user and a group to aim at.
type fuzzTarget struct {
	h       http.Handler
	userID  string
	groupID string
}

var (
	fuzzOnce   sync.Once
	fuzzShared *fuzzTarget
)

func newFuzzTarget(tb testing.TB) *fuzzTarget {
	// The store outlives the input that opened it: every input of the
	// process shares it (the process exit releases it).
	st, err := store.Open(context.Background(), store.Options{Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := New(Options{
		Store: st, Logger: zerolog.Nop(), AdminToken: fuzzAdminToken, MaxConcurrentRequests: 4,
		Tenants: []TenantOptions{{
			ID: "acme", SCIMTokens: []string{testToken},
			Connectors:     []connectors.Connector{&fakeconn.Connector{ConnName: "hooks"}},
			WebhookSecrets: map[string]string{"hooks": fuzzHookSecret},
		}, {ID: "globex", SCIMTokens: []string{testToken2}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ft := &fuzzTarget{h: b.Handler()}
	ft.userID = ft.create(tb, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fuzz","emails":[{"value":"f@x.io","primary":true}]}`)
	ft.groupID = ft.create(tb, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"fuzzers","members":[{"value":"`+ft.userID+`"}]}`)
	return ft
}

func (ft *fuzzTarget) create(tb testing.TB, path, body string) string {
	req := httptest.NewRequest(http.MethodPost, "/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", contentTypeSCIM)
	rec := httptest.NewRecorder()
	ft.h.ServeHTTP(rec, req)
	var out struct{ ID string }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		tb.Fatalf("create %s: %d %s", path, rec.Code, rec.Body)
	}
	return out.ID
}

func FuzzHTTPHandler(f *testing.F) {
	seeds := []struct {
		method, path, hdr string
		body              string
		auth              uint8
	}{
		{"GET", "/scim/v2/Users?filter=userName%20eq%20%22fuzz%22", "", "", 1},
		{"GET", "/scim/v2/Users/{user}?attributes=emails", "", "", 1},
		{"PATCH", "/scim/v2/Users/{user}", "If-Match: W/\"1\"", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"}]}`, 1},
		{"PUT", "/scim/v2/Users/{user}", "", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fuzz","active":"False"}`, 1},
		{"PATCH", "/scim/v2/Groups/{group}", "", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"{user}\"]"}]}`, 1},
		{"POST", "/scim/v2/Users/.search", "Content-Type: application/scim+json; charset=latin1", `{"filter":"emails[value co \"@\"] and not (active eq true)","sortBy":"name.givenName"}`, 1},
		{"POST", "/scim/v2/Groups", "", `{"displayName":"x","members":[{"value":"\xff"}]}`, 2},
		{"DELETE", "/scim/v2/Groups/%2e%2e%2fUsers", "", "", 1},
		{"GET", "/scim/v2/ResourceTypes/User", "", "", 0},
		{"GET", "/admin/status?tenant=acme", "", "", 3},
		{"POST", "/admin/retry?tenant=acme&connector=hooks&subject=User|x", "", "", 3},
		{"POST", "/webhooks/acme/hooks", "X-Bridge-Signature: t=1,v1=00", `{"id":"1","type":"t","data":{}}`, 0},
		{"GET", "/readyz", "", "", 0},
		{"HEAD", "/metrics", "", "", 0},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.hdr, []byte(s.body), s.auth)
	}
	f.Fuzz(func(t *testing.T, method, path, hdr string, body []byte, auth uint8) {
		fuzzOnce.Do(func() { fuzzShared = newFuzzTarget(t) })
		ft := fuzzShared
		if ft == nil {
			t.Skip("no fuzz target")
		}
		path = strings.NewReplacer("{user}", ft.userID, "{group}", ft.groupID).Replace(path)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://bridge.test"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.RequestURI = path
		switch auth % 4 {
		case 1:
			req.Header.Set("Authorization", "Bearer "+testToken)
		case 2:
			req.Header.Set("Authorization", "Bearer "+testToken2)
		case 3:
			req.Header.Set("Authorization", "Bearer "+fuzzAdminToken)
		}
		req.Header.Set("Content-Type", contentTypeSCIM)
		if k, v, ok := strings.Cut(hdr, ":"); ok {
			k = strings.TrimSpace(k)
			if k != "" && !strings.ContainsAny(k, " \t\r\n:") {
				req.Header.Set(k, strings.TrimSpace(v))
			}
		}
		rec := httptest.NewRecorder()
		served := make(chan struct{})
		go func() {
			defer close(served)
			ft.h.ServeHTTP(rec, req) // a panic fails the input
		}()
		select {
		case <-served:
		case <-time.After(fuzzRequestTimeout):
			buf := make([]byte, 1<<20)
			t.Fatalf("%s %q: no answer after %v\n%s", method, path, fuzzRequestTimeout, buf[:runtime.Stack(buf, true)])
		}
		code := rec.Code
		if code >= 500 && code != http.StatusServiceUnavailable && code != http.StatusNotImplemented {
			t.Fatalf("%s %q: %d %s", method, path, code, rec.Body)
		}
		if strings.HasPrefix(req.URL.Path, "/scim/") && code >= 400 {
			var e struct {
				Schemas []string `json:"schemas"`
				Status  string   `json:"status"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e.Schemas) != 1 || e.Schemas[0] != scimErrorSchema {
				t.Fatalf("%s %q: %d without a SCIM error body: %s", method, path, code, rec.Body)
			}
		}
	})
}
