package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// generatedTokenRE matches the token serve prints when none is configured.
var generatedTokenRE = regexp.MustCompile(`generated SCIM bearer token\n  ([0-9a-f]{64})\n`)

func TestServeWithoutConfig(t *testing.T) {
	t.Parallel()
	cmd := startCommand(t, serveCmd, envFunc(map[string]string{"SCIM_BRIDGE_LISTEN": "127.0.0.1:0"}))
	addr := cmd.addr(t)
	token := cmd.stderr.waitMatch(t, generatedTokenRE, time.Second)[1]
	base := "http://" + addr
	hc := newHTTPClient()

	if out := cmd.stderr.String(); !strings.Contains(out, "embedded in-memory store: all state is lost when the process exits") {
		t.Errorf("no warning that the embedded state is lost:\n%s", out)
	}
	if out := cmd.stdout.String(); out != "" {
		t.Errorf("stdout %q, want nothing (the token goes to stderr only)", out)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := scimCall(t, hc, "GET", base+path, "", nil); code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, code)
		}
	}

	t.Run("auth", func(t *testing.T) {
		tests := []struct {
			name, token string
			want        int
		}{
			{name: "generated token", token: token, want: http.StatusCreated},
			{name: "wrong token", token: strings.Repeat("0", 64), want: http.StatusUnauthorized},
			{name: "token prefix", token: token[:32], want: http.StatusUnauthorized},
			{name: "no token", token: "", want: http.StatusUnauthorized},
		}
		for i, tc := range tests {
			email := fmt.Sprintf("user%d@example.com", i)
			code, body := scimCall(t, hc, "POST", base+"/scim/v2/Users", tc.token, userBody(email))
			if code != tc.want {
				t.Errorf("%s: POST /Users answered %d, want %d (%v)", tc.name, code, tc.want, body)
			}
			if tc.want == http.StatusCreated && (body["id"] == nil || body["userName"] != email) {
				t.Errorf("%s: created user %v", tc.name, body)
			}
		}
		code, body := scimCall(t, hc, "GET", base+"/scim/v2/Users", token, nil)
		if code != http.StatusOK || body["totalResults"] != float64(1) {
			t.Errorf("GET /Users: %d %v, want exactly the one user created with the right token", code, body)
		}
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		// An in-flight request: headers and half the body are sent before the
		// shutdown starts, the rest after the listener is closed. It must still be
		// served, and serve must return 0 once it is.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		body, _ := json.Marshal(userBody("inflight@example.com"))
		half := len(body) / 2
		head := fmt.Sprintf("POST /scim/v2/Users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n", addr, token, len(body))
		if _, err := conn.Write(append([]byte(head), body[:half]...)); err != nil {
			t.Fatalf("write head: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // let the server pick the request up
		cmd.cancel()
		waitRefused(t, addr)
		select {
		case code := <-cmd.done:
			cmd.done <- code
			t.Fatalf("serve returned %d with a request in flight", code)
		default:
		}
		if _, err := conn.Write(body[half:]); err != nil {
			t.Fatalf("write rest of body: %v", err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response of the in-flight request: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("in-flight POST answered %d, want 201", resp.StatusCode)
		}
		if code := cmd.wait(t); code != 0 {
			t.Errorf("serve returned %d, want 0; stderr:\n%s", code, cmd.stderr.String())
		}
		if !strings.Contains(cmd.stderr.String(), `"message":"stopped"`) {
			t.Errorf("no \"stopped\" log line:\n%s", cmd.stderr.String())
		}
	})

	if n := strings.Count(cmd.stderr.String(), token); n != 1 {
		t.Errorf("the generated token appears %d times on stderr, want once", n)
	}
}

// waitRefused waits until addr refuses connections (the listener is closed).
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			// Refused once closed; a dial racing the close may be reset instead.
			if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("dial %s after shutdown: %v, want connection refused", addr, err)
			}
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections 10s after the shutdown started", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeTokenFromEnvironment(t *testing.T) {
	t.Parallel()
	const token = "env-SECRET-token-0123456789abcdef"
	cmd := startCommand(t, serveCmd, envFunc(map[string]string{
		"SCIM_BRIDGE_LISTEN": "127.0.0.1:0",
		"SCIM_BRIDGE_TOKEN":  token,
	}))
	base := "http://" + cmd.addr(t)
	hc := newHTTPClient()
	if code, body := scimCall(t, hc, "POST", base+"/scim/v2/Users", token, userBody("env@example.com")); code != http.StatusCreated {
		t.Errorf("POST /Users with SCIM_BRIDGE_TOKEN: %d %v, want 201", code, body)
	}
	if code, _ := scimCall(t, hc, "POST", base+"/scim/v2/Users", token+"x", userBody("env2@example.com")); code != http.StatusUnauthorized {
		t.Errorf("POST /Users with a wrong token: %d, want 401", code)
	}
	if code := cmd.stop(t); code != 0 {
		t.Errorf("serve returned %d, want 0", code)
	}
	stderr, stdout := cmd.stderr.String(), cmd.stdout.String()
	if strings.Contains(stderr, token) || strings.Contains(stdout, token) {
		t.Errorf("the token from SCIM_BRIDGE_TOKEN was printed:\nstdout: %s\nstderr: %s", stdout, stderr)
	}
	if generatedTokenRE.MatchString(stderr) {
		t.Errorf("a generated token was printed although SCIM_BRIDGE_TOKEN is set:\n%s", stderr)
	}
	if !strings.Contains(stderr, "with the token from SCIM_BRIDGE_TOKEN") {
		t.Errorf("no log line saying where the token comes from:\n%s", stderr)
	}
}

func TestServeInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		env     map[string]string
		want    []string // ":<line>: <key>" fragments, after the file path
		secrets []string
	}{
		{
			file: "invalid/many-errors.yaml",
			env:  map[string]string{"SHARED_TOKEN": "shared-SECRET-0123456789"},
			want: []string{":1: listen: ", ":2: workers: ", ":5: tenantz: unknown key", ":8: tenants[0].scim_tokens[0]: ",
				":13: tenants[0].connectors[0].ulr: unknown key", ":19: tenants[2].scim_tokens[0]: "},
			secrets: []string{"shared-SECRET-0123456789", "abc123"},
		},
		{
			file:    "invalid/unset-env.yaml",
			env:     map[string]string{"ODM_TOKEN": "odm-SECRET-token"},
			want:    []string{":4: tenants[0].scim_tokens[0]: environment variable ACME_SCIM_TOKEN is not set"},
			secrets: []string{"odm-SECRET-token"},
		},
		{
			file: "invalid/syntax.yaml",
			want: []string{":4: syntax error"},
		},
		{
			file: "does-not-exist.yaml",
			want: []string{"read config: "},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("..", "..", "testdata", "config", tc.file)
			code, stdout, stderr := runCLI(t, envFunc(tc.env), "serve", "--config", path)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.HasPrefix(stderr, "scim-bridge: invalid configuration:\n") {
				t.Errorf("stderr does not start with the explanation:\n%s", stderr)
			}
			for _, w := range tc.want {
				if tc.file == "does-not-exist.yaml" {
					if !strings.Contains(stderr, w) || !strings.Contains(stderr, tc.file) {
						t.Errorf("stderr does not name the missing file:\n%s", stderr)
					}
					continue
				}
				if !strings.Contains(stderr, path+w) {
					t.Errorf("stderr lacks %q:\n%s", path+w, stderr)
				}
			}
			for _, s := range tc.secrets {
				if strings.Contains(stderr, s) || strings.Contains(stdout, s) {
					t.Errorf("output leaks secret %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stderr, `"serving"`) || stdout != "" {
				t.Errorf("serve went on despite the invalid configuration:\nstdout: %s\nstderr: %s", stdout, stderr)
			}
		})
	}
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	const token = "listen-SECRET-0123456789abcdef"
	code, _, stderr := runCLI(t, envFunc(map[string]string{
		"SCIM_BRIDGE_LISTEN": ln.Addr().String(),
		"SCIM_BRIDGE_TOKEN":  token,
	}), "serve")
	if code != 1 {
		t.Errorf("exit code %d, want 1 when the address is taken", code)
	}
	var sawListen bool
	for _, line := range bytes.Split([]byte(stderr), []byte("\n")) {
		var entry map[string]any
		if json.Unmarshal(line, &entry) == nil && entry["message"] == "listen" && entry["listen"] == ln.Addr().String() {
			sawListen = true
		}
	}
	if !sawListen {
		t.Errorf("no error log naming the address:\n%s", stderr)
	}
	if strings.Contains(stderr, token) {
		t.Errorf("stderr leaks the token:\n%s", stderr)
	}
}

