package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/bridge"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/store"
	"github.com/scim-bridge/scim-bridge/store/redistest"
)

// redisConfig is a bridge on real Redis with one tenant and one bimdata
// connector; every secret comes from the environment.
const redisConfig = `listen: 127.0.0.1:0
redis: "${REDIS_URL}"
workers: 2
tenants:
  - id: acme
    scim_tokens: ["${ACME_SCIM_TOKEN}"]
    connectors:
      - name: bimdata
        type: bimdata
        url: "${BIMDATA_URL}"
        token: "${BIMDATA_TOKEN}"
        invitation_cache: 0s
`

// faultyBIMData wraps the fake BIMData API with per-invitation faults on
// accept: a rejected invitation answers 400 (a permanent error) and a slow one
// is answered after a delay (not at all when the client gives up first).
type faultyBIMData struct {
	fake *bimdatafake.Server
	mu   sync.Mutex
	// reject and slow are keyed by invitation id.
	reject map[int]bool
	slow   map[int]time.Duration
}

func (f *faultyBIMData) setReject(id int, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reject[id] = on
}

func (f *faultyBIMData) setSlow(id int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slow[id] = d
}

var acceptPathRE = regexp.MustCompile(`^/identity-provider/invitation/(\d+)/accept$`)

func (f *faultyBIMData) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if m := acceptPathRE.FindStringSubmatch(req.URL.Path); m != nil && req.Method == http.MethodPost {
		id, _ := strconv.Atoi(m[1])
		f.mu.Lock()
		reject, delay := f.reject[id], f.slow[id]
		f.mu.Unlock()
		if reject {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"detail":"invitation cannot be accepted"}`))
			return
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
	}
	f.fake.Handler().ServeHTTP(w, req)
}

// statusJSON runs `status --json` with args and decodes it.
func statusJSON(t *testing.T, getenv func(string) string, args ...string) []bridge.TenantStatus {
	t.Helper()
	code, stdout, stderr := runCLI(t, getenv, append([]string{"status", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s", code, stderr)
	}
	var st []bridge.TenantStatus
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status --json does not parse: %v\n%s", err, stdout)
	}
	return st
}

// waitStatus polls `status --json` until ok accepts it (max timeout).
func waitStatus(t *testing.T, timeout time.Duration, ok func([]bridge.TenantStatus) bool, getenv func(string) string, args ...string) []bridge.TenantStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := statusJSON(t, getenv, args...)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			out, _ := json.Marshal(st)
			t.Fatalf("status did not reach the expected state within %s: %s", timeout, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func counts(st []bridge.TenantStatus, tenant, connector string) map[string]int {
	for _, ts := range st {
		if ts.Tenant != tenant {
			continue
		}
		for _, c := range ts.Connectors {
			if c.Name == connector {
				return c.Counts
			}
		}
	}
	return nil
}

var planHeadRE = regexp.MustCompile(`(?m)^tenant acme \((dry run, nothing changed|applied)\): (\d+) subjects checked, (\d+) changes, (\d+) deletions$`)

// reconcileOut runs reconcile and parses the head line of the plan.
func reconcileOut(t *testing.T, getenv func(string) string, wantCode int, args ...string) (stdout string, mode string, changes string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, getenv, append([]string{"reconcile"}, args...)...)
	if code != wantCode {
		t.Fatalf("reconcile %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, stdout, stderr)
	}
	m := planHeadRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("reconcile %v printed no plan:\n%s", args, stdout)
	}
	return stdout, m[1], m[3]
}

func TestOperatorCommandsOnRedis(t *testing.T) {
	t.Parallel()
	const (
		scimToken    = "acme-SCIM-SECRET-0123456789"
		bimdataToken = "bimdata-SECRET-0123456789"
		email        = "ada@example.com"
	)
	redisURL := redistest.Start(t)
	downstream := &faultyBIMData{fake: bimdatafake.New(bimdatafake.Options{Token: bimdataToken}),
		reject: map[int]bool{}, slow: map[int]time.Duration{}}
	fake := downstream.fake
	srv := httptest.NewServer(downstream)
	t.Cleanup(srv.Close)

	cfgPath := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(redisConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := envFunc(map[string]string{
		"REDIS_URL":       redisURL,
		"ACME_SCIM_TOKEN": scimToken,
		"BIMDATA_URL":     srv.URL,
		"BIMDATA_TOKEN":   bimdataToken,
	})
	cfg := []string{"--config", cfgPath}

	serve := startCommand(t, serveCmd, getenv, cfg...)
	base := "http://" + serve.addr(t)
	if strings.Contains(serve.stderr.String(), "state is lost") {
		t.Errorf("serve on Redis warns about the embedded store:\n%s", serve.stderr.String())
	}
	hc := newHTTPClient()
	code, user := scimCall(t, hc, "POST", base+"/scim/v2/Users", scimToken, userBody(email))
	if code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %v", code, user)
	}
	userID, _ := user["id"].(string)

	// Provisioning reaches the downstream, and status (reading Redis directly) says so.
	st := waitStatus(t, 10*time.Second, func(st []bridge.TenantStatus) bool {
		return counts(st, "acme", "bimdata")[store.SyncSynced] == 1
	}, getenv, cfg...)
	if u, ok := fake.User(email); !ok || u.Firstname == nil || *u.Firstname != "Ada" {
		t.Fatalf("BIMData user after provisioning: %+v (found %v)", u, ok)
	}
	if len(st) != 1 || st[0].Tenant != "acme" || st[0].Pending != 0 {
		t.Errorf("status: %+v, want tenant acme with nothing pending", st)
	}

	t.Run("status text", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, getenv, append([]string{"status"}, cfg...)...)
		if code != 0 {
			t.Fatalf("status: exit %d\n%s", code, stderr)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^tenant acme: 0 pending, 0 in progress$`),
			regexp.MustCompile(`(?m)^\s+CONNECTOR\s+SYNCED\s+PENDING\s+RETRYING\s+DEAD$`),
			regexp.MustCompile(`(?m)^\s+bimdata\s+1\s+0\s+0\s+0$`),
			regexp.MustCompile(`(?m)^\s+CONNECTOR\s+HELD UNTIL\s+CONCURRENCY\s+PACE/S\s+429S$`),
			regexp.MustCompile(`(?m)^\s+bimdata\s+-\s+\d+/\d+\s+\S+.*\s+0$`),
		} {
			if !want.MatchString(stdout) {
				t.Errorf("status output lacks %s:\n%s", want, stdout)
			}
		}
		for _, secret := range []string{scimToken, bimdataToken} {
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("status output leaks a secret:\n%s%s", stdout, stderr)
			}
		}
	})

	t.Run("status errors", func(t *testing.T) {
		code, _, stderr := runCLI(t, getenv, append([]string{"status", "--tenant", "nope"}, cfg...)...)
		if code != 1 || !strings.Contains(stderr, `unknown tenant "nope"`) {
			t.Errorf("status --tenant nope: exit %d, stderr %q; want 1 naming the tenant", code, stderr)
		}
	})

	t.Run("retry without dead letters", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, getenv, append([]string{"retry", "--tenant", "acme", "--connector", "bimdata"}, cfg...)...)
		if code != 0 || stdout != "re-queued 0 subject(s) of acme/bimdata\n" {
			t.Errorf("retry: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		code, _, stderr = runCLI(t, getenv, append([]string{"retry", "--tenant", "acme", "--connector", "nope"}, cfg...)...)
		if code != 1 || !strings.Contains(stderr, `connector "nope"`) {
			t.Errorf("retry of an unknown connector: exit %d, stderr %q; want 1", code, stderr)
		}
	})

	t.Run("reconcile without drift", func(t *testing.T) {
		_, mode, changes := reconcileOut(t, getenv, 0, append([]string{"--dry-run"}, cfg...)...)
		if mode != "dry run, nothing changed" || changes != "0" {
			t.Errorf("dry run: mode %q, %s changes; want a dry run with 0 changes", mode, changes)
		}
		_, mode, changes = reconcileOut(t, getenv, 0, cfg...)
		if mode != "applied" || changes != "0" {
			t.Errorf("real run: mode %q, %s changes; want applied with 0 changes", mode, changes)
		}
	})

	t.Run("runs from the command line are audited as cli", func(t *testing.T) {
		// The command's recorder buffers its entries: they must be written
		// before the command exits.
		st, err := store.Open(context.Background(), store.Options{URL: redisURL, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		es, _, err := st.ListAudit(context.Background(), "acme", store.AuditQuery{Kind: store.AuditReconcile, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		cli := 0
		for _, e := range es {
			if e.Trigger == "cli" {
				cli++
			}
		}
		if cli == 0 {
			t.Errorf("no reconcile audit entry triggered by cli among %d: %+v", len(es), es)
		}
	})

	t.Run("reconcile repairs drift", func(t *testing.T) {
		// Drift the adapter detects: a pending invitation for the active user's email,
		// made in BIMData behind the bridge's back.
		inv := fake.AddInvitation(bimdatafake.Invitation{Email: email})
		writes := fake.Writes()
		stdout, mode, changes := reconcileOut(t, getenv, 0, append([]string{"--dry-run", "--tenant", "acme"}, cfg...)...)
		if mode != "dry run, nothing changed" || changes == "0" {
			t.Errorf("dry run over drift: mode %q, %s changes; want a dry run listing changes", mode, changes)
		}
		acceptRE := regexp.MustCompile(`(?m)^\s+bimdata\s+accept\s+invitation \d+ \(` + regexp.QuoteMeta(email) + `\)`)
		if !acceptRE.MatchString(stdout) {
			t.Errorf("dry run does not list the accept:\n%s", stdout)
		}
		if got, _ := fake.Invitation(inv.ID); got.Status != bimdatafake.StatusPending || fake.Writes() != writes {
			t.Errorf("dry run changed BIMData: invitation %+v, %d writes", got, fake.Writes()-writes)
		}

		// The JSON plan says the same.
		code, out, stderr := runCLI(t, getenv, append([]string{"reconcile", "--dry-run", "--json"}, cfg...)...)
		var plans []bridge.Plan
		if code != 0 || json.Unmarshal([]byte(out), &plans) != nil || len(plans) != 1 || !plans[0].DryRun {
			t.Fatalf("reconcile --dry-run --json: exit %d, %q\n%s", code, out, stderr)
		}
		for _, it := range plans[0].Items {
			if it.Connector != "bimdata" || it.Op != "accept" {
				t.Errorf("plan item %+v, want only bimdata accepts", it)
			}
		}
		if len(plans[0].Items) == 0 || plans[0].Deletions != 0 {
			t.Errorf("JSON plan %+v, want accepts and no deletions", plans[0])
		}

		_, mode, _ = reconcileOut(t, getenv, 0, cfg...)
		if mode != "applied" {
			t.Errorf("real run: mode %q", mode)
		}
		if got, _ := fake.Invitation(inv.ID); got.Status != bimdatafake.StatusAccepted {
			t.Errorf("after reconcile the invitation is %+v, want accepted", got)
		}
		_, _, changes = reconcileOut(t, getenv, 0, append([]string{"--dry-run"}, cfg...)...)
		if changes != "0" {
			t.Errorf("dry run after the repair lists %s changes, want 0", changes)
		}
	})

	t.Run("unrepaired drift, then retry", func(t *testing.T) {
		inv := fake.AddInvitation(bimdatafake.Invitation{Email: email})
		downstream.setReject(inv.ID, true)
		code, stdout, stderr := runCLI(t, getenv, append([]string{"reconcile"}, cfg...)...)
		if code != 1 {
			t.Fatalf("reconcile with a permanently failing repair: exit %d, want 1\n%s\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "not repaired") {
			t.Errorf("reconcile output does not say what was not repaired:\n%s", stdout)
		}
		if strings.Contains(stdout+stderr, bimdataToken) {
			t.Errorf("reconcile output leaks the BIMData token")
		}
		st := waitStatus(t, 10*time.Second, func(st []bridge.TenantStatus) bool {
			return counts(st, "acme", "bimdata")[store.SyncDead] > 0
		}, getenv, cfg...)
		dead := counts(st, "acme", "bimdata")[store.SyncDead]
		code, stdout, _ = runCLI(t, getenv, append([]string{"status"}, cfg...)...)
		if code != 0 || !regexp.MustCompile(`(?m)^\s+bimdata dead \S+: .*400`).MatchString(stdout) {
			t.Errorf("status (exit %d) does not show the dead letter's error:\n%s", code, stdout)
		}

		downstream.setReject(inv.ID, false)
		code, stdout, stderr = runCLI(t, getenv, append([]string{"retry", "--tenant", "acme", "--connector", "bimdata"}, cfg...)...)
		if want := "re-queued " + strconv.Itoa(dead) + " subject(s) of acme/bimdata\n"; code != 0 || stdout != want {
			t.Errorf("retry: exit %d, stdout %q (stderr %q), want %q", code, stdout, stderr, want)
		}
		// The running server's workers converge the re-queued subjects.
		waitStatus(t, 10*time.Second, func(st []bridge.TenantStatus) bool {
			c := counts(st, "acme", "bimdata")
			return c[store.SyncDead] == 0 && c[store.SyncRetrying] == 0 && c[store.SyncPending] == 0
		}, getenv, cfg...)
		if got, _ := fake.Invitation(inv.ID); got.Status != bimdatafake.StatusAccepted {
			t.Errorf("after retry the invitation is %+v, want accepted", got)
		}
	})

	// A second user, provisioned while the server runs.
	const email2 = "grace@example.com"
	if code, body := scimCall(t, hc, "POST", base+"/scim/v2/Users", scimToken, userBody(email2)); code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %v", code, body)
	}
	waitStatus(t, 10*time.Second, func(st []bridge.TenantStatus) bool {
		c := counts(st, "acme", "bimdata")
		return st[0].Pending == 0 && st[0].Leased == 0 && c[store.SyncPending]+c[store.SyncRetrying]+c[store.SyncDead] == 0
	}, getenv, cfg...)
	if _, ok := fake.User(email2); !ok {
		t.Fatalf("no BIMData user for %s", email2)
	}
	if code := serve.stop(t); code != 0 {
		t.Errorf("serve returned %d, want 0", code)
	}

	t.Run("one repair fails while another is in flight", func(t *testing.T) {
		// With the server stopped, only reconcile's own workers repair. One repair
		// fails at once, the other takes a while: reconcile must let the second
		// finish rather than abandon it half-done (its lease held by a stopped worker).
		bad := fake.AddInvitation(bimdatafake.Invitation{Email: email})
		slow := fake.AddInvitation(bimdatafake.Invitation{Email: email2})
		downstream.setReject(bad.ID, true)
		downstream.setSlow(slow.ID, time.Second)
		code, stdout, stderr := runCLI(t, getenv, append([]string{"reconcile"}, cfg...)...)
		if code != 1 || !strings.Contains(stdout, "not repaired") {
			t.Errorf("reconcile: exit %d, want 1 naming what was not repaired\n%s\n%s", code, stdout, stderr)
		}
		if got, _ := fake.Invitation(slow.ID); got.Status != bimdatafake.StatusAccepted {
			t.Errorf("when reconcile returned, the slow repair was not done: invitation %+v", got)
		}
		if got, _ := fake.Invitation(bad.ID); got.Status != bimdatafake.StatusPending {
			t.Errorf("rejected invitation %+v, want still pending", got)
		}
		st := statusJSON(t, getenv, cfg...)
		c := counts(st, "acme", "bimdata")
		if st[0].Pending != 0 || st[0].Leased != 0 || c[store.SyncDead] == 0 || c[store.SyncPending]+c[store.SyncRetrying] != 0 {
			t.Errorf("status after reconcile: %+v, want nothing in progress, the failure dead", st)
		}
	})
	if userID == "" {
		t.Errorf("created user has no id")
	}
}

func TestOperatorCommandsNeedTheServerOfAnEmbeddedStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	embedded := filepath.Join(dir, "embedded.yaml")
	if err := os.WriteFile(embedded, []byte("tenants:\n  - id: demo\n    scim_tokens: [\"demo-token-0123456789\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const explanation = "the embedded store lives inside the running server: set admin_token (or SCIM_BRIDGE_ADMIN_TOKEN)"
	tests := []struct {
		name   string
		getenv func(string) string
		args   []string
		code   int
		want   string
	}{
		{name: "status with an embedded config", getenv: envFunc(), args: []string{"status", "--config", embedded}, code: 1, want: "scim-bridge status: " + explanation},
		{name: "status without any config", getenv: envFunc(), args: []string{"status"}, code: 1, want: "scim-bridge status: " + explanation},
		{name: "status with the config from the environment", getenv: envFunc(map[string]string{"SCIM_BRIDGE_CONFIG": embedded}), args: []string{"status"}, code: 1, want: explanation},
		{name: "retry with an embedded config", getenv: envFunc(), args: []string{"retry", "--config", embedded, "--tenant", "demo", "--connector", "x"}, code: 1, want: "scim-bridge retry: " + explanation},
		{name: "reconcile with an embedded config", getenv: envFunc(), args: []string{"reconcile", "--config", embedded, "--dry-run"}, code: 1, want: "scim-bridge reconcile: " + explanation},
		{name: "status --url without admin token", getenv: envFunc(), args: []string{"status", "--url", "http://127.0.0.1:1"}, code: 1, want: "--url needs the admin token in SCIM_BRIDGE_ADMIN_TOKEN"},
		{name: "status with an invalid config", getenv: envFunc(), args: []string{"status", "--config", filepath.Join("..", "..", "testdata", "config", "invalid", "syntax.yaml")}, code: 1, want: "invalid configuration:\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tc.getenv, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestOperatorCommandsAskTheServerOfAnEmbeddedStore(t *testing.T) {
	t.Parallel()
	// An embedded-store configuration with an admin token: status asks the server
	// the configuration describes (at its listen address).
	const adminToken = "admin-SECRET-0123456789abcdef"
	getenv := envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": "127.0.0.1:0", "SCIM_BRIDGE_ADMIN_TOKEN": adminToken})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "embedded.yaml")
	if err := os.WriteFile(cfgPath, []byte("tenants:\n  - id: demo\n    scim_tokens: [\"demo-token-0123456789\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := startCommand(t, serveCmd, getenv, "--config", cfgPath)
	addr := serve.addr(t)
	// The operator's shell names the address the server listens on.
	opEnv := envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": addr, "SCIM_BRIDGE_ADMIN_TOKEN": adminToken})
	st := statusJSON(t, opEnv, "--config", cfgPath)
	if len(st) != 1 || st[0].Tenant != "demo" {
		t.Errorf("status through the admin endpoint: %+v", st)
	}
	wrong := envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": addr, "SCIM_BRIDGE_ADMIN_TOKEN": adminToken + "x"})
	code, _, stderr := runCLI(t, wrong, "status", "--config", cfgPath)
	if code != 1 || !strings.Contains(stderr, "server answered 401") || strings.Contains(stderr, adminToken) {
		t.Errorf("status with a wrong admin token: exit %d, stderr %q; want 1, a 401, no token", code, stderr)
	}
	if code := serve.stop(t); code != 0 {
		t.Errorf("serve returned %d", code)
	}
}

// TestServeWritesTheAuditBeforeStopping: the audit entries of the requests
// answered before a stop are all in Redis once serve returns (the bridge is
// closed, draining its audit writer, before the store).
func TestServeWritesTheAuditBeforeStopping(t *testing.T) {
	t.Parallel()
	redisURL := redistest.Start(t)
	const scimToken = "acme-scim-token-0123456789"
	cfgPath := filepath.Join(t.TempDir(), "bridge.yaml")
	cfg := "listen: 127.0.0.1:0\nredis: \"${REDIS_URL}\"\ntenants:\n  - id: acme\n    scim_tokens: [\"${ACME_SCIM_TOKEN}\"]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := envFunc(map[string]string{"REDIS_URL": redisURL, "ACME_SCIM_TOKEN": scimToken})
	serve := startCommand(t, serveCmd, getenv, "--config", cfgPath)
	base := "http://" + serve.addr(t)
	hc := newHTTPClient()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if code, body := scimCall(t, hc, "POST", base+"/scim/v2/Users", scimToken, userBody("u"+strconv.Itoa(i)+"@example.com")); code != http.StatusCreated {
				t.Errorf("POST /Users: %d %v", code, body)
			}
		})
	}
	wg.Wait()
	if code := serve.stop(t); code != 0 {
		t.Fatalf("serve returned %d", code)
	}
	st, err := store.Open(context.Background(), store.Options{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, _, err := st.ListAudit(context.Background(), "acme", store.AuditQuery{Kind: "scim", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != n {
		t.Fatalf("%d audit entries after the stop, want %d", len(es), n)
	}
}
