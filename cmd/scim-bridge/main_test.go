package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe for the concurrent writes of a running
// command (its logger, its HTTP handlers) and the reads of the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitMatch polls the buffer until re matches and returns the submatches.
func (l *lockedBuffer) waitMatch(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(l.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no match for %s within %s; output so far:\n%s", re, timeout, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runCLI runs the binary's entry point in-process, as main does.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

// command is a long-running command (serve, sandbox) started in-process.
type command struct {
	stdout, stderr *lockedBuffer
	cancel         context.CancelFunc
	done           chan int
}

// startCommand runs fn (serveCmd, sandboxCmd) in the background with a
// cancellable context; the test's cleanup stops it if the test did not.
func startCommand(t *testing.T, fn func(context.Context, env, []string) int, getenv func(string) string, args ...string) *command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &command{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	e := env{stdout: c.stdout, stderr: c.stderr, getenv: getenv}
	go func() { c.done <- fn(ctx, e, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			t.Errorf("command did not stop within 30s")
		}
	})
	return c
}

// wait returns the command's exit code once it has returned.
func (c *command) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-c.done:
		c.done <- code // keep it for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("command did not return within 30s; stderr:\n%s", c.stderr.String())
		return -1
	}
}

// stop cancels the command's context and returns its exit code.
func (c *command) stop(t *testing.T) int {
	t.Helper()
	c.cancel()
	return c.wait(t)
}

// servingRE matches the log line of serveConfig that names the SCIM endpoint.
var servingRE = regexp.MustCompile(`"scim":"http://([0-9.:]+)/scim/v2"`)

// addr waits for the "serving" log line and returns the host:port served.
func (c *command) addr(t *testing.T) string {
	t.Helper()
	return c.stderr.waitMatch(t, servingRE, 20*time.Second)[1]
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }

// scimCall sends a SCIM request (body marshalled as JSON when not nil) and
// returns the status and the decoded JSON answer (nil when empty or not JSON).
func scimCall(t *testing.T, hc *http.Client, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	var out map[string]any
	if len(data) > 0 {
		_ = json.Unmarshal(data, &out)
	}
	return resp.StatusCode, out
}

// userBody is a SCIM user as Okta and Entra create them.
func userBody(email string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": email,
		"name":     map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":   []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"active":   true,
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	noEnv := envFunc()
	tests := []struct {
		name      string
		args      []string
		code      int
		stderr    string // substring expected on stderr
		wantUsage string // the stream the usage goes to: "stdout" or "stderr"
	}{
		{name: "no args", args: nil, code: 2, wantUsage: "stderr"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`, wantUsage: "stderr"},
		{name: "flag as command", args: []string{"--config"}, code: 2, stderr: `unknown command "--config"`, wantUsage: "stderr"},
		{name: "help", args: []string{"help"}, code: 0, wantUsage: "stdout"},
		{name: "-h", args: []string{"-h"}, code: 0, wantUsage: "stdout"},
		{name: "--help", args: []string{"--help"}, code: 0, wantUsage: "stdout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, noEnv, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			usageOut, other := stderr, stdout
			if tc.wantUsage == "stdout" {
				usageOut, other = stdout, stderr
			}
			if !strings.HasPrefix(strings.TrimPrefix(usageOut, "scim-bridge: unknown command "+quoteFirst(tc.args)+"\n\n"), "usage: scim-bridge <command>") {
				t.Errorf("usage not on %s:\n%s", tc.wantUsage, usageOut)
			}
			for _, cmd := range []string{"serve", "sandbox", "status", "retry", "reconcile", "version"} {
				if !strings.Contains(usageOut, "\n  "+cmd+" ") {
					t.Errorf("usage does not list command %q:\n%s", cmd, usageOut)
				}
			}
			if other != "" {
				t.Errorf("unexpected output on the other stream: %q", other)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.stderr)
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, envFunc(), "version")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "scim-bridge "+version+" (go") {
		t.Errorf("version output %q", stdout)
	}
}

// quoteFirst renders args[0] as run quotes an unknown command.
func quoteFirst(args []string) string {
	if len(args) == 0 {
		return ""
	}
	b, _ := json.Marshal(args[0])
	return string(b)
}

func TestRunFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "serve unknown flag", args: []string{"serve", "--nope"}, code: 2, want: "flag provided but not defined: -nope"},
		{name: "sandbox unknown flag", args: []string{"sandbox", "--nope"}, code: 2, want: "flag provided but not defined: -nope"},
		{name: "status unknown flag", args: []string{"status", "--nope"}, code: 2, want: "flag provided but not defined: -nope"},
		{name: "reconcile unknown flag", args: []string{"reconcile", "--nope"}, code: 2, want: "flag provided but not defined: -nope"},
		{name: "retry without tenant", args: []string{"retry", "--connector", "odm"}, code: 2, want: "--tenant and --connector are required"},
		{name: "retry without connector", args: []string{"retry", "--tenant", "acme"}, code: 2, want: "--tenant and --connector are required"},
		{name: "serve stray argument", args: []string{"serve", "bridge.yaml"}, code: 2, want: `scim-bridge serve: unexpected argument "bridge.yaml"`},
		{name: "status flag after argument", args: []string{"status", "acme", "--json"}, code: 2, want: `scim-bridge status: unexpected argument "acme"`},
		{name: "serve -h", args: []string{"serve", "-h"}, code: 0, want: "-config"},
		{name: "sandbox --help", args: []string{"sandbox", "--help"}, code: 0, want: "-listen"},
		{name: "reconcile -h", args: []string{"reconcile", "-h"}, code: 0, want: "-dry-run"},
		{name: "retry -h", args: []string{"retry", "-h"}, code: 0, want: "-subject"},
		{name: "status -h", args: []string{"status", "-h"}, code: 0, want: "-json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, envFunc(), tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
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

// envFunc is a getenv over the maps, the first holding a name winning.
func envFunc(envs ...map[string]string) func(string) string {
	return func(k string) string {
		for _, e := range envs {
			if v, ok := e[k]; ok {
				return v
			}
		}
		return ""
	}
}
