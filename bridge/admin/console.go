package admin

import (
	"bytes"
	"crypto/hmac"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/explain"
	"github.com/scim-bridge/scim-bridge/bridge/internal/clip"
	"github.com/scim-bridge/scim-bridge/bridge/reconcile"
	"github.com/scim-bridge/scim-bridge/store"
)

//go:embed web
var webFS embed.FS

// contentSecurityPolicy allows nothing but the console's own stylesheet and
// forms: no script at all, no frame, no foreign origin.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// console is the admin console at /admin/: server-rendered pages over the
// same API, behind a session cookie obtained with an admin token.
type console struct {
	api   *API
	base  []byte                     // sessionKey(SessionSecret); nil: the console is disabled
	key   atomic.Pointer[signingKey] // base salted with SessionSalt (see loadKey)
	pages map[string]*template.Template
}

func newConsole(a *API) *console {
	c := &console{api: a, pages: map[string]*template.Template{}}
	if a.opts.Auth != nil && len(a.opts.SessionSecret) > 0 {
		c.base = sessionKey(a.opts.SessionSecret)
		if a.opts.SessionSalt == nil {
			c.key.Store(&signingKey{key: c.base})
		}
	}
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"json": func(v any) string {
			b, _ := json.MarshalIndent(v, "", "  ")
			return string(b)
		},
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
		"ms": func(n int64) string { return (time.Duration(n) * time.Millisecond).String() },
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", "web/templates/partials.html"))
	names, _ := fs.Glob(webFS, "web/templates/*.html")
	for _, n := range names {
		base := strings.TrimPrefix(n, "web/templates/")
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		c.pages[strings.TrimSuffix(base, ".html")] = template.Must(template.Must(layout.Clone()).ParseFS(webFS, n))
	}
	return c
}

// page is what every template gets.
type page struct {
	Title    string
	CSRF     string
	CanWrite bool
	Tenants  []string
	Tenant   string
	Flash    string
	Error    string
	Data     any
}

func (c *console) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /admin/static/", c.secure(http.StripPrefix("/admin/static/", http.FileServerFS(static))))
	mux.Handle("GET /admin/login", c.secure(http.HandlerFunc(c.loginPage)))
	mux.Handle("POST /admin/login", c.secure(http.HandlerFunc(c.login)))
	mux.Handle("POST /admin/logout", c.secure(c.auth(false, c.logout)))
	mux.Handle("GET /admin/{$}", c.secure(c.auth(false, c.overview)))
	mux.Handle("GET /admin/explain", c.secure(c.auth(false, c.explain)))
	mux.Handle("GET /admin/dead", c.secure(c.auth(false, c.dead)))
	mux.Handle("POST /admin/dead/retry", c.secure(c.auth(true, c.retry)))
	mux.Handle("GET /admin/reconcile", c.secure(c.auth(false, c.reconcilePage)))
	mux.Handle("POST /admin/reconcile/plan", c.secure(c.auth(false, c.reconcilePlan)))
	mux.Handle("POST /admin/reconcile/apply", c.secure(c.auth(true, c.reconcileApply)))
	mux.Handle("GET /admin/audit", c.secure(c.auth(false, c.audit)))
	mux.Handle("GET /admin/webhooks", c.secure(c.auth(false, c.webhooks)))
}

// secure sets the console's security headers, and answers 404 when the admin
// endpoints are disabled.
func (c *console) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.base == nil {
			http.NotFound(w, r)
			return
		}
		if err := c.loadKey(r.Context()); err != nil {
			http.Error(w, "The console is unavailable: its session key cannot be read from the store. Try again shortly.", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type consoleHandler func(w http.ResponseWriter, r *http.Request, s *session) error

// auth requires a session (a page redirects to the login, a form post is
// refused with 401), a valid CSRF token on every post, and the admin role for
// write actions.
func (c *console) auth(write bool, next consoleHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) {
				http.Error(w, "invalid or missing CSRF token", http.StatusForbidden)
				return
			}
		}
		if write && s.role != roleAdmin {
			http.Error(w, "the read-only token may not change anything", http.StatusForbidden)
			return
		}
		// A tenant the request names must exist: a page of another tenant
		// than the one asked for (or a retry of its dead letters) would
		// mislead. No tenant named means the first one.
		if id := r.FormValue("tenant"); id != "" && c.api.tenants.Get(id) == nil {
			c.render(w, r, s, http.StatusNotFound, "error", "Error", nil, fmt.Sprintf("Unknown tenant %q.", clip.String(id)))
			return
		}
		if err := next(w, r, s); err != nil {
			status := c.api.errorStatus(w.Header(), err)
			c.render(w, r, s, status, "error", "Error", nil, clip.Error(err))
		}
	})
}

