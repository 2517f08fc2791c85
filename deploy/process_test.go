package deploy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startRedis runs a throw-away redis-server on 127.0.0.1 and returns its URL
// and a function that stops it early (it is stopped at cleanup anyway).
func startRedis(t *testing.T) (url string, stop func()) {
	t.Helper()
	bin := needTool(t, "redis-server")
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return "redis://" + addr + "/0", stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer on %s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bridgeProc is a scim-bridge process under test.
type bridgeProc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	logs syncBuffer
	done chan struct{}
	err  error // exit status, set when done is closed
}

// startBridge runs `scim-bridge serve --config config` with env (plus the
// listen address it picks) and waits until /healthz answers.
func startBridge(t *testing.T, config string, env []string) *bridgeProc {
	t.Helper()
	bin := filepath.Join(buildAll(t), "scim-bridge")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	p := &bridgeProc{base: "http://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", config)
	p.cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...), "SCIM_BRIDGE_LISTEN="+addr)
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("bridge %s output:\n%s", p.base, p.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get(p.base + "/healthz"); code == http.StatusOK {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("bridge exited before serving (%v):\n%s", p.err, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge did not answer /healthz on %s:\n%s", p.base, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns how long the process took to exit and its
// exit error; it fails the test after limit.
func (p *bridgeProc) stop(t *testing.T, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		return time.Since(start), p.err
	case <-time.After(limit):
		t.Fatalf("bridge still running %v after SIGTERM", limit)
		return 0, nil
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// get fetches url and returns its status and body (status 0 and the error
// text on a transport error).
func get(url string) (int, string) { return roundTrip(http.MethodGet, url, "") }

// post sends body as JSON to url, like get.
func post(url, body string) (int, string) { return roundTrip(http.MethodPost, url, body) }

func roundTrip(method, url, body string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// readEnvFile parses KEY=VALUE lines (comments and blank lines skipped).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: not KEY=VALUE", path, i+1)
		}
		env[k] = v
	}
	return env
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// scimPost creates a user and returns the status; err is a transport error.
func scimPost(ctx context.Context, base, token, userName string) (int, error) {
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"active":true,"emails":[{"value":%q,"primary":true}]}`, userName, userName)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/scim/v2/Users", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
