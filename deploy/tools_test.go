package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// binaries are built once per test binary run, into a directory removed at
// exit; helm is the module's tool, cached by the go command.
var binaries struct {
	once sync.Once
	dir  string
	helm string
	err  error
}

// testVersion is the version build.sh stamps into the binaries under test.
const testVersion = "v0.0.0-deploytest"

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// buildAll builds helm (the module's Go tool) and the scim-bridge binaries
// exactly as the container image does (image/build.sh), once.
func buildAll(t *testing.T) string {
	t.Helper()
	binaries.once.Do(func() {
		dir, err := os.MkdirTemp("", "scim-bridge-deploy-")
		if err != nil {
			binaries.err = err
			return
		}
		binaries.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		// go tool -n builds the tool (once; the go command caches it) and prints its path.
		var stderr bytes.Buffer
		helm := exec.CommandContext(ctx, "go", "tool", "-n", "helm")
		helm.Stderr = &stderr
		out, err := helm.Output()
		if err != nil {
			binaries.err = fmt.Errorf("go tool -n helm: %w\n%s", err, stderr.String())
			return
		}
		binaries.helm = strings.TrimSpace(string(out))
		build := exec.CommandContext(ctx, "sh", "image/build.sh")
		build.Env = append(os.Environ(), "OUT="+dir, "VERSION="+testVersion)
		if out, err := build.CombinedOutput(); err != nil {
			binaries.err = fmt.Errorf("image/build.sh: %w\n%s", err, out)
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.dir
}

// helm runs the Helm tool with args and returns its standard output; the error
// carries standard error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	buildAll(t)
	cmd := exec.Command(binaries.helm, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Keep Helm away from the user's repositories, caches and plugins.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// needTool fails in CI and skips elsewhere when a program the test drives is
// not installed (.ci/run installs them).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it): %v", name, err)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}
