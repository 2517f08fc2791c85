package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// redisReadyCommand says whether Redis is ready, in the chart's readiness
// probe and the Compose health check: redis-cli exits 0 on an error reply
// such as LOADING, so the answer itself must be PONG.
const redisReadyCommand = "redis-cli ping | grep -q PONG"

// loadingRedis listens on 127.0.0.1 and answers every command as Redis does
// while it reads its data set after a restart; it returns the port.
func loadingRedis(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write([]byte("-LOADING Redis is loading the dataset in memory\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRedisProbes runs the chart's and compose.yaml's Redis checks, pointed at
// a server: against one answering LOADING the readiness checks fail and the
// chart's liveness probe passes (a Redis loading a large AOF is not killed);
// against a real redis-server all pass.
func TestRedisProbes(t *testing.T) {
	needTool(t, "redis-cli")
	redisURL, _ := startRedis(t)
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/0"))
	up, _ := strconv.Atoi(port)
	loading := loadingRedis(t)

	ss := objects[appsv1.StatefulSet](t, renderChart(t), "StatefulSet")
	if len(ss) != 1 {
		t.Fatalf("%d StatefulSets, want the bundled Redis", len(ss))
	}
	ct := ss[0].Spec.Template.Spec.Containers[0]
	if ct.ReadinessProbe == nil || ct.ReadinessProbe.Exec == nil || ct.LivenessProbe == nil || ct.LivenessProbe.Exec == nil {
		t.Fatalf("bundled Redis probes: readiness %+v, liveness %+v; want exec probes", ct.ReadinessProbe, ct.LivenessProbe)
	}
	project, err := loadCompose(t, writeEnvFile(t, filledEnv(t, "compose/.env.example")))
	if err != nil {
		t.Fatal(err)
	}
	redis, err := project.GetService("redis")
	if err != nil {
		t.Fatal(err)
	}
	if redis.HealthCheck == nil {
		t.Fatal("compose.yaml: redis has no healthcheck")
	}

	for _, c := range []struct {
		name      string
		argv      []string // as the container runs it: exec form
		onLoading bool     // passes while Redis is LOADING
	}{
		{"chart readiness", ct.ReadinessProbe.Exec.Command, false},
		{"chart liveness", ct.LivenessProbe.Exec.Command, true},
		{"compose healthcheck", composeTestArgv(redis.HealthCheck.Test), false},
	} {
		for _, srv := range []struct {
			port int
			want bool
		}{{loading, c.onLoading}, {up, true}} {
			argv := aimRedisCLI(c.argv, srv.port)
			err := exec.Command(argv[0], argv[1:]...).Run()
			if got := err == nil; got != srv.want {
				what := "a real redis-server"
				if srv.port == loading {
					what = "a Redis answering LOADING"
				}
				t.Errorf("%s %q against %s: passes = %v (%v), want %v", c.name, c.argv, what, got, err, srv.want)
			}
		}
	}
}

// composeTestArgv turns a Compose health check test into the argv the
// container runs.
func composeTestArgv(test []string) []string {
	switch {
	case len(test) > 1 && test[0] == "CMD-SHELL":
		return []string{"sh", "-c", strings.Join(test[1:], " ")}
	case len(test) > 1 && test[0] == "CMD":
		return test[1:]
	}
	return test
}

// aimRedisCLI points the redis-cli of argv (exec form, or sh -c "...") at
// 127.0.0.1:port instead of the container's own Redis.
func aimRedisCLI(argv []string, port int) []string {
	target := "redis-cli -h 127.0.0.1 -p " + strconv.Itoa(port)
	out := slices.Clone(argv)
	if len(out) == 3 && out[0] == "sh" && out[1] == "-c" {
		out[2] = strings.ReplaceAll(out[2], "redis-cli", target)
		return out
	}
	if len(out) > 0 && out[0] == "redis-cli" {
		return append(strings.Fields(target), out[1:]...)
	}
	return out
}

// writeEnvFile writes env as a .env file of the test's and returns its path.
func writeEnvFile(t *testing.T, env map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(strings.Join(envList(env), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
