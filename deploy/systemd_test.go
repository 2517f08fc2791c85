package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const unitFile = "systemd/scim-bridge.service"

// TestSystemdUnit checks the unit with systemd-analyze: it verifies (with
// ExecStart pointed at the binary built here, the one path systemd-analyze
// needs to exist) and its offline security exposure stays at or below 1.5
// ("OK"). It also pins the directives operators rely on.
func TestSystemdUnit(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"ExecStart=/usr/local/bin/scim-bridge serve --config /etc/scim-bridge/bridge.yaml",
		"EnvironmentFile=/etc/scim-bridge/scim-bridge.env",
		"Restart=on-failure", "KillSignal=SIGTERM", "TimeoutStopSec=30s",
		// serve exits 1 about 5 s after it starts while Redis is down: a start
		// limit (10 starts in 300 s with RestartSec=2s ran out after about 80
		// s) leaves the unit failed for good after a Redis outage. No limit,
		// one start per 5 s.
		"StartLimitIntervalSec=0\n", "RestartSec=5s\n",
		"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s lacks %q", unitFile, want)
		}
	}

	if strings.Contains(unit, "StartLimitBurst=") {
		t.Errorf("%s sets StartLimitBurst: with StartLimitIntervalSec=0 there is no start limit to tune", unitFile)
	}

	bin := filepath.Join(buildAll(t), "scim-bridge")
	dir := t.TempDir()
	local := filepath.Join(dir, "scim-bridge.service")
	if err := os.WriteFile(local, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/scim-bridge ", "ExecStart="+bin+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", "--man=no", local).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// --threshold is the exposure score times ten.
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=15", local).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 1.5 (%v):\n%s", err, out)
	}
	if i := strings.Index(string(out), "Overall exposure level"); i >= 0 {
		t.Logf("%s", strings.TrimSpace(string(out[i:])))
	}
}

// exampleConfig is the configuration the README's systemd steps install.
const exampleConfig = "../testdata/config/bridge.example.yaml"

// TestSystemdEnvironment checks the environment file the README's systemd
// steps install next to the example configuration: it names every ${VAR}
// of that configuration, its secrets are empty, and so the bridge refuses to
// start with it as it is (naming what is missing) and serves once each is
// filled in with a token from `scim-bridge token new`.
func TestSystemdEnvironment(t *testing.T) {
	const envExample = "systemd/scim-bridge.env.example"
	checkEmptySecrets(t, envExample)
	env := readEnvFile(t, envExample)
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	refs := envVarsIn(cfg)
	for _, name := range refs {
		if _, ok := env[name]; !ok {
			t.Errorf("%s uses ${%s}; %s does not list it", exampleConfig, name, envExample)
		}
	}
	if _, ok := env["SCIM_BRIDGE_REDIS"]; !ok {
		t.Errorf("%s does not set SCIM_BRIDGE_REDIS: the example configuration would run on the embedded store", envExample)
	}

	// As installed: the bridge must not start.
	cmd := exec.Command(filepath.Join(buildAll(t), "scim-bridge"), "serve", "--config", exampleConfig)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, envList(env)...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the bridge started with %s as it is:\n%s", envExample, out)
	}
	for _, name := range refs {
		if !strings.Contains(string(out), name) {
			t.Errorf("the refusal does not name the empty %s:\n%s", name, out)
		}
	}

	// Filled in: it serves (Redis and the listener moved to the test's own).
	redisURL, _ := startRedis(t)
	filled := filledEnv(t, envExample)
	filled["SCIM_BRIDGE_REDIS"] = redisURL
	p := startBridge(t, exampleConfig, envList(filled))
	if code, body := get(p.base + "/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q with the environment filled in", code, body)
	}
	if _, err := p.stop(t, terminationGrace); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
