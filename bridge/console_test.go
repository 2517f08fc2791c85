package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// consoleClient is a browser-like client of the console: a cookie jar, no
// redirects followed (the tests look at them).
type consoleClient struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func newConsoleClient(t *testing.T, srv *httptest.Server) *consoleClient {
	jar, _ := cookiejar.New(nil)
	c := *srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &consoleClient{t: t, base: srv.URL, http: &c}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a page and remembers its CSRF token.
func (c *consoleClient) get(path string) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		c.csrf = m[1]
	}
	return resp.StatusCode, string(body), resp.Header
}

// post sends a form; csrf "" sends none.
func (c *consoleClient) post(path string, form url.Values) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		c.csrf = m[1]
	}
	return resp.StatusCode, string(body), resp.Header
}

func (c *consoleClient) login(token string) int {
	c.t.Helper()
	c.get("/admin/login")
	code, _, _ := c.post("/admin/login", url.Values{"csrf": {c.csrf}, "token": {token}})
	if code == http.StatusSeeOther {
		c.get("/admin/")
	}
	return code
}

// api calls the JSON admin API with a bearer token.
func apiCall(t *testing.T, srv *httptest.Server, token, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestConsoleRefusesWithoutSession: pages redirect to the login, form posts and
// the API answer 401, without a session or token.
func TestConsoleRefusesWithoutSession(t *testing.T) {
	env := newConsoleEnv(t)
	c := newConsoleClient(t, env.srv)
	for _, p := range []string{"/admin/", "/admin/explain?q=x", "/admin/dead", "/admin/reconcile", "/admin/audit", "/admin/webhooks"} {
		code, _, h := c.get(p)
		if code != http.StatusSeeOther || h.Get("Location") != "/admin/login" {
			t.Errorf("GET %s without session: %d → %q, want 303 to the login", p, code, h.Get("Location"))
		}
	}
	for _, p := range []string{"/admin/dead/retry", "/admin/reconcile/plan", "/admin/reconcile/apply", "/admin/logout"} {
		if code, _, _ := c.post(p, url.Values{"tenant": {"acme"}}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without session: %d, want 401", p, code)
		}
	}
	for _, p := range []string{"GET /admin/api/status", "GET /admin/api/explain?tenant=acme&q=x", "GET /admin/api/audit?tenant=acme",
		"GET /admin/api/dead?tenant=acme", "POST /admin/api/retry?tenant=acme&connector=app", "POST /admin/api/reconcile?tenant=acme&dry_run=true"} {
		m, path, _ := strings.Cut(p, " ")
		for _, tok := range []string{"", "wrong-token-0123456789", testToken} {
			if code, _ := apiCall(t, env.srv, tok, m, path); code != http.StatusUnauthorized {
				t.Errorf("%s with token %q…: %d, want 401", p, tok[:min(len(tok), 5)], code)
			}
		}
	}
	// A forged or expired-looking cookie is no session.
	u, _ := url.Parse(env.srv.URL + "/admin/")
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "sb_admin_session", Value: "2.9999999999.abcd.forged", Path: "/admin/"}})
	if code, _, _ := c.get("/admin/"); code != http.StatusSeeOther {
		t.Errorf("forged session cookie: %d, want 303", code)
	}
	// A cookie signed with what the configuration holds (the admin tokens,
	// which may be digests) is no session either: the key is salted with a
	// value kept in the store.
	if code, _, _ := c.get("/admin/"); code != http.StatusSeeOther {
		t.Fatalf("before forging: %d", code)
	}
	real := newConsoleClient(t, env.srv)
	if code := real.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	cred := ""
	for _, ck := range real.http.Jar.Cookies(u) {
		if p := strings.Split(ck.Value, "."); ck.Name == "sb_admin_session" && len(p) == 5 {
			cred = p[3] // the credential's name, as a real session carries it
		}
	}
	if cred == "" {
		t.Fatal("no session cookie after login")
	}
	secret := sha256.Sum256([]byte("scim-bridge console\x00" + consoleAdminToken + "\x00" + consoleReadToken))
	km := hmac.New(sha256.New, secret[:])
	km.Write([]byte("scim-bridge console session v1"))
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	mm := hmac.New(sha256.New, km.Sum(nil))
	mm.Write([]byte("session\x002\x00" + exp + "\x00abcd\x00" + cred))
	forged := "2." + exp + ".abcd." + cred + "." + base64.RawURLEncoding.EncodeToString(mm.Sum(nil))
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "sb_admin_session", Value: forged, Path: "/admin/"}})
	if code, _, _ := c.get("/admin/"); code != http.StatusSeeOther {
		t.Errorf("session cookie signed from the configuration: %d, want 303 to the login", code)
	}
	// Login needs the right token and the login form's CSRF token.
	if code := c.login("wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("login with a wrong token: %d, want 401", code)
	}
	if code := c.login(testToken); code != http.StatusUnauthorized {
		t.Errorf("login with a SCIM token: %d, want 401", code)
	}
	fresh := newConsoleClient(t, env.srv)
	if code, _, _ := fresh.post("/admin/login", url.Values{"token": {consoleAdminToken}}); code != http.StatusForbidden {
		t.Errorf("login without CSRF token: %d, want 403", code)
	}
}