// TestServeRefusesToGenerateATokenForRedis: without tenants and without
// SCIM_BRIDGE_TOKEN, serve generates a token only on the embedded store. With
// a Redis URL (replicas and restarts share the store, and must share the
// token) it exits at once, naming the variable, and prints no token.
func TestServeRefusesToGenerateATokenForRedis(t *testing.T) {
	t.Parallel()
	start := time.Now()
	code, stdout, stderr := runCLI(t, envFunc(map[string]string{
		"SCIM_BRIDGE_LISTEN": "127.0.0.1:0",
		// Nothing listens there: serve must refuse before it tries Redis.
		"SCIM_BRIDGE_REDIS": "redis://127.0.0.1:1/0",
	}), "serve")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr, "SCIM_BRIDGE_TOKEN is not set") || !strings.Contains(stderr, "scim-bridge token new") {
		t.Errorf("stderr does not name SCIM_BRIDGE_TOKEN and how to make one:\n%s", stderr)
	}
	if generatedTokenRE.MatchString(stderr) || regexp.MustCompile(`[0-9a-f]{64}`).MatchString(stderr+stdout) {
		t.Errorf("a token was generated and printed:\n%s%s", stdout, stderr)
	}
	if strings.Contains(stderr, `"open store"`) || strings.Contains(stderr, `"serving"`) || time.Since(start) > 3*time.Second {
		t.Errorf("serve went on to the store (%v) before refusing:\n%s", time.Since(start), stderr)
	}
}

// TestServeAdminCookieSecure: behind a proxy that ends TLS, the bridge sees
// plain HTTP; a public_url starting with https:// marks the console's
// cookies Secure all the same.
func TestServeAdminCookieSecure(t *testing.T) {
	t.Parallel()
	const adminToken = "admin-SECRET-token-0123456789abcdef"
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	for _, tc := range []struct {
		publicURL string
		secure    bool
	}{
		{"https://scim.example.com/scim/v2", true},
		{"HTTPS://scim.example.com/scim/v2", true},
		{"http://scim.example.com/scim/v2", false},
		{"", false},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			t.Parallel()
			cmd := startCommand(t, serveCmd, envFunc(map[string]string{
				"SCIM_BRIDGE_LISTEN":      "127.0.0.1:0",
				"SCIM_BRIDGE_TOKEN":       "scim-SECRET-token-0123456789abcdef",
				"SCIM_BRIDGE_ADMIN_TOKEN": adminToken,
				"SCIM_BRIDGE_PUBLIC_URL":  tc.publicURL,
			}))
			base := "http://" + cmd.addr(t)
			hc := newHTTPClient()
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

			resp, err := hc.Get(base + "/admin/login")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := csrfRE.FindSubmatch(page)
			if resp.StatusCode != http.StatusOK || m == nil || len(resp.Cookies()) != 1 {
				t.Fatalf("GET /admin/login: %d, cookies %v, page:\n%s", resp.StatusCode, resp.Cookies(), page)
			}
			login := resp.Cookies()[0]
			form := url.Values{"csrf": {string(m[1])}, "token": {adminToken}}
			req, _ := http.NewRequest(http.MethodPost, base+"/admin/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: login.Name, Value: login.Value})
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "sb_admin_session" {
					session = c
				}
			}
			if resp.StatusCode != http.StatusSeeOther || session == nil {
				t.Fatalf("POST /admin/login: %d, cookies %v; want 303 with a session cookie", resp.StatusCode, resp.Cookies())
			}
			for _, c := range []*http.Cookie{login, session} {
				if c.Secure != tc.secure {
					t.Errorf("cookie %s Secure = %v with public_url %q, want %v", c.Name, c.Secure, tc.publicURL, tc.secure)
				}
			}
		})
	}
}
