package registry

import (
	"go/build"
	"strings"
	"testing"
)

func TestBuiltinTypes(t *testing.T) {
	want := []string{"authress", "bimdata", "bimplus", "scim"}
	got := Types()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("types %v, want %v", got, want)
	}
	for name, mk := range Builtin() {
		if mk() == nil {
			t.Fatalf("%s: nil config", name)
		}
		// A zero config is invalid: Validate must say so, naming keys.
		if err := mk().Validate(); err == nil {
			t.Fatalf("%s: empty config validated", name)
		}
	}
}

// TestDependencyDirection enforces DESIGN.md: connectors import nothing of the
// bridge or the store, and filter imports nothing of the project.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/scim-bridge/scim-bridge/"
	check := func(dir string, forbidden ...string) {
		pkg, err := build.Default.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range append(pkg.Imports, pkg.TestImports...) {
			for _, f := range forbidden {
				if strings.HasPrefix(imp, mod+f) {
					t.Errorf("%s imports %s", dir, imp)
				}
			}
		}
	}
	for _, d := range []string{"..", "../bimdata", "../bimdata/fake", "../bimplus", "../bimplus/fake",
		"../authress", "../authress/fake", "../scim", "../scim/fake", "../conntest", "../fakeserver", "."} {
		check(d, "bridge", "store", "filter", "cmd")
	}
	// The shared fake-server machinery is for the fakes only, never an adapter's code.
	for _, d := range []string{"..", "../bimdata", "../bimplus", "../authress", "../scim", "../conntest", "."} {
		check(d, "connectors/fakeserver")
	}
	check("../fakeserver", "connectors/bimdata", "connectors/bimplus", "connectors/authress", "connectors/scim")
	check("../../filter", "bridge", "store", "connectors", "cmd")
	check("../../store", "bridge", "connectors", "cmd")
}
