package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/connectors"
)

// fakeConfig is a connector configuration shaped like the real adapters'
// (Base inline plus nested keys), so that the DESIGN example decodes strictly.
type fakeConfig struct {
	connectors.Base `yaml:",inline"`
	Team            string                `yaml:"team"`
	Groups          map[string][]fakeRole `yaml:"groups"`
	Connection      *fakeConnection       `yaml:"connection"`
}

type fakeRole struct {
	Project string `yaml:"project"`
	Role    string `yaml:"role"`
}

type fakeConnection struct {
	Type              string `yaml:"type"`
	AuthenticationURL string `yaml:"authenticationUrl"`
	TokenURL          string `yaml:"tokenUrl"`
	ClientID          string `yaml:"clientId"`
	ClientSecret      string `yaml:"clientSecret"`
}

// Validate demands url, a clientId when a connection is given, and Project_*
// roles. A token starting with "leak-" makes it misbehave and quote the token,
// which the loader must redact.
func (c *fakeConfig) Validate() error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &connectors.FieldError{Key: key, Msg: msg}) }
	if c.URL == "" {
		bad("url", "is required")
	}
	if c.Connection != nil && c.Connection.ClientID == "" {
		bad("connection.clientId", "is required")
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range c.Groups {
			if !yield(k) {
				return
			}
		}
	}) {
		for i, r := range c.Groups[name] {
			if !strings.HasPrefix(r.Role, "Project_") {
				bad(fmt.Sprintf("groups[%q][%d].role", name, i), "must be a Project_* role")
			}
		}
	}
	if strings.HasPrefix(c.Token, "leak-") {
		bad("token", "rejected token "+c.Token)
	}
	return errors.Join(errs...)
}

func (c *fakeConfig) Open(context.Context, connectors.Deps) (connectors.Connector, error) {
	return nil, errors.New("fake connector config: not openable")
}

// bareConfig has no Base: name and type must still be accepted.
type bareConfig struct {
	URL string `yaml:"url"`
}

func (c *bareConfig) Validate() error {
	if c.URL == "" {
		return &connectors.FieldError{Key: "url", Msg: "is required"}
	}
	return nil
}

func (c *bareConfig) Open(context.Context, connectors.Deps) (connectors.Connector, error) {
	return nil, errors.New("bare connector config: not openable")
}

func testRegistry() map[string]func() connectors.Config {
	fake := func() connectors.Config { return &fakeConfig{} }
	return map[string]func() connectors.Config{
		"bimdata": fake, "bimplus": fake, "authress": fake, "scim": fake,
		"bare": func() connectors.Config { return &bareConfig{} },
	}
}

const knownTypes = "authress, bare, bimdata, bimplus, scim"

// exampleEnv is the environment of the DESIGN example; every value is a secret.
var exampleEnv = map[string]string{
	"ACME_SCIM_TOKEN":        "acme-scim-SECRET-0123456789",
	"BIMDATA_TOKEN":          "bimdata-SECRET-token",
	"BIMDATA_WEBHOOK_SECRET": "bimdata-SECRET-webhook",
	"BIMPLUS_TOKEN":          "bimplus-SECRET-token",
	"AUTHRESS_KEY":           "authress-SECRET-key",
	"OKTA_CLIENT_SECRET":     "okta-SECRET-client",
	"ODM_TOKEN":              "odm-SECRET-token",
}

func envFunc(envs ...map[string]string) func(string) string {
	return func(k string) string {
		for _, e := range envs {
			if v, ok := e[k]; ok {
				return v
			}
		}
		return ""
	}
}

func exampleFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join("..", "..", "testdata", "config", name)
}

