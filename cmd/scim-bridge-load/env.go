package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// env is a running redis-server and bridge, and a client for each.
type env struct {
	dir    string
	redis  *exec.Cmd
	bridge *exec.Cmd
	rdb    *redis.Client
	base   string // http://127.0.0.1:port
	token  string
	http   *http.Client
	// pprof is the bridge's CPU profile control URL (with -profile).
	pprof, profileDir string
	// redisAddr is redis-server's host:port.
	redisAddr string
	// floor is the floor server (floor.go) while it runs; its stdin is held
	// open so that it stops by itself when this process goes.
	floor      *exec.Cmd
	floorStdin io.WriteCloser
	floorBase  string // http://127.0.0.1:port
}

// start launches redis-server with AOF and the bridge on free loopback
// ports, and waits until the bridge is ready.
func start(ctx context.Context, cfg config) (*env, error) {
	dir, err := os.MkdirTemp("", "scim-bridge-load-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, token: "load-" + rand.Text()}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	rport, err := freePort()
	if err != nil {
		return nil, err
	}
	e.redis = exec.CommandContext(ctx, cfg.redisServer, "--port", strconv.Itoa(rport), "--bind", "127.0.0.1",
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--dir", dir, "--daemonize", "no")
	e.redis.Stdout, e.redis.Stderr = logFile(dir, "redis.log"), logFile(dir, "redis.log")
	if err := e.redis.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	e.redisAddr = fmt.Sprintf("127.0.0.1:%d", rport)
	e.rdb = redis.NewClient(&redis.Options{Addr: e.redisAddr})
	if err := waitFor(ctx, func() error { return e.rdb.Ping(ctx).Err() }); err != nil {
		return nil, fmt.Errorf("redis-server not ready: %w", err)
	}

	bport, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "bridge.yaml")
	yaml := fmt.Sprintf("listen: 127.0.0.1:%d\nredis: redis://127.0.0.1:%d/0\ntenants:\n  - id: load\n    scim_tokens: [%q]\n", bport, rport, e.token)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	e.bridge = exec.CommandContext(ctx, cfg.bin, "serve", "--config", conf)
	e.bridge.Env = append(os.Environ(), "GOMAXPROCS=2")
	if cfg.profile != "" {
		pport, err := freePort()
		if err != nil {
			return nil, err
		}
		e.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/cpu/", pport)
		e.profileDir = cfg.profile
		e.bridge.Env = append(e.bridge.Env, fmt.Sprintf("SCIM_BRIDGE_PPROF=127.0.0.1:%d", pport))
	}
	e.bridge.Stdout, e.bridge.Stderr = logFile(dir, "bridge.log"), logFile(dir, "bridge.log")
	e.bridge.Cancel = func() error { return e.bridge.Process.Signal(syscall.SIGTERM) }
	if err := e.bridge.Start(); err != nil {
		return nil, fmt.Errorf("start bridge: %w", err)
	}
	e.base = fmt.Sprintf("http://127.0.0.1:%d", bport)
	e.http = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true,
	}}
	if err := waitFor(ctx, func() error {
		resp, err := e.http.Get(e.base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("bridge not ready (log in %s): %w", filepath.Join(dir, "bridge.log"), err)
	}
	ok = true
	return e, nil
}

// close stops the floor server, the bridge (SIGTERM) and redis-server and
// removes the temporary directory.
func (e *env) close() {
	e.stopFloor()
	if e.bridge != nil && e.bridge.Process != nil {
		_ = e.bridge.Process.Signal(syscall.SIGTERM)
		waitExit(e.bridge, 10*time.Second)
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	if e.redis != nil && e.redis.Process != nil {
		_ = e.redis.Process.Signal(syscall.SIGTERM)
		waitExit(e.redis, 10*time.Second)
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// waitExit waits for c to exit, killing it after d.
func waitExit(c *exec.Cmd, d time.Duration) {
	done := make(chan struct{})
	go func() {
		_ = c.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		_ = c.Process.Kill()
		<-done
	}
}

func logFile(dir, name string) *os.File {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil
	}
	return f
}

// freePort returns a loopback port free at the time of the call.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor retries fn for up to 20 seconds.
func waitFor(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuTicks returns the user plus system CPU time of a process (all its
// threads) from /proc/<pid>/stat.
func cpuTicks(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// serverCPU is the CPU time used so far by the bridge and redis-server.
func (e *env) serverCPU() (bridge, redis time.Duration, err error) {
	return e.cpuOf(e.bridge)
}

// cpuOf is the CPU time used so far by server and by redis-server.
func (e *env) cpuOf(server *exec.Cmd) (srv, redis time.Duration, err error) {
	if srv, err = cpuTicks(server.Process.Pid); err != nil {
		return 0, 0, err
	}
	redis, err = cpuTicks(e.redis.Process.Pid)
	return srv, redis, err
}

// profile starts a CPU profile of the bridge written to <profile dir>/<name>.cpu.prof
// and returns what stops it; without -profile both do nothing.
func (e *env) profile(ctx context.Context, name string) (stop func() error, err error) {
	if e.pprof == "" {
		return func() error { return nil }, nil
	}
	file, err := filepath.Abs(filepath.Join(e.profileDir, strings.NewReplacer(" ", "-", "/", "-").Replace(name)+".cpu.prof"))
	if err != nil {
		return nil, err
	}
	post := func(what string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.pprof+what, nil)
		if err != nil {
			return err
		}
		resp, err := e.http.Do(req)
		if err != nil {
			return fmt.Errorf("profile %s: %w (is the binary built with -tags pprof?)", what, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("profile %s: %s: %s", what, resp.Status, body)
		}
		return nil
	}
	if err := post("start?file=" + url.QueryEscape(file)); err != nil {
		return nil, err
	}
	return func() error {
		if err := post("stop"); err != nil {
			return err
		}
		fmt.Printf("  CPU profile of the bridge: %s\n", file)
		return nil
	}, nil
}

// heapInuse reads go_memstats_heap_inuse_bytes from the bridge's /metrics.
func (e *env) heapInuse(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int64(f), err
		}
	}
	return 0, errors.New("no go_memstats_heap_inuse_bytes in /metrics")
}

// compactAOF rewrites redis-server's append-only file (BGREWRITEAOF) and waits
// for the rewrite to finish. The set-up (tens of thousands of creates) grows the
// AOF past Redis's auto-rewrite threshold, and a rewrite child forked during a
// measured phase competes with the bridge and redis-server for this machine's
// CPUs. Rewriting once before measuring is the steady state of a running
// deployment; rewritesSince tells whether another one ran anyway.
func (e *env) compactAOF(ctx context.Context, quiet bool) error {
	start := time.Now()
	// A rewrite the set-up triggered may be running: wait for it first, as
	// BGREWRITEAOF would only schedule another one after it.
	if err := e.waitAOFRewrite(ctx); err != nil {
		return err
	}
	if err := e.rdb.BgRewriteAOF(ctx).Err(); err != nil {
		return fmt.Errorf("BGREWRITEAOF: %w", err)
	}
	if err := e.waitAOFRewrite(ctx); err != nil {
		return err
	}
	if quiet {
		return nil
	}
	size, _ := e.persistence(ctx, "aof_current_size")
	fmt.Printf("redis: AOF rewritten after the set-up in %.1fs (%.0f MB); measuring from here\n",
		time.Since(start).Seconds(), float64(size)/1e6)
	return nil
}

// waitAOFRewrite waits until no AOF rewrite runs or is scheduled.
func (e *env) waitAOFRewrite(ctx context.Context) error {
	for {
		busy := int64(0)
		for _, k := range []string{"aof_rewrite_in_progress", "aof_rewrite_scheduled"} {
			v, err := e.persistence(ctx, k)
			if err != nil {
				return err
			}
			busy += v
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// aofRewrites is how many AOF rewrites redis-server has started so far.
func (e *env) aofRewrites(ctx context.Context) (int64, error) {
	return e.persistence(ctx, "aof_rewrites")
}

// persistence reads one integer field of INFO persistence.
func (e *env) persistence(ctx context.Context, field string) (int64, error) {
	info, err := e.rdb.Info(ctx, "persistence").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO persistence: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO persistence has no %s", field)
}
