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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// composeEnv is the environment Compose gives the bridge from .env.example,
// with Redis and the downstream app replaced by local ones.
func composeEnv(t *testing.T, redisURL, odmURL string) map[string]string {
	env := readEnvFile(t, "compose/.env.example")
	env["SCIM_BRIDGE_REDIS"] = redisURL
	env["ODM_SCIM_URL"] = odmURL
	return env
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
		t.Fatalf("SCIM POST with the .env.example token = %d, %v; want 201", code, err)
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
	for _, want := range []string{`scim_bridge_scim_requests_total{method="POST",code="201"} 1`, `scim_bridge_queue_pending{tenant="acme"}`} {
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

// TestComposeFile checks compose.yaml against the files it relies on: every
// ${VAR} of the bridge configuration reaches the container from .env, the
// health checks probe /readyz and Redis persists with AOF on a volume.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command     []string          `json:"command"`
			Restart     string            `json:"restart"`
			Environment map[string]string `json:"environment"`
			Volumes     []string          `json:"volumes"`
			ReadOnly    bool              `json:"read_only"`
			CapDrop     []string          `json:"cap_drop"`
			Healthcheck struct {
				Test []string `json:"test"`
			} `json:"healthcheck"`
		} `json:"services"`
		Volumes map[string]any `json:"volumes"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	bridge, ok := compose.Services["bridge"]
	if !ok {
		t.Fatal("compose.yaml has no bridge service")
	}
	redis := compose.Services["redis"]
	envExample := readEnvFile(t, "compose/.env.example")

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
		v, ok := bridge.Environment[name]
		if !ok {
			t.Errorf("bridge.yaml uses ${%s}; the bridge service's environment does not pass it", name)
			continue
		}
		if !strings.HasPrefix(v, "${"+name+":?") {
			t.Errorf("environment %s = %q, want ${%s:?...} (required, from .env)", name, v, name)
		}
		if _, ok := envExample[name]; !ok {
			t.Errorf(".env.example lacks %s", name)
		}
	}
	if want := []string{"serve", "--config", "/etc/scim-bridge/bridge.yaml"}; !slices.Equal(bridge.Command, want) {
		t.Errorf("bridge command = %q, want %q", bridge.Command, want)
	}
	if !slices.Contains(bridge.Volumes, "./bridge.yaml:/etc/scim-bridge/bridge.yaml:ro") {
		t.Errorf("bridge volumes = %q, want bridge.yaml mounted read-only", bridge.Volumes)
	}
	if want := []string{"CMD", "scim-bridge-probe", "http://127.0.0.1:8080/readyz"}; !slices.Equal(bridge.Healthcheck.Test, want) {
		t.Errorf("bridge healthcheck = %q, want %q", bridge.Healthcheck.Test, want)
	}
	if !bridge.ReadOnly || !slices.Equal(bridge.CapDrop, []string{"ALL"}) {
		t.Error("the bridge container is not read-only with all capabilities dropped")
	}
	for name, s := range map[string]string{"bridge": bridge.Restart, "redis": redis.Restart} {
		if s != "on-failure" {
			t.Errorf("%s restart = %q, want on-failure", name, s)
		}
	}
	if args := strings.Join(redis.Command, " "); !strings.Contains(args, "--appendonly yes") {
		t.Errorf("redis command %q lacks --appendonly yes", args)
	}
	if !slices.Contains(redis.Volumes, "redis-data:/data") || compose.Volumes == nil {
		t.Errorf("redis volumes = %q, want the named volume redis-data on /data", redis.Volumes)
	}
}