func TestLoadDesignExample(t *testing.T) {
	t.Parallel()
	cfg, err := Load(exampleFile(t, "bridge.example.yaml"), envFunc(exampleEnv), testRegistry())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	base := func(name, typ, url, token string) connectors.Base {
		return connectors.Base{Name: name, Type: typ, URL: url, Token: token}
	}
	bimdata := base("bimdata", "bimdata", "http://127.0.0.1:9001", exampleEnv["BIMDATA_TOKEN"])
	bimdata.WebhookSecret = exampleEnv["BIMDATA_WEBHOOK_SECRET"]
	want := &Config{
		Listen:                "127.0.0.1:8080",
		Redis:                 "",
		MaxBodyBytes:          1 << 20,
		MaxResults:            1000,
		Workers:               32,
		MaxConcurrentRequests: DefaultMaxConcurrentRequests,
		Settle:                DefaultSettle, SettleMax: DefaultSettleMax,
		AuthLimit:     AuthLimit{MaxFailures: 10, Window: Duration(time.Minute)},
		Log:           Log{Level: "info", Format: "json"},
		CursorTimeout: DefaultCursorTimeout, BulkMaxOperations: DefaultBulkMaxOperations,
		BulkMaxPayloadBytes: DefaultBulkMaxPayloadBytes,
		Tenants: []Tenant{{
			ID:                "acme",
			Credentials:       auth.Credentials{Tokens: []auth.Token{plainToken(exampleEnv["ACME_SCIM_TOKEN"])}},
			ReconcileEvery:    Duration(time.Hour),
			DeletionThreshold: 500,
			Settle:            DefaultSettle,
			SettleMax:         DefaultSettleMax,
			Line:              44,
			Connectors: []Connector{
				{Name: "bimdata", Type: "bimdata", Line: 48, Config: &fakeConfig{Base: bimdata}},
				{Name: "bimplus", Type: "bimplus", Line: 53, Config: &fakeConfig{
					Base: base("bimplus", "bimplus", "http://127.0.0.1:9002/v2", exampleEnv["BIMPLUS_TOKEN"]),
					Team: "acme",
					Groups: map[string][]fakeRole{
						"Design Team": {{Project: "b8615afc-99cc-4bcd-b0ca-ff0593ce15c6", Role: "Project_Editor"}},
					},
				}},
				{Name: "authress", Type: "authress", Line: 60, Config: &fakeConfig{
					Base: base("authress", "authress", "http://127.0.0.1:9003", exampleEnv["AUTHRESS_KEY"]),
					Connection: &fakeConnection{
						Type:              "oauth2",
						AuthenticationURL: "https://acme.okta.com/oauth2/v1/authorize",
						TokenURL:          "https://acme.okta.com/oauth2/v1/token",
						ClientID:          "abc",
						ClientSecret:      exampleEnv["OKTA_CLIENT_SECRET"],
					},
				}},
				{Name: "odm", Type: "scim", Line: 70, Config: &fakeConfig{
					Base: base("odm", "scim", "http://127.0.0.1:9004/api/v1/scim", exampleEnv["ODM_TOKEN"]),
				}},
			},
		}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", cfg, want)
		for i := range min(len(cfg.Tenants), len(want.Tenants)) {
			for j := range min(len(cfg.Tenants[i].Connectors), len(want.Tenants[i].Connectors)) {
				g, w := cfg.Tenants[i].Connectors[j], want.Tenants[i].Connectors[j]
				if !reflect.DeepEqual(g, w) {
					t.Errorf("connector %d: got %+v / %+v, want %+v / %+v", j, g, g.Config, w, w.Config)
				}
			}
		}
	}
}

func TestLoadMinimalAndDefault(t *testing.T) {
	t.Parallel()
	cfg, err := Load(exampleFile(t, "minimal.yaml"), envFunc(map[string]string{"DEMO_SCIM_TOKEN": "demo-token-0123456789"}), testRegistry())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Default()
	want.Tenants = []Tenant{{ID: "demo", Credentials: auth.Credentials{Tokens: []auth.Token{plainToken("demo-token-0123456789")}}, DeletionThreshold: DefaultDeletionThreshold,
		Settle: DefaultSettle, SettleMax: DefaultSettleMax, Line: 4}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	d := Default()
	if d.Listen != "127.0.0.1:8080" || d.MaxBodyBytes != 1<<20 || d.MaxResults != 1000 || d.Workers != 32 ||
		d.Log != (Log{Level: "info", Format: "json"}) || d.Redis != "" || d.AdminCredentials() != nil || d.Tenants != nil {
		t.Errorf("Default() = %+v", d)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, testRegistry())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		cfg, err := LoadBytes("b.yaml", []byte(data), nil, nil)
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if !reflect.DeepEqual(cfg, Default()) {
			t.Errorf("%q: got %+v, want the defaults", data, cfg)
		}
	}
}

// A valid tenant block to append to cases that test something else.
const okTenant = `tenants:
  - id: acme
    scim_tokens: ["acme-token-0123456789"]
`

func TestLoadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "expansion inside a longer value and $$ escape",
			yaml: `admin_token: "pa$$word-${ADMIN_SUFFIX}"
redis: "redis://:${REDIS_PASSWORD}@redis.internal:6379/2"
public_url: https://scim.example.com/scim/v2/
` + okTenant,
			env: map[string]string{"ADMIN_SUFFIX": "0123456789abcdef", "REDIS_PASSWORD": "hunter2-redis"},
			check: func(t *testing.T, c *Config) {
				if c.AdminToken.Value != "pa$word-0123456789abcdef" {
					t.Errorf("admin_token = %q", c.AdminToken.Value)
				}
				if c.Redis != "redis://:hunter2-redis@redis.internal:6379/2" {
					t.Errorf("redis = %q", c.Redis)
				}
				if c.PublicURL != "https://scim.example.com/scim/v2" {
					t.Errorf("public_url = %q, want it without the trailing slash", c.PublicURL)
				}
			},
		},
		{
			name: "quoted references fill integer keys; string keys keep the text",
			yaml: `workers: "${WORKERS}"
max_body_bytes: ${BODY}
tenants:
  - id: acme
    scim_tokens: ["${NUMERIC_TOKEN}"]
    deletion_threshold: "${THRESHOLD}"
    connectors:
      - name: odm
        type: scim
        url: http://127.0.0.1:9004
        team: "${TEAM}"
        token: "$HOME-is-not-a-reference"
`,
			env: map[string]string{"WORKERS": "12", "BODY": "2048", "NUMERIC_TOKEN": "00012345678901234567890", "THRESHOLD": "7", "TEAM": "null"},
			check: func(t *testing.T, c *Config) {
				if c.Workers != 12 || c.MaxBodyBytes != 2048 || c.Tenants[0].DeletionThreshold != 7 {
					t.Errorf("workers=%d max_body_bytes=%d deletion_threshold=%d", c.Workers, c.MaxBodyBytes, c.Tenants[0].DeletionThreshold)
				}
				if got := c.Tenants[0].Tokens[0].Value; got != "00012345678901234567890" {
					t.Errorf("token = %q, want the digits verbatim", got)
				}
				fc := c.Tenants[0].Connectors[0].Config.(*fakeConfig)
				if fc.Team != "null" {
					t.Errorf("team = %q, want the text null", fc.Team)
				}
				if fc.Token != "$HOME-is-not-a-reference" {
					t.Errorf("token = %q", fc.Token)
				}
			},
		},
		{
			name: "an anchor is expanded once",
			yaml: `tenants:
  - id: acme
    scim_tokens: [&tok "${TOKEN}"]
    connectors:
      - name: odm
        type: scim
        url: http://127.0.0.1:9004
        token: *tok
`,
			env: map[string]string{"TOKEN": "a$$b-0123456789abcdef"},
			check: func(t *testing.T, c *Config) {
				if got := c.Tenants[0].Connectors[0].Config.(*fakeConfig).Token; got != "a$$b-0123456789abcdef" {
					t.Errorf("token = %q, want the variable's value untouched", got)
				}
			},
		},
		{
			name: "merge keys share connector settings",
			yaml: `tenants:
  - id: acme
    scim_tokens: ["acme-token-0123456789"]
    connectors:
      - &common
        name: odm
        type: scim
        url: http://127.0.0.1:9004
        rate_limit: 5
      - <<: *common
        name: odm2
        rate_limit: 9
`,
			check: func(t *testing.T, c *Config) {
				cc := c.Tenants[0].Connectors[1]
				fc := cc.Config.(*fakeConfig)
				if cc.Name != "odm2" || fc.Name != "odm2" || fc.URL != "http://127.0.0.1:9004" || fc.RateLimit != 9 || cc.Type != "scim" {
					t.Errorf("merged connector = %+v / %+v, want its own name and rate_limit", cc, fc)
				}
				if c0 := c.Tenants[0].Connectors[0].Config.(*fakeConfig); c0.Name != "odm" || c0.RateLimit != 5 {
					t.Errorf("anchored connector = %+v", c0)
				}
			},
		},
		{
			name: "environment overrides the file's top-level keys",
			yaml: `listen: 127.0.0.1:1
redis: redis://file:6379
public_url: https://file.example.com
max_body_bytes: 10
max_results: 10
workers: 10
admin_token: file-admin-token-0123456789
log: {level: debug, format: console}
` + okTenant,
			env: map[string]string{
				"SCIM_BRIDGE_LISTEN":         ":9090",
				"SCIM_BRIDGE_REDIS":          "rediss://env:6380/1",
				"SCIM_BRIDGE_PUBLIC_URL":     "https://env.example.com/scim/v2",
				"SCIM_BRIDGE_MAX_BODY_BYTES": "4096",
				"SCIM_BRIDGE_MAX_RESULTS":    "50",
				"SCIM_BRIDGE_WORKERS":        "3",
				"SCIM_BRIDGE_ADMIN_TOKEN":    "env-admin-token-0123456789",
				"SCIM_BRIDGE_LOG_LEVEL":      "WARN",
				"SCIM_BRIDGE_LOG_FORMAT":     "json",
			},
			check: func(t *testing.T, c *Config) {
				got := *c
				got.Tenants = nil
				want := Config{
					Listen: ":9090", Redis: "rediss://env:6380/1", PublicURL: "https://env.example.com/scim/v2",
					MaxBodyBytes: 4096, MaxResults: 50, Workers: 3, MaxConcurrentRequests: DefaultMaxConcurrentRequests,
					AdminToken: plainToken("env-admin-token-0123456789"),
					AuthLimit:  AuthLimit{MaxFailures: 10, Window: Duration(time.Minute)},
					Settle:     DefaultSettle, SettleMax: DefaultSettleMax,
					Log:               Log{Level: "warn", Format: "json"},
					CursorTimeout:     DefaultCursorTimeout,
					BulkMaxOperations: DefaultBulkMaxOperations, BulkMaxPayloadBytes: DefaultBulkMaxPayloadBytes,
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v\nwant %+v", got, want)
				}
			},
		},
		{
			name: "empty environment variables do not override",
			yaml: "listen: 127.0.0.1:1\nworkers: 10\n" + okTenant,
			env:  map[string]string{"SCIM_BRIDGE_LISTEN": "", "SCIM_BRIDGE_WORKERS": ""},
			check: func(t *testing.T, c *Config) {
				if c.Listen != "127.0.0.1:1" || c.Workers != 10 {
					t.Errorf("listen=%q workers=%d", c.Listen, c.Workers)
				}
			},
		},
		{
			name: "durations, zero values and tenants without connectors",
			yaml: `workers: 0
tenants:
  - id: a
    scim_tokens: ["a-token-0123456789abc"]
    reconcile_every: 90s
  - id: b
    scim_tokens: ["b-token-0123456789abc", "b-token-rotated-0123456789"]
    reconcile_every: "0"
  - id: c.d_e-F
    scim_tokens: ["c-token-0123456789abc"]
    reconcile_every:
`,
			check: func(t *testing.T, c *Config) {
				if c.Workers != DefaultWorkers {
					t.Errorf("workers = %d, want the default", c.Workers)
				}
				got := []time.Duration{time.Duration(c.Tenants[0].ReconcileEvery), time.Duration(c.Tenants[1].ReconcileEvery), time.Duration(c.Tenants[2].ReconcileEvery)}
				if !slices.Equal(got, []time.Duration{90 * time.Second, 0, 0}) {
					t.Errorf("reconcile_every = %v", got)
				}
				if len(c.Tenants[1].Tokens) != 2 {
					t.Errorf("tokens = %d, want 2", len(c.Tenants[1].Tokens))
				}
			},
		},
		{
			name: "a connector config without Base accepts name and type",
			yaml: okTenant + `    connectors:
      - name: plain
        type: bare
        url: http://127.0.0.1:1
`,
			check: func(t *testing.T, c *Config) {
				cc := c.Tenants[0].Connectors[0]
				if cc.Name != "plain" || cc.Type != "bare" || cc.Line != 5 || cc.Config.(*bareConfig).URL != "http://127.0.0.1:1" {
					t.Errorf("connector = %+v / %+v", cc, cc.Config)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadBytes("b.yaml", []byte(tc.yaml), envFunc(tc.env), testRegistry())
			if err != nil {
				t.Fatalf("LoadBytes: %v", err)
			}
			tc.check(t, cfg)
		})
	}
}