// TestConsoleSessionAndCSRF: the session cookie's attributes, the security
// headers, and form posts refused without the session's CSRF token.
func TestConsoleSessionAndCSRF(t *testing.T) {
	env := newConsoleEnv(t)
	id := env.createUser(t, "csrf@example.com")
	c := newConsoleClient(t, env.srv)
	c.get("/admin/login")
	code, _, h := c.post("/admin/login", url.Values{"csrf": {c.csrf}, "token": {consoleAdminToken}})
	if code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	ck := (&http.Response{Header: h}).Cookies()
	var session *http.Cookie
	for _, k := range ck {
		if k.Name == "sb_admin_session" {
			session = k
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/admin/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure on plain HTTP, path /admin/", session)
	}
	assertNoSecret(t, "the session cookie", session.Value)
	code, _, h = c.get("/admin/")
	if code != http.StatusOK {
		t.Fatalf("overview: %d", code)
	}
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: CSP %q, XFO %q, XCTO %q", csp, h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"))
	}
	for _, form := range []url.Values{
		{"tenant": {"acme"}, "connector": {"app"}, "subject": {"User|" + id}},
		{"tenant": {"acme"}, "connector": {"app"}, "subject": {"User|" + id}, "csrf": {"forged"}},
	} {
		for _, p := range []string{"/admin/dead/retry", "/admin/reconcile/plan", "/admin/reconcile/apply", "/admin/logout"} {
			if code, _, _ := c.post(p, form); code != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d, want 403", p, form.Get("csrf"), code)
			}
		}
	}
	// The same post with the token goes through.
	if code, _, _ := c.post("/admin/reconcile/plan", url.Values{"tenant": {"acme"}, "csrf": {c.csrf}}); code != http.StatusOK {
		t.Errorf("dry run with the CSRF token: %d", code)
	}
	// Over TLS the cookie is Secure.
	tls := httptest.NewTLSServer(env.b.Handler())
	defer tls.Close()
	tc := newConsoleClient(t, tls)
	tc.get("/admin/login")
	_, _, h = tc.post("/admin/login", url.Values{"csrf": {tc.csrf}, "token": {consoleAdminToken}})
	for _, k := range (&http.Response{Header: h}).Cookies() {
		if k.Name == "sb_admin_session" && !k.Secure {
			t.Error("session cookie over TLS is not Secure")
		}
	}
}

