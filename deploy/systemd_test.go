package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
		"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s lacks %q", unitFile, want)
		}
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
