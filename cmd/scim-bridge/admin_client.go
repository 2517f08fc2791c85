package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/config"
)

// adminClient talks to a running server's admin endpoints: the only way to see
// or act on the state of an embedded store, which lives inside that process.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func (a *adminClient) call(ctx context.Context, method, path string, q url.Values, out any) error {
	u := strings.TrimRight(a.base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("admin request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("ask the running server at %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read admin answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error  string          `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		_ = json.Unmarshal(body, &e)
		if len(e.Result) > 0 && string(e.Result) != "null" && out != nil {
			_ = json.Unmarshal(e.Result, out)
		}
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return fmt.Errorf("server answered %d: %s", resp.StatusCode, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("decode admin answer: %w", err)
		}
	}
	return nil
}

// target says where an operator command finds the bridge's state.
type target struct {
	cfg   *config.Config // set when the command reads the store itself
	admin *adminClient   // set when it asks a running server
}

// resolveTarget: --url asks that server; a configuration with a Redis URL reads
// Redis directly; a configuration on the embedded store (or none) asks the server
// it describes, whose state only it holds.
func resolveTarget(e env, configPath, adminURL string) (*target, error) {
	token := e.getenv("SCIM_BRIDGE_ADMIN_TOKEN")
	hc := &http.Client{Timeout: 10 * time.Minute}
	if adminURL != "" {
		if token == "" {
			return nil, fmt.Errorf("--url needs the admin token in SCIM_BRIDGE_ADMIN_TOKEN")
		}
		return &target{admin: &adminClient{base: adminURL, token: token, http: hc}}, nil
	}
	cfg, err := loadConfig(e, configPath)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if cfg.Redis != "" {
		return &target{cfg: cfg}, nil
	}
	if token == "" {
		token = plaintextAdminToken(cfg.AdminCredentials())
	}
	if token == "" {
		return nil, fmt.Errorf("the embedded store lives inside the running server: set admin_token (or SCIM_BRIDGE_ADMIN_TOKEN) so this command can ask it (SCIM_BRIDGE_ADMIN_TOKEN when the file holds only digests), or use redis")
	}
	host := cfg.Listen
	if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "127.0.0.1:" + host[strings.LastIndexByte(host, ':')+1:]
	}
	return &target{admin: &adminClient{base: "http://" + host, token: token, http: hc}}, nil
}

// plaintextAdminToken returns the first admin token the configuration holds in
// plaintext ("" when every one is a digest: the operator then passes the
// token in SCIM_BRIDGE_ADMIN_TOKEN).
func plaintextAdminToken(tokens []auth.Token) string {
	for _, t := range tokens {
		if !strings.HasPrefix(strings.ToLower(t.Value), auth.DigestPrefix) {
			return t.Value
		}
	}
	return ""
}