// TestConsoleReadOnly: the read-only token sees everything but cannot retry
// or apply, in the console and in the API.
func TestConsoleReadOnly(t *testing.T) {
	env := newConsoleEnv(t)
	env.app.set(env.app.failing, "ro@example.com", true)
	id := env.createUser(t, "ro@example.com")
	subject := "User|" + id
	eventually(t, 10*time.Second, func() error {
		st, err := env.b.Store().GetSync(context.Background(), "acme", "app", subject)
		if err != nil || st.Status != "dead" {
			return fmt.Errorf("%+v %v", st, err)
		}
		return nil
	})
	c := newConsoleClient(t, env.srv)
	if code := c.login(consoleReadToken); code != http.StatusSeeOther {
		t.Fatalf("reader login: %d", code)
	}
	for _, p := range []string{"/admin/", "/admin/explain?tenant=acme&q=ro@example.com", "/admin/dead?tenant=acme", "/admin/audit?tenant=acme", "/admin/webhooks?tenant=acme", "/admin/reconcile?tenant=acme"} {
		code, body, _ := c.get(p)
		if code != http.StatusOK {
			t.Errorf("reader GET %s: %d", p, code)
		}
		if strings.Contains(body, `action="/admin/dead/retry"`) || strings.Contains(body, `action="/admin/reconcile/apply"`) {
			t.Errorf("reader sees a write form on %s", p)
		}
	}
	if code, _, _ := c.post("/admin/dead/retry", url.Values{"tenant": {"acme"}, "connector": {"app"}, "subject": {subject}, "csrf": {c.csrf}}); code != http.StatusForbidden {
		t.Errorf("reader retry: %d, want 403", code)
	}
	if code, _, _ := c.post("/admin/reconcile/apply", url.Values{"tenant": {"acme"}, "confirm": {"apply acme"}, "csrf": {c.csrf}}); code != http.StatusForbidden {
		t.Errorf("reader apply: %d, want 403", code)
	}
	if code, _, _ := c.post("/admin/reconcile/plan", url.Values{"tenant": {"acme"}, "csrf": {c.csrf}}); code != http.StatusOK {
		t.Errorf("reader dry run: %d, want 200", code)
	}
	for p, want := range map[string]int{
		"GET /admin/api/explain?tenant=acme&q=ro@example.com": 200,
		"GET /admin/api/audit?tenant=acme":                    200,
		"GET /admin/api/dead?tenant=acme":                     200,
		"GET /admin/status":                                   200,
		"POST /admin/api/reconcile?tenant=acme&dry_run=true":  200,
		"POST /admin/api/reconcile?tenant=acme":               403,
		"POST /admin/api/retry?tenant=acme&connector=app":     403,
		"POST /admin/retry?tenant=acme&connector=app":         403,
		"POST /admin/reconcile?tenant=acme":                   403,
	} {
		m, path, _ := strings.Cut(p, " ")
		if code, body := apiCall(t, env.srv, consoleReadToken, m, path); code != want {
			t.Errorf("reader %s: %d %s, want %d", p, code, body, want)
		}
	}
	st, _ := env.b.Store().GetSync(context.Background(), "acme", "app", subject)
	if st.Status != "dead" {
		t.Errorf("after the reader's attempts the dead letter is %s", st.Status)
	}
}

