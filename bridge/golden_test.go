package bridge

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge/config"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/internal/jwkstest"
)

// goldenStep is one request/response pair of a recorded IdP conversation
// (testdata/README.md describes the format).
type goldenStep struct {
	Name       string            `json:"name"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Headers    map[string]string `json:"headers"`
	Request    json.RawMessage   `json:"request"`
	StatusCode int               `json:"statusCode"`
	Response   any               `json:"response"`
	Capture    map[string]string `json:"capture"`
}

var placeholder = regexp.MustCompile(`\{\{([A-Za-z0-9_]+)\}\}`)

// TestGoldenConversations replays the Okta and Entra conversations of testdata/
// through the real server on both store backends.
func TestGoldenConversations(t *testing.T) {
	files, err := filepath.Glob("../testdata/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden conversations found: %v", err)
	}
	sort.Strings(files)
	backends(t, func(t *testing.T, url string) {
		for _, f := range files {
			rel, _ := filepath.Rel("../testdata", f)
			if strings.HasPrefix(rel, "config") {
				continue
			}
			t.Run(rel, func(t *testing.T) {
				var mutate []func(*Options)
				if strings.Contains(rel, "extension") {
					mutate = append(mutate, withConfigExtensions(t, "extensions.yaml"))
				}
				ts := newTestServer(t, url, mutate...)
				replay(t, ts, f)
			})
		}
	})
}

// withConfigExtensions gives the tenants named (by default the first tenant of
// the file, acme) the schema extensions the first tenant of
// testdata/config/<file> declares, read as the binary reads them.
func withConfigExtensions(t *testing.T, file string, tenants ...string) func(*Options) {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "testdata", "config", file), func(string) string { return "" }, map[string]func() connectors.Config{})
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	user, group, err := cfg.Tenants[0].Extensions()
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) == 0 {
		tenants = []string{cfg.Tenants[0].ID}
	}
	return func(o *Options) {
		for i := range o.Tenants {
			if slices.Contains(tenants, o.Tenants[i].ID) {
				o.Tenants[i].UserExtensions, o.Tenants[i].GroupExtensions = user, group
			}
		}
	}
}

func replay(t *testing.T, ts *testServer, file string) {
	replayAs(t, ts, file, "Bearer "+testToken)
}

// TestGoldenConversationsAuth replays the Okta conversations with HTTP Basic
// (Okta's "Basic Auth" option) and the Entra conversations with a JWT Entra
// would issue, signed by a key the bridge fetches from a local JWKS server.
func TestGoldenConversationsAuth(t *testing.T) {
	t.Parallel()
	for _, idp := range []string{"okta", "entra"} {
		files, err := filepath.Glob("../testdata/" + idp + "/*.json")
		if err != nil || len(files) == 0 {
			t.Fatalf("no %s conversations: %v", idp, err)
		}
		sort.Strings(files)
		backends(t, func(t *testing.T, url string) {
			for _, f := range files {
				t.Run(filepath.Base(f), func(t *testing.T) {
					var mutate []func(*Options)
					if strings.Contains(f, "extension") {
						mutate = append(mutate, withConfigExtensions(t, "extensions.yaml", "acme", "contoso"))
					}
					as := newAuthServer(t, url, mutate...)
					authz := basicAuth(basicUser, basicPassword)
					if idp == "entra" {
						authz = "Bearer " + as.jwt(t, jwkstest.Keys()[0], "k1", validEntraClaims(as.clock.Now()))
					}
					replayAs(t, as.testServer, f, authz)
					as.checkNoSecrets(t)
				})
			}
		})
	}
}

// replayAs replays a conversation with the Authorization header authz.
func replayAs(t *testing.T, ts *testServer, file, authz string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var steps []goldenStep
	if err := json.Unmarshal(data, &steps); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	vars := map[string]string{}
	expand := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-2]
			if v, ok := vars[name]; ok {
				return v
			}
			return m
		})
	}
	for i, st := range steps {
		var body any
		if len(st.Request) > 0 {
			body = []byte(expand(string(st.Request)))
		}
		hdrs := []string{"Authorization", authz}
		for k, v := range st.Headers {
			hdrs = append(hdrs, k, expand(v))
		}
		status, _, got := ts.do("", st.Method, expand(st.Path), body, hdrs...)
		if status != st.StatusCode {
			t.Fatalf("step %d %q: %s %s: status %d, want %d; body %v", i, st.Name, st.Method, st.Path, status, st.StatusCode, got)
		}
		if st.Response != nil {
			if err := subsetMatch("", st.Response, got, vars); err != nil {
				pretty, _ := json.MarshalIndent(got, "", "  ")
				t.Fatalf("step %d %q: %v\nresponse: %s", i, st.Name, err, pretty)
			}
		}
		for name, path := range st.Capture {
			v := lookupPath(got, path)
			s, ok := v.(string)
			if !ok {
				t.Fatalf("step %d %q: capture %s: %s is %v", i, st.Name, name, path, v)
			}
			vars[name] = s
		}
	}
}

func lookupPath(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// subsetMatch checks that every key of want is in got with a matching value.
func subsetMatch(at string, want, got any, vars map[string]string) error {
	if s, ok := want.(string); ok {
		switch {
		case s == "{{any}}":
			if got == nil {
				return fmt.Errorf("%s: missing", at)
			}
			return nil
		case placeholder.MatchString(s):
			s = placeholder.ReplaceAllStringFunc(s, func(m string) string { return vars[m[2:len(m)-2]] })
		}
		if got != s {
			return fmt.Errorf("%s: got %v, want %q", at, got, s)
		}
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %T, want an object", at, got)
		}
		for k, wv := range w {
			gv, present := g[k]
			if wv == "{{absent}}" {
				if present {
					return fmt.Errorf("%s.%s: present (%v), want absent", at, k, gv)
				}
				continue
			}
			if !present {
				return fmt.Errorf("%s.%s: missing", at, k)
			}
			if err := subsetMatch(at+"."+k, wv, gv, vars); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: got %T, want an array", at, got)
		}
		if len(g) != len(w) {
			return fmt.Errorf("%s: got %d elements, want %d", at, len(g), len(w))
		}
		for i := range w {
			if err := subsetMatch(fmt.Sprintf("%s[%d]", at, i), w[i], g[i], vars); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%s: got %v, want %v", at, got, want)
	}
	return nil
}