// The messages are spelled out here (not taken from rules.go) so that a
// changed message fails a test.
const (
	wantListen = "must be host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)"
	wantIDRule = "must be 1 to 64 letters, digits, '.', '_' or '-'"
	wantShort  = "is too short: a token needs at least 16 characters (or give its sha256: digest)"
)

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		want    []string // every line of the error, in order
		secrets []string // strings no message may contain (besides the env values)
	}{
		{
			name: "unset variable names key and line",
			yaml: `tenants:
  - id: acme
    scim_tokens: ["${ACME_SCIM_TOKEN}"]
`,
			want: []string{"b.yaml:3: tenants[0].scim_tokens[0]: environment variable ACME_SCIM_TOKEN is not set"},
		},
		{
			name: "every unset variable of a value, and of an unknown connector type",
			yaml: okTenant + `    connectors:
      - name: x
        type: sap
        token: "${X_TOKEN}"
      - name: y
        type: scim
        url: "${Y_HOST}:${Y_PORT}"
`,
			want: []string{
				`b.yaml:6: tenants[0].connectors[0].type: unknown connector type "sap" (known: ` + knownTypes + `)`,
				"b.yaml:7: tenants[0].connectors[0].token: environment variable X_TOKEN is not set",
				"b.yaml:10: tenants[0].connectors[1].url: environment variable Y_HOST is not set",
				"b.yaml:10: tenants[0].connectors[1].url: environment variable Y_PORT is not set",
			},
		},
		{
			name: "malformed references",
			yaml: `admin_token: "${1BAD}-0123456789abcdef"
redis: "${REDIS"
` + okTenant,
			want: []string{
				"b.yaml:1: admin_token: malformed ${...} reference: a variable name is letters, digits and _, not starting with a digit (write $$ for a literal $)",
				"b.yaml:2: redis: unterminated ${ reference (write $$ for a literal $)",
			},
		},
		{
			name: "unknown keys at every level, with suggestions",
			yaml: `listn: 127.0.0.1:8080
log:
  levle: info
tenants:
  - id: acme
    scim_token: ["acme-token-0123456789"]
    scim_tokens: ["acme-token-0123456789"]
    connectors:
      - name: odm
        type: scim
        url: http://127.0.0.1:9004
        tokn: x
        connection: {type: oauth2, clientId: abc, scope: openid}
        completely_unrelated: 1
`,
			want: []string{
				`b.yaml:1: listn: unknown key (did you mean "listen"?)`,
				`b.yaml:3: log.levle: unknown key (did you mean "level"?)`,
				`b.yaml:6: tenants[0].scim_token: unknown key (did you mean "scim_tokens"?)`,
				`b.yaml:12: tenants[0].connectors[0].tokn: unknown key (did you mean "token"?)`,
				`b.yaml:13: tenants[0].connectors[0].connection.scope: unknown key`,
				`b.yaml:14: tenants[0].connectors[0].completely_unrelated: unknown key`,
			},
		},
		{
			name: "duplicate keys",
			yaml: `listen: 127.0.0.1:1
listen: 127.0.0.1:2
` + okTenant + `    connectors:
      - name: p
        type: bimplus
        url: http://127.0.0.1:9002
        groups:
          Admins: []
          Admins: []
`,
			want: []string{
				"b.yaml:2: listen: duplicate key (first at line 1)",
				`b.yaml:12: tenants[0].connectors[0].groups["Admins"]: duplicate key (first at line 11)`,
			},
		},
		{
			name: "top-level values",
			yaml: `listen: localhost
redis: http://cache:6379
public_url: /scim/v2
max_body_bytes: -1
max_results: many
workers: [1]
admin_token: s3cr3t-x
log:
  level: verbose
  format: text
` + okTenant,
			want: []string{
				"b.yaml:1: listen: " + wantListen,
				"b.yaml:2: redis: the scheme must be redis://, rediss:// or unix:// (empty: embedded store)",
				"b.yaml:3: public_url: must be an absolute http(s) URL, e.g. https://scim.example.com/scim/v2",
				"b.yaml:4: max_body_bytes: must be positive (0 means the default, 1048576)",
				"b.yaml:5: max_results: must be an integer",
				"b.yaml:6: workers: must be an integer, not a list",
				"b.yaml:7: admin_token: " + wantShort,
				"b.yaml:9: log.level: must be one of trace, debug, info, warn, error, fatal, panic, disabled",
				"b.yaml:10: log.format: must be json or console",
			},
			secrets: []string{"s3cr3t-x"},
		},
		{
			name: "listen port and redis URL details",
			yaml: `listen: "127.0.0.1:http"
redis: "redis://:hunter2-pass@cache:6379/not-a-db"
public_url: "https://user:pw-secret@scim.example.com"
` + okTenant,
			want: []string{
				"b.yaml:1: listen: the port must be a number from 0 to 65535",
				"b.yaml:2: redis: is not a valid Redis URL: redis://[user:password@]host:port[/db][?options], with ?addr=host2:port&addr=... for a cluster or ?master_name=M&addr=... for Sentinel; rediss://... or unix:///path/to/socket",
				"b.yaml:3: public_url: must not contain credentials",
			},
			secrets: []string{"hunter2-pass", "not-a-db", "pw-secret"},
		},
		{
			name: "tenants",
			yaml: `tenants:
  - id: acme
    scim_tokens: ["acme-token-0123456789"]
  - id: ACME
    scim_tokens: ["acme2-token-0123456789"]
  - id: "beta gamma"
    scim_tokens: ["beta-token-0123456789"]
  - scim_tokens: ["nameless-token-0123456789"]
  - id: ".."
    scim_tokens: ["dots-token-0123456789"]
  - id: notokens
  - id: emptytokens
    scim_tokens: []
  - id: t
    scim_tokens: ["", " padded-token-0123456789", "tiny"]
    deletion_threshold: -1
    reconcile_every: soon
  - id: u
    scim_tokens: ["acme-token-0123456789", "u-token-0123456789abc", "u-token-0123456789abc"]
    reconcile_every: -1h
`,
			want: []string{
				`b.yaml:4: tenants[1].id: duplicate tenant id "ACME" (first at line 2; ids are compared ignoring case)`,
				"b.yaml:6: tenants[2].id: " + wantIDRule,
				"b.yaml:8: tenants[3].id: is required",
				`b.yaml:9: tenants[4].id: must not be "." or ".."`,
				"b.yaml:11: tenants[5].scim_tokens: at least one credential is required: scim_tokens, basic_auth or entra",
				"b.yaml:13: tenants[6].scim_tokens: at least one credential is required: scim_tokens, basic_auth or entra",
				"b.yaml:15: tenants[7].scim_tokens[0]: is required",
				"b.yaml:15: tenants[7].scim_tokens[1]: must not start or end with white space",
				"b.yaml:15: tenants[7].scim_tokens[2]: " + wantShort,
				"b.yaml:16: tenants[7].deletion_threshold: must be positive (0 means the default, 500)",
				"b.yaml:17: tenants[7].reconcile_every: must be a duration such as 30m or 1h",
				"b.yaml:19: tenants[8].scim_tokens[2]: duplicate token (same as tenants[8].scim_tokens[1] (line 19))",
				"b.yaml:19: tenants[8].scim_tokens[0]: this token is also a token at tenants[0].scim_tokens[0] (line 3); a token must belong to exactly one tenant",
				"b.yaml:20: tenants[8].reconcile_every: must not be negative",
			},
			secrets: []string{"acme-token-0123456789", "u-token-0123456789abc", "padded-token", "tiny"},
		},
		{
			name: "duplicate token across tenants, from the environment",
			yaml: `tenants:
  - id: acme
    scim_tokens:
      - "${SHARED}"
  - id: beta
    scim_tokens:
      - "${SHARED}"
admin_token: "${SHARED}"
`,
			env: map[string]string{"SHARED": "shared-SECRET-0123456789"},
			want: []string{
				"b.yaml:7: tenants[1].scim_tokens[0]: this token is also a token at tenants[0].scim_tokens[0] (line 4); a token must belong to exactly one tenant",
				"b.yaml:8: admin_token: must differ from every SCIM token and Basic password (it equals the one at tenants[0].scim_tokens[0], line 4)",
			},
		},
		{
			name: "short token from the environment",
			yaml: `tenants:
  - id: acme
    scim_tokens: ["${SHORT}"]
`,
			env:  map[string]string{"SHORT": "abc123"},
			want: []string{"b.yaml:3: tenants[0].scim_tokens[0]: " + wantShort},
		},
		{
			name: "tenant id from the environment is not shown",
			yaml: `tenants:
  - id: "${TENANT}"
    scim_tokens: ["a-token-0123456789abc"]
  - id: "${TENANT}"
    scim_tokens: ["b-token-0123456789abc"]
`,
			env:  map[string]string{"TENANT": "hidden-tenant"},
			want: []string{"b.yaml:4: tenants[1].id: duplicate tenant id (value from the environment) (first at line 2; ids are compared ignoring case)"},
		},
		{
			name: "connectors",
			yaml: okTenant + `    connectors:
      - name: bimdata
        type: bimdata
      - name: BIMDATA
        type: bimdata
        url: http://127.0.0.1:9001
      - type: scim
        url: http://127.0.0.1:9004
      - name: odm
        url: http://127.0.0.1:9004
      - name: "a/b"
        type: scim
        url: http://127.0.0.1:9004
      - just-a-string
      - name: authress
        type: authress
        url: http://127.0.0.1:9003
        connection:
          type: oauth2
          clientSecret: "${OKTA_CLIENT_SECRET}"
        groups:
          "Design Team": [{project: p1, role: Project_Editor}, {project: p2, role: Boss}]
          Admins:
            - project: p3
              role: Chief
      - name: typed
        type: [scim]
      - name: leaky
        type: scim
        url: http://127.0.0.1:9004
        token: "${LEAKY}"
`,
			env: map[string]string{"OKTA_CLIENT_SECRET": "okta-SECRET-client", "LEAKY": "leak-SECRET-0123456789"},
			want: []string{
				"b.yaml:5: tenants[0].connectors[0].url: is required",
				`b.yaml:7: tenants[0].connectors[1].name: duplicate connector name "BIMDATA" in this tenant (first at line 5; names are compared ignoring case)`,
				"b.yaml:10: tenants[0].connectors[2].name: is required",
				"b.yaml:12: tenants[0].connectors[3].type: is required (one of: " + knownTypes + ")",
				"b.yaml:14: tenants[0].connectors[4].name: " + wantIDRule,
				"b.yaml:17: tenants[0].connectors[5]: must be a mapping with at least name and type, not a string",
				"b.yaml:21: tenants[0].connectors[6].connection.clientId: is required",
				`b.yaml:25: tenants[0].connectors[6].groups["Design Team"][1].role: must be a Project_* role`,
				`b.yaml:28: tenants[0].connectors[6].groups["Admins"][0].role: must be a Project_* role`,
				"b.yaml:30: tenants[0].connectors[7].type: must be a string, not a list",
				"b.yaml:34: tenants[0].connectors[8].token: rejected token [redacted]",
			},
		},
		{
			name: "merged keys: the entry's own key is the one reported",
			yaml: okTenant + `    connectors:
      - &common
        name: odm
        type: scim
        url: http://127.0.0.1:9004
      - <<: *common
        name: odm
`,
			want: []string{`b.yaml:10: tenants[0].connectors[1].name: duplicate connector name "odm" in this tenant (first at line 6; names are compared ignoring case)`},
		},
		{
			name: "a literal credential quoted by an adapter is redacted",
			yaml: okTenant + `    connectors:
      - name: odm
        type: scim
        url: http://127.0.0.1:9004
        token: leak-literal-0123456789
`,
			want:    []string{"b.yaml:8: tenants[0].connectors[0].token: rejected token [redacted]"},
			secrets: []string{"leak-literal-0123456789"},
		},
		{
			name: "wrong kinds",
			yaml: `log: debug
tenants:
  - id: acme
    scim_tokens: "acme-token-0123456789"
    connectors: {name: x}
  - id: [b]
    scim_tokens: [["nested-token-0123456789"]]
`,
			want: []string{
				"b.yaml:1: log: must be a mapping, not a string",
				"b.yaml:4: tenants[0].scim_tokens: must be a list, not a string",
				"b.yaml:5: tenants[0].connectors: must be a list, not a mapping",
				"b.yaml:6: tenants[1].id: must be a string, not a list",
				"b.yaml:7: tenants[1].scim_tokens[0]: must be a string (the token) or a mapping with name, token, not_before and expires, not a list",
			},
			secrets: []string{"acme-token-0123456789", "nested-token"},
		},
		{
			// One error per value of the wrong kind: not also what follows
			// from reading it as empty (no credential, no id, no duration).
			name: "no follow-on errors after a type error",
			yaml: `tenants:
  - id: acme
    basic_auth: {username: okta, password: "basic-password-0123456789"}
    reconcile_every: [1h]
  - id: beta
    scim_tokens: 42
    deletion_threshold: many
  - id: gamma
    entra: "11111111-2222-3333-4444-555555555555"
`,
			want: []string{
				"b.yaml:3: tenants[0].basic_auth: must be a list, not a mapping",
				"b.yaml:4: tenants[0].reconcile_every: must be a duration such as 30m or 1h",
				"b.yaml:6: tenants[1].scim_tokens: must be a list, not an integer",
				"b.yaml:7: tenants[1].deletion_threshold: must be an integer",
				"b.yaml:9: tenants[2].entra: must be a mapping, not a string",
			},
			secrets: []string{"basic-password-0123456789"},
		},
		{
			name: "tenants must be a list",
			yaml: "tenants: {acme: {}}\n",
			want: []string{"b.yaml:1: tenants: must be a list, not a mapping"},
		},
		{
			name: "syntax error with its line",
			yaml: "listen: 127.0.0.1:8080\nlog:\n  level: info\n   format: json\n",
			want: []string{"b.yaml:4: syntax error: mapping values are not allowed in this context"},
		},
		{
			name: "syntax error on the first line",
			yaml: "listen: @x\n",
			want: []string{"b.yaml:1: syntax error: found character that cannot start any token"},
		},
		{
			name: "top level not a mapping",
			yaml: "- listen: x\n",
			want: []string{"b.yaml:1: the configuration must be a mapping of keys to values"},
		},
		{
			name: "two documents",
			yaml: okTenant + "---\nlisten: x\n",
			want: []string{"b.yaml:4: a configuration file holds one YAML document, found another one"},
		},
		{
			// A token that is a word of the message ("short", "required") is
			// not redacted out of the message's own text.
			name: "short secrets do not garble the messages",
			yaml: `tenants:
  - id: acme
    scim_tokens: ["short"]
    connectors:
      - name: odm
        type: scim
        token: required
`,
			want: []string{
				"b.yaml:3: tenants[0].scim_tokens[0]: " + wantShort,
				"b.yaml:5: tenants[0].connectors[0].url: is required",
			},
		},
		{
			name: "bad overrides point at the variable",
			yaml: "listen: 127.0.0.1:1\n" + okTenant,
			env: map[string]string{
				"SCIM_BRIDGE_LISTEN":      "nowhere",
				"SCIM_BRIDGE_WORKERS":     "several",
				"SCIM_BRIDGE_ADMIN_TOKEN": "tiny-admin",
				"SCIM_BRIDGE_REDIS":       "redis://:pw-SECRET@[::1:6379",
			},
			want: []string{
				"$SCIM_BRIDGE_WORKERS: workers: must be an integer",
				"$SCIM_BRIDGE_LISTEN: listen: " + wantListen,
				"$SCIM_BRIDGE_REDIS: redis: must be a URL: redis://[user:password@]host:port[/db], rediss://... or unix:///path/to/socket (empty: embedded store)",
				"$SCIM_BRIDGE_ADMIN_TOKEN: admin_token: " + wantShort,
			},
			secrets: []string{"pw-SECRET"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadBytes("b.yaml", []byte(tc.yaml), envFunc(tc.env), testRegistry())
			if err == nil {
				t.Fatalf("LoadBytes succeeded: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("LoadBytes returned a config with an error")
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			assertNoSecrets(t, err, tc.env, tc.secrets)
		})
	}
}

func assertNoSecrets(t *testing.T, err error, env map[string]string, extra []string) {
	t.Helper()
	secrets := slices.Clone(extra)
	for k, v := range env {
		if !strings.HasPrefix(k, "SCIM_BRIDGE_") || k == "SCIM_BRIDGE_ADMIN_TOKEN" {
			secrets = append(secrets, v)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error leaks secret %q:\n%v", s, err)
		}
	}
}

func TestLoadInvalidFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		env  map[string]string
		want []string
	}{
		{
			file: "invalid/many-errors.yaml",
			env:  map[string]string{"SHARED_TOKEN": "shared-SECRET-0123456789"},
			want: []string{
				":1: listen: " + wantListen,
				":2: workers: must be positive (0 means the default, 32)",
				":4: log.level: must be one of trace, debug, info, warn, error, fatal, panic, disabled",
				`:5: tenantz: unknown key (did you mean "tenants"?)`,
				":8: tenants[0].scim_tokens[0]: " + wantShort,
				":9: tenants[0].reconcile_every: must be a duration such as 30m or 1h",
				":11: tenants[0].connectors[0].url: is required",
				":11: tenants[0].connectors[0].name: " + wantIDRule,
				`:13: tenants[0].connectors[0].ulr: unknown key (did you mean "url"?)`,
				`:15: tenants[0].connectors[1].type: unknown connector type "sap" (known: ` + knownTypes + `)`,
				`:16: tenants[1].id: duplicate tenant id "ACME" (first at line 7; ids are compared ignoring case)`,
				":18: tenants[2].id: " + wantIDRule,
				":19: tenants[2].scim_tokens[0]: this token is also a token at tenants[1].scim_tokens[0] (line 17); a token must belong to exactly one tenant",
			},
		},
		{
			file: "invalid/syntax.yaml",
			want: []string{":4: syntax error: did not find expected ',' or ']'"},
		},
		{
			file: "invalid/unset-env.yaml",
			env:  map[string]string{"ODM_TOKEN": "odm-SECRET-token"},
			want: []string{":4: tenants[0].scim_tokens[0]: environment variable ACME_SCIM_TOKEN is not set"},
		},
		{
			file: "bridge.example.yaml",
			env:  map[string]string{"ACME_SCIM_TOKEN": exampleEnv["ACME_SCIM_TOKEN"]},
			want: []string{
				":51: tenants[0].connectors[0].token: environment variable BIMDATA_TOKEN is not set",
				":52: tenants[0].connectors[0].webhook_secret: environment variable BIMDATA_WEBHOOK_SECRET is not set",
				":57: tenants[0].connectors[1].token: environment variable BIMPLUS_TOKEN is not set",
				":63: tenants[0].connectors[2].token: environment variable AUTHRESS_KEY is not set",
				":69: tenants[0].connectors[2].connection.clientSecret: environment variable OKTA_CLIENT_SECRET is not set",
				":73: tenants[0].connectors[3].token: environment variable ODM_TOKEN is not set",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := exampleFile(t, tc.file)
			_, err := Load(path, envFunc(tc.env), testRegistry())
			if err == nil {
				t.Fatal("Load succeeded")
			}
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = path + w
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			assertNoSecrets(t, err, tc.env, nil)
		})
	}
}

