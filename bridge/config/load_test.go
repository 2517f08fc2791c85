package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/connectors/registry"
)

// anyEnv sets every variable a file may reference to a value of its own
// (long enough for a token), and no SCIM_BRIDGE_* override.
func anyEnv(name string) string {
	if strings.HasPrefix(name, envPrefix) {
		return ""
	}
	return "value-of-" + strings.ToLower(name) + "-0123456789"
}

// TestLoadEveryTestdataFile loads every file of testdata/config with the
// built-in connectors: the examples load, the files under invalid/ fail, and
// each of their problems names the file, a line and (but for a syntax error)
// a key.
func TestLoadEveryTestdataFile(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "testdata", "config")
	var valid, invalid int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		bad := strings.Contains(filepath.ToSlash(path), "/invalid/")
		if bad {
			invalid++
		} else {
			valid++
		}
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			if bad {
				_, err := Load(path, nil, registry.Builtin())
				assertLocated(t, path, err)
				return
			}
			cfg, err := Load(path, anyEnv, registry.Builtin())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, tc := range cfg.Tenants {
				for _, cc := range tc.Connectors {
					if cc.Config == nil || cc.Line == 0 {
						t.Errorf("tenant %s connector %s: config %v, line %d", tc.ID, cc.Name, cc.Config, cc.Line)
					}
				}
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if valid < 2 || invalid < 3 {
		t.Fatalf("found %d valid and %d invalid files, want the examples", valid, invalid)
	}
}

// assertLocated checks that err holds problems, each naming the file, a line
// and (but for a syntax error) a key.
func assertLocated(t *testing.T, path string, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Load succeeded")
	}
	problems := Errors(err)
	if len(problems) == 0 {
		t.Fatalf("no *Error in %v", err)
	}
	for _, p := range problems {
		if p.File != path || p.Line <= 0 || (p.Key == "" && !strings.HasPrefix(p.Msg, "syntax error: ")) {
			t.Errorf("%q: file %q, line %d, key %q", p, p.File, p.Line, p.Key)
		}
		if !strings.HasPrefix(p.Error(), path+":") {
			t.Errorf("%q does not start with the file name", p)
		}
	}
}

