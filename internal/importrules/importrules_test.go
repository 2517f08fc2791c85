package importrules

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// rule says which packages of the module the packages under prefix may import.
// A prefix names a package and every package below it. The most specific rule
// (longest prefix) applies.
type rule struct {
	prefix string
	may    []string
	why    string
}

var rules = []rule{
	{"cmd", []string{"bridge", "connectors", "store", "filter"}, "the binary: commands and flags, wiring everything"},
	{"bridge", []string{"bridge", "connectors", "store", "filter"}, "the composition root over bridge/*"},
	// A sub-package of bridge may use its siblings (admin reads reconcile's
	// plan types) and bridge/internal, never the root that wires it.
	{"bridge/admin", bridgeSub, "admin API"},
	{"bridge/fanout", bridgeSub, "queue consumer and convergence"},
	{"bridge/metrics", bridgeSub, "Prometheus series"},
	{"bridge/reconcile", bridgeSub, "reconciliation"},
	{"bridge/scimapi", bridgeSub, "SCIM endpoint"},
	{"bridge/webhook", bridgeSub, "webhook receiver"},
	{"bridge/internal", []string{"bridge/internal", "connectors", "store", "filter"}, "pieces shared by the bridge's concerns"},
	{"bridge/config", append([]string{"bridge/config", "bridge/auth"}, bridgeLeaves...), "configuration"},
	{"bridge/auth", []string{"bridge/auth"}, "credentials and their checks"},
	{"connectors", []string{"connectors", "filter"}, "adapters know nothing of Redis or the SCIM endpoint"},
	{"store", []string{"store", "filter"}, "persistence knows nothing of HTTP or connectors"},
	{"filter", []string{"filter"}, "SCIM semantics on plain resources"},
	{"internal", nil, "leaf packages the tests share"},
}

var (
	bridgeLeaves = []string{"connectors", "store", "filter"}
	bridgeSub    = []string{
		"bridge/admin", "bridge/fanout", "bridge/metrics", "bridge/reconcile", "bridge/scimapi",
		"bridge/webhook", "bridge/internal", "bridge/config", "bridge/auth", "connectors", "store", "filter",
	}
	// testOnly may be imported by any package's tests, and only by tests.
	testOnly = []string{"internal/fakeclock", "internal/jwkstest", "bridge/internal/fakeconn"}
)