func TestExpandVars(t *testing.T) {
	t.Parallel()
	env := envFunc(map[string]string{"A": "1", "B_2": "two", "DOLLAR": "$$"})
	tests := []struct {
		in, out  string
		problems int
	}{
		{in: "plain", out: "plain"},
		{in: "${A}", out: "1"},
		{in: "x${A}y${B_2}z", out: "x1ytwoz"},
		{in: "$$", out: "$"},
		{in: "$${A}", out: "${A}"},
		{in: "$$${A}", out: "$1"},
		{in: "$$$${A}", out: "$${A}"},
		{in: "$A and $", out: "$A and $"},
		{in: "${DOLLAR}", out: "$$"},
		{in: "${UNSET}", problems: 1},
		{in: "${UNSET}-${ALSO_UNSET}", problems: 2},
		{in: "${}", problems: 1},
		{in: "${A-B}", problems: 1},
		{in: "${A", problems: 1},
	}
	for _, tc := range tests {
		out, _, problems := expandVars(tc.in, env)
		if len(problems) != tc.problems || (tc.problems == 0 && out != tc.out) {
			t.Errorf("expandVars(%q) = %q, %q; want %q with %d problems", tc.in, out, problems, tc.out, tc.problems)
		}
	}
}

func TestResolveKeyAndParseKey(t *testing.T) {
	t.Parallel()
	segs := parseKey(`groups["a.b \"c\""][2].role`)
	want := []keySegment{{name: "groups"}, {name: `a.b "c"`}, {index: 2, isIndex: true}, {name: "role"}}
	if !reflect.DeepEqual(segs, want) {
		t.Errorf("parseKey = %+v, want %+v", segs, want)
	}
	for _, p := range []struct{ in, want string }{
		{"a", ""}, {"a.b", "a"}, {"a[0]", "a"}, {`a["x.y[1]"].z`, `a["x.y[1]"]`}, {`a["x.y"]`, "a"},
	} {
		if got := parentPath(p.in); got != p.want {
			t.Errorf("parentPath(%q) = %q, want %q", p.in, got, p.want)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"admin_token": true, "tenants[0].connectors[1].token": true, "x.webhook_secret": true,
		"x.connection.clientSecret": true, "x.api_keys[2]": true, "x.password": true,
		"x.connection.tokenUrl": false, "x.url": false, "x.team": false, `x.groups["token"]`: true,
	} {
		if got := isSecretKey(path); got != want {
			t.Errorf("isSecretKey(%q) = %v, want %v", path, got, want)
		}
	}
	if got := redact(`bad "abc-123456", not abc-1234567 or xabc-123456`, "abc-123456"); got != `bad "[redacted]", not abc-1234567 or xabc-123456` {
		t.Errorf("redact = %q", got)
	}
	if got := redact(`timeout "AlphaTok-9f3kQ2mZp7Lwx" and x_AlphaTok-9f3kQ2mZp7Lw`, "AlphaTok-9f3kQ2mZp7Lw"); got != `timeout "[redacted]x" and x_[redacted]` {
		t.Errorf("a long secret glued to letters: %q", got)
	}
}

// TestRedactShortSecrets: a short secret that is also a word of the message
// is left in the text; wherever it stands as a value, it is redacted.
func TestRedactShortSecrets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ msg, secret, want string }{
		{"is too short: a token needs at least 16 characters", "short", "is too short: a token needs at least 16 characters"},
		{"short token (short)", "short", "short token (short)"},
		{"url: is required.", "required", "url: is required."},
		{`rejected token "short"`, "short", `rejected token "[redacted]"`},
		{"rejected token 'short', retry", "short", "rejected token '[redacted]', retry"},
		{`parse "https://okta:hunter@idp.example.com": bad port`, "hunter", `parse "https://okta:[redacted]@idp.example.com": bad port`},
		{"token=hunter rejected", "hunter", "token=[redacted] rejected"},
		{"rejected token hunter2", "hunter2", "rejected token [redacted]"}, // not letters only: no word
		{"rejected token Tr0ub4dor", "Tr0ub4dor", "rejected token [redacted]"},
		{"the value is tooshorttobetrue", "short", "the value is tooshorttobetrue"},
		{"rejected token abcdefghijklmnopq", "abcdefghijklmnopq", "rejected token [redacted]"}, // 16+ bytes: never prose
	} {
		if got := redact(tt.msg, tt.secret); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.msg, tt.secret, got, tt.want)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"1h": time.Hour, "1h30m": 90 * time.Minute, `""`: 0, "0": 0, "~": 0} {
		cfg, err := LoadBytes("d.yaml", []byte("tenants:\n  - id: a\n    scim_tokens: [a-token-0123456789abc]\n    reconcile_every: "+in+"\n"), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := time.Duration(cfg.Tenants[0].ReconcileEvery); got != want {
			t.Errorf("%s: got %v, want %v", in, got, want)
		}
	}
	if s := Duration(90 * time.Second).String(); s != "1m30s" {
		t.Errorf("String = %q", s)
	}
	if v, _ := Duration(time.Hour).MarshalYAML(); v != "1h0m0s" {
		t.Errorf("MarshalYAML = %v", v)
	}
}