// render executes a page into a buffer, so a template error never sends half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, title string, data any, errMsg string) {
	p := page{Title: title, Data: data, Error: errMsg, Flash: flashOf(r)}
	if s != nil {
		p.CSRF, p.CanWrite = s.csrf, s.role == roleAdmin
	}
	for _, t := range c.api.tenants.All() {
		p.Tenants = append(p.Tenants, t.ID)
	}
	p.Tenant = c.tenantOf(r)
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// tenantOf is the tenant a request names, else the first one (auth has
// refused a request naming an unknown one).
func (c *console) tenantOf(r *http.Request) string {
	t := r.FormValue("tenant")
	if c.api.tenants.Get(t) != nil {
		return t
	}
	if all := c.api.tenants.All(); len(all) > 0 {
		return all[0].ID
	}
	return ""
}

func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	csrf := c.loginCSRF(w, r)
	c.render(w, r, &session{csrf: csrf}, http.StatusOK, "login", "Log in", nil, "")
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !c.checkLoginCSRF(r) {
		http.Error(w, "invalid or missing CSRF token", http.StatusForbidden)
		return
	}
	rl, id := c.authenticate(r, r.PostFormValue("token"))
	if rl == roleNone {
		csrf := c.loginCSRF(w, r)
		c.render(w, r, &session{csrf: csrf}, http.StatusUnauthorized, "login", "Log in", nil, "That token is not an admin token.")
		return
	}
	http.SetCookie(w, c.cookie(r, loginCookie, "", -1))
	c.newSession(w, r, rl, id)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// authenticate checks a token typed into the login form as the admin API
// checks a bearer token (same authenticator, same failure limiter).
func (c *console) authenticate(r *http.Request, token string) (role, auth.Identity) {
	if token == "" || strings.ContainsAny(token, "\r\n") {
		return roleNone, auth.Identity{}
	}
	probe := r.Clone(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer " + token}}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		probe.Header["X-Forwarded-For"] = xff
	}
	id, err := c.api.opts.Auth.Authenticate(probe)
	if err != nil {
		return roleNone, auth.Identity{}
	}
	return roleOf(id), id
}

// logout ends the session on every replica, not only in this browser: a
// copied cookie is refused from now on.
func (c *console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.api.opts.Store.RevokeConsoleSession(r.Context(), s.nonce, s.exp); err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	http.SetCookie(w, c.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	return nil
}

// flashOf is the notice a page shows after a redirect: made here from a
// count the redirect carries, never text taken from the URL (a link could
// otherwise put any message on the console's pages).
func flashOf(r *http.Request) string {
	n, err := strconv.Atoi(r.URL.Query().Get("requeued"))
	if err != nil || n < 0 {
		return ""
	}
	return fmt.Sprintf("%d dead letter(s) re-queued", n)
}

// overviewRow is one tenant on the overview.
type overviewRow struct {
	Status        TenantStatus
	LastReconcile *store.AuditEntry
	Throttled     map[string]time.Time
}

func (c *console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	st, err := c.api.Status(ctx, "")
	if err != nil {
		return err
	}
	rows := make([]overviewRow, 0, len(st))
	for _, ts := range st {
		row := overviewRow{Status: ts, Throttled: map[string]time.Time{}}
		rec, _, err := c.api.opts.Audit.ListAudit(ctx, ts.Tenant, store.AuditQuery{Kind: store.AuditReconcile, Limit: 1})
		if err != nil {
			return err
		}
		if len(rec) > 0 {
			row.LastReconcile = &rec[0]
		}
		recent, _, err := c.api.opts.Audit.ListAudit(ctx, ts.Tenant, store.AuditQuery{Kind: store.AuditDownstream, Outcome: store.SyncRetrying, Limit: 20, Since: c.api.now().Add(-15 * time.Minute)})
		if err != nil {
			return err
		}
		for _, e := range recent {
			if e.ErrorClass == "rate-limited" && e.Time.After(row.Throttled[e.Connector]) {
				row.Throttled[e.Connector] = e.Time
			}
		}
		rows = append(rows, row)
	}
	c.render(w, r, s, http.StatusOK, "overview", "Tenants", rows, "")
	return nil
}

func (c *console) explain(w http.ResponseWriter, r *http.Request, s *session) error {
	q := strings.TrimSpace(r.FormValue("q"))
	if q == "" {
		c.render(w, r, s, http.StatusOK, "explain", "Explain", nil, "")
		return nil
	}
	rep, err := c.api.Explain(r.Context(), c.tenantOf(r), q)
	if errors.Is(err, explain.ErrNotFound) {
		c.render(w, r, s, http.StatusNotFound, "explain", "Explain", nil,
			fmt.Sprintf("No user or group matches %q. A deleted user or group is found by its id (or \"User|<id>\") while its sync state or audit entries last.", clip.String(q)))
		return nil
	}
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "explain", "Explain "+rep.Name, rep, "")
	return nil
}

