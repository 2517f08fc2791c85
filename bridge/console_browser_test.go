package bridge

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $CHROMIUM, else chromium on the PATH. Outside CI
// a machine without it skips the browser test; under CI=true it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (.ci/run does)")
	}
	t.Skip("chromium not found; install it (apt-get install chromium) or set CHROMIUM")
	return ""
}

// screenshotDir is where the browser test writes its screenshots: the
// directory in SCIM_BRIDGE_SCREENSHOTS (kept), else a temporary one (removed).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SCIM_BRIDGE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestConsoleInBrowser drives the admin console in a real headless Chromium:
// login, tenants overview, search a user, its explain page showing an error
// injected in the fake downstream, retry of its dead letter until the page
// shows it synced, a reconcile dry run with a drifted fake and its apply, and
// the audit trail filtered to that user. Screenshots of each page go to
// screenshotDir.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	env := newConsoleEnv(t)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s (set SCIM_BRIDGE_SCREENSHOTS=dir to keep them)", shots)

	env.app.set(env.app.failing, "broken@example.com", true)
	brokenID := env.createUser(t, "broken@example.com")
	env.createUser(t, "fine@example.com")
	env.webhooks(t)
	eventually(t, 10*time.Second, func() error {
		st, err := env.b.Store().GetSync(context.Background(), "acme", "app", "User|"+brokenID)
		if err != nil || st.Status != "dead" {
			return fmt.Errorf("broken user: %+v %v", st, err)
		}
		return nil
	})

	// A fresh profile; removed after the browser is gone (Chromium may still
	// write to it for a moment after the allocator is cancelled).
	profile, err := os.MkdirTemp("", "console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	defer cancelAlloc()
	bctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	base := env.srv.URL
	n := 0
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
				return err
			}
			n++
			return os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", n, name)), buf, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		if err := chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery)); err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			// Say what the browser shows, so a failure explains itself.
			var body, loc string
			dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
			_ = chromedp.Run(dctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
			dcancel()
			t.Fatalf("%s: %v\nat %s the page says:\n%s", step, err, loc, body)
		}
	}

	// Login: the console sends an unauthenticated browser to the login page.
	run("open console", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible("#token", chromedp.ByID), shot("login"))
	var loc string
	run("location", chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/admin/login") {
		t.Fatalf("unauthenticated console at %s, want the login page", loc)
	}
	run("log in",
		chromedp.SendKeys("#token", consoleAdminToken, chromedp.ByID),
		chromedp.Submit("#login", chromedp.ByID),
		chromedp.WaitVisible("#tenant-acme", chromedp.ByID),
		shot("overview"))
	if ov := text("#tenant-acme"); !strings.Contains(ov, "app") || !strings.Contains(ov, "1 pending") && !strings.Contains(ov, "pending") {
		t.Fatalf("overview: %q", ov)
	}

	// Search the user: its explain page shows the injected downstream error.
	run("search",
		chromedp.SendKeys("#q", "broken@example.com", chromedp.ByID),
		chromedp.Submit("#search", chromedp.ByID),
		chromedp.WaitVisible("#connectors", chromedp.ByID),
		shot("explain-dead"))
	if c := text("#connectors"); !strings.Contains(c, "dead") || !strings.Contains(c, "email domain not allowed") || !strings.Contains(c, "permanent") {
		t.Fatalf("explain of the broken user: %q", c)
	}

	// Repair the downstream, retry the dead letter from the page: it syncs.
	env.app.set(env.app.failing, "broken@example.com", false)
	run("retry", chromedp.Submit("#retry-app", chromedp.ByID), chromedp.WaitVisible("#flash", chromedp.ByID))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := text("#connectors")
		if strings.Contains(c, "synced") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after retry the explain page still says %q", c)
		}
		time.Sleep(200 * time.Millisecond)
		run("reload", chromedp.Reload(), chromedp.WaitVisible("#connectors", chromedp.ByID))
	}
	run("shot synced", shot("explain-synced"))

	// Reconcile: a drifted downstream shows in the dry run, then is applied.
	env.app.set(env.app.drifted, "fine@example.com", true)
	run("dry run",
		chromedp.Navigate(base+"/admin/reconcile?tenant=acme"),
		chromedp.Submit("#dry-run", chromedp.ByID),
		chromedp.WaitVisible("#plan", chromedp.ByID),
		shot("reconcile-dry-run"))
	if p := text("#plan"); !strings.Contains(p, "role drifted to viewer downstream") {
		t.Fatalf("dry-run plan: %q", p)
	}
	if !env.app.isDrifted("fine@example.com") {
		t.Fatal("the dry run changed the downstream")
	}
	run("apply",
		chromedp.SetValue("#confirm", "apply acme", chromedp.ByID),
		chromedp.Submit("#confirm", chromedp.ByID),
		chromedp.WaitVisible(`//h1[contains(., "applied")]`, chromedp.BySearch),
		shot("reconcile-applied"))
	if s := text("#plan-summary"); !strings.HasPrefix(s, "Applied") {
		t.Fatalf("after apply: %q", s)
	}
	eventually(t, 10*time.Second, func() error {
		if env.app.isDrifted("fine@example.com") {
			return fmt.Errorf("still drifted")
		}
		return nil
	})

	// The audit trail, filtered to the user: creation, failure, retry, success.
	env.b.Audit().Flush(ctx)
	run("audit",
		chromedp.Navigate(base+"/admin/audit?tenant=acme&subject="+url.QueryEscape("User|"+brokenID)),
		chromedp.WaitVisible("table.audit", chromedp.ByQuery),
		shot("audit-user"))
	a := text("table.audit")
	for _, want := range []string{"created", "dead", "synced", "email domain not allowed", "retry dead letter", "console (app)"} {
		if !strings.Contains(a, want) {
			t.Errorf("audit of the user lacks %q: %q", want, a)
		}
	}
	if strings.Contains(a, "fine@example.com") {
		t.Errorf("audit filtered to one user shows another: %q", a)
	}

	// Dead letters and webhook receipts render too.
	run("webhooks", chromedp.Navigate(base+"/admin/webhooks?tenant=acme"), chromedp.WaitVisible("#webhooks", chromedp.ByID), shot("webhooks"))
	if w := text("#webhooks"); !strings.Contains(w, "accepted") || !strings.Contains(w, "rejected") {
		t.Errorf("webhook receipts: %q", w)
	}
	run("dead letters", chromedp.Navigate(base+"/admin/dead?tenant=acme"), chromedp.WaitVisible("#dead", chromedp.ByID), shot("dead-letters"))

	var html string
	run("page source", chromedp.OuterHTML("html", &html, chromedp.ByQuery))
	assertNoSecret(t, "the dead letters page", html)
}