func BenchmarkLoadExample(b *testing.B) {
	data := []byte(mustRead(b, filepath.Join("..", "..", "testdata", "config", "bridge.example.yaml")))
	env, reg := envFunc(exampleEnv), testRegistry()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadBytes("bridge.yaml", data, env, reg); err != nil {
			b.Fatal(err)
		}
	}
}

func mustRead(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

func TestSettleKeys(t *testing.T) {
	t.Parallel()
	const tenants = "tenants:\n  - id: a\n    scim_tokens: [a-token-0123456789abc]\n    settle: 3s\n  - id: b\n    scim_tokens: [b-token-0123456789abc]\n    settle_max: 1m\n"
	cfg, err := LoadBytes("s.yaml", []byte("settle: 500ms\n"+tenants), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := [][2]time.Duration{
		{time.Duration(cfg.Settle), time.Duration(cfg.SettleMax)},
		{time.Duration(cfg.Tenants[0].Settle), time.Duration(cfg.Tenants[0].SettleMax)},
		{time.Duration(cfg.Tenants[1].Settle), time.Duration(cfg.Tenants[1].SettleMax)},
	}
	want := [][2]time.Duration{{500 * time.Millisecond, 10 * time.Second}, {3 * time.Second, 10 * time.Second}, {500 * time.Millisecond, time.Minute}}
	if !slices.Equal(got, want) {
		t.Errorf("settle, settle_max: top-level and per tenant %v, want %v", got, want)
	}
	_, err = LoadBytes("s.yaml", []byte("settle: 20s\nsettle_max: 5s\ntenants:\n  - id: a\n    scim_tokens: [a-token-0123456789abc]\n    settle: 2s\n    settle_max: 1s\n"), nil, nil)
	for _, msg := range []string{"s.yaml:2: settle_max: must not be shorter than settle", "s.yaml:7: tenants[0].settle_max: must not be shorter than settle"} {
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("error %v, want it to contain %q", err, msg)
		}
	}
}

// plainToken is the token a plain string in scim_tokens or admin_token decodes to.
func plainToken(s string) auth.Token {
	var tok auth.Token
	if err := tok.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: s}); err != nil {
		panic(err)
	}
	return tok
}
