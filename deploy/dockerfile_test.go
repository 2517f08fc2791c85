package deploy

import (
	"os"
	"strings"
	"testing"
)

// TestDockerfileGoProxy checks that the build stage takes GOPROXY and GOFLAGS
// as build arguments before its first go command, so that a build through a
// module proxy or mirror (--build-arg GOPROXY=...) downloads through it.
func TestDockerfileGoProxy(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]bool{}
	inBuild, download := false, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case strings.EqualFold(f[0], "FROM"):
			inBuild = strings.EqualFold(f[len(f)-1], "build")
		case inBuild && strings.EqualFold(f[0], "ARG") && len(f) > 1:
			name, _, _ := strings.Cut(f[1], "=")
			args[name] = true
		case inBuild && strings.Contains(line, "go mod download"):
			download = true
			for _, want := range []string{"GOPROXY", "GOFLAGS"} {
				if !args[want] {
					t.Errorf("Dockerfile: ARG %s is not declared in the build stage before `go mod download`", want)
				}
			}
		}
	}
	if !download {
		t.Error("Dockerfile: no `go mod download` in the build stage")
	}
}
