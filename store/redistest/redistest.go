// Package redistest starts a throw-away redis-server on a random loopback port for
// tests. When the binary is not on PATH the test is skipped, except under CI=true,
// where real-Redis tests must run and a missing binary fails the test.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Start runs redis-server for the lifetime of t and returns its redis:// URL.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server not on PATH: real-Redis tests must run in CI")
		}
		tb.Skip("redis-server not on PATH")
	}
	port, err := freePort()
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	dir := tb.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--protected-mode", "yes", "--loglevel", "warning")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		tb.Fatalf("redis-server pipe: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start redis-server: %v", err)
	}
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text())
			out.WriteByte('\n')
		}
	}()
	tb.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
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
				break
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s did not answer: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + addr + "/0"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