// TestErrorLocation checks that each kind of problem is reported once, at its
// line and key path, with the built-in connectors.
func TestErrorLocation(t *testing.T) {
	t.Parallel()
	const tenant = `tenants:
  - id: acme
    scim_tokens: ["acme-token-0123456789"]
    connectors:
      - name: odm
        type: scim
        url: http://127.0.0.1:9004
        token: odm-token
`
	tests := []struct {
		name string
		yaml string
		line int
		key  string
		msg  string
	}{
		{"unknown top-level key", "listen: 127.0.0.1:1\nworkrs: 3\n" + tenant, 2, "workrs", `unknown key (did you mean "workers"?)`},
		{"unknown key in a tenant", tenant + "    reconcile: 1h\n", 9, "tenants[0].reconcile", "unknown key"},
		{"unknown key in a connector", tenant + "        prune: true\n        matchby: email\n", 10, "tenants[0].connectors[0].matchby", `unknown key (did you mean "match_by"?)`},
		{"wrong type", "workers: many\n" + tenant, 1, "workers", "must be an integer"},
		{"wrong kind", tenant + "    deletion_threshold: [1]\n", 9, "tenants[0].deletion_threshold", "must be an integer, not a list"},
		{"wrong type in a connector", tenant + "        prune: maybe\n", 9, "tenants[0].connectors[0].prune", "must be a boolean (true or false)"},
		{"bad duration", tenant + "    reconcile_every: 1 hour\n", 9, "tenants[0].reconcile_every", "must be a duration such as 30m or 1h"},
		{"negative duration", tenant + "    reconcile_every: -5m\n", 9, "tenants[0].reconcile_every", "must not be negative"},
		{"bad public URL", "public_url: scim.example.com/v2\n" + tenant, 1, "public_url", "must be an absolute http(s) URL, e.g. https://scim.example.com/scim/v2"},
		{"bad Redis URL", "redis: http://cache:6379\n" + tenant, 1, "redis", "the scheme must be redis://, rediss:// or unix:// (empty: embedded store)"},
		{"bad connector URL", strings.Replace(tenant, "http://127.0.0.1:9004", "ftp://127.0.0.1:9004", 1), 7, "tenants[0].connectors[0].url", ""},
		{"missing tenant id", "tenants:\n  - scim_tokens: [\"acme-token-0123456789\"]\n", 2, "tenants[0].id", "is required"},
		{"missing tokens", "tenants:\n  - id: acme\n", 2, "tenants[0].scim_tokens", "at least one credential is required: scim_tokens, basic_auth or entra"},
		{"missing connector type", strings.Replace(tenant, "        type: scim\n", "", 1), 5, "tenants[0].connectors[0].type", "is required (one of: authress, bimdata, bimplus, scim)"},
		{"missing connector url", strings.Replace(tenant, "        url: http://127.0.0.1:9004\n", "", 1), 5, "tenants[0].connectors[0].url", "is required"},
		{"duplicate connector name", tenant + "      - name: ODM\n        type: scim\n        url: http://127.0.0.1:9005\n        token: odm-token\n", 9, "tenants[0].connectors[1].name",
			`duplicate connector name "ODM" in this tenant (first at line 5; names are compared ignoring case)`},
		{"duplicate key", tenant + "    id: beta\n", 9, "tenants[0].id", "duplicate key (first at line 2)"},
		{"unknown connector type", strings.Replace(tenant, "type: scim", "type: sap", 1), 6, "tenants[0].connectors[0].type", `unknown connector type "sap" (known: authress, bimdata, bimplus, scim)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadBytes("bridge.yaml", []byte(tc.yaml), nil, registry.Builtin())
			problems := Errors(err)
			if len(problems) != 1 {
				t.Fatalf("want one problem, got %d: %v", len(problems), err)
			}
			p := problems[0]
			if p.File != "bridge.yaml" || p.Line != tc.line || p.Key != tc.key || p.Env != "" {
				t.Errorf("got %s:%d: %s (env %q), want bridge.yaml:%d: %s", p.File, p.Line, p.Key, p.Env, tc.line, tc.key)
			}
			if tc.msg != "" && p.Msg != tc.msg {
				t.Errorf("message %q, want %q", p.Msg, tc.msg)
			}
			if p.Msg == "" {
				t.Error("empty message")
			}
			if !errors.As(err, new(*Error)) {
				t.Error("errors.As finds no *Error")
			}
		})
	}
}

// TestSyntaxErrorLine checks that a syntax error is reported at the line
// where the file stops being YAML, also after valid constructs spanning
// several lines and in a second document.
func TestSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		yaml string
		line int
	}{
		{"listen: @x\n", 1},
		{"listen: a\nlog:\n  level: info\n   format: json\n", 4},
		{"listen: a\nredis: \"\"\nworkers: [1,\n  2]\nlog: {level: info,\n  format: json}\nx: y: z\n", 7},
		{"listen: a\nb:\n\t- x\n", 3},
		{"listen: a\ntenants:\n  - 1\n  b: 2\n", 4},
		{"listen: a\n---\nb: [\n", 3},
		{"listen: &x a\nredis: *y\n", 2},
		{"listen: a\nlog: {level: info\nworkers: 2\nredis: x\n", 2}, // the unclosed mapping
		{"listen: a\nredis: \"abc\nworkers: 2\n", 2},                // the unclosed quote
		{"listen: a\nworkers: 1\n\n\n# comment\nx: [\n", 6},
	}
	for _, tc := range tests {
		_, err := LoadBytes("b.yaml", []byte(tc.yaml), nil, nil)
		problems := Errors(err)
		if len(problems) != 1 || problems[0].Line != tc.line || problems[0].Key != "" || !strings.HasPrefix(problems[0].Msg, "syntax error: ") {
			t.Errorf("%q: got %v, want one syntax error at line %d", tc.yaml, err, tc.line)
			continue
		}
		if strings.Contains(problems[0].Msg, "yaml:") || strings.Contains(problems[0].Msg, "line ") {
			t.Errorf("%q: message %q keeps the library's framing", tc.yaml, problems[0].Msg)
		}
	}
}

func TestYAMLProblem(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"yaml: line 3: did not find expected key": "did not find expected key",
		"yaml: found unexpected end of stream":    "found unexpected end of stream",
		"yaml: line x: odd":                       "line x: odd",
		"some other wording":                      "some other wording",
	} {
		if got := yamlProblem(errors.New(in)); got != want {
			t.Errorf("yamlProblem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRulesNameKeys checks that every rule's key path names a key of Config,
// so that a typo in the table fails here rather than when a file is loaded.
func TestRulesNameKeys(t *testing.T) {
	t.Parallel()
	c := Default()
	c.AdminToken = auth.Token{Value: "admin-token-0123456789"}
	c.AuthLimit.Exempt = []string{"10.0.0.0/8"}
	c.AuthLimit.TrustedProxies = []string{"10.1.0.0/16"}
	c.LocationProxies = []string{"10.2.0.0/16"}
	c.Tenants = []Tenant{{ID: "a", Credentials: auth.Credentials{Tokens: []auth.Token{{Value: "a-token-0123456789"}}}, Connectors: []Connector{{Name: "x", Type: "scim"}}}}
	run := &validation{l: newLoader("b.yaml", nil, nil), root: reflect.ValueOf(c).Elem(), sets: map[string]map[string]string{}}
	for _, r := range rules() {
		n := 0
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("rule %s: %v", r.key, p)
				}
			}()
			run.each(r.key, func(string, reflect.Value) { n++ })
		}()
		if n == 0 {
			t.Errorf("rule %s matches no key", r.key)
		}
		if r.check == nil || r.msg == "" {
			t.Errorf("rule %s: no check or no message", r.key)
		}
	}
}

// TestEnvOverrideNames pins the SCIM_BRIDGE_* variables (a public contract).
func TestEnvOverrideNames(t *testing.T) {
	t.Parallel()
	var got []string
	for _, o := range envOverrides() {
		got = append(got, o.name+"="+o.path)
	}
	want := []string{
		"SCIM_BRIDGE_LISTEN=listen", "SCIM_BRIDGE_REDIS=redis", "SCIM_BRIDGE_PUBLIC_URL=public_url",
		"SCIM_BRIDGE_MAX_BODY_BYTES=max_body_bytes", "SCIM_BRIDGE_MAX_RESULTS=max_results",
		"SCIM_BRIDGE_WORKERS=workers", "SCIM_BRIDGE_MAX_CONCURRENT_REQUESTS=max_concurrent_requests",
		"SCIM_BRIDGE_CURSOR_SECRET=cursor_secret",
		"SCIM_BRIDGE_CURSOR_TIMEOUT=cursor_timeout", "SCIM_BRIDGE_BULK_MAX_OPERATIONS=bulk_max_operations",
		"SCIM_BRIDGE_BULK_MAX_PAYLOAD_BYTES=bulk_max_payload_bytes", "SCIM_BRIDGE_SETTLE=settle",
		"SCIM_BRIDGE_SETTLE_MAX=settle_max", "SCIM_BRIDGE_ADMIN_TOKEN=admin_token",
		"SCIM_BRIDGE_AUTH_LIMIT_MAX_FAILURES=auth_limit.max_failures", "SCIM_BRIDGE_AUTH_LIMIT_WINDOW=auth_limit.window",
		"SCIM_BRIDGE_ADMIN_READ_TOKEN=admin_read_token",
		"SCIM_BRIDGE_AUDIT_MAX_LEN=audit.max_len", "SCIM_BRIDGE_AUDIT_MAX_AGE=audit.max_age",
		"SCIM_BRIDGE_AUDIT_REDACT_PERSONAL=audit.redact_personal",
		"SCIM_BRIDGE_LOG_LEVEL=log.level", "SCIM_BRIDGE_LOG_FORMAT=log.format",
	}
	if !slices.Equal(got, want) {
		t.Errorf("overrides:\n%v\nwant:\n%v", got, want)
	}
}

func TestEnvOverrideLocation(t *testing.T) {
	t.Parallel()
	_, err := LoadBytes("b.yaml", []byte("log:\n  level: info\n"), envFunc(map[string]string{"SCIM_BRIDGE_LOG_LEVEL": "loud"}), nil)
	problems := Errors(err)
	if len(problems) != 1 || problems[0].Env != "SCIM_BRIDGE_LOG_LEVEL" || problems[0].Key != "log.level" || problems[0].Line != 0 {
		t.Fatalf("got %v", err)
	}
}

func TestErrorsOfOtherErrors(t *testing.T) {
	t.Parallel()
	if Errors(nil) != nil || Errors(errors.New("x")) != nil {
		t.Error("Errors found problems in errors that hold none")
	}
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil, nil)
	if Errors(err) != nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestSecretTag checks that a value under a key tagged config:"secret" never
// appears in a message, even quoted by a connector.
func TestSecretTag(t *testing.T) {
	t.Parallel()
	const tok = "tok en-0123456789" // a token no word rule would catch
	_, err := LoadBytes("b.yaml", []byte("admin_token: \"x"+tok+"\"\ntenants:\n  - id: a\n    scim_tokens: [\""+tok+"\"]\n  - id: b\n    scim_tokens: [\""+tok+"\"]\n"), nil, nil)
	if err == nil || strings.Contains(err.Error(), tok) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "b.yaml:6: tenants[1].scim_tokens[0]: this token is also a token at tenants[0].scim_tokens[0] (line 4)") {
		t.Errorf("got %v", err)
	}
}

// TestSecretTagOnAnyKey checks that config:"secret" marks a key, and every
// item below it, as a credential whatever its name.
func TestSecretTagOnAnyKey(t *testing.T) {
	t.Parallel()
	type entry struct {
		Name  string   `yaml:"name"`
		Value string   `yaml:"value" config:"secret"`
		Pins  []string `yaml:"pins" config:"secret"`
	}
	var got struct {
		Entries []entry `yaml:"entries"`
	}
	l := newLoader("b.yaml", nil, nil)
	root := l.parse([]byte("entries:\n  - name: first\n    value: hunter2-value\n    pins: [pin-0123, pin-4567]\n"))
	l.decodeStruct(root, reflect.ValueOf(&got).Elem(), "", nil)
	if err := l.result(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hunter2-value", "pin-0123", "pin-4567"} {
		if !l.secrets[s] {
			t.Errorf("%q is not a secret", s)
		}
	}
	if l.secrets["first"] {
		t.Error("a name became a secret")
	}
}

// TestEntryNotAMapping checks that an entry that is not a mapping is reported
// once, without the rules of its keys piling up.
func TestEntryNotAMapping(t *testing.T) {
	t.Parallel()
	_, err := LoadBytes("b.yaml", []byte("tenants:\n  - acme\n"), nil, nil)
	if got := err.Error(); got != "b.yaml:2: tenants[0]: must be a mapping, not a string" {
		t.Errorf("got %q", got)
	}
}
