package deploy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// fakeSCIMApp is a downstream app that speaks SCIM 2.0 (the Compose file's
// "odm" connector): lookups find nothing, creates succeed. hold delays every
// answer, to keep convergences in flight.
type fakeSCIMApp struct {
	hold    time.Duration
	mu      sync.Mutex
	created map[string]bool // userName → created
	calls   atomic.Int64
}

func newFakeSCIMApp(t *testing.T, hold time.Duration) (*fakeSCIMApp, *httptest.Server) {
	f := &fakeSCIMApp{hold: hold, created: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeSCIMApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.hold > 0 {
		select {
		case <-time.After(f.hold):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/scim+json")
	switch r.Method {
	case http.MethodGet:
		_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`)
	case http.MethodPost:
		var u map[string]any
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		name, _ := u["userName"].(string)
		f.mu.Lock()
		f.created[name] = true
		f.mu.Unlock()
		u["id"] = "odm-" + name
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(u)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeSCIMApp) createdCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.created)
}

// composeEnv is the environment Compose gives the bridge from a .env made as
// .env.example says (its empty secrets filled with `scim-bridge token new`),
// with Redis and the downstream app replaced by local ones.
func composeEnv(t *testing.T, redisURL, odmURL string) map[string]string {
	env := filledEnv(t, "compose/.env.example")
	env["SCIM_BRIDGE_REDIS"] = redisURL
	env["ODM_SCIM_URL"] = odmURL
	return env
}

// filledEnv reads an env example and fills each empty value with a fresh token
// from the built binary's `scim-bridge token new`, as its comment says to.
func filledEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	env := readEnvFile(t, path)
	for k, v := range env {
		if v == "" {
			env[k] = newToken(t)
		}
	}
	return env
}

// newToken returns the token `scim-bridge token new` prints.
func newToken(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(buildAll(t), "scim-bridge"), "token", "new").Output()
	if err != nil {
		t.Fatalf("scim-bridge token new: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if tok, ok := strings.CutPrefix(line, "token:"); ok && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok)
		}
	}
	t.Fatalf("scim-bridge token new printed no token line:\n%s", out)
	return ""
}

// secretName names the variables of the env examples that hold credentials.
var secretName = regexp.MustCompile(`(TOKEN|SECRET|KEY|PASSWORD)$`)

// checkEmptySecrets fails unless every credential of an env example is empty:
// a placeholder long enough to pass the bridge's checks would work as a real,
// published credential.
func checkEmptySecrets(t *testing.T, path string) {
	t.Helper()
	n := 0
	for k, v := range readEnvFile(t, path) {
		if secretName.MatchString(k) {
			n++
			if v != "" {
				t.Errorf("%s sets %s to a placeholder; leave it empty so that nothing starts until a real one is set", path, k)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s lists no secret at all", path)
	}
}

// TestComposeConfigServes runs the binary built as the image builds it with
// the Compose file's configuration: health, readiness, the image's health
// probe, a SCIM write converged into the downstream app, metrics, and a clean
// exit on SIGTERM.
func TestComposeConfigServes(t *testing.T) {
	bin := buildAll(t)
	redisURL, stopRedis := startRedis(t)
	app, appSrv := newFakeSCIMApp(t, 0)
	env := composeEnv(t, redisURL, appSrv.URL)
	b := startBridge(t, "compose/bridge.yaml", envList(env))

	if code, body := get(b.base + "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d %q, want 200", code, body)
	}
	probe := func(url string) error {
		return exec.Command(filepath.Join(bin, "scim-bridge-probe"), url).Run()
	}
	if err := probe(b.base + "/readyz"); err != nil {
		t.Errorf("scim-bridge-probe /readyz: %v, want exit 0", err)
	}
	if err := probe(b.base + "/no-such-page"); err == nil {
		t.Error("scim-bridge-probe exits 0 on a 404")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code, err := scimPost(ctx, b.base, env["ACME_SCIM_TOKEN"], "ada@example.com"); err != nil || code != http.StatusCreated {
		t.Fatalf("SCIM POST with the .env token = %d, %v; want 201", code, err)
	}
	for app.createdCount() == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the user never reached the downstream app (%d calls)", app.calls.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := post(b.base+"/webhooks/acme/odm", `{"id":"evt-1","type":"user.updated","data":{}}`); code == 0 {
		t.Fatal("webhook POST got no answer")
	}
	code, metrics := get(b.base + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{`scim_bridge_scim_requests_total{code="201",method="POST"} 1`, `scim_bridge_queue_pending{tenant="acme"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	checkScrape(t, metrics)

	stopRedis()
	if code, _ := get(b.base + "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis stopped = %d, want 503", code)
	}
	if err := probe(b.base + "/readyz"); err == nil {
		t.Error("scim-bridge-probe exits 0 while /readyz fails")
	}
	if code, _ := get(b.base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis stopped = %d, want 200 (liveness must not depend on Redis)", code)
	}
	if code, m := get(b.base + "/metrics"); code != http.StatusOK || !strings.Contains(m, "\nscim_bridge_redis_up 0\n") {
		t.Errorf("/metrics with Redis stopped = %d, want 200 with scim_bridge_redis_up 0:\n%s", code, m)
	}
	took, err := b.stop(t, 30*time.Second)
	if err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
}

// TestVersionStamped checks the version build.sh stamps with -ldflags
// -X main.version is what `scim-bridge version` prints.
func TestVersionStamped(t *testing.T) {
	out, err := exec.Command(filepath.Join(buildAll(t), "scim-bridge"), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("scim-bridge version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), testVersion) {
		t.Errorf("scim-bridge version printed %q, want it to contain %s (stamped into main.version)", out, testVersion)
	}
}

// loadCompose loads compose.yaml the way `docker compose` does (compose-go,
// the specification's reference loader: schema, interpolation, defaults)
// with the given env files.
func loadCompose(t *testing.T, envFiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose/compose.yaml"},
		cli.WithEnvFiles(envFiles...), cli.WithDotEnv, cli.WithName("scim-bridge"))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestComposeFile checks compose.yaml against the files it relies on: it
// refuses .env.example as it is (its secrets are empty), loads with them
// filled in, every ${VAR} of the bridge configuration reaches the container
// from .env (and loading without them fails), the health checks probe /readyz
// and PONG, both services come back after a reboot, and Redis persists with
// AOF on a volume.
func TestComposeFile(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, empty); err == nil || !strings.Contains(err.Error(), "set it in .env") {
		t.Errorf("compose.yaml loads without the secrets of .env: %v", err)
	}
	checkEmptySecrets(t, "compose/.env.example")
	if _, err := loadCompose(t, "compose/.env.example"); err == nil || !strings.Contains(err.Error(), "set it in .env") {
		t.Errorf("compose.yaml loads with .env.example as it is (%v); its empty secrets must stop it", err)
	}
	envExample := filledEnv(t, "compose/.env.example")
	project, err := loadCompose(t, writeEnvFile(t, envExample))
	if err != nil {
		t.Fatalf("compose.yaml with .env.example filled in: %v", err)
	}
	bridge, err := project.GetService("bridge")
	if err != nil {
		t.Fatal(err)
	}
	redis, err := project.GetService("redis")
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := os.ReadFile("compose/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfgTree map[string]any
	if err := yaml.Unmarshal(cfg, &cfgTree); err != nil {
		t.Fatalf("compose/bridge.yaml: %v", err)
	}
	refs := envVarsIn(cfgTree)
	if len(refs) == 0 {
		t.Fatal("compose/bridge.yaml references no ${VAR}: where do its secrets come from?")
	}
	for _, name := range refs {
		got := ""
		if v := bridge.Environment[name]; v != nil {
			got = *v
		}
		if got == "" || got != envExample[name] {
			t.Errorf("bridge.yaml uses ${%s}; the container gets %q, want the value of .env", name, got)
		}
	}
	if want := []string{"serve", "--config", "/etc/scim-bridge/bridge.yaml"}; !slices.Equal(bridge.Command, want) {
		t.Errorf("bridge command = %q, want %q", bridge.Command, want)
	}
	mounted := false
	for _, v := range bridge.Volumes {
		mounted = mounted || (v.Type == types.VolumeTypeBind && filepath.Base(v.Source) == "bridge.yaml" &&
			v.Target == "/etc/scim-bridge/bridge.yaml" && v.ReadOnly)
	}
	if !mounted {
		t.Errorf("bridge volumes = %+v, want bridge.yaml mounted read-only", bridge.Volumes)
	}
	if hc := bridge.HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", "scim-bridge-probe", "http://127.0.0.1:8080/readyz"}) {
		t.Errorf("bridge healthcheck = %+v, want scim-bridge-probe on /readyz", hc)
	}
	if !bridge.ReadOnly || !slices.Equal(bridge.CapDrop, []string{"ALL"}) || bridge.User != "65532:65532" {
		t.Error("the bridge container is not read-only, non-root with all capabilities dropped")
	}
	if g := bridge.StopGracePeriod; g == nil || time.Duration(*g) < 25*time.Second {
		t.Errorf("stop_grace_period = %v, want at least 25 s", g)
	}
	if dep, ok := bridge.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("bridge depends_on = %+v, want redis healthy first", bridge.DependsOn)
	}
	// Both exit 0 on SIGTERM: on-failure would leave them down after a reboot.
	for _, s := range []types.ServiceConfig{bridge, redis} {
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s restart = %q, want unless-stopped", s.Name, s.Restart)
		}
	}
	if hc := redis.HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD-SHELL", redisReadyCommand}) {
		t.Errorf("redis healthcheck = %+v, want CMD-SHELL %q (redis-cli exits 0 on LOADING)", hc, redisReadyCommand)
	}
	if args := strings.Join(redis.Command, " "); !strings.Contains(args, "--appendonly yes") {
		t.Errorf("redis command %q lacks --appendonly yes", args)
	}
	persisted := false
	for _, v := range redis.Volumes {
		persisted = persisted || (v.Type == types.VolumeTypeVolume && v.Source == "redis-data" && v.Target == "/data")
	}
	if _, ok := project.Volumes["redis-data"]; !persisted || !ok {
		t.Errorf("redis volumes = %+v, want the named volume redis-data on /data", redis.Volumes)
	}
}
