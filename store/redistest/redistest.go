// Package redistest starts throw-away redis-server processes on random loopback
// ports for tests: a single server (Start) or a three-node Redis Cluster
// (StartCluster). When the binaries are not on PATH the test is skipped, except
// under CI=true, where real-Redis tests must run and a missing binary fails.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// launchAttempts bounds the retries when a random port is taken between the
// moment it was found free and the moment redis-server binds it.
const launchAttempts = 5

// Start runs redis-server for the lifetime of tb and returns its redis:// URL.
func Start(tb testing.TB) string {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	return "redis://" + launch(tb, bin, false) + "/0"
}

// StartCluster runs a three-node Redis Cluster (masters only) for the lifetime
// of tb and returns a go-redis cluster URL ("redis://a?addr=b&addr=c").
func StartCluster(tb testing.TB) string {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	cli := lookPath(tb, "redis-cli")
	var addrs []string
	for range 3 {
		addrs = append(addrs, launch(tb, bin, true))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("create cluster: %v: %s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range addrs {
		for {
			_, port, _ := net.SplitHostPort(a)
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", port, "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("cluster on %v did not become ready: %s", addrs, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s not on PATH: real-Redis tests must run in CI", name)
		}
		tb.Skipf("%s not on PATH", name)
	}
	return p
}

// launch starts one redis-server (a cluster node when cluster is set) and
// returns its address once it answers PING, trying again on another port when
// the one it picked was taken meanwhile. The server stops with tb.
func launch(tb testing.TB, bin string, cluster bool) string {
	tb.Helper()
	var lastErr error
	for range launchAttempts {
		addr, stop, err := tryLaunch(tb, bin, cluster)
		if err == nil {
			tb.Cleanup(stop)
			return addr
		}
		stop()
		lastErr = err
	}
	tb.Fatalf("start redis-server: %v", lastErr)
	return ""
}

func tryLaunch(tb testing.TB, bin string, cluster bool) (addr string, stop func(), err error) {
	port, err := freePort(cluster)
	if err != nil {
		return "", func() {}, err
	}
	dir := tb.TempDir()
	args := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	} else {
		args = append(args, "--protected-mode", "yes")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", func() {}, fmt.Errorf("redis-server pipe: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		return "", func() {}, fmt.Errorf("start redis-server: %w", err)
	}
	var out lockedBuffer
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			out.add(sc.Text())
		}
		close(exited)
	}()
	stop = func() {
		cancel()
		<-exited
		_ = cmd.Wait()
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitPong(addr, exited); err != nil {
		return "", stop, fmt.Errorf("redis-server on %s: %w: %s", addr, err, out.String())
	}
	return addr, stop, nil
}

// freePort finds a free loopback port; for a cluster node its bus port (+10000)
// must be free too.
func freePort(cluster bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !cluster {
			return p, nil
		}
		if p+10000 > 65535 {
			continue
		}
		if bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000)); err == nil {
			bus.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port pair")
}

// waitPong waits until the server at addr answers PING, or exited closes.
func waitPong(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("did not answer PING in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer collects a server's output lines for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line)
	l.b.WriteByte('\n')
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