// under reports whether pkg is prefix or below it.
func under(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

// ruleFor returns the most specific rule covering pkg.
func ruleFor(pkg string) (rule, bool) {
	var best rule
	found := false
	for _, r := range rules {
		if under(pkg, r.prefix) && (!found || len(r.prefix) > len(best.prefix)) {
			best, found = r, true
		}
	}
	return best, found
}

// check returns why pkg may not import dep ("" when it may). Both are paths
// relative to the module. test says the import is made by a _test.go file.
func check(pkg, dep string, test bool) string {
	r, ok := ruleFor(pkg)
	if !ok {
		return fmt.Sprintf("package %s is under no import rule: place it in importrules_test.go", pkg)
	}
	if under(dep, pkg) {
		return "" // a package's own sub-packages (e.g. connectors/bimdata/fake)
	}
	for _, t := range testOnly {
		if under(dep, t) {
			if test {
				return ""
			}
			return fmt.Sprintf("%s imports %s, which only tests may import", pkg, dep)
		}
	}
	if under(dep, "cmd") {
		return fmt.Sprintf("%s imports %s: nothing imports the binary", pkg, dep)
	}
	if pkg != "bridge" && !under(pkg, "cmd") && dep == "bridge" {
		return fmt.Sprintf("%s imports bridge: a sub-package must not reach up to the root that wires it", pkg)
	}
	for _, m := range r.may {
		if under(dep, m) {
			return ""
		}
	}
	return fmt.Sprintf("%s imports %s; %s (%s) may import only %v", pkg, dep, r.prefix, r.why, r.may)
}

// imports lists, per package of the module (relative path), the module's
// packages its files import, apart for non-test and _test.go files.
type imports struct {
	code, tests map[string]bool
}

func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(sc.Text(), "module "); ok {
					f.Close()
					return dir, strings.TrimSpace(m)
				}
			}
			f.Close()
			t.Fatalf("go.mod in %s names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// scan parses the imports of every Go file of the module.
func scan(t *testing.T) map[string]*imports {
	t.Helper()
	root, module := moduleRoot(t)
	pkgs := map[string]*imports{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			if p != root {
				// A folder with a go.mod of its own (deploy/) is another module.
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		im := pkgs[pkg]
		if im == nil {
			im = &imports{code: map[string]bool{}, tests: map[string]bool{}}
			pkgs[pkg] = im
		}
		for _, spec := range f.Imports {
			ip, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", p, spec.Path.Value, err)
			}
			dep, ok := strings.CutPrefix(ip, module+"/")
			if !ok {
				continue
			}
			if strings.HasSuffix(name, "_test.go") {
				im.tests[dep] = true
			} else {
				im.code[dep] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no Go package found")
	}
	return pkgs
}

func TestImportDirection(t *testing.T) {
	var problems []string
	for pkg, im := range scan(t) {
		if pkg == "." {
			problems = append(problems, "a Go file at the module root: every package lives in a folder with a rule")
			continue
		}
		if _, ok := ruleFor(pkg); !ok {
			problems = append(problems, check(pkg, "", false))
			continue
		}
		for dep := range im.code {
			if p := check(pkg, dep, false); p != "" {
				problems = append(problems, p)
			}
		}
		for dep := range im.tests {
			if p := check(pkg, dep, true); p != "" {
				problems = append(problems, p+" (in a test)")
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestRules checks the rules themselves on the cases the design names, so a
// loosened rule fails here even while no package breaks it yet.
func TestRules(t *testing.T) {
	cases := []struct {
		pkg, dep string
		test, ok bool
	}{
		{"cmd/scim-bridge", "bridge", false, true},
		{"cmd/scim-bridge", "bridge/reconcile", false, true},
		{"bridge", "bridge/scimapi", false, true},
		{"bridge", "cmd/scim-bridge", false, false},
		{"bridge/fanout", "bridge", false, false},
		{"bridge/fanout", "bridge", true, false},
		{"bridge/admin", "bridge/reconcile", false, true},
		{"bridge/webhook", "bridge/internal/tenant", false, true},
		{"bridge/internal/subject", "bridge/fanout", false, false},
		{"bridge/fanout", "connectors", false, true},
		{"bridge/scimapi", "store", false, true},
		{"connectors", "store", false, false},
		{"connectors/bimdata", "store", true, false},
		{"connectors/bimdata", "bridge", false, false},
		{"connectors/bimdata", "connectors/bimdata/fake", false, true},
		{"connectors/scim/fake", "filter", false, true},
		{"store", "filter", false, true},
		{"store", "connectors", false, false},
		{"store", "bridge", false, false},
		{"filter", "store", false, false},
		{"filter", "connectors", false, false},
		{"store", "internal/fakeclock", true, true},
		{"bridge", "bridge/internal/fakeconn", true, true},
		{"bridge/fanout", "bridge/internal/fakeconn", false, false},
		{"store", "internal/fakeclock", false, false},
		{"internal/fakeclock", "filter", false, false},
		{"newfolder", "filter", false, false},
	}
	for _, c := range cases {
		got := check(c.pkg, c.dep, c.test) == ""
		if got != c.ok {
			t.Errorf("check(%q imports %q, test=%v) allowed=%v, want %v", c.pkg, c.dep, c.test, got, c.ok)
		}
	}
	// Every rule's allowed prefixes must exist as rules themselves (no typos).
	for _, r := range rules {
		for _, m := range r.may {
			if _, ok := ruleFor(m); !ok {
				t.Errorf("rule %s allows %s, which no rule covers", r.prefix, m)
			}
		}
	}
}