// TestNoSecretAnywhere runs every feature (SCIM writes with a password,
// webhooks signed and forged, explain, retry, reconcile dry run and apply, every
// page and API answer, both tokens) and asserts that no secret appears in any
// page, API answer, audit stream or log line of the run.
func TestNoSecretAnywhere(t *testing.T) {
	env := newConsoleEnv(t)
	ctx := context.Background()
	env.app.set(env.app.failing, "leak@example.com", true)
	id := env.createUser(t, "leak@example.com")
	env.createUser(t, "other@example.com")
	code, g := env.scim(t, http.MethodPost, "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": id}}})
	if code != http.StatusCreated {
		t.Fatalf("group: %d %v", code, g)
	}
	env.scim(t, http.MethodPatch, "/Users/"+id, map[string]any{"schemas": []string{PatchOpSchema},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"password": consolePassword, "displayName": "Leak"}}}})
	env.scim(t, http.MethodPut, "/Users/"+id, map[string]any{"schemas": []string{UserSchema}, "userName": "leak@example.com", "password": consolePassword})
	env.webhooks(t)
	eventually(t, 10*time.Second, func() error {
		st, err := env.b.Store().GetSync(ctx, "acme", "app", "User|"+id)
		if err != nil || st.Status != "dead" {
			return fmt.Errorf("%+v %v", st, err)
		}
		return nil
	})

	var seen strings.Builder
	for _, tok := range []string{consoleAdminToken, consoleReadToken} {
		c := newConsoleClient(t, env.srv)
		c.login(tok)
		for _, p := range []string{"/admin/", "/admin/explain?tenant=acme&q=leak@example.com", "/admin/explain?tenant=acme&q=Staff",
			"/admin/dead?tenant=acme", "/admin/reconcile?tenant=acme", "/admin/audit?tenant=acme", "/admin/audit?tenant=acme&subject=User|" + id,
			"/admin/webhooks?tenant=acme", "/admin/login", "/admin/static/style.css"} {
			_, body, h := c.get(p)
			seen.WriteString(body)
			fmt.Fprint(&seen, h)
		}
		env.app.set(env.app.drifted, "other@example.com", true)
		_, body, _ := c.post("/admin/reconcile/plan", url.Values{"tenant": {"acme"}, "csrf": {c.csrf}})
		seen.WriteString(body)
		_, body, _ = c.post("/admin/reconcile/apply", url.Values{"tenant": {"acme"}, "confirm": {"apply acme"}, "csrf": {c.csrf}})
		seen.WriteString(body)
		env.app.set(env.app.failing, "leak@example.com", false)
		_, body, _ = c.post("/admin/dead/retry", url.Values{"tenant": {"acme"}, "csrf": {c.csrf}})
		seen.WriteString(body)
		for _, p := range []string{"GET /admin/api/status", "GET /admin/api/explain?tenant=acme&q=leak@example.com", "GET /admin/api/audit?tenant=acme&limit=1000",
			"GET /admin/api/dead?tenant=acme", "POST /admin/api/reconcile?tenant=acme&dry_run=true", "POST /admin/api/retry?tenant=acme&connector=app"} {
			m, path, _ := strings.Cut(p, " ")
			_, body := apiCall(t, env.srv, tok, m, path)
			seen.WriteString(body)
		}
	}
	assertNoSecret(t, "pages and API answers", seen.String())

	// The audit streams, raw, as Redis holds them.
	env.b.Audit().Flush(ctx)
	rdb := env.b.Store().Client()
	keys, err := rdb.Keys(ctx, "sb:{acme}:audit*").Result()
	if err != nil || len(keys) < 3 {
		t.Fatalf("audit keys %v, err %v", keys, err)
	}
	var raw strings.Builder
	kinds := map[string]bool{}
	for _, k := range keys {
		msgs, err := rdb.XRange(ctx, k, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			s := fmt.Sprint(m.Values)
			raw.WriteString(s)
			for _, kind := range []string{"scim", "downstream", "webhook", "reconcile"} {
				if strings.Contains(s, `"kind":"`+kind+`"`) {
					kinds[kind] = true
				}
			}
		}
	}
	if len(kinds) != 4 {
		t.Errorf("the run recorded kinds %v, want all four", kinds)
	}
	assertNoSecret(t, "the audit streams", raw.String())
	env.b.Close()
	assertNoSecret(t, "the logs", env.logs.String())
	if !strings.Contains(env.logs.String(), "converge") {
		t.Error("the log holds no convergence: the run did not log what it did")
	}
}

// cmdLog is a redis.Hook that records the commands sent while on.
type cmdLog struct {
	mu   sync.Mutex
	on   bool
	cmds []string
}

func (l *cmdLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *cmdLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.note(cmd)
		return next(ctx, cmd)
	}
}

func (l *cmdLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.note(c)
		}
		return next(ctx, cmds)
	}
}

func (l *cmdLog) note(cmd redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.cmds = append(l.cmds, strings.TrimSpace(fmt.Sprintln(cmd.Args()...)))
	}
}

func (l *cmdLog) record(on bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = on
	out := l.cmds
	l.cmds = nil
	return out
}

