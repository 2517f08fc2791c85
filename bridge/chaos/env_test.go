//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freePort returns a free loopback port (and, for a cluster node, its bus
// port +10000 free too).
func freePort(t *testing.T, bus bool) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !bus {
			return p
		}
		if p+10000 > 65535 {
			continue
		}
		if ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000)); err == nil {
			_ = ln2.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// redisNode is one redis-server process with its data directory (AOF on).
type redisNode struct {
	t       *testing.T
	port    int
	dir     string
	cluster bool
	cmd     *exec.Cmd
}

func (n *redisNode) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

func startRedis(t *testing.T, cluster bool) *redisNode {
	t.Helper()
	n := &redisNode{t: t, port: freePort(t, cluster), dir: t.TempDir(), cluster: cluster}
	n.start()
	t.Cleanup(n.kill)
	return n
}

func (n *redisNode) start() {
	n.t.Helper()
	args := []string{"--port", fmt.Sprint(n.port), "--bind", "127.0.0.1", "--dir", n.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--loglevel", "warning",
		"--logfile", filepath.Join(n.dir, "redis.log")}
	if n.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
	}
	n.cmd = exec.Command("redis-server", args...)
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := n.cli("PING")
		if strings.TrimSpace(out) == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("redis-server on %s does not answer: %s", n.addr(), out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart is an ordinary restart: SHUTDOWN (the AOF is flushed), then start
// again on the same data; it returns once the server answers (it may still
// answer LOADING for a while).
func (n *redisNode) restart() {
	n.t.Helper()
	_, _ = n.cli("SHUTDOWN")
	_ = n.cmd.Wait()
	n.start()
}

func (n *redisNode) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
	}
}

func (n *redisNode) cli(args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(n.port)}, args...)...).CombinedOutput()
	return string(out), err
}

// redisCluster is three masters with one replica each.
type redisCluster struct {
	nodes []*redisNode
}

func startCluster(t *testing.T) *redisCluster {
	t.Helper()
	c := &redisCluster{}
	args := []string{"--cluster", "create"}
	for range 6 {
		n := startRedis(t, true)
		c.nodes = append(c.nodes, n)
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("create cluster: %v: %s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range c.nodes {
		for {
			out, _ := n.cli("CLUSTER", "INFO")
			if strings.Contains(out, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not ready: %s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// url is the go-redis cluster URL of c.
func (c *redisCluster) url() string {
	u := "redis://" + c.nodes[0].addr() + "?"
	for i, n := range c.nodes[1:] {
		if i > 0 {
			u += "&"
		}
		u += "addr=" + n.addr()
	}
	return u
}

// failover runs CLUSTER FAILOVER on the replica of the master serving key's
// slot: the replica becomes the master, the old master its replica.
func (c *redisCluster) failover(t *testing.T, key string) string {
	out, err := c.nodes[0].cli("CLUSTER", "KEYSLOT", key)
	if err != nil {
		t.Fatalf("keyslot: %v %s", err, out)
	}
	slot := strings.TrimSpace(out)
	for _, m := range c.nodes {
		if !servesSlot(m, slot) {
			continue
		}
		for _, n := range c.nodes {
			role, _ := n.cli("ROLE")
			f := strings.Fields(role)
			if len(f) < 3 || f[0] != "slave" || f[2] != fmt.Sprint(m.port) {
				continue
			}
			if out, err := n.cli("CLUSTER", "FAILOVER"); err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("cluster failover on %s: %v %s", n.addr(), err, out)
			}
			return fmt.Sprintf("replica %s took over slot %s from %s", n.addr(), slot, m.addr())
		}
	}
	t.Fatalf("no replica found for slot %s", slot)
	return ""
}

// servesSlot reports whether master m serves slot (from CLUSTER NODES myself line).
func servesSlot(m *redisNode, slot string) bool {
	out, _ := m.cli("CLUSTER", "NODES")
	var s int
	fmt.Sscan(slot, &s)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, r := range f[8:] {
			var lo, hi int
			if n, _ := fmt.Sscanf(r, "%d-%d", &lo, &hi); n == 2 {
				if s >= lo && s <= hi {
					return true
				}
			} else if n == 1 && lo == s {
				return true
			}
		}
	}
	return false
}

// replica is one bridge process.
type replica struct {
	t      *testing.T
	bin    string
	config string
	port   int
	log    string
	name   string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (r *replica) url() string { return fmt.Sprintf("http://127.0.0.1:%d", r.port) }

func (r *replica) start() {
	r.t.Helper()
	f, err := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "serve", "--config", r.config)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SCIM_BRIDGE_LISTEN=127.0.0.1:%d", r.port))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", r.name, err)
	}
	go func() { _ = cmd.Wait(); _ = f.Close() }()
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
}

// kill9 kills the process with SIGKILL: no shutdown, leases left behind.
func (r *replica) kill9() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// stop ends the process gracefully (SIGTERM), waiting a while.
func (r *replica) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		if cmd.ProcessState != nil || cmd.Process.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

// waitReady waits until /readyz answers 200.
func (r *replica) waitReady(ctx context.Context) error {
	for {
		resp, err := http.Get(r.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", r.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// jitter returns d ± half of it.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}
