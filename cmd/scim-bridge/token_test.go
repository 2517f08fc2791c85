package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
)

var tokenNewRE = regexp.MustCompile(`^token:  (sbt_\S+)\ndigest: (sha256:[0-9a-f]{64})\n$`)

// TestTokenNewDigestWorkflow runs the documented workflow end to end: token
// new prints a token and its digest line; a configuration holding only the
// digests (SCIM and admin) is served; the IdP's token works, the log names
// the credential and never holds the token; status lists the credentials.
func TestTokenNewDigestWorkflow(t *testing.T) {
	t.Parallel()
	newToken := func() (string, string) {
		code, stdout, stderr := runCLI(t, nil, "token", "new")
		m := tokenNewRE.FindStringSubmatch(stdout)
		if code != 0 || m == nil {
			t.Fatalf("token new: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if auth.Digest(m[1]) != m[2] {
			t.Fatalf("digest line %s is not the digest of the token", m[2])
		}
		return m[1], m[2]
	}
	scimToken, scimDigest := newToken()
	adminToken, adminDigest := newToken()
	if scimToken == adminToken {
		t.Fatal("token new printed the same token twice")
	}
	if code, _, _ := runCLI(t, nil, "token", "old"); code != 2 {
		t.Errorf("token old: exit %d, want 2", code)
	}

	cfg := "admin_tokens:\n  - {name: ops-2027, token: " + adminDigest + "}\n" +
		"tenants:\n  - id: acme\n    scim_tokens:\n      - name: okta-2027\n        token: " + scimDigest + "\n" +
		"      - name: okta-2025\n        token: " + auth.Digest("retired-token-0123456789") + "\n        expires: 2025-01-01T00:00:00Z\n"
	if strings.Contains(cfg, scimToken) || strings.Contains(cfg, adminToken) {
		t.Fatal("the configuration holds a token")
	}
	cfgPath := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := startCommand(t, serveCmd, envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": "127.0.0.1:0"}), "--config", cfgPath)
	addr := serve.addr(t)
	hc := newHTTPClient()
	base := "http://" + addr + "/scim/v2/Users"
	if code, body := scimCall(t, hc, "POST", base, scimToken, userBody("digest@example.com")); code != http.StatusCreated {
		t.Fatalf("POST with the token: %d %v", code, body)
	}
	for _, tok := range []string{scimDigest, "retired-token-0123456789", adminToken} {
		if code, _ := scimCall(t, hc, "GET", base, tok, nil); code != http.StatusUnauthorized {
			t.Errorf("GET with a token that is not the tenant's: %d, want 401", code)
		}
	}

	st := statusJSON(t, envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": addr, "SCIM_BRIDGE_ADMIN_TOKEN": adminToken}), "--config", cfgPath)
	if len(st) != 1 || len(st[0].Credentials) != 2 || st[0].Credentials[0].Name != "okta-2027" || st[0].Credentials[0].State != "valid" ||
		st[0].Credentials[1].Name != "okta-2025" || st[0].Credentials[1].State != "expired" {
		t.Errorf("status credentials: %+v", st)
	}
	code, stdout, _ := runCLI(t, envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": addr, "SCIM_BRIDGE_ADMIN_TOKEN": adminToken}), "status", "--config", cfgPath)
	if code != 0 || !strings.Contains(stdout, "okta-2025") || !strings.Contains(stdout, "2025-01-01T00:00:00Z") || !strings.Contains(stdout, "expired") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
	if code := serve.stop(t); code != 0 {
		t.Errorf("serve returned %d", code)
	}
	logs := serve.stderr.String()
	if !strings.Contains(logs, `"credential":"okta-2027"`) || !strings.Contains(logs, `"message":"scim write"`) {
		t.Errorf("the write is not logged with the credential's name:\n%s", logs)
	}
	for _, secret := range []string{scimToken, adminToken, "retired-token-0123456789"} {
		if strings.Contains(logs, secret) || strings.Contains(stdout, secret) {
			t.Error("a token appears in the log or the status output")
		}
	}
}