// TestOverviewReadsNoRangeOfTheQueue: the tenants overview (the console's
// page and GET /admin/status) reads the queue's size, leases and head only,
// never a count or a range by score, whose cost grows with the queue (a
// 100,000-key queue made the embedded store sort it twice per view).
func TestOverviewReadsNoRangeOfTheQueue(t *testing.T) {
	st := openStore(t, "")
	log := &cmdLog{}
	st.Client().AddHook(log)
	ts := newTestServer(t, "", func(o *Options) { o.Store = st; o.AdminToken = consoleAdminToken })
	for range 3 {
		ts.mustCreate(t, "/Users", userDoc(fmt.Sprintf("q%d@example.com", time.Now().UnixNano())))
	}
	c := newConsoleClient(t, ts.srv)
	if code := c.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	log.record(true)
	code, body, _ := c.get("/admin/")
	if code != http.StatusOK || !strings.Contains(body, "acme") {
		t.Fatalf("overview: %d", code)
	}
	if code, body := apiCall(t, ts.srv, consoleAdminToken, http.MethodGet, "/admin/status?tenant=acme"); code != http.StatusOK || !strings.Contains(body, `"pending": 3`) {
		t.Fatalf("status: %d %s", code, body)
	}
	cmds := log.record(false)
	if len(cmds) == 0 {
		t.Fatal("no command recorded")
	}
	for _, c := range cmds {
		f := strings.Fields(strings.ToLower(c))
		switch {
		case f[0] == "zcount", strings.HasSuffix(f[0], "scan"), f[0] == "keys", strings.Contains(c, "byscore"):
			t.Errorf("the overview sent %q", c)
		case f[0] == "zrange" || f[0] == "zrevrange":
			// A bounded page of a set (the last dead letters) is fine.
			if stop, err := strconv.Atoi(f[3]); err != nil || f[2] != "0" || stop < 0 || stop >= 100 {
				t.Errorf("the overview sent %q", c)
			}
		}
	}
}

