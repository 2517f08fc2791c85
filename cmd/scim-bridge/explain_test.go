package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
)

// TestExplainCommand: explain asks a running server (--url, or the server an
// embedded-store configuration describes), as text and as JSON, with the query
// before or after the flags; an unknown subject exits 1.
func TestExplainCommand(t *testing.T) {
	t.Parallel()
	const adminToken = "admin-SECRET-explain-0123456789"
	getenv := envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": "127.0.0.1:0", "SCIM_BRIDGE_ADMIN_TOKEN": adminToken})
	cfgPath := filepath.Join(t.TempDir(), "embedded.yaml")
	if err := os.WriteFile(cfgPath, []byte("tenants:\n  - id: demo\n    scim_tokens: [\"demo-token-0123456789\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := startCommand(t, serveCmd, getenv, "--config", cfgPath)
	addr := serve.addr(t)
	body, _ := json.Marshal(map[string]any{"schemas": []string{bridge.UserSchema}, "userName": "ada@example.com", "password": "pw-SECRET-123"})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/scim/v2/Users", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-token-0123456789")
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	opEnv := envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": addr, "SCIM_BRIDGE_ADMIN_TOKEN": adminToken})

	var out string
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, stdout, stderr := runCLI(t, opEnv, "explain", "--tenant", "demo", "--url", "http://"+addr, "ada@example.com")
		if code != 0 {
			t.Fatalf("explain: exit %d, %s", code, stderr)
		}
		out = stdout
		if strings.Contains(out, "POST created") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"User ada@example.com (", "groups: none", "stored resource:", `userName: "ada@example.com"`, "last audit entries:", "POST created"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("explain output holds a secret:\n%s", out)
	}
	code, stdout, stderr := runCLI(t, opEnv, "explain", "ada@example.com", "--tenant", "demo", "--config", cfgPath, "--json")
	var rep bridge.ExplainReport
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Kind != "User" || rep.Name != "ada@example.com" || len(rep.Audit) == 0 {
		t.Errorf("explain --json: exit %d, %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, opEnv, "explain", "--tenant", "demo", "--config", cfgPath, "nobody@example.com"); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("explain of nobody: exit %d, %s", code, stderr)
	}
	if code, _, _ := runCLI(t, opEnv, "explain", "--tenant", "demo"); code != 2 {
		t.Errorf("explain without a query: exit %d, want 2", code)
	}
	if code := serve.stop(t); code != 0 {
		t.Errorf("serve returned %d", code)
	}
}