func (c *console) dead(w http.ResponseWriter, r *http.Request, s *session) error {
	dl, err := c.api.DeadLetters(r.Context(), c.tenantOf(r), 500)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "dead", "Dead letters", dl, "")
	return nil
}

func (c *console) retry(w http.ResponseWriter, r *http.Request, _ *session) error {
	tenantID, conn, subj := c.tenantOf(r), r.PostFormValue("connector"), r.PostFormValue("subject")
	r = r.WithContext(withActor(r.Context(), "console"))
	var n int
	var err error
	if conn == "" { // every connector of the tenant
		t := c.api.tenants.Get(tenantID)
		for _, cn := range t.Connectors {
			k, rerr := c.api.Replay(r.Context(), tenantID, cn.Name(), "")
			n += k
			err = errors.Join(err, rerr)
		}
	} else {
		n, err = c.api.Replay(r.Context(), tenantID, conn, subj)
	}
	if err != nil {
		return err
	}
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/admin/") || strings.HasPrefix(back, "//") {
		back = "/admin/dead?tenant=" + url.QueryEscape(tenantID)
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"requeued="+strconv.Itoa(n), http.StatusSeeOther)
	return nil
}

// planView is the reconcile page's data.
type planView struct {
	Plan      *reconcile.Plan
	Connector string
	Threshold int
	OverLimit bool
	Confirm   string
}

func (c *console) reconcilePage(w http.ResponseWriter, r *http.Request, s *session) error {
	c.render(w, r, s, http.StatusOK, "reconcile", "Reconcile", planView{Confirm: "apply " + c.tenantOf(r)}, "")
	return nil
}

func (c *console) reconcilePlan(w http.ResponseWriter, r *http.Request, s *session) error {
	tenantID := c.tenantOf(r)
	plan, err := c.api.reconcile(r.Context(), tenantID, r.PostFormValue("connector"), true, false, "console")
	if err != nil && !errors.Is(err, reconcile.ErrTooManyDeletions) {
		return err
	}
	t := c.api.tenants.Get(tenantID)
	v := planView{Plan: plan, Connector: r.PostFormValue("connector"), Threshold: t.DeletionThreshold, Confirm: "apply " + tenantID}
	v.OverLimit = plan != nil && t.DeletionThreshold > 0 && plan.Deletions > t.DeletionThreshold
	c.render(w, r, s, http.StatusOK, "reconcile", "Reconcile: dry run", v, "")
	return nil
}

func (c *console) reconcileApply(w http.ResponseWriter, r *http.Request, s *session) error {
	tenantID := c.tenantOf(r)
	if r.PostFormValue("confirm") != "apply "+tenantID {
		c.render(w, r, s, http.StatusBadRequest, "reconcile", "Reconcile", planView{Confirm: "apply " + tenantID},
			`Type "apply `+tenantID+`" to confirm.`)
		return nil
	}
	force := r.PostFormValue("force") == "on"
	plan, err := c.api.reconcile(r.Context(), tenantID, r.PostFormValue("connector"), false, force, "console")
	t := c.api.tenants.Get(tenantID)
	v := planView{Plan: plan, Threshold: t.DeletionThreshold, Confirm: "apply " + tenantID}
	if errors.Is(err, reconcile.ErrTooManyDeletions) {
		v.OverLimit = true
		c.render(w, r, s, http.StatusConflict, "reconcile", "Reconcile", v, "Refused: more deletions than the threshold. Tick “accept deletions above the threshold” to apply anyway.")
		return nil
	}
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "reconcile", "Reconcile: applied", v, "")
	return nil
}

// auditView is the audit page's data.
type auditView struct {
	Query   store.AuditQuery
	Since   string
	Until   string
	Entries []store.AuditEntry
	Next    string // URL of the next page
}

func (c *console) audit(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.auditPage(w, r, s, "audit", "Audit trail", "")
}

func (c *console) webhooks(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.auditPage(w, r, s, "webhooks", "Webhook receipts", store.AuditWebhook)
}

func (c *console) auditPage(w http.ResponseWriter, r *http.Request, s *session, name, title, kind string) error {
	aq, err := auditQuery(r)
	if err != nil {
		return err
	}
	if kind != "" {
		aq.Kind = kind
	}
	if aq.Limit == 0 {
		aq.Limit = 50
	}
	tenantID := c.tenantOf(r)
	pg, err := c.api.Audit(r.Context(), tenantID, aq)
	if err != nil {
		return err
	}
	v := auditView{Query: aq, Entries: pg.Entries, Since: r.FormValue("since"), Until: r.FormValue("until")}
	if pg.Next != "" {
		q := r.URL.Query()
		q.Set("tenant", tenantID)
		q.Set("before", pg.Next)
		v.Next = "/admin/" + name + "?" + q.Encode()
	}
	c.render(w, r, s, http.StatusOK, name, title, v, "")
	return nil
}