// TestConsoleSessionEndsWithCredential: a console session ends when the admin
// token it was opened with expires (not 8 hours later), and a logout ends it
// on the server: a copy of the cookie is refused afterwards.
func TestConsoleSessionEndsWithCredential(t *testing.T) {
	const (
		oldTok = "old-admin-token-0123456789"
		newTok = "new-admin-token-0123456789"
	)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	b, err := New(Options{
		Store:  openStore(t, ""),
		Logger: zerolog.Nop(),
		Now:    now,
		AdminTokens: []auth.Token{
			{Name: "old-admin", Value: oldTok, Window: auth.Window{Expires: now().Add(10 * time.Minute)}},
			{Name: "new-admin", Value: newTok},
		},
		Tenants: []TenantOptions{{ID: "acme", SCIMTokens: []string{testToken}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() { srv.Close(); b.Close() })

	old := newConsoleClient(t, srv)
	if code := old.login(oldTok); code != http.StatusSeeOther {
		t.Fatalf("login with the expiring token: %d", code)
	}
	if code, _, _ := old.get("/admin/"); code != http.StatusOK {
		t.Fatalf("overview: %d", code)
	}
	clock.Add(int64(11 * time.Minute))
	if code, _, _ := old.get("/admin/"); code != http.StatusSeeOther {
		t.Errorf("after its token expired: %d, want 303 to the login", code)
	}

	c := newConsoleClient(t, srv)
	if code := c.login(newTok); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	u, _ := url.Parse(srv.URL + "/admin/")
	copied := newConsoleClient(t, srv)
	copied.http.Jar.SetCookies(u, c.http.Jar.Cookies(u))
	if code, _, _ := copied.get("/admin/"); code != http.StatusOK {
		t.Fatalf("copied cookie before logout: %d", code)
	}
	c.get("/admin/")
	if code, _, _ := c.post("/admin/logout", url.Values{"csrf": {c.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := copied.get("/admin/"); code != http.StatusSeeOther {
		t.Errorf("copied cookie after logout: %d, want 303 to the login", code)
	}
}

// TestConsoleFlashNotFromURL: a page's notice is never text from the URL (a
// link could put any message on the real console); the re-queue notice is
// made from a count.
func TestConsoleFlashNotFromURL(t *testing.T) {
	env := newConsoleEnv(t)
	c := newConsoleClient(t, env.srv)
	if code := c.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	for _, p := range []string{"/admin/?flash=Log+in+again+at+evil.example", "/admin/login?flash=Log+in+again+at+evil.example", "/admin/?requeued=evil.example"} {
		if _, body, _ := c.get(p); strings.Contains(body, "evil.example") {
			t.Errorf("GET %s shows text from the URL", p)
		}
	}
	c.get("/admin/dead?tenant=acme")
	code, _, h := c.post("/admin/dead/retry", url.Values{"tenant": {"acme"}, "csrf": {c.csrf}})
	if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "requeued=0") {
		t.Fatalf("retry: %d → %q, want a redirect carrying the count", code, h.Get("Location"))
	}
	if _, body, _ := c.get(h.Get("Location")); !strings.Contains(body, "0 dead letter(s) re-queued") {
		t.Errorf("the page after the retry lacks its notice")
	}
}

// TestConsoleReplicasFollowTheSalt: two replicas on one Redis accept each
// other's sessions; once the salt is deleted (to end every session) both
// refuse the old cookie within a minute and sign alike again.
func TestConsoleReplicasFollowTheSalt(t *testing.T) {
	redisURL := redistest.Start(t)
	st := openStore(t, redisURL)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	replica := func() *httptest.Server {
		b, err := New(Options{Store: st, Logger: zerolog.Nop(), Now: now, AdminToken: consoleAdminToken,
			Tenants: []TenantOptions{{ID: "acme", SCIMTokens: []string{testToken}}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(b.Handler())
		t.Cleanup(func() { srv.Close(); b.Close() })
		return srv
	}
	a, b := replica(), replica()
	// with moves the cookies of c (logged in on one replica) to a client of srv.
	with := func(c *consoleClient, srv *httptest.Server) *consoleClient {
		u, _ := url.Parse(c.base + "/admin/")
		o := newConsoleClient(t, srv)
		v, _ := url.Parse(srv.URL + "/admin/")
		o.http.Jar.SetCookies(v, c.http.Jar.Cookies(u))
		return o
	}
	onA := newConsoleClient(t, a)
	if code := onA.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login on a: %d", code)
	}
	if code, _, _ := with(onA, b).get("/admin/"); code != http.StatusOK {
		t.Fatalf("a's session on b: %d, want 200", code)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.Del(context.Background(), store.Prefix+":console-salt").Err(); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(2 * time.Minute))
	for name, c := range map[string]*consoleClient{"a": onA, "b": with(onA, b)} {
		if code, _, _ := c.get("/admin/"); code != http.StatusSeeOther {
			t.Errorf("old session on %s after the salt was deleted: %d, want 303", name, code)
		}
	}
	onB := newConsoleClient(t, b)
	if code := onB.login(consoleAdminToken); code != http.StatusSeeOther {
		t.Fatalf("login on b: %d", code)
	}
	if code, _, _ := with(onB, a).get("/admin/"); code != http.StatusOK {
		t.Errorf("b's new session on a: %d, want 200 (both read the new salt)", code)
	}
}

// TestReconcileAPIBooleans: a dry_run or force that is not a boolean is a 400
// and runs nothing; it was taken as false, an apply.
func TestReconcileAPIBooleans(t *testing.T) {
	env := newConsoleEnv(t)
	for _, p := range []string{
		"/admin/api/reconcile?tenant=acme&dry_run=yes",
		"/admin/api/reconcile?tenant=acme&dry_run=true&force=sure",
		"/admin/reconcile?tenant=acme&dry_run=y",
		"/admin/api/reconcile?tenant=acme&dry_run",
		"/admin/api/reconcile?tenant=acme&dry_run=",
	} {
		if code, body := apiCall(t, env.srv, consoleAdminToken, http.MethodPost, p); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d %s, want 400", p, code, body)
		}
	}
	if code, body := apiCall(t, env.srv, consoleAdminToken, http.MethodPost, "/admin/api/reconcile?tenant=acme&dry_run=TRUE"); code != http.StatusOK || !strings.Contains(strings.ReplaceAll(body, " ", ""), `"dryRun":true`) {
		t.Errorf("dry_run=TRUE: %d %s, want a dry run", code, body)
	}
}
