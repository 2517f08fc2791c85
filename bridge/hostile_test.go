package bridge

// Hostile input of issue 11 (defects 6 to 9) and the per-tenant cap on
// concurrent SCIM requests.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/fanout"
	"github.com/scim-bridge/scim-bridge/bridge/internal/fakeconn"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/store"
)

const scimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// isSCIMError reports whether body is a SCIM error body with that status.
func isSCIMError(body map[string]any, status int) bool {
	s, _ := body["schemas"].([]any)
	return len(s) == 1 && s[0] == scimErrorSchema && body["status"] == fmt.Sprint(status)
}

// Defect 6: RFC 8259 §8.1 — JSON bodies are UTF-8.
func TestBodyMustBeUTF8(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	invalid := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bad` + "\xff\xfe" + `name"}`)
	cases := []struct {
		name        string
		method      string
		path        string
		body        []byte
		contentType string
		status      int
		scimType    string
	}{
		{"invalid UTF-8 create", http.MethodPost, "/Users", invalid, contentTypeSCIM, http.StatusBadRequest, "invalidSyntax"},
		{"invalid UTF-8 search", http.MethodPost, "/Users/.search", []byte(`{"filter":"userName eq \"` + "\xc0\xaf" + `\""}`), contentTypeSCIM, http.StatusBadRequest, "invalidSyntax"},
		{"latin-1 charset", http.MethodPost, "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ok"}`), contentTypeSCIM + "; charset=ISO-8859-1", http.StatusUnsupportedMediaType, ""},
		{"utf-16 charset", http.MethodPost, "/Users", []byte(`{}`), "application/json; charset=utf-16", http.StatusUnsupportedMediaType, ""},
	}
	for _, tc := range cases {
		code, _, body := ts.do(testToken, tc.method, tc.path, tc.body, "Content-Type", tc.contentType)
		if code != tc.status || !isSCIMError(body, tc.status) || (tc.scimType != "" && body["scimType"] != tc.scimType) {
			t.Errorf("%s: %d %v, want a SCIM error %d %s", tc.name, code, body, tc.status, tc.scimType)
		}
	}
	// A declared UTF-8 charset, in any case, is fine.
	code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc("héloïse"), "Content-Type", contentTypeSCIM+"; charset=UTF-8")
	if code != http.StatusCreated {
		t.Errorf("UTF-8 create: %d %v", code, body)
	}
}

// Defect 7: a resource id is percent-decoded once (RFC 3986 §2.4).
func TestResourceIDDecodedOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc("once"))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	id := body["id"].(string)
	// %25XX decodes once to %XX, which names the id only if decoded twice.
	twice := fmt.Sprintf("%%25%02X%s", id[0], id[1:])
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if code, _, body := ts.do(testToken, method, "/Users/"+twice, nil); code != http.StatusNotFound {
			t.Errorf("%s /Users/%s: %d %v, want 404 (decoded twice)", method, twice, code, body)
		}
	}
	once := fmt.Sprintf("%%%02X%s", id[0], id[1:])
	if code, _, body := ts.do(testToken, http.MethodGet, "/Users/"+once, nil); code != http.StatusOK || body["id"] != id {
		t.Errorf("GET /Users/%s: %d %v, want the user", once, code, body)
	}
}

// Defect 8: the admin API answers 404 for what does not exist and 400 for a
// malformed subject, never 500.
func TestAdminNotFoundAndMalformed(t *testing.T) {
	t.Parallel()
	const adminToken = "admin-token-0123456789abcdef"
	conn := &fakeconn.Connector{ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser}}
	ts := newTestServer(t, "", func(o *Options) {
		o.AdminToken = adminToken
		o.Tenants[0].Connectors = []connectors.Connector{conn}
	})
	cases := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/admin/status?tenant=nope", http.StatusNotFound},
		{http.MethodPost, "/admin/retry?tenant=nope&connector=down", http.StatusNotFound},
		{http.MethodPost, "/admin/retry?tenant=acme&connector=nope", http.StatusNotFound},
		{http.MethodPost, "/admin/retry?tenant=acme&connector=down&subject=User%7Cmissing", http.StatusNotFound},
		{http.MethodPost, "/admin/retry?tenant=acme&connector=down&subject=garbage", http.StatusBadRequest},
		{http.MethodPost, "/admin/retry?tenant=acme&connector=down&subject=%7C", http.StatusBadRequest},
		{http.MethodPost, "/admin/reconcile?tenant=acme&connector=nope&dry_run=true", http.StatusNotFound},
		{http.MethodGet, "/admin/status?tenant=acme", http.StatusOK},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, ts.srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := ts.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, raw, tc.status)
		}
	}
}

// Defect 9: attacker-sized values are capped in every log line: a userName
// near the body limit quoted by a failing connector's error, a huge webhook
// event id.
func TestLoggedValuesCapped(t *testing.T) {
	t.Parallel()
	const (
		secret  = "whsec-acme-hooks-0123456789"
		maxLine = 8 << 10
	)
	var (
		mu    sync.Mutex
		tries int
	)
	failing := &fakeconn.Connector{
		ConnName: "down", Kinds: []connectors.SubjectKind{connectors.SubjectUser},
		ConvergeFunc: func(_ context.Context, s connectors.Subject, prev connectors.Record, _ connectors.Options) (connectors.Record, []connectors.Action, error) {
			mu.Lock()
			tries++
			mu.Unlock()
			name := ""
			if s.User != nil {
				name = s.User.UserName
			}
			return prev, nil, fmt.Errorf("create user %q: %w (user %q)", name,
				&connectors.Error{Class: connectors.Retryable, Op: "POST /users", Status: 500}, name)
		},
	}
	logs := &syncBuffer{}
	ts := newTestServer(t, "", func(o *Options) {
		o.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
		o.Tenants[0].Connectors = []connectors.Connector{failing, newHookConnector("hooks")}
		o.Tenants[0].WebhookSecrets = map[string]string{"hooks": secret}
		o.fanout = fanout.Options{BackoffBase: time.Millisecond}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ts.b.Run(ctx) }()
	defer func() { cancel(); <-done }()

	huge := strings.Repeat("u", 480<<10) // twice in the body (userName, email)
	code, _, body := ts.do(testToken, http.MethodPost, "/Users", userDoc(huge))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if tries < 3 {
			return fmt.Errorf("%d attempts so far", tries)
		}
		return nil
	})
	sub := store.WorkKey{Tenant: "acme", Kind: store.WorkUser, ID: body["id"].(string)}.Subject()
	if s, err := ts.b.Store().GetSync(context.Background(), "acme", "down", sub); err != nil || len(s.LastError) > 2<<10 {
		t.Errorf("stored last error: %v, %d bytes", err, len(s.LastError))
	}

	ev, _ := json.Marshal(map[string]any{"id": strings.Repeat("e", 100<<10), "type": "thing.created", "data": map[string]any{}})
	req, _ := http.NewRequest(http.MethodPost, ts.srv.URL+"/webhooks/acme/hooks", bytes.NewReader(ev))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(secret, ev, time.Now()))
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Errorf("webhook: %d", resp.StatusCode)
	}

	cancel()
	<-done
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 16<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if n := len(sc.Bytes()); n > maxLine {
			t.Errorf("log line of %d bytes (cap %d): %.200s…", n, maxLine, sc.Bytes())
		}
	}
	if lines == 0 {
		t.Error("no log line at all")
	}
}

// A tenant cannot have more than MaxConcurrentRequests SCIM requests served
// at once: one more is answered 429 with Retry-After (a SCIM error body), and
// another tenant is served meanwhile.
func TestConcurrentRequestsCappedPerTenant(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "", func(o *Options) { o.MaxConcurrentRequests = 2 })
	// Two requests whose bodies are never finished hold acme's two slots.
	// Each on a connection of its own: a body that cannot be rewound is not
	// re-sent when a reused connection turns out closed, and a holder that
	// failed would leave its slot free.
	holders := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer holders.CloseIdleConnections()
	var writers []*io.PipeWriter
	ended := make(chan error, 2)
	for range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req, _ := http.NewRequest(http.MethodPost, ts.srv.URL+"/scim/v2/Users", pr)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", contentTypeSCIM)
		go func() {
			resp, err := holders.Do(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("answered %d", resp.StatusCode)
			}
			ended <- err
		}()
		if _, err := pw.Write([]byte(`{"schemas":`)); err != nil {
			t.Fatalf("slot holder's body: %v", err)
		}
	}
	defer func() {
		for _, pw := range writers {
			_ = pw.CloseWithError(io.ErrUnexpectedEOF)
		}
	}()
	// Generous: under a loaded CI machine the two slot holders may take a
	// while to reach the handler.
	eventually(t, 20*time.Second, func() error {
		select {
		case err := <-ended:
			t.Fatalf("a slot holder ended early: %v", err)
		default:
		}
		code, h, body := ts.do(testToken, http.MethodGet, "/Users", nil)
		if code != http.StatusTooManyRequests {
			return fmt.Errorf("third request: %d, want 429", code)
		}
		if h.Get("Retry-After") == "" || !isSCIMError(body, http.StatusTooManyRequests) {
			return fmt.Errorf("429 without Retry-After or SCIM error body: %v %v", h, body)
		}
		return nil
	})
	if code, _, body := ts.do(testToken2, http.MethodGet, "/Users", nil); code != http.StatusOK {
		t.Errorf("other tenant starved: %d %v", code, body)
	}
}
