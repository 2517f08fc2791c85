package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestChartConfigServes runs the bridge with the configuration the chart
// renders into its ConfigMap, the Secret's variables set, Redis pointed at a
// local server and every downstream URL at a local stand-in: the bridge
// accepts it, becomes ready and serves SCIM with the tenants' tokens.
func TestChartConfigServes(t *testing.T) {
	redisURL, _ := startRedis(t)
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer downstream.Close()

	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderChart(t, c.values...)
			d := objects[appsv1.Deployment](t, r, "Deployment")[0]
			text := checkConfigMap(t, c, r, d)
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatal(err)
			}
			// Only 127.0.0.1 is contacted: the downstream URLs point at the stand-in.
			tenants, _ := cfg["tenants"].([]any)
			for _, tn := range tenants {
				for _, cn := range tn.(map[string]any)["connectors"].([]any) {
					cn.(map[string]any)["url"] = downstream.URL
				}
			}
			local, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "bridge.yaml")
			if err := os.WriteFile(path, local, 0o600); err != nil {
				t.Fatal(err)
			}
			// The Secret: every referenced variable, plus what envFrom gives
			// the default configuration.
			env := []string{"SCIM_BRIDGE_REDIS=" + redisURL, "SCIM_BRIDGE_ADMIN_TOKEN=admin-" + strings.Repeat("a", 26)}
			secret := map[string]string{"SCIM_BRIDGE_TOKEN": "default-" + strings.Repeat("d", 24)}
			for _, v := range envVarsIn(cfg) {
				secret[v] = strings.ToLower(v) + "-" + strings.Repeat("x", 20)
			}
			env = append(env, envList(secret)...)
			b := startBridge(t, path, env)
			if code, body := get(b.base + "/readyz"); code != http.StatusOK {
				t.Fatalf("/readyz = %d %q", code, body)
			}
			token := secret["SCIM_BRIDGE_TOKEN"]
			if c.tenants > 0 {
				token = secret["ACME_SCIM_TOKEN"]
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// One Redis serves every case: each creates a user of its own.
			if code, err := scimPost(ctx, b.base, token, "grace-"+c.name+"@example.com"); err != nil || code != http.StatusCreated {
				t.Errorf("SCIM POST with the tenant's token from the Secret = %d, %v; want 201", code, err)
			}
			if _, err := b.stop(t, terminationGrace); err != nil {
				t.Errorf("exit after SIGTERM: %v", err)
			}
		})
	}
}

// TestChartConfigWithoutToken runs the bridge with the chart's default
// configuration (no tenants), a Redis, and a Secret without SCIM_BRIDGE_TOKEN
// (the pod spec refuses to start such a pod; this is the bridge's own guard):
// it exits at once naming the variable, instead of serving with a token of its
// own that the other replicas would refuse.
func TestChartConfigWithoutToken(t *testing.T) {
	redisURL, _ := startRedis(t)
	r := renderChart(t)
	text := checkConfigMap(t, chartCases[0], r, objects[appsv1.Deployment](t, r, "Deployment")[0])
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(buildAll(t), "scim-bridge"), "serve", "--config", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SCIM_BRIDGE_REDIS=" + redisURL,
		"SCIM_BRIDGE_LISTEN=127.0.0.1:0", "SCIM_BRIDGE_ADMIN_TOKEN=admin-" + strings.Repeat("a", 26)}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the bridge serves without SCIM_BRIDGE_TOKEN on a shared Redis:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "SCIM_BRIDGE_TOKEN is not set") {
		t.Errorf("exit %v, output:\n%s\nwant a failure naming SCIM_BRIDGE_TOKEN", err, out)
	}
}
